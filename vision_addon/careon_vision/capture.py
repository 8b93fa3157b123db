"""Reading a camera: OpenCV over FFmpeg (RTSP over TCP) or GStreamer NVDEC, reconnects, sampling.

One ``StreamReader`` thread per camera decodes every frame the camera sends (so the decoder never
falls behind), keeps the ones due at ``camera.fps`` and hands them to a bounded ``FrameBuffer`` that
drops the oldest frame when the analysis is slower than the camera: the newest picture always wins
and the drops are counted. When the stream fails or ends, the reader reports it, waits with an
exponential ``Backoff`` (cut short by ``stop()``) and reconnects.

Stream URLs carry credentials: everything logged here goes through ``config.mask_url``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
import functools
import logging
import math
import os
import random
import threading
import time
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qsl, urlsplit

import cv2

from careon_vision.config import mask_url
from careon_vision.types import Frame, Image

if TYPE_CHECKING:
    from careon_vision.config import CameraConfig

_LOGGER = logging.getLogger(__name__)

OPEN_TIMEOUT_S = 10.0
"""How long opening a stream may take (connect, DESCRIBE/SETUP/PLAY, first key frame)."""
READ_TIMEOUT_S = 5.0
"""How long a read may wait for the next frame before the stream counts as lost."""


# --------------------------------------------------------------------------------------------
# Buffering and backoff
# --------------------------------------------------------------------------------------------


class FrameBuffer:
    """A bounded, thread-safe frame queue: ``put`` drops the OLDEST frame when full, and counts it."""

    def __init__(self, maxlen: int) -> None:
        if maxlen < 1:
            raise ValueError(f"maxlen must be at least 1, got {maxlen}")
        self.maxlen = maxlen
        self._frames: deque[Frame] = deque()
        self._condition = threading.Condition()
        self._dropped = 0

    def put(self, frame: Frame) -> None:
        with self._condition:
            if len(self._frames) >= self.maxlen:
                self._frames.popleft()
                self._dropped += 1
            self._frames.append(frame)
            self._condition.notify()

    def get(self, timeout: float | None = None) -> Frame | None:
        """The oldest frame, waiting up to ``timeout`` seconds (``None``: forever); ``None`` if none."""
        with self._condition:
            if not self._condition.wait_for(lambda: bool(self._frames), timeout):
                return None
            return self._frames.popleft()

    def clear(self) -> int:
        """Discard every queued frame (not counted as dropped); returns how many there were."""
        with self._condition:
            count = len(self._frames)
            self._frames.clear()
            return count

    @property
    def dropped(self) -> int:
        """Frames discarded because the buffer was full, since it was made."""
        with self._condition:
            return self._dropped

    def __len__(self) -> int:
        with self._condition:
            return len(self._frames)


class Backoff:
    """Exponential reconnect delays: ``initial``, x ``factor`` each time, capped at ``maximum``.

    Each delay is varied by up to ``jitter`` (a fraction, default 10 %) so that cameras behind one
    failed switch do not all reconnect in step; a delay never exceeds ``maximum``. ``reset()``
    after a success starts again from ``initial``. The 10 s cap keeps a camera that comes back
    (a switch or router restart) counting again within seconds, not half a minute.
    """

    def __init__(
        self,
        initial: float = 1.0,
        maximum: float = 10.0,
        factor: float = 2.0,
        *,
        jitter: float = 0.1,
        rng: random.Random | None = None,
    ) -> None:
        if initial <= 0 or not math.isfinite(initial):
            raise ValueError(f"initial must be a positive number of seconds, got {initial}")
        if maximum < initial or not math.isfinite(maximum):
            raise ValueError(f"maximum ({maximum}) must be at least initial ({initial})")
        if factor < 1:
            raise ValueError(f"factor must be at least 1, got {factor}")
        if not 0 <= jitter < 1:
            raise ValueError(f"jitter must be in [0, 1), got {jitter}")
        self.initial = float(initial)
        self.maximum = float(maximum)
        self.factor = float(factor)
        self.jitter = float(jitter)
        self._rng = rng or random.Random()
        self._attempt = 0

    @property
    def attempt(self) -> int:
        """Delays handed out since the last reset (stops growing once the cap is reached)."""
        return self._attempt

    def next_delay(self) -> float:
        base = min(self.maximum, self.initial * self.factor**self._attempt)
        if base < self.maximum:
            self._attempt += 1
        delay = base * (1.0 + self._rng.uniform(-self.jitter, self.jitter))
        return min(self.maximum, delay)

    def reset(self) -> None:
        self._attempt = 0


# --------------------------------------------------------------------------------------------
# Opening streams
# --------------------------------------------------------------------------------------------


def ffmpeg_capture_options() -> str:
    """``OPENCV_FFMPEG_CAPTURE_OPTIONS`` for cameras: RTSP over TCP, a short stream probe.

    TCP: no lost UDP packets (smeared frames) behind NAT or on busy Wi-Fi. The 1 s / 1 MB probe
    (FFmpeg's default is 5 s) opens an H.264/H.265 camera in about 1 s instead of 3.
    """
    return "rtsp_transport;tcp|analyzeduration;1000000|probesize;1000000"


def _gst_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def gstreamer_nvdec_pipeline(url: str, codec: str = "h264", *, latency_ms: int = 200) -> str:
    """A GStreamer pipeline for OpenCV (``CAP_GSTREAMER``) decoding on a Jetson's NVDEC.

    RTSP over TCP, hardware decode (``nvv4l2decoder``), conversion to BGR for OpenCV, and an
    ``appsink`` that keeps only the newest frame. The string holds the URL with its credentials:
    never log it.
    """
    if codec not in ("h264", "h265"):
        raise ValueError(f"codec must be h264 or h265, got {codec!r}")
    if latency_ms < 0:
        raise ValueError(f"latency_ms must not be negative, got {latency_ms}")
    return (
        f"rtspsrc location={_gst_quote(url)} protocols=tcp latency={int(latency_ms)}"
        f" ! rtp{codec}depay ! {codec}parse"
        " ! nvv4l2decoder ! nvvidconv ! video/x-raw,format=BGRx"
        " ! videoconvert ! video/x-raw,format=BGR"
        " ! appsink drop=true max-buffers=1 sync=false"
    )


@functools.cache
def opencv_has_gstreamer() -> bool:
    """Whether this OpenCV build can open GStreamer pipelines (pip wheels cannot)."""
    for line in str(cv2.getBuildInformation()).splitlines():
        if line.strip().startswith("GStreamer:"):
            return "YES" in line
    return False


def open_capture(
    camera: CameraConfig,
    *,
    open_timeout_s: float = OPEN_TIMEOUT_S,
    read_timeout_s: float = READ_TIMEOUT_S,
) -> Any:
    """A ``cv2.VideoCapture`` for the camera (check ``isOpened()``; release it when done).

    ``ffmpeg``: OpenCV's FFmpeg backend with ``ffmpeg_capture_options()`` (unless the operator set
    ``OPENCV_FFMPEG_CAPTURE_OPTIONS`` already) and open/read timeouts, so a dead camera fails in
    bounded time. ``gstreamer_nvdec``: ``gstreamer_nvdec_pipeline``; needs an OpenCV built with
    GStreamer (the Jetson image's), otherwise a RuntimeError says so.
    """
    if camera.capture == "gstreamer_nvdec":
        if not opencv_has_gstreamer():
            raise RuntimeError(
                "this OpenCV was built without GStreamer: capture 'gstreamer_nvdec' needs the "
                "Jetson image's OpenCV (use capture 'ffmpeg' elsewhere)"
            )
        return cv2.VideoCapture(
            gstreamer_nvdec_pipeline(camera.url, camera.codec), cv2.CAP_GSTREAMER
        )
    os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", ffmpeg_capture_options())
    params = [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
        max(1, round(open_timeout_s * 1000)),
        cv2.CAP_PROP_READ_TIMEOUT_MSEC,
        max(1, round(read_timeout_s * 1000)),
    ]
    return cv2.VideoCapture(camera.url, cv2.CAP_FFMPEG, params)


class VideoSource(Protocol):
    """What ``StreamReader`` uses of a ``cv2.VideoCapture``."""

    def isOpened(self) -> bool: ...

    def read(self) -> tuple[bool, Image | None]: ...

    def get(self, prop_id: int) -> float: ...

    def release(self) -> None: ...


# --------------------------------------------------------------------------------------------
# Sampling and the reader thread
# --------------------------------------------------------------------------------------------


class FrameSampler:
    """Keeps one frame per ``1 / fps`` seconds of stream time.

    Stream time is the frame's presentation timestamp when the source provides one that advances
    (RTSP does): frames that arrive in a burst (the first second after opening, a network hiccup)
    are still picked evenly. A source whose timestamps stand still falls back to arrival time.
    A frame is kept when its time reaches the next due time; the due time then advances by one
    interval, or re-anchors on the frame when the stream jumped (a gap, or time going backwards).
    """

    STALL_FRAMES = 5
    """Frames in a row without an advancing timestamp before arrival time is used instead."""
    EPSILON = 1e-3
    """Timestamps are in milliseconds and carry float noise (2800.0000000000005)."""

    def __init__(self, fps: float) -> None:
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.interval = 1.0 / fps
        self.reset()

    def reset(self) -> None:
        """A new connection: start over (the next frame is kept)."""
        self._due: float | None = None
        self._last: float | None = None
        self._last_stream: float | None = None
        self._stalled = 0
        self.using_stream_time = True

    def _time(self, stream_time: float | None, wall_time: float) -> float:
        if not self.using_stream_time:
            return wall_time
        if stream_time is None or not math.isfinite(stream_time) or stream_time < 0:
            return self._fall_back(wall_time)
        if self._last_stream is not None and stream_time <= self._last_stream + self.EPSILON / 10:
            self._stalled += 1
            if self._stalled >= self.STALL_FRAMES:
                return self._fall_back(wall_time)
        else:
            self._stalled = 0
        self._last_stream = stream_time
        return stream_time

    def _fall_back(self, wall_time: float) -> float:
        self.using_stream_time = False
        self._due = None
        self._last = None
        return wall_time

    def accept(self, stream_time: float | None, wall_time: float) -> bool:
        """Whether the frame with these times (seconds) is kept."""
        now = self._time(stream_time, wall_time)
        last, self._last = self._last, now
        if self._due is None or (last is not None and now < last - self.EPSILON):
            self._due = now + self.interval
            return True
        if now + self.EPSILON >= self._due:
            self._due += self.interval
            if self._due <= now:  # a gap longer than an interval: re-anchor
                self._due = now + self.interval
            return True
        return False


def _scrub(text: str, url: str) -> str:
    """``text`` (an error message) with the URL and its secrets replaced by the masked URL."""
    masked = mask_url(url)
    text = text.replace(url, masked)
    for secret in _secrets_of(url):
        text = text.replace(secret, "***")
    return text


def _secrets_of(url: str) -> list[str]:
    """The parts of ``url`` that ``mask_url`` hides (password, secret query values)."""
    try:
        parts, masked = urlsplit(url), urlsplit(mask_url(url))
    except ValueError:
        return [url]
    secrets = [parts.password] if parts.password else []
    for (_, value), (_, hidden) in zip(
        parse_qsl(parts.query, keep_blank_values=True),
        parse_qsl(masked.query, keep_blank_values=True),
        strict=False,
    ):
        if value and hidden == "***" and value != hidden:
            secrets.append(value)
    return secrets


class StreamReader(threading.Thread):
    """Reads one camera into a ``FrameBuffer`` until ``stop()``; a daemon thread.

    Every decoded frame is read (``frames_read``); those due at ``camera.fps`` (``FrameSampler``)
    go to ``buffer`` as ``Frame(image, time.time(), index)`` where ``index`` is the frame's
    position in the stream since this connection opened (0, 1, 2, ... of every decoded frame, so
    sampled frames skip numbers). ``on_status(True)`` is called when frames flow after a
    (re)connect, ``on_status(False)`` when a connection attempt fails or the stream fails or ends
    (only on changes; the first failed attempt reports ``False`` too, and so does ``stop()``
    after a connection). Then the reader waits ``backoff.next_delay()`` (``stop()`` cuts the wait
    short) and opens the stream again; the backoff resets once frames flow.

    ``stop()`` returns at once; the thread ends within one frame, or at most the read timeout
    when the camera has gone silent (``open_capture``'s 5 s), or the open timeout while opening.
    """

    def __init__(
        self,
        camera: CameraConfig,
        buffer: FrameBuffer,
        *,
        on_status: Callable[[bool], None] | None = None,
        backoff: Backoff | None = None,
        open_fn: Callable[[CameraConfig], VideoSource] = open_capture,
    ) -> None:
        super().__init__(name=f"careon-capture-{camera.id}", daemon=True)
        self.camera = camera
        self.buffer = buffer
        self.on_status = on_status
        self.backoff = backoff if backoff is not None else Backoff()
        self.open_fn = open_fn
        self.stopped = threading.Event()
        self.frames_read = 0
        """Frames decoded, over all connections."""
        self.frames_sampled = 0
        """Frames handed to the buffer."""
        self.reconnects = 0
        """Connections on which frames flowed again after an earlier connection or attempt."""
        self.streams_ended = 0
        """Connections that failed or ended after frames had flowed."""
        self.open_failures = 0
        """Connection attempts that produced no frame."""
        self._connected = False
        self._reported: bool | None = None
        self._attempted = False
        self._masked_url = mask_url(camera.url)

    @property
    def connected(self) -> bool:
        """Whether frames are flowing on the current connection."""
        return self._connected

    def stop(self) -> None:
        """Ask the thread to end (returns at once; ``join()`` to wait)."""
        self.stopped.set()

    def run(self) -> None:
        try:
            while not self.stopped.is_set():
                try:
                    flowed = self._connect_and_read()
                except Exception as exc:  # never let the camera thread die
                    _LOGGER.error(
                        "Camera %s: unexpected error reading %s: %s",
                        self.camera.id,
                        self._masked_url,
                        _scrub(f"{type(exc).__name__}: {exc}", self.camera.url),
                    )
                    flowed = False
                if self.stopped.is_set():
                    break
                self._set_connected(False)
                if not flowed:
                    self.open_failures += 1
                delay = self.backoff.next_delay()
                _LOGGER.info(
                    "Camera %s: reconnecting to %s in %.1f s",
                    self.camera.id,
                    self._masked_url,
                    delay,
                )
                self.stopped.wait(delay)
        finally:
            self._set_connected(False)
            _LOGGER.debug("Camera %s: reader stopped", self.camera.id)

    def _connect_and_read(self) -> bool:
        """One connection: open, read until it fails or ``stop()``; whether frames flowed."""
        attempted_before, self._attempted = self._attempted, True
        capture = self._open()
        if capture is None:
            return False
        flowed = False
        try:
            flowed = self._read(capture, reconnected=attempted_before)
        finally:
            try:
                capture.release()
            except Exception as exc:  # pragma: no cover - OpenCV does not raise here
                _LOGGER.debug("Camera %s: release failed: %s", self.camera.id, type(exc).__name__)
        if flowed and not self.stopped.is_set():
            self.streams_ended += 1
            _LOGGER.warning(
                "Camera %s: stream %s ended or failed", self.camera.id, self._masked_url
            )
        return flowed

    def _open(self) -> VideoSource | None:
        _LOGGER.debug("Camera %s: opening %s", self.camera.id, self._masked_url)
        try:
            capture = self.open_fn(self.camera)
        except Exception as exc:
            _LOGGER.warning(
                "Camera %s: cannot open %s: %s",
                self.camera.id,
                self._masked_url,
                _scrub(f"{type(exc).__name__}: {exc}", self.camera.url),
            )
            return None
        if not capture.isOpened():
            capture.release()
            _LOGGER.warning("Camera %s: cannot open %s", self.camera.id, self._masked_url)
            return None
        return capture

    def _read(self, capture: VideoSource, *, reconnected: bool) -> bool:
        sampler = FrameSampler(self.camera.fps)
        position = -1
        while not self.stopped.is_set():
            ok, image = capture.read()
            if not ok or image is None:
                return position >= 0
            wall_time = time.time()
            position += 1
            self.frames_read += 1
            if position == 0:
                self.backoff.reset()
                if reconnected:
                    self.reconnects += 1
                _LOGGER.info("Camera %s: connected to %s", self.camera.id, self._masked_url)
                self._set_connected(True)
            stream_time = capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            if sampler.accept(stream_time, wall_time):
                self.buffer.put(Frame(image, wall_time, position))
                self.frames_sampled += 1
        return position >= 0

    def _set_connected(self, connected: bool) -> None:
        self._connected = connected
        if self._reported is connected:
            return
        if self._reported is None and not connected and self.stopped.is_set():
            return  # stopped before any attempt: nothing to report
        self._reported = connected
        if self.on_status is None:
            return
        try:
            self.on_status(connected)
        except Exception as exc:
            _LOGGER.error(
                "Camera %s: status callback failed: %s",
                self.camera.id,
                _scrub(f"{type(exc).__name__}: {exc}", self.camera.url),
            )
