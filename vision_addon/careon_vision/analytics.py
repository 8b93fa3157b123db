"""What a store owner asks of a camera: who came in and out, who is where, for how long, and where.

Everything works on tracks in relative coordinates (0-1, x to the right, y downwards) and on the
frames' wall timestamps, so results do not depend on the stream's resolution or on how fast the
detector happens to run.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
import logging
import math
import statistics
import time
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

import cv2
import numpy as np
import numpy.typing as npt

from careon_vision.geometry import Point, point_in_polygon, projection_t, signed_distance
from careon_vision.types import Track

if TYPE_CHECKING:
    from careon_vision.config import CameraConfig, HeatmapConfig, LineConfig, ZoneConfig
    from careon_vision.state import StateStore

_LOGGER = logging.getLogger(__name__)

Direction = Literal["in", "out"]

SEGMENT_MARGIN = 0.05
"""How far beyond either end of a line (as a fraction of its length) a crossing still counts.

People are tracked by a box whose bottom edge wobbles; a door-wide line should not lose the
person who brushes the door frame, but someone walking round the end of the line never crossed it.
"""

LINE_MEMORY_S = 60.0
"""How long a line remembers an unseen track (which side it was on, what it was counted for).

Longer than any tracker keeps a lost id, so a person hidden for a few seconds mid-crossing still
counts once when they reappear with the same id, and is not counted twice for one direction.
"""

STATE_VERSION = 1


@dataclass(frozen=True, slots=True)
class CrossingEvent:
    """A track crossed a counting line."""

    line_key: str
    direction: Direction
    track_id: int
    timestamp: float


@dataclass(frozen=True, slots=True)
class DwellEvent:
    """A track's stay in a zone ended (it left, or it was lost)."""

    zone_key: str
    track_id: int
    entered: float
    left: float

    @property
    def seconds(self) -> float:
        return max(0.0, self.left - self.entered)


def _anchor(track: Track, anchor: str) -> Point:
    return track.center if anchor == "center" else track.bottom_center


# --------------------------------------------------------------------------------------------
# Lines


@dataclass(slots=True)
class _LineTrack:
    side: int = 0
    """Settled side: +1 / -1 (sign of the signed distance), 0 until the anchor leaves the band."""
    depth: float = 0.0
    """Deepest distance from the line reached on the settled side since it settled there."""
    counted: set[str] = field(default_factory=set)
    """Directions this track has been counted for (each at most once)."""


class LineCounter:
    """Directional crossings of one counting line.

    Conventions (image terms, y downwards): ``signed_distance(start, end, p)`` is positive on the
    right-hand side of the arrow start -> end as drawn on the screen. A line drawn left to right
    across the frame has its positive side *below* it, so walking down the image across it is "in"
    and walking up is "out". ``invert`` swaps the two.

    Counting rule, robust to the wobble of a detector's box:

    - a track's side only changes once its anchor is more than ``hysteresis`` from the line;
      inside that band its side is unchanged;
    - a change of side counts when the distance the track covered *outside* the band, from the
      deepest point on its old side to where it is now on the new side, is at least
      ``min_displacement``; until then the change is pending (it counts as soon as the track goes
      deeper, and is forgotten if it comes back). Jitter around the line never reaches that;
    - the crossing must happen over the segment (its projection within ``SEGMENT_MARGIN`` of the
      ends); a track that changes side beyond an end walked round the line and is not counted;
    - each track counts at most once per direction on a line.
    """

    def __init__(self, line: LineConfig) -> None:
        self.config = line
        self.key: str = line.key
        self._start: Point = (float(line.start[0]), float(line.start[1]))
        self._end: Point = (float(line.end[0]), float(line.end[1]))
        self._band = float(line.hysteresis)
        self._min_travel = float(line.min_displacement)
        self._anchor = line.anchor
        # The side a crossing lands on decides its direction: positive is "in" unless inverted.
        self._in_side = -1 if line.invert else 1
        self._tracks: dict[int, _LineTrack] = {}
        self.in_count = 0
        self.out_count = 0

    def update(self, tracks: Iterable[Track], timestamp: float) -> list[CrossingEvent]:
        events: list[CrossingEvent] = []
        for track in tracks:
            event = self._update_track(track, timestamp)
            if event is not None:
                events.append(event)
        return events

    def _update_track(self, track: Track, timestamp: float) -> CrossingEvent | None:
        point = _anchor(track, self._anchor)
        distance = signed_distance(self._start, self._end, point)
        state = self._tracks.get(track.track_id)
        if state is None:
            state = self._tracks[track.track_id] = _LineTrack()
        depth = abs(distance)
        if depth <= self._band:
            return None  # inside the hysteresis band: the side is unchanged
        side = 1 if distance > 0 else -1
        if state.side in (0, side):
            state.side = side
            state.depth = max(state.depth, depth)
            return None
        t = projection_t(self._start, self._end, point)
        if not -SEGMENT_MARGIN <= t <= 1.0 + SEGMENT_MARGIN:
            # Changed side beyond an end of the line: walked round it, did not cross it.
            state.side = side
            state.depth = depth
            return None
        travelled = (state.depth - self._band) + (depth - self._band)
        if travelled < self._min_travel:
            return None  # pending: not far enough across to tell from jitter yet
        state.side = side
        state.depth = depth
        direction: Direction = "in" if side == self._in_side else "out"
        if direction in state.counted:
            return None
        state.counted.add(direction)
        if direction == "in":
            self.in_count += 1
        else:
            self.out_count += 1
        return CrossingEvent(self.key, direction, track.track_id, timestamp)

    def forget(self, track_id: int) -> None:
        """Drop what is known of a track (it is gone for good)."""
        self._tracks.pop(track_id, None)

    def forget_all(self) -> None:
        self._tracks.clear()

    def reset_counts(self) -> None:
        self.in_count = 0
        self.out_count = 0

    @property
    def tracked(self) -> int:
        """Tracks this line currently remembers (for tests and diagnostics)."""
        return len(self._tracks)


# --------------------------------------------------------------------------------------------
# Zones


@dataclass(slots=True)
class _ZoneTrack:
    inside_streak: int = 0
    outside_streak: int = 0
    streak_start: float = 0.0
    present: bool = False
    entered: float = 0.0
    last_inside: float = 0.0


class ZoneMonitor:
    """Presence, occupancy and dwell in one polygonal zone.

    A track is in the zone when its box's bottom-centre (where the person stands) is inside the
    polygon, with Frigate's inertia: it must be seen inside for ``enter_frames`` consecutive frames
    to enter, and outside for ``exit_frames`` consecutive frames to leave. Frames in which the track
    is not reported at all (occlusion) change nothing; the owner closes the stay with ``close`` once
    the track is lost. A stay lasts from the first frame of the entering streak to the last frame
    seen inside, so dwell is accurate to one frame interval.
    """

    def __init__(self, zone: ZoneConfig, dwell_window: int = 50) -> None:
        self.config = zone
        self.key: str = zone.key
        self._polygon: list[Point] = [(float(x), float(y)) for x, y in zone.polygon]
        self._enter_frames = max(1, int(zone.enter_frames))
        self._exit_frames = max(1, int(zone.exit_frames))
        self._tracks: dict[int, _ZoneTrack] = {}
        self._dwells: deque[float] = deque(maxlen=max(1, dwell_window))
        self.visits = 0

    def update(self, tracks: Iterable[Track], timestamp: float) -> list[DwellEvent]:
        events: list[DwellEvent] = []
        for track in tracks:
            inside = point_in_polygon(track.bottom_center, self._polygon)
            state = self._tracks.get(track.track_id)
            if state is None:
                if not inside:
                    continue  # only tracks inside (or present) are remembered
                state = self._tracks[track.track_id] = _ZoneTrack()
            if inside:
                if state.inside_streak == 0:
                    state.streak_start = timestamp
                state.inside_streak += 1
                state.outside_streak = 0
                state.last_inside = timestamp
                if not state.present and state.inside_streak >= self._enter_frames:
                    state.present = True
                    state.entered = state.streak_start
                    self.visits += 1
                continue
            state.inside_streak = 0
            state.outside_streak += 1
            if not state.present:
                del self._tracks[track.track_id]
            elif state.outside_streak >= self._exit_frames:
                event = self.close(track.track_id, timestamp)
                if event is not None:
                    events.append(event)
        return events

    def close(self, track_id: int, timestamp: float) -> DwellEvent | None:
        """End a track's stay (it left or was lost); the dwell if it was present."""
        state = self._tracks.pop(track_id, None)
        if state is None or not state.present:
            return None
        event = DwellEvent(self.key, track_id, state.entered, min(state.last_inside, timestamp))
        self._dwells.append(event.seconds)
        return event

    def close_all(self, timestamp: float) -> list[DwellEvent]:
        events = [self.close(track_id, timestamp) for track_id in list(self._tracks)]
        return [event for event in events if event is not None]

    @property
    def occupancy(self) -> int:
        return sum(1 for state in self._tracks.values() if state.present)

    @property
    def dwells(self) -> list[float]:
        """The most recent completed dwells, oldest first (at most ``dwell_window``)."""
        return list(self._dwells)

    @property
    def dwell_average_s(self) -> float | None:
        return statistics.fmean(self._dwells) if self._dwells else None

    @property
    def dwell_median_s(self) -> float | None:
        return float(statistics.median(self._dwells)) if self._dwells else None

    def restore(self, visits: int, dwells: Iterable[float]) -> None:
        self.visits = visits
        self._dwells.clear()
        self._dwells.extend(dwells)


# --------------------------------------------------------------------------------------------
# Heatmap


class Heatmap:
    """Where people stand, accumulated on a coarse grid that fades with a half-life.

    Each frame adds one to the cell under every track's bottom-centre; the whole grid decays by
    ``0.5 ** (elapsed / half_life_s)`` between timestamps, so the picture shows the last hour or so
    rather than all time. Rendering uses only this grid: no camera pixel ever leaves the box.
    """

    def __init__(self, config: HeatmapConfig) -> None:
        self.config = config
        columns, rows = config.grid
        self._columns = int(columns)
        self._rows = int(rows)
        self._grid: npt.NDArray[np.float64] = np.zeros((self._rows, self._columns), np.float64)
        self._half_life = float(config.half_life_s)
        self._last: float | None = None

    def update(self, tracks: Sequence[Track], timestamp: float) -> None:
        self._decay_to(timestamp)
        if not tracks:
            return
        points = np.asarray([track.bottom_center for track in tracks], dtype=np.float64)
        cols = np.clip((points[:, 0] * self._columns).astype(np.int64), 0, self._columns - 1)
        rows = np.clip((points[:, 1] * self._rows).astype(np.int64), 0, self._rows - 1)
        # add.at: two people in one cell add two, where fancy-index += would add one.
        np.add.at(self._grid, (rows, cols), 1.0)

    def _decay_to(self, timestamp: float) -> None:
        if self._last is None:
            self._last = timestamp
            return
        elapsed = timestamp - self._last
        if elapsed <= 0:
            return  # out-of-order frame: never "un-decay"
        self._grid *= 0.5 ** (elapsed / self._half_life)
        self._last = timestamp

    @property
    def grid(self) -> npt.NDArray[np.float64]:
        """A copy of the grid, shape (rows, columns), as of the last update."""
        return self._grid.copy()

    @property
    def size(self) -> tuple[int, int]:
        """The PNG's (width, height): ``config.width`` wide, height from the grid's aspect."""
        width = int(self.config.width)
        return width, max(1, round(width * self._rows / self._columns))

    def render_png(
        self, lines: Sequence[LineConfig] = (), zones: Sequence[ZoneConfig] = ()
    ) -> bytes:
        width, height = self.size
        peak = float(self._grid.max())
        scaled = self._grid / peak if peak > 0 else self._grid
        levels = np.clip(scaled * 255.0, 0, 255).astype(np.uint8)
        resized = cv2.resize(levels, (width, height), interpolation=cv2.INTER_LINEAR)
        image = cv2.applyColorMap(resized, cv2.COLORMAP_TURBO)

        def px(point: Sequence[float]) -> tuple[int, int]:
            return (
                round(float(point[0]) * (width - 1)),
                round(float(point[1]) * (height - 1)),
            )

        thickness = max(1, width // 320)
        for zone in zones:
            polygon = np.asarray([px(p) for p in zone.polygon], dtype=np.int32)
            cv2.polylines(image, [polygon], True, (255, 255, 255), thickness, cv2.LINE_AA)
        for line in lines:
            start, end = px(line.start), px(line.end)
            cv2.line(image, start, end, (255, 255, 255), thickness + 1, cv2.LINE_AA)
            # An arrow from the middle of the line towards its "in" side.
            dx, dy = end[0] - start[0], end[1] - start[1]
            length = math.hypot(dx, dy) or 1.0
            sign = -1.0 if line.invert else 1.0
            normal = (-dy / length * sign, dx / length * sign)  # right-hand side on screen
            middle = ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2)
            reach = max(6.0, 0.06 * width)
            tip = (round(middle[0] + normal[0] * reach), round(middle[1] + normal[1] * reach))
            base = (round(middle[0]), round(middle[1]))
            cv2.arrowedLine(image, base, tip, (255, 255, 255), thickness, cv2.LINE_AA, 0, 0.35)
        # zlib level 6: a third smaller than OpenCV's default level 1, a few ms once a minute.
        ok, encoded = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 6])
        if not ok:  # pragma: no cover - OpenCV always encodes a small BGR image
            raise RuntimeError("OpenCV could not encode the heatmap as PNG")
        return bytes(encoded.tobytes())


# --------------------------------------------------------------------------------------------
# One camera


class CameraAnalytics:
    """Everything one camera reports, fed with its tracks frame by frame.

    Daily counters (line crossings, hourly footfall, zone visits) reset at local midnight in
    ``tz`` and are saved to ``store`` whenever they change, before ``update`` returns, so a restart
    on the same day continues from where it stopped. The rolling dwell window is not a daily
    counter: it survives midnight and restarts.
    """

    def __init__(
        self,
        camera: CameraConfig,
        tz: ZoneInfo,
        *,
        dwell_window: int = 50,
        lost_after_s: float = 2.0,
        store: StateStore | None = None,
    ) -> None:
        self.camera = camera
        self.tz = tz
        self.lost_after_s = float(lost_after_s)
        self._line_memory_s = max(self.lost_after_s, LINE_MEMORY_S)
        self.lines: dict[str, LineCounter] = {line.key: LineCounter(line) for line in camera.lines}
        self.zones: dict[str, ZoneMonitor] = {
            zone.key: ZoneMonitor(zone, dwell_window) for zone in camera.zones
        }
        self.heatmap = Heatmap(camera.heatmap)
        self._hourly: dict[int, int] = {}
        self._date: date | None = None
        self._last_seen: dict[int, float] = {}
        self._zones_closed: set[int] = set()
        self._occupancy = 0
        self._last_timestamp: float | None = None
        self._store = store
        # Applied on the first frame, once the frames' own clock says which day it is.
        self._stored: dict[str, Any] | None = store.load() if store is not None else None

    # -- per frame ------------------------------------------------------------------------

    def update(self, tracks: list[Track], timestamp: float) -> list[CrossingEvent]:
        """Account for one frame's tracks; the crossings it produced (already saved)."""
        dirty = self._roll_to(timestamp)
        self._last_timestamp = timestamp
        crossings: list[CrossingEvent] = []
        for counter in self.lines.values():
            crossings.extend(counter.update(tracks, timestamp))
        for event in crossings:
            if event.direction == "in":
                hour = datetime.fromtimestamp(event.timestamp, self.tz).hour
                self._hourly[hour] = self._hourly.get(hour, 0) + 1
        for zone in self.zones.values():
            visits = zone.visits
            if zone.update(tracks, timestamp) or zone.visits != visits:
                dirty = True
        for track in tracks:
            self._last_seen[track.track_id] = timestamp
            self._zones_closed.discard(track.track_id)
        if self._expire(timestamp):
            dirty = True
        self.heatmap.update(tracks, timestamp)
        self._occupancy = len(tracks)
        if crossings or dirty:
            self.save()
        return crossings

    def _expire(self, timestamp: float) -> bool:
        """Close the stays of tracks unseen for lost_after_s; forget them much later."""
        closed_any = False
        for track_id, seen in list(self._last_seen.items()):
            unseen = timestamp - seen
            if unseen > self.lost_after_s and track_id not in self._zones_closed:
                self._zones_closed.add(track_id)
                for zone in self.zones.values():
                    if zone.close(track_id, timestamp) is not None:
                        closed_any = True
            if unseen > self._line_memory_s:
                for counter in self.lines.values():
                    counter.forget(track_id)
                del self._last_seen[track_id]
                self._zones_closed.discard(track_id)
        return closed_any

    def lost_all(self, timestamp: float) -> None:
        """The stream dropped: every stay ends now and no track id means anything any more."""
        dirty = self._roll_to(timestamp)
        for zone in self.zones.values():
            if zone.close_all(timestamp):
                dirty = True
        for counter in self.lines.values():
            counter.forget_all()
        self._last_seen.clear()
        self._zones_closed.clear()
        self._occupancy = 0
        if dirty:
            self.save()

    # -- days -----------------------------------------------------------------------------

    def _local_date(self, timestamp: float) -> date:
        return datetime.fromtimestamp(timestamp, self.tz).date()

    def _roll_to(self, timestamp: float) -> bool:
        """Start the day of ``timestamp`` if it is a later one; whether the state changed."""
        day = self._local_date(timestamp)
        if self._date is None:
            self._date = day
            self._restore(day)
            return False
        if day <= self._date:
            return False  # same day, or a frame stamped just before a rollover already made
        _LOGGER.info("Camera %s: new day %s, daily counters reset", self.camera.id, day.isoformat())
        self._date = day
        for counter in self.lines.values():
            counter.reset_counts()
        for zone in self.zones.values():
            zone.visits = 0
        self._hourly.clear()
        return True

    # -- persistence ----------------------------------------------------------------------

    def state_document(self) -> dict[str, Any]:
        """What ``StateStore`` keeps for this camera."""
        return {
            "version": STATE_VERSION,
            "camera": self.camera.id,
            "date": self._date.isoformat() if self._date else None,
            "lines": {
                key: {"in": counter.in_count, "out": counter.out_count}
                for key, counter in self.lines.items()
            },
            "hourly": {f"{hour:02d}": count for hour, count in sorted(self._hourly.items())},
            "zones": {
                key: {"visits": zone.visits, "dwells": zone.dwells}
                for key, zone in self.zones.items()
            },
        }

    def save(self) -> None:
        """Write the state now (also done on every change); a failing disk is logged, not fatal."""
        if self._store is None or self._date is None:
            return
        try:
            self._store.save(self.state_document())
        except (OSError, ValueError) as err:
            _LOGGER.error("Camera %s: cannot save the state: %s", self.camera.id, err)

    def _restore(self, today: date) -> None:
        data, self._stored = self._stored, None
        if data is None:
            return
        try:
            same_day = data.get("date") == today.isoformat()
            zones = data.get("zones") or {}
            for key, zone in self.zones.items():
                stored = zones.get(key)
                if not isinstance(stored, dict):
                    continue
                dwells = [float(value) for value in stored.get("dwells") or []]
                zone.restore(int(stored.get("visits", 0)) if same_day else 0, dwells)
            if not same_day:
                _LOGGER.info(
                    "Camera %s: stored counters are from %s, starting %s from zero",
                    self.camera.id,
                    data.get("date"),
                    today.isoformat(),
                )
                return
            lines = data.get("lines") or {}
            for key, counter in self.lines.items():
                stored = lines.get(key)
                if isinstance(stored, dict):
                    counter.in_count = int(stored.get("in", 0))
                    counter.out_count = int(stored.get("out", 0))
            self._hourly = {
                int(hour): int(count) for hour, count in (data.get("hourly") or {}).items()
            }
        except (AttributeError, TypeError, ValueError) as err:
            _LOGGER.error(
                "Camera %s: the stored state is malformed (%s); starting from zero",
                self.camera.id,
                err,
            )
            for counter in self.lines.values():
                counter.reset_counts()
            for zone in self.zones.values():
                zone.restore(0, ())
            self._hourly = {}
            return
        _LOGGER.info(
            "Camera %s: restored today's counters (in %d, out %d)",
            self.camera.id,
            sum(counter.in_count for counter in self.lines.values()),
            sum(counter.out_count for counter in self.lines.values()),
        )

    # -- reporting ------------------------------------------------------------------------

    @property
    def occupancy(self) -> int:
        """Confirmed tracks in view in the last frame."""
        return self._occupancy

    @property
    def hourly(self) -> dict[str, int]:
        """Today's "in" crossings per local hour ("09": 3), hours without any left out."""
        return {f"{hour:02d}": count for hour, count in sorted(self._hourly.items()) if count}

    def snapshot(self, timestamp: float | None = None) -> dict[str, Any]:
        """The camera's state payload (without the pipeline's fps/inference_ms/dropped_frames).

        ``timestamp`` (default: the last frame's, else now) also moves the day forward, so a
        camera without frames still reports zero after midnight.
        """
        if timestamp is None:
            timestamp = self._last_timestamp if self._last_timestamp is not None else time.time()
        if self._roll_to(timestamp):
            self.save()
        assert self._date is not None  # set by _roll_to
        hourly = self.hourly
        peak_hour = max(hourly, key=lambda hour: (hourly[hour], -int(hour))) if hourly else None
        zones: dict[str, Any] = {}
        for key, zone in self.zones.items():
            average = zone.dwell_average_s
            median = zone.dwell_median_s
            zones[key] = {
                "name": zone.config.name,
                "occupancy": zone.occupancy,
                "dwell_average_s": round(average, 2) if average is not None else None,
                "dwell_median_s": round(median, 2) if median is not None else None,
                "visits": zone.visits,
            }
        return {
            "date": self._date.isoformat(),
            "updated": datetime.fromtimestamp(timestamp, self.tz).isoformat(timespec="seconds"),
            "in_today": sum(counter.in_count for counter in self.lines.values()),
            "out_today": sum(counter.out_count for counter in self.lines.values()),
            "lines": {
                key: {
                    "name": counter.config.name,
                    "in": counter.in_count,
                    "out": counter.out_count,
                    "in_name": counter.config.in_name,
                    "out_name": counter.config.out_name,
                }
                for key, counter in self.lines.items()
            },
            "occupancy": self._occupancy,
            "zones": zones,
            "hourly": hourly,
            "peak_hour": peak_hour,
        }

    def heatmap_png(self) -> bytes:
        return self.heatmap.render_png(self.camera.lines, self.camera.zones)
