"""Tests of CareOn's sensors."""

from __future__ import annotations

from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, snapshot_platform
from syrupy.assertion import SnapshotAssertion

from custom_components.careon.const import DOMAIN

from .conftest import async_settle, get_state


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
    mock_config_entry.add_to_hass(hass)
    with patch("custom_components.careon.PLATFORMS", [Platform.SENSOR]):
        await hass.config_entries.async_setup(mock_config_entry.entry_id)
        await hass.async_block_till_done()
        await hass.services.async_call(
            DOMAIN,
            "place_order",
            {
                "config_entry_id": mock_config_entry.entry_id,
                "lines": [{"product": "product.latte_ice", "qty": 2}],
            },
            blocking=True,
        )
        await async_settle(hass)
    await snapshot_platform(hass, entity_registry, snapshot, mock_config_entry.entry_id)
    assert await hass.config_entries.async_unload(mock_config_entry.entry_id)


async def test_item_follows_object(
    hass: HomeAssistant, init_integration: MockConfigEntry, entity_registry: er.EntityRegistry
) -> None:
    """A new item gets its sensors; a renamed one is renamed; a deleted one is removed."""
    entry_id = init_integration.entry_id
    await hass.services.async_call(
        DOMAIN,
        "create_object",
        {
            "config_entry_id": entry_id,
            "object_type": "InventoryItem",
            "key": "honey",
            "name": "꿀",
            "properties": {"unit": "kg", "on_hand": 2.5, "reorder_point": 1},
        },
        blocking=True,
    )
    await async_settle(hass)
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

    await hass.services.async_call(
        DOMAIN,
        "update_object",
        {
            "config_entry_id": entry_id,
            "object_id": "inventory_item.honey",
            "name": "아카시아 꿀",
            "properties": {"unit": "l"},
        },
        blocking=True,
    )
    await async_settle(hass)
    state = get_state(hass, sensor_id)
    assert state.attributes["friendly_name"] == "CareOn Cafe 아카시아 꿀 stock"
    assert state.attributes["unit_of_measurement"] == "L"
    assert state.attributes["device_class"] == "volume_storage"

    await hass.services.async_call(
        DOMAIN,
        "delete_object",
        {"config_entry_id": entry_id, "object_id": "inventory_item.honey"},
        blocking=True,
    )
    await async_settle(hass)
    assert entity_registry.async_get(sensor_id) is None
    assert entity_registry.async_get(binary_id) is None
    assert hass.states.get(sensor_id) is None
    assert hass.states.get(binary_id) is None

    # The same object again: its entities come back.
    await hass.services.async_call(
        DOMAIN,
        "create_object",
        {
            "config_entry_id": entry_id,
            "object_type": "InventoryItem",
            "key": "honey",
            "name": "꿀",
            "properties": {"unit": "ea"},
        },
        blocking=True,
    )
    await async_settle(hass)
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
