"""Tests of the Toss Place connector in Home Assistant: signed webhooks through Home Assistant's
HTTP server, polling for what they missed (across a restart), the vendor's rate limit,
reauthentication, and the repair of POS items no product matched.

The vendor is FakeTossPlace (tests/fakes), a real HTTP server on 127.0.0.1; the store a real
SQLite file.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from datetime import timedelta
import json
from pathlib import Path
import random
import shutil
import time
from typing import Any

from aiohttp.test_utils import TestClient
from homeassistant.components.repairs import repairs_flow_manager
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from hypothesis import HealthCheck, given, settings, strategies as st
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.careon.connectors import TossPlaceConnector
from custom_components.careon.connectors.const import (
    BACKFILL_FIRST_WINDOW,
    BACKFILL_OVERLAP,
    CONF_ACCESS_KEY,
    CONF_SECRET_KEY,
    CONNECTOR_TOSS_PLACE,
)
from custom_components.careon.const import DOMAIN
from tests.fakes.toss_place import (
    EVENT_ORDER_COMPLETED,
    EVENT_ORDER_CREATED,
    EVENT_PAYMENT_APPROVED,
    FakeTossPlace,
    Webhook,
)

from .conftest import async_settle, get_state, store_entry
from .connector_helpers import (
    ORDERS,
    REVENUE,
    TOSS_WEBHOOK_ID,
    async_dump,
    async_post,
    async_sales,
    async_setup_store,
    loaded_store,
    serve_toss_place,
    subentry_id,
    toss_subentry,
    vendor_sales,
)

pytestmark = pytest.mark.usefixtures("socket_enabled")

SOURCE = CONNECTOR_TOSS_PLACE
SEASONAL = {"title": "시즌 딸기라떼", "code": "9001", "category": "시즌", "price": 6500}


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncGenerator[FakeTossPlace]:
    """The Toss Place merchant, served on 127.0.0.1; the connector's base URL points at it."""
    async with serve_toss_place(monkeypatch) as server:
        yield server


@pytest.fixture
async def entry(
    hass: HomeAssistant, demo_store: Path, fake: FakeTossPlace
) -> AsyncGenerator[MockConfigEntry]:
    """The demo cafe with a Toss Place connector, loaded (its first polling round done)."""
    async with loaded_store(hass, store_entry(demo_store, [toss_subentry(fake)])) as entry:
        yield entry


@pytest.fixture
async def repairs(hass: HomeAssistant) -> None:
    """Home Assistant's repairs (its HTTP views are added before a client starts the server)."""
    assert await async_setup_component(hass, "repairs", {})


@pytest.fixture
async def client(hass_client_no_auth: ClientSessionGenerator) -> TestClient:
    """An HTTP client of Home Assistant's server (webhooks take no login)."""
    return await hass_client_no_auth()


def _connector(entry: MockConfigEntry) -> TossPlaceConnector:
    connector = entry.runtime_data.connectors.toss_place
    assert connector is not None
    return connector


async def _deliver(
    client: TestClient,
    fake: FakeTossPlace,
    webhooks: list[Webhook],
    webhook_id: str = TOSS_WEBHOOK_ID,
) -> list[int]:
    """Deliver webhooks one after the other (each signed now); their HTTP statuses."""
    statuses = []
    for webhook in webhooks:
        status, _ = await async_post(client, webhook_id, fake.sign(webhook), webhook.body)
        statuses.append(status)
    return statuses


async def _backfill(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Run one polling round now and let the entities catch up."""
    # a round reads what changed before it started (the vendor's times have milliseconds)
    await asyncio.sleep(0.01)
    task = _connector(entry).async_request_backfill()
    assert task is not None
    await task
    await async_settle(hass)


async def test_signed_delivery_records_the_sale(
    hass: HomeAssistant, entry: MockConfigEntry, fake: FakeTossPlace, client: TestClient
) -> None:
    """Created, paid and completed at the POS: the order, its payment, the stock and the
    revenue sensor follow; a thin event is completed by fetching the order."""
    order = fake.add_order(["americano_ice", ("latte_hot", 2)], pay="CARD", state="COMPLETED")
    (payment,) = fake.payments.values()
    webhooks = fake.take_webhooks()
    assert [w.event_type for w in webhooks] == [
        EVENT_ORDER_CREATED,
        EVENT_PAYMENT_APPROVED,
        EVENT_ORDER_COMPLETED,
    ]
    before = get_state(hass, "sensor.careon_cafe_eseupeureso_weondu_stock").state

    assert await _deliver(client, fake, webhooks) == [200, 200, 200]
    await async_settle(hass)

    sales = await async_sales(entry, SOURCE)
    assert sales["orders"] == {order["id"]: "completed"}
    assert sales["payments"] == {payment["id"]: "approved"}
    assert get_state(hass, REVENUE).state == "14500"
    assert get_state(hass, ORDERS).state == "1"
    # three coffees of 18 g each
    stock = get_state(hass, "sensor.careon_cafe_eseupeureso_weondu_stock").state
    assert float(before) - float(stock) == 54
    # the completed event is thin: the order was fetched once; its payment was already known
    assert len(fake.requests_to(f"/order/orders/{order['id']}")) == 1
    assert fake.requests_to("/payment/payments") == []
    async with entry.runtime_data.engine.reader() as ontology:
        (stored,) = await ontology.by_type("Payment")
        (order_obj,) = await ontology.by_type("Order")
        lines = await ontology.links_from([order_obj.id], "contains")
    assert stored.get("card")["number"].count("*") >= 6
    assert stored.get("approval_no") == payment["approvedNo"]
    assert {link.target_id for link in lines} == {"product.americano_ice", "product.latte_hot"}
    assert _connector(entry).stats["orders"] == 2
    assert _connector(entry).stats["payments"] == 1


async def test_duplicates_and_reordering(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    fake: FakeTossPlace,
    client: TestClient,
    demo_template: Path,
    tmp_path: Path,
) -> None:
    """Every webhook delivered twice, in a shuffled order: the store ends as it does when
    they arrive once and in order (another store fed in order is the reference)."""
    reference_path = tmp_path / "reference.db"
    shutil.copyfile(demo_template, reference_path)
    reference = await async_setup_store(
        hass,
        store_entry(
            reference_path,
            [toss_subentry(fake, webhook_id="reference0webhook")],
            entry_id="01JCAREON0REFERENCE0STORE0",
            title="Reference Cafe",
        ),
    )
    completed = fake.add_order(["americano_hot"], pay="CARD", state="COMPLETED")
    still_open = fake.add_order([("latte_ice", 2)])
    paid = fake.add_order(["croissant", "cheesecake"], pay="CASH")
    cancelled = fake.add_order(["grapefruit_ade"], pay="CARD")
    fake.cancel(cancelled["id"])
    webhooks = fake.take_webhooks()

    assert set(await _deliver(client, fake, webhooks, "reference0webhook")) == {200}
    shuffled = webhooks * 2
    random.Random(4).shuffle(shuffled)
    assert set(await _deliver(client, fake, shuffled)) == {200}
    await async_settle(hass)

    sales = await async_sales(entry, SOURCE)
    assert sales == await async_sales(reference, SOURCE)
    assert sales["orders"] == {
        completed["id"]: "completed",
        still_open["id"]: "open",
        paid["id"]: "paid",
        cancelled["id"]: "cancelled",
    }
    assert sales["order_refs"] == 4
    assert sales["payments"] == vendor_sales(fake)["payments"]
    # the second delivery of each webhook was answered from memory
    assert _connector(entry).stats["duplicates"] == len(webhooks)
    assert get_state(hass, REVENUE).state == str(4500 + 3800 + 6500)
    assert await hass.config_entries.async_unload(reference.entry_id)


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"secret": "another-secret"}, 401),
        ({"age": 301}, 401),
        ({"age": -301}, 401),
        ({"headers": {"x-toss-signature": None}}, 401),
        ({"headers": {"x-toss-timestamp": "yesterday"}}, 401),
        ({"headers": {"x-toss-signature": "v1=" + "0" * 64}}, 401),
        ({"body": b"not json"}, 400),
        ({"body": b'{"id": "evt-1", "type": "order.order.created.v1", "data": "x"}'}, 400),
        ({"data": {"order": {"id": "620", "orderState": "OPENED"}}}, 400),
        ({"data": {"order": {**{"id": "620"}, "createdAt": "soon"}}}, 400),
        ({"type": "order.order.completed.v1", "data": {}}, 400),
        ({"type": "payment.payment.approved.v1", "data": {"orderId": "620"}}, 400),
        ({"type": "payment.payment.approved.v1", "data": {"payment": {"id": "640"}}}, 400),
    ],
)
async def test_refused_deliveries_write_nothing(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    fake: FakeTossPlace,
    client: TestClient,
    demo_store: Path,
    change: dict[str, Any],
    status: int,
) -> None:
    """A bad signature or an old (or future) timestamp is 401, a signed but unreadable body
    400; nothing is written either way."""
    fake.add_order(["americano_hot"])
    (webhook,) = fake.take_webhooks()
    body = change.get("body", webhook.body)
    if "data" in change:
        payload = webhook.payload
        payload["data"] = change["data"]
        payload["type"] = change.get("type", payload["type"])
        body = json.dumps(payload).encode()
    headers = fake.sign(
        Webhook(webhook.webhook_id, webhook.event_type, body),
        secret=change.get("secret"),
        timestamp_ms=int((time.time() - change["age"]) * 1000) if "age" in change else None,
    )
    for key, value in change.get("headers", {}).items():
        if value is None:
            del headers[key]
        else:
            headers[key] = value
    before = await async_dump(hass, demo_store)

    assert (await async_post(client, TOSS_WEBHOOK_ID, headers, body))[0] == status

    assert await async_dump(hass, demo_store) == before
    assert _connector(entry).stats[f"refused_{status}"] == 1


async def test_accepted_without_writing(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    fake: FakeTossPlace,
    client: TestClient,
    demo_store: Path,
) -> None:
    """Unknown event types, another merchant's events and thin events for an order the
    vendor does not know are answered 200 and change nothing."""
    before = await async_dump(hass, demo_store)
    unknown = fake.make_webhook("catalog.item.updated.v1", {"itemId": "itm-1"})
    thin = fake.make_webhook(EVENT_ORDER_COMPLETED, {"orderId": "629999"})
    other = fake.make_webhook(EVENT_ORDER_CREATED, {"order": {"id": "1"}})
    other_payload = other.payload | {"merchantId": 7}
    other = Webhook(other.webhook_id, other.event_type, json.dumps(other_payload).encode())

    assert await _deliver(client, fake, [unknown, thin, other]) == [200, 200, 200]

    assert await async_dump(hass, demo_store) == before
    stats = _connector(entry).stats
    assert (stats["ignored"], stats["order_not_found"], stats["other_merchant"]) == (1, 1, 1)


async def test_payment_first_fetches_its_order(
    hass: HomeAssistant, entry: MockConfigEntry, fake: FakeTossPlace, client: TestClient
) -> None:
    """A payment whose order the store does not know yet: the order is fetched first."""
    order = fake.add_order(["matcha_latte"], pay="BARCODE")
    webhooks = fake.take_webhooks()
    payment_webhook = next(w for w in webhooks if w.event_type == EVENT_PAYMENT_APPROVED)

    assert await _deliver(client, fake, [payment_webhook]) == [200]
    await async_settle(hass)

    sales = await async_sales(entry, SOURCE)
    assert sales["orders"] == {order["id"]: "paid"}
    assert sales["payments"] == {next(iter(fake.payments)): "approved"}
    assert len(fake.requests_to(f"/order/orders/{order['id']}")) == 1
    # the order as fetched lists the payment only in brief: its full copy was asked for
    assert len(fake.requests_to("/payment/payments/by-order-id")) == 1
    # the created event, late, changes nothing
    assert await _deliver(client, fake, webhooks[:1]) == [200]
    assert (await async_sales(entry, SOURCE))["orders"] == {order["id"]: "paid"}


async def test_database_unavailable_answers_503(
    hass: HomeAssistant, entry: MockConfigEntry, fake: FakeTossPlace, client: TestClient
) -> None:
    """When the store cannot record a delivery, the vendor is told to deliver it again."""
    fake.add_order(["americano_hot"])
    (webhook,) = fake.take_webhooks()
    await entry.runtime_data.engine.close()

    assert await _deliver(client, fake, [webhook]) == [503]
    assert _connector(entry).stats["refused_503"] == 1


async def test_restart_mid_burst_is_caught_up_by_polling(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    fake: FakeTossPlace,
    client: TestClient,
    demo_store: Path,
) -> None:
    """Home Assistant goes down in the middle of a burst of webhooks, and more sales happen
    while it is down (their webhooks are lost): once back, polling from the persisted cursor
    closes the gap. The store ends with exactly the vendor's orders and payments."""
    connector = _connector(entry)
    first_cursor = connector.cursor
    assert first_cursor is not None
    for number in range(12):
        lines = [("americano_ice", 1 + number % 2), "croissant"]
        if number % 3 == 0:
            fake.add_order(lines, pay="CARD", state="COMPLETED")
        elif number % 3 == 1:
            fake.add_order(lines, pay="CASH")
        else:
            fake.add_order(lines)
    webhooks = fake.take_webhooks()
    half = len(webhooks) // 2
    assert set(await _deliver(client, fake, webhooks[:half])) == {200}

    # the rest of the burst races the unload: some are recorded, some land on no webhook
    async def deliver_late(webhook: Webhook) -> int:
        await asyncio.sleep(0.002 * webhooks.index(webhook))
        return (await async_post(client, TOSS_WEBHOOK_ID, fake.sign(webhook), webhook.body))[0]

    deliveries = [asyncio.create_task(deliver_late(w)) for w in webhooks[half:]]
    await asyncio.sleep(0.01)
    assert await hass.config_entries.async_unload(entry.entry_id)
    statuses = await asyncio.gather(*deliveries)
    assert set(statuses) <= {200, 503}

    # while Home Assistant is down: new sales, an open order completed; webhooks lost
    fake.add_order(["cheesecake"], pay="CARD", state="COMPLETED")
    fake.add_order([SEASONAL], pay="CASH")
    open_order = next(o for o in fake.orders.values() if o["orderState"] == "OPENED")
    fake.complete(open_order["id"], pay="CARD")
    fake.take_webhooks()
    dump = await async_dump(hass, demo_store)
    stored = [row for row in dump["careon_external_refs"] if row[1] == "order"]
    assert len(stored) < len(fake.orders)

    await asyncio.sleep(0.01)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    await async_settle(hass)

    connector = _connector(entry)
    # the cursor survived the restart: polling read from it, less the overlap
    assert connector.last_backfill is not None
    assert connector.last_backfill["from"] == (first_cursor - BACKFILL_OVERLAP).isoformat()
    sales = await async_sales(entry, SOURCE)
    expected = vendor_sales(fake)
    assert sales["orders"] == expected["orders"]
    assert sales["payments"] == expected["payments"]
    assert sales["order_refs"] == len(fake.orders) == 14
    revenue = sum(
        o["chargePrice"]["totalAmount"]
        for o in fake.orders.values()
        if expected["orders"][o["id"]] in ("paid", "completed")
    )
    assert get_state(hass, REVENUE).state == str(revenue)
    assert get_state(hass, ORDERS).state == str(
        sum(1 for status in expected["orders"].values() if status in ("paid", "completed"))
    )
    # polling again finds nothing new: every version is known
    audits = len((await async_dump(hass, demo_store))["careon_audit"])
    await _backfill(hass, entry)
    assert len((await async_dump(hass, demo_store))["careon_audit"]) == audits


async def test_first_round_reads_a_day_back(
    hass: HomeAssistant, entry: MockConfigEntry, fake: FakeTossPlace
) -> None:
    """A new connector reads the last day (and the overlap); orders older are left alone."""
    connector = _connector(entry)
    assert connector.last_backfill is not None
    start = dt_util.parse_datetime(connector.last_backfill["from"])
    end = dt_util.parse_datetime(connector.last_backfill["to"])
    assert start is not None
    assert end is not None
    assert end - start == BACKFILL_FIRST_WINDOW + BACKFILL_OVERLAP
    assert connector.cursor == end
    (request,) = fake.requests_to("/order/orders")
    assert request.query["sortOrder"] == "ASC"


async def test_rate_limit_is_honoured_while_polling(
    hass: HomeAssistant, entry: MockConfigEntry, fake: FakeTossPlace
) -> None:
    """A 429 makes the connector wait until the bucket's reset time, then go on: every order
    is recorded and no request came before the reset the vendor announced."""
    fake.emit_webhooks = False
    orders = [fake.add_order(["americano_hot"], pay="CARD") for _ in range(12)]
    fake.requests.clear()
    # The bucket is empty and refills slowly, so the round's first request is refused however
    # slow the machine; once it is, tokens come faster and the round goes on, meeting the
    # limit again whenever it runs faster than the vendor allows.
    fake.set_rate_limit(burst=3, refill_per_s=0.5, tokens=0)
    round_done = hass.async_create_task(_backfill(hass, entry))
    while not any(request.status == 429 for request in fake.requests):
        assert not round_done.done(), "the round never met the limit"
        await asyncio.sleep(0.01)
    fake.set_rate_limit(refill_per_s=8)
    await round_done

    sales = await async_sales(entry, SOURCE)
    assert sales["orders"] == {order["id"]: "paid" for order in orders}
    assert len(sales["payments"]) == 12
    limited = [i for i, request in enumerate(fake.requests) if request.status == 429]
    assert limited
    for index in limited:
        reset = int(fake.requests[index].response_headers["x-ratelimit-reset"]) / 1000
        assert fake.requests[index + 1].at >= reset - 0.01
    assert _connector(entry).stats["backfill_failures"] == 0


async def test_unreachable_vendor_is_retried_next_round(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    fake: FakeTossPlace,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Server errors outlasting the retries: said once, the cursor stays, the next round
    records the orders."""
    connector = _connector(entry)
    cursor = connector.cursor
    fake.emit_webhooks = False
    order = fake.add_order(["americano_hot"])
    fake.fail_next(6, status=503)

    await _backfill(hass, entry)
    await _backfill(hass, entry)

    assert connector.cursor == cursor
    assert connector.stats["backfill_failures"] == 2
    assert caplog.text.count("Could not read Toss Place orders") == 1
    await _backfill(hass, entry)
    assert (await async_sales(entry, SOURCE))["orders"] == {order["id"]: "open"}
    assert connector.cursor is not None
    assert cursor is not None
    assert connector.cursor > cursor
    assert "works again" in caplog.text


async def test_refused_keys_start_reauth(
    hass: HomeAssistant, entry: MockConfigEntry, fake: FakeTossPlace, client: TestClient
) -> None:
    """The vendor refuses the keys (401): polling stops and a reauth flow asks for new keys;
    once entered, the store reloads and catches up."""
    connector = _connector(entry)
    fake.secret_key = "rotated-secret-key"
    fake.emit_webhooks = False
    order = fake.add_order(["latte_hot"], pay="CARD", state="COMPLETED")

    await _backfill(hass, entry)
    await hass.async_block_till_done()

    assert connector.auth_failed
    assert not connector.diagnostics()["polling"]
    (flow,) = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert flow["context"]["source"] == SOURCE_REAUTH
    assert flow["step_id"] == "reauth_connector"
    # a thin event needs the order: not possible now, the vendor is asked to retry
    thin = fake.order_webhook(order["id"])
    assert await _deliver(client, fake, [thin]) == [503]
    assert len(hass.config_entries.flow.async_progress_by_handler(DOMAIN)) == 1

    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {CONF_ACCESS_KEY: fake.access_key, CONF_SECRET_KEY: "wrong"}
    )
    assert result["errors"] == {"base": "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {CONF_ACCESS_KEY: fake.access_key, CONF_SECRET_KEY: "rotated-secret-key"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done(wait_background_tasks=True)
    await async_settle(hass)

    subentry = entry.subentries[subentry_id(entry, CONNECTOR_TOSS_PLACE)]
    assert subentry.data[CONF_SECRET_KEY] == "rotated-secret-key"
    assert entry.state is ConfigEntryState.LOADED
    assert _connector(entry) is not connector
    assert not _connector(entry).auth_failed
    assert (await async_sales(entry, SOURCE))["orders"] == {order["id"]: "completed"}


async def _fix(hass: HomeAssistant, issue_id: str, *steps: dict[str, Any]) -> dict[str, Any]:
    manager = repairs_flow_manager(hass)
    assert manager is not None
    result: Any = await manager.async_init(DOMAIN, data={"issue_id": issue_id})
    for step in steps:
        result = await manager.async_configure(result["flow_id"], step)
    return dict(result)


async def test_unmapped_pos_item_repair(
    hass: HomeAssistant,
    repairs: None,
    entry: MockConfigEntry,
    fake: FakeTossPlace,
    client: TestClient,
    issue_registry: ir.IssueRegistry,
) -> None:
    """A POS item no product matches is recorded as a placeholder and raised as a fixable
    issue (kept across a restart); mapping it onto a product of the menu moves its sales and
    resolves the issue; keeping another makes it a product of its own."""
    fake.add_order([SEASONAL], pay="CARD", state="COMPLETED")
    fake.add_order([{"title": "굿즈 텀블러", "code": "9100", "price": 18000}], pay="CASH")
    assert set(await _deliver(client, fake, fake.take_webhooks())) == {200}
    await async_settle(hass)

    products = entry.runtime_data.coordinator.data.products
    placeholders = {p.name: p.id for p in products.values() if p.get("unmapped")}
    assert set(placeholders) == {"시즌 딸기라떼", "굿즈 텀블러"}
    seasonal_issue = f"unmapped_product_{placeholders['시즌 딸기라떼']}"
    issue = issue_registry.async_get_issue(DOMAIN, seasonal_issue)
    assert issue is not None
    assert issue.is_fixable
    assert issue.translation_placeholders == {
        "store": entry.title,
        "product": "시즌 딸기라떼",
        "code": "9001",
        "source": "Toss Place",
    }

    # the issues are the store's state: they are back after a restart
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert issue_registry.async_get_issue(DOMAIN, seasonal_issue) is not None

    result = await _fix(hass, seasonal_issue)
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == ["map", "keep"]
    result = await _fix(hass, seasonal_issue, {"next_step_id": "map"})
    assert result["step_id"] == "map"
    options = result["data_schema"].schema["product"].config["options"]
    assert {"value": "product.latte_ice", "label": "아이스 카페라떼"} in options
    assert all(option["value"] not in placeholders.values() for option in options)
    result = await _fix(
        hass, seasonal_issue, {"next_step_id": "map"}, {"product": "product.latte_ice"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await async_settle(hass)

    assert issue_registry.async_get_issue(DOMAIN, seasonal_issue) is None
    products = entry.runtime_data.coordinator.data.products
    assert placeholders["시즌 딸기라떼"] not in products
    assert products["product.latte_ice"].get("pos_refs") == {SOURCE: ["9001"]}

    goods_issue = f"unmapped_product_{placeholders['굿즈 텀블러']}"
    result = await _fix(hass, goods_issue, {"next_step_id": "keep"}, {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await async_settle(hass)
    assert issue_registry.async_get_issue(DOMAIN, goods_issue) is None
    products = entry.runtime_data.coordinator.data.products
    assert products[placeholders["굿즈 텀블러"]].get("unmapped") is False

    # an order of the mapped code now sells the mapped product: no new issue
    fake.add_order([SEASONAL])
    assert set(await _deliver(client, fake, fake.take_webhooks())) == {200}
    await async_settle(hass)
    assert not [i for i in issue_registry.issues.values() if i.domain == DOMAIN]


async def test_repair_of_a_product_resolved_meanwhile(
    hass: HomeAssistant,
    repairs: None,
    entry: MockConfigEntry,
    fake: FakeTossPlace,
    client: TestClient,
    issue_registry: ir.IssueRegistry,
) -> None:
    """A fix flow for an item resolved elsewhere (a service call) ends without changing it."""
    fake.add_order([SEASONAL])
    assert set(await _deliver(client, fake, fake.take_webhooks())) == {200}
    await async_settle(hass)
    (placeholder,) = [
        p for p in entry.runtime_data.coordinator.data.products.values() if p.get("unmapped")
    ]
    issue_id = f"unmapped_product_{placeholder.id}"
    manager = repairs_flow_manager(hass)
    assert manager is not None
    flow: Any = await manager.async_init(DOMAIN, data={"issue_id": issue_id})
    flow = await manager.async_configure(flow["flow_id"], {"next_step_id": "keep"})
    await entry.runtime_data.engine.execute(
        "resolve_unmapped_product", {"product": placeholder.id}, actor="test", source="test"
    )

    await async_settle(hass)
    # the store's state says it is resolved: the issue goes
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None

    result = await manager.async_configure(flow["flow_id"], {})

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "product_not_unmapped"


async def test_repair_while_the_store_is_not_loaded(
    hass: HomeAssistant,
    repairs: None,
    entry: MockConfigEntry,
    fake: FakeTossPlace,
    client: TestClient,
) -> None:
    """A fix flow needs the store loaded."""
    fake.add_order([SEASONAL])
    assert set(await _deliver(client, fake, fake.take_webhooks())) == {200}
    await async_settle(hass)
    (placeholder,) = [
        p for p in entry.runtime_data.coordinator.data.products.values() if p.get("unmapped")
    ]
    assert await hass.config_entries.async_unload(entry.entry_id)

    result = await _fix(hass, f"unmapped_product_{placeholder.id}")

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "entry_not_loaded"


async def test_home_assistant_stop_stops_the_connector(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    """Stopping Home Assistant stops the webhook and the polling before the database closes."""
    connector = _connector(entry)
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await hass.async_block_till_done()
    assert TOSS_WEBHOOK_ID not in hass.data["webhook"]
    assert connector.diagnostics()["polling"] is False
    assert connector.diagnostics()["webhook_registered"] is False


def _json_values() -> st.SearchStrategy[Any]:
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**63), max_value=2**63)
        | st.floats(allow_nan=False)
        | st.text(max_size=20)
        | st.sampled_from(["", "0", "APPROVED", "COMPLETED", "2026-13-01T00:00:00Z", "-1"])
    )
    return st.recursive(
        scalars,
        lambda children: st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=8), children, max_size=4),
        max_leaves=10,
    )


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    paths = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            paths += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            paths += _paths(value, (*prefix, index))
    return paths


def _replace(node: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy = list(node) if isinstance(node, list) else dict(node)
    copy[path[0]] = _replace(node[path[0]], path[1:], value)
    return copy


async def test_fuzzed_deliveries(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    fake: FakeTossPlace,
    client: TestClient,
    demo_store: Path,
) -> None:
    """Arbitrary bodies, mutated real events and broken headers through the HTTP endpoint:
    never a server error, and a refused delivery writes nothing."""
    fake.add_order(["americano_ice", ("croissant", 2)], pay="CARD", state="COMPLETED")
    fake.add_order([SEASONAL], pay="CASH")
    real = [webhook.payload for webhook in fake.take_webhooks()]
    loop = asyncio.get_running_loop()

    async def deliver(headers: dict[str, str], body: bytes) -> tuple[int, bool]:
        before = await async_dump(hass, demo_store)
        status, _ = await async_post(client, TOSS_WEBHOOK_ID, headers, body)
        return status, await async_dump(hass, demo_store) != before

    mutated = st.builds(
        lambda payload, choice, value: json.dumps(
            _replace(payload, (paths := _paths(payload))[choice % len(paths)], value)
        ).encode(),
        st.sampled_from(real),
        st.integers(min_value=0, max_value=10_000),
        _json_values(),
    )
    bodies = st.binary(max_size=200) | _json_values().map(lambda v: json.dumps(v).encode())
    bodies |= mutated

    @settings(
        max_examples=80,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        body=bodies,
        signing=st.sampled_from(["signed", "unsigned", "old", "garbage"]),
        garbage=st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30),
    )
    def check(body: bytes, signing: str, garbage: str) -> None:
        webhook = Webhook("whk-fuzz", "fuzz", body)
        headers = fake.sign(webhook, timestamp_ms=int((time.time() - 600) * 1000))
        if signing == "signed":
            headers = fake.sign(webhook)
        elif signing == "unsigned":
            del headers["x-toss-signature"]
        elif signing == "garbage":
            headers["x-toss-signature"] = garbage
        headers["x-toss-webhook-id"] = f"whk-{time.monotonic_ns()}"
        status, changed = asyncio.run_coroutine_threadsafe(deliver(headers, body), loop).result(
            timeout=60
        )
        assert status in (200, 400, 401), (status, body)
        if status != 200:
            assert not changed, (status, body)
        if signing != "signed":
            assert status == 401

    await hass.async_add_executor_job(check)
    assert _connector(entry).stats["refused_500"] == 0
    assert _connector(entry).stats["refused_503"] == 0


async def test_diagnostics_hold_no_keys(
    hass: HomeAssistant, entry: MockConfigEntry, fake: FakeTossPlace
) -> None:
    """The connector's diagnostics tell what it did, never a key or the webhook secret."""
    diagnostics = entry.runtime_data.connectors.diagnostics()
    text = json.dumps(diagnostics)
    for secret in (fake.access_key, fake.secret_key, fake.webhook_secret, TOSS_WEBHOOK_ID):
        assert secret not in text
    assert diagnostics["nice_payments"] is None
    assert diagnostics["toss_place"]["polling"] is True
    assert diagnostics["toss_place"]["webhook_registered"] is True
    assert diagnostics["toss_place"]["last_backfill"]["orders"] == 0
    assert timedelta(0) < dt_util.utcnow() - dt_util.parse_datetime(
        diagnostics["toss_place"]["cursor"]
    )


async def test_removing_the_store_forgets_its_issues_and_cursor(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    fake: FakeTossPlace,
    client: TestClient,
    issue_registry: ir.IssueRegistry,
    hass_storage: dict[str, Any],
) -> None:
    """A removed store leaves no repair issue and no polling cursor behind."""
    fake.add_order([SEASONAL])
    assert set(await _deliver(client, fake, fake.take_webhooks())) == {200}
    await async_settle(hass)
    cursor_key = f"{DOMAIN}.{entry.entry_id}.{subentry_id(entry, SOURCE)}.toss_place"
    assert cursor_key in hass_storage
    assert [i for i in issue_registry.issues.values() if i.domain == DOMAIN]

    assert (await hass.config_entries.async_remove(entry.entry_id))["require_restart"] is False
    await hass.async_block_till_done()

    assert not [i for i in issue_registry.issues.values() if i.domain == DOMAIN]
    assert cursor_key not in hass_storage
