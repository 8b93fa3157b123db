"""Tests of the maintenance scheduler: check_maintenance runs when the store has work for it."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
)

from .conftest import async_call_careon, async_settle

START = datetime.fromisoformat("2025-05-05T00:00:00+00:00")  # 09:00 in Seoul


_call = async_call_careon


async def _open_tasks(hass: HomeAssistant, entry: MockConfigEntry) -> dict[str, dict[str, Any]]:
    """Open tasks by equipment and reason (equipment id '' for none)."""
    objects = (
        await _call(
            hass,
            entry,
            "query",
            object_type="MaintenanceTask",
            filters={"status": "open"},
            follow=["for"],
        )
    )["objects"]
    return {
        f"{task['links']['for'][0]['id'] if task['links']['for'] else ''}/"
        f"{task['properties']['reason']}": task
        for task in objects
    }


async def _tick(hass: HomeAssistant, freezer: FrozenDateTimeFactory, delta: timedelta) -> None:
    freezer.tick(delta)
    async_fire_time_changed(hass)
    await async_settle(hass)


def _checks(actions: list[Any]) -> list[dict[str, Any]]:
    return [
        event.data["result"] for event in actions if event.data["action"] == "check_maintenance"
    ]


async def test_schedule(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
    demo_store: Path,
) -> None:
    """Plans get their tasks at setup; tasks are announced when they come due; the timer
    follows completed, added and moved tasks, and stops with the entry."""
    freezer.move_to(START)
    actions = async_capture_events(hass, "careon_action")
    due = async_capture_events(hass, "careon_maintenance_due")
    entry = mock_config_entry
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await async_settle(hass)

    # setup: every plan of the demo's equipment was missing its task
    [check] = _checks(actions)
    assert [a.data["source"] for a in actions] == ["schedule"]
    assert len(check["created"]) == 7
    assert check["due"] == []
    tasks = await _open_tasks(hass, entry)
    assert tasks["equipment.espresso_machine/time"]["properties"]["due"].startswith("2025-05-12")
    assert "equipment.espresso_machine/usage" in tasks
    scheduler = entry.runtime_data.maintenance
    # the earliest due: the espresso machine's weekly backflush
    assert scheduler.next_check == START + timedelta(days=7)

    await _tick(hass, freezer, timedelta(days=6, hours=23))
    assert due == []
    await _tick(hass, freezer, timedelta(hours=1))
    assert [(e.data["equipment_id"], e.data["reason"]) for e in due] == [
        ("equipment.espresso_machine", "time")
    ]
    assert _checks(actions)[-1]["due"][0]["name"] == "백플러시 및 샤워스크린 세척"
    assert [a.data["source"] for a in actions if a.data["action"] == "check_maintenance"] == [
        "schedule",
        "schedule",
    ]
    # announced: no longer what the next check waits for (the grinder, two weeks in)
    assert scheduler.next_check == START + timedelta(days=14)

    task = tasks["equipment.espresso_machine/time"]
    await _call(hass, entry, "complete_maintenance", task=task["id"])
    now = dt_util.utcnow()
    # the plan's next backflush is a week from now, still before the grinder
    assert scheduler.next_check == now + timedelta(days=7)

    # a one-off task due in two hours moves the timer forward
    one_off = await _call(
        hass, entry, "schedule_maintenance", name="간판 조명 교체", due=now + timedelta(hours=2)
    )
    assert scheduler.next_check == now + timedelta(hours=2)
    await _tick(hass, freezer, timedelta(hours=2))
    assert [e.data["task_id"] for e in due][-1] == one_off["tasks"][0]["task_id"]

    # new equipment with a plan: checked at once, its task opened
    await _call(
        hass,
        entry,
        "create_object",
        object_type="Equipment",
        name="제빙기 2호",
        key="ice_maker_2",
        properties={"kind": "ice_maker", "maintenance_interval_days": 30},
    )
    assert _checks(actions)[-1]["created"][0]["equipment_id"] == "equipment.ice_maker_2"
    assert "equipment.ice_maker_2/time" in await _open_tasks(hass, entry)

    # unloaded: no more checks
    checks = len(_checks(actions))
    assert await hass.config_entries.async_unload(entry.entry_id)
    await _tick(hass, freezer, timedelta(days=30))
    assert len(_checks(actions)) == checks
    assert scheduler.next_check is None


async def test_reload_runs_no_check_when_nothing_is_pending(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, init_integration: MockConfigEntry
) -> None:
    """A restart checks only when something is pending: a task that came due meanwhile."""
    entry = init_integration
    actions = async_capture_events(hass, "careon_action")
    due = async_capture_events(hass, "careon_maintenance_due")
    assert await hass.config_entries.async_reload(entry.entry_id)
    await async_settle(hass)
    assert _checks(actions) == []

    assert await hass.config_entries.async_unload(entry.entry_id)
    freezer.tick(timedelta(days=8))  # Home Assistant was off when the backflush came due
    assert await hass.config_entries.async_setup(entry.entry_id)
    await async_settle(hass)
    [check] = _checks(actions)
    assert [task["equipment_id"] for task in check["due"]] == ["equipment.espresso_machine"]
    assert [e.data["equipment_id"] for e in due] == ["equipment.espresso_machine"]
