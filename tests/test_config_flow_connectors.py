"""Tests of the connectors' config flows: adding Toss Place and NICE Payments to a store
(config subentries), reconfiguring and removing them, and reauthentication when a vendor
refuses the keys. The vendors are the fake servers of tests/fakes on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from pathlib import Path
from types import MappingProxyType
from typing import Any

from homeassistant.components import webhook
from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    SOURCE_USER,
    ConfigEntryState,
    ConfigSubentry,
)
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.careon.connectors.const import (
    CONF_ACCESS_KEY,
    CONF_CLIENT_KEY,
    CONF_MERCHANT_ID,
    CONF_MODE,
    CONF_SECRET_KEY,
    CONF_SUBENTRY_ID,
    CONF_WEBHOOK_ID,
    CONF_WEBHOOK_SECRET,
    CONNECTOR_NICE_PAYMENTS,
    CONNECTOR_TOSS_PLACE,
)
from custom_components.careon.const import DOMAIN
from custom_components.careon.core.connectors import toss_place
from tests.fakes.nice import FakeNice
from tests.fakes.toss_place import FakeTossPlace

from .conftest import store_entry
from .connector_helpers import (
    async_setup_store,
    loaded_store,
    nice_subentry,
    serve_nice,
    serve_toss_place,
    subentry_id,
    toss_subentry,
)

pytestmark = pytest.mark.usefixtures("socket_enabled")

# Nothing listens on port 1 of this machine.
CLOSED = "http://127.0.0.1:1"


@pytest.fixture
async def fake_toss(monkeypatch: pytest.MonkeyPatch) -> AsyncGenerator[FakeTossPlace]:
    """The Toss Place merchant; the connectors' base URL points at it."""
    async with serve_toss_place(monkeypatch) as server:
        yield server


@pytest.fixture
async def fake_nice(monkeypatch: pytest.MonkeyPatch) -> AsyncGenerator[FakeNice]:
    """NICE Payments; its sandbox host points at the fake."""
    async with serve_nice(monkeypatch) as server:
        yield server


@pytest.fixture
async def entry(hass: HomeAssistant, demo_store: Path) -> AsyncGenerator[MockConfigEntry]:
    """The demo cafe without connectors, loaded."""
    async with loaded_store(hass, store_entry(demo_store, [])) as entry:
        yield entry


def _toss_input(fake: FakeTossPlace, **changes: str) -> dict[str, str]:
    return {
        CONF_ACCESS_KEY: fake.access_key,
        CONF_SECRET_KEY: fake.secret_key,
        CONF_MERCHANT_ID: fake.merchant_id,
        CONF_WEBHOOK_SECRET: fake.webhook_secret,
        **changes,
    }


def _nice_input(fake: FakeNice, **changes: str) -> dict[str, str]:
    return {
        CONF_CLIENT_KEY: fake.client_key,
        CONF_SECRET_KEY: fake.secret_key,
        CONF_MODE: "sandbox",
        **changes,
    }


async def _start(hass: HomeAssistant, entry: MockConfigEntry, connector: str) -> Any:
    return await hass.config_entries.subentries.async_init(
        (entry.entry_id, connector), context={"source": SOURCE_USER}
    )


async def _start_subentry_reconfigure(
    hass: HomeAssistant, entry: MockConfigEntry, connector: str, subentry_id: str
) -> Any:
    """Reconfigure a connector as the frontend does (MockConfigEntry's helper for it changed its
    arguments between pytest-homeassistant-custom-component releases)."""
    return await hass.config_entries.subentries.async_init(
        (entry.entry_id, connector),
        context={"source": SOURCE_RECONFIGURE, "subentry_id": subentry_id},
    )


async def test_add_toss_place(
    hass: HomeAssistant, entry: MockConfigEntry, fake_toss: FakeTossPlace
) -> None:
    """The keys are tried, the webhook URL is shown, and the store reloads with the
    connector listening on it."""
    result = await _start(hass, entry, CONNECTOR_TOSS_PLACE)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"

    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], _toss_input(fake_toss, **{CONF_ACCESS_KEY: f" {fake_toss.access_key} "})
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "webhook"
    url = result["description_placeholders"]["webhook_url"]
    assert fake_toss.requests_to("/merchants/42")[0].status == 200

    result = await hass.config_entries.subentries.async_configure(result["flow_id"], {})
    await hass.async_block_till_done(wait_background_tasks=True)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == f"Toss Place {fake_toss.store_name}"
    (subentry,) = entry.subentries.values()
    assert subentry.unique_id == fake_toss.merchant_id
    webhook_id = subentry.data[CONF_WEBHOOK_ID]
    assert url.endswith(webhook.async_generate_path(webhook_id))
    assert dict(subentry.data) == {**_toss_input(fake_toss), CONF_WEBHOOK_ID: webhook_id}

    # the store reloaded: the connector listens and polled once
    assert entry.state is ConfigEntryState.LOADED
    connector = entry.runtime_data.connectors.toss_place
    assert connector is not None
    assert connector.webhook_id == webhook_id
    assert webhook_id in hass.data["webhook"]
    assert fake_toss.requests_to("/order/orders")


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ({"secret": "wrong"}, "invalid_auth"),
        ({"merchant": "43"}, "invalid_auth"),
        ({"status": 400}, "invalid_account"),
        ({"status": 200, "body": b"<html>maintenance</html>"}, "unknown"),
        ({"status": 502}, "cannot_connect"),
        ({"closed": True}, "cannot_connect"),
    ],
)
async def test_toss_place_errors(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    fake_toss: FakeTossPlace,
    monkeypatch: pytest.MonkeyPatch,
    fault: dict[str, Any],
    error: str,
) -> None:
    """Refused keys, a merchant the app is not installed at, an unreadable answer and an
    unreachable server are told apart; the form can then be sent again and succeed."""
    changes = {}
    if "secret" in fault:
        changes[CONF_SECRET_KEY] = fault["secret"]
    if "merchant" in fault:
        changes[CONF_MERCHANT_ID] = fault["merchant"]
    if "status" in fault:
        # server errors are tried three times, other answers once
        tries = 3 if fault["status"] >= 500 else 1
        fake_toss.fail_next(tries, status=fault["status"], body=fault.get("body"))
    if fault.get("closed"):
        monkeypatch.setattr(toss_place, "TOSS_PLACE_API_URL", CLOSED)
    result = await _start(hass, entry, CONNECTOR_TOSS_PLACE)

    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], _toss_input(fake_toss, **changes)
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": error}
    assert not entry.subentries

    monkeypatch.setattr(toss_place, "TOSS_PLACE_API_URL", fake_toss.url)
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], _toss_input(fake_toss)
    )
    assert result["step_id"] == "webhook"


async def test_one_toss_place_per_store_and_merchant(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    fake_toss: FakeTossPlace,
    demo_template: Path,
    tmp_path: Path,
) -> None:
    """A store has one POS connection; a merchant feeds one store."""
    data = toss_subentry(fake_toss)
    hass.config_entries.async_add_subentry(
        entry,
        ConfigSubentry(
            data=MappingProxyType(data["data"]),
            subentry_type=data["subentry_type"],
            title=data["title"],
            unique_id=data["unique_id"],
        ),
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    result = await _start(hass, entry, CONNECTOR_TOSS_PLACE)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "single_connector"

    other = store_entry(tmp_path / "other.db", [], entry_id="01JCAREON0OTHER0STORE00000")
    other.add_to_hass(hass)
    result = await _start(hass, other, CONNECTOR_TOSS_PLACE)
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], _toss_input(fake_toss)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_reconfigure_toss_place(
    hass: HomeAssistant, demo_store: Path, fake_toss: FakeTossPlace
) -> None:
    """New keys are tried before saving; the form shows the webhook URL, and the store
    reloads with the new keys."""
    entry = await async_setup_store(hass, store_entry(demo_store, [toss_subentry(fake_toss)]))
    sub_id = subentry_id(entry, CONNECTOR_TOSS_PLACE)
    old_connector = entry.runtime_data.connectors.toss_place
    result = await _start_subentry_reconfigure(hass, entry, CONNECTOR_TOSS_PLACE, sub_id)
    assert result["step_id"] == "reconfigure"
    webhook_id = entry.subentries[sub_id].data[CONF_WEBHOOK_ID]
    assert result["description_placeholders"]["webhook_url"].endswith(webhook_id)

    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], _toss_input(fake_toss, **{CONF_SECRET_KEY: "old"})
    )
    assert result["errors"] == {"base": "invalid_auth"}

    fake_toss.secret_key = "rotated"
    fake_toss.webhook_secret = "new-webhook-secret"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        _toss_input(fake_toss),
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done(wait_background_tasks=True)

    data = entry.subentries[sub_id].data
    assert data[CONF_SECRET_KEY] == "rotated"
    assert data[CONF_WEBHOOK_SECRET] == "new-webhook-secret"
    assert data[CONF_WEBHOOK_ID] == webhook_id
    assert entry.runtime_data.connectors.toss_place is not old_connector
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_removing_a_connector_reloads(
    hass: HomeAssistant,
    demo_store: Path,
    fake_toss: FakeTossPlace,
    hass_storage: dict[str, Any],
) -> None:
    """Removing the subentry stops its webhook and forgets its polling cursor."""
    entry = await async_setup_store(hass, store_entry(demo_store, [toss_subentry(fake_toss)]))
    sub_id = subentry_id(entry, CONNECTOR_TOSS_PLACE)
    webhook_id = entry.subentries[sub_id].data[CONF_WEBHOOK_ID]
    cursor_key = f"{DOMAIN}.{entry.entry_id}.{sub_id}.toss_place"
    assert cursor_key in hass_storage
    assert webhook_id in hass.data["webhook"]

    assert hass.config_entries.async_remove_subentry(entry, sub_id)
    await hass.async_block_till_done(wait_background_tasks=True)

    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.connectors.toss_place is None
    assert webhook_id not in hass.data["webhook"]
    assert cursor_key not in hass_storage
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_options_change_still_reloads_alone(
    hass: HomeAssistant, demo_store: Path, fake_toss: FakeTossPlace
) -> None:
    """An unrelated update (the entry's title) does not reload the store."""
    entry = await async_setup_store(hass, store_entry(demo_store, [toss_subentry(fake_toss)]))
    connector = entry.runtime_data.connectors.toss_place
    hass.config_entries.async_update_entry(entry, title="Renamed")
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.runtime_data.connectors.toss_place is connector
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_add_nice_payments(
    hass: HomeAssistant, entry: MockConfigEntry, fake_nice: FakeNice
) -> None:
    """The NICE keys are tried against the chosen server before the connector is added."""
    result = await _start(hass, entry, CONNECTOR_NICE_PAYMENTS)
    assert result["step_id"] == "user"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], _nice_input(fake_nice)
    )
    assert result["step_id"] == "webhook"
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], {})
    await hass.async_block_till_done(wait_background_tasks=True)

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "NICE Payments (sandbox)"
    (subentry,) = entry.subentries.values()
    assert subentry.unique_id == fake_nice.client_key
    assert subentry.data[CONF_MODE] == "sandbox"
    assert fake_nice.requests_to("/v1/access-token")[0].status == 200
    assert entry.runtime_data.connectors.nice_payments is not None
    assert subentry.data[CONF_WEBHOOK_ID] in hass.data["webhook"]

    result = await _start(hass, entry, CONNECTOR_NICE_PAYMENTS)
    assert result["reason"] == "single_connector"


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ({"secret": "wrong"}, "invalid_auth"),
        ({"status": 503}, "cannot_connect"),
        ({"status": 200, "body": b"not json"}, "unknown"),
        ({"status": 400, "body": b'{"resultCode": "A100", "resultMsg": "no"}'}, "invalid_account"),
    ],
)
async def test_nice_payments_errors(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    fake_nice: FakeNice,
    fault: dict[str, Any],
    error: str,
) -> None:
    """Refused keys, an unreachable or unreadable server are told apart."""
    changes = {CONF_SECRET_KEY: fault["secret"]} if "secret" in fault else {}
    if "status" in fault:
        fake_nice.fail_next(3, status=fault["status"], body=fault.get("body"))
    result = await _start(hass, entry, CONNECTOR_NICE_PAYMENTS)
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], _nice_input(fake_nice, **changes)
    )
    assert result["errors"] == {"base": error}
    assert not entry.subentries


async def test_reconfigure_nice_payments(
    hass: HomeAssistant, demo_store: Path, fake_nice: FakeNice
) -> None:
    """Moving to another client key is tried and saved under the new unique id."""
    entry = await async_setup_store(hass, store_entry(demo_store, [nice_subentry(fake_nice)]))
    sub_id = subentry_id(entry, CONNECTOR_NICE_PAYMENTS)
    fake_nice.client_key = "S2_other-client-key"
    result = await _start_subentry_reconfigure(hass, entry, CONNECTOR_NICE_PAYMENTS, sub_id)
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], _nice_input(fake_nice)
    )
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.subentries[sub_id].unique_id == "S2_other-client-key"
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_reauth_connector(hass: HomeAssistant, demo_store: Path, fake_nice: FakeNice) -> None:
    """A reauth flow naming a connector asks for that connector's keys, tries them, saves
    them and reloads the store (the same keys again reload too)."""
    entry = await async_setup_store(hass, store_entry(demo_store, [nice_subentry(fake_nice)]))
    sub_id = subentry_id(entry, CONNECTOR_NICE_PAYMENTS)
    connector = entry.runtime_data.connectors.nice_payments

    result = await entry.start_reauth_flow(hass, data={CONF_SUBENTRY_ID: sub_id})
    assert result["step_id"] == "reauth_connector"
    assert result["description_placeholders"]["store"] == entry.title
    assert result["description_placeholders"]["connector"] == "NICE Payments"
    assert set(result["data_schema"].schema) == {CONF_CLIENT_KEY, CONF_SECRET_KEY}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_CLIENT_KEY: fake_nice.client_key, CONF_SECRET_KEY: "nope"}
    )
    assert result["errors"] == {"base": "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_CLIENT_KEY: fake_nice.client_key, CONF_SECRET_KEY: fake_nice.secret_key},
    )
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.runtime_data.connectors.nice_payments is not connector

    # a connector removed meanwhile
    result = await entry.start_reauth_flow(hass, data={CONF_SUBENTRY_ID: "gone"})
    assert result["reason"] == "connector_not_found"
    assert await hass.config_entries.async_unload(entry.entry_id)
