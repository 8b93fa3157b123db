"""ByteTrack over any detector, and a scripted detector for tests and demos.

Ultralytics' ``BYTETracker`` is detector-agnostic: it needs, per frame, an object exposing numpy
``conf``, ``cls`` and ``xywh`` (pixel centre, width, height) that supports boolean indexing. The
SSD ONNX backend and the scripted backend both go through here; the YOLO backend uses
Ultralytics' own ``model.track`` (detectors.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
import importlib
import inspect
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from careon_vision.types import Detections, Detector, Frame, Track

# Nothing may reach for the network at run time: no update checks, no auto-installs.
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "False")

Box = Sequence[float]
"""x1, y1, x2, y2 relative to the frame (0-1), optionally followed by a confidence."""


class _DetectionBatch:
    """The slice of Ultralytics' ``Boxes`` interface that ``BYTETracker.update`` reads."""

    def __init__(
        self,
        xyxy: npt.NDArray[np.float32],
        conf: npt.NDArray[np.float32],
        cls: npt.NDArray[np.float32],
    ) -> None:
        self.xyxy = xyxy
        self.conf = conf
        self.cls = cls

    @property
    def xywh(self) -> npt.NDArray[np.float32]:
        xywh = np.empty_like(self.xyxy)
        xywh[:, 0] = (self.xyxy[:, 0] + self.xyxy[:, 2]) / 2
        xywh[:, 1] = (self.xyxy[:, 1] + self.xyxy[:, 3]) / 2
        xywh[:, 2] = self.xyxy[:, 2] - self.xyxy[:, 0]
        xywh[:, 3] = self.xyxy[:, 3] - self.xyxy[:, 1]
        return xywh

    def __len__(self) -> int:
        return int(self.conf.shape[0])

    def __getitem__(self, index: Any) -> _DetectionBatch:
        return _DetectionBatch(self.xyxy[index], self.conf[index], self.cls[index])


def bytetrack_defaults() -> dict[str, Any]:
    """The tracker settings Ultralytics ships in its ``bytetrack.yaml`` (the package's copy)."""
    # Imported here, and as Any: Ultralytics is heavy (torch) and its functions are untyped.
    utils: Any = importlib.import_module("ultralytics.utils")
    checks: Any = importlib.import_module("ultralytics.utils.checks")
    loaded = utils.YAML.load(checks.check_yaml("bytetrack.yaml"))
    if not isinstance(loaded, dict):  # pragma: no cover - the packaged file is a mapping
        raise RuntimeError("ultralytics' bytetrack.yaml is not a mapping")
    return dict(loaded)


class ByteTrackTracker:
    """Implements ``Tracker``: detections from ``detector`` associated by ByteTrack.

    ``track_buffer`` is how many frames (at the analysed rate) a lost track is kept for re-finding:
    at 5 FPS the default 30 bridges a six-second occlusion. ``confidence``, when given, is the
    score a detection needs to start a track or take part in the first association (ByteTrack's
    ``track_high_thresh`` and ``new_track_thresh``); weaker detections down to the packaged
    ``track_low_thresh`` still keep existing tracks alive, which is the point of ByteTrack.
    """

    def __init__(
        self,
        detector: Detector,
        *,
        frame_rate: float,
        track_buffer: int = 30,
        confidence: float | None = None,
    ) -> None:
        byte_tracker: Any = importlib.import_module("ultralytics.trackers.byte_tracker")
        utils: Any = importlib.import_module("ultralytics.utils")
        tracker_class: Any = byte_tracker.BYTETracker

        if frame_rate <= 0:
            raise ValueError(f"frame_rate must be positive, got {frame_rate}")
        if track_buffer < 1:
            raise ValueError(f"track_buffer must be at least 1, got {track_buffer}")
        settings = bytetrack_defaults()
        settings["track_buffer"] = int(track_buffer)
        settings["frame_rate"] = float(frame_rate)
        if confidence is not None:
            if not 0.0 < confidence < 1.0:
                raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
            settings["track_high_thresh"] = confidence
            settings["new_track_thresh"] = confidence
            settings["track_low_thresh"] = min(float(settings["track_low_thresh"]), confidence / 2)
        self.detector = detector
        self.frame_rate = float(frame_rate)
        self.settings = settings
        args = utils.IterableSimpleNamespace(**settings)
        # Ultralytics < 8.4 took frame_rate and scaled track_buffer by frame_rate / 30; 8.4 keeps
        # track_buffer in frames. Pass 30 to older versions so the buffer stays in frames too.
        self._tracker: Any
        if "frame_rate" in inspect.signature(tracker_class).parameters:  # pragma: no cover
            self._tracker = tracker_class(args, frame_rate=30)
        else:
            self._tracker = tracker_class(args)

    def update(self, frame: Frame) -> list[Track]:
        detections = self.detector.detect(frame)
        return self.track(frame, detections)

    def track(self, frame: Frame, detections: Detections) -> list[Track]:
        """Associate one frame's detections (in that frame's pixels); the confirmed tracks."""
        batch = _DetectionBatch(
            np.asarray(detections.xyxy, dtype=np.float32).reshape(-1, 4),
            np.asarray(detections.confidence, dtype=np.float32).reshape(-1),
            np.asarray(detections.cls, dtype=np.float32).reshape(-1),
        )
        rows = self._tracker.update(batch, frame.image)
        if len(rows) == 0:
            return []
        width = float(frame.width) or 1.0
        height = float(frame.height) or 1.0
        tracks: list[Track] = []
        table = np.asarray(rows, dtype=np.float64).reshape(len(rows), -1)
        # Rows are [x1, y1, x2, y2, track_id, score, cls, idx] in pixels; the Kalman estimate may
        # run past the frame's edge, so clip.
        scale = np.asarray([width, height, width, height], np.float64)
        boxes = np.clip(table[:, :4] / scale, 0.0, 1.0).tolist()
        for box, track_id, score in zip(
            boxes, table[:, 4].tolist(), table[:, 5].tolist(), strict=True
        ):
            x1, y1, x2, y2 = box
            tracks.append(Track(int(track_id), (x1, y1, x2, y2), score))
        return tracks

    def reset(self) -> None:
        self._tracker.reset()


class ScriptedDetector:
    """Implements ``Detector``: pre-written boxes per frame index, for tests and demos.

    ``frames`` maps a frame index to its boxes, or lists them in order (index = position). Boxes
    are relative ``(x1, y1, x2, y2)`` with an optional fifth value, the confidence (default
    ``confidence``). Detections come out in the pixels of the frame they are asked for;
    ``width`` x ``height`` is the size of the blank frames ``frame()`` makes.
    """

    def __init__(
        self,
        frames: Mapping[int, Sequence[Box]] | Sequence[Sequence[Box]],
        width: int = 640,
        height: int = 480,
        confidence: float = 0.9,
    ) -> None:
        items = frames.items() if isinstance(frames, Mapping) else enumerate(frames)
        self.width = int(width)
        self.height = int(height)
        self.confidence = float(confidence)
        self._frames: dict[int, npt.NDArray[np.float64]] = {}
        for key, boxes in items:
            index = int(key)
            rows = np.zeros((0, 5), np.float64)
            parsed = [self._parse_box(index, box) for box in boxes]
            if parsed:
                rows = np.asarray(parsed, dtype=np.float64)
            self._frames[index] = rows

    def _parse_box(self, index: int, box: Box) -> tuple[float, float, float, float, float]:
        values = [float(value) for value in box]
        if len(values) not in (4, 5):
            raise ValueError(f"frame {index}: a box is x1, y1, x2, y2[, confidence], got {box!r}")
        x1, y1, x2, y2 = values[:4]
        score = values[4] if len(values) == 5 else self.confidence
        if not (0.0 <= x1 < x2 <= 1.0 and 0.0 <= y1 < y2 <= 1.0):
            raise ValueError(f"frame {index}: box {box!r} is not a relative x1<x2, y1<y2 box")
        if not 0.0 <= score <= 1.0:
            raise ValueError(f"frame {index}: confidence {score} is not within 0-1")
        return (x1, y1, x2, y2, score)

    @classmethod
    def from_file(cls, path: str | Path) -> ScriptedDetector:
        """Load ``{frames: {0: [[x1, y1, x2, y2], ...], ...}}`` (YAML or JSON; optional top-level
        ``width``, ``height``, ``confidence``)."""
        path = Path(path)
        text = path.read_text(encoding="utf-8")
        data: Any
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml  # noqa: PLC0415 - only scripted runs read YAML here

            data = yaml.safe_load(text)
        if not isinstance(data, dict) or not isinstance(data.get("frames"), dict | list):
            raise ValueError(f"{path}: expected a mapping with 'frames' (index -> list of boxes)")
        return cls(
            data["frames"],
            width=int(data.get("width", 640)),
            height=int(data.get("height", 480)),
            confidence=float(data.get("confidence", 0.9)),
        )

    @property
    def frame_count(self) -> int:
        """One past the last scripted frame index."""
        return max(self._frames, default=-1) + 1

    def frame(self, index: int, timestamp: float) -> Frame:
        """A black ``width`` x ``height`` frame to feed the pipeline with (no pixels needed)."""
        return Frame(np.zeros((self.height, self.width, 3), np.uint8), timestamp, index)

    def detect(self, frame: Frame) -> Detections:
        rows = self._frames.get(frame.index)
        if rows is None or len(rows) == 0:
            return Detections.empty()
        scale = np.asarray([frame.width, frame.height, frame.width, frame.height], np.float64)
        return Detections(
            (rows[:, :4] * scale).astype(np.float32),
            rows[:, 4].astype(np.float32),
            np.zeros((len(rows),), np.int64),
        )
