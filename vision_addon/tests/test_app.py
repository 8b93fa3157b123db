"""The service around the pipeline: cameras started and watched, a clean stop, the CLI's arguments.

A scripted detector and a fake capture stand in for the camera and the model (the real ones are
exercised in test_vtest.py); the pipeline, analytics, state files and threads are the real ones.
"""

from __future__ import annotations

from collections.abc import Mapping
import json
from pathlib import Path
import threading
import time
from typing import Any

import numpy as np
import pytest
import yaml

from careon_vision import __main__ as cli
from careon_vision.app import VisionApp
from careon_vision.capture import Backoff
from careon_vision.config import AppConfig, CameraConfig, DetectorConfig, config_from_mapping
from careon_vision.tracking import ByteTrackTracker, ScriptedDetector
from careon_vision.types import Tracker

FPS = 10.0
# One person walks left to right across a vertical line at x = 0.5 in frames 0-29.
WALK = {i: [[0.1 + i * 0.025, 0.3, 0.2 + i * 0.025, 0.7]] for i in range(30)}


class RecordingPublisher:
    """Keeps what the app publishes (the MQTT side is tested against a real broker elsewhere)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.states: list[dict[str, Any]] = []
        self.heatmaps: list[bytes] = []
        self.availability: list[tuple[str, bool]] = []

    def publish_state(self, camera_id: str, payload: Mapping[str, Any]) -> None:
        with self.lock:
            self.states.append(dict(payload))

    def publish_heatmap(self, camera_id: str, png: bytes) -> None:
        with self.lock:
            self.heatmaps.append(png)

    def set_camera_available(self, camera_id: str, available: bool) -> None:
        with self.lock:
            self.availability.append((camera_id, available))

    def last(self) -> dict[str, Any]:
        with self.lock:
            return self.states[-1]


class FakeCapture:
    """cv2.VideoCapture's reading surface over blank frames: 30 frames, then the stream ends."""

    def __init__(self, frames: int = 30) -> None:
        self.frames = frames
        self.index = 0

    def isOpened(self) -> bool:
        return True

    def read(self) -> tuple[bool, Any]:
        if self.index >= self.frames:
            return False, None
        self.index += 1
        time.sleep(1 / FPS)
        return True, np.zeros((240, 320, 3), np.uint8)

    def get(self, prop: int) -> float:
        if prop == 5:  # CAP_PROP_FPS
            return FPS
        if prop == 0:  # CAP_PROP_POS_MSEC
            return self.index * 1000 / FPS
        return 0.0

    def set(self, prop: int, value: float) -> bool:
        return True

    def release(self) -> None:
        pass


def _config(tmp_path: Path) -> AppConfig:
    return config_from_mapping(
        {
            "data_dir": str(tmp_path / "data"),
            "publish_interval_s": 0.2,
            "cameras": [
                {
                    "id": "door",
                    "name": "Door",
                    "url": "rtsp://user:hunter2@camera.local/stream",
                    "fps": FPS,
                    "lines": [{"name": "Door", "start": "0.5,0", "end": "0.5,1"}],
                    "heatmap": {"publish_interval_s": 0.5},
                }
            ],
        }
    )


def _scripted(_config: DetectorConfig, frame_rate: float) -> Tracker:
    return ByteTrackTracker(ScriptedDetector(WALK, width=320, height=240), frame_rate=frame_rate)


def _wait(predicate: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_app_counts_publishes_and_stops_cleanly(tmp_path: Path) -> None:
    config = _config(tmp_path)
    publisher = RecordingPublisher()
    opened: list[CameraConfig] = []

    def open_fn(camera: CameraConfig) -> FakeCapture:
        opened.append(camera)
        # The second connection (after the stream ended) gets a camera that shows nobody.
        return FakeCapture() if len(opened) == 1 else FakeCapture(frames=10_000)

    app = VisionApp(config, publisher=publisher, tracker_factory=_scripted, open_fn=open_fn)
    runner = threading.Thread(target=app.run)
    runner.start()
    try:
        _wait(
            lambda: publisher.states
            and publisher.last()["out_today"] + publisher.last()["in_today"] == 1
        )
        _wait(lambda: ("door", False) in publisher.availability)  # the stream ended
        _wait(lambda: len(opened) >= 2)  # and the reader reconnected by itself
    finally:
        app.stop()
        runner.join(30)
    assert not runner.is_alive()
    assert publisher.availability[0] == ("door", True)
    final = publisher.last()
    # Left to right across a line drawn top to bottom: from its right-hand side to its left, "out".
    assert (final["in_today"], final["out_today"]) == (0, 1)
    assert publisher.heatmaps
    assert publisher.heatmaps[0].startswith(b"\x89PNG")
    saved = json.loads((tmp_path / "data" / "door.json").read_text())
    assert saved["lines"]["door"] == {"in": 0, "out": 1}
    # Every thread the app started has ended.
    assert all(not r.reader.is_alive() and not r.pipeline.is_alive() for r in app.runners.values())


def test_watchdog_restarts_a_camera_whose_thread_died(tmp_path: Path) -> None:
    config = _config(tmp_path)
    publisher = RecordingPublisher()
    app = VisionApp(
        config,
        publisher=publisher,
        tracker_factory=_scripted,
        open_fn=lambda camera: FakeCapture(frames=10_000),
    )
    app.start()
    try:
        first = app.runners["door"]
        _wait(lambda: first.reader.frames_read > 0)
        # Kill the pipeline thread's loop as a crash would.
        first.pipeline.stop()
        first.pipeline.join(10)
        app.check()
        assert app.restarts == 1
        second = app.runners["door"]
        assert second is not first
        _wait(lambda: second.reader.frames_read > 0)
        assert second.alive()
        app.check()
        assert app.restarts == 1  # a healthy camera is left alone
    finally:
        app.shutdown()
    assert not app.runners["door"].alive()


def test_reader_backoff_is_bounded() -> None:
    backoff = Backoff(jitter=0.0)
    delays = [backoff.next_delay() for _ in range(8)]
    assert delays[:4] == [1.0, 2.0, 4.0, 8.0]
    assert max(delays) == 10.0


# -- the command line ---------------------------------------------------------------------------


def _config_file(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "vision.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_cli_check_validates_and_masks_the_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _config_file(
        tmp_path, {"cameras": [{"id": "door", "name": "Door", "url": "rtsp://u:hunter2@cam/s"}]}
    )
    assert cli.main(["--config", str(path), "--check"]) == 0
    out = capsys.readouterr().out
    assert "configuration OK: 1 camera(s): door (rtsp://u:***@cam/s)" in out
    assert "hunter2" not in out


def test_cli_reports_a_bad_configuration_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _config_file(
        tmp_path,
        {
            "mqtt": {"password": "pw-never-shown"},
            "cameras": [{"id": "Door!", "name": "Door", "url": "rtsp://u:hunter2@cam/s"}],
        },
    )
    assert cli.main(["--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "configuration error" in err
    assert "cameras[0].id" in err
    assert "hunter2" not in err
    assert "pw-never-shown" not in err
    assert cli.main(["--config", str(tmp_path / "missing.yaml")]) == 2
    assert "not found" in capsys.readouterr().err


def test_cli_addon_mode_reads_options_and_the_supervisor_broker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    options = tmp_path / "options.json"
    options.write_text(
        json.dumps(
            {
                "cameras": [{"id": "front", "name": "Front", "url": "rtsp://cam/s"}],
                "lines": [
                    {"camera": "front", "name": "Door", "start": "0.1,0.6", "end": "0.9,0.6"}
                ],
                "zones": [],
                "detector": {
                    "backend": "yolo",
                    "model": "/models/y.pt",
                    "confidence": 0.4,
                    "image_size": 640,
                },
                "log_level": "info",
            }
        )
    )
    monkeypatch.setenv("CAREON_MQTT_HOST", "core-mosquitto")
    monkeypatch.setenv("CAREON_MQTT_PORT", "1884")
    monkeypatch.setenv("CAREON_MQTT_USERNAME", "addons")
    monkeypatch.setenv("CAREON_MQTT_PASSWORD", "supervisor-secret")
    args = cli._parser().parse_args(["--addon", "--options", str(options)])
    config = cli.load(args)
    assert config.data_dir == Path("/data")
    assert (config.mqtt.host, config.mqtt.port, config.mqtt.username) == (
        "core-mosquitto",
        1884,
        "addons",
    )
    assert config.mqtt.password is not None
    assert config.mqtt.password.get_secret_value() == "supervisor-secret"
    assert [line.name for line in config.cameras[0].lines] == ["Door"]
    assert cli.main(["--addon", "--options", str(options), "--check"]) == 0
    assert "supervisor-secret" not in capsys.readouterr().out
