"""Tests of CareOn's sensors."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, snapshot_platform
from syrupy.assertion import SnapshotAssertion

from custom_components.careon.const import DOMAIN
from custom_components.careon.sensor import MAX_ALARMS_LISTED

from .conftest import (
    async_call_careon,
    async_run_action,
    async_settle,
    async_setup_platform,
    get_state,
)

OPEN_PURCHASE_ORDERS = "sensor.careon_cafe_open_purchase_orders"
ACTIVE_ALARMS = "sensor.careon_cafe_active_alarms"
ESPRESSO_NEXT = "sensor.careon_cafe_eseupeureso_meosin_next_maintenance"
ESPRESSO_RUNTIME = "sensor.careon_cafe_eseupeureso_meosin_runtime"


@pytest.mark.usefixtures("entity_registry_enabled_by_default", "demo_store")
async def test_sensors(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The store's sensors and one stock sensor per inventory item."""
    freezer.move_to("2025-04-20 03:00:00+00:00")
    await async_setup_platform(hass, mock_config_entry, Platform.SENSOR)
    await async_call_careon(
        hass,
        mock_config_entry,
        "place_order",
        lines=[{"product": "product.latte_ice", "qty": 2}],
    )
    await snapshot_platform(hass, entity_registry, snapshot, mock_config_entry.entry_id)
    assert await hass.config_entries.async_unload(mock_config_entry.entry_id)


async def test_item_follows_object(
    hass: HomeAssistant, init_integration: MockConfigEntry, entity_registry: er.EntityRegistry
) -> None:
    """A new item gets its sensors; a renamed one is renamed; a deleted one is removed."""
    entry_id = init_integration.entry_id
    await async_call_careon(
        hass,
        init_integration,
        "create_object",
        object_type="InventoryItem",
        key="honey",
        name="꿀",
        properties={"unit": "kg", "on_hand": 2.5, "reorder_point": 1},
    )
    sensor_id = entity_registry.async_get_entity_id(
        "sensor", DOMAIN, f"{entry_id}_inventory_item.honey_quantity"
    )
    binary_id = entity_registry.async_get_entity_id(
        "binary_sensor", DOMAIN, f"{entry_id}_inventory_item.honey_low_stock"
    )
    assert sensor_id == "sensor.careon_cafe_ggul_stock"
    assert binary_id == "binary_sensor.careon_cafe_ggul_low_stock"
    state = get_state(hass, sensor_id)
    assert state.state == "2.5"
    assert state.attributes["unit_of_measurement"] == "kg"
    assert state.attributes["device_class"] == "weight"
    assert state.attributes["reorder_point"] == 1
    assert state.attributes["par_level"] is None
    assert get_state(hass, binary_id).state == "off"

    await async_call_careon(
        hass,
        init_integration,
        "update_object",
        object_id="inventory_item.honey",
        name="아카시아 꿀",
        properties={"unit": "l"},
    )
    state = get_state(hass, sensor_id)
    assert state.attributes["friendly_name"] == "CareOn Cafe 아카시아 꿀 stock"
    assert state.attributes["unit_of_measurement"] == "L"
    assert state.attributes["device_class"] == "volume_storage"

    await async_call_careon(
        hass, init_integration, "delete_object", object_id="inventory_item.honey"
    )
    assert entity_registry.async_get(sensor_id) is None
    assert entity_registry.async_get(binary_id) is None
    assert hass.states.get(sensor_id) is None
    assert hass.states.get(binary_id) is None

    # The same object again: its entities come back.
    await async_call_careon(
        hass,
        init_integration,
        "create_object",
        object_type="InventoryItem",
        key="honey",
        name="꿀",
        properties={"unit": "ea"},
    )
    state = get_state(hass, sensor_id)
    assert state.state == "0"
    assert "device_class" not in state.attributes
    assert "unit_of_measurement" not in state.attributes


async def test_stale_entities_removed_at_setup(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    demo_store: object,
) -> None:
    """Entities of objects deleted while Home Assistant was off are removed at startup."""
    mock_config_entry.add_to_hass(hass)
    stale = entity_registry.async_get_or_create(
        "sensor",
        DOMAIN,
        f"{mock_config_entry.entry_id}_inventory_item.gone_quantity",
        config_entry=mock_config_entry,
    )
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert entity_registry.async_get(stale.entity_id) is None
    assert await hass.config_entries.async_unload(mock_config_entry.entry_id)


async def test_work_in_progress(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """The store counts its open purchase orders and its unresolved alarms."""

    async def run(action: str, **params: Any) -> dict[str, Any]:
        return await async_run_action(hass, init_integration, action, **params)

    assert get_state(hass, OPEN_PURCHASE_ORDERS).state == "0"
    for item in ("inventory_item.espresso_beans", "inventory_item.milk"):
        await run("adjust_inventory", item=item, mode="count", qty=0)
    ordered = await run("auto_reorder")
    assert len(ordered["purchase_orders"]) == 2
    assert get_state(hass, OPEN_PURCHASE_ORDERS).state == "2"
    await run(
        "receive_purchase_order", purchase_order=ordered["purchase_orders"][0]["purchase_order_id"]
    )
    assert get_state(hass, OPEN_PURCHASE_ORDERS).state == "1"

    assert get_state(hass, ACTIVE_ALARMS).state == "0"
    alarm = await run(
        "raise_alarm", kind="cold_chain", subject="equipment.display_fridge", value=9, limit=5
    )
    await run("raise_alarm", kind="door_open", severity="info")
    assert get_state(hass, ACTIVE_ALARMS).state == "2"
    await run("acknowledge_alarm", alarm=alarm["alarm_id"])
    assert get_state(hass, ACTIVE_ALARMS).state == "2"
    await run("resolve_alarm", alarm=alarm["alarm_id"])
    assert get_state(hass, ACTIVE_ALARMS).state == "1"


async def test_active_alarms_listed(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, init_integration: MockConfigEntry
) -> None:
    """The active alarms sensor lists the unresolved alarms, the most severe and then the
    latest first, at most MAX_ALARMS_LISTED of them; a resolved alarm leaves the list."""
    assert get_state(hass, ACTIVE_ALARMS).attributes["alarms"] == []

    freezer.move_to("2025-04-20 03:00:00+00:00")
    fridge = await async_call_careon(
        hass,
        init_integration,
        "raise_alarm",
        kind="cold_chain",
        severity="warning",
        subject="equipment.display_fridge",
        value=7.5,
        limit=5,
        unit="°C",
        message="쇼케이스 온도 높음",
    )
    freezer.tick(timedelta(minutes=5))
    door = await async_call_careon(
        hass, init_integration, "raise_alarm", kind="door_open", severity="info"
    )
    freezer.tick(timedelta(minutes=5))
    await async_call_careon(
        hass,
        init_integration,
        "escalate_alarm",
        alarm=fridge["alarm_id"],
        notified="notify.mobile_app_owner",
        severity="critical",
    )
    state = get_state(hass, ACTIVE_ALARMS)
    assert state.state == "2"
    assert state.attributes["alarms"] == [
        {
            "id": fridge["alarm_id"],
            "name": "쇼케이스 냉장고 · cold_chain",
            "kind": "cold_chain",
            "subject": "쇼케이스 냉장고",
            "severity": "critical",
            "status": "active",
            "level": 1,
            "message": "쇼케이스 온도 높음",
            "raised_at": "2025-04-20T03:00:00.000000+00:00",
        },
        {
            "id": door["alarm_id"],
            "name": "door_open",
            "kind": "door_open",
            "subject": None,
            "severity": "info",
            "status": "active",
            "level": 0,
            "message": None,
            "raised_at": "2025-04-20T03:05:00.000000+00:00",
        },
    ]

    await async_call_careon(hass, init_integration, "resolve_alarm", alarm=fridge["alarm_id"])
    state = get_state(hass, ACTIVE_ALARMS)
    assert state.state == "1"
    assert [alarm["id"] for alarm in state.attributes["alarms"]] == [door["alarm_id"]]

    # many alarms: the list keeps the most severe ones and the latest of the others
    for number in range(MAX_ALARMS_LISTED + 1):
        freezer.tick(timedelta(minutes=1))
        await async_run_action(
            hass,
            init_integration,
            "raise_alarm",
            kind=f"probe_{number}",
            severity="critical" if number == 0 else "warning",
        )
    state = get_state(hass, ACTIVE_ALARMS)
    assert state.state == str(MAX_ALARMS_LISTED + 2)
    kinds = [alarm["kind"] for alarm in state.attributes["alarms"]]
    assert kinds == ["probe_0", *(f"probe_{n}" for n in range(MAX_ALARMS_LISTED, 1, -1))]


async def test_equipment_sensors(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, init_integration: MockConfigEntry
) -> None:
    """Next maintenance is the earliest due of the open tasks; runtime hours count up and
    start again after a maintenance by runtime."""
    # timestamps show whole seconds
    setup_time = dt_util.utcnow().replace(microsecond=0)

    async def run(action: str, **params: Any) -> dict[str, Any]:
        return await async_run_action(hass, init_integration, action, **params)

    await async_settle(hass)  # the plans' tasks opened at setup
    state = get_state(hass, ESPRESSO_NEXT)
    assert state.attributes["device_class"] == "timestamp"
    assert dt_util.parse_datetime(state.state) == setup_time + timedelta(days=7)
    assert state.attributes["task"] == "백플러시 및 샤워스크린 세척"
    runtime = get_state(hass, ESPRESSO_RUNTIME)
    assert runtime.state == "0"
    assert runtime.attributes["unit_of_measurement"] == "h"
    assert runtime.attributes["device_class"] == "duration"
    assert runtime.attributes["state_class"] == "total_increasing"
    assert runtime.attributes["maintenance_runtime_hours"] == 600

    await run("record_runtime", equipment="equipment.espresso_machine", hours=2.5)
    assert get_state(hass, ESPRESSO_RUNTIME).state == "2.5"

    # a day later the backflush is done early: the next one is a week from now
    freezer.tick(timedelta(days=1))
    tasks = {
        task.get("reason"): task.id
        for task in init_integration.runtime_data.coordinator.data.open_tasks(
            "equipment.espresso_machine"
        )
    }
    await run("complete_maintenance", task=tasks["time"])
    state = get_state(hass, ESPRESSO_NEXT)
    assert dt_util.parse_datetime(state.state) == setup_time + timedelta(days=8)

    await run("record_runtime", equipment="equipment.espresso_machine", hours=600)
    runtime = get_state(hass, ESPRESSO_RUNTIME)
    assert runtime.state == "602.5"
    assert runtime.attributes["total_runtime_hours"] == 602.5
    await run("complete_maintenance", task=tasks["usage"])
    runtime = get_state(hass, ESPRESSO_RUNTIME)
    assert runtime.state == "0"
    assert runtime.attributes["total_runtime_hours"] == 602.5


async def test_equipment_follows_object(
    hass: HomeAssistant, init_integration: MockConfigEntry, entity_registry: er.EntityRegistry
) -> None:
    """New equipment gets its maintenance entities; equipment deleted loses them."""
    entry_id = init_integration.entry_id
    await async_call_careon(
        hass,
        init_integration,
        "create_object",
        object_type="Equipment",
        key="blender",
        name="블렌더",
        properties={"kind": "blender"},
    )
    entity_ids = {
        (platform, key): entity_registry.async_get_entity_id(
            platform, DOMAIN, f"{entry_id}_equipment.blender_{key}"
        )
        for platform, key in (
            ("sensor", "next_maintenance"),
            ("sensor", "runtime_hours"),
            ("binary_sensor", "maintenance_due"),
        )
    }
    assert entity_ids == {
        ("sensor", "next_maintenance"): "sensor.careon_cafe_beulrendeo_next_maintenance",
        ("sensor", "runtime_hours"): "sensor.careon_cafe_beulrendeo_runtime",
        (
            "binary_sensor",
            "maintenance_due",
        ): "binary_sensor.careon_cafe_beulrendeo_maintenance_due",
    }
    assert get_state(hass, "sensor.careon_cafe_beulrendeo_next_maintenance").state == "unknown"
    assert get_state(hass, "sensor.careon_cafe_beulrendeo_runtime").state == "0"
    assert get_state(hass, "binary_sensor.careon_cafe_beulrendeo_maintenance_due").state == "off"

    await async_call_careon(hass, init_integration, "delete_object", object_id="equipment.blender")
    for entity_id in entity_ids.values():
        assert entity_id is not None
        assert entity_registry.async_get(entity_id) is None
        assert hass.states.get(entity_id) is None
    # the items' stock sensors stay
    assert hass.states.get("sensor.careon_cafe_eseupeureso_weondu_stock") is not None
