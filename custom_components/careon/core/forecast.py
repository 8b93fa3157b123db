"""Hourly traffic forecast: weekday x hour seasonality and the recent trend, in plain Python.

Used for orders (CareOn's own history) and visitors (the vision sensors' recorder statistics).
The input is a count per hour; an hour absent from the history is *unknown*, not zero (the
recorder was off, the store had no data yet), and is left out of every average.

The model (``forecast_hourly``):

* **Slots.** Every hour belongs to one of 168 slots: its local weekday x local hour in the
  store's time zone (so a DST change moves the slot with the wall clock).
* **Blocks.** The history before ``origin`` (floored to the hour) is cut into 168-hour blocks
  ending at ``origin``: block 0 is the last week, block 1 the week before, and so on (at most
  ``MAX_BLOCKS``). Block ``b`` weighs ``0.5 ** (b / HALF_LIFE_WEEKS)``: recent weeks count more.
  Blocks under ``MIN_KNOWN_SHARE`` known hours are skipped (unless no block has that much: then
  every block with a known hour is used, so a store with a few days of data gets a forecast).
* **Shape.** A slot's share of its block is its count divided by the block's level; the
  seasonal shape is the weighted average of each slot's shares over the blocks. The block level
  is the sum of its known counts divided by the sum of the shape over those known slots (an
  hour-average that missing hours do not bias); shape and levels are estimated alternately
  until the levels settle (one pass when every hour is known, a few with gaps). A slot no
  block knows takes the mean shape of the same local hour on the days that are known.
* **Trend.** With at least ``MIN_TREND_BLOCKS`` usable blocks among the last ``TREND_BLOCKS``, a
  weighted least-squares line through the logarithms of the block levels (each at its block's
  centre, in weeks before ``origin``) gives the level at ``origin`` and a weekly growth rate:
  growth compounds, so +5 % a week is a straight line. The fitted level at ``origin`` stands;
  beyond it the rate is clipped to ``MAX_WEEKLY_CHANGE`` a week and damped: ``t`` weeks ahead
  the log level moves by ``slope * (1 - PHI**t) / -ln(PHI)`` (about ``slope * t`` for the next
  days, levelling off after). When one of those weeks had no traffic at all (level 0, no
  logarithm) the line is fitted to the levels themselves, the slope clipped to
  ``MAX_WEEKLY_CHANGE`` of their mean. The level is kept within ``[0, LEVEL_CAP x the highest
  block level]``: a forecast is never negative and never explodes. With fewer blocks the level is the weighted mean of the
  block levels (method ``seasonal_profile``); without any known hour the forecast is zeros
  (method ``none``).
* **Forecast.** ``level(t) x shape(slot)`` for every hour from ``origin``.

``seasonal_naive`` is the usual baseline: the same local hour one week earlier (earlier weeks
when that hour is unknown or still in the future).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
import math

HOURS_PER_WEEK = 168
HOUR = timedelta(hours=1)
WEEK = timedelta(hours=HOURS_PER_WEEK)
# How far back the model looks (26 weeks; older weeks would weigh under 0.3 % anyway)
MAX_BLOCKS = 26
# The weight of a week halves every HALF_LIFE_WEEKS weeks back
HALF_LIFE_WEEKS = 3.0
# A block with fewer known hours than this share is left out
MIN_KNOWN_SHARE = 0.5
# Shape and levels are re-estimated until the levels move less than this (relative)
SHAPE_TOLERANCE = 1e-9
MAX_SHAPE_PASSES = 25
# The trend: fitted on the last TREND_BLOCKS usable blocks, when there are MIN_TREND_BLOCKS
TREND_BLOCKS = 8
MIN_TREND_BLOCKS = 3
# At most +-30 % of the mean level per week
MAX_WEEKLY_CHANGE = 0.3
# Weekly damping factor of the trend's extrapolation
PHI = 0.8
# The forecast level stays under LEVEL_CAP x the highest block level seen
LEVEL_CAP = 2.0
# Five weeks ahead at most
MAX_HORIZON_HOURS = 5 * HOURS_PER_WEEK

METHOD_TREND = "seasonal_trend"
METHOD_PROFILE = "seasonal_profile"
METHOD_NONE = "none"
METHOD_NAIVE = "seasonal_naive"


@dataclass(frozen=True, kw_only=True, slots=True)
class HourlyForecast:
    """Expected counts for consecutive hours."""

    # aware UTC, the top of the first forecast hour
    start: datetime
    # expected count per hour: values[i] is for the hour starting start + i hours; never < 0
    values: tuple[float, ...]
    # "seasonal_trend", "seasonal_profile" (no trend: under 3 usable weeks), "none" (no
    # history: zeros), or "seasonal_naive" for the baseline
    method: str
    # known hours of history the forecast was computed from
    history_hours: int

    @property
    def end(self) -> datetime:
        """The end of the last forecast hour."""
        return self.start + len(self.values) * HOUR

    def at(self, when: datetime) -> float | None:
        """The value of the hour that contains ``when`` (aware), ``None`` outside the forecast."""
        index = math.floor((when - self.start) / HOUR)
        if 0 <= index < len(self.values):
            return self.values[index]
        return None

    def hours(self) -> list[tuple[datetime, float]]:
        """``(hour start, value)`` pairs, in order."""
        return [(self.start + i * HOUR, value) for i, value in enumerate(self.values)]


def floor_hour(when: datetime) -> datetime:
    """The top of the UTC hour containing an aware datetime, as aware UTC."""
    return datetime.fromtimestamp(_hour_index(when) * 3600, UTC)


def _hour_index(when: datetime) -> int:
    """Hours since the epoch of the UTC hour containing an aware datetime."""
    if when.tzinfo is None:
        raise ValueError(f"{when!r} has no time zone")
    return math.floor(when.timestamp() / 3600)


def slot_of(hour: datetime, tz: tzinfo) -> int:
    """The hour's seasonal slot: local weekday (Monday 0) x 24 + local hour."""
    local = hour.astimezone(tz)
    return local.weekday() * 24 + local.hour


def _slots(first: int, count: int, tz: tzinfo) -> list[int]:
    """The slots of ``count`` consecutive hours from hour index ``first``."""
    start = datetime.fromtimestamp(first * 3600, UTC)
    days = count // 24 + 2
    offsets = {(start + timedelta(days=day)).astimezone(tz).utcoffset() for day in range(days)}
    if len(offsets) == 1 and (offset := offsets.pop()) is not None:
        # one UTC offset all along (no DST change): slots by arithmetic. The epoch's hour 0
        # was a Thursday 00:00, slot 3 x 24 = 72.
        shift = offset // timedelta(seconds=1)
        return [(((first + i) * 3600 + shift) // 3600 + 72) % HOURS_PER_WEEK for i in range(count)]
    return [slot_of(start + i * HOUR, tz) for i in range(count)]


def _check(origin: datetime, horizon_hours: int) -> int:
    if not 0 <= horizon_hours <= MAX_HORIZON_HOURS:
        raise ValueError(f"horizon_hours must be 0 to {MAX_HORIZON_HOURS}, not {horizon_hours}")
    return _hour_index(origin)


def _known_before(
    history: Mapping[datetime, float], origin: int, earliest: int | None = None
) -> dict[int, float]:
    """The history's known hours before hour index ``origin`` (and from ``earliest``), keyed
    by hour index; negative counts as 0; NaN and infinite values are unknown."""
    known: dict[int, float] = {}
    for when, value in history.items():
        hour = _hour_index(when)
        if hour >= origin or (earliest is not None and hour < earliest):
            continue
        count = float(value)
        if not math.isfinite(count):
            continue
        known[hour] = known.get(hour, 0.0) + max(count, 0.0)
    return known


def _zeros(origin: int, horizon_hours: int, method: str, history_hours: int) -> HourlyForecast:
    return HourlyForecast(
        start=datetime.fromtimestamp(origin * 3600, UTC),
        values=(0.0,) * horizon_hours,
        method=method,
        history_hours=history_hours,
    )


def forecast_hourly(
    history: Mapping[datetime, float], *, origin: datetime, horizon_hours: int, tz: tzinfo
) -> HourlyForecast:
    """Forecast ``horizon_hours`` hours from ``origin`` (floored to the hour) with the model in
    the module docstring. ``history`` maps aware hour starts to counts; hours at or after
    ``origin`` are ignored, missing hours are unknown."""
    now = _check(origin, horizon_hours)
    earliest = now - MAX_BLOCKS * HOURS_PER_WEEK
    known = _known_before(history, now, earliest)
    if not known:
        return _zeros(now, horizon_hours, METHOD_NONE, 0)
    first = min(known)
    slots = _slots(first, now - first + horizon_hours, tz)
    # one observation per known hour: (block, slot, value)
    observations: list[tuple[int, int, float]] = []
    block_known = [0] * MAX_BLOCKS
    for hour, value in known.items():
        block = (now - hour - 1) // HOURS_PER_WEEK
        observations.append((block, slots[hour - first], value))
        block_known[block] += 1
    usable = {b for b, n in enumerate(block_known) if n >= MIN_KNOWN_SHARE * HOURS_PER_WEEK}
    if not usable:
        usable = {b for b, n in enumerate(block_known) if n}
    observations = [obs for obs in observations if obs[0] in usable]
    weights = {b: 0.5 ** (b / HALF_LIFE_WEEKS) for b in usable}

    # shape and block levels, alternately; the first levels are plain hour means
    sums: dict[int, float] = dict.fromkeys(usable, 0.0)
    for block, _slot, value in observations:
        sums[block] += value
    levels = {b: sums[b] / block_known[b] for b in usable}
    shape = [1.0] * HOURS_PER_WEEK
    for _ in range(MAX_SHAPE_PASSES):
        shape = _shape(observations, levels, weights)
        shape_sums = dict.fromkeys(usable, 0.0)
        for block, slot, _value in observations:
            shape_sums[block] += shape[slot]
        before = levels
        levels = {b: sums[b] / shape_sums[b] if shape_sums[b] > 0 else 0.0 for b in usable}
        if all(abs(levels[b] - before[b]) <= SHAPE_TOLERANCE * before[b] for b in usable):
            break  # at once with every hour known; a few passes with gaps

    level_at, method = _level_model(levels, weights)
    future = slots[now - first :]
    values = tuple(
        max(level_at((i + 0.5) / HOURS_PER_WEEK) * shape[future[i]], 0.0)
        for i in range(horizon_hours)
    )
    return HourlyForecast(
        start=datetime.fromtimestamp(now * 3600, UTC),
        values=values,
        method=method,
        history_hours=len(observations),
    )


def _shape(
    observations: Sequence[tuple[int, int, float]],
    levels: Mapping[int, float],
    weights: Mapping[int, float],
) -> list[float]:
    """Each slot's weighted mean share of its block's level, normalised to a mean of 1."""
    share_sum = [0.0] * HOURS_PER_WEEK
    weight_sum = [0.0] * HOURS_PER_WEEK
    for block, slot, value in observations:
        level = levels[block]
        if level <= 0:
            continue  # an empty week says nothing about the shape
        weight = weights[block]
        share_sum[slot] += weight * value / level
        weight_sum[slot] += weight
    shape: list[float | None] = [
        share_sum[s] / weight_sum[s] if weight_sum[s] > 0 else None for s in range(HOURS_PER_WEEK)
    ]
    known = [value for value in shape if value is not None]
    if not known:
        return [1.0] * HOURS_PER_WEEK
    overall = sum(known) / len(known)
    # a slot no block knows: the mean of the same local hour on the days that are known
    by_hour: dict[int, list[float]] = {}
    for slot, share in enumerate(shape):
        if share is not None:
            by_hour.setdefault(slot % 24, []).append(share)
    filled = [
        value
        if value is not None
        else (
            sum(by_hour[slot % 24]) / len(by_hour[slot % 24]) if slot % 24 in by_hour else overall
        )
        for slot, value in enumerate(shape)
    ]
    mean = sum(filled) / HOURS_PER_WEEK
    if mean <= 0:
        return [1.0] * HOURS_PER_WEEK
    return [value / mean for value in filled]


def _level_model(levels: Mapping[int, float], weights: Mapping[int, float]) -> tuple[_Level, str]:
    """The level ``t`` weeks after origin: a damped, clipped weighted trend through the recent
    block levels (of their logarithms when none is 0), or their weighted mean with too few."""
    weight_total = sum(weights[b] for b in levels)
    mean = sum(weights[b] * levels[b] for b in levels) / weight_total
    cap = LEVEL_CAP * max(levels.values())
    recent = sorted(levels)[:TREND_BLOCKS]
    if len(recent) < MIN_TREND_BLOCKS:
        return _Level(intercept=mean, slope=0.0, cap=cap, log=False), METHOD_PROFILE
    log = all(levels[b] > 0 for b in recent)
    ys = {b: math.log(levels[b]) if log else levels[b] for b in recent}
    # x: the block's centre in weeks relative to origin (block 0 is centred at -0.5)
    sw = sum(weights[b] for b in recent)
    mx = sum(weights[b] * -(b + 0.5) for b in recent) / sw
    my = sum(weights[b] * ys[b] for b in recent) / sw
    sxx = sum(weights[b] * (-(b + 0.5) - mx) ** 2 for b in recent)
    sxy = sum(weights[b] * (-(b + 0.5) - mx) * (ys[b] - my) for b in recent)
    slope = sxy / sxx if sxx > 0 else 0.0
    # the fitted level at origin, half a week past the last block's centre, stands; only the
    # extrapolation beyond it is clipped
    intercept = my - slope * mx
    limit = math.log(1 + MAX_WEEKLY_CHANGE) if log else MAX_WEEKLY_CHANGE * my
    slope = min(max(slope, -limit), limit)
    return _Level(intercept=intercept, slope=slope, cap=cap, log=log), METHOD_TREND


@dataclass(frozen=True, kw_only=True, slots=True)
class _Level:
    intercept: float  # the level at origin (its logarithm when log)
    slope: float  # per week (of the logarithm when log)
    cap: float
    log: bool

    def __call__(self, weeks_ahead: float) -> float:
        damped: float = (1 - PHI**weeks_ahead) / -math.log(PHI)
        value = self.intercept + self.slope * damped
        if self.log:
            value = math.exp(min(value, math.log(self.cap)))
        return min(max(value, 0.0), self.cap)


def seasonal_naive(
    history: Mapping[datetime, float], *, origin: datetime, horizon_hours: int, tz: tzinfo
) -> HourlyForecast:
    """The baseline: each hour is the same local hour one week earlier (two, three... weeks
    earlier when that one is unknown or not yet past); 0 when no earlier week knows it."""
    now = _check(origin, horizon_hours)
    known = _known_before(history, now)
    if not known:
        return _zeros(now, horizon_hours, METHOD_NONE, 0)
    earliest = min(known)
    start = datetime.fromtimestamp(now * 3600, UTC)
    values = []
    for i in range(horizon_hours):
        local = (start + i * HOUR).astimezone(tz).replace(tzinfo=None)
        value = 0.0
        weeks = 1
        while True:
            before = _hour_index((local - weeks * timedelta(days=7)).replace(tzinfo=tz))
            if before < earliest:
                break
            if before < now and before in known:
                value = known[before]
                break
            weeks += 1
        values.append(value)
    return HourlyForecast(
        start=start, values=tuple(values), method=METHOD_NAIVE, history_hours=len(known)
    )


def _pairs(actual: Sequence[float], predicted: Sequence[float]) -> list[tuple[float, float]]:
    if len(actual) != len(predicted):
        raise ValueError(f"{len(actual)} actual values but {len(predicted)} predicted")
    return list(zip(actual, predicted, strict=True))


def mape(actual: Sequence[float], predicted: Sequence[float]) -> float | None:
    """Mean absolute percentage error, in percent, over the hours whose actual count is above 0
    (``None`` when there is none)."""
    errors = [abs(a - p) / a for a, p in _pairs(actual, predicted) if a > 0]
    return 100 * sum(errors) / len(errors) if errors else None


def wape(actual: Sequence[float], predicted: Sequence[float]) -> float | None:
    """Weighted absolute percentage error: sum |actual - predicted| / sum actual, in percent
    (``None`` when nothing actually happened)."""
    pairs = _pairs(actual, predicted)
    total = sum(a for a, _ in pairs)
    if total <= 0:
        return None
    return 100 * sum(abs(a - p) for a, p in pairs) / total
