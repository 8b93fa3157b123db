"""Detectors on real pixels and real weights (vtest.avi through the SSD model), and the YOLO backend
offline with an untrained network built from its architecture file."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from careon_vision.config import DetectorConfig
from careon_vision.detectors import (
    ModelNotFoundError,
    SsdOnnxDetector,
    UltralyticsDetector,
    UltralyticsTracker,
    load_yolo,
    make_tracker,
    tracks_from_boxes,
)
from careon_vision.tracking import ByteTrackTracker
from careon_vision.types import Detections, Frame, Track


def _vtest_frames(path: Path, indices: range) -> list[Frame]:
    capture = cv2.VideoCapture(str(path))
    wanted = set(indices)
    frames: list[Frame] = []
    try:
        for index in range(max(indices) + 1):
            ok, image = capture.read()
            assert ok, f"vtest.avi ended before frame {index}"
            if index in wanted:
                frames.append(Frame(image, index / 10.0, index))
    finally:
        capture.release()
    return frames


@pytest.fixture(scope="module")
def ssd(ssd_model_path: Path) -> SsdOnnxDetector:
    return SsdOnnxDetector(ssd_model_path, confidence=0.4)


@pytest.fixture(scope="module")
def sample_frames(vtest_path: Path) -> list[Frame]:
    return _vtest_frames(vtest_path, range(0, 400, 40))


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


# --- SSD ONNX -------------------------------------------------------------------------------------


def test_ssd_finds_the_walkers_in_vtest(ssd: SsdOnnxDetector, sample_frames: list[Frame]) -> None:
    counts = []
    for frame in sample_frames:
        detections = ssd.detect(frame)
        assert isinstance(detections, Detections)
        assert detections.xyxy.dtype == np.float32
        assert detections.confidence.dtype == np.float32
        assert detections.cls.dtype == np.int64
        assert detections.xyxy.shape == (len(detections), 4)
        counts.append(len(detections))
        if len(detections) == 0:
            continue
        x1, y1, x2, y2 = detections.xyxy.T
        # Inside the 768x576 frame, not degenerate, and person-shaped (taller than wide).
        assert (x1 >= 0).all()
        assert (y1 >= 0).all()
        assert (x2 <= frame.width).all()
        assert (y2 <= frame.height).all()
        assert ((x2 - x1) > 5).all()
        assert ((y2 - y1) > 20).all()
        assert np.median((y2 - y1) / (x2 - x1)) > 1.2
        # vtest's walkers are 50-250 px tall at this distance.
        assert (y2 - y1).max() < 400
        assert (detections.confidence >= 0.4).all()
        assert (detections.confidence <= 1).all()
        assert (detections.cls == 0).all()
    # Between 2 and 8 people are in view through the first 40 s (counted by eye); the model is
    # weaker than YOLO and misses some, but every sampled frame has somebody in it.
    assert all(1 <= count <= 12 for count in counts), counts
    assert 2.0 <= float(np.mean(counts)) <= 8.0, counts


def test_ssd_boxes_follow_the_image(
    ssd: SsdOnnxDetector, ssd_model_path: Path, sample_frames: list[Frame]
) -> None:
    """Mirroring the frame mirrors the boxes: the (ymin, xmin, ...) order is mapped correctly."""
    # The model is not exactly mirror-symmetric: look for each box among the weaker ones too.
    reference = SsdOnnxDetector(ssd_model_path, confidence=0.15)
    matched = unmirrored = total = 0
    for frame in sample_frames:
        original = reference.detect(frame).xyxy
        mirrored = ssd.detect(Frame(np.ascontiguousarray(frame.image[:, ::-1]), 0.0, 0)).xyxy
        for box in mirrored:
            total += 1
            back = np.array([frame.width - box[2], box[1], frame.width - box[0], box[3]])
            matched += any(_iou(back, other) > 0.3 for other in original)
            unmirrored += any(_iou(box, other) > 0.3 for other in original)
    # Seen: 40 of 43 boxes match once mirrored back, 4 of 43 by chance without mirroring.
    assert total >= 10
    assert matched / total >= 0.8, (matched, total)
    assert unmirrored / total <= 0.3, (unmirrored, total)


def test_ssd_sees_nobody_in_an_empty_frame(ssd: SsdOnnxDetector) -> None:
    for value in (0, 128):
        blank = Frame(np.full((576, 768, 3), value, np.uint8), 0.0, 0)
        assert len(ssd.detect(blank)) == 0
    assert len(ssd.detect(Frame(np.zeros((0, 0, 3), np.uint8), 0.0, 0))) == 0


def test_ssd_options(ssd_model_path: Path, sample_frames: list[Frame]) -> None:
    frame = sample_frames[3]
    strict = SsdOnnxDetector(ssd_model_path, confidence=0.9, threads=1)
    loose = SsdOnnxDetector(ssd_model_path, confidence=0.2, threads=1)
    assert len(loose.detect(frame)) >= len(strict.detect(frame))
    assert (strict.detect(frame).confidence >= 0.9).all()
    # The full-size frame goes through too (the graph resizes it itself).
    full = SsdOnnxDetector(ssd_model_path, input_size=None, threads=1).detect(frame)
    assert len(full) >= 1
    assert (full.xyxy[:, 2] <= frame.width).all()


def test_ssd_rejects_bad_arguments(ssd_model_path: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "model.onnx"
    with pytest.raises(ModelNotFoundError, match="nowhere/model.onnx"):
        SsdOnnxDetector(missing)
    with pytest.raises(ValueError, match="confidence"):
        SsdOnnxDetector(ssd_model_path, confidence=1.5)
    with pytest.raises(ValueError, match="threads"):
        SsdOnnxDetector(ssd_model_path, threads=0)
    with pytest.raises(ValueError, match="input_size"):
        SsdOnnxDetector(ssd_model_path, input_size=8)
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not a model")
    with pytest.raises(Exception, match=r"(?i)protobuf|load|model"):
        SsdOnnxDetector(garbage)


# --- make_tracker ---------------------------------------------------------------------------------


def test_make_tracker_ssd_tracks_walkers(ssd_model_path: Path, vtest_path: Path) -> None:
    tracker = make_tracker(
        DetectorConfig(backend="ssd_onnx", model=str(ssd_model_path)), frame_rate=10
    )
    assert isinstance(tracker, ByteTrackTracker)
    frames = _vtest_frames(vtest_path, range(30))
    seen: dict[int, int] = {}
    for frame in frames:
        tracks = tracker.update(frame)
        for track in tracks:
            assert isinstance(track, Track)
            assert all(0.0 <= value <= 1.0 for value in track.box)
            seen[track.track_id] = seen.get(track.track_id, 0) + 1
    # People walk through all 3 s: some ids persist for most of the frames.
    assert seen, "no tracks at all"
    assert max(seen.values()) >= 20, seen
    tracker.reset()
    again = tracker.update(frames[0])
    assert again, "the first frame has people in it"
    assert sorted(track.track_id for track in again) == list(range(1, len(again) + 1))


def test_make_tracker_scripted(tmp_path: Path) -> None:
    script = tmp_path / "script.yaml"
    boxes = "\n".join(
        f"  {i}: [[{0.1 + 0.02 * i:.2f}, 0.2, {0.2 + 0.02 * i:.2f}, 0.6]]" for i in range(10)
    )
    script.write_text(f"frames:\n{boxes}\n", encoding="utf-8")
    tracker = make_tracker(DetectorConfig(backend="scripted", model=str(script)), frame_rate=5)
    assert isinstance(tracker, ByteTrackTracker)
    image = np.zeros((480, 640, 3), np.uint8)
    ids = set()
    for index in range(10):
        for track in tracker.update(Frame(image, index / 5, index)):
            ids.add(track.track_id)
            assert track.box[0] == pytest.approx(0.1 + 0.02 * index, abs=0.02)
    assert len(ids) == 1
    with pytest.raises(ModelNotFoundError, match="missing.yaml"):
        make_tracker(
            DetectorConfig(backend="scripted", model=str(tmp_path / "missing.yaml")),
            frame_rate=5,
        )


def test_make_tracker_yolo(tmp_path: Path) -> None:
    tracker = make_tracker(DetectorConfig(model="yolov8n.yaml", image_size=160), frame_rate=5)
    assert isinstance(tracker, UltralyticsTracker)
    with pytest.raises(ModelNotFoundError, match=str(tmp_path / "yolo11n.pt")):
        make_tracker(DetectorConfig(model=str(tmp_path / "yolo11n.pt")), frame_rate=5)
    with pytest.raises(ModelNotFoundError, match=str(tmp_path / "model.engine")):
        make_tracker(DetectorConfig(model=str(tmp_path / "model.engine")), frame_rate=5)
    with pytest.raises(ValueError, match="unsupported YOLO model"):
        load_yolo(tmp_path / "model.tflite")
    with pytest.raises(ValueError, match="frame_rate"):
        UltralyticsTracker(DetectorConfig(model="yolov8n.yaml"), frame_rate=0)
    with pytest.raises(ModelNotFoundError, match="missing.onnx"):
        make_tracker(DetectorConfig(backend="ssd_onnx", model="missing.onnx"), frame_rate=5)


# --- Ultralytics, offline -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def yolo_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained YOLOv8n saved as .pt: the real loading path, no download."""
    path = tmp_path_factory.mktemp("yolo") / "untrained.pt"
    load_yolo("yolov8n.yaml").save(path)
    return path


def test_ultralytics_tracker_runs_offline(yolo_weights: Path, sample_frames: list[Frame]) -> None:
    config = DetectorConfig(model=str(yolo_weights), image_size=160, confidence=0.3, track_buffer=7)
    tracker = UltralyticsTracker(config, frame_rate=5)
    for frame in sample_frames[:3]:
        tracks = tracker.update(frame)
        assert isinstance(tracks, list)
        assert all(isinstance(track, Track) for track in tracks)
    # Ultralytics built ByteTrack from our settings, not its defaults.
    predictor = tracker._model.predictor
    (byte_track,) = predictor.trackers
    assert type(byte_track).__name__ == "BYTETracker"
    assert byte_track.args.track_buffer == 7
    assert byte_track.args.track_high_thresh == pytest.approx(0.3)
    assert byte_track.args.new_track_thresh == pytest.approx(0.3)
    assert byte_track.args.track_low_thresh == pytest.approx(0.1)
    assert predictor.args.classes == [0]
    assert predictor.args.imgsz in (160, [160, 160])

    tracker.reset()
    assert not hasattr(predictor, "trackers")
    assert isinstance(tracker.update(sample_frames[3]), list)
    assert predictor.trackers[0] is not byte_track  # re-created
    assert predictor.trackers[0].frame_id == 1


def test_ultralytics_detector_offline(yolo_weights: Path, sample_frames: list[Frame]) -> None:
    detector = UltralyticsDetector(DetectorConfig(model=str(yolo_weights), image_size=160))
    detections = detector.detect(sample_frames[0])
    assert isinstance(detections, Detections)
    assert detections.xyxy.dtype == np.float32
    assert detections.xyxy.shape == (len(detections), 4)
    assert (detections.cls == 0).all()


def test_ultralytics_tracker_runs_an_exported_onnx_model(
    yolo_weights: Path, sample_frames: list[Frame]
) -> None:
    """The .onnx path: exported here (as `yolo export format=onnx` would), run by onnxruntime."""
    exported = Path(
        load_yolo(yolo_weights).export(format="onnx", imgsz=160, simplify=False, verbose=False)
    )
    assert exported.suffix == ".onnx"
    assert exported.is_file()
    config = DetectorConfig(model=str(exported), image_size=160, confidence=0.3)
    tracker = make_tracker(config, frame_rate=5)
    assert isinstance(tracker, UltralyticsTracker)
    for frame in sample_frames[:3]:
        tracks = tracker.update(frame)
        assert all(isinstance(track, Track) for track in tracks)
    backend = tracker._model.predictor.model
    assert type(backend).__name__ == "AutoBackend"
    assert getattr(backend, "format", None) == "onnx" or getattr(backend, "onnx", False)


def test_tracks_from_boxes() -> None:
    tracks = tracks_from_boxes(
        np.array([[0.1, 0.2, 0.3, 0.9], [-0.01, 0.5, 0.4, 1.02]], np.float32),
        np.array([3.0, 7.0], np.float32),
        np.array([0.8, 0.5], np.float32),
    )
    assert [t.track_id for t in tracks] == [3, 7]
    assert tracks[0].box == pytest.approx((0.1, 0.2, 0.3, 0.9))
    assert tracks[1].box == pytest.approx((0.0, 0.5, 0.4, 1.0))  # clipped to the frame
    assert tracks[0].confidence == pytest.approx(0.8)
    assert tracks_from_boxes(np.zeros((0, 4)), np.zeros(0), np.zeros(0)) == []
