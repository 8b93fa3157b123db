"""One camera's loop: frames -> tracker -> analytics -> published state.

The capture thread (capture.StreamReader) fills a bounded FrameBuffer; this thread takes the newest
frames from it, so a slow detector drops frames (counted) instead of falling behind the stream.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
import logging
import threading
import time
from typing import Any, Protocol

from .analytics import CameraAnalytics, CrossingEvent
from .capture import FrameBuffer
from .config import AppConfig, CameraConfig
from .types import Frame, Tracker

_LOGGER = logging.getLogger(__name__)

# Smoothing of the FPS and inference figures: about the last 5 seconds at 10 FPS.
EMA_WEIGHT = 0.05
# How long the loop waits for a frame before it looks at the clock (midnight, publishing).
IDLE_WAIT_S = 0.5


class Publisher(Protocol):
    """Where a camera's numbers go (MqttPublisher in production)."""

    def publish_state(self, camera_id: str, payload: Mapping[str, Any]) -> None: ...

    def publish_heatmap(self, camera_id: str, png: bytes) -> None: ...

    def set_camera_available(self, camera_id: str, available: bool) -> None: ...


@dataclass(slots=True)
class PipelineMetrics:
    """The diagnostics a camera reports: frames analysed per second and detector time."""

    frames: int = 0
    fps: float = 0.0
    inference_ms: float = 0.0
    _last_frame_at: float | None = None

    def record(self, now: float, inference_s: float) -> None:
        self.frames += 1
        inference_ms = inference_s * 1000
        self.inference_ms = (
            inference_ms
            if self.frames == 1
            else self.inference_ms + EMA_WEIGHT * (inference_ms - self.inference_ms)
        )
        if self._last_frame_at is not None and now > self._last_frame_at:
            instant = 1.0 / (now - self._last_frame_at)
            self.fps = instant if self.fps == 0 else self.fps + EMA_WEIGHT * (instant - self.fps)
        self._last_frame_at = now

    def idle(self) -> None:
        """No frames (stream down): report 0 FPS rather than the last figure."""
        self.fps = 0.0
        self._last_frame_at = None


class CameraPipeline(threading.Thread):
    """Analyses one camera's frames and publishes what it counts.

    ``process`` is the whole per-frame work and can be called directly (tests, benchmarks); the
    thread's ``run`` feeds it from the buffer until ``stop``.
    """

    def __init__(
        self,
        config: AppConfig,
        camera: CameraConfig,
        *,
        tracker: Tracker,
        analytics: CameraAnalytics,
        publisher: Publisher | None,
        buffer: FrameBuffer,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(name=f"careon-vision-{camera.id}", daemon=True)
        self.config = config
        self.camera = camera
        self.tracker = tracker
        self.analytics = analytics
        self.publisher = publisher
        self.buffer = buffer
        self.metrics = PipelineMetrics()
        self._clock = clock
        self._stop_event = threading.Event()
        # Set by the capture thread, acted on by this one: trackers and analytics are not
        # thread-safe, so only this thread touches them.
        self._stream_lost = threading.Event()
        self._last_state_at = float("-inf")
        self._last_heatmap_at = float("-inf")
        self.crossings = 0

    # -- called from other threads ------------------------------------------------------------

    def on_stream_status(self, connected: bool) -> None:
        """The capture thread's report: the stream (re)connected or dropped."""
        if not connected:
            self._stream_lost.set()
        if self.publisher is not None:
            self.publisher.set_camera_available(self.camera.id, connected)

    def stop(self) -> None:
        self._stop_event.set()

    # -- the loop -------------------------------------------------------------------------------

    def run(self) -> None:
        _LOGGER.info("Camera %s: analysing at up to %s FPS", self.camera.id, self.camera.fps)
        try:
            while not self._stop_event.is_set():
                frame = self.buffer.get(timeout=IDLE_WAIT_S)
                if self._stream_lost.is_set():
                    self._handle_stream_lost()
                if frame is None:
                    self.metrics.idle()
                    self.publish(self._clock())
                    continue
                self.process(frame)
        finally:
            self.finish()

    def process(self, frame: Frame) -> list[CrossingEvent]:
        """Track and count one frame, then publish if it is time to."""
        started = time.perf_counter()
        tracks = self.tracker.update(frame)
        inference_s = time.perf_counter() - started
        events = self.analytics.update(tracks, frame.timestamp)
        self.metrics.record(time.monotonic(), inference_s)
        for event in events:
            self.crossings += 1
            _LOGGER.debug(
                "Camera %s: track %s crossed %s (%s)",
                self.camera.id,
                event.track_id,
                event.line_key,
                event.direction,
            )
        if events:
            # A counted visitor is published at once, not at the next tick.
            self._last_state_at = float("-inf")
        self.publish(frame.timestamp)
        return events

    def publish(self, timestamp: float, *, force: bool = False) -> None:
        """Publish the state (rate-limited) and the heatmap (at its own, slower, interval)."""
        if self.publisher is None:
            return
        now = time.monotonic()
        if force or now - self._last_state_at >= self.config.publish_interval_s:
            self._last_state_at = now
            self.publisher.publish_state(self.camera.id, self.state(timestamp))
        if force or now - self._last_heatmap_at >= self.camera.heatmap.publish_interval_s:
            self._last_heatmap_at = now
            self.publisher.publish_heatmap(self.camera.id, self.analytics.heatmap_png())

    def state(self, timestamp: float | None = None) -> dict[str, Any]:
        """The state payload: the analytics' snapshot plus this pipeline's diagnostics."""
        snapshot = self.analytics.snapshot(timestamp)
        snapshot["fps"] = round(self.metrics.fps, 2)
        snapshot["inference_ms"] = round(self.metrics.inference_ms, 2)
        snapshot["dropped_frames"] = self.buffer.dropped
        return snapshot

    def finish(self) -> None:
        """Close open dwells, save and publish the final state (stop or crash alike)."""
        try:
            self.analytics.lost_all(self._clock())
            self.publish(self._clock(), force=True)
        except Exception:
            _LOGGER.exception("Camera %s: could not publish the final state", self.camera.id)
        _LOGGER.info("Camera %s: stopped", self.camera.id)

    def _handle_stream_lost(self) -> None:
        # Track ids from before a reconnect mean nothing after it: close every dwell and forget
        # line state, so a person seen again is a new track and is never counted twice.
        self._stream_lost.clear()
        self.analytics.lost_all(self._clock())
        self.tracker.reset()
        self.metrics.idle()
        self.publish(self._clock(), force=True)
