"""Tests of CareOn's diagnostics."""

from __future__ import annotations

from typing import Any

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion
from syrupy.filters import props

from custom_components.careon.const import DOMAIN


def _plan_tasks(*, data: Any, path: Any) -> Any:
    """The maintenance tasks the plans open at setup have random ids and are due some days
    from now."""
    if isinstance(data, str) and data.startswith("maintenance_task."):
        return "maintenance_task.<random>"
    if isinstance(data, str) and path and path[-1][0] == "due":
        return "<due>"
    return data


async def test_diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    init_integration: MockConfigEntry,
    snapshot: SnapshotAssertion,
) -> None:
    """Diagnostics show the store with personal data redacted."""
    for object_type, name, properties in (
        ("Customer", "김민지", {"phone": "010-1234-5678", "loyalty_points": 120}),
        ("Staff", "이준호", {"role": "barista"}),
    ):
        await hass.services.async_call(
            DOMAIN,
            "create_object",
            {
                "config_entry_id": init_integration.entry_id,
                "object_type": object_type,
                "key": "regular",
                "name": name,
                "properties": properties,
            },
            blocking=True,
        )
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, init_integration)

    assert diagnostics["entry"]["data"]["database_url"].endswith("/careon_test.db")
    customer = next(o for o in diagnostics["objects"] if o["id"] == "customer.regular")
    assert customer["name"] == "**REDACTED**"
    assert customer["properties"] == {"phone": "**REDACTED**", "loyalty_points": 120}
    supplier = next(o for o in diagnostics["objects"] if o["id"] == "supplier.beans")
    assert supplier["properties"]["phone"] == "**REDACTED**"
    assert "김민지" not in str(diagnostics)
    assert "이준호" not in str(diagnostics)
    assert diagnostics == snapshot(
        exclude=props("database_url", "created_at", "updated_at", "version"),
        matcher=_plan_tasks,
    )


async def test_diagnostics_redacts_password(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    init_integration: MockConfigEntry,
) -> None:
    """A database URL's password never shows."""
    hass.config_entries.async_update_entry(
        init_integration,
        data={
            **init_integration.data,
            "database_url": "postgresql+asyncpg://careon:s3cret@db.local:5432/careon",
        },
    )
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, init_integration)
    assert diagnostics["entry"]["data"]["database_url"] == (
        "postgresql+asyncpg://careon:***@db.local:5432/careon"
    )
    assert "s3cret" not in str(diagnostics)
