"""The whole service: one capture thread and one pipeline thread per camera, one MQTT publisher.

A watchdog restarts a camera whose threads died (a crashed detector must not silence the camera
for good); counts survive because every crossing is saved before it is published.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
import logging
import threading
from typing import Any

from .analytics import CameraAnalytics
from .capture import FrameBuffer, StreamReader, open_capture
from .config import AppConfig, CameraConfig, DetectorConfig
from .mqtt import MqttPublisher
from .pipeline import CameraPipeline, Publisher
from .state import StateStore
from .types import Tracker

_LOGGER = logging.getLogger(__name__)

WATCHDOG_INTERVAL_S = 5.0
STOP_TIMEOUT_S = 10.0

TrackerFactory = Callable[[DetectorConfig, float], Tracker]
OpenFn = Callable[[CameraConfig], Any]


def _default_tracker_factory(config: DetectorConfig, frame_rate: float) -> Tracker:
    from .detectors import make_tracker  # noqa: PLC0415  (heavy: torch, ultralytics)

    return make_tracker(config, frame_rate=frame_rate)


@dataclass(slots=True)
class _CameraRunner:
    camera: CameraConfig
    reader: StreamReader
    pipeline: CameraPipeline

    def alive(self) -> bool:
        return self.reader.is_alive() and self.pipeline.is_alive()


class VisionApp:
    """Runs every configured camera until stopped."""

    def __init__(
        self,
        config: AppConfig,
        *,
        publisher: Publisher | None = None,
        tracker_factory: TrackerFactory = _default_tracker_factory,
        open_fn: OpenFn = open_capture,
    ) -> None:
        self.config = config
        self._own_publisher = publisher is None
        self.publisher: Publisher = publisher if publisher is not None else MqttPublisher(config)
        self._tracker_factory = tracker_factory
        self._open_fn = open_fn
        self.runners: dict[str, _CameraRunner] = {}
        self._stop_event = threading.Event()
        self.restarts = 0

    def start(self) -> None:
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        if self._own_publisher and isinstance(self.publisher, MqttPublisher):
            for camera in self.config.cameras:
                self.publisher.add_camera(camera)
            self.publisher.start()
        for camera in self.config.cameras:
            self._start_camera(camera)

    def run(self) -> None:
        """Start, then watch the cameras until ``stop`` is called (from a signal handler)."""
        self.start()
        try:
            while not self._stop_event.wait(WATCHDOG_INTERVAL_S):
                self.check()
        finally:
            self.shutdown()

    def check(self) -> None:
        """Restart any camera whose capture or pipeline thread has died."""
        for camera_id, runner in list(self.runners.items()):
            if runner.alive() or self._stop_event.is_set():
                continue
            _LOGGER.error("Camera %s stopped unexpectedly; restarting it", camera_id)
            self._stop_camera(runner)
            self.restarts += 1
            self._start_camera(runner.camera)

    def stop(self) -> None:
        self._stop_event.set()

    def shutdown(self) -> None:
        """Stop every camera (final state saved and published), then the publisher."""
        self._stop_event.set()
        for runner in self.runners.values():
            self._stop_camera(runner)
        # A publisher passed in belongs to the caller, who stops it.
        if self._own_publisher and isinstance(self.publisher, MqttPublisher):
            self.publisher.stop()

    def _start_camera(self, camera: CameraConfig) -> None:
        detector = self.config.detector_for(camera)
        tracker = self._tracker_factory(detector, camera.fps)
        analytics = CameraAnalytics(
            camera,
            self.config.tz,
            dwell_window=self.config.dwell_window,
            lost_after_s=self.config.lost_after_s,
            store=StateStore(self.config.data_dir, camera.id),
        )
        buffer = FrameBuffer(camera.buffer_frames)
        pipeline = CameraPipeline(
            self.config,
            camera,
            tracker=tracker,
            analytics=analytics,
            publisher=self.publisher,
            buffer=buffer,
        )
        reader = StreamReader(
            camera, buffer, on_status=pipeline.on_stream_status, open_fn=self._open_fn
        )
        self.runners[camera.id] = _CameraRunner(camera, reader, pipeline)
        pipeline.start()
        reader.start()
        _LOGGER.info(
            "Camera %s (%s): %s detector, %d line(s), %d zone(s)",
            camera.id,
            camera.safe_url,
            detector.backend,
            len(camera.lines),
            len(camera.zones),
        )

    @staticmethod
    def _stop_camera(runner: _CameraRunner) -> None:
        runner.reader.stop()
        runner.reader.join(STOP_TIMEOUT_S)
        runner.pipeline.stop()
        runner.pipeline.join(STOP_TIMEOUT_S)
