"""Staff suggestions from the traffic forecast: how many people each hour needs.

An hour's recommendation is ``ceil(expected orders / orders per staff-hour)``, at least
``min_staff`` while the store is open and 0 while it is closed. Visitors (when a forecast of
them exists) are reported beside the orders, for the owner to judge; they do not change the
number. Nothing here writes a schedule: a plan is a suggestion.

Opening hours are the Store's ``opening_hours`` mapping. Keys: ``mon`` .. ``sun`` (or the full
English day names), ``weekdays`` (Monday to Friday), ``weekend`` (Saturday and Sunday) and
``daily``; a day's own key wins over ``weekdays`` / ``weekend``, which win over ``daily``.
Values: ``"HH:MM-HH:MM"``, a list of them, or ``"closed"`` (an empty list is closed too).
``24:00`` may end a range; a range that ends before it starts runs past midnight into the next
day (``"18:00-02:00"``). A day no key covers is closed; with no opening hours at all the store
counts as open around the clock. Anything else (an unknown key, ``"9am-5pm"``, ``"25:00"``) is
a ``ValidationError`` naming the key: a typo must not silently close the store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
import math
import re
from typing import Any

from sqlalchemy import func, select

from .errors import ValidationError
from .forecast import HourlyForecast
from .ontology import Ontology
from .tables import objects_table

DEFAULT_ORDERS_PER_STAFF_HOUR = 15.0
DEFAULT_MIN_STAFF = 1
HOUR = timedelta(hours=1)
DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
GROUP_KEYS = ("weekdays", "weekend", "daily")
CLOSED = "closed"
_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_EXPECTED = '"HH:MM-HH:MM", a list of them, or "closed"'
_MINUTES_PER_DAY = 24 * 60


@dataclass(frozen=True, kw_only=True, slots=True)
class StaffHour:
    """One hour of a plan."""

    # aware, in the store's time zone
    start: datetime
    end: datetime
    open: bool
    expected_orders: float
    expected_visitors: float | None
    # recommended; 0 while closed
    staff: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-able: ISO times, numbers rounded to 0.1."""
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "open": self.open,
            "expected_orders": round(self.expected_orders, 1),
            "expected_visitors": (
                None if self.expected_visitors is None else round(self.expected_visitors, 1)
            ),
            "staff": self.staff,
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class StaffPlan:
    """The staff suggestion for one local day."""

    date: date
    # the local hours of `date` (24; 23 or 25 on a DST change)
    hours: tuple[StaffHour, ...]
    orders_per_staff_hour: float
    min_staff: int
    # Staff objects in the store (None when unknown)
    staff_available: int | None
    # the orders forecast's method
    method: str

    @property
    def total_staff_hours(self) -> int:
        """The staff-hours the plan asks for."""
        return sum(hour.staff for hour in self.hours)

    @property
    def expected_orders(self) -> float:
        """Orders expected over the whole day (closed hours included)."""
        return sum(hour.expected_orders for hour in self.hours)

    @property
    def peak(self) -> StaffHour | None:
        """The open hour with the most expected orders (the first of equals), if any is open."""
        open_hours = [hour for hour in self.hours if hour.open]
        if not open_hours:
            return None
        return max(open_hours, key=lambda hour: (hour.expected_orders, -hour.start.timestamp()))

    @property
    def short_hours(self) -> list[StaffHour]:
        """Hours that need more people than the store has Staff."""
        if self.staff_available is None:
            return []
        return [hour for hour in self.hours if hour.staff > self.staff_available]

    def as_dict(self) -> dict[str, Any]:
        """What the ``adjust_staffing`` action and the assistant's tool return."""
        peak = self.peak
        return {
            "date": self.date.isoformat(),
            "method": self.method,
            "orders_per_staff_hour": self.orders_per_staff_hour,
            "min_staff": self.min_staff,
            "staff_available": self.staff_available,
            "expected_orders": round(self.expected_orders, 1),
            "total_staff_hours": self.total_staff_hours,
            "peak": peak.as_dict() if peak else None,
            "short_hours": [hour.start.isoformat() for hour in self.short_hours],
            "hours": [hour.as_dict() for hour in self.hours],
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class StaffingSettings:
    """What the Store says about staffing."""

    orders_per_staff_hour: float
    min_staff: int
    opening_hours: Mapping[str, Any] | None
    # Staff objects in the store
    staff_available: int


def _parse_time(hours: str, minutes: str, *, end: bool) -> int | None:
    """Minutes after midnight, or None when out of range (24:00 only as an end)."""
    h, m = int(hours), int(minutes)
    if m >= 60 or h > 24 or (h == 24 and (m or not end)):
        return None
    return h * 60 + m


def _ranges(key: str, value: Any) -> list[tuple[int, int]]:
    """A key's value as (start, end) minute pairs; ``end < start`` runs past midnight."""
    if isinstance(value, str) and value.strip().lower() == CLOSED:
        return []
    items: Sequence[Any] = value if isinstance(value, list | tuple) else [value]
    ranges = []
    for item in items:
        match = _RANGE.match(item) if isinstance(item, str) else None
        start = _parse_time(match[1], match[2], end=False) if match else None
        stop = _parse_time(match[3], match[4], end=True) if match else None
        if start is None or stop is None or start == stop:
            raise ValidationError("invalid_type", field=f"opening_hours.{key}", expected=_EXPECTED)
        ranges.append((start, stop))
    return ranges


def _day_spec(opening_hours: Mapping[str, Any], weekday: int) -> tuple[str, Any] | None:
    """The key and value that decide a weekday's hours (None: no key covers it)."""
    own: tuple[str, Any] | None = None
    groups: dict[str, tuple[str, Any]] = {}
    for raw_key, value in opening_hours.items():
        key = str(raw_key).strip().lower()
        if key in DAY_NAMES:
            key = key[:3]
        if key in DAY_KEYS:
            if DAY_KEYS.index(key) == weekday:
                own = (str(raw_key), value)
        elif key in GROUP_KEYS:
            groups[key] = (str(raw_key), value)
        else:
            raise ValidationError(
                "invalid_choice",
                field="opening_hours",
                value=raw_key,
                choices=", ".join((*DAY_KEYS, *GROUP_KEYS)),
            )
    if own is not None:
        return own
    group = "weekend" if weekday >= 5 else "weekdays"
    return groups.get(group) or groups.get("daily")


def _open_minutes(opening_hours: Mapping[str, Any] | None, day: date) -> list[tuple[int, int]]:
    """The day's open intervals in minutes after its midnight (end up to 1440), the previous
    day's ranges that run past midnight included."""
    if not opening_hours:
        return [(0, _MINUTES_PER_DAY)]
    intervals: list[tuple[int, int]] = []
    spec = _day_spec(opening_hours, day.weekday())
    if spec is not None:
        for start, stop in _ranges(*spec):
            intervals.append((start, stop if stop > start else _MINUTES_PER_DAY))
    before = _day_spec(opening_hours, (day - timedelta(days=1)).weekday())
    if before is not None:
        intervals.extend((0, stop) for start, stop in _ranges(*before) if stop < start)
    return sorted(intervals)


def _as_time(minutes: int) -> time:
    return time.max if minutes >= _MINUTES_PER_DAY else time(minutes // 60, minutes % 60)


def opening_hours_on(opening_hours: Mapping[str, Any] | None, day: date) -> list[tuple[time, time]]:
    """The day's open intervals, in order (an end of 24:00 is ``time.max``); see the module
    docstring for the format. No opening hours known: open all day."""
    return [(_as_time(start), _as_time(stop)) for start, stop in _open_minutes(opening_hours, day)]


def staff_needed(expected_orders: float, orders_per_staff_hour: float, min_staff: int) -> int:
    """People needed for an open hour: ``ceil(expected / rate)``, at least ``min_staff``."""
    if orders_per_staff_hour <= 0:
        raise ValueError(f"orders_per_staff_hour must be above 0, not {orders_per_staff_hour}")
    # a hair under the next integer is that integer (36 / 18 must not become 3 by rounding)
    needed = math.ceil(max(expected_orders, 0.0) / orders_per_staff_hour - 1e-9)
    return max(needed, min_staff, 0)


def _is_open(opening_hours: Mapping[str, Any] | None, local_start: datetime) -> bool:
    """Whether the store is open at any moment of the hour starting at ``local_start``."""
    start = local_start.hour * 60 + local_start.minute
    stop = start + 60
    return any(
        begin < stop and start < end
        for begin, end in _open_minutes(opening_hours, local_start.date())
    )


def staff_for_hour(
    start: datetime,
    *,
    orders: HourlyForecast,
    visitors: HourlyForecast | None,
    opening_hours: Mapping[str, Any] | None,
    tz: tzinfo,
    orders_per_staff_hour: float,
    min_staff: int,
) -> StaffHour:
    """The recommendation for the hour starting at ``start`` (aware). An hour outside the
    forecast expects 0 orders."""
    local = start.astimezone(tz)
    expected = orders.at(start) or 0.0
    is_open = _is_open(opening_hours, local)
    return StaffHour(
        start=local,
        end=(start + HOUR).astimezone(tz),
        open=is_open,
        expected_orders=expected,
        expected_visitors=visitors.at(start) if visitors is not None else None,
        staff=staff_needed(expected, orders_per_staff_hour, min_staff) if is_open else 0,
    )


def staff_plan(
    day: date,
    *,
    tz: tzinfo,
    orders: HourlyForecast,
    visitors: HourlyForecast | None,
    opening_hours: Mapping[str, Any] | None,
    orders_per_staff_hour: float,
    min_staff: int,
    staff_available: int | None,
) -> StaffPlan:
    """The plan for every local hour of ``day``."""
    start = datetime.combine(day, time(), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=tz)
    hours = []
    # step in absolute time: a DST day has 23 or 25 local hours
    hour = start.astimezone(UTC)
    while hour < end:
        hours.append(
            staff_for_hour(
                hour,
                orders=orders,
                visitors=visitors,
                opening_hours=opening_hours,
                tz=tz,
                orders_per_staff_hour=orders_per_staff_hour,
                min_staff=min_staff,
            )
        )
        hour += HOUR
    return StaffPlan(
        date=day,
        hours=tuple(hours),
        orders_per_staff_hour=orders_per_staff_hour,
        min_staff=min_staff,
        staff_available=staff_available,
        method=orders.method,
    )


async def staffing_settings(ontology: Ontology) -> StaffingSettings:
    """The Store's ``orders_per_staff_hour``, ``min_staff`` and ``opening_hours`` (defaults when
    unset or when there is no Store yet) and the number of Staff objects."""
    stores = await ontology.by_type("Store")
    store = stores[0] if stores else None
    count = (
        await ontology.conn.execute(
            select(func.count()).select_from(objects_table).where(objects_table.c.type == "Staff")
        )
    ).scalar_one()
    opening_hours = store.get("opening_hours") if store else None
    return StaffingSettings(
        orders_per_staff_hour=float(
            store.get("orders_per_staff_hour", DEFAULT_ORDERS_PER_STAFF_HOUR)
            if store
            else DEFAULT_ORDERS_PER_STAFF_HOUR
        ),
        min_staff=int(store.get("min_staff", DEFAULT_MIN_STAFF) if store else DEFAULT_MIN_STAFF),
        opening_hours=opening_hours or None,
        staff_available=int(count),
    )
