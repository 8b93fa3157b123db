"""CareOn Vision on the CPU: the whole pipeline's frames/s against the bare detector + tracker loop.

Run with the vision environment (Python 3.11; scripts/setup builds it):

    .venv-vision/bin/python benchmarks/vision_pipeline.py [--frames 300] [--rounds 3] [--yolo]

What it measures, on the same decoded vtest.avi frames (Debian opencv-doc) held in memory:

1. overhead: frames/s of the bare loop (SSD pedestrian model + ByteTrack, nothing else) against the
   whole per-frame pipeline (bounded frame buffer -> the same detector + tracker -> line counting,
   zone occupancy and dwell, heatmap, hourly footfall, state saved on each crossing -> state JSON
   and heatmap PNG published to a real Mosquitto on 127.0.0.1 when one is installed). Rounds
   alternate between the two; the ratio is of the medians (aim: <= 1.10).
2. analytics alone: ms per frame with 50 tracks walking across 2 lines and 4 zones.
3. detector speed: the SSD test model, and with --yolo Ultralytics YOLO11n (random weights built
   from its .yaml: no download; speed does not depend on the weights) at 320 and 640 pixels,
   predict and track.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
import contextlib
import os
from pathlib import Path
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "False")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "vision_addon"))

from careon_vision.analytics import CameraAnalytics  # noqa: E402
from careon_vision.capture import FrameBuffer  # noqa: E402
from careon_vision.config import AppConfig, DetectorConfig, config_from_mapping  # noqa: E402
from careon_vision.detectors import (  # noqa: E402
    SsdOnnxDetector,
    UltralyticsDetector,
    UltralyticsTracker,
)
from careon_vision.mqtt import MqttPublisher  # noqa: E402
from careon_vision.pipeline import CameraPipeline  # noqa: E402
from careon_vision.tracking import ByteTrackTracker  # noqa: E402
from careon_vision.types import Frame, Track  # noqa: E402
import cv2  # noqa: E402
import numpy as np  # noqa: E402

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
MODEL = ROOT / "vision_addon" / "tests" / "data" / "models" / "pedestrian_ssdlite.onnx"
T0 = 1_795_222_800.0  # 2026-11-22 10:00 Asia/Seoul


def load_frames(count: int) -> list[Frame]:
    capture = cv2.VideoCapture(str(VTEST))
    frames: list[Frame] = []
    while len(frames) < count:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(Frame(image=image, timestamp=T0 + len(frames) / 10, index=len(frames)))
    capture.release()
    return frames


def app_config(data_dir: Path, port: int | None) -> AppConfig:
    return config_from_mapping(
        {
            "timezone": "Asia/Seoul",
            "data_dir": str(data_dir),
            "publish_interval_s": 1.0,
            "mqtt": {"host": "127.0.0.1", "port": port or 1883, "client_id": "careon_bench"},
            "detector": {"backend": "ssd_onnx", "model": str(MODEL), "confidence": 0.4},
            "cameras": [
                {
                    "id": "bench",
                    "name": "Bench",
                    "url": str(VTEST),
                    "fps": 10,
                    "lines": [{"name": "Path", "start": [0.35, 0.3], "end": [0.35, 0.6]}],
                    "zones": [
                        {"name": "Road", "polygon": "0,0.3; 0.55,0.3; 0.55,0.62; 0,0.55"},
                        {"name": "Lawn", "polygon": "0,0.6; 0.55,0.66; 0.55,1; 0,1"},
                    ],
                    "heatmap": {"publish_interval_s": 5},
                }
            ],
        }
    )


@contextlib.contextmanager
def mosquitto() -> Any:
    """A throwaway broker on a free 127.0.0.1 port, or None when Mosquitto is not installed."""
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(binary).exists():
        yield None
        return
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    with tempfile.TemporaryDirectory() as folder:
        conf = Path(folder) / "mosquitto.conf"
        conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n")
        process = subprocess.Popen(
            [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                    break
                time.sleep(0.05)
            yield port
        finally:
            process.terminate()
            process.wait(10)


def run_bare(frames: list[Frame]) -> float:
    """The detector + tracker and nothing else: seconds for all frames."""
    tracker = ByteTrackTracker(SsdOnnxDetector(MODEL, confidence=0.4), frame_rate=10)
    started = time.perf_counter()
    for frame in frames:
        tracker.update(frame)
    return time.perf_counter() - started


def run_pipeline(frames: list[Frame], port: int | None, data_dir: Path) -> tuple[float, int]:
    """The whole per-frame pipeline, through the bounded buffer, publishing to the broker."""
    config = app_config(data_dir, port)
    camera = config.cameras[0]
    publisher = None
    if port is not None:
        publisher = MqttPublisher(config)
        publisher.add_camera(camera)
        publisher.start()
        publisher.wait_connected(10)
    from careon_vision.state import StateStore  # noqa: PLC0415

    pipeline = CameraPipeline(
        config,
        camera,
        tracker=ByteTrackTracker(SsdOnnxDetector(MODEL, confidence=0.4), frame_rate=10),
        analytics=CameraAnalytics(
            camera, config.tz, store=StateStore(data_dir, f"bench{time.monotonic_ns()}")
        ),
        publisher=publisher,
        buffer=FrameBuffer(camera.buffer_frames),
    )
    started = time.perf_counter()
    for frame in frames:
        pipeline.buffer.put(frame)
        taken = pipeline.buffer.get(timeout=1.0)
        assert taken is not None
        pipeline.process(taken)
    elapsed = time.perf_counter() - started
    if publisher is not None:
        publisher.stop()
    return elapsed, pipeline.crossings


def analytics_cost(frames: int = 2000, people: int = 50) -> tuple[float, float, float]:
    """ms per update with ``people`` tracks, ms per snapshot, ms per heatmap PNG."""
    config = config_from_mapping(
        {
            "cameras": [
                {
                    "id": "busy",
                    "name": "Busy",
                    "url": "/dev/null",
                    "lines": [
                        {"name": "Door", "start": "0.5,0", "end": "0.5,1"},
                        {"name": "Counter", "start": "0,0.5", "end": "1,0.5"},
                    ],
                    "zones": [
                        {"name": "A", "polygon": "0,0; 0.5,0; 0.5,0.5; 0,0.5"},
                        {"name": "B", "polygon": "0.5,0; 1,0; 1,0.5; 0.5,0.5"},
                        {"name": "C", "polygon": "0,0.5; 0.5,0.5; 0.5,1; 0,1"},
                        {"name": "D", "polygon": "0.5,0.5; 1,0.5; 1,1; 0.5,1"},
                    ],
                }
            ]
        }
    )
    analytics = CameraAnalytics(config.cameras[0], config.tz)
    rng = np.random.default_rng(7)
    start = rng.uniform(0.05, 0.95, (people, 2))
    velocity = rng.uniform(-0.004, 0.004, (people, 2))
    total = 0.0
    for index in range(frames):
        position = (start + velocity * index) % 1.0
        tracks = [
            Track(i + 1, (x - 0.02, y - 0.08, x + 0.02, y), 0.9)
            for i, (x, y) in enumerate(position)
        ]
        began = time.perf_counter()
        analytics.update(tracks, T0 + index / 10)
        total += time.perf_counter() - began
    snapshot = timed(lambda: analytics.snapshot(), 200)
    heatmap = timed(analytics.heatmap_png, 50)
    return total / frames * 1000, snapshot, heatmap


def timed(function: Callable[[], Any], repeat: int) -> float:
    began = time.perf_counter()
    for _ in range(repeat):
        function()
    return (time.perf_counter() - began) / repeat * 1000


def detector_ms(frames: list[Frame], make: Callable[[], Any], method: str) -> float:
    model = make()
    call = getattr(model, method)
    for frame in frames[:5]:  # warm-up
        call(frame)
    began = time.perf_counter()
    for frame in frames:
        call(frame)
    return (time.perf_counter() - began) / len(frames) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--yolo", action="store_true", help="also time YOLO11n at 320 and 640")
    args = parser.parse_args()

    frames = load_frames(args.frames)
    print(f"{len(frames)} frames of vtest.avi (768x576), {os.cpu_count()} CPU(s)")
    bare: list[float] = []
    whole: list[float] = []
    with mosquitto() as port, tempfile.TemporaryDirectory() as folder:
        print("broker:", f"mosquitto on 127.0.0.1:{port}" if port else "none (not publishing)")
        run_bare(frames[:20])  # warm-up: onnxruntime's first runs are slow
        for _ in range(args.rounds):
            bare.append(run_bare(frames))
            elapsed, crossings = run_pipeline(frames, port, Path(folder))
            whole.append(elapsed)
    bare_fps = len(frames) / statistics.median(bare)
    whole_fps = len(frames) / statistics.median(whole)
    print(f"bare detector + tracker : {bare_fps:7.1f} frames/s ({1000 / bare_fps:.2f} ms/frame)")
    print(f"whole pipeline          : {whole_fps:7.1f} frames/s ({1000 / whole_fps:.2f} ms/frame)")
    print(f"overhead ratio (time)   : {statistics.median(whole) / statistics.median(bare):.3f}")
    print(f"crossings counted       : {crossings}")

    update_ms, snapshot_ms, heatmap_ms = analytics_cost()
    print(
        f"analytics, 50 tracks    : {update_ms:.3f} ms/frame (2 lines, 4 zones, heatmap, footfall)"
    )
    print(f"state snapshot          : {snapshot_ms:.3f} ms; heatmap PNG {heatmap_ms:.2f} ms")

    sample = frames[:60]
    ssd = detector_ms(sample, lambda: SsdOnnxDetector(MODEL, confidence=0.4), "detect")
    print(f"SSD pedestrian (ONNX)   : {ssd:.1f} ms/frame detect")
    if args.yolo:
        for size in (320, 640):
            config = DetectorConfig(backend="yolo", model="yolo11n.yaml", image_size=size)
            predict = detector_ms(sample, lambda c=config: UltralyticsDetector(c), "detect")
            track = detector_ms(
                sample, lambda c=config: UltralyticsTracker(c, frame_rate=10), "update"
            )
            print(
                f"YOLO11n @{size} (torch CPU): {predict:.1f} ms/frame predict, "
                f"{track:.1f} ms/frame track"
            )


if __name__ == "__main__":
    main()
