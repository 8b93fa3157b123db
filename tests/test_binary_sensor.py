"""Tests of CareOn's binary sensors."""

from __future__ import annotations

from datetime import timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import ATTR_ENTITY_ID, STATE_OFF, STATE_ON, Platform
from homeassistant.core import Context, HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    MockUser,
    async_fire_time_changed,
    snapshot_platform,
)
from syrupy.assertion import SnapshotAssertion

from .conftest import async_call_careon, async_settle, async_setup_platform, get_state

GRINDER_DUE = "binary_sensor.careon_cafe_geuraindeo_maintenance_due"
ESPRESSO_DUE = "binary_sensor.careon_cafe_eseupeureso_meosin_maintenance_due"


@pytest.mark.usefixtures("entity_registry_enabled_by_default", "demo_store")
async def test_binary_sensors(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    """One low-stock binary sensor per inventory item (cheesecake counted low here)."""
    await async_setup_platform(hass, mock_config_entry, Platform.BINARY_SENSOR)
    await async_call_careon(
        hass,
        mock_config_entry,
        "adjust_inventory",
        item="inventory_item.cheesecake",
        mode="count",
        qty=3,
    )
    await snapshot_platform(hass, entity_registry, snapshot, mock_config_entry.entry_id)
    assert await hass.config_entries.async_unload(mock_config_entry.entry_id)


async def test_maintenance_due(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    hass_admin_user: MockUser,
) -> None:
    """On once a task comes due (its day, or its runtime hours); off once it is done."""
    await async_settle(hass)  # the plans' tasks opened at setup
    state = get_state(hass, GRINDER_DUE)
    assert state.state == STATE_OFF
    assert state.attributes["device_class"] == "problem"
    assert state.attributes["tasks"] == []

    # two weeks later the grinder's burrs are due (the maintenance check runs on time)
    freezer.tick(timedelta(days=14, minutes=1))
    async_fire_time_changed(hass)
    await async_settle(hass)
    state = get_state(hass, GRINDER_DUE)
    assert state.state == STATE_ON
    assert state.attributes["tasks"] == ["버 청소"]
    (task,) = init_integration.runtime_data.coordinator.data.open_tasks("equipment.grinder")
    assert task.get("due_announced_at")

    # done from the maintenance list
    await hass.services.async_call(
        "todo",
        "update_item",
        {"item": task.id, "status": "completed"},
        target={ATTR_ENTITY_ID: "todo.careon_cafe_maintenance"},
        blocking=True,
        context=Context(user_id=hass_admin_user.id),
    )
    await async_settle(hass)
    assert get_state(hass, GRINDER_DUE).state == STATE_OFF

    # the espresso machine: its backflush is due, then its gasket by runtime hours
    assert get_state(hass, ESPRESSO_DUE).attributes["tasks"] == ["백플러시 및 샤워스크린 세척"]
    engine = init_integration.runtime_data.engine
    await engine.execute(
        "record_runtime",
        {"equipment": "equipment.espresso_machine", "hours": 600},
        actor="test",
        source="test",
    )
    await async_settle(hass)
    assert sorted(get_state(hass, ESPRESSO_DUE).attributes["tasks"]) == [
        "그룹 가스켓 교체",
        "백플러시 및 샤워스크린 세척",
    ]
