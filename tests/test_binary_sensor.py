"""Tests of CareOn's binary sensors."""

from __future__ import annotations

from unittest.mock import patch

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, snapshot_platform
from syrupy.assertion import SnapshotAssertion

from custom_components.careon.const import DOMAIN

from .conftest import async_settle


@pytest.mark.usefixtures("entity_registry_enabled_by_default", "demo_store")
async def test_binary_sensors(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    """One low-stock binary sensor per inventory item (cheesecake counted low here)."""
    mock_config_entry.add_to_hass(hass)
    with patch("custom_components.careon.PLATFORMS", [Platform.BINARY_SENSOR]):
        await hass.config_entries.async_setup(mock_config_entry.entry_id)
        await hass.async_block_till_done()
        await hass.services.async_call(
            DOMAIN,
            "adjust_inventory",
            {
                "config_entry_id": mock_config_entry.entry_id,
                "item": "inventory_item.cheesecake",
                "mode": "count",
                "qty": 3,
            },
            blocking=True,
        )
        await async_settle(hass)
    await snapshot_platform(hass, entity_registry, snapshot, mock_config_entry.entry_id)
    assert await hass.config_entries.async_unload(mock_config_entry.entry_id)
