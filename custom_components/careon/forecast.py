"""The store's traffic forecast and the staff it suggests.

Every hour (and at setup) the forecast coordinator reads the last 91 days of history: the orders
per hour from the store (cancelled orders are not demand) and, when the recorder runs, the visitors
per hour from its long-term statistics of the visitor sensors (CareOn Vision's "visitors in", or
the sensors chosen in the options). Hours the recorder has no statistics for are unknown, not
zero. ``core.forecast`` turns each history into an hourly forecast (weekday x hour seasonality and
the recent trend) and ``core.staffing`` turns the orders forecast into staff per hour.

It only suggests: nothing here writes a schedule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import partial
import math
from typing import TYPE_CHECKING, Any

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_track_utc_time_change
from homeassistant.helpers.recorder import get_instance
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .const import DOMAIN, FORECAST_HISTORY, LOGGER, STAFF_PLAN_MAX_DAYS_AHEAD
from .core import ActionEngine, CareOnError, ValidationError
from .core.forecast import HourlyForecast, floor_hour, forecast_hourly
from .core.queries import hourly_orders
from .core.staffing import (
    StaffHour,
    StaffingSettings,
    StaffPlan,
    staff_for_hour,
    staff_plan,
    staffing_settings,
)
from .helpers import as_date, translate_error
from .vision import visitor_sensors

if TYPE_CHECKING:
    from .coordinator import CareOnConfigEntry

HOUR = timedelta(hours=1)
# The coordinator forecasts this far ahead: the rest of today and all of tomorrow.
FORECAST_HORIZON_HOURS = 48
# The refresh runs a few seconds past the hour: the hour that just ended is complete.
REFRESH_SECOND = 5

ATTR_DATE = "date"
ATTR_ORDERS_PER_STAFF_HOUR = "orders_per_staff_hour"
ATTR_MIN_STAFF = "min_staff"
# What a staff plan's overrides may be.
ORDERS_PER_STAFF_HOUR_RANGE = (0.1, 1000.0)
MIN_STAFF_RANGE = (0, 100)


@dataclass(frozen=True, kw_only=True, slots=True)
class TrafficHistory:
    """What the forecast is computed from: the hours before ``origin``."""

    origin: datetime
    """The top of the hour the history was read in (aware UTC); the hours before it count."""
    orders: Mapping[datetime, float]
    """Orders per UTC hour start, every hour from the first order on (before it: unknown)."""
    visitors: Mapping[datetime, float] | None
    """Visitors per UTC hour start, only the hours with statistics; None without visitor
    sensors or recorder."""
    settings: StaffingSettings


@dataclass(frozen=True, kw_only=True, slots=True)
class StaffingForecast:
    """The forecast the recommended-staff sensor shows."""

    orders: HourlyForecast
    visitors: HourlyForecast | None
    settings: StaffingSettings
    next_hour: StaffHour
    """The hour after the current one."""
    computed_at: datetime


async def async_read_visitors(
    hass: HomeAssistant, entity_ids: Iterable[str], *, start: datetime, end: datetime
) -> dict[datetime, float] | None:
    """Visitors per UTC hour in [start, end) from the recorder's long-term statistics (read and
    summed in the recorder's executor); see `visitors_per_hour`. None when the recorder does
    not run or no sensor is given."""
    statistic_ids = set(entity_ids)
    if not statistic_ids or "recorder" not in hass.config.components:
        return None
    return await get_instance(hass).async_add_executor_job(
        _read_visitors, hass, statistic_ids, start, end
    )


def _read_visitors(
    hass: HomeAssistant, statistic_ids: set[str], start: datetime, end: datetime
) -> dict[datetime, float]:
    """The hourly sums of the sensors (from one hour earlier: an hour's visitors are its sum
    less the hour before's), as visitors per hour."""
    from homeassistant.components.recorder.statistics import (  # noqa: PLC0415
        statistics_during_period,
    )

    rows = statistics_during_period(hass, start - HOUR, end, statistic_ids, "hour", None, {"sum"})
    return visitors_per_hour(
        {
            statistic_id: {
                datetime.fromtimestamp(row["start"], UTC): row["sum"]
                for row in statistic_rows
                if row.get("sum") is not None
            }
            for statistic_id, statistic_rows in rows.items()
        },
        start=start,
        end=end,
    )


def visitors_per_hour(
    sums: Mapping[str, Mapping[datetime, float | None]], *, start: datetime, end: datetime
) -> dict[datetime, float]:
    """The hours in [start, end) every counting sensor knows, with the visitors summed.

    ``sums`` holds each sensor's running total (the statistics' ``sum``) per hour start. An
    hour's visitors are the increase since the hour before. A sensor counts between its first
    and its last hour with statistics (before, it did not exist; after, it was removed or its
    camera is gone); within that span an hour without statistics, or after one, is unknown, and
    so is a decrease (a sum never decreases unless the statistics were reset).
    """
    increases: list[tuple[datetime, datetime, dict[datetime, float]]] = []
    for by_hour in sums.values():
        if not by_hour:
            continue
        known: dict[datetime, float] = {}
        for hour, total in by_hour.items():
            before = by_hour.get(hour - HOUR)
            if total is not None and before is not None and total >= before:
                known[hour] = total - before
        increases.append((min(by_hour), max(by_hour), known))
    visitors: dict[datetime, float] = {}
    hour = start
    while hour < end:
        counting = [known for first, last, known in increases if first < hour <= last]
        if counting and all(hour in known for known in counting):
            visitors[hour] = sum(known[hour] for known in counting)
        hour += HOUR
    return visitors


def _forecasts(
    history: TrafficHistory, *, origin: datetime, horizon_hours: int, tz: tzinfo
) -> tuple[HourlyForecast, HourlyForecast | None]:
    """The orders and visitors forecasts from ``origin`` on."""
    orders = forecast_hourly(history.orders, origin=origin, horizon_hours=horizon_hours, tz=tz)
    visitors = (
        forecast_hourly(history.visitors, origin=origin, horizon_hours=horizon_hours, tz=tz)
        if history.visitors
        else None
    )
    return orders, visitors


def compute_forecast(history: TrafficHistory, *, tz: tzinfo, now: datetime) -> StaffingForecast:
    """The forecast from the current hour on, and the staff for the next hour."""
    orders, visitors = _forecasts(
        history, origin=floor_hour(now), horizon_hours=FORECAST_HORIZON_HOURS, tz=tz
    )
    settings = history.settings
    next_hour = staff_for_hour(
        floor_hour(now) + HOUR,
        orders=orders,
        visitors=visitors,
        opening_hours=settings.opening_hours,
        tz=tz,
        orders_per_staff_hour=settings.orders_per_staff_hour,
        min_staff=settings.min_staff,
    )
    return StaffingForecast(
        orders=orders,
        visitors=visitors,
        settings=settings,
        next_hour=next_hour,
        computed_at=now,
    )


class CareOnForecastCoordinator(DataUpdateCoordinator[StaffingForecast]):
    """Reads the traffic history and forecasts it, at the top of every hour."""

    config_entry: CareOnConfigEntry

    def __init__(self, hass: HomeAssistant, entry: CareOnConfigEntry, engine: ActionEngine) -> None:
        """Initialize the coordinator (no refresh interval: `async_start` times it)."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{DOMAIN}_{entry.entry_id}_forecast",
            update_interval=None,
        )
        self.engine = engine
        self.history: TrafficHistory | None = None
        self._unsub_hourly: CALLBACK_TYPE | None = None

    @callback
    def async_start(self) -> None:
        """Refresh a few seconds after every hour (the hour that ended is complete)."""

        @callback
        def _async_hourly(_: datetime) -> None:
            self.config_entry.async_create_background_task(
                self.hass, self.async_refresh(), f"{self.name} hourly refresh"
            )

        self._unsub_hourly = async_track_utc_time_change(
            self.hass, _async_hourly, minute=0, second=REFRESH_SECOND
        )

    @callback
    def async_stop(self) -> None:
        """Stop the hourly refresh."""
        if self._unsub_hourly is not None:
            self._unsub_hourly()
            self._unsub_hourly = None

    async def async_read_history(self, now: datetime | None = None) -> TrafficHistory:
        """Read the 91 days before the current hour: orders, visitors and the staffing settings.

        The store's errors propagate (`CareOnError`); the recorder's are logged and leave the
        visitors out.
        """
        origin = floor_hour(now or dt_util.utcnow())
        start = origin - FORECAST_HISTORY
        async with self.engine.reader() as ontology:
            orders = await hourly_orders(ontology, start=start, end=origin)
            settings = await staffing_settings(ontology)
        sensors = visitor_sensors(self.hass, self.config_entry)
        try:
            visitors = await async_read_visitors(self.hass, sensors, start=start, end=origin)
        except Exception:  # the recorder's errors must not stop the orders forecast
            LOGGER.warning(
                "Cannot read the visitor statistics of %s; forecasting orders only",
                ", ".join(sensors),
                exc_info=True,
            )
            visitors = None
        # the hours before the store's first order are unknown (it was not selling yet),
        # not a run of quiet hours
        first = min((hour for hour, count in orders.items() if count), default=origin)
        self.history = TrafficHistory(
            origin=origin,
            orders={hour: float(count) for hour, count in orders.items() if hour >= first},
            visitors=visitors,
            settings=settings,
        )
        return self.history

    async def async_history(self) -> TrafficHistory:
        """The history of the current hour: the one read already, else a new read."""
        if self.history is not None and self.history.origin == floor_hour(dt_util.utcnow()):
            return self.history
        return await self.async_read_history()

    async def _async_update_data(self) -> StaffingForecast:
        """Read the history again (keep the last one when the store cannot be read) and
        forecast from the current hour."""
        try:
            history = await self.async_read_history()
        except CareOnError as err:
            if self.history is None:
                raise UpdateFailed(
                    translation_domain=DOMAIN,
                    translation_key=err.translation_key,
                    translation_placeholders=err.placeholders,
                ) from err
            LOGGER.warning(
                "Cannot read the order history of %s (%s); forecasting from the history read at %s",
                self.config_entry.title,
                err,
                self.history.origin.isoformat(),
            )
            history = self.history
        return await self.hass.async_add_executor_job(
            partial(compute_forecast, history, tz=self.engine.timezone, now=dt_util.utcnow())
        )


def _check_number(
    value: Any, field: str, *, bounds: tuple[float, float], integer: bool = False
) -> float | None:
    """A number given to a staff plan (as a number or as text), checked against ``bounds``."""
    if value is None:
        return None
    expected = "an integer" if integer else "a number"
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or not math.isfinite(number) or (integer and not number.is_integer()):
        raise translate_error(ValidationError("invalid_type", field=field, expected=expected))
    low, high = bounds
    if number < low:
        raise translate_error(
            ValidationError("out_of_range", field=field, value=value, limit=f">= {low:g}")
        )
    if number > high:
        raise translate_error(
            ValidationError("out_of_range", field=field, value=value, limit=f"<= {high:g}")
        )
    return number


def _day_bounds(day: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """The local day ``day`` as UTC instants [start, end)."""
    start = datetime.combine(day, time(), tzinfo=tz).astimezone(UTC)
    return start, datetime.combine(day + timedelta(days=1), time(), tzinfo=tz).astimezone(UTC)


def _covers(forecast: HourlyForecast, start: datetime, end: datetime) -> bool:
    """Whether ``forecast`` starts at ``start`` and reaches ``end``."""
    return forecast.start == start and forecast.start + len(forecast.values) * HOUR >= end


async def async_staff_plan(
    hass: HomeAssistant,
    entry: CareOnConfigEntry,
    day: date | None = None,
    *,
    orders_per_staff_hour: float | None = None,
    min_staff: int | None = None,
) -> StaffPlan:
    """The staff per hour of ``day`` (tomorrow in the store's time zone by default).

    ``day`` may be today (forecast from its start) up to 14 days ahead; the overrides replace the
    store's orders per staff-hour and minimum staff. Bad values raise a translated
    ``ServiceValidationError`` naming the field. The history and forecast read this hour are
    reused.
    """
    coordinator = entry.runtime_data.forecast
    tz = coordinator.engine.timezone
    rate = _check_number(
        orders_per_staff_hour, ATTR_ORDERS_PER_STAFF_HOUR, bounds=ORDERS_PER_STAFF_HOUR_RANGE
    )
    minimum = _check_number(min_staff, ATTR_MIN_STAFF, bounds=MIN_STAFF_RANGE, integer=True)
    now = dt_util.utcnow()
    today = now.astimezone(tz).date()
    if day is None:
        day = today + timedelta(days=1)
    elif not isinstance(day, date) or isinstance(day, datetime):
        raise translate_error(
            ValidationError("invalid_type", field=ATTR_DATE, expected="a date (YYYY-MM-DD)")
        )
    if day < today:
        raise translate_error(
            ValidationError("out_of_range", field=ATTR_DATE, value=day, limit=f">= {today}")
        )
    if day > (last := today + timedelta(days=STAFF_PLAN_MAX_DAYS_AHEAD)):
        raise translate_error(
            ValidationError("out_of_range", field=ATTR_DATE, value=day, limit=f"<= {last}")
        )
    try:
        history = await coordinator.async_history()
    except CareOnError as err:
        raise translate_error(err) from err
    day_start, day_end = _day_bounds(day, tz)
    # a day to come is forecast from now; today from its start (its first hours are past)
    origin = min(floor_hour(now), day_start)
    current = coordinator.data
    if (
        current is not None
        and coordinator.history is history
        and _covers(current.orders, origin, day_end)
        and (history.visitors is None or current.visitors is not None)
    ):
        orders, visitors = current.orders, current.visitors
    else:
        horizon = math.ceil((day_end - origin) / HOUR)
        orders, visitors = await hass.async_add_executor_job(
            partial(_forecasts, history, origin=origin, horizon_hours=horizon, tz=tz)
        )
    settings = history.settings
    return staff_plan(
        day,
        tz=tz,
        orders=orders,
        visitors=visitors,
        opening_hours=settings.opening_hours,
        orders_per_staff_hour=rate if rate is not None else settings.orders_per_staff_hour,
        min_staff=int(minimum) if minimum is not None else settings.min_staff,
        staff_available=settings.staff_available,
    )


def staff_plan_service_args(data: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments of `async_staff_plan` in a service call's data (the date as text
    or a date; anything else a translated error)."""
    args: dict[str, Any] = {
        ATTR_ORDERS_PER_STAFF_HOUR: data.get(ATTR_ORDERS_PER_STAFF_HOUR),
        ATTR_MIN_STAFF: data.get(ATTR_MIN_STAFF),
    }
    args["day"] = as_date(data.get(ATTR_DATE), ATTR_DATE)
    return args


__all__ = [
    "CareOnForecastCoordinator",
    "StaffingForecast",
    "TrafficHistory",
    "async_staff_plan",
    "staff_plan_service_args",
    "visitors_per_hour",
]
