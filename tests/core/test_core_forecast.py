"""The hourly traffic forecast: accuracy on generated history, trend, gaps, time zones, bounds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
import math
import random
from statistics import mean
from zoneinfo import ZoneInfo

import pytest

from custom_components.careon.core.demo import load_demo_data, poisson, traffic_rate
from custom_components.careon.core.forecast import (
    HOURS_PER_WEEK,
    MAX_HORIZON_HOURS,
    HourlyForecast,
    forecast_hourly,
    mape,
    seasonal_naive,
    wape,
)

SEOUL = ZoneInfo("Asia/Seoul")
NEW_YORK = ZoneInfo("America/New_York")
HOUR = timedelta(hours=1)
WEEK = timedelta(weeks=1)
# Monday 6 January 2025, 00:00 in Seoul: the first hour of the generated history
MONDAY = datetime(2025, 1, 6, tzinfo=SEOUL)
TRAFFIC = load_demo_data()["traffic"]


def generate(
    weeks: int,
    *,
    seed: int | None = 0,
    growth: float = 0.0,
    tz: tzinfo = SEOUL,
    start: datetime = MONDAY,
) -> tuple[dict[datetime, float], Callable[[datetime], float]]:
    """``weeks`` of hourly order counts (UTC hour -> count) from ``start``, Poisson around the
    demo shape in ``tz`` times ``(1 + growth) ** weeks since start`` (no noise with seed None);
    and the true rate as a function of the UTC hour."""
    first = start.astimezone(UTC)

    def rate(hour: datetime) -> float:
        weeks_in = (hour - first) / WEEK
        return traffic_rate(TRAFFIC, hour.astimezone(tz)) * (1 + growth) ** weeks_in

    rng = random.Random(seed)
    history: dict[datetime, float] = {}
    for i in range(weeks * HOURS_PER_WEEK):
        hour = first + i * HOUR
        history[hour] = rate(hour) if seed is None else poisson(rng, rate(hour))
    return history, rate


def split(
    history: dict[datetime, float], origin: datetime
) -> tuple[dict[datetime, float], list[float]]:
    """The history before ``origin`` and the actual counts of the week from it."""
    train = {hour: value for hour, value in history.items() if hour < origin}
    actual = [history[origin + i * HOUR] for i in range(HOURS_PER_WEEK)]
    return train, actual


def show(line: str) -> str:
    """Print a measurement (visible with -s) and return it for an assertion's message."""
    print(line)  # noqa: T201
    return line


def error(
    measure: Callable[[list[float], list[float]], float | None],
    actual: list[float],
    forecast: HourlyForecast | list[float],
) -> float:
    """MAPE or WAPE of a forecast against the actual counts (never None here)."""
    value = measure(
        actual, list(forecast.values if isinstance(forecast, HourlyForecast) else forecast)
    )
    assert value is not None
    return value


def report(label: str, actual: list[float], model: HourlyForecast, naive: HourlyForecast) -> str:
    """The errors of both forecasts, printed and returned for assertions."""
    return show(
        f"{label}: model MAPE {error(mape, actual, model):.1f} % WAPE "
        f"{error(wape, actual, model):.1f} % ({model.method}) | seasonal-naive MAPE "
        f"{error(mape, actual, naive):.1f} % WAPE {error(wape, actual, naive):.1f} %"
    )


# --- accuracy on eight generated weeks ------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_beats_seasonal_naive_on_noisy_weeks(seed: int) -> None:
    """Train on weeks 1-7 of noisy demo traffic, forecast week 8: averaging over the weeks
    cuts the error of "same hour last week" by a clear margin."""
    history, rate = generate(8, seed=seed)
    origin = MONDAY + 7 * WEEK
    train, actual = split(history, origin)
    model = forecast_hourly(train, origin=origin, horizon_hours=HOURS_PER_WEEK, tz=SEOUL)
    naive = seasonal_naive(train, origin=origin, horizon_hours=HOURS_PER_WEEK, tz=SEOUL)
    line = report(f"seed {seed}", actual, model, naive)
    truth = [rate(hour) for hour, _ in model.hours()]
    best = error(mape, actual, truth)
    line += show(f"\nseed {seed}: the true rates themselves score MAPE {best:.1f} %")

    model_mape, naive_mape = error(mape, actual, model), error(mape, actual, naive)
    model_wape, naive_wape = error(wape, actual, model), error(wape, actual, naive)
    assert model.method == "seasonal_trend", line
    assert model.history_hours == 7 * HOURS_PER_WEEK, line
    assert model_mape < 0.9 * naive_mape, line
    assert model_wape < 0.88 * naive_wape, line
    # close to the best possible: the Poisson noise alone costs the true rates this much
    assert model_mape < best + 5, line
    # closed hours (before 8, after 21, weekend mornings) stay (almost) empty
    night = model.at(origin.replace(hour=3))
    assert night is not None
    assert night < 0.05, line


@pytest.mark.parametrize("growth", [0.05, -0.05])
def test_follows_a_trend(growth: float) -> None:
    """Traffic growing (or shrinking) 5 % a week: the model's week 8 is at the trend's level,
    where "same hour last week" lags a week behind."""
    history, rate = generate(8, seed=7, growth=growth)
    origin = MONDAY + 7 * WEEK
    train, actual = split(history, origin)
    model = forecast_hourly(train, origin=origin, horizon_hours=HOURS_PER_WEEK, tz=SEOUL)
    naive = seasonal_naive(train, origin=origin, horizon_hours=HOURS_PER_WEEK, tz=SEOUL)
    line = report(f"trend {growth:+.0%}/week", actual, model, naive)
    truth = sum(rate(hour) for hour, _ in model.hours())
    line += show(
        f"\ntrend {growth:+.0%}/week: forecast / true total {sum(model.values) / truth:.3f}"
    )
    assert model.method == "seasonal_trend", line
    assert sum(model.values) == pytest.approx(truth, rel=0.04), line
    assert error(mape, actual, model) < error(mape, actual, naive), line
    assert error(wape, actual, model) < error(wape, actual, naive), line


def test_follows_a_trend_exactly_without_noise() -> None:
    """Noise-free growth of 5 % a week: the forecast's week is within 1 % of the truth, and
    the next days are above the last week (a flat profile would not be)."""
    history, rate = generate(8, seed=None, growth=0.05)
    origin = MONDAY + 7 * WEEK
    train, _ = split(history, origin)
    model = forecast_hourly(train, origin=origin, horizon_hours=HOURS_PER_WEEK, tz=SEOUL)
    truth = sum(rate(hour) for hour, _ in model.hours())
    assert sum(model.values) == pytest.approx(truth, rel=0.01)
    last_week = sum(value for hour, value in train.items() if hour >= origin - WEEK)
    assert sum(model.values) > 1.04 * last_week


def test_recovers_the_seasonal_shape_exactly() -> None:
    """No noise, no trend: the forecast is the demo shape, hour by hour, two weeks ahead."""
    history, rate = generate(5, seed=None)
    origin = MONDAY + 5 * WEEK
    model = forecast_hourly(history, origin=origin, horizon_hours=2 * HOURS_PER_WEEK, tz=SEOUL)
    assert len(model.values) == 2 * HOURS_PER_WEEK
    for hour, value in model.hours():
        assert value == pytest.approx(rate(hour), abs=1e-6), hour
    # Saturday noon in Seoul: the weekday noon rate times the weekend factor
    saturday_noon = datetime(2025, 2, 15, 12, tzinfo=SEOUL)
    assert model.at(saturday_noon) == pytest.approx(22 * 1.25)
    assert model.at(saturday_noon.replace(hour=9)) == pytest.approx(0.0, abs=1e-9)


# --- gaps, short and empty history ----------------------------------------------------------


def test_missing_hours_are_unknown_not_zero() -> None:
    """A third of the hours missing and one whole week absent: the noise-free shape and level
    come back exactly; the same hours given as zeros drag the forecast down."""
    history, rate = generate(7, seed=None)
    rng = random.Random(5)
    origin = MONDAY + 7 * WEEK
    gone_week = (MONDAY + 3 * WEEK).astimezone(UTC)
    sparse = {
        hour: value
        for hour, value in history.items()
        if rng.random() > 0.33 and not gone_week <= hour < gone_week + WEEK
    }
    model = forecast_hourly(sparse, origin=origin, horizon_hours=48, tz=SEOUL)
    assert model.history_hours == len(sparse)
    for hour, value in model.hours():
        assert value == pytest.approx(rate(hour), abs=1e-6), hour

    zeros = {hour: sparse.get(hour, 0.0) for hour in history}
    dragged = forecast_hourly(zeros, origin=origin, horizon_hours=48, tz=SEOUL)
    assert sum(dragged.values) < 0.8 * sum(model.values)


def test_slots_nobody_saw_take_the_same_hour_of_known_days() -> None:
    """Three weekdays of history: Saturday's hours take the weekday's shape (there is nothing
    better to go on), nothing is zero for want of data."""
    history, _ = generate(1, seed=None)
    three_days = {hour: v for hour, v in history.items() if hour < MONDAY + timedelta(days=3)}
    origin = MONDAY + timedelta(days=3)
    model = forecast_hourly(three_days, origin=origin, horizon_hours=4 * 24, tz=SEOUL)
    assert model.method == "seasonal_profile"
    assert model.history_hours == 72
    saturday_noon = datetime(2025, 1, 11, 12, tzinfo=SEOUL)
    assert model.at(saturday_noon) == pytest.approx(22)
    assert model.at(saturday_noon.replace(hour=3)) == pytest.approx(0)


@pytest.mark.parametrize(("weeks", "method"), [(2, "seasonal_profile"), (3, "seasonal_trend")])
def test_trend_needs_three_weeks(weeks: int, method: str) -> None:
    history, _ = generate(weeks, seed=None)
    origin = MONDAY + weeks * WEEK
    assert forecast_hourly(history, origin=origin, horizon_hours=24, tz=SEOUL).method == method


def test_empty_history_gives_zeros() -> None:
    origin = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
    for history in ({}, {origin + HOUR: 5.0}):  # the future is not history
        for forecast in (forecast_hourly, seasonal_naive):
            result = forecast(history, origin=origin, horizon_hours=24, tz=SEOUL)
            assert result.method == "none"
            assert result.values == (0.0,) * 24
            assert result.history_hours == 0
            assert result.start == datetime(2025, 3, 1, 9, tzinfo=UTC)


def test_never_negative_and_never_exploding() -> None:
    """A store collapsing to nothing forecasts zeros, not negative counts; one tripling every
    week is held under twice its best week."""
    falling = {
        MONDAY.astimezone(UTC) + i * HOUR: max(0.0, 100.0 - 25 * (i // HOURS_PER_WEEK))
        for i in range(5 * HOURS_PER_WEEK)
    }
    origin = MONDAY + 5 * WEEK
    down = forecast_hourly(falling, origin=origin, horizon_hours=MAX_HORIZON_HOURS, tz=SEOUL)
    assert min(down.values) >= 0.0
    assert down.values[-1] == 0.0

    rising = {hour: 3.0 ** ((hour - MONDAY) // WEEK) for hour in falling}  # 1, 3, 9, 27, 81
    up = forecast_hourly(rising, origin=origin, horizon_hours=MAX_HORIZON_HOURS, tz=SEOUL)
    assert max(up.values) <= 2 * 81 + 1e-9
    # but it does go up: above the weeks' weighted mean (a flat profile's level)
    flat = forecast_hourly(
        {h: v for h, v in rising.items() if h >= origin - 2 * WEEK},
        origin=origin,
        horizon_hours=1,
        tz=SEOUL,
    )
    assert flat.method == "seasonal_profile"
    assert up.values[0] > flat.values[0] > 27


def test_bad_counts_are_unknown_and_negative_ones_zero() -> None:
    history, rate = generate(4, seed=None)
    origin = MONDAY + 4 * WEEK
    last = origin.astimezone(UTC) - HOUR
    for bad in (math.nan, math.inf):
        spoiled = {**history, last: bad}
        model = forecast_hourly(spoiled, origin=origin, horizon_hours=24, tz=SEOUL)
        assert model.history_hours == len(history) - 1
        assert model.at(origin) == pytest.approx(rate(origin.astimezone(UTC)), abs=1e-6)
    naive = seasonal_naive({last - WEEK + HOUR: -3.0}, origin=origin, horizon_hours=1, tz=SEOUL)
    assert naive.values == (0.0,)


# --- time zones, origin and horizon --------------------------------------------------------


def test_fixed_offset_zone_and_utc_give_the_same_forecast() -> None:
    """Seoul keeps UTC+9 all year: local slots are UTC slots shifted, the forecast is the same."""
    history, _ = generate(4, seed=3)
    origin = MONDAY + 4 * WEEK
    seoul = forecast_hourly(history, origin=origin, horizon_hours=72, tz=SEOUL)
    utc = forecast_hourly(history, origin=origin, horizon_hours=72, tz=UTC)
    assert seoul.values == pytest.approx(utc.values)


def test_slots_follow_the_local_clock_across_a_dst_change() -> None:
    """New York moves its clocks on 9 March 2025: the cafe still opens at 8 local time, which
    is an hour earlier in UTC. Slots in the store's zone follow it; UTC slots do not."""
    start = datetime(2025, 2, 3, tzinfo=NEW_YORK)  # a Monday, five weeks before the change
    history, rate = generate(5, seed=None, tz=NEW_YORK, start=start)
    origin = datetime(2025, 3, 10, tzinfo=NEW_YORK)  # the Monday after the change
    local = forecast_hourly(history, origin=origin, horizon_hours=24, tz=NEW_YORK)
    for hour, value in local.hours():
        assert value == pytest.approx(rate(hour), abs=1e-6), hour
    assert local.at(datetime(2025, 3, 10, 8, tzinfo=NEW_YORK)) == pytest.approx(14)
    assert local.at(datetime(2025, 3, 10, 7, tzinfo=NEW_YORK)) == pytest.approx(0, abs=1e-9)
    in_utc = forecast_hourly(history, origin=origin, horizon_hours=24, tz=UTC)
    assert in_utc.at(datetime(2025, 3, 10, 8, tzinfo=NEW_YORK)) == pytest.approx(0, abs=1e-9)

    naive = seasonal_naive(history, origin=origin, horizon_hours=24, tz=NEW_YORK)
    assert naive.at(datetime(2025, 3, 10, 8, tzinfo=NEW_YORK)) == 14
    assert naive.at(datetime(2025, 3, 10, 7, tzinfo=NEW_YORK)) == 0


def test_origin_is_floored_and_its_own_hour_is_not_history() -> None:
    """At 10:37 the hour 10:00-11:00 is still running: the forecast starts at 10:00 and does
    not read that hour's partial count."""
    history, _ = generate(4, seed=4)
    on_the_hour = MONDAY + 4 * WEEK + timedelta(hours=10)
    late = on_the_hour + timedelta(minutes=37, seconds=5)
    partial = {**history, on_the_hour.astimezone(UTC): 2.0}
    base = forecast_hourly(history, origin=on_the_hour, horizon_hours=24, tz=SEOUL)
    shifted = forecast_hourly(partial, origin=late, horizon_hours=24, tz=SEOUL)
    assert shifted.start == on_the_hour.astimezone(UTC)
    assert shifted.start.tzinfo is UTC
    assert shifted.values == base.values
    assert seasonal_naive(partial, origin=late, horizon_hours=24, tz=SEOUL).start == shifted.start


def test_horizon_bounds_and_aware_times() -> None:
    history, _ = generate(2, seed=None)
    origin = MONDAY + 2 * WEEK
    assert forecast_hourly(history, origin=origin, horizon_hours=0, tz=SEOUL).values == ()
    longest = forecast_hourly(history, origin=origin, horizon_hours=MAX_HORIZON_HOURS, tz=SEOUL)
    assert len(longest.values) == MAX_HORIZON_HOURS
    for forecast in (forecast_hourly, seasonal_naive):
        for bad in (-1, MAX_HORIZON_HOURS + 1):
            with pytest.raises(ValueError, match="horizon_hours"):
                forecast(history, origin=origin, horizon_hours=bad, tz=SEOUL)
        with pytest.raises(ValueError, match="no time zone"):
            forecast(history, origin=datetime(2025, 3, 1), horizon_hours=1, tz=SEOUL)
        with pytest.raises(ValueError, match="no time zone"):
            forecast({datetime(2025, 1, 1): 1.0}, origin=origin, horizon_hours=1, tz=SEOUL)


def test_at_and_hours() -> None:
    start = datetime(2025, 3, 1, 9, tzinfo=UTC)
    forecast = HourlyForecast(start=start, values=(1.0, 2.0, 3.0), method="x", history_hours=0)
    assert forecast.at(start) == 1.0
    assert forecast.at(start + timedelta(minutes=59, seconds=59)) == 1.0
    assert forecast.at(datetime(2025, 3, 1, 19, 30, tzinfo=SEOUL)) == 2.0  # 10:30 UTC
    assert forecast.at(start - timedelta(seconds=1)) is None
    assert forecast.at(start + 3 * HOUR) is None
    assert forecast.hours() == [(start, 1.0), (start + HOUR, 2.0), (start + 2 * HOUR, 3.0)]
    assert forecast.end == start + 3 * HOUR


# --- the baseline and the error measures ---------------------------------------------------


def test_seasonal_naive_repeats_the_last_known_week() -> None:
    origin = datetime(2025, 3, 10, tzinfo=UTC)
    history = {
        origin - WEEK: 5.0,  # last week's first hour
        origin - 2 * WEEK + HOUR: 7.0,  # the second hour is unknown last week: two weeks back
        origin - WEEK + 2 * HOUR: 4.0,
        origin - 2 * WEEK + 2 * HOUR: 9.0,  # older than the known week before: unused
    }
    naive = seasonal_naive(history, origin=origin, horizon_hours=HOURS_PER_WEEK + 3, tz=UTC)
    assert naive.method == "seasonal_naive"
    assert naive.history_hours == 4
    assert naive.values[:4] == (5.0, 7.0, 4.0, 0.0)
    # a second week ahead repeats the last known week again
    assert naive.values[HOURS_PER_WEEK:] == (5.0, 7.0, 4.0)


def test_error_measures() -> None:
    actual = [10.0, 0.0, 5.0, 5.0]
    predicted = [8.0, 3.0, 5.0, 10.0]
    # hours with actual 0 are left out of MAPE: (20 % + 0 % + 100 %) / 3
    assert mape(actual, predicted) == pytest.approx(40.0)
    # (2 + 3 + 0 + 5) / 20
    assert wape(actual, predicted) == pytest.approx(50.0)
    assert mape([0.0, 0.0], [1.0, 2.0]) is None
    assert wape([0.0], [1.0]) is None
    assert mape([], []) is None
    with pytest.raises(ValueError, match="predicted"):
        mape([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="predicted"):
        wape([1.0, 2.0], [1.0])


def test_averages_over_seeds() -> None:
    """Over ten generated histories the model's MAPE is on average at least 15 % lower than
    seasonal-naive's (one history could be lucky; ten are not)."""
    ratios = []
    for seed in range(10, 20):
        history, _ = generate(8, seed=seed)
        origin = MONDAY + 7 * WEEK
        train, actual = split(history, origin)
        model = forecast_hourly(train, origin=origin, horizon_hours=HOURS_PER_WEEK, tz=SEOUL)
        naive = seasonal_naive(train, origin=origin, horizon_hours=HOURS_PER_WEEK, tz=SEOUL)
        ratios.append(error(mape, actual, model) / error(mape, actual, naive))
    line = show(
        f"model / naive MAPE over 10 seeds: mean {mean(ratios):.3f}, worst {max(ratios):.3f}"
    )
    assert mean(ratios) < 0.85, line
    assert max(ratios) < 1.0, line
