"""Tests of the NICE Payments connector in Home Assistant: its webhook through Home
Assistant's HTTP server (JSON and form bodies, signatures, confirmation with NICE), refunds,
and looking a payment up on demand (the connector and the fetch_nice_payment service, whose
refusals come back translated). NICE is FakeNice (tests/fakes) on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
import json
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient
from homeassistant.config_entries import SOURCE_REAUTH
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from hypothesis import HealthCheck, given, settings, strategies as st
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.careon.connectors import NiceConnector
from custom_components.careon.connectors.const import CONNECTOR_NICE_PAYMENTS
from custom_components.careon.const import DOMAIN
from custom_components.careon.core import CareOnError, ValidationError
from tests.fakes.nice import FakeNice, sign

from .conftest import async_call_careon, async_settle, get_state, store_entry
from .connector_helpers import (
    NICE_WEBHOOK_ID,
    REVENUE,
    async_dump,
    async_post,
    async_sales,
    loaded_store,
    nice_subentry,
    serve_nice,
)

pytestmark = pytest.mark.usefixtures("socket_enabled")

SOURCE = CONNECTOR_NICE_PAYMENTS
UNRECONCILED = "sensor.careon_cafe_unreconciled_payments"
# 2026-01-01 12:00:01 in Seoul
PAID_AT = datetime(2026, 1, 1, 3, 0, 1, tzinfo=UTC)


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncGenerator[FakeNice]:
    """NICE Payments, served on 127.0.0.1; the sandbox host points at it."""
    async with serve_nice(monkeypatch) as server:
        yield server


@pytest.fixture
async def entry(
    hass: HomeAssistant, demo_store: Path, fake: FakeNice
) -> AsyncGenerator[MockConfigEntry]:
    """The demo cafe with a NICE Payments connector, loaded."""
    async with loaded_store(hass, store_entry(demo_store, [nice_subentry(fake)])) as entry:
        yield entry


@pytest.fixture
async def client(hass_client_no_auth: ClientSessionGenerator) -> TestClient:
    """An HTTP client of Home Assistant's server (webhooks take no login)."""
    return await hass_client_no_auth()


def nice_signature(payment: dict[str, Any]) -> str:
    """The signature NICE would give this payment with the test's secret key."""
    return sign(payment["tid"], payment["amount"], payment["ediDate"], "test-secret-key")


def _connector(entry: MockConfigEntry) -> NiceConnector:
    connector = entry.runtime_data.connectors.nice_payments
    assert connector is not None
    return connector


async def _online_order(hass: HomeAssistant, entry: MockConfigEntry, external_id: str) -> str:
    """An online order (placed in the store, waiting for its payment); its id."""
    result = await entry.runtime_data.engine.execute(
        "place_order",
        {
            "lines": [{"product": "product.americano_ice", "qty": 1}],
            "external_id": external_id,
            "status": "open",
        },
        actor="test",
        source="test",
    )
    await async_settle(hass)
    return str(result.result["order_id"])


async def _order(entry: MockConfigEntry, order_id: str) -> dict[str, Any]:
    async with entry.runtime_data.engine.reader() as ontology:
        order = await ontology.get(order_id)
    assert order is not None
    return dict(order.properties)


@pytest.mark.parametrize("form", [False, True])
async def test_webhook_records_the_payment(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    fake: FakeNice,
    client: TestClient,
    form: bool,
) -> None:
    """A signed payment (JSON or form-encoded) is confirmed with NICE, recorded against its
    order, and answered "OK" as NICE expects."""
    order_id = await _online_order(hass, entry, "web-0001")
    payment = fake.add_payment(amount=4500, order_id="web-0001", card_code="06", quota="03")
    headers, body = fake.webhook(payment["tid"], form=form)

    status, text = await async_post(client, NICE_WEBHOOK_ID, headers, body)
    await async_settle(hass)

    assert (status, text) == (200, "OK")
    assert len(fake.requests_to(f"/v1/payments/{payment['tid']}")) == 1
    sales = await async_sales(entry, SOURCE)
    assert sales["payments"] == {payment["tid"]: "approved"}
    async with entry.runtime_data.engine.reader() as ontology:
        (stored,) = await ontology.by_type("Payment")
        links = await ontology.links_from([stored.id], "pays")
    assert [link.target_id for link in links] == [order_id]
    assert stored.get("card") == {
        "issuer": "신한",
        "acquirer": "신한",
        "number": "536112******1234",
        "installment_months": 3,
        "kind": "credit",
    }
    assert (await _order(entry, order_id))["status"] == "paid"
    assert get_state(hass, REVENUE).state == "4500"


async def test_webhook_response_is_text_html(
    hass: HomeAssistant, entry: MockConfigEntry, fake: FakeNice, client: TestClient
) -> None:
    """NICE logs a delivery as failed unless the answer is 200 "OK" in text/html."""
    payment = fake.add_payment()
    headers, body = fake.webhook(payment["tid"])
    response = await client.post(f"/api/webhook/{NICE_WEBHOOK_ID}", headers=headers, data=body)
    assert response.status == 200
    assert response.content_type == "text/html"
    assert await response.text() == "OK"


async def test_cancel_refunds_the_order(
    hass: HomeAssistant, entry: MockConfigEntry, fake: FakeNice, client: TestClient
) -> None:
    """A payment cancelled in full refunds its paid order; a retried delivery changes
    nothing; a partial cancel before it keeps the order."""
    order_id = await _online_order(hass, entry, "web-0002")
    payment = fake.add_payment(amount=4500, order_id="web-0002")
    tid = payment["tid"]
    for step in ("paid", "partial", "cancelled"):
        if step == "partial":
            fake.cancel(tid, 1000)
        elif step == "cancelled":
            fake.cancel(tid)
        headers, body = fake.webhook(tid)
        assert (await async_post(client, NICE_WEBHOOK_ID, headers, body))[0] == 200
        # NICE delivers again when it misses the answer
        assert (await async_post(client, NICE_WEBHOOK_ID, headers, body))[0] == 200
        await async_settle(hass)
        if step == "partial":
            assert (await _order(entry, order_id))["status"] == "paid"
            assert (await async_sales(entry, SOURCE))["payments"] == {tid: "partial_cancelled"}

    assert (await async_sales(entry, SOURCE))["payments"] == {tid: "cancelled"}
    assert (await _order(entry, order_id))["status"] == "refunded"
    assert _connector(entry).stats["already_recorded"] == 3
    assert get_state(hass, REVENUE).state == "0"


async def test_nice_unreachable_is_delivered_again(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    fake: FakeNice,
    client: TestClient,
    demo_store: Path,
) -> None:
    """When NICE cannot confirm the payment, nothing is recorded and the answer is 503, so
    that NICE delivers again; the next delivery, confirmed, is recorded."""
    payment = fake.add_payment(amount=6000)
    fake.fail_next(3, status=502)
    headers, body = fake.webhook(payment["tid"])
    before = await async_dump(hass, demo_store)

    assert (await async_post(client, NICE_WEBHOOK_ID, headers, body))[0] == 503
    assert await async_dump(hass, demo_store) == before

    assert await async_post(client, NICE_WEBHOOK_ID, headers, body) == (200, "OK")
    assert (await async_sales(entry, SOURCE))["payments"] == {payment["tid"]: "approved"}


async def test_refused_keys_while_confirming(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    fake: FakeNice,
    client: TestClient,
    demo_store: Path,
) -> None:
    """NICE refusing the keys: the payment cannot be confirmed, so nothing is recorded (503:
    NICE delivers again), and a reauth flow asks for the keys."""
    payment = fake.add_payment()
    fake.secret_key = "rotated"
    headers, body = fake.webhook(payment["tid"], secret="test-secret-key")
    before = await async_dump(hass, demo_store)

    assert (await async_post(client, NICE_WEBHOOK_ID, headers, body))[0] == 503
    await hass.async_block_till_done()

    assert await async_dump(hass, demo_store) == before
    (flow,) = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert flow["context"]["source"] == SOURCE_REAUTH
    assert flow["step_id"] == "reauth_connector"


async def _paid_order(
    hass: HomeAssistant, entry: MockConfigEntry, fake: FakeNice, client: TestClient
) -> tuple[str, dict[str, Any]]:
    """An online order paid through NICE: its id and NICE's payment."""
    order_id = await _online_order(hass, entry, "web-0100")
    payment = fake.add_payment(amount=4500, order_id="web-0100")
    headers, body = fake.webhook(payment["tid"])
    assert await async_post(client, NICE_WEBHOOK_ID, headers, body) == (200, "OK")
    await async_settle(hass)
    assert (await _order(entry, order_id))["status"] == "paid"
    return order_id, payment


@pytest.mark.parametrize("nice_answers", ["its own copy", "503"])
async def test_a_forged_cancel_refunds_nothing(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    fake: FakeNice,
    client: TestClient,
    nice_answers: str,
) -> None:
    """A captured webhook altered to "cancelled", naming a paid order by CareOn's own id (the
    status and the order are not covered by NICE's signature): NICE's own copy is what
    counts, or, while NICE cannot answer, nothing; the order stays paid either way."""
    order_id, payment = await _paid_order(hass, entry, fake, client)
    other_order = await _online_order(hass, entry, "web-0101")
    headers, body = fake.webhook(payment["tid"])
    forged = {**json.loads(body), "status": "cancelled", "balanceAmt": 0, "orderId": other_order}
    if nice_answers == "503":
        fake.fail_next(3, status=503)

    status, _ = await async_post(client, NICE_WEBHOOK_ID, headers, json.dumps(forged).encode())
    await async_settle(hass)

    assert status == (200 if nice_answers == "its own copy" else 503)
    assert (await _order(entry, order_id))["status"] == "paid"
    assert (await _order(entry, other_order))["status"] == "open"
    assert (await async_sales(entry, SOURCE))["payments"] == {payment["tid"]: "approved"}
    assert get_state(hass, REVENUE).state == "4500"


async def test_a_tid_shifted_into_the_amount_is_refused(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    fake: FakeNice,
    client: TestClient,
    demo_store: Path,
) -> None:
    """The signature runs tid, amount and ediDate together: the tid's last digit moved into
    the amount keeps it valid. That tid is no NICE tid (29 characters): refused for good
    (400) without asking NICE, nothing written."""
    order_id, payment = await _paid_order(hass, entry, fake, client)
    headers, body = fake.webhook(payment["tid"])
    data = json.loads(body)
    tid, amount = data["tid"], str(data["amount"])
    forged = {
        **data,
        "tid": tid[:-1],
        "amount": tid[-1] + amount,
        "status": "cancelled",
        "orderId": order_id,
    }
    assert nice_signature(forged) == data["signature"]  # still valid
    requests = len(fake.requests)
    before = await async_dump(hass, demo_store)

    status, text = await async_post(client, NICE_WEBHOOK_ID, headers, json.dumps(forged).encode())

    assert (status, text) == (400, "not a NICE transaction id")
    assert len(fake.requests) == requests
    assert await async_dump(hass, demo_store) == before


async def test_a_payment_nice_does_not_know_is_refused(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    fake: FakeNice,
    client: TestClient,
    demo_store: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A signed webhook for a tid NICE answers A118 (no such payment) to: refused for good
    (400, NICE stops delivering), logged, nothing written."""
    order_id, payment = await _paid_order(hass, entry, fake, client)
    unknown = {**payment, "tid": payment["tid"][:-4] + "9999", "status": "cancelled"}
    unknown["orderId"] = order_id
    headers, body = fake.webhook(unknown)
    before = await async_dump(hass, demo_store)

    assert await async_post(client, NICE_WEBHOOK_ID, headers, body) == (400, "unknown to NICE")

    assert len(fake.requests_to(f"/v1/payments/{unknown['tid']}")) == 1
    assert await async_dump(hass, demo_store) == before
    assert "NICE Payments webhook for CareOn Cafe refused for good (HTTP 400): unknown to NICE" in (
        caplog.text
    )
    assert _connector(entry).stats["refused_400"] == 1


@pytest.mark.parametrize(
    ("tamper", "status"),
    [
        ("secret", 401),
        ("amount", 401),
        ("no_signature", 401),
        ("not_a_payment", 400),
        ("no_tid", 400),
        ("bad_status", 503),
    ],
)
async def test_refused_webhooks_write_nothing(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    fake: FakeNice,
    client: TestClient,
    demo_store: Path,
    tamper: str,
    status: int,
) -> None:
    """A wrong signature is 401; a body that is no payment (signed or not) 400; a signed one
    NICE cannot confirm 503; nothing is written either way."""
    payment = fake.add_payment(amount=4500)
    headers, body = fake.webhook(payment["tid"], secret="other" if tamper == "secret" else None)
    data = json.loads(body)
    if tamper == "amount":
        data["amount"] = 45
    elif tamper == "no_signature":
        del data["signature"]
    elif tamper == "not_a_payment":
        data = ["tid"]
    elif tamper == "no_tid":
        data["tid"] = ""
    elif tamper == "bad_status":
        # signed, but unreadable; NICE, whose copy alone counts, does not answer
        data["status"] = "exploded"
        fake.fail_next(3, status=502)
    body = json.dumps(data).encode()
    before = await async_dump(hass, demo_store)

    assert (await async_post(client, NICE_WEBHOOK_ID, headers, body))[0] == status

    assert await async_dump(hass, demo_store) == before


async def test_fetch_payment(hass: HomeAssistant, entry: MockConfigEntry, fake: FakeNice) -> None:
    """A payment looked up by tid, or by order id and date, is recorded and returned."""
    payment = fake.add_payment(amount=5000, order_id="web-0003")
    connector = _connector(entry)

    result = await connector.async_fetch_payment(tid=payment["tid"])
    assert result["created"] is True
    assert result["replayed"] is False
    assert result["status"] == "approved"
    assert result["payment"]["external_id"] == payment["tid"]
    assert result["payment"]["amount"] == 5000
    json.dumps(result)

    day = payment["ediDate"][:10]
    again = await connector.async_fetch_payment(order_id="web-0003", order_date=day)
    assert again["replayed"] is True
    assert again["payment_id"] == result["payment_id"]
    assert fake.requests_to("/v1/payments/find/web-0003")[0].query == {
        "orderDate": day.replace("-", "")
    }


@pytest.mark.parametrize(
    ("lookup", "key"),
    [
        ({"tid": "nictest00m0000000000000000000"}, "vendor_request_failed"),
        ({"order_id": "web-9", "order_date": "2026-13-45x"}, "invalid_type"),
        ({}, "missing_field"),
    ],
)
async def test_fetch_payment_errors(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    fake: FakeNice,
    lookup: dict[str, str],
    key: str,
) -> None:
    """An unknown payment, a malformed date or no lookup at all: translated errors."""
    with pytest.raises(CareOnError) as err:
        await _connector(entry).async_fetch_payment(**lookup)
    assert err.value.translation_key == key
    if key != "vendor_request_failed":
        assert isinstance(err.value, ValidationError)


async def test_fetch_payment_refused_keys(
    hass: HomeAssistant, entry: MockConfigEntry, fake: FakeNice
) -> None:
    """Refused keys: vendor_auth_failed, and a reauth flow."""
    fake.secret_key = "rotated"
    with pytest.raises(CareOnError) as err:
        await _connector(entry).async_fetch_payment(tid="nictest00m0000")
    assert err.value.translation_key == "vendor_auth_failed"
    assert err.value.placeholders == {"connector": SOURCE}
    await hass.async_block_till_done()
    assert hass.config_entries.flow.async_progress_by_handler(DOMAIN)


async def test_fuzzed_webhooks(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    fake: FakeNice,
    client: TestClient,
    demo_store: Path,
) -> None:
    """Arbitrary bodies and content types, and real payments with a field changed (signed
    again or not): never a server error, and a refused webhook writes nothing."""
    real = [fake.add_payment(amount=4500), fake.add_payment(method="bank", amount=12000)]
    loop = asyncio.get_running_loop()

    async def deliver(headers: dict[str, str], body: bytes) -> tuple[int, bool]:
        before = await async_dump(hass, demo_store)
        status, _ = await async_post(client, NICE_WEBHOOK_ID, headers, body)
        return status, await async_dump(hass, demo_store) != before

    values = st.none() | st.booleans() | st.integers() | st.text(max_size=12) | st.just("0")
    fields = st.sampled_from(
        ["tid", "amount", "balanceAmt", "status", "paidAt", "cancelledAt", "card", "orderId"]
    )

    @settings(
        max_examples=60,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        index=st.integers(0, 1),
        field=fields,
        value=values,
        resign=st.booleans(),
        form=st.booleans(),
        raw=st.none() | st.binary(max_size=120),
        content_type=st.sampled_from(
            ["application/json", "application/x-www-form-urlencoded", "text/plain", ""]
        ),
    )
    def check(
        index: int,
        field: str,
        value: Any,
        resign: bool,
        form: bool,
        raw: bytes | None,
        content_type: str,
    ) -> None:
        if raw is not None:
            headers, body = {"Content-Type": content_type}, raw
        else:
            payment = {**real[index], field: value}
            if resign:
                headers, body = fake.webhook(payment, form=form)
            else:
                headers, body = fake.webhook(real[index], form=form)
                if not form:
                    body = json.dumps({**json.loads(body), field: value}).encode()
        status, changed = asyncio.run_coroutine_threadsafe(deliver(headers, body), loop).result(
            timeout=60
        )
        assert status in (200, 400, 401), (status, body)
        if status != 200:
            assert not changed, (status, body)

    await hass.async_add_executor_job(check)
    assert _connector(entry).stats["refused_500"] == 0
    assert _connector(entry).stats["refused_503"] == 0


# --- the fetch_nice_payment service ---------------------------------------------------


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
        {"field": "order_date", "expected": "a date (YYYY-MM-DD)"},
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
