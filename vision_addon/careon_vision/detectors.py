"""Person detectors and trackers: Ultralytics YOLO (.pt/.onnx/.engine) and the SSD ONNX format.

* ``UltralyticsTracker`` runs ``YOLO(model).track(..., tracker="bytetrack.yaml")``: detection and
  ByteTrack in one call (the production backend).
* ``UltralyticsDetector`` runs ``YOLO(model).predict`` only (benchmarks, or ByteTrack fed by hand).
* ``SsdOnnxDetector`` runs a TensorFlow Object Detection API SSD exported to ONNX (the test model
  ``shared/models/pedestrian_ssdlite.onnx``) with onnxruntime on the CPU.
* ``make_tracker`` builds the configured backend; ``ssd_onnx`` and ``scripted`` go through
  ``tracking.ByteTrackTracker``.

Nothing downloads at run time: Ultralytics is told it is offline and may not install packages
(``YOLO_OFFLINE``, ``YOLO_AUTOINSTALL``) before it is first imported, and a missing model file is an
error naming the path instead of a download attempt.
"""

from __future__ import annotations

import importlib
import logging
import os
from pathlib import Path
import tempfile
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import numpy.typing as npt

from careon_vision.types import Detections, Frame, Track, Tracker

if TYPE_CHECKING:
    from careon_vision.config import DetectorConfig

# Before anything imports Ultralytics: no update checks, no pip installs, no asset downloads.
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "False")

_LOGGER = logging.getLogger(__name__)

PERSON = 0
"""Class id of a person in ``Detections`` (COCO's id, for every backend)."""

YOLO_SUFFIXES = (".pt", ".onnx", ".engine")
"""Weights the YOLO backend loads; a ``.yaml`` architecture builds an untrained model (tests)."""


class ModelNotFoundError(FileNotFoundError):
    """The configured model file does not exist (nothing is downloaded in its place)."""


def _require_file(path: str | Path, what: str) -> Path:
    resolved = Path(path).expanduser()
    if not resolved.is_file():
        absolute = resolved if resolved.is_absolute() else Path.cwd() / resolved
        raise ModelNotFoundError(f"{what} not found: {absolute}")
    return resolved


def _low_confidence(confidence: float) -> float:
    """The floor below which detections are not even handed to ByteTrack.

    ByteTrack keeps existing tracks alive with detections between its low threshold and
    ``confidence``; this matches what ``tracking.ByteTrackTracker`` uses for ``track_low_thresh``.
    """
    return min(0.1, confidence / 2)


# --------------------------------------------------------------------------------------------
# SSD (TensorFlow Object Detection API format) in ONNX
# --------------------------------------------------------------------------------------------


class SsdOnnxDetector:
    """Implements ``Detector``: an SSD person detector exported from the TF Object Detection API.

    The model takes ``uint8 [1, H, W, 3]`` RGB and returns ``detection_boxes`` (ymin, xmin, ymax,
    xmax, normalised), ``detection_scores``, ``detection_classes`` (1 = person) and
    ``num_detections``. The frame is resized to ``input_size`` x ``input_size`` first (the size
    the model was trained at; the graph would resize to it internally anyway, so this only saves
    time); ``None`` feeds the frame at its own size. Boxes come back in the frame's pixels.
    ``threads`` sets onnxruntime's intra-op threads (``None``: onnxruntime's default, one per core).
    """

    SSD_PERSON = 1
    """The person class id in the TF Object Detection API's label map."""

    def __init__(
        self,
        model_path: str | Path,
        *,
        confidence: float = 0.4,
        input_size: int | None = 300,
        threads: int | None = None,
    ) -> None:
        if not 0.0 < confidence < 1.0:
            raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
        if input_size is not None and input_size < 32:
            raise ValueError(f"input_size must be at least 32 pixels, got {input_size}")
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        self.model_path = _require_file(model_path, "SSD ONNX model")
        self.confidence = float(confidence)
        self.input_size = input_size

        ort: Any = importlib.import_module("onnxruntime")
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session: Any = ort.InferenceSession(
            str(self.model_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        inputs = self._session.get_inputs()
        if len(inputs) != 1 or inputs[0].type != "tensor(uint8)" or len(inputs[0].shape) != 4:
            described = ", ".join(f"{i.name} {i.type} {i.shape}" for i in inputs)
            raise ValueError(
                f"{self.model_path} is not a TF Object Detection API SSD "
                f"(expected one uint8 [1, H, W, 3] input, got {described})"
            )
        self._input_name: str = inputs[0].name
        self._output_names = self._find_outputs([o.name for o in self._session.get_outputs()])

    def _find_outputs(self, names: list[str]) -> list[str]:
        wanted = ("detection_boxes", "detection_scores", "detection_classes", "num_detections")
        found: list[str] = []
        for key in wanted:
            matches = [name for name in names if name.split(":")[0].endswith(key)]
            if len(matches) != 1:
                raise ValueError(
                    f"{self.model_path} has no single {key} output (outputs: {', '.join(names)})"
                )
            found.append(matches[0])
        return found

    def detect(self, frame: Frame) -> Detections:
        image: npt.NDArray[Any] = frame.image
        height, width = int(image.shape[0]), int(image.shape[1])
        if height == 0 or width == 0:
            return Detections.empty()
        if self.input_size is not None and (height, width) != (self.input_size, self.input_size):
            image = cv2.resize(
                image, (self.input_size, self.input_size), interpolation=cv2.INTER_LINEAR
            )
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        boxes, scores, classes, count = self._session.run(
            self._output_names, {self._input_name: rgb[np.newaxis]}
        )
        n = int(np.asarray(count).reshape(-1)[0])
        return self._to_detections(
            np.asarray(boxes, np.float32)[0, :n],
            np.asarray(scores, np.float32)[0, :n],
            np.asarray(classes, np.float32)[0, :n],
            width,
            height,
        )

    def _to_detections(
        self,
        boxes: npt.NDArray[np.float32],
        scores: npt.NDArray[np.float32],
        classes: npt.NDArray[np.float32],
        width: int,
        height: int,
    ) -> Detections:
        keep = (np.rint(classes).astype(np.int64) == self.SSD_PERSON) & (scores >= self.confidence)
        boxes = np.clip(boxes[keep], 0.0, 1.0)
        # (ymin, xmin, ymax, xmax) normalised -> (x1, y1, x2, y2) in the frame's pixels.
        scale = np.asarray([width, height, width, height], np.float32)
        xyxy = boxes[:, [1, 0, 3, 2]] * scale
        valid = (xyxy[:, 2] > xyxy[:, 0]) & (xyxy[:, 3] > xyxy[:, 1])
        xyxy = np.ascontiguousarray(xyxy[valid], dtype=np.float32)
        confidence = np.ascontiguousarray(scores[keep][valid], dtype=np.float32)
        return Detections(xyxy, confidence, np.full(len(confidence), PERSON, np.int64))


# --------------------------------------------------------------------------------------------
# Ultralytics YOLO
# --------------------------------------------------------------------------------------------


def load_yolo(model: str | Path) -> Any:
    """``ultralytics.YOLO`` for a ``.pt``/``.onnx``/``.engine`` file (or a ``.yaml`` architecture).

    A weights file must exist: Ultralytics would otherwise try to download a model of that name.
    A ``.yaml`` builds an untrained network (random weights; tests only).
    """
    name = str(model)
    suffix = Path(name).suffix.lower()
    if suffix in (".yaml", ".yml"):
        _LOGGER.warning("Building %s with random weights: detections are meaningless", name)
        source = name
    elif suffix in YOLO_SUFFIXES:
        source = str(_require_file(name, "YOLO model"))
    else:
        raise ValueError(
            f"unsupported YOLO model {name!r}: expected a {', '.join(YOLO_SUFFIXES)} file"
        )
    ultralytics: Any = importlib.import_module("ultralytics")
    # Exported formats do not record their task reliably; we only ever detect.
    return ultralytics.YOLO(source, task="detect")


def _as_numpy(value: Any) -> npt.NDArray[Any]:
    """A tensor (torch, any device) or array as a numpy array."""
    if hasattr(value, "cpu"):
        value = value.cpu()
    if hasattr(value, "numpy"):
        value = value.numpy()
    return np.asarray(value)


def tracks_from_boxes(
    xyxyn: npt.ArrayLike, track_ids: npt.ArrayLike, confidence: npt.ArrayLike
) -> list[Track]:
    """``Track``s from relative boxes (N, 4), their ids (N,) and confidences (N,)."""
    boxes = np.clip(np.asarray(xyxyn, np.float64).reshape(-1, 4), 0.0, 1.0).tolist()
    ids = np.asarray(track_ids).reshape(-1).astype(np.int64).tolist()
    scores = np.asarray(confidence, np.float64).reshape(-1).tolist()
    return [
        Track(int(track_id), (x1, y1, x2, y2), float(score))
        for (x1, y1, x2, y2), track_id, score in zip(boxes, ids, scores, strict=True)
    ]


class UltralyticsTracker:
    """Implements ``Tracker``: ``YOLO.track`` with ByteTrack, persons only.

    ``confidence`` is what a detection needs to start a track or to take part in ByteTrack's first
    association; weaker detections (down to ``min(0.1, confidence / 2)``) only keep existing tracks
    alive, exactly as ``tracking.ByteTrackTracker`` does for the other backends. ``track_buffer``
    is how many analysed frames a lost track is kept. ``frame_rate`` is the analysed rate; it is
    recorded for diagnostics (Ultralytics 8.4 counts ``track_buffer`` in frames whatever the rate).
    """

    def __init__(self, config: DetectorConfig, *, frame_rate: float) -> None:
        if frame_rate <= 0:
            raise ValueError(f"frame_rate must be positive, got {frame_rate}")
        self.config = config
        self.frame_rate = float(frame_rate)
        self._model: Any = load_yolo(config.model)
        self._settings_dir = tempfile.TemporaryDirectory(prefix="careon_bytetrack_")
        self.tracker_config = self._write_tracker_config(Path(self._settings_dir.name))

    def _write_tracker_config(self, directory: Path) -> Path:
        """Ultralytics' own ``bytetrack.yaml`` with our thresholds and buffer."""
        from careon_vision.tracking import bytetrack_defaults

        settings = bytetrack_defaults()
        settings["tracker_type"] = "bytetrack"
        settings["track_high_thresh"] = self.config.confidence
        settings["new_track_thresh"] = self.config.confidence
        settings["track_low_thresh"] = min(
            float(settings["track_low_thresh"]), _low_confidence(self.config.confidence)
        )
        settings["track_buffer"] = self.config.track_buffer
        yaml: Any = importlib.import_module("yaml")
        path = directory / "bytetrack.yaml"
        path.write_text(yaml.safe_dump(settings, sort_keys=False), encoding="utf-8")
        return path

    def update(self, frame: Frame) -> list[Track]:
        results = self._model.track(
            frame.image,
            persist=True,
            tracker=str(self.tracker_config),
            classes=[PERSON],
            conf=_low_confidence(self.config.confidence),
            imgsz=self.config.image_size,
            device=self.config.device,
            verbose=False,
        )
        if not results:
            return []
        boxes = results[0].boxes
        if boxes is None or boxes.id is None or len(boxes) == 0:
            return []
        return tracks_from_boxes(_as_numpy(boxes.xyxyn), _as_numpy(boxes.id), _as_numpy(boxes.conf))

    def reset(self) -> None:
        """Forget every track: the predictor's trackers are re-created on the next frame."""
        predictor = getattr(self._model, "predictor", None)
        if predictor is not None and hasattr(predictor, "trackers"):
            del predictor.trackers


class UltralyticsDetector:
    """Implements ``Detector``: ``YOLO.predict``, persons above ``config.confidence``."""

    def __init__(self, config: DetectorConfig, *, confidence: float | None = None) -> None:
        self.config = config
        self.confidence = config.confidence if confidence is None else float(confidence)
        self._model: Any = load_yolo(config.model)

    def detect(self, frame: Frame) -> Detections:
        results = self._model.predict(
            frame.image,
            classes=[PERSON],
            conf=self.confidence,
            imgsz=self.config.image_size,
            device=self.config.device,
            verbose=False,
        )
        if not results or results[0].boxes is None or len(results[0].boxes) == 0:
            return Detections.empty()
        boxes = results[0].boxes
        xyxy = np.ascontiguousarray(_as_numpy(boxes.xyxy), dtype=np.float32).reshape(-1, 4)
        confidence = np.ascontiguousarray(_as_numpy(boxes.conf), dtype=np.float32).reshape(-1)
        return Detections(xyxy, confidence, np.full(len(confidence), PERSON, np.int64))


def make_tracker(config: DetectorConfig, *, frame_rate: float) -> Tracker:
    """The configured backend as a ``Tracker``.

    ``yolo`` -> ``UltralyticsTracker``; ``ssd_onnx`` -> ByteTrack over ``SsdOnnxDetector``;
    ``scripted`` -> ByteTrack over ``ScriptedDetector.from_file(config.model)``. Raises
    ``ModelNotFoundError`` naming the path when the model (or script) file is missing.
    """
    from careon_vision.tracking import ByteTrackTracker, ScriptedDetector

    if config.backend == "yolo":
        return UltralyticsTracker(config, frame_rate=frame_rate)
    if config.backend == "ssd_onnx":
        # The detector passes ByteTrack's low-score detections too; the tracker applies
        # ``confidence`` to start and confirm tracks.
        detector = SsdOnnxDetector(config.model, confidence=_low_confidence(config.confidence))
        return ByteTrackTracker(
            detector,
            frame_rate=frame_rate,
            track_buffer=config.track_buffer,
            confidence=config.confidence,
        )
    if config.backend == "scripted":
        script = _require_file(config.model, "detection script")
        return ByteTrackTracker(
            ScriptedDetector.from_file(script),
            frame_rate=frame_rate,
            track_buffer=config.track_buffer,
            confidence=config.confidence,
        )
    raise ValueError(f"unknown detector backend {config.backend!r}")
