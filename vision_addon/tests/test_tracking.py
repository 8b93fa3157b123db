"""ScriptedDetector and ByteTrackTracker (Ultralytics' BYTETracker fed with any detector)."""

from __future__ import annotations

import json
from pathlib import Path
import subprocess
import sys

import numpy as np
import pytest

from careon_vision.tracking import ByteTrackTracker, ScriptedDetector, bytetrack_defaults
from careon_vision.types import Detections, Frame

FPS = 10.0


def box_at(y: float, x: float = 0.5) -> list[float]:
    return [x - 0.05, y - 0.2, x + 0.05, y]


def run(tracker: ByteTrackTracker, detector: ScriptedDetector, frames: int):
    out = []
    for index in range(frames):
        out.append(tracker.update(detector.frame(index, index / FPS)))
    return out


# --- ScriptedDetector ---------------------------------------------------------------------------


def test_scripted_detector_scales_relative_boxes_to_the_frame():
    detector = ScriptedDetector({0: [(0.1, 0.2, 0.3, 0.4)], 2: [(0.5, 0.5, 0.6, 0.9, 0.3)]})
    frame = Frame(np.zeros((100, 200, 3), np.uint8), 0.0, 0)
    detections = detector.detect(frame)
    np.testing.assert_allclose(detections.xyxy, [[20, 20, 60, 40]], atol=1e-4)
    assert detections.confidence.tolist() == pytest.approx([0.9])
    assert detections.cls.tolist() == [0]
    assert detections.xyxy.dtype == np.float32
    assert len(detector.detect(Frame(frame.image, 0.1, 1))) == 0
    third = detector.detect(Frame(frame.image, 0.2, 2))
    assert third.confidence.tolist() == pytest.approx([0.3])
    assert detector.frame_count == 3
    blank = detector.frame(5, 12.5)
    assert blank.image.shape == (480, 640, 3)
    assert (blank.index, blank.timestamp) == (5, 12.5)
    assert not blank.image.any()


def test_scripted_detector_from_a_list_and_from_files(tmp_path: Path):
    listed = ScriptedDetector([[], [[0.1, 0.1, 0.2, 0.3]]], width=320, height=240)
    assert listed.frame_count == 2
    assert len(listed.detect(listed.frame(1, 0.0))) == 1
    np.testing.assert_allclose(
        listed.detect(listed.frame(1, 0.0)).xyxy, [[32, 24, 64, 72]], atol=1e-4
    )

    yaml_file = tmp_path / "walk.yaml"
    yaml_file.write_text(
        "width: 320\nheight: 240\nconfidence: 0.7\nframes:\n  0: [[0.1, 0.1, 0.2, 0.3]]\n  4: []\n"
    )
    from_yaml = ScriptedDetector.from_file(yaml_file)
    assert (from_yaml.width, from_yaml.height, from_yaml.frame_count) == (320, 240, 5)
    assert from_yaml.detect(from_yaml.frame(0, 0.0)).confidence.tolist() == pytest.approx([0.7])

    json_file = tmp_path / "walk.json"
    json_file.write_text(json.dumps({"frames": {"3": [[0.1, 0.1, 0.2, 0.3, 0.5]]}}))
    from_json = ScriptedDetector.from_file(json_file)
    assert from_json.frame_count == 4
    assert from_json.detect(from_json.frame(3, 0.0)).confidence.tolist() == pytest.approx([0.5])


@pytest.mark.parametrize(
    ("frames", "message"),
    [
        ({0: [(0.3, 0.1, 0.2, 0.4)]}, "frame 0: box"),
        ({1: [(0.1, 0.1, 0.2, 1.4)]}, "frame 1: box"),
        ({2: [(0.1, 0.1, 0.2)]}, "frame 2: a box is"),
        ({3: [(0.1, 0.1, 0.2, 0.3, 1.5)]}, "frame 3: confidence"),
    ],
)
def test_scripted_detector_rejects_bad_boxes(frames, message):
    with pytest.raises(ValueError, match=message):
        ScriptedDetector(frames)


def test_scripted_file_without_frames_is_rejected(tmp_path: Path):
    path = tmp_path / "bad.yaml"
    path.write_text("boxes: []\n")
    with pytest.raises(ValueError, match="frames"):
        ScriptedDetector.from_file(path)


# --- ByteTrackTracker ---------------------------------------------------------------------------


def test_defaults_come_from_ultralytics_bytetrack_yaml():
    defaults = bytetrack_defaults()
    assert defaults["tracker_type"] == "bytetrack"
    for key in ("track_high_thresh", "track_low_thresh", "new_track_thresh", "match_thresh"):
        assert 0 < defaults[key] < 1
    tracker = ByteTrackTracker(ScriptedDetector({}), frame_rate=5.0, track_buffer=12)
    assert tracker.settings["track_buffer"] == 12
    assert tracker.settings["match_thresh"] == defaults["match_thresh"]
    assert tracker.settings["frame_rate"] == 5.0
    strict = ByteTrackTracker(ScriptedDetector({}), frame_rate=5.0, confidence=0.6)
    assert strict.settings["track_high_thresh"] == 0.6
    assert strict.settings["new_track_thresh"] == 0.6
    assert strict.settings["track_low_thresh"] < 0.6


@pytest.mark.parametrize(
    "kwargs",
    [
        {"frame_rate": 0.0},
        {"frame_rate": 5.0, "track_buffer": 0},
        {"frame_rate": 5.0, "confidence": 1.5},
    ],
)
def test_invalid_tracker_settings_are_refused(kwargs):
    with pytest.raises(ValueError):  # noqa: PT011 - the message names the setting
        ByteTrackTracker(ScriptedDetector({}), **kwargs)


def test_tracks_are_relative_and_keep_their_ids():
    frames = [[box_at(0.3 + 0.01 * i, 0.3), box_at(0.3 + 0.01 * i, 0.7)] for i in range(20)]
    detector = ScriptedDetector(frames)
    tracker = ByteTrackTracker(detector, frame_rate=FPS)
    results = run(tracker, detector, 20)
    assert all(len(tracks) == 2 for tracks in results)
    ids = {(round(t.center[0], 1), t.track_id) for tracks in results for t in tracks}
    assert ids == {(0.3, 1), (0.7, 2)}  # each person keeps one id throughout
    last = {t.track_id: t for t in results[-1]}
    assert last[1].box == pytest.approx(box_at(0.49, 0.3), abs=0.01)
    assert last[1].bottom_center == pytest.approx((0.3, 0.49), abs=0.01)
    for tracks in results:
        for t in tracks:
            assert all(isinstance(v, float) and 0.0 <= v <= 1.0 for v in t.box)
            assert t.confidence == pytest.approx(0.9)


def test_boxes_at_the_frame_edge_are_clipped():
    frames = [[[0.0, 0.0, 0.1, 0.3 + 0.02 * i]] for i in range(5)]
    detector = ScriptedDetector(frames)
    tracker = ByteTrackTracker(detector, frame_rate=FPS)
    for tracks in run(tracker, detector, 5):
        for t in tracks:
            assert min(t.box) >= 0.0
            assert max(t.box) <= 1.0


@pytest.mark.parametrize(("gap", "same_id"), [(5, True), (12, False)])
def test_track_buffer_bridges_shorter_gaps_only(gap, same_id):
    before, after = 10, 5
    frames = [[box_at(0.5)] for _ in range(before)] + [[] for _ in range(gap)]
    frames += [[box_at(0.5)] for _ in range(after)]
    detector = ScriptedDetector(frames)
    tracker = ByteTrackTracker(detector, frame_rate=FPS, track_buffer=8)
    results = run(tracker, detector, len(frames))
    assert all(results[i] == [] for i in range(before, before + gap))
    first = {t.track_id for t in results[before - 1]}
    again = {t.track_id for t in results[-1]}
    assert first == {1}
    assert (again == first) is same_id


def test_confidence_gates_new_tracks():
    frames = [[[0.4, 0.3, 0.5, 0.6, 0.35]] for _ in range(5)]
    detector = ScriptedDetector(frames)
    strict = ByteTrackTracker(detector, frame_rate=FPS, confidence=0.5)
    assert all(tracks == [] for tracks in run(strict, detector, 5))
    lenient = ByteTrackTracker(detector, frame_rate=FPS, confidence=0.3)
    assert run(lenient, detector, 5)[-1] != []


def test_reset_forgets_tracks_and_restarts_ids():
    frames = [[box_at(0.5)] for _ in range(6)]
    detector = ScriptedDetector(frames)
    tracker = ByteTrackTracker(detector, frame_rate=FPS)
    run(tracker, detector, 3)
    ids_before = {t.track_id for t in tracker.update(detector.frame(3, 0.3))}
    frames_far = ScriptedDetector([[box_at(0.9, 0.1)]] * 3)
    tracker.reset()
    tracker.detector = frames_far
    ids_after = {t.track_id for t in tracker.update(frames_far.frame(0, 1.0))}
    assert ids_before == {1}
    assert ids_after == {1}  # a fresh numbering, the old track is gone


def test_track_accepts_any_detector_output():
    tracker = ByteTrackTracker(ScriptedDetector({}), frame_rate=FPS)
    frame = Frame(np.zeros((200, 400, 3), np.uint8), 0.0, 0)
    detections = Detections(
        np.asarray([[40, 20, 80, 120], [200, 50, 240, 150]], np.float32),
        np.asarray([0.8, 0.05], np.float32),  # the second is below every threshold
        np.zeros((2,), np.int64),
    )
    tracks = tracker.track(frame, detections)
    assert len(tracks) == 1
    assert tracks[0].box == pytest.approx((0.1, 0.1, 0.2, 0.6), abs=1e-4)
    assert tracker.track(Frame(frame.image, 0.1, 1), Detections.empty()) == []


def test_importing_analytics_does_not_import_ultralytics():
    code = (
        "import sys, careon_vision.analytics, careon_vision.tracking, careon_vision.state; "
        "heavy = [m for m in ('ultralytics', 'torch') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
