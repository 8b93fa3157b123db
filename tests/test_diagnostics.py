"""Tests of CareOn's diagnostics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion
from syrupy.filters import props

from custom_components.careon.const import DOMAIN
from custom_components.careon.core.connectors import nice, toss_place
from custom_components.careon.diagnostics import OBJECTS_PER_TYPE
from tests.fakes.nice import FakeNice
from tests.fakes.toss_place import FakeTossPlace

from .conftest import store_entry
from .connector_helpers import (
    NICE_WEBHOOK_ID,
    TOSS_WEBHOOK_ID,
    async_setup_store,
    nice_subentry,
    toss_subentry,
)


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
    assert customer["properties"] == {
        "phone": "**REDACTED**",
        "phone_hash": "**REDACTED**",
        "loyalty_points": 120,
    }
    supplier = next(o for o in diagnostics["objects"] if o["id"] == "supplier.beans")
    assert supplier["properties"]["phone"] == "**REDACTED**"
    assert "김민지" not in str(diagnostics)
    assert "1234-5678" not in str(diagnostics)
    assert "****-5678" not in str(diagnostics)
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


@pytest.mark.usefixtures("socket_enabled")
async def test_diagnostics_of_connectors(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    demo_store: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The connectors show what they did, never their keys, their webhook or the card numbers
    and phone numbers of what they recorded."""
    async with FakeTossPlace() as toss, FakeNice() as nice_fake:
        monkeypatch.setattr(toss_place, "TOSS_PLACE_API_URL", toss.url)
        monkeypatch.setitem(nice.NICE_HOSTS, "sandbox", nice_fake.url)
        entry = await async_setup_store(
            hass, store_entry(demo_store, [toss_subentry(toss), nice_subentry(nice_fake)])
        )
        paid = nice_fake.add_payment(card_num="5361123456781234")
        await hass.services.async_call(
            DOMAIN,
            "fetch_nice_payment",
            {"config_entry_id": entry.entry_id, "tid": paid["tid"]},
            blocking=True,
        )
        await entry.runtime_data.engine.execute(
            "create_object",
            {
                "object_type": "Customer",
                "name": "단골",
                "properties": {"phone": "010-9876-5432"},
            },
            actor="test",
            source="test",
        )
        diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
        assert await hass.config_entries.async_unload(entry.entry_id)

    text = str(diagnostics)
    secrets = {
        toss.access_key,
        toss.secret_key,
        toss.webhook_secret,
        TOSS_WEBHOOK_ID,
        nice_fake.client_key,
        nice_fake.secret_key,
        NICE_WEBHOOK_ID,
    }
    assert [secret for secret in secrets if secret in text] == []
    # the phone in any form, even masked (times in the text may hold the same digits)
    assert "9876-5432" not in text
    assert "98765432" not in text
    assert "-5432" not in text
    assert "56781234" not in text
    subentries = {s["subentry_type"]: s for s in diagnostics["entry"]["subentries"]}
    assert subentries["toss_place"] == {
        "subentry_type": "toss_place",
        "title": "Toss Place",
        "unique_id": "**REDACTED**",
        "data": {
            "access_key": "**REDACTED**",
            "secret_key": "**REDACTED**",
            "merchant_id": toss.merchant_id,
            "webhook_secret": "**REDACTED**",
            "webhook_id": "**REDACTED**",
        },
    }
    assert subentries["nice_payments"]["data"] == {
        "client_key": "**REDACTED**",
        "secret_key": "**REDACTED**",
        "mode": "sandbox",
        "webhook_id": "**REDACTED**",
    }
    connectors = diagnostics["connectors"]
    assert set(connectors) == {"toss_place", "nice_payments"}
    assert connectors["nice_payments"]["mode"] == "sandbox"
    assert connectors["nice_payments"]["stats"]["payments"] == 1
    assert connectors["toss_place"]["webhook_registered"] is True
    payment = next(o for o in diagnostics["objects"] if o["type"] == "Payment")
    assert payment["properties"]["card"] == "**REDACTED**"
    assert payment["properties"]["amount"] == paid["amount"]
    assert diagnostics["snapshot"]["unreconciled_payments"] == 1


async def test_diagnostics_are_bounded(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, init_integration: MockConfigEntry
) -> None:
    """However many orders the store has taken, diagnostics count them all and show only the
    ones changed last (OBJECTS_PER_TYPE), their free-text notes redacted."""
    engine = init_integration.runtime_data.engine
    for number in range(OBJECTS_PER_TYPE + 15):
        await engine.execute(
            "place_order",
            {"lines": [{"product": "product.latte_hot"}], "note": f"010-5555-{number:04d} 포장"},
            actor="test",
            source="test",
        )
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, init_integration)
    orders = [obj for obj in diagnostics["objects"] if obj["type"] == "Order"]
    assert diagnostics["counts"]["Order"] == OBJECTS_PER_TYPE + 15
    assert len(orders) == OBJECTS_PER_TYPE
    assert diagnostics["objects_per_type"] == OBJECTS_PER_TYPE
    assert {order["properties"]["note"] for order in orders} == {"**REDACTED**"}
    assert "010-5555" not in str(diagnostics)
