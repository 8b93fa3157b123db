"""Tests of CareOn's product availability switches."""

from __future__ import annotations

from pathlib import Path

from homeassistant.const import (
    ATTR_ENTITY_ID,
    SERVICE_TURN_OFF,
    SERVICE_TURN_ON,
    STATE_OFF,
    STATE_ON,
    Platform,
)
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    MockUser,
    async_capture_events,
    snapshot_platform,
)
from syrupy.assertion import SnapshotAssertion

from custom_components.careon.const import DOMAIN

from .conftest import async_settle, async_setup_platform, get_state

CROISSANT = "switch.careon_cafe_beoteo_keuruasang_on_sale"


@pytest.mark.usefixtures("entity_registry_enabled_by_default", "demo_store")
async def test_switches(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    """One availability switch per product."""
    await async_setup_platform(hass, mock_config_entry, Platform.SWITCH)
    await snapshot_platform(hass, entity_registry, snapshot, mock_config_entry.entry_id)
    assert await hass.config_entries.async_unload(mock_config_entry.entry_id)


async def test_turn_off_on(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_admin_user: MockUser
) -> None:
    """Switching runs update_availability as the user, from the entity."""
    actions = async_capture_events(hass, "careon_action")
    changed = async_capture_events(hass, "careon_product_availability_changed")
    context = Context(user_id=hass_admin_user.id)
    await hass.services.async_call(
        Platform.SWITCH,
        SERVICE_TURN_OFF,
        {ATTR_ENTITY_ID: CROISSANT},
        blocking=True,
        context=context,
    )
    await async_settle(hass)
    assert get_state(hass, CROISSANT).state == STATE_OFF
    assert actions[0].data["actor"] == f"user:{hass_admin_user.id}"
    assert actions[0].data["source"] == "entity"
    assert changed[0].data["reason"] == "manual"

    await hass.services.async_call(
        Platform.SWITCH, SERVICE_TURN_ON, {ATTR_ENTITY_ID: CROISSANT}, blocking=True
    )
    await async_settle(hass)
    assert get_state(hass, CROISSANT).state == STATE_ON
    assert actions[1].data["actor"] == "homeassistant"


async def test_stock_out_turns_off(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """A product that can no longer be made goes off by itself, and back on when restocked."""
    for qty in (0, 5):
        await hass.services.async_call(
            DOMAIN,
            "adjust_inventory",
            {
                "config_entry_id": init_integration.entry_id,
                "item": "inventory_item.croissant",
                "mode": "count",
                "qty": qty,
            },
            blocking=True,
        )
        await async_settle(hass)
        assert get_state(hass, CROISSANT).state == (STATE_OFF if qty == 0 else STATE_ON)


async def test_product_removed(
    hass: HomeAssistant, init_integration: MockConfigEntry, entity_registry: er.EntityRegistry
) -> None:
    """A product that was never sold can be deleted; its switch goes with it."""
    await hass.services.async_call(
        DOMAIN,
        "delete_object",
        {"config_entry_id": init_integration.entry_id, "object_id": "product.croissant"},
        blocking=True,
    )
    await async_settle(hass)
    assert entity_registry.async_get(CROISSANT) is None
    assert hass.states.get(CROISSANT) is None


async def test_switch_errors(
    hass: HomeAssistant, init_integration: MockConfigEntry, store_path: Path
) -> None:
    """Failures come back translated."""
    # The product disappears before the switch hears of it: the engine names it.
    engine = init_integration.runtime_data.engine
    await engine.execute(
        "delete_object", {"object_id": "product.croissant"}, actor="test", source="test"
    )
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            Platform.SWITCH, SERVICE_TURN_OFF, {ATTR_ENTITY_ID: CROISSANT}, blocking=True
        )
    assert err.value.translation_key == "object_not_found"
    await async_settle(hass)

    await engine.close()
    store_path.rename(store_path.with_suffix(".moved"))
    store_path.mkdir()
    with pytest.raises(HomeAssistantError) as unavailable:
        await hass.services.async_call(
            Platform.SWITCH,
            SERVICE_TURN_OFF,
            {ATTR_ENTITY_ID: "switch.careon_cafe_malca_radde_on_sale"},
            blocking=True,
        )
    assert unavailable.value.translation_key == "database_unavailable"
    store_path.rmdir()
    store_path.with_suffix(".moved").rename(store_path)
