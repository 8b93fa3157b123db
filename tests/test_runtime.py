"""Tests of the equipment runtime tracker: running hours counted from a power sensor."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
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
from custom_components.careon.core import ActionEngine, ActionResult, StoreUnavailableError
from custom_components.careon.core.database import sqlite_url

from .conftest import TIMEZONE, async_call_careon, async_settle

ESPRESSO = "equipment.espresso_machine"  # power_threshold_w 150 in the demo
POWER = "sensor.espresso_machine_power"
RUNTIME_KEY_PREFIX = "runtime:"


async def _call(hass: HomeAssistant, service: str, **data: Any) -> dict[str, Any]:
    [entry] = hass.config_entries.async_entries(DOMAIN)
    return await async_call_careon(hass, entry, service, **data)


async def _equipment(hass: HomeAssistant, object_id: str = ESPRESSO) -> dict[str, Any]:
    [found] = (await _call(hass, "query", object_ids=[object_id]))["objects"]
    return dict(found["properties"])


async def _hours(hass: HomeAssistant, object_id: str = ESPRESSO) -> float:
    return float((await _equipment(hass, object_id)).get("runtime_hours", 0))


async def _power(
    hass: HomeAssistant, watts: float | str, entity_id: str = POWER, unit: str = "W"
) -> None:
    hass.states.async_set(entity_id, str(watts), {"unit_of_measurement": unit})
    await async_settle(hass)


async def _stored_equipment(store_path: Path, object_id: str = ESPRESSO) -> dict[str, Any]:
    """An equipment as the store's database holds it (the entry's engine is closed)."""
    engine = await ActionEngine.open(sqlite_url(store_path), timezone=TIMEZONE)
    try:
        async with engine.reader() as ontology:
            equipment = await ontology.get(object_id)
    finally:
        await engine.close()
    assert equipment is not None
    return dict(equipment.properties)


def _failing_once(
    monkeypatch: pytest.MonkeyPatch, engine: ActionEngine, *, committed: bool
) -> list[str]:
    """Make the store fail the first ``record_runtime``: after committing it (the answer is
    lost) or before. Returns the idempotency keys of every ``record_runtime`` sent."""
    execute = engine.execute
    keys: list[str] = []

    async def _execute(
        action: str, params: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> ActionResult:
        if action != "record_runtime":
            return await execute(action, params, **kwargs)
        keys.append(kwargs["idempotency_key"])
        if len(keys) == 1 and not committed:
            raise StoreUnavailableError("connection lost")
        result = await execute(action, params, **kwargs)
        if len(keys) == 1:
            raise StoreUnavailableError("connection lost after COMMIT")
        return result

    monkeypatch.setattr(engine, "execute", _execute)
    return keys


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


async def test_power_in_kilowatts(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, bound: MockConfigEntry
) -> None:
    """A sensor in kW is compared with the threshold in watts (150 W)."""
    await _power(hass, 1.2, unit="kW")
    await _run_for(hass, freezer, 15)
    await _power(hass, 0.1, unit="kW")  # 100 W: idle
    await _run_for(hass, freezer, 15)
    assert await _hours(hass) == 0.25


@pytest.mark.parametrize("committed", [True, False], ids=["answer_lost", "not_written"])
async def test_failed_write_is_written_once(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    bound: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
    committed: bool,
) -> None:
    """A write the store did not answer is sent again with its key: written once, whether
    the first one committed (the engine replays it) or not."""
    keys = _failing_once(monkeypatch, bound.runtime_data.engine, committed=committed)
    await _power(hass, 1200)
    await _run_for(hass, freezer, 15)  # written, or not; unanswered either way
    assert await _hours(hass) == (0.25 if committed else 0)
    await _run_for(hass, freezer, 15)  # the next quarter, and the first one again
    await _power(hass, 0)
    assert await _hours(hass) == 0.5
    first = keys[0]
    assert first.startswith(f"{RUNTIME_KEY_PREFIX}{ESPRESSO}:")
    assert keys.count(first) == 2
    assert len(set(keys)) == 2
    await _run_for(hass, freezer, 30)  # nothing left to send
    assert len(keys) == 3
    assert (await _equipment(hass))["total_runtime_hours"] == 0.5


async def test_write_failing_while_stopping_is_sent_again(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    bound: MockConfigEntry,
    store_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A write still under way when Home Assistant stops is waited for; when it fails, it is
    sent again before the store closes."""
    engine = bound.runtime_data.engine
    execute = engine.execute
    release = asyncio.Event()
    keys: list[str] = []

    async def _execute(
        action: str, params: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> ActionResult:
        if action == "record_runtime":
            keys.append(kwargs["idempotency_key"])
            if len(keys) == 1:
                await release.wait()
                raise StoreUnavailableError("connection lost")
        return await execute(action, params, **kwargs)

    monkeypatch.setattr(engine, "execute", _execute)
    await _power(hass, 1000)
    freezer.tick(timedelta(minutes=6))
    try:
        hass.states.async_set(POWER, "0", {"unit_of_measurement": "W"})
        await asyncio.sleep(0)  # (state changes reach their listeners on the next turn)
        assert len(keys) == 1  # the write is under way
        # the tracker stops at once, waiting for the write
        hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    finally:
        release.set()  # the write fails
    await hass.async_block_till_done()
    assert keys == [keys[0], keys[0]]
    assert (await _stored_equipment(store_path))["runtime_hours"] == 0.1


async def test_hours_written_when_home_assistant_stops(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, bound: MockConfigEntry, store_path: Path
) -> None:
    """Home Assistant stopping writes the hours of a running machine before the store closes."""
    await _power(hass, 1000)
    freezer.tick(timedelta(minutes=6))
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await hass.async_block_till_done()
    assert (await _stored_equipment(store_path))["runtime_hours"] == 0.1
    assert bound.state is ConfigEntryState.LOADED
