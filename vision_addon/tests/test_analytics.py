"""Analytics: scripted trajectories with known answers through the real tracker, and units.

Coordinates are relative (x right, y down). The test line runs left to right across the middle of
the frame, so its positive side ("in") is below it: walking down the image is "in".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
import json
import math
from pathlib import Path
import random
from zoneinfo import ZoneInfo

import cv2
from hypothesis import given, settings, strategies as st
import numpy as np
import pytest

from careon_vision.analytics import (
    CameraAnalytics,
    CrossingEvent,
    Heatmap,
    LineCounter,
    ZoneMonitor,
)
from careon_vision.config import CameraConfig, HeatmapConfig, LineConfig, ZoneConfig
from careon_vision.geometry import point_in_polygon, projection_t, signed_distance
from careon_vision.state import StateStore
from careon_vision.tracking import ByteTrackTracker, ScriptedDetector
from careon_vision.types import Track

SEOUL = ZoneInfo("Asia/Seoul")
FPS = 10.0
DT = 1.0 / FPS
T0 = datetime(2026, 11, 22, 10, 0, 0, tzinfo=SEOUL).timestamp()
LINE_Y = 0.5
ZONE = [(0.6, 0.55), (0.95, 0.55), (0.95, 0.95), (0.6, 0.95)]

Box = tuple[float, float, float, float]


def person(x: float, y: float, width: float = 0.08, height: float = 0.2) -> Box:
    """A person's box whose bottom-centre (feet) is at (x, y)."""
    return (x - width / 2, y - height, x + width / 2, y)


def track(track_id: int, x: float, y: float) -> Track:
    return Track(track_id, person(x, y), 0.9)


def door_line(**overrides) -> LineConfig:
    data = {"name": "Door", "start": (0.1, LINE_Y), "end": (0.9, LINE_Y), **overrides}
    return LineConfig(**data)


def counter_zone(**overrides) -> ZoneConfig:
    return ZoneConfig(**{"name": "Counter", "polygon": ZONE, **overrides})


def camera(*, lines=None, zones=None, heatmap=None) -> CameraConfig:
    return CameraConfig(
        id="front",
        name="Front",
        url="/tmp/front.mp4",
        lines=[door_line()] if lines is None else lines,
        zones=[counter_zone()] if zones is None else zones,
        heatmap=heatmap or HeatmapConfig(),
    )


def walk(start: float, stop: float, step: float = 0.02) -> list[float]:
    """Positions from start to stop (inclusive) in steps of ``step`` (either direction)."""
    count = round(abs(stop - start) / step)
    sign = 1.0 if stop >= start else -1.0
    return [start + sign * step * i for i in range(count + 1)]


@dataclass
class Run:
    analytics: CameraAnalytics
    events: list[CrossingEvent] = field(default_factory=list)
    ids: set[int] = field(default_factory=set)
    zone_occupancy: list[int] = field(default_factory=list)

    def count(self, direction: str) -> int:
        return sum(1 for event in self.events if event.direction == direction)


def run_script(
    frames: Sequence[Sequence[Box]],
    cam: CameraConfig | None = None,
    *,
    start: float = T0,
    lost_after_s: float = 2.0,
    store: StateStore | None = None,
) -> Run:
    """ScriptedDetector -> ByteTrackTracker -> CameraAnalytics over blank 640x480 frames."""
    detector = ScriptedDetector(list(frames), width=640, height=480)
    tracker = ByteTrackTracker(detector, frame_rate=FPS, track_buffer=30)
    result = Run(CameraAnalytics(cam or camera(), SEOUL, lost_after_s=lost_after_s, store=store))
    for index in range(len(frames)):
        frame = detector.frame(index, start + index * DT)
        assert frame.image.shape == (480, 640, 3)
        tracks = tracker.update(frame)
        result.ids.update(t.track_id for t in tracks)
        result.events.extend(result.analytics.update(tracks, frame.timestamp))
        zones = result.analytics.zones
        result.zone_occupancy.append(zones["counter"].occupancy if "counter" in zones else 0)
    return result


# --- geometry ---------------------------------------------------------------------------------


def test_signed_distance_sign_is_right_hand_side_on_screen():
    a, b = (0.1, 0.5), (0.9, 0.5)
    assert signed_distance(a, b, (0.5, 0.7)) == pytest.approx(0.2)  # below: positive
    assert signed_distance(a, b, (0.5, 0.3)) == pytest.approx(-0.2)  # above: negative
    assert signed_distance(a, b, (0.3, 0.5)) == 0.0
    # A vertical line drawn top to bottom has its positive side on the left of the screen.
    assert signed_distance((0.5, 0.1), (0.5, 0.9), (0.2, 0.5)) == pytest.approx(0.3)
    # The distance is Euclidean, whatever the slope.
    assert abs(signed_distance((0, 0), (1, 1), (1, 0))) == pytest.approx(math.sqrt(0.5))
    with pytest.raises(ValueError, match="degenerate"):
        signed_distance((0.2, 0.2), (0.2, 0.2), (0.5, 0.5))


def test_projection_t():
    a, b = (0.1, 0.5), (0.9, 0.5)
    assert projection_t(a, b, (0.1, 0.9)) == pytest.approx(0.0)
    assert projection_t(a, b, (0.9, 0.1)) == pytest.approx(1.0)
    assert projection_t(a, b, (0.5, 0.2)) == pytest.approx(0.5)
    assert projection_t(a, b, (1.0, 0.5)) == pytest.approx(1.125)


def test_point_in_polygon_convex_and_concave():
    assert point_in_polygon((0.7, 0.7), ZONE)
    assert not point_in_polygon((0.5, 0.7), ZONE)
    assert not point_in_polygon((0.7, 0.99), ZONE)
    # An L shape: the notch is outside.
    ell = [(0.1, 0.1), (0.5, 0.1), (0.5, 0.3), (0.3, 0.3), (0.3, 0.5), (0.1, 0.5)]
    assert point_in_polygon((0.2, 0.4), ell)
    assert point_in_polygon((0.4, 0.2), ell)
    assert not point_in_polygon((0.4, 0.4), ell)
    assert not point_in_polygon((0.5, 0.5), [(0.1, 0.1), (0.9, 0.9)])


# --- scripted trajectories through ScriptedDetector -> ByteTrack -> CameraAnalytics -----------


@pytest.mark.parametrize(
    ("ys", "expected"),
    [(walk(0.25, 0.75), "in"), (walk(0.75, 0.25), "out")],
    ids=["down-is-in", "up-is-out"],
)
def test_clean_crossing_each_way(ys, expected):
    run = run_script([[person(0.5, y)] for y in ys])
    assert run.ids == {1}
    assert [(e.line_key, e.direction, e.track_id) for e in run.events] == [("door", expected, 1)]
    snapshot = run.analytics.snapshot()
    assert snapshot["lines"]["door"][expected] == 1
    assert snapshot["in_today"] == (1 if expected == "in" else 0)
    assert snapshot["out_today"] == (1 if expected == "out" else 0)
    # The crossing happens when the (Kalman-smoothed) feet leave the band below/above the line.
    crossed = next(
        i
        for i, y in enumerate(ys)
        if (y - LINE_Y) * (ys[0] - LINE_Y) < 0 and abs(y - LINE_Y) > 0.02 + 1e-9
    )
    assert run.events[0].timestamp == pytest.approx(T0 + crossed * DT, abs=2 * DT)


def test_inverted_line_swaps_directions():
    cam = camera(lines=[door_line(invert=True)])
    run = run_script([[person(0.5, y)] for y in walk(0.25, 0.75)], cam)
    assert [e.direction for e in run.events] == ["out"]


def test_jitter_on_the_line_never_counts_twice():
    rng = random.Random(5)
    approach = walk(0.25, 0.49)
    # Oscillating across the line and inside the +-0.02 band, sometimes just beyond it.
    jitter = [LINE_Y + rng.uniform(-0.03, 0.03) for _ in range(80)]
    run = run_script([[person(0.5, y)] for y in approach + jitter])
    assert run.ids == {1}
    assert len(run.events) <= 1
    # A person who appears standing on the line and wobbles there never crosses it.
    run = run_script([[person(0.5, y)] for y in jitter])
    assert run.events == []


def test_u_turn_before_the_line_counts_nothing():
    ys = walk(0.25, 0.48) + walk(0.47, 0.25)
    run = run_script([[person(0.5, y)] for y in ys])
    assert run.ids == {1}
    assert run.events == []


def test_cross_then_return_counts_in_and_out():
    ys = walk(0.25, 0.75) + walk(0.73, 0.25)
    run = run_script([[person(0.5, y)] for y in ys])
    assert run.ids == {1}
    assert [e.direction for e in run.events] == ["in", "out"]
    snapshot = run.analytics.snapshot()
    assert (snapshot["in_today"], snapshot["out_today"]) == (1, 1)


def test_two_people_side_by_side_count_two():
    ys = walk(0.25, 0.75)
    run = run_script([[person(0.45, y), person(0.55, y + 0.01)] for y in ys])
    assert len(run.ids) == 2
    assert sorted(e.track_id for e in run.events) == sorted(run.ids)
    assert run.count("in") == 2
    assert run.count("out") == 0


def test_occlusion_gap_mid_crossing_counts_exactly_one():
    ys = walk(0.25, 0.75)
    frames = [[] if 0.42 < y < 0.58 else [person(0.5, y)] for y in ys]
    assert sum(1 for f in frames if not f) >= 7  # the person is hidden while crossing
    run = run_script(frames)
    assert run.ids == {1}  # ByteTrack re-found the same person after the gap
    assert [e.direction for e in run.events] == ["in"]


def test_lingering_in_a_zone_gives_dwell_and_occupancy_with_inertia():
    rng = random.Random(7)
    xs = walk(0.3, 0.8, 0.025) + [0.8 + rng.uniform(-0.003, 0.003) for _ in range(50)]
    xs += walk(0.8, 0.3, 0.025)
    frames = [[person(x, 0.75)] for x in xs] + [[] for _ in range(5)]
    inside = [i for i, x in enumerate(xs) if point_in_polygon((x, 0.75), ZONE)]
    first, last = inside[0], inside[-1]
    run = run_script(frames, camera(lines=[]))
    zone = run.analytics.zones["counter"]
    assert zone.visits == 1
    assert zone.dwells == pytest.approx([(last - first) * DT], abs=DT + 1e-6)
    assert zone.occupancy == 0
    # Enter inertia: 3 frames inside before it counts; exit inertia: 3 frames outside.
    occupied = [i for i, value in enumerate(run.zone_occupancy) if value == 1]
    assert occupied == list(range(occupied[0], occupied[-1] + 1))
    assert abs(occupied[0] - (first + 2)) <= 1
    assert abs(occupied[-1] - (last + 2)) <= 1
    snapshot = run.analytics.snapshot()
    assert snapshot["zones"]["counter"]["dwell_average_s"] == pytest.approx(
        (last - first) * DT, abs=DT + 0.01
    )
    assert snapshot["zones"]["counter"]["visits"] == 1


def test_track_loss_closes_the_dwell_after_lost_after_s():
    xs = walk(0.3, 0.8, 0.025) + [0.8] * 30
    inside = [i for i, x in enumerate(xs) if point_in_polygon((x, 0.75), ZONE)]
    frames = [[person(x, 0.75)] for x in xs] + [[] for _ in range(30)]
    run = run_script(frames, camera(lines=[]), lost_after_s=2.0)
    zone = run.analytics.zones["counter"]
    gone = len(xs)  # first frame without the person
    # Still held while unseen for less than lost_after_s (2 s = 20 frames), closed after.
    assert run.zone_occupancy[gone + 15] == 1
    assert run.zone_occupancy[gone + 25] == 0
    assert zone.visits == 1
    assert zone.dwells == pytest.approx([(inside[-1] - inside[0]) * DT], abs=DT + 1e-6)


# --- LineCounter --------------------------------------------------------------------------------


def feed_line(counter: LineCounter, positions, *, track_id=1, x=0.5, t0=0.0):
    events = []
    for i, y in enumerate(positions):
        events += counter.update([track(track_id, x, y)], t0 + i * DT)
    return events


def test_line_counter_counts_each_direction_once_per_track():
    counter = LineCounter(door_line())
    events = feed_line(counter, [0.3, 0.7, 0.3, 0.7, 0.3])
    assert [e.direction for e in events] == ["in", "out"]
    assert (counter.in_count, counter.out_count) == (1, 1)
    # Another track is counted on its own.
    events = feed_line(counter, [0.3, 0.7], track_id=2)
    assert [(e.direction, e.track_id) for e in events] == [("in", 2)]


def test_line_counter_needs_min_displacement_outside_the_band():
    counter = LineCounter(door_line(hysteresis=0.02, min_displacement=0.04))
    # 0.03 above to 0.03 below: 0.01 + 0.01 outside the band, not enough; pending.
    assert feed_line(counter, [0.47, 0.53]) == []
    # Going deeper below completes it: 0.01 + 0.04 >= 0.04.
    events = counter.update([track(1, 0.5, 0.56)], 1.0)
    assert [e.direction for e in events] == ["in"]


def test_line_counter_band_keeps_the_side():
    counter = LineCounter(door_line())
    # Inside the band the side does not change, so wandering in it and back is nothing.
    assert feed_line(counter, [0.3, 0.49, 0.515, 0.5, 0.485, 0.3]) == []
    assert counter.update([track(1, 0.5, 0.7)], 9.0)[0].direction == "in"


def test_line_counter_ignores_changes_of_side_beyond_the_ends():
    counter = LineCounter(door_line())
    # Walking round the right end (x = 0.97 projects to t = 1.09) is not a crossing ...
    assert feed_line(counter, [0.3, 0.7], x=0.97) == []
    # ... and leaves the track settled on the new side: coming back over the line is "out".
    events = counter.update([track(1, 0.5, 0.3)], 5.0)
    assert [e.direction for e in events] == ["out"]
    # Within the small margin past an end still counts.
    margin = LineCounter(door_line())
    assert [e.direction for e in feed_line(margin, [0.3, 0.7], x=0.92)] == ["in"]


def test_line_counter_anchor_center_and_forget():
    # Feet below the line, centre above it: only the centre anchor sees the crossing.
    counter = LineCounter(door_line(anchor="center"))
    events = feed_line(counter, [0.45, 0.62, 0.8])
    assert [e.direction for e in events] == ["in"]
    feet = LineCounter(door_line())
    assert feed_line(feet, [0.55, 0.62, 0.8]) == []
    # Forgetting a track forgets what it was counted for.
    counter.forget(1)
    assert counter.tracked == 0
    assert [e.direction for e in feed_line(counter, [0.3, 0.8])] == ["in"]
    assert counter.in_count == 2


@settings(max_examples=150, deadline=None)
@given(
    offsets=st.lists(st.floats(-0.039, 0.039), min_size=1, max_size=60),
    approach=st.sampled_from([None, -1, 1]),
    x=st.floats(0.15, 0.85),
)
def test_property_jitter_around_the_line_counts_at_most_once(offsets, approach, x):
    counter = LineCounter(door_line(hysteresis=0.02, min_displacement=0.04))
    ys = [] if approach is None else walk(LINE_Y + approach * 0.3, LINE_Y + approach * 0.04)
    ys += [LINE_Y + offset for offset in offsets]
    events = feed_line(counter, ys, x=x)
    # Jitter smaller than band + min_displacement / 2 is never a crossing on its own; after an
    # approach from one side, at most the one crossing that approach completes.
    assert len(events) <= 1
    if approach is None:
        assert events == []
    elif events:
        assert events[0].direction == ("in" if approach < 0 else "out")


@settings(max_examples=100, deadline=None)
@given(offsets=st.lists(st.floats(-0.3, 0.3), min_size=1, max_size=80))
def test_property_any_path_counts_at_most_once_per_direction(offsets):
    counter = LineCounter(door_line())
    events = feed_line(counter, [LINE_Y + offset for offset in offsets])
    assert counter.in_count <= 1
    assert counter.out_count <= 1
    directions = [e.direction for e in events]
    assert len(directions) == len(set(directions))


# --- ZoneMonitor --------------------------------------------------------------------------------


def feed_zone(zone: ZoneMonitor, xs, *, track_id=1, t0=0.0, y=0.75):
    events, occupancy = [], []
    for i, x in enumerate(xs):
        if x is None:  # not reported this frame
            events += zone.update([], t0 + i * DT)
        else:
            events += zone.update([track(track_id, x, y)], t0 + i * DT)
        occupancy.append(zone.occupancy)
    return events, occupancy


def test_zone_enter_and_exit_inertia():
    zone = ZoneMonitor(counter_zone(enter_frames=3, exit_frames=3))
    inside, outside = 0.8, 0.3
    xs = [outside, inside, inside, inside, inside, outside, inside, inside]
    xs += [outside, outside, outside, outside]
    events, occupancy = feed_zone(zone, xs)
    # In from the 3rd consecutive frame inside; a single frame outside does not leave.
    assert occupancy == [0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 0]
    assert zone.visits == 1
    assert len(events) == 1
    # From the first frame inside (1) to the last frame seen inside (7).
    assert events[0].entered == pytest.approx(1 * DT)
    assert events[0].left == pytest.approx(7 * DT)
    assert events[0].seconds == pytest.approx(0.6)


def test_zone_flicker_never_enters_and_missing_frames_are_not_outside():
    zone = ZoneMonitor(counter_zone(enter_frames=3, exit_frames=2))
    _, occupancy = feed_zone(zone, [0.8, 0.8, 0.3, 0.8, 0.8, 0.3])
    assert max(occupancy) == 0
    assert zone.visits == 0
    zone = ZoneMonitor(counter_zone(enter_frames=1, exit_frames=2))
    events, occupancy = feed_zone(zone, [0.8, None, None, None, 0.8, 0.3, None, 0.3])
    assert occupancy == [1, 1, 1, 1, 1, 1, 1, 0]
    assert [e.seconds for e in events] == [pytest.approx(4 * DT)]


def test_zone_dwell_window_average_median_and_close():
    zone = ZoneMonitor(counter_zone(enter_frames=1, exit_frames=1), dwell_window=3)
    assert zone.dwell_average_s is None
    assert zone.dwell_median_s is None
    t = 0.0
    for track_id, seconds in enumerate([100.0, 2.0, 4.0, 9.0], start=1):
        zone.update([track(track_id, 0.8, 0.75)], t)
        zone.update([track(track_id, 0.8, 0.75)], t + seconds)
        zone.update([track(track_id, 0.3, 0.75)], t + seconds + 1)
        t += 1000
    # Only the last 3 dwells count.
    assert zone.dwells == [2.0, 4.0, 9.0]
    assert zone.dwell_average_s == pytest.approx(5.0)
    assert zone.dwell_median_s == pytest.approx(4.0)
    assert zone.visits == 4
    # close() ends a stay (track lost) and reports it; closing an unknown track is None.
    zone.update([track(9, 0.8, 0.75), track(10, 0.8, 0.75)], t)
    assert zone.occupancy == 2
    event = zone.close(9, t + 5)
    assert event is not None
    assert event.seconds == 0.0  # seen inside only at t
    assert zone.close(9, t + 5) is None
    assert zone.close(42, t) is None
    assert [e.track_id for e in zone.close_all(t + 6)] == [10]
    assert zone.occupancy == 0


# --- Heatmap --------------------------------------------------------------------------------------


def test_heatmap_accumulates_and_halves_after_half_life():
    heatmap = Heatmap(HeatmapConfig(grid=(10, 5), half_life_s=60.0))
    # Two people in one cell add two; cell of the feet (0.55, 0.75) -> column 5, row 3.
    heatmap.update([track(1, 0.55, 0.75), track(2, 0.56, 0.76)], 100.0)
    grid = heatmap.grid
    assert grid.shape == (5, 10)
    assert grid[3, 5] == pytest.approx(2.0)
    assert grid.sum() == pytest.approx(2.0)
    heatmap.update([], 160.0)
    assert heatmap.grid[3, 5] == pytest.approx(1.0)
    heatmap.update([], 220.0)
    assert heatmap.grid[3, 5] == pytest.approx(0.5)
    heatmap.update([], 200.0)  # out of order: no change
    assert heatmap.grid[3, 5] == pytest.approx(0.5)
    # Feet on the very edge stay on the grid.
    heatmap.update([Track(3, (0.9, 0.8, 1.0, 1.0), 0.9)], 220.0)
    assert heatmap.grid[4, 9] == pytest.approx(1.0)


def test_heatmap_png_decodes_with_the_configured_width_and_shows_the_heat():
    config = HeatmapConfig(grid=(64, 48), width=320)
    heatmap = Heatmap(config)
    for i in range(20):
        heatmap.update([track(1, 0.25, 0.3)], float(i))
    png = heatmap.render_png(lines=[door_line()], zones=[counter_zone()])
    assert png.startswith(b"\x89PNG")
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (240, 320, 3)
    # Hot where the person stood, cold in an empty spot; the zone outline is drawn in white.
    # Cell (row 14, column 16) of the 64x48 grid, 5x5 pixels each: centre (82, 72).
    hot = image[72, 82].astype(int)
    cold = image[20, 160].astype(int)
    assert np.abs(hot - cold).sum() > 100
    assert white_near(image, 0.8 * 319, 0.55 * 239)  # the zone's top edge
    assert white_near(image, 0.5 * 319, LINE_Y * 239)  # the line
    assert not white_near(image, 0.5 * 319, 0.2 * 239)
    # An empty heatmap renders too.
    empty = cv2.imdecode(np.frombuffer(Heatmap(config).render_png(), np.uint8), cv2.IMREAD_COLOR)
    assert empty.shape == (240, 320, 3)
    assert len(np.unique(empty.reshape(-1, 3), axis=0)) == 1


def white_near(image: np.ndarray, x: float, y: float) -> bool:
    """Whether an outline (white) passes within a pixel of (x, y)."""
    row, col = round(y), round(x)
    patch = image[max(0, row - 1) : row + 2, max(0, col - 1) : col + 2].astype(int)
    return bool((patch.min(axis=2) >= 200).any())


# --- CameraAnalytics: days, snapshot, persistence ------------------------------------------------


def cross(analytics: CameraAnalytics, track_id: int, timestamp: float, direction: str = "in"):
    ys = [0.3, 0.7] if direction == "in" else [0.7, 0.3]
    events = []
    for i, y in enumerate(ys):
        events += analytics.update([track(track_id, 0.5, y)], timestamp + i * DT)
    return events


def test_snapshot_is_the_state_payload():
    analytics = CameraAnalytics(camera(), SEOUL)
    cross(analytics, 1, T0)  # 10:00
    cross(analytics, 2, T0 + 3600)  # 11:00
    cross(analytics, 3, T0 + 3700)  # 11:01
    cross(analytics, 4, T0 + 3800, "out")
    analytics.update([track(5, 0.8, 0.75), track(6, 0.2, 0.2)], T0 + 3900)
    snapshot = analytics.snapshot()
    assert set(snapshot) == {
        "date",
        "updated",
        "in_today",
        "out_today",
        "lines",
        "occupancy",
        "zones",
        "hourly",
        "peak_hour",
    }
    assert snapshot["date"] == "2026-11-22"
    assert snapshot["updated"] == "2026-11-22T11:05:00+09:00"
    assert (snapshot["in_today"], snapshot["out_today"]) == (3, 1)
    assert snapshot["lines"] == {
        "door": {"name": "Door", "in": 3, "out": 1, "in_name": "In", "out_name": "Out"}
    }
    assert snapshot["occupancy"] == 2
    assert snapshot["zones"] == {
        "counter": {
            "name": "Counter",
            "occupancy": 0,  # just arrived: enter inertia
            "dwell_average_s": None,
            "dwell_median_s": None,
            "visits": 0,
        }
    }
    assert snapshot["hourly"] == {"10": 1, "11": 2}
    assert snapshot["peak_hour"] == "11"
    json.dumps(snapshot, allow_nan=False)  # publishable as is


def test_midnight_rollover_in_seoul_resets_counts_and_hourly():
    analytics = CameraAnalytics(camera(), SEOUL)
    late = datetime(2026, 11, 22, 23, 59, 50, tzinfo=SEOUL).timestamp()
    cross(analytics, 1, late)
    cross(analytics, 2, late + 2, "out")
    before = analytics.snapshot()
    assert (before["date"], before["in_today"], before["out_today"]) == ("2026-11-22", 1, 1)
    assert before["hourly"] == {"23": 1}
    after = analytics.snapshot(late + 15)  # 00:00:05 on the 23rd, no frame needed
    assert after["date"] == "2026-11-23"
    assert (after["in_today"], after["out_today"]) == (0, 0)
    assert after["lines"]["door"]["in"] == 0
    assert after["hourly"] == {}
    assert after["peak_hour"] is None
    cross(analytics, 3, late + 20)
    assert analytics.snapshot()["hourly"] == {"00": 1}
    # A frame stamped before the rollover does not roll the day back.
    analytics.update([], late + 5)
    assert analytics.snapshot(late + 25)["in_today"] == 1


def test_utc_midnight_is_not_a_new_day_in_seoul():
    analytics = CameraAnalytics(camera(), SEOUL)
    utc_midnight = datetime(2026, 11, 23, 0, 0, tzinfo=ZoneInfo("UTC")).timestamp()  # 09:00 KST
    cross(analytics, 1, utc_midnight - 60)
    cross(analytics, 2, utc_midnight + 60)
    snapshot = analytics.snapshot()
    assert snapshot["in_today"] == 2
    assert snapshot["hourly"] == {"08": 1, "09": 1}


def test_crossing_is_saved_before_update_returns(tmp_path: Path):
    store = StateStore(tmp_path, "front")
    analytics = CameraAnalytics(camera(), SEOUL, store=store)
    assert cross(analytics, 1, T0)
    saved = json.loads((tmp_path / "front.json").read_text())
    assert saved["date"] == "2026-11-22"
    assert saved["lines"] == {"door": {"in": 1, "out": 0}}
    assert saved["hourly"] == {"10": 1}


def test_restart_keeps_todays_counts_and_drops_yesterdays(tmp_path: Path):
    store = StateStore(tmp_path, "front")
    first = CameraAnalytics(camera(), SEOUL, store=store)
    cross(first, 1, T0)
    cross(first, 2, T0 + 10)
    cross(first, 3, T0 + 20, "out")
    # A stay in the zone, so visits and a dwell are persisted too.
    for i in range(30):
        first.update([track(7, 0.8, 0.75)], T0 + 30 + i)
    first.update([], T0 + 100)  # lost: the dwell closes (29 s) and is saved
    assert first.zones["counter"].dwells == [pytest.approx(29.0)]

    # Restart later the same day: counts continue.
    second = CameraAnalytics(camera(), SEOUL, store=StateStore(tmp_path, "front"))
    cross(second, 1, T0 + 3600)  # track ids restart after a restart
    snapshot = second.snapshot()
    assert (snapshot["in_today"], snapshot["out_today"]) == (3, 1)
    assert snapshot["hourly"] == {"10": 2, "11": 1}
    assert snapshot["zones"]["counter"]["visits"] == 1
    assert snapshot["zones"]["counter"]["dwell_average_s"] == pytest.approx(29.0)

    # Restart the next day: yesterday's counts are gone, the rolling dwell window is kept.
    tomorrow = datetime(2026, 11, 23, 9, 0, tzinfo=SEOUL).timestamp()
    third = CameraAnalytics(camera(), SEOUL, store=StateStore(tmp_path, "front"))
    snapshot = third.snapshot(tomorrow)
    assert snapshot["date"] == "2026-11-23"
    assert (snapshot["in_today"], snapshot["out_today"]) == (0, 0)
    assert snapshot["hourly"] == {}
    assert snapshot["zones"]["counter"]["visits"] == 0
    assert snapshot["zones"]["counter"]["dwell_average_s"] == pytest.approx(29.0)


def test_restored_state_ignores_unknown_keys_and_survives_malformed_values(tmp_path: Path, caplog):
    store = StateStore(tmp_path, "front")
    store.save(
        {
            "date": "2026-11-22",
            "lines": {"door": {"in": 4, "out": 2}, "removed_line": {"in": 9, "out": 9}},
            "hourly": {"10": 4},
            "zones": {"gone": {"visits": 3, "dwells": [1.0]}},
        }
    )
    analytics = CameraAnalytics(camera(), SEOUL, store=store)
    snapshot = analytics.snapshot(T0)
    assert (snapshot["in_today"], snapshot["out_today"]) == (4, 2)
    assert snapshot["zones"]["counter"]["visits"] == 0

    store.save({"date": "2026-11-22", "lines": {"door": {"in": "many"}}, "hourly": {}})
    analytics = CameraAnalytics(camera(), SEOUL, store=store)
    assert analytics.snapshot(T0)["in_today"] == 0
    assert "malformed" in caplog.text


def test_corrupt_state_file_starts_from_zero(tmp_path: Path, caplog):
    (tmp_path / "front.json").write_text("{not json")
    analytics = CameraAnalytics(camera(), SEOUL, store=StateStore(tmp_path, "front"))
    assert (tmp_path / "front.json.corrupt").read_text() == "{not json"
    assert "front.json" in caplog.text
    cross(analytics, 1, T0)
    assert analytics.snapshot()["in_today"] == 1
    assert json.loads((tmp_path / "front.json").read_text())["lines"]["door"]["in"] == 1


def test_lost_all_closes_every_dwell_and_forgets_line_state(tmp_path: Path):
    analytics = CameraAnalytics(camera(), SEOUL, store=StateStore(tmp_path, "front"))
    for i in range(5):
        analytics.update([track(1, 0.8, 0.75), track(2, 0.5, 0.3)], T0 + i)
    assert analytics.zones["counter"].occupancy == 1
    assert analytics.lines["door"].tracked == 2
    analytics.lost_all(T0 + 10)
    assert analytics.zones["counter"].occupancy == 0
    assert analytics.zones["counter"].dwells == [pytest.approx(4.0)]
    assert analytics.lines["door"].tracked == 0
    assert analytics.occupancy == 0
    saved = json.loads((tmp_path / "front.json").read_text())
    assert saved["zones"]["counter"]["dwells"] == [pytest.approx(4.0)]
    # After the reconnect, ids restart: id 2 below the line is a new person, not a crossing.
    assert analytics.update([track(2, 0.5, 0.7)], T0 + 11) == []


def test_heatmap_png_of_a_camera_draws_its_lines_and_zones():
    analytics = CameraAnalytics(camera(heatmap=HeatmapConfig(width=160)), SEOUL)
    analytics.update([track(1, 0.3, 0.3)], T0)
    image = cv2.imdecode(np.frombuffer(analytics.heatmap_png(), np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (120, 160, 3)
    assert white_near(image, 80, LINE_Y * 119)  # the line, in white


def test_save_failure_is_logged_not_raised(tmp_path: Path, caplog):
    blocker = tmp_path / "data"
    blocker.write_text("a file where the data directory should be")
    analytics = CameraAnalytics(camera(), SEOUL, store=StateStore(blocker, "front"))
    assert [e.direction for e in cross(analytics, 1, T0)] == ["in"]
    assert "cannot save" in caplog.text
