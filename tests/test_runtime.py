"""Tests of the equipment runtime tracker: running hours counted from a power sensor."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
)

from custom_components.careon.const import DOMAIN
from custom_components.careon.core import ActionEngine
from custom_components.careon.core.database import sqlite_url

from .conftest import TIMEZONE, async_call_careon, async_settle

ESPRESSO = "equipment.espresso_machine"  # power_threshold_w 150 in the demo
POWER = "sensor.espresso_machine_power"


async def _call(hass: HomeAssistant, service: str, **data: Any) -> dict[str, Any]:
    [entry] = hass.config_entries.async_entries(DOMAIN)
    return await async_call_careon(hass, entry, service, **data)


async def _equipment(hass: HomeAssistant, object_id: str = ESPRESSO) -> dict[str, Any]:
    [found] = (await _call(hass, "query", object_ids=[object_id]))["objects"]
    return dict(found["properties"])


async def _hours(hass: HomeAssistant, object_id: str = ESPRESSO) -> float:
    return float((await _equipment(hass, object_id)).get("runtime_hours", 0))


async def _power(hass: HomeAssistant, watts: float | str, entity_id: str = POWER) -> None:
    hass.states.async_set(entity_id, str(watts), {"unit_of_measurement": "W"})
    await async_settle(hass)


async def _run_for(hass: HomeAssistant, freezer: FrozenDateTimeFactory, minutes: int) -> None:
    """Let time pass, 15 minutes at a time (the tracker writes every 15 minutes)."""
    for _ in range(minutes // 15):
        freezer.tick(timedelta(minutes=15))
        async_fire_time_changed(hass)
        await async_settle(hass)


@pytest.fixture
async def bound(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, init_integration: MockConfigEntry
) -> MockConfigEntry:
    """The espresso machine bound to a power sensor that reads idle, with a 3 h runtime plan."""
    await _power(hass, 4)
    await _call(hass, "update_object", object_id=ESPRESSO, properties={"power_entity": POWER})
    await _call(hass, "schedule_maintenance", equipment=ESPRESSO, runtime_hours=3)
    return init_integration


async def test_runtime_accrues_and_survives_reload(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, bound: MockConfigEntry
) -> None:
    """Hours above the threshold are written to the store, while running, when stopping and
    on reload; reaching the plan's hours announces maintenance due once."""
    actions = async_capture_events(hass, "careon_action")
    due = async_capture_events(hass, "careon_maintenance_due")
    assert await _hours(hass) == 0

    await _power(hass, 1200)
    await _run_for(hass, freezer, 15)
    assert await _hours(hass) == 0.25  # written while running
    await _power(hass, 1350)  # still running: nothing starts over
    await _run_for(hass, freezer, 105)
    await _power(hass, 3)  # below the threshold: stopped
    assert await _hours(hass) == 2

    await _run_for(hass, freezer, 60)  # idle time does not count
    await _power(hass, "unavailable")
    await _run_for(hass, freezer, 30)
    assert await _hours(hass) == 2
    assert due == []

    await _power(hass, 900)
    await _run_for(hass, freezer, 30)
    freezer.tick(timedelta(minutes=7, seconds=30))
    assert await hass.config_entries.async_reload(bound.entry_id)
    await async_settle(hass)
    # the 37.5 minutes before the reload were written; the machine still runs
    assert await _hours(hass) == 2.625
    await _run_for(hass, freezer, 30)
    freezer.tick(timedelta(minutes=7, seconds=30))
    await _power(hass, 0)
    equipment = await _equipment(hass)
    assert equipment["runtime_hours"] == 3.25
    assert equipment["total_runtime_hours"] == 3.25
    assert equipment["status"] == "maintenance_due"

    await _power(hass, 2000)
    await _run_for(hass, freezer, 60)
    await _power(hass, 0)
    assert await _hours(hass) == 4.25
    # announced once, when the hours reached the plan's 3
    assert [(event.data["equipment_id"], event.data["reason"]) for event in due] == [
        (ESPRESSO, "usage")
    ]
    records = [event for event in actions if event.data["action"] == "record_runtime"]
    assert records
    assert {event.data["source"] for event in records} == {"sensor"}
    assert {event.data["actor"] for event in records} == {"homeassistant"}


async def test_binding_follows_the_store(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, bound: MockConfigEntry
) -> None:
    """Rebinding, changing the threshold or unbinding writes the hours so far; a switch
    without metering runs while it is on; new equipment is followed."""
    await _power(hass, 500)
    await _run_for(hass, freezer, 30)
    await _call(hass, "update_object", object_id=ESPRESSO, properties={"power_threshold_w": 600})
    assert await _hours(hass) == 0.5  # the half hour ran under the old threshold
    await _run_for(hass, freezer, 30)
    assert await _hours(hass) == 0.5  # 500 W is idle now

    hass.states.async_set("switch.espresso_plug", "on")
    await _call(
        hass,
        "update_object",
        object_id=ESPRESSO,
        properties={"power_entity": "switch.espresso_plug"},
    )
    await _run_for(hass, freezer, 45)
    await _call(hass, "update_object", object_id=ESPRESSO, properties={"power_entity": None})
    assert await _hours(hass) == 1.25
    await _run_for(hass, freezer, 30)
    assert await _hours(hass) == 1.25

    created = await _call(
        hass,
        "create_object",
        object_type="Equipment",
        name="블렌더",
        key="blender",
        properties={"kind": "blender", "power_entity": "sensor.blender_power"},
    )
    await _power(hass, 300, "sensor.blender_power")  # no threshold: any draw is running
    await _run_for(hass, freezer, 15)
    await _power(hass, 0, "sensor.blender_power")
    assert await _hours(hass, created["object_id"]) == 0.25


async def test_short_blips_wait(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, bound: MockConfigEntry
) -> None:
    """A run under a second is kept until there is enough to write."""
    actions = async_capture_events(hass, "careon_action")
    await _power(hass, 1000)
    freezer.tick(timedelta(milliseconds=500))
    await _power(hass, 0)
    assert [e for e in actions if e.data["action"] == "record_runtime"] == []
    await _power(hass, 1000)
    freezer.tick(timedelta(seconds=1))
    await _power(hass, 0)
    assert [e.data["result"]["runtime_hours"] for e in actions] == [
        pytest.approx(1.5 / 3600, abs=1e-6)
    ]


async def test_hours_written_when_home_assistant_stops(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, bound: MockConfigEntry, store_path: Path
) -> None:
    """Home Assistant stopping writes the hours of a running machine before the store closes."""
    await _power(hass, 1000)
    freezer.tick(timedelta(minutes=6))
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await hass.async_block_till_done()
    engine = await ActionEngine.open(sqlite_url(store_path), timezone=TIMEZONE)
    try:
        async with engine.reader() as ontology:
            espresso = await ontology.get(ESPRESSO)
    finally:
        await engine.close()
    assert espresso is not None
    assert espresso.properties["runtime_hours"] == 0.1
    assert bound.state is ConfigEntryState.LOADED
