"""Capture: bounded buffering, backoff, sampling, the NVDEC pipeline, and StreamReader against a
real RTSP server (GStreamer serving vtest.avi on 127.0.0.1) that ends, stops and comes back."""

from __future__ import annotations

from collections.abc import Callable, Iterator
import functools
import itertools
import logging
import os
from pathlib import Path
import random
import subprocess
import threading
import time
from typing import Any

import cv2
import numpy as np
import pytest

from careon_vision import capture
from careon_vision.capture import (
    Backoff,
    FrameBuffer,
    FrameSampler,
    StreamReader,
    ffmpeg_capture_options,
    gstreamer_nvdec_pipeline,
    open_capture,
)
from careon_vision.config import CameraConfig
from careon_vision.types import Frame
from tests.rtsp_server import SYSTEM_PYTHON, RtspServer, free_port, serving

PASSWORD = "s3cr3t-Pa55"


def _frame(index: int) -> Frame:
    return Frame(np.full((4, 4, 3), index % 256, np.uint8), float(index), index)


def _wait_until(predicate: Callable[[], bool], timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


class StatusLog:
    """Records on_status calls (from the reader thread)."""

    def __init__(self) -> None:
        self.values: list[bool] = []
        self._lock = threading.Lock()

    def __call__(self, connected: bool) -> None:
        with self._lock:
            self.values.append(connected)

    def snapshot(self) -> list[bool]:
        with self._lock:
            return list(self.values)


@pytest.fixture
def start_reader() -> Iterator[Callable[..., StreamReader]]:
    """Starts StreamReaders and always stops and joins them."""
    readers: list[StreamReader] = []

    def start(*args: Any, **kwargs: Any) -> StreamReader:
        reader = StreamReader(*args, **kwargs)
        readers.append(reader)
        reader.start()
        return reader

    yield start
    for reader in readers:
        reader.stop()
    for reader in readers:
        reader.join(timeout=15)
        assert not reader.is_alive(), "a StreamReader did not stop"


def _camera(url: str, fps: float = 5.0, **extra: Any) -> CameraConfig:
    return CameraConfig(id="door", name="Door", url=url, fps=fps, **extra)


# --- FrameBuffer ----------------------------------------------------------------------------------


def test_frame_buffer_drops_the_oldest_and_counts() -> None:
    buffer = FrameBuffer(3)
    for index in range(5):
        buffer.put(_frame(index))
    assert len(buffer) == 3
    assert buffer.dropped == 2
    assert [buffer.get(0).index for _ in range(3)] == [2, 3, 4]  # type: ignore[union-attr]
    assert buffer.get(0) is None
    assert buffer.dropped == 2
    buffer.put(_frame(9))
    assert buffer.clear() == 1
    assert len(buffer) == 0
    with pytest.raises(ValueError, match="maxlen"):
        FrameBuffer(0)


def test_frame_buffer_get_waits_for_a_frame() -> None:
    buffer = FrameBuffer(2)
    started = time.monotonic()
    assert buffer.get(timeout=0.1) is None
    assert 0.09 <= time.monotonic() - started < 1.0
    timer = threading.Timer(0.1, buffer.put, args=(_frame(7),))
    timer.start()
    try:
        frame = buffer.get(timeout=5)
    finally:
        timer.join()
    assert frame is not None
    assert frame.index == 7


def test_frame_buffer_is_thread_safe() -> None:
    buffer = FrameBuffer(10)
    got: list[int] = []
    done = threading.Event()

    def produce(offset: int) -> None:
        for index in range(2000):
            buffer.put(_frame(offset + index))

    def consume() -> None:
        while not done.is_set() or len(buffer):
            frame = buffer.get(timeout=0.01)
            if frame is not None:
                got.append(frame.index)

    consumer = threading.Thread(target=consume)
    producers = [threading.Thread(target=produce, args=(k * 10_000,)) for k in range(4)]
    consumer.start()
    for thread in producers:
        thread.start()
    for thread in producers:
        thread.join()
    done.set()
    consumer.join()
    assert len(got) + buffer.dropped == 8000
    assert len(set(got)) == len(got)
    # Each producer's frames come out in order.
    for k in range(4):
        mine = [i for i in got if k * 10_000 <= i < (k + 1) * 10_000]
        assert mine == sorted(mine)


# --- Backoff --------------------------------------------------------------------------------------


def test_backoff_grows_caps_and_resets() -> None:
    backoff = Backoff(initial=1.0, maximum=30.0, factor=2.0, jitter=0.0)
    assert [backoff.next_delay() for _ in range(8)] == [1, 2, 4, 8, 16, 30, 30, 30]
    backoff.reset()
    assert backoff.next_delay() == 1.0


def test_backoff_jitter_is_small_and_never_exceeds_the_cap() -> None:
    backoff = Backoff(initial=0.5, maximum=4.0, jitter=0.1, rng=random.Random(5))
    delays = [backoff.next_delay() for _ in range(6)]
    nominal = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    for delay, expected in zip(delays, nominal, strict=True):
        assert expected * 0.9 <= delay <= min(expected * 1.1, 4.0)
    assert delays[:3] != nominal[:3]  # jittered
    for bad, message in (
        ({"initial": 0}, "initial"),
        ({"initial": 2, "maximum": 1}, "maximum"),
        ({"factor": 0.5}, "factor"),
        ({"jitter": 1.0}, "jitter"),
    ):
        with pytest.raises(ValueError, match=message):
            Backoff(**bad)


# --- Sampling -------------------------------------------------------------------------------------


def test_sampler_keeps_every_other_frame_of_a_10_fps_stream_at_5_fps() -> None:
    sampler = FrameSampler(5)
    # A burst: 30 frames arriving at the same instant, as after opening a stream.
    kept = [i for i in range(30) if sampler.accept(i / 10, 100.0)]
    assert kept == list(range(0, 30, 2))
    assert sampler.using_stream_time


def test_sampler_rate_from_25_fps_to_10_fps() -> None:
    sampler = FrameSampler(10)
    kept = sum(sampler.accept(i * 0.04, 0.0) for i in range(250))  # 10 s of stream
    assert 99 <= kept <= 101


def test_sampler_falls_back_to_arrival_time_and_reanchors() -> None:
    sampler = FrameSampler(5)
    # A source without timestamps (always 0): arrival time decides after a few frames.
    kept = [i for i in range(40) if sampler.accept(0.0, 50.0 + i / 10)]
    assert not sampler.using_stream_time
    assert len(kept) in range(19, 23)
    assert all(b - a == 2 for a, b in itertools.pairwise(kept[8:]))

    sampler = FrameSampler(5)
    assert sampler.accept(10.0, 0)
    assert not sampler.accept(10.1, 0)
    assert sampler.accept(3.0, 0)  # timestamps went backwards: a new anchor
    assert not sampler.accept(3.1, 0)
    assert sampler.accept(60.0, 0)  # a gap: kept, then the grid continues from it
    assert not sampler.accept(60.1, 0)
    assert sampler.accept(60.2, 0)
    with pytest.raises(ValueError, match="fps"):
        FrameSampler(0)


# --- Opening --------------------------------------------------------------------------------------


def test_ffmpeg_capture_options() -> None:
    options = dict(pair.split(";") for pair in ffmpeg_capture_options().split("|"))
    assert options["rtsp_transport"] == "tcp"
    assert int(options["analyzeduration"]) > 0


@pytest.mark.parametrize("codec", ["h264", "h265"])
def test_nvdec_pipeline_is_well_formed(codec: str) -> None:
    url = f'rtsp://admin:{PASSWORD}@10.0.0.5:554/Streaming/"1"'
    pipeline = gstreamer_nvdec_pipeline(url, codec, latency_ms=150)
    elements = [part.strip().split(" ")[0] for part in pipeline.split(" ! ")]
    assert elements == [
        "rtspsrc",
        f"rtp{codec}depay",
        f"{codec}parse",
        "nvv4l2decoder",
        "nvvidconv",
        "video/x-raw,format=BGRx",
        "videoconvert",
        "video/x-raw,format=BGR",
        "appsink",
    ]
    assert "protocols=tcp" in pipeline
    assert "latency=150" in pipeline
    assert 'location="rtsp://admin:' + PASSWORD + '@10.0.0.5:554/Streaming/\\"1\\""' in pipeline
    assert pipeline.endswith("appsink drop=true max-buffers=1 sync=false")
    with pytest.raises(ValueError, match="codec"):
        gstreamer_nvdec_pipeline(url, "mjpeg")


@pytest.mark.rtsp
def test_nvdec_pipeline_parses_in_gstreamer() -> None:
    """GStreamer itself accepts the description (Jetson-only elements swapped for software ones)."""
    pipeline = gstreamer_nvdec_pipeline(f"rtsp://admin:{PASSWORD}@127.0.0.1:1/x", "h265")
    portable = pipeline.replace("nvv4l2decoder", "avdec_h265").replace("nvvidconv", "videoconvert")
    script = (
        "import sys, gi\n"
        "gi.require_version('Gst', '1.0')\n"
        "from gi.repository import Gst\n"
        "Gst.init(None)\n"
        "p = Gst.parse_launch(sys.argv[1])\n"
        "src = p.get_by_name('src') or next(e for e in p.iterate_sources())\n"
        "print(src.get_factory().get_name(), src.get_property('location'),"
        " int(src.get_property('protocols')))\n"
    )
    portable = portable.replace("rtspsrc ", "rtspsrc name=src ", 1)
    result = subprocess.run(
        [SYSTEM_PYTHON, "-c", script, portable],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    factory, location, protocols = result.stdout.split()
    assert factory == "rtspsrc"
    assert location == f"rtsp://admin:{PASSWORD}@127.0.0.1:1/x"
    assert int(protocols) == 4  # GST_RTSP_LOWER_TRANS_TCP


def test_open_capture_reads_a_file(vtest_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENCV_FFMPEG_CAPTURE_OPTIONS", raising=False)
    source = open_capture(_camera(str(vtest_path)))
    try:
        assert source.isOpened()
        ok, image = source.read()
        assert ok
        assert image.shape == (576, 768, 3)
    finally:
        source.release()
    assert os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] == ffmpeg_capture_options()


def test_open_capture_gstreamer_needs_an_opencv_with_gstreamer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(capture, "opencv_has_gstreamer", lambda: False)
    camera = _camera(f"rtsp://u:{PASSWORD}@127.0.0.1/x", capture="gstreamer_nvdec")
    with pytest.raises(RuntimeError, match="without GStreamer") as error:
        open_capture(camera)
    assert PASSWORD not in str(error.value)


# --- StreamReader with a scripted source (fast, deterministic) ------------------------------------


class FakeSource:
    """A VideoCapture stand-in: ``frames`` frames at 10 FPS of stream time, then the end."""

    def __init__(self, frames: int, opened: bool = True) -> None:
        self.frames = frames
        self.opened = opened
        self.position = -1
        self.released = False

    def isOpened(self) -> bool:
        return self.opened

    def read(self) -> tuple[bool, Any]:
        if self.position + 1 >= self.frames:
            return False, None
        self.position += 1
        time.sleep(0.001)
        return True, np.full((6, 8, 3), self.position % 256, np.uint8)

    def get(self, prop_id: int) -> float:
        assert prop_id == cv2.CAP_PROP_POS_MSEC
        return self.position * 100.0

    def release(self) -> None:
        self.released = True


def test_stream_reader_samples_reconnects_and_reports(
    start_reader: Callable[..., StreamReader],
) -> None:
    # Attempts: a refused connection, a stream of 20 frames, an exception, a stream of 10.
    plan: list[Any] = [FakeSource(0, opened=False), FakeSource(20), OSError("boom"), FakeSource(10)]
    sources: list[FakeSource] = []

    def open_fn(camera: CameraConfig) -> FakeSource:
        step = plan.pop(0) if plan else FakeSource(0, opened=False)
        if isinstance(step, Exception):
            raise step
        sources.append(step)
        return step

    status = StatusLog()
    buffer = FrameBuffer(100)
    reader = start_reader(
        _camera("rtsp://cam/x", fps=5),
        buffer,
        on_status=status,
        backoff=Backoff(0.01, 0.05, jitter=0.0),
        open_fn=open_fn,
    )
    assert _wait_until(lambda: reader.frames_read == 30 and len(sources) >= 4, 10)
    assert _wait_until(lambda: status.snapshot()[-1:] == [False], 5)
    assert status.snapshot()[:4] == [False, True, False, True]
    frames = []
    while (frame := buffer.get(0)) is not None:
        frames.append(frame)
    # Every other frame at 5 FPS of a 10 FPS stream, indices restarting on the new connection.
    assert [f.index for f in frames] == list(range(0, 20, 2)) + list(range(0, 10, 2))
    assert [int(f.image[0, 0, 0]) for f in frames] == [f.index for f in frames]
    assert all(b.timestamp >= a.timestamp for a, b in itertools.pairwise(frames))
    assert reader.frames_sampled == 15
    assert reader.streams_ended == 2
    assert reader.reconnects == 2
    assert reader.open_failures >= 2
    assert all(source.released for source in sources[:4])


def test_stream_reader_stop_interrupts_the_backoff(
    start_reader: Callable[..., StreamReader],
) -> None:
    status = StatusLog()
    reader = start_reader(
        _camera("rtsp://cam/x"),
        FrameBuffer(2),
        on_status=status,
        backoff=Backoff(60.0, 60.0),
        open_fn=lambda camera: FakeSource(0, opened=False),
    )
    assert _wait_until(lambda: status.snapshot() == [False], 5)
    started = time.monotonic()
    reader.stop()
    reader.join(timeout=5)
    assert not reader.is_alive()
    assert time.monotonic() - started < 1.0
    assert status.snapshot() == [False]


def test_stream_reader_survives_a_failing_status_callback(
    start_reader: Callable[..., StreamReader], caplog: pytest.LogCaptureFixture
) -> None:
    def explode(connected: bool) -> None:
        raise RuntimeError(f"callback broke for rtsp://u:{PASSWORD}@cam/x")

    reader = start_reader(
        _camera(f"rtsp://u:{PASSWORD}@cam/x"),
        FrameBuffer(5),
        on_status=explode,
        backoff=Backoff(0.01, 0.02),
        open_fn=lambda camera: FakeSource(4),
    )
    assert _wait_until(lambda: reader.streams_ended >= 2, 5)
    assert reader.is_alive()
    assert "status callback failed" in caplog.text
    assert PASSWORD not in caplog.text


# --- StreamReader against the real RTSP server ----------------------------------------------------


def _rtsp_open(camera: CameraConfig) -> Any:
    # Short timeouts keep the fault tests quick; production uses open_capture's defaults.
    return open_capture(camera, open_timeout_s=5.0, read_timeout_s=2.0)


@pytest.fixture
def rtsp_server(vtest_path: Path) -> Iterator[RtspServer]:
    with serving(vtest_path) as server:
        yield server


@pytest.mark.rtsp
def test_stream_reader_reads_vtest_over_rtsp(
    rtsp_server: RtspServer,
    vtest_path: Path,
    start_reader: Callable[..., StreamReader],
) -> None:
    status = StatusLog()
    buffer = FrameBuffer(100)
    reader = start_reader(
        _camera(rtsp_server.url, fps=5),
        buffer,
        on_status=status,
        backoff=Backoff(0.2, 1.0),
        open_fn=_rtsp_open,
    )
    assert _wait_until(lambda: reader.frames_read >= 40, 20), reader.frames_read
    reader.stop()
    reader.join(timeout=5)
    assert not reader.is_alive()
    assert status.snapshot() == [True, False]
    frames = []
    while (frame := buffer.get(0)) is not None:
        frames.append(frame)
    assert buffer.dropped == 0
    assert reader.frames_read >= 40
    # 10 FPS sampled to 5: half of the frames, spaced two stream frames apart.
    assert abs(len(frames) - reader.frames_read / 2) <= 2
    gaps = [b.index - a.index for a, b in itertools.pairwise(frames)]
    assert sum(gap == 2 for gap in gaps) >= len(gaps) - 2, gaps
    assert all(f.image.shape == (576, 768, 3) for f in frames)
    assert all(b.timestamp >= a.timestamp for a, b in itertools.pairwise(frames))
    # The stream starts at the file's first frame (a fresh pipeline per client).
    original = cv2.VideoCapture(str(vtest_path))
    ok, first = original.read()
    original.release()
    assert ok
    assert frames[0].index == 0
    difference = np.abs(frames[0].image.astype(np.int16) - first.astype(np.int16)).mean()
    assert difference < 8, difference


@pytest.mark.rtsp
def test_stream_reader_reconnects_after_the_stream_ends(
    vtest_path: Path, start_reader: Callable[..., StreamReader]
) -> None:
    with serving(vtest_path, max_frames=12) as server:
        status = StatusLog()
        buffer = FrameBuffer(100)
        reader = start_reader(
            _camera(server.url, fps=10),
            buffer,
            on_status=status,
            backoff=Backoff(0.2, 1.0),
            open_fn=_rtsp_open,
        )
        assert _wait_until(lambda: status.snapshot()[:3] == [True, False, True], 25), (
            status.snapshot()
        )
        assert reader.streams_ended >= 1
        assert reader.reconnects >= 1
        assert _wait_until(lambda: reader.streams_ended >= 2, 10)
    indices = []
    while (frame := buffer.get(0)) is not None:
        indices.append(frame.index)
    # Each connection starts from the file's first frame and ends after 12 (a few may be lost
    # to the decoder's start-up); the index restarts at 0 on every connection.
    runs = [i for i, index in enumerate(indices) if index == 0]
    assert len(runs) >= 2, indices
    first_run = indices[runs[0] : runs[1]]
    assert 8 <= len(first_run) <= 12, indices
    assert reader.frames_read <= 12 * (reader.streams_ended + 1)


@pytest.mark.rtsp
def test_stream_reader_survives_a_server_restart(
    vtest_path: Path,
    start_reader: Callable[..., StreamReader],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="careon_vision")
    with serving(vtest_path) as server:
        url = server.url_with_credentials("admin", PASSWORD)
        status = StatusLog()
        reader = start_reader(
            _camera(url, fps=5),
            FrameBuffer(2),
            on_status=status,
            backoff=Backoff(0.3, 0.6, jitter=0.0),
            open_fn=_rtsp_open,
        )
        assert _wait_until(lambda: status.snapshot() == [True], 20), status.snapshot()
        server.stop()
        stopped_at = time.monotonic()
        assert _wait_until(lambda: status.snapshot() == [True, False], 10), status.snapshot()
        noticed = time.monotonic() - stopped_at
        # While it is down the reader keeps trying, without crashing.
        assert _wait_until(lambda: reader.open_failures >= 2, 10)
        assert reader.is_alive()
        assert not reader.connected
        server.start()  # same port, same mount
        assert _wait_until(lambda: status.snapshot() == [True, False, True], 20), status.snapshot()
        assert reader.connected
        assert reader.reconnects == 1
        assert reader.streams_ended == 1
        started = time.monotonic()
        reader.stop()
        reader.join(timeout=5)
        assert not reader.is_alive()
        assert time.monotonic() - started < 2.0  # within a frame or two of a flowing stream
    assert noticed < 5.0
    assert status.snapshot() == [True, False, True, False]
    assert PASSWORD not in caplog.text
    assert f"admin:***@127.0.0.1:{server.port}" in caplog.text
    for record in caplog.records:
        assert PASSWORD not in record.getMessage()


@pytest.mark.rtsp
def test_stream_reader_bad_url_reports_not_connected(
    start_reader: Callable[..., StreamReader], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="careon_vision")
    url = f"rtsp://admin:{PASSWORD}@127.0.0.1:{free_port()}/nothing"
    status = StatusLog()
    reader = start_reader(
        _camera(url),
        FrameBuffer(2),
        on_status=status,
        backoff=Backoff(0.1, 0.2),
        open_fn=functools.partial(open_capture, open_timeout_s=2.0, read_timeout_s=2.0),
    )
    assert _wait_until(lambda: reader.open_failures >= 2, 10)
    assert status.snapshot() == [False]
    assert reader.is_alive()
    assert not reader.connected
    assert reader.frames_read == 0
    assert PASSWORD not in caplog.text
    assert "admin:***@" in caplog.text
