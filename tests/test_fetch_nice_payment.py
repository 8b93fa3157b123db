"""Tests of the fetch_nice_payment service: a payment looked up at NICE Payments (FakeNice, a real
HTTP server on 127.0.0.1) by transaction ID or by order ID and date, and recorded in the store;
the vendor's refusals come back translated."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from homeassistant.config_entries import SOURCE_REAUTH
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.careon.const import DOMAIN
from tests.fakes.nice import FakeNice

from .conftest import async_call_careon, get_state, store_entry
from .connector_helpers import loaded_store, nice_subentry, serve_nice

pytestmark = pytest.mark.usefixtures("socket_enabled")

UNRECONCILED = "sensor.careon_cafe_unreconciled_payments"
# 2026-01-01 12:00:01 in Seoul
PAID_AT = datetime(2026, 1, 1, 3, 0, 1, tzinfo=UTC)


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncGenerator[FakeNice]:
    """The NICE merchant, served on 127.0.0.1 as the sandbox."""
    async with serve_nice(monkeypatch) as server:
        yield server


@pytest.fixture
async def entry(
    hass: HomeAssistant, demo_store: Path, fake: FakeNice
) -> AsyncGenerator[MockConfigEntry]:
    """The demo cafe with a NICE Payments connector."""
    async with loaded_store(hass, store_entry(demo_store, [nice_subentry(fake)])) as entry:
        yield entry


async def _fetch(hass: HomeAssistant, entry: MockConfigEntry, **data: Any) -> dict[str, Any]:
    return await async_call_careon(hass, entry, "fetch_nice_payment", **data)


async def _refused(
    hass: HomeAssistant, entry: MockConfigEntry, error: type[HomeAssistantError], **data: Any
) -> HomeAssistantError:
    with pytest.raises(error) as err:
        await _fetch(hass, entry, **data)
    assert err.value.translation_domain == DOMAIN
    return err.value


async def test_fetch_by_tid_and_order(
    hass: HomeAssistant, entry: MockConfigEntry, fake: FakeNice
) -> None:
    """A payment fetched by tid is recorded once; by order ID and date it is found again,
    cancelled since."""
    paid = fake.add_payment(amount=4500, order_id="web-0001", at=PAID_AT, card_code="06")
    tid = paid["tid"]

    fetched = await _fetch(hass, entry, tid=tid)
    assert fetched["created"] is True
    assert fetched["status"] == "approved"
    assert fetched["replayed"] is False
    assert fetched["order_id"] is None
    payment = fetched["payment"]
    assert payment["external_id"] == tid
    assert payment["amount"] == 4500
    assert payment["order_ref"] == "web-0001"
    assert payment["approved_at"] == "2026-01-01T03:00:01.000000+00:00"
    assert payment["card"]["issuer"] == "신한"
    assert payment["card"]["number"] == "536112******1234"
    async with entry.runtime_data.engine.reader() as ontology:
        stored = await ontology.get(fetched["payment_id"])
    assert stored is not None
    assert stored.get("amount") == 4500
    assert stored.get("source") == "nice_payments"
    # approved, and no order of the store names web-0001
    assert get_state(hass, UNRECONCILED).state == "1"

    again = await _fetch(hass, entry, tid=tid)
    assert again["payment_id"] == fetched["payment_id"]
    assert again["replayed"] is True

    fake.cancel(tid)
    found = await _fetch(hass, entry, order_id="web-0001", order_date="2026-01-01")
    assert found["payment_id"] == fetched["payment_id"]
    assert (found["status"], found["previous_status"]) == ("cancelled", "approved")
    assert found["payment"]["cancelled_amount"] == 4500
    [lookup] = fake.requests_to("/v1/payments/find/")
    assert lookup.query == {"orderDate": "20260101"}
    assert get_state(hass, UNRECONCILED).state == "0"


async def test_fetch_refused(hass: HomeAssistant, entry: MockConfigEntry, fake: FakeNice) -> None:
    """What to look up is missing or malformed, NICE has no such payment, is down or refuses
    the keys: translated errors, nothing recorded."""
    err = await _refused(hass, entry, ServiceValidationError)
    assert (err.translation_key, err.translation_placeholders) == (
        "missing_field",
        {"field": "tid"},
    )
    err = await _refused(hass, entry, ServiceValidationError, order_id="web-0001")
    assert err.translation_placeholders == {"field": "order_date"}
    err = await _refused(
        hass, entry, ServiceValidationError, order_id="web-0001", order_date="1 Jan"
    )
    assert (err.translation_key, err.translation_placeholders) == (
        "invalid_type",
        {"field": "order_date", "expected": "date"},
    )

    err = await _refused(hass, entry, HomeAssistantError, tid="nictest00m0000000000000000000")
    assert not isinstance(err, ServiceValidationError)
    assert err.translation_key == "vendor_request_failed"
    assert err.translation_placeholders["connector"] == "nice_payments"
    assert err.translation_placeholders["error"].startswith("A118")

    paid = fake.add_payment(at=PAID_AT)
    fake.fail_next(3, status=503)
    err = await _refused(hass, entry, HomeAssistantError, tid=paid["tid"])
    assert err.translation_key == "vendor_request_failed"

    fake.secret_key = "rotated-secret-key"
    err = await _refused(hass, entry, HomeAssistantError, tid=paid["tid"])
    assert err.translation_key == "vendor_auth_failed"
    assert err.translation_placeholders == {"connector": "nice_payments"}
    [flow] = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert flow["context"]["source"] == SOURCE_REAUTH

    async with entry.runtime_data.engine.reader() as ontology:
        assert await ontology.by_type("Payment") == []


async def test_fetch_without_connector(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """A store without NICE Payments says so."""
    err = await _refused(hass, init_integration, ServiceValidationError, tid="nictest00m01")
    assert err.translation_key == "connector_not_configured"
    assert err.translation_placeholders == {"connector": "NICE Payments"}
