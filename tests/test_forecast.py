"""The traffic forecast in Home Assistant: the recommended-staff sensor, the adjust_staffing
action, the visitor sensors (CareOn Vision's, or chosen in the options) and their long-term
statistics in a real recorder, over a real store with three weeks of orders."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Mapping
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
import shutil
from typing import Any
from unittest.mock import patch
from zoneinfo import ZoneInfo

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.recorder.core import Recorder
from homeassistant.components.recorder.models import (
    StatisticData,
    StatisticMeanType,
    StatisticMetaData,
)
from homeassistant.components.recorder.statistics import async_import_statistics
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)
from sqlalchemy import func, select

from custom_components.careon.const import CONF_DAY_START_HOUR, CONF_VISITOR_SENSORS, DOMAIN
from custom_components.careon.core import SOURCE_POS, ActionEngine, StoreUnavailableError
from custom_components.careon.core.database import sqlite_url
from custom_components.careon.core.forecast import forecast_hourly
from custom_components.careon.core.queries import hourly_orders
from custom_components.careon.core.staffing import staff_for_hour
from custom_components.careon.core.tables import audit_table
from custom_components.careon.forecast import async_staff_plan, visitors_per_hour
from custom_components.careon.vision import VisionEntity, vision_entities, visitor_sensors

from .conftest import TIMEZONE, async_run_action, async_settle, get_state
from .test_vision_discovery import vision  # noqa: F401 - the fixture: CareOn Vision discovered

SEOUL = ZoneInfo(TIMEZONE)
# Tuesday 22 April 2025, 13:20 in Seoul: the next hour is 14:00, the busiest of the pattern
NOW = datetime(2025, 4, 22, 13, 20, tzinfo=SEOUL)
TODAY = NOW.date()
FIRST_DAY = TODAY - timedelta(days=21)
# local hour -> orders (and visitors) every day of the three weeks
ORDERS = {10: 2, 14: 5}
VISITORS = {10: 4, 14: 12}
# one person serves two orders an hour in these tests
ORDERS_PER_STAFF_HOUR = 2
# a day the recorder missed (its hours are unknown, not zero)
RECORDER_OFF = date(2025, 4, 10)

SENSOR = "sensor.careon_cafe_recommended_staff"
ENTRANCE = "sensor.careon_vision_entrance_visitors_in"
HALL = "sensor.careon_vision_front_hall_visitors_in"


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(recorder_db_url: str, enable_custom_integrations: None) -> None:
    """Let Home Assistant load CareOn; the recorder's database is prepared before ``hass``
    (the recorder tests need it first)."""


def _local_hours(first: date, last: datetime) -> Iterator[datetime]:
    """Every local hour from ``first``'s midnight up to (not including) ``last``."""
    hour = datetime.combine(first, time(), tzinfo=SEOUL).astimezone(UTC)
    while hour < last:
        yield hour
        hour += timedelta(hours=1)


async def _seed_orders(path: Path) -> None:
    """Three weeks of the pattern, plus a cancelled order at 16:00 every day (no demand)."""
    engine = await ActionEngine.open(sqlite_url(path), timezone=TIMEZONE)

    async def place(when: datetime) -> str:
        result = await engine.execute(
            "place_order",
            {"lines": [{"product": "product.latte_ice", "qty": 1}], "placed_at": when},
            actor="test",
            source=SOURCE_POS,
        )
        return str(result.result["order_id"])

    try:
        await engine.execute(
            "update_object",
            {
                "object_id": "store.store",
                "properties": {"orders_per_staff_hour": ORDERS_PER_STAFF_HOUR},
            },
            actor="test",
            source="test",
        )
        day = FIRST_DAY
        while day <= TODAY:
            for hour, count in ORDERS.items():
                when = datetime.combine(day, time(hour, 30), tzinfo=SEOUL)
                if when < NOW:
                    for _ in range(count):
                        await place(when)
            if (cancelled := datetime.combine(day, time(16, 10), tzinfo=SEOUL)) < NOW:
                await engine.execute(
                    "cancel_order",
                    {"order": await place(cancelled)},
                    actor="test",
                    source="test",
                )
            day += timedelta(days=1)
    finally:
        await engine.close()


@pytest.fixture(scope="session")
def history_template(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo cafe with three weeks of orders, seeded once for the session."""
    path = tmp_path_factory.mktemp("careon-history") / "history.db"
    shutil.copyfile(demo_template, path)
    asyncio.run(_seed_orders(path))
    return path


@pytest.fixture
def history_store(store_path: Path, history_template: Path) -> Path:
    """This test's store: a copy of the demo cafe with three weeks of orders."""
    shutil.copyfile(history_template, store_path)
    return store_path


@pytest.fixture(autouse=True)
async def unload_entry(
    auto_enable_custom_integrations: None, hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> AsyncIterator[None]:
    """Unload the store at the end of a test (its database closes)."""
    yield
    if mock_config_entry.state is ConfigEntryState.LOADED:
        assert await hass.config_entries.async_unload(mock_config_entry.entry_id)
        await hass.async_block_till_done()


def _vision_entity(hass: HomeAssistant, camera: str, key: str) -> str:
    """Register a CareOn Vision entity as MQTT discovery would (device per camera)."""
    mqtt_entry = MockConfigEntry(domain="mqtt")
    mqtt_entry.add_to_hass(hass)
    device = dr.async_get(hass).async_get_or_create(
        config_entry_id=mqtt_entry.entry_id,
        identifiers={("mqtt", f"careon_vision_{camera}")},
        name=camera,
    )
    return (
        er.async_get(hass)
        .async_get_or_create(
            "sensor",
            "mqtt",
            f"careon_vision_{camera}_{key}",
            suggested_object_id=f"careon_vision_{camera}_{key}",
            config_entry=mqtt_entry,
            device_id=device.id,
        )
        .entity_id
    )


async def _import_visitors(
    hass: HomeAssistant, entity_id: str, per_hour: Mapping[int, float], *, skip: date | None = None
) -> None:
    """Hourly long-term statistics of a visitor counter (running sums) up to the last complete
    hour, the day ``skip`` missing."""
    total = 0.0
    rows: list[StatisticData] = []
    for hour in _local_hours(FIRST_DAY - timedelta(days=1), NOW.replace(minute=0)):
        local = hour.astimezone(SEOUL)
        total += per_hour.get(local.hour, 0)
        if local.date() != skip:
            rows.append(StatisticData(start=hour, state=total, sum=total))
    metadata = StatisticMetaData(
        mean_type=StatisticMeanType.NONE,
        has_sum=True,
        name=None,
        source="recorder",
        statistic_id=entity_id,
        unit_of_measurement="visitors",
    )
    if "unit_class" in StatisticMetaData.__annotations__:
        # Newer Home Assistant names the unit's converter (2026.11 requires it; none for visitors);
        # 2025.4 has no such field (its recorder refuses one).
        metadata["unit_class"] = None  # type: ignore[typeddict-unknown-key,unused-ignore]
    async_import_statistics(hass, metadata, rows)
    await async_wait_recording_done(hass)


async def _setup(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


async def _plan(hass: HomeAssistant, entry: MockConfigEntry, **data: Any) -> dict[str, Any]:
    response = await hass.services.async_call(
        DOMAIN,
        "adjust_staffing",
        {"config_entry_id": entry.entry_id, **data},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    return dict(response)


async def _audit_rows(entry: MockConfigEntry) -> int:
    async with entry.runtime_data.engine.reader() as ontology:
        return int(
            (
                await ontology.conn.execute(select(func.count()).select_from(audit_table))
            ).scalar_one()
        )


def _hour(plan: dict[str, Any], local_hour: int) -> dict[str, Any]:
    (hour,) = [h for h in plan["hours"] if datetime.fromisoformat(h["start"]).hour == local_hour]
    return hour


async def test_recommended_staff_from_orders_and_visitors(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    history_store: Path,
    mock_config_entry: MockConfigEntry,
) -> None:
    """The sensor shows the staff for the next hour: its expected orders (the three weeks' 5 at
    14:00) over the store's 2 orders per staff-hour, and the visitors the recorder's statistics
    of CareOn Vision's entrance counter expect (12), though a day of them is missing."""
    freezer.move_to(NOW)
    entrance = _vision_entity(hass, "entrance", "visitors_in")
    _vision_entity(hass, "entrance", "occupancy")
    await _import_visitors(hass, entrance, VISITORS, skip=RECORDER_OFF)

    await _setup(hass, mock_config_entry)

    state = get_state(hass, SENSOR)
    assert state.state == "3"  # ceil(5 / 2)
    assert state.attributes["hour_start"] == "2025-04-22T14:00:00+09:00"
    assert state.attributes["open"] is True
    assert state.attributes["expected_orders"] == 5.0
    assert state.attributes["expected_visitors"] == 12.0
    assert state.attributes["orders_per_staff_hour"] == ORDERS_PER_STAFF_HOUR
    assert state.attributes["min_staff"] == 1
    assert state.attributes["method"] == "seasonal_trend"

    # the same as core/staffing computes from the store's history (from its first order on)
    origin = NOW.replace(minute=0).astimezone(UTC)
    async with mock_config_entry.runtime_data.engine.reader() as ontology:
        counts = await hourly_orders(ontology, start=origin - timedelta(days=91), end=origin)
    first = min(hour for hour, count in counts.items() if count)
    history = {hour: float(count) for hour, count in counts.items() if hour >= first}
    orders = forecast_hourly(history, origin=origin, horizon_hours=48, tz=SEOUL)
    expected = staff_for_hour(
        origin + timedelta(hours=1),
        orders=orders,
        visitors=None,
        opening_hours={"weekdays": "08:00-21:00", "weekend": "10:00-21:00"},
        tz=SEOUL,
        orders_per_staff_hour=ORDERS_PER_STAFF_HOUR,
        min_staff=1,
    )
    assert state.state == str(expected.staff)
    assert state.attributes["expected_orders"] == round(expected.expected_orders, 1)

    # the visitor history: the recorder's day off is unknown, not a day without visitors
    visitors = mock_config_entry.runtime_data.forecast.history.visitors
    assert visitors is not None
    off = datetime.combine(RECORDER_OFF, time(14), tzinfo=SEOUL).astimezone(UTC)
    assert off not in visitors
    assert visitors[off - timedelta(days=1)] == 12
    assert visitors[off + timedelta(days=1)] == 12


async def test_hourly_refresh(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    history_store: Path,
    mock_config_entry: MockConfigEntry,
) -> None:
    """At the top of the hour the sensor moves on to the next one; no recorder: orders only."""
    freezer.move_to(NOW)
    await _setup(hass, mock_config_entry)
    state = get_state(hass, SENSOR)
    assert state.state == "3"
    assert state.attributes["expected_visitors"] is None

    freezer.move_to(NOW.replace(hour=14, minute=0, second=5))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    state = get_state(hass, SENSOR)
    assert state.attributes["hour_start"] == "2025-04-22T15:00:00+09:00"
    # open, no orders expected: the minimum staff
    assert state.state == "1"
    assert state.attributes["expected_orders"] == 0.0

    # after closing time: nobody
    freezer.move_to(NOW.replace(hour=21, minute=0, second=5))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    state = get_state(hass, SENSOR)
    assert state.attributes["hour_start"] == "2025-04-22T22:00:00+09:00"
    assert state.attributes["open"] is False
    assert state.state == "0"


async def test_store_settings_replan_at_once(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    history_store: Path,
    mock_config_entry: MockConfigEntry,
) -> None:
    """The owner changes the orders one person handles and the minimum staff: the sensor
    follows at once, not at the next hour; a sale (not a setup change) plans nothing new."""
    freezer.move_to(NOW)
    await _setup(hass, mock_config_entry)
    assert get_state(hass, SENSOR).state == "3"  # ceil(5 / 2)
    history = mock_config_entry.runtime_data.forecast.history

    await async_run_action(
        hass, mock_config_entry, "place_order", lines=[{"product": "product.croissant"}]
    )
    await async_settle(hass)
    assert mock_config_entry.runtime_data.forecast.history is history

    await async_run_action(
        hass,
        mock_config_entry,
        "update_object",
        object_id="store.store",
        properties={"orders_per_staff_hour": 5, "min_staff": 2},
    )
    await async_settle(hass)
    state = get_state(hass, SENSOR)
    assert state.attributes["orders_per_staff_hour"] == 5
    assert state.attributes["min_staff"] == 2
    assert state.state == "2"  # ceil(5 / 5) = 1, but at least 2 while open


async def test_adjust_staffing(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    history_store: Path,
    mock_config_entry: MockConfigEntry,
) -> None:
    """adjust_staffing answers tomorrow's plan per hour; overrides change the assumptions, and
    nothing in the store changes."""
    freezer.move_to(NOW)
    entrance = _vision_entity(hass, "entrance", "visitors_in")
    await _import_visitors(hass, entrance, VISITORS)
    await _setup(hass, mock_config_entry)
    audit_before = await _audit_rows(mock_config_entry)

    plan = await _plan(hass, mock_config_entry)
    assert plan["date"] == "2025-04-23"
    assert plan["method"] == "seasonal_trend"
    assert plan["orders_per_staff_hour"] == ORDERS_PER_STAFF_HOUR
    assert plan["min_staff"] == 1
    assert plan["staff_available"] == 4
    assert len(plan["hours"]) == 24
    assert plan["hours"][0]["start"] == "2025-04-23T00:00:00+09:00"
    # closed before 8 and from 21: nobody; open: at least one; busy hours: orders / 2
    assert _hour(plan, 7) == {
        "start": "2025-04-23T07:00:00+09:00",
        "end": "2025-04-23T08:00:00+09:00",
        "open": False,
        "expected_orders": 0.0,
        "expected_visitors": 0.0,
        "staff": 0,
    }
    assert _hour(plan, 8)["staff"] == 1
    assert _hour(plan, 10)["expected_orders"] == 2.0
    assert _hour(plan, 10)["expected_visitors"] == 4.0
    assert _hour(plan, 10)["staff"] == 1
    assert _hour(plan, 14)["expected_orders"] == 5.0
    assert _hour(plan, 14)["expected_visitors"] == 12.0
    assert _hour(plan, 14)["staff"] == 3
    # the cancelled orders at 16:00 were no demand
    assert _hour(plan, 16)["expected_orders"] == 0.0
    assert _hour(plan, 21)["staff"] == 0
    assert plan["expected_orders"] == 7.0
    assert plan["total_staff_hours"] == 13 + 2  # 13 open hours, 2 more at 14
    assert plan["peak"]["start"] == "2025-04-23T14:00:00+09:00"
    assert plan["short_hours"] == []

    # one order per person and hour: 14:00 needs 5, more than the 4 staff of the store
    plan = await _plan(hass, mock_config_entry, orders_per_staff_hour=1, min_staff=2)
    assert plan["orders_per_staff_hour"] == 1
    assert plan["min_staff"] == 2
    assert _hour(plan, 8)["staff"] == 2
    assert _hour(plan, 14)["staff"] == 5
    assert plan["short_hours"] == ["2025-04-23T14:00:00+09:00"]

    # Saturday: open from 10; today: forecast from its start
    plan = await _plan(hass, mock_config_entry, date="2025-04-26")
    assert _hour(plan, 9)["staff"] == 0
    assert _hour(plan, 14)["staff"] == 3
    plan = await _plan(hass, mock_config_entry, date=TODAY.isoformat())
    assert _hour(plan, 10)["expected_orders"] == 2.0
    assert _hour(plan, 14)["staff"] == 3
    # 14 days ahead is the limit
    plan = await _plan(hass, mock_config_entry, date=TODAY + timedelta(days=14))
    assert _hour(plan, 14)["staff"] == 3

    # a suggestion: no action ran
    assert await _audit_rows(mock_config_entry) == audit_before


@pytest.mark.parametrize(
    ("data", "key", "message"),
    [
        ({"date": "tomorrow"}, "invalid_type", "date must be a date (YYYY-MM-DD)"),
        (
            {"date": "2025-04-21"},
            "out_of_range",
            "date is 2025-04-21, but it must be >= 2025-04-22",
        ),
        (
            {"date": "2025-05-07"},
            "out_of_range",
            "date is 2025-05-07, but it must be <= 2025-05-06",
        ),
        (
            {"orders_per_staff_hour": 0},
            "out_of_range",
            "orders_per_staff_hour is 0, but it must be >= 0.1",
        ),
        (
            {"orders_per_staff_hour": "many"},
            "invalid_type",
            "orders_per_staff_hour must be a number",
        ),
        ({"min_staff": 1.5}, "invalid_type", "min_staff must be an integer"),
        ({"min_staff": -1}, "out_of_range", "min_staff is -1, but it must be >= 0"),
        ({"min_staff": 101}, "out_of_range", "min_staff is 101, but it must be <= 100"),
    ],
)
async def test_adjust_staffing_bad_input(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    data: dict[str, Any],
    key: str,
    message: str,
) -> None:
    """Bad days and assumptions are translated errors naming the field."""
    freezer.move_to(NOW)
    with pytest.raises(ServiceValidationError) as err:
        await _plan(hass, init_integration, **data)
    assert err.value.translation_key == key
    assert str(err.value) == message


async def test_staff_plan_for_the_assistant(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, init_integration: MockConfigEntry
) -> None:
    """async_staff_plan (the assistant's tool calls it) checks its arguments as well; a store
    without any order forecasts nothing and asks for the minimum staff while open."""
    freezer.move_to(NOW)
    plan = await async_staff_plan(hass, init_integration)
    assert plan.method == "none"
    assert plan.orders_per_staff_hour == 18  # the demo cafe's
    assert [hour.staff for hour in plan.hours] == [0] * 8 + [1] * 13 + [0] * 3
    with pytest.raises(ServiceValidationError) as err:
        await async_staff_plan(hass, init_integration, TODAY - timedelta(days=1))
    assert err.value.translation_placeholders == {
        "field": "date",
        "value": "2025-04-21",
        "limit": ">= 2025-04-22",
    }


async def test_history_read_failure_keeps_the_entry(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    history_store: Path,
    mock_config_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A store that cannot be read at setup leaves the entry loaded and the sensor unavailable
    until an hourly refresh reads it; one that fails later forecasts from the last history."""
    freezer.move_to(NOW)
    unreachable = StoreUnavailableError("disk I/O error")
    with patch("custom_components.careon.forecast.hourly_orders", side_effect=unreachable):
        await _setup(hass, mock_config_entry)
        assert mock_config_entry.state is ConfigEntryState.LOADED
        assert get_state(hass, SENSOR).state == STATE_UNAVAILABLE
        # the action refuses with the store's error
        with pytest.raises(HomeAssistantError, match="disk I/O error"):
            await _plan(hass, mock_config_entry)

    freezer.move_to(NOW.replace(hour=14, minute=0, second=5))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    state = get_state(hass, SENSOR)
    assert state.state == "1"
    assert state.attributes["hour_start"] == "2025-04-22T15:00:00+09:00"

    # the next hour's read fails: the forecast moves on from the history read at 14:00
    with patch("custom_components.careon.forecast.hourly_orders", side_effect=unreachable):
        freezer.move_to(NOW.replace(hour=15, minute=0, second=5))
        async_fire_time_changed(hass)
        await hass.async_block_till_done(wait_background_tasks=True)
    state = get_state(hass, SENSOR)
    assert state.attributes["hour_start"] == "2025-04-22T16:00:00+09:00"
    assert state.state == "1"
    assert "forecasting from the history read at 2025-04-22T05:00:00+00:00" in caplog.text


async def test_visitor_statistics_failure_forecasts_orders(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    history_store: Path,
    mock_config_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The recorder failing to answer leaves the visitors out, not the forecast."""
    freezer.move_to(NOW)
    _vision_entity(hass, "entrance", "visitors_in")
    with patch(
        "homeassistant.components.recorder.statistics.statistics_during_period",
        side_effect=OSError("database is locked"),
    ):
        await _setup(hass, mock_config_entry)
    state = get_state(hass, SENSOR)
    assert state.state == "3"
    assert state.attributes["expected_visitors"] is None
    assert "Cannot read the visitor statistics of sensor.careon_vision_entrance_visitors_in" in (
        caplog.text
    )


async def test_options_choose_visitor_sensors(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    history_store: Path,
    mock_config_entry: MockConfigEntry,
) -> None:
    """Without a choice every CareOn Vision camera's visitors-in sensor counts; the options
    choose others (a door counter of another integration), and clearing them goes back."""
    freezer.move_to(NOW)
    entrance = _vision_entity(hass, "entrance", "visitors_in")
    hall = _vision_entity(hass, "front_hall", "visitors_in")
    door = "sensor.door_counter"
    await _import_visitors(hass, entrance, {14: 7})
    await _import_visitors(hass, hall, {14: 5})
    await _import_visitors(hass, door, {14: 30})
    await _setup(hass, mock_config_entry)
    assert visitor_sensors(hass, mock_config_entry) == [entrance, hall]
    # both cameras count
    assert get_state(hass, SENSOR).attributes["expected_visitors"] == 12.0

    result = await hass.config_entries.options.async_init(mock_config_entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_DAY_START_HOUR: 0, CONF_VISITOR_SENSORS: [door]}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert mock_config_entry.options == {CONF_DAY_START_HOUR: 0, CONF_VISITOR_SENSORS: [door]}
    await hass.async_block_till_done(wait_background_tasks=True)
    assert visitor_sensors(hass, mock_config_entry) == [door]
    assert get_state(hass, SENSOR).attributes["expected_visitors"] == 30.0

    result = await hass.config_entries.options.async_init(mock_config_entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_DAY_START_HOUR: 0, CONF_VISITOR_SENSORS: []}
    )
    assert mock_config_entry.options == {CONF_DAY_START_HOUR: 0}
    assert visitor_sensors(hass, mock_config_entry) == [entrance, hall]


async def test_vision_entities(hass: HomeAssistant) -> None:
    """CareOn Vision's entities are found by their unique ids; the camera comes from the device
    (camera ids may hold underscores), else from the known keys at the end."""
    _vision_entity(hass, "entrance", "visitors_in")
    _vision_entity(hass, "back_door", "zone_counter_occupancy")
    # a camera named like a zone: its device tells
    _vision_entity(hass, "door_zone_x", "occupancy")
    registry = er.async_get(hass)
    # no device: the keys at the end
    registry.async_get_or_create(
        "sensor", "mqtt", "careon_vision_side_gate_line_door_in", suggested_object_id="gate_in"
    )
    # not CareOn Vision's, or not MQTT
    registry.async_get_or_create("sensor", "mqtt", "other_visitors_in")
    registry.async_get_or_create("sensor", "template", "careon_vision_fake_visitors_in")

    assert vision_entities(hass) == [
        VisionEntity(
            entity_id="sensor.careon_vision_back_door_zone_counter_occupancy",
            camera="back_door",
            key="zone_counter_occupancy",
        ),
        VisionEntity(
            entity_id="sensor.careon_vision_door_zone_x_occupancy",
            camera="door_zone_x",
            key="occupancy",
        ),
        VisionEntity(
            entity_id="sensor.careon_vision_entrance_visitors_in",
            camera="entrance",
            key="visitors_in",
        ),
        VisionEntity(entity_id="sensor.gate_in", camera="side_gate", key="line_door_in"),
    ]


@pytest.mark.usefixtures("vision")
async def test_vision_entities_discovered(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    """The entities CareOn Vision's real discovery payloads create in the MQTT integration: two
    cameras, one with two lines and two zones; the visitor sensors are the cameras' visitors in."""
    found = {(entity.camera, entity.key): entity.entity_id for entity in vision_entities(hass)}
    common = {"visitors_in", "visitors_out", "occupancy", "fps", "inference_ms", "dropped_frames"}
    assert set(found) == {
        *(("entrance", key) for key in common),
        ("entrance", "heatmap"),
        ("entrance", "line_door_in"),
        ("entrance", "line_door_out"),
        ("entrance", "line_side_gate_in"),
        ("entrance", "line_side_gate_out"),
        ("entrance", "zone_counter_occupancy"),
        ("entrance", "zone_counter_dwell"),
        ("entrance", "zone_window_occupancy"),
        ("entrance", "zone_window_dwell"),
        *(("hall", key) for key in common),
        ("hall", "heatmap"),
    }
    assert found["entrance", "heatmap"] == "image.careon_vision_entrance_heatmap"
    assert visitor_sensors(hass, mock_config_entry) == [
        "sensor.careon_vision_entrance_visitors_in",
        "sensor.careon_vision_hall_visitors_in",
    ]


def test_visitors_per_hour() -> None:
    """An hour's visitors are the sums' increase; gaps and decreases are unknown; a sensor
    counts only between its first and last statistics."""
    start = datetime(2025, 4, 1, tzinfo=UTC)
    hours = [start + timedelta(hours=i) for i in range(8)]
    end = hours[-1] + timedelta(hours=1)
    sums = {
        # hour 3 missing (recorder off): hours 3 and 4 unknown; hour 6 decreased
        "sensor.a": {
            hours[0]: 10,
            hours[1]: 12,
            hours[2]: 15,
            hours[4]: 20,
            hours[5]: 21,
            hours[6]: 1,
            hours[7]: 3,
        },
        # added at hour 5: counts from hour 6 on
        "sensor.b": {hours[5]: 100, hours[6]: 104, hours[7]: 110},
    }
    assert visitors_per_hour(sums, start=start, end=end) == {
        hours[1]: 2,
        hours[2]: 3,
        hours[5]: 1,
        hours[7]: 2 + 6,
    }
    # a sensor that stopped (its camera removed) no longer decides
    sums["sensor.b"] = {hours[0]: 0, hours[1]: 5}
    assert visitors_per_hour(sums, start=start, end=end) == {
        hours[1]: 2 + 5,
        hours[2]: 3,
        hours[5]: 1,
        hours[7]: 2,
    }
    assert visitors_per_hour({}, start=start, end=end) == {}
