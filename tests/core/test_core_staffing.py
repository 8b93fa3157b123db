"""Staff suggestions: opening hours, the arithmetic, a day's plan and the Store's settings."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
import json
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from custom_components.careon.core import ActionEngine, ValidationError
from custom_components.careon.core.forecast import HourlyForecast
from custom_components.careon.core.staffing import (
    DEFAULT_MIN_STAFF,
    DEFAULT_ORDERS_PER_STAFF_HOUR,
    opening_hours_on,
    staff_for_hour,
    staff_needed,
    staff_plan,
    staffing_settings,
)

SEOUL = ZoneInfo("Asia/Seoul")
NEW_YORK = ZoneInfo("America/New_York")
DEMO_HOURS = {"weekdays": "08:00-21:00", "weekend": "10:00-21:00"}
FRIDAY, SATURDAY, SUNDAY = date(2025, 3, 7), date(2025, 3, 8), date(2025, 3, 9)
HOUR = timedelta(hours=1)


def _t(text: str) -> time:
    return time.fromisoformat(text)


# --- opening hours --------------------------------------------------------------------------


def test_opening_hours_of_the_demo_cafe() -> None:
    assert opening_hours_on(DEMO_HOURS, FRIDAY) == [(_t("08:00"), _t("21:00"))]
    assert opening_hours_on(DEMO_HOURS, SATURDAY) == [(_t("10:00"), _t("21:00"))]
    assert opening_hours_on(DEMO_HOURS, SUNDAY) == [(_t("10:00"), _t("21:00"))]


def test_a_days_own_key_wins_and_lists_closed_and_daily() -> None:
    hours = {
        "daily": "09:00-18:00",
        "weekend": "closed",
        "Sat": ["10:00-14:00", "17:00 - 22:00"],  # keys are case-insensitive
        "wednesday": "CLOSED",
        "thu": [],
    }
    assert opening_hours_on(hours, date(2025, 3, 3)) == [(_t("09:00"), _t("18:00"))]  # Monday
    assert opening_hours_on(hours, date(2025, 3, 5)) == []  # Wednesday
    assert opening_hours_on(hours, date(2025, 3, 6)) == []  # Thursday: an empty list
    assert opening_hours_on(hours, SATURDAY) == [
        (_t("10:00"), _t("14:00")),
        (_t("17:00"), _t("22:00")),
    ]
    assert opening_hours_on(hours, SUNDAY) == []
    # only weekdays given: the weekend is closed
    assert opening_hours_on({"weekdays": "08:00-21:00"}, SUNDAY) == []


def test_24_00_and_ranges_past_midnight() -> None:
    bar = {"fri": "18:00-02:00", "sat": "12:00-24:00"}
    assert opening_hours_on(bar, FRIDAY) == [(_t("18:00"), time.max)]
    # Saturday: Friday night's last two hours, then its own
    assert opening_hours_on(bar, SATURDAY) == [(_t("00:00"), _t("02:00")), (_t("12:00"), time.max)]
    assert opening_hours_on(bar, SUNDAY) == []
    assert opening_hours_on({"daily": "00:00-24:00"}, FRIDAY) == [(_t("00:00"), time.max)]


@pytest.mark.parametrize("hours", [None, {}])
def test_no_opening_hours_means_open_all_day(hours: Any) -> None:
    assert opening_hours_on(hours, FRIDAY) == [(_t("00:00"), time.max)]


@pytest.mark.parametrize(
    ("hours", "field"),
    [
        ({"weekdays": "9am-5pm"}, "opening_hours.weekdays"),
        ({"weekdays": "08:00-25:00"}, "opening_hours.weekdays"),
        ({"weekdays": "24:00-08:00"}, "opening_hours.weekdays"),
        ({"weekdays": "08:60-21:00"}, "opening_hours.weekdays"),
        ({"fri": "08:00-08:00"}, "opening_hours.fri"),
        ({"fri": ["08:00-12:00", 13]}, "opening_hours.fri"),
        ({"fri": {"open": "08:00"}}, "opening_hours.fri"),
        ({"holidays": "closed"}, "opening_hours"),
    ],
)
def test_bad_opening_hours_are_an_error_naming_the_key(hours: Any, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        opening_hours_on(hours, FRIDAY)
    assert info.value.field == field
    assert info.value.translation_key in {"invalid_type", "invalid_choice"}


# --- arithmetic -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expected", "rate", "minimum", "staff"),
    [
        (0.0, 18, 1, 1),
        (0.0, 18, 0, 0),
        (17.9, 18, 1, 1),
        (18.0, 18, 1, 1),
        (18.01, 18, 1, 2),
        (36.0, 18, 1, 2),  # exactly two people, not three by rounding
        (36.0000000001, 18, 1, 2),
        (54.5, 18, 1, 4),
        (5.0, 2.5, 3, 3),
        (-4.0, 18, 0, 0),
    ],
)
def test_staff_needed(expected: float, rate: float, minimum: int, staff: int) -> None:
    assert staff_needed(expected, rate, minimum) == staff


def test_staff_needed_refuses_a_rate_of_zero() -> None:
    with pytest.raises(ValueError, match="orders_per_staff_hour"):
        staff_needed(10, 0, 1)


# --- a day's plan ---------------------------------------------------------------------------


def _forecast(
    start: datetime, values: list[float], method: str = "seasonal_trend"
) -> HourlyForecast:
    return HourlyForecast(
        start=start.astimezone(UTC), values=tuple(values), method=method, history_hours=500
    )


def _demo_day() -> list[float]:
    """Friday's expected orders by local hour: the demo shape, and 1 order a night hour (which a
    closed store does not staff)."""
    shape = {8: 14, 9: 18, 10: 9, 11: 8, 12: 22, 13: 20, 14: 10, 15: 9, 16: 8, 17: 9, 18: 11}
    shape |= {19: 8, 20: 5}
    return [float(shape.get(hour, 1)) for hour in range(24)]


def test_plan_for_a_day() -> None:
    start = datetime.combine(FRIDAY, time(), tzinfo=SEOUL)
    orders = _forecast(start, _demo_day())
    visitors = _forecast(start, [2.5 * value for value in _demo_day()])
    plan = staff_plan(
        FRIDAY,
        tz=SEOUL,
        orders=orders,
        visitors=visitors,
        opening_hours=DEMO_HOURS,
        orders_per_staff_hour=10,
        min_staff=1,
        staff_available=2,
    )
    assert len(plan.hours) == 24
    assert plan.hours[0].start == start
    assert plan.hours[0].start.tzinfo == SEOUL
    assert plan.hours[-1].end == start + timedelta(days=1)
    assert [hour.open for hour in plan.hours] == [8 <= h < 21 for h in range(24)]
    # closed hours: nobody, whatever the forecast says
    assert [hour.staff for hour in plan.hours] == (
        [0] * 8 + [2, 2, 1, 1, 3, 2, 1, 1, 1, 1, 2, 1, 1] + [0] * 3
    )
    assert plan.total_staff_hours == 19
    assert plan.expected_orders == pytest.approx(sum(_demo_day()))
    peak = plan.peak
    assert peak is not None
    assert peak.start.hour == 12
    assert peak.expected_visitors == pytest.approx(55.0)
    assert [hour.start.hour for hour in plan.short_hours] == [12]
    assert plan.method == "seasonal_trend"

    as_dict = json.loads(json.dumps(plan.as_dict()))
    assert as_dict["date"] == "2025-03-07"
    assert as_dict["orders_per_staff_hour"] == 10
    assert as_dict["min_staff"] == 1
    assert as_dict["staff_available"] == 2
    assert as_dict["total_staff_hours"] == 19
    assert as_dict["short_hours"] == ["2025-03-07T12:00:00+09:00"]
    assert as_dict["peak"]["start"] == "2025-03-07T12:00:00+09:00"
    assert as_dict["hours"][12] == {
        "start": "2025-03-07T12:00:00+09:00",
        "end": "2025-03-07T13:00:00+09:00",
        "open": True,
        "expected_orders": 22.0,
        "expected_visitors": 55.0,
        "staff": 3,
    }
    assert as_dict["hours"][3]["staff"] == 0
    assert as_dict["hours"][3]["open"] is False


def test_plan_rounds_and_handles_no_visitors_and_short_forecasts() -> None:
    """Numbers are rounded in the dict only; hours past the forecast expect 0 orders; without
    a visitor forecast the visitors are None; enough staff: no short hours."""
    start = datetime.combine(SATURDAY, time(10), tzinfo=SEOUL)
    orders = _forecast(start, [12.345, 30.0], method="seasonal_profile")  # 10:00 and 11:00
    plan = staff_plan(
        SATURDAY,
        tz=SEOUL,
        orders=orders,
        visitors=None,
        opening_hours=DEMO_HOURS,
        orders_per_staff_hour=15,
        min_staff=2,
        staff_available=4,
    )
    by_hour = {hour.start.hour: hour for hour in plan.hours}
    assert by_hour[10].expected_orders == 12.345
    assert by_hour[10].as_dict()["expected_orders"] == 12.3
    assert by_hour[10].expected_visitors is None
    assert by_hour[10].as_dict()["expected_visitors"] is None
    assert (by_hour[10].staff, by_hour[11].staff, by_hour[12].staff) == (2, 2, 2)
    assert by_hour[12].expected_orders == 0.0
    assert by_hour[9].open is False  # weekend: opens at 10
    assert plan.short_hours == []
    assert plan.method == "seasonal_profile"
    assert plan.total_staff_hours == 2 * 11


def test_plan_of_a_closed_day_and_unknown_staff() -> None:
    start = datetime.combine(SUNDAY, time(), tzinfo=SEOUL)
    plan = staff_plan(
        SUNDAY,
        tz=SEOUL,
        orders=_forecast(start, [5.0] * 24),
        visitors=None,
        opening_hours={"weekdays": "08:00-21:00", "sun": "closed"},
        orders_per_staff_hour=1,
        min_staff=1,
        staff_available=None,
    )
    assert plan.total_staff_hours == 0
    assert plan.peak is None
    assert plan.short_hours == []
    assert plan.as_dict()["peak"] is None


def test_plan_on_a_dst_day_has_23_hours() -> None:
    """New York springs forward on 9 March 2025: that day has 23 local hours."""
    start = datetime.combine(SUNDAY, time(), tzinfo=NEW_YORK)
    plan = staff_plan(
        SUNDAY,
        tz=NEW_YORK,
        orders=_forecast(start, [20.0] * 30),
        visitors=None,
        opening_hours=None,  # open around the clock
        orders_per_staff_hour=10,
        min_staff=1,
        staff_available=1,
    )
    assert len(plan.hours) == 23
    assert [hour.start.hour for hour in plan.hours][:4] == [0, 1, 3, 4]
    assert all(hour.staff == 2 for hour in plan.hours)
    assert len(plan.short_hours) == 23


def test_staff_for_one_hour_at_a_half_hour_opening() -> None:
    """A store opening at 07:30: the hour from 07:00 is open (part of it is)."""
    start = datetime(2025, 3, 7, 7, tzinfo=SEOUL)
    orders = _forecast(start, [4.0])
    hour = staff_for_hour(
        start.astimezone(UTC),
        orders=orders,
        visitors=None,
        opening_hours={"weekdays": "07:30-20:30"},
        tz=SEOUL,
        orders_per_staff_hour=18,
        min_staff=1,
    )
    assert hour.open is True
    assert hour.staff == 1
    assert hour.start == start
    assert hour.start.utcoffset() == timedelta(hours=9)
    before = staff_for_hour(
        start - HOUR,
        orders=orders,
        visitors=None,
        opening_hours={"weekdays": "07:30-20:30"},
        tz=SEOUL,
        orders_per_staff_hour=18,
        min_staff=1,
    )
    assert (before.open, before.staff, before.expected_orders) == (False, 0, 0.0)


# --- the Store's settings -------------------------------------------------------------------


async def test_staffing_settings_of_the_demo_cafe(cafe: ActionEngine, act) -> None:
    async with cafe.reader() as ontology:
        settings = await staffing_settings(ontology)
    assert settings.orders_per_staff_hour == 18.0  # traffic.orders_per_staff_hour
    assert settings.min_staff == DEFAULT_MIN_STAFF
    assert settings.opening_hours == DEMO_HOURS
    assert settings.staff_available == 4

    await act(cafe, "update_object", object_id="store.store", properties={"min_staff": 2})
    await act(
        cafe,
        "create_object",
        object_type="Staff",
        key="weekend",
        name="주말 알바",
        properties={"role": "hall"},
    )
    async with cafe.reader() as ontology:
        settings = await staffing_settings(ontology)
    assert (settings.min_staff, settings.staff_available) == (2, 5)


async def test_staffing_settings_are_checked_by_the_schema(cafe: ActionEngine, act) -> None:
    with pytest.raises(ValidationError) as info:
        await act(
            cafe, "update_object", object_id="store.store", properties={"orders_per_staff_hour": 0}
        )
    assert info.value.translation_key == "out_of_range"
    with pytest.raises(ValidationError):
        await act(cafe, "update_object", object_id="store.store", properties={"min_staff": -1})


async def test_staffing_settings_of_an_empty_store(engine: ActionEngine) -> None:
    async with engine.reader() as ontology:
        settings = await staffing_settings(ontology)
    assert settings.orders_per_staff_hour == DEFAULT_ORDERS_PER_STAFF_HOUR
    assert settings.min_staff == DEFAULT_MIN_STAFF
    assert settings.opening_hours is None
    assert settings.staff_available == 0
