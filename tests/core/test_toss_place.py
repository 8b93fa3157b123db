"""The Toss Place connector: webhook signatures, the REST client against a fake vendor server
on 127.0.0.1 (tests/fakes/toss_place.py), and the mapping into sync_order/sync_payment."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
import copy
from datetime import UTC, datetime, timedelta
import json
import logging
import socket
import time
from typing import Any

import aiohttp
from hypothesis import HealthCheck, given, settings, strategies as st
import pytest

from custom_components.careon.core.actions import ACTIONS
from custom_components.careon.core.connectors import toss_place
from custom_components.careon.core.connectors.toss_place import (
    EVENT_ORDER_CANCELLED,
    EVENT_ORDER_COMPLETED,
    EVENT_ORDER_CREATED,
    EVENT_ORDER_OPENED,
    EVENT_PAYMENT_APPROVED,
    EVENT_PAYMENT_CANCELLED,
    TossPlaceAuthError,
    TossPlaceClient,
    TossPlaceConnectionError,
    TossPlaceError,
    TossPlaceFormatError,
    TossPlaceRateLimitError,
    TossWebhook,
    order_key,
    order_params,
    order_ref_of,
    parse_webhook,
    payment_key,
    payment_params,
    sign,
    verify_signature,
)
from custom_components.careon.core.errors import ValidationError
from custom_components.careon.core.fields import Field, validate_fields
from tests.fakes.toss_place import FakeTossPlace

# CONNECTORS.md §1, the vendor's test vector
VECTOR_SECRET = "test-webhook-secret"
VECTOR_TIMESTAMP = 1767225600000
VECTOR_BODY = (
    b'{"id":"evt-0001","type":"payment.payment.approved.v1","createdAt":"2026-01-01T00:00:00.000Z",'
    b'"merchantId":42,"app":"ha-cafe","data":{"payment":{"id":"640000000000000001",'
    b'"orderId":"620000000000000001","state":"APPROVED","sourceType":"CARD","amount":4500}}}'
)
VECTOR_SIGNATURE = "v1=b3cc6cff91d5a9bc9a3354b29618593415177df3d3ac316c6fd03d6676bdb697"
START = 1_767_225_600.0  # 2026-01-01T00:00:00Z

# The parameters of sync_order/sync_payment as the contract gives them (issue 4); the actions'
# own specs are checked too once they are registered.
_MONEY = Field(kind="money", min=0)
_TEXT = Field(kind="string")
_TIME = Field(kind="datetime")
CONTRACT_PARAMS: dict[str, dict[str, Field]] = {
    "sync_order": {
        "source": Field(kind="string", required=True),
        "external_id": Field(kind="string", required=True),
        "number": _TEXT,
        "state": Field(kind="string", required=True, choices=("open", "completed", "cancelled")),
        "channel": Field(
            kind="string", default="here", choices=("here", "togo", "delivery", "pickup")
        ),
        "placed_at": Field(kind="datetime", required=True),
        "completed_at": _TIME,
        "cancelled_at": _TIME,
        "vendor_updated_at": _TIME,
        "total": Field(kind="money", required=True, min=0),
        "discount": _MONEY,
        "tax": _MONEY,
        "supply": _MONEY,
        "tip": _MONEY,
        "lines": Field(
            kind="records",
            min_items=0,
            fields={
                "title": Field(kind="string", required=True),
                "code": _TEXT,
                "category": _TEXT,
                "qty": Field(kind="integer", min=1, default=1),
                "unit_price": Field(kind="money", min=0, default=0),
                "options": Field(kind="list"),
            },
        ),
        "customer_phone": _TEXT,
    },
    "sync_payment": {
        "source": Field(kind="string", required=True),
        "external_id": Field(kind="string", required=True),
        "order_ref": _TEXT,
        "method": Field(
            kind="string",
            required=True,
            choices=("card", "cash", "easy_pay", "transfer", "external", "other"),
        ),
        "status": Field(
            kind="string",
            required=True,
            choices=("approved", "cancelled", "partial_cancelled", "failed", "pending"),
        ),
        "amount": Field(kind="money", required=True, min=0),
        "cancelled_amount": _MONEY,
        "approval_no": _TEXT,
        "van": _TEXT,
        "approved_at": _TIME,
        "cancelled_at": _TIME,
        "card": Field(kind="mapping"),
        "refund_order": Field(kind="boolean", default=True),
    },
}


def assert_valid(action: str, params: dict[str, Any]) -> None:
    """``params`` pass the action's parameter checks unchanged (already normal form)."""
    specs = [CONTRACT_PARAMS[action]]
    if action in ACTIONS:
        specs.append(dict(ACTIONS[action].params))
    for spec in specs:
        clean = validate_fields(spec, params, tz=toss_place.KOREA)
        defaults = {k: v for k, v in clean.items() if k not in params}
        assert {**params, **defaults} == clean


class Clock:
    """A frozen epoch clock whose ``sleep`` only records the wait and moves time on."""

    def __init__(self, now: float = START) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def fake(socket_enabled: None, clock: Clock) -> AsyncIterator[FakeTossPlace]:
    async with FakeTossPlace(clock=clock) as server:
        yield server


@pytest.fixture
async def session(socket_enabled: None) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


def make_client(
    session: aiohttp.ClientSession, fake: FakeTossPlace, clock: Clock, **kwargs: Any
) -> TossPlaceClient:
    options: dict[str, Any] = {
        "access_key": fake.access_key,
        "secret_key": fake.secret_key,
        "merchant_id": fake.merchant_id,
        "base_url": fake.url,
        "sleep": clock.sleep,
        "clock": clock,
        **kwargs,
    }
    return TossPlaceClient(session, **options)


@pytest.fixture
def client(session: aiohttp.ClientSession, fake: FakeTossPlace, clock: Clock) -> TossPlaceClient:
    return make_client(session, fake, clock)


# --- webhook signatures -------------------------------------------------------------------


def test_signature_matches_the_vendor_vector() -> None:
    assert sign(VECTOR_SECRET, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE
    assert sign(VECTOR_SECRET, str(VECTOR_TIMESTAMP), VECTOR_BODY.decode()) == VECTOR_SIGNATURE
    assert verify_signature(
        VECTOR_SECRET,
        str(VECTOR_TIMESTAMP),
        VECTOR_BODY,
        VECTOR_SIGNATURE,
        now_ms=VECTOR_TIMESTAMP,
    )


@pytest.mark.parametrize(
    ("offset_ms", "accepted"),
    [(0, True), (300_000, True), (-300_000, True), (300_001, False), (-300_001, False)],
)
def test_timestamp_window_both_ways(offset_ms: int, accepted: bool) -> None:
    """Five minutes either side of the receiver's clock, no more."""
    assert (
        verify_signature(
            VECTOR_SECRET,
            str(VECTOR_TIMESTAMP),
            VECTOR_BODY,
            VECTOR_SIGNATURE,
            now_ms=VECTOR_TIMESTAMP + offset_ms,
        )
        is accepted
    )


def test_a_narrower_tolerance_is_honoured() -> None:
    assert not verify_signature(
        VECTOR_SECRET,
        VECTOR_TIMESTAMP,
        VECTOR_BODY,
        VECTOR_SIGNATURE,
        now_ms=VECTOR_TIMESTAMP + 2_000,
        tolerance_ms=1_000,
    )


@pytest.mark.parametrize(
    ("secret", "timestamp", "body", "header"),
    [
        ("another-secret", str(VECTOR_TIMESTAMP), VECTOR_BODY, VECTOR_SIGNATURE),
        (VECTOR_SECRET, str(VECTOR_TIMESTAMP), VECTOR_BODY.replace(b"4500", b"45000"), None),
        (VECTOR_SECRET, str(VECTOR_TIMESTAMP + 1), VECTOR_BODY, VECTOR_SIGNATURE),
        (VECTOR_SECRET, None, VECTOR_BODY, VECTOR_SIGNATURE),
        (VECTOR_SECRET, "", VECTOR_BODY, VECTOR_SIGNATURE),
        (VECTOR_SECRET, "1767225600000.0", VECTOR_BODY, VECTOR_SIGNATURE),
        (VECTOR_SECRET, "-1767225600000", VECTOR_BODY, VECTOR_SIGNATURE),
        (
            VECTOR_SECRET,
            "\uff11\uff17\uff16\uff17\uff12\uff12\uff15\uff16\uff10\uff10\uff10\uff10\uff10",
            VECTOR_BODY,
            VECTOR_SIGNATURE,
        ),
        (VECTOR_SECRET, str(VECTOR_TIMESTAMP), VECTOR_BODY, ""),
        (VECTOR_SECRET, str(VECTOR_TIMESTAMP), VECTOR_BODY, VECTOR_SIGNATURE.upper()),
        (VECTOR_SECRET, str(VECTOR_TIMESTAMP), VECTOR_BODY, VECTOR_SIGNATURE[3:]),
        (VECTOR_SECRET, str(VECTOR_TIMESTAMP), VECTOR_BODY, "v0=" + VECTOR_SIGNATURE[3:]),
        ("", str(VECTOR_TIMESTAMP), VECTOR_BODY, VECTOR_SIGNATURE),
        ([], str(VECTOR_TIMESTAMP), VECTOR_BODY, VECTOR_SIGNATURE),
    ],
)
def test_bad_deliveries_are_refused(
    secret: Any, timestamp: str | None, body: bytes, header: str | None
) -> None:
    assert not verify_signature(
        secret,
        timestamp,
        body,
        VECTOR_SIGNATURE if header is None else header,
        now_ms=VECTOR_TIMESTAMP,
    )


def test_rotation_any_of_several_signatures() -> None:
    """During a rotation the vendor signs with both secrets; either one on our side passes,
    and we may hold both secrets ourselves."""
    old = sign("old-secret", VECTOR_TIMESTAMP, VECTOR_BODY)
    new = sign(VECTOR_SECRET, VECTOR_TIMESTAMP, VECTOR_BODY)
    header = f"{old} {new}"
    for secret in ("old-secret", VECTOR_SECRET, ["unrelated", VECTOR_SECRET]):
        assert verify_signature(
            secret, VECTOR_TIMESTAMP, VECTOR_BODY, header, now_ms=VECTOR_TIMESTAMP
        )
    assert not verify_signature(
        "third-secret", VECTOR_TIMESTAMP, VECTOR_BODY, header, now_ms=VECTOR_TIMESTAMP
    )
    assert verify_signature(
        VECTOR_SECRET,
        VECTOR_TIMESTAMP,
        VECTOR_BODY,
        f"v0=deadbeef  {new}\t{old}",
        now_ms=VECTOR_TIMESTAMP,
    )


def test_the_fakes_webhooks_verify_and_rotate(clock: Clock) -> None:
    fake = FakeTossPlace(clock=clock)
    headers, body = fake.webhook(EVENT_PAYMENT_APPROVED, {"payment": {"id": "1"}})
    now_ms = int(clock() * 1000)
    assert headers["x-toss-timestamp"] == str(now_ms)
    assert verify_signature(
        fake.webhook_secret,
        headers["x-toss-timestamp"],
        body,
        headers["x-toss-signature"],
        now_ms=now_ms,
    )
    fake.previous_webhook_secret = "last-months-secret"
    headers, body = fake.webhook(EVENT_PAYMENT_APPROVED, {"payment": {"id": "2"}})
    assert len(headers["x-toss-signature"].split()) == 2
    for secret in (fake.webhook_secret, "last-months-secret"):
        assert verify_signature(
            secret, headers["x-toss-timestamp"], body, headers["x-toss-signature"], now_ms=now_ms
        )
    # a retried delivery: same webhook id, new delivery id and timestamp
    webhook = fake.make_webhook(EVENT_PAYMENT_APPROVED, {"payment": {"id": "3"}})
    first = fake.sign(webhook)
    clock.now += 30
    second = fake.sign(webhook)
    assert first["x-toss-webhook-id"] == second["x-toss-webhook-id"] == webhook.webhook_id
    assert first["x-toss-delivery-id"] != second["x-toss-delivery-id"]
    assert int(second["x-toss-timestamp"]) - int(first["x-toss-timestamp"]) == 30_000
    assert verify_signature(
        fake.webhook_secret,
        second["x-toss-timestamp"],
        webhook.body,
        second["x-toss-signature"],
        now_ms=int(clock() * 1000),
    )


# --- webhook bodies ---------------------------------------------------------------------


def test_parse_the_vector_event() -> None:
    event = parse_webhook(VECTOR_BODY)
    assert event == TossWebhook(
        id="evt-0001",
        type=EVENT_PAYMENT_APPROVED,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        merchant_id="42",
        data={
            "payment": {
                "id": "640000000000000001",
                "orderId": "620000000000000001",
                "state": "APPROVED",
                "sourceType": "CARD",
                "amount": 4500,
            }
        },
        app="ha-cafe",
    )
    assert event.is_payment_event
    assert not event.is_order_event
    assert event.order is None
    assert order_ref_of(event) == "620000000000000001"
    assert payment_params(event.payment or {}) == {
        "source": "toss_place",
        "external_id": "640000000000000001",
        "order_ref": "620000000000000001",
        "method": "card",
        "status": "approved",
        "amount": 4500,
    }
    assert payment_key(event.payment or {}) == "toss_place:payment:640000000000000001:APPROVED"


def test_order_events_full_and_thin(clock: Clock) -> None:
    fake = FakeTossPlace(clock=clock)
    order = fake.add_order(["americano_ice", ("croissant", 2)], pay="CARD", state="COMPLETED")
    webhooks = fake.take_webhooks()
    assert [w.event_type for w in webhooks] == [
        EVENT_ORDER_CREATED,
        EVENT_PAYMENT_APPROVED,
        EVENT_ORDER_COMPLETED,
    ]
    assert fake.outbox == []
    assert fake.sent == webhooks
    created, approved, completed = (parse_webhook(w.body) for w in webhooks)
    assert created.is_order_event
    assert created.order is not None
    assert created.order["id"] == order["id"]
    assert order_ref_of(created) == order["id"]
    assert order_ref_of(approved) == order["id"]
    # a thin event names the order only: the order must be fetched
    assert completed.order is None
    assert set(completed.data) == {"orderId", "orderKey", "orderNumber", "source", "time"}
    assert order_ref_of(completed) == order["id"]

    cancelled = fake.add_order(["cold_brew"], pay="CASH", state="CANCELLED")
    assert [w.event_type for w in fake.take_webhooks()] == [
        EVENT_ORDER_CREATED,
        EVENT_PAYMENT_APPROVED,
        EVENT_PAYMENT_CANCELLED,
        EVENT_ORDER_CANCELLED,
    ]
    assert fake.order_webhook(cancelled["id"]).event_type == EVENT_ORDER_CANCELLED
    payment_id = cancelled["payments"][0]["id"]
    refund = parse_webhook(fake.payment_webhook(payment_id).body)
    assert refund.type == EVENT_PAYMENT_CANCELLED
    assert payment_params(refund.payment or {})["status"] == "cancelled"
    assert parse_webhook(b'{"id":"e","type":"catalog.item.updated.v1"}').data == {}
    assert order_ref_of(parse_webhook(b'{"id":"e","type":"x","data":{}}')) is None
    assert order_ref_of(parse_webhook(b'{"id":"e","type":"x","data":{"orderId":620}}')) == "620"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"", "body"),
        (b"not json", "body"),
        (b"\xff\xfe", "body"),
        (b"[1, 2]", "body"),
        (b'"text"', "body"),
        (b'{"type":"order.order.created.v1"}', "id"),
        (b'{"id":"  ","type":"order.order.created.v1"}', "id"),
        (b'{"id":"e1"}', "type"),
        (b'{"id":{"x":1},"type":"t"}', "id"),
        (b'{"id":"e1","type":true}', "type"),
        (b'{"id":"e1","type":"t","data":[1]}', "data"),
        (b'{"id":"e1","type":"t","createdAt":"yesterday"}', "createdAt"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, "body", id="nested-too-deep"),
        pytest.param(b'{"id":' + b"9" * 5000 + b',"type":"t"}', "body", id="number-too-long"),
    ],
)
def test_unreadable_webhooks(body: bytes, field: str) -> None:
    with pytest.raises(TossPlaceFormatError) as err:
        parse_webhook(body)
    assert err.value.field == field
    assert err.value.code == "format"


def test_order_ref_of_a_malformed_reference() -> None:
    event = parse_webhook(b'{"id":"e1","type":"order.order.completed.v1","data":{"orderId":[1]}}')
    with pytest.raises(TossPlaceFormatError, match=r"data\.orderId"):
        order_ref_of(event)


# --- mapping ------------------------------------------------------------------------------

FULL_ORDER: dict[str, Any] = {
    "id": "620000000000000123",
    "merchantId": 42,
    "source": "POS",
    "orderState": "COMPLETED",
    "orderKey": "k-123",
    "orderNumber": "A-017",
    "createdAt": "2026-01-01T09:00:00.000+0900",
    "updatedAt": "2026-01-01T00:12:00.000Z",
    "openedAt": "2026-01-01T09:00:00",
    "completedAt": "2026-01-01T09:12:00+09:00",
    "cancelledAt": None,
    "lineItems": [
        {
            "diningOption": "TOGO",
            "item": {
                "title": "아이스 카페라떼",
                "code": "1004",
                "category": {"title": "커피", "code": "CAT-03"},
            },
            "itemPrice": {"priceValue": 5000, "taxPercentage": 10, "taxInclusive": True},
            "optionChoices": [
                {"title": "샷 추가", "code": "OPT-1", "priceValue": 500, "quantity": 1},
                {"title": "오트밀크 변경", "priceValue": 300, "quantity": 2},
            ],
            "quantity": 2,
        },
        {
            "diningOption": "TOGO",
            "item": {"title": "버터 크루아상", "code": 1011, "category": {"title": "베이커리"}},
            "itemPrice": {"priceValue": 3800},
            "optionChoices": [],
            "quantity": 1,
        },
        {
            # taken off the bill
            "diningOption": "TOGO",
            "item": {"title": "시즌 한정 쿠키", "code": None, "category": None},
            "itemPrice": {"priceValue": 2500},
            "quantity": 0,
        },
    ],
    "discounts": [{"title": "단골 할인", "amount": -1000}],
    "payments": [{"id": "640000000000000077", "state": "APPROVED", "amount": 15500}],
    "chargePrice": {
        "listPrice": 16000,
        "discountAmount": -1000,
        "tipAmount": 500,
        "serviceChargeAmount": 0,
        "taxAmount": 1364,
        "supplyAmount": 13636,
        "taxExemptAmount": 0,
        "totalAmount": 15500,
    },
}

FULL_PAYMENT: dict[str, Any] = {
    "id": "640000000000000077",
    "orderId": "620000000000000123",
    "state": "CANCELLED",
    "sourceType": "CARD",
    "paymentMethod": "CARD",
    "van": "NICE",
    "amount": 15500,
    "approvedNo": "00123456",
    "approvedAt": "2026-01-01T09:11:30+0900",
    "cancelledAt": "2026-01-01T01:00:00Z",
    "cardDetails": {
        "cardType": "CREDIT",
        "cardBrand": "신한",
        "cardNo": "5365-1012-3456-7890",
        "acquirer": "신한카드",
        "installmentMonth": "03",
    },
    "easyPayDetails": None,
}


def test_a_full_order_maps_to_sync_order() -> None:
    params = order_params(FULL_ORDER)
    assert params == {
        "source": "toss_place",
        "external_id": "620000000000000123",
        "state": "completed",
        "number": "A-017",
        "placed_at": "2026-01-01T00:00:00.000000+00:00",
        "completed_at": "2026-01-01T00:12:00.000000+00:00",
        "vendor_updated_at": "2026-01-01T00:12:00.000000+00:00",
        "channel": "togo",
        "total": 15500,
        "discount": 1000,
        "tax": 1364,
        "supply": 13636,
        "tip": 500,
        "lines": [
            {
                "title": "아이스 카페라떼",
                "code": "1004",
                "category": "커피",
                "qty": 2,
                # the options are part of what one unit sold for
                "unit_price": 6100,
                "options": [
                    {"title": "샷 추가", "code": "OPT-1", "price": 500, "qty": 1},
                    {"title": "오트밀크 변경", "price": 300, "qty": 2},
                ],
            },
            {
                "title": "버터 크루아상",
                "code": "1011",
                "category": "베이커리",
                "qty": 1,
                "unit_price": 3800,
                "options": [],
            },
        ],
    }
    assert_valid("sync_order", params)
    assert order_params(FULL_ORDER, source="toss_place_2")["source"] == "toss_place_2"
    assert order_key(FULL_ORDER) == (
        "toss_place:order:620000000000000123:COMPLETED:2026-01-01T00:12:00.000000+00:00"
    )


def test_a_full_payment_maps_to_sync_payment() -> None:
    params = payment_params(FULL_PAYMENT)
    assert params == {
        "source": "toss_place",
        "external_id": "640000000000000077",
        "order_ref": "620000000000000123",
        "method": "card",
        "status": "cancelled",
        "amount": 15500,
        "cancelled_amount": 15500,
        "approval_no": "00123456",
        "van": "NICE",
        "approved_at": "2026-01-01T00:11:30.000000+00:00",
        "cancelled_at": "2026-01-01T01:00:00.000000+00:00",
        "card": {
            "issuer": "신한",
            "acquirer": "신한카드",
            # never a full card number, even when the vendor sends one
            "number": "5365-10**-****-7890",
            "installment_months": 3,
            "kind": "credit",
        },
    }
    assert_valid("sync_payment", params)
    assert payment_key(FULL_PAYMENT) == "toss_place:payment:640000000000000077:CANCELLED"


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        ("2026-01-01T00:00:00.000Z", "2026-01-01T00:00:00.000000+00:00"),
        ("2026-01-01T00:00:00z", "2026-01-01T00:00:00.000000+00:00"),
        ("2026-01-01T09:00:00.000+0900", "2026-01-01T00:00:00.000000+00:00"),
        ("2026-01-01T09:00:00+09:00", "2026-01-01T00:00:00.000000+00:00"),
        # no offset: Korea time
        ("2026-01-01T09:00:00", "2026-01-01T00:00:00.000000+00:00"),
        ("2026-01-01 09:00:00.250", "2026-01-01T00:00:00.250000+00:00"),
        # epoch milliseconds
        (1767225600000, "2026-01-01T00:00:00.000000+00:00"),
    ],
)
def test_vendor_times_become_aware_utc(wire: Any, expected: str) -> None:
    order = {**FULL_ORDER, "createdAt": wire, "updatedAt": wire}
    params = order_params(order)
    assert params["placed_at"] == params["vendor_updated_at"] == expected
    # one version, one key, however its time was written
    assert order_key(order) == order_key({**FULL_ORDER, "updatedAt": expected})


@pytest.mark.parametrize(
    ("vendor", "state"),
    [
        ("REQUESTED", "open"),
        ("OPENED", "open"),
        ("opened", "open"),
        ("COMPLETED", "completed"),
        ("CANCELLED", "cancelled"),
        ("ON_HOLD", "open"),
    ],
)
def test_order_states(vendor: str, state: str) -> None:
    assert order_params({**FULL_ORDER, "orderState": vendor})["state"] == state


@pytest.mark.parametrize(
    ("vendor", "channel"),
    [("HERE", "here"), ("TOGO", "togo"), ("DELIVERY", "delivery"), ("PICKUP", "pickup")],
)
def test_dining_option_is_the_channel(vendor: str, channel: str) -> None:
    lines = [{**line, "diningOption": vendor} for line in FULL_ORDER["lineItems"]]
    assert order_params({**FULL_ORDER, "lineItems": lines})["channel"] == channel


def test_unknown_dining_option_leaves_the_default() -> None:
    lines = [{**line, "diningOption": "DRIVE_THRU"} for line in FULL_ORDER["lineItems"]]
    params = order_params({**FULL_ORDER, "lineItems": lines})
    assert "channel" not in params
    assert_valid("sync_order", params)


@pytest.mark.parametrize(
    ("source_type", "method"),
    [
        ("CARD", "card"),
        ("CASH", "cash"),
        ("ACCOUNT_TRANSFER", "transfer"),
        ("BARCODE", "easy_pay"),
        ("EXTERNAL", "external"),
        ("POINT", "other"),
        (None, "other"),
        (7, "other"),
    ],
)
def test_payment_methods(source_type: Any, method: str) -> None:
    params = payment_params({**FULL_PAYMENT, "sourceType": source_type})
    assert params["method"] == method


@pytest.mark.parametrize(
    ("state", "status", "cancelled_amount"),
    [
        ("APPROVED", "approved", None),
        ("CANCELLED", "cancelled", 15500),
        ("PARTIAL_CANCELLED", "partial_cancelled", None),
        ("FAILED", "failed", None),
        ("SOMETHING_NEW", "pending", None),
    ],
)
def test_payment_states(state: str, status: str, cancelled_amount: int | None) -> None:
    payment = {**FULL_PAYMENT, "state": state}
    params = payment_params(payment)
    assert params["status"] == status
    assert params.get("cancelled_amount") == cancelled_amount
    assert_valid("sync_payment", params)
    partial = payment_params({**payment, "cancelledAmount": "5,000"})
    assert partial["cancelled_amount"] == 5000


def test_each_partial_cancel_is_its_own_version(clock: Clock) -> None:
    fake = FakeTossPlace(clock=clock)
    order = fake.add_order(["sandwich", "grapefruit_ade"], pay="CARD")
    payment_id = order["payments"][0]["id"]
    keys = [payment_key(fake.payments[payment_id])]
    for amount in (1000, 2000, None):
        keys.append(payment_key(fake.cancel_payment(payment_id, amount=amount)))
    assert keys == [
        f"toss_place:payment:{payment_id}:APPROVED",
        f"toss_place:payment:{payment_id}:PARTIAL_CANCELLED:1000",
        f"toss_place:payment:{payment_id}:PARTIAL_CANCELLED:3000",
        f"toss_place:payment:{payment_id}:CANCELLED",
    ]
    assert payment_params(fake.payments[payment_id])["cancelled_amount"] == 13500


def test_a_requested_order_is_opened(clock: Clock) -> None:
    fake = FakeTossPlace(clock=clock)
    order = fake.add_order(["matcha_latte"], state="REQUESTED")
    assert order_params(order)["state"] == "open"
    assert order["openedAt"] is None
    opened = fake.open_order(order["id"])
    assert opened["orderState"] == "OPENED"
    assert opened["openedAt"] == opened["updatedAt"]
    assert [w.event_type for w in fake.take_webhooks()] == [
        EVENT_ORDER_CREATED,
        EVENT_ORDER_OPENED,
    ]
    assert order_key(order) != order_key(opened)


def test_sparse_order_and_payment() -> None:
    """The least the vendor can send: ids, a state, a time and amounts."""
    order = {"id": 620, "orderState": "OPENED", "openedAt": "2026-01-01T09:00:00+0900"}
    params = order_params(order)
    assert params == {
        "source": "toss_place",
        "external_id": "620",
        "state": "open",
        "placed_at": "2026-01-01T00:00:00.000000+00:00",
        "total": 0,
        "lines": [],
    }
    assert_valid("sync_order", params)
    # no chargePrice: the total is what the lines sold for
    order["lineItems"] = [
        {"item": {"code": "X1"}, "itemPrice": {"priceValue": "1,500"}, "quantity": "3"}
    ]
    params = order_params(order)
    assert params["total"] == 4500
    assert params["lines"] == [
        {"title": "X1", "code": "X1", "qty": 3, "unit_price": 1500, "options": []}
    ]
    assert order_key(order) == "toss_place:order:620:OPENED:"
    payment = payment_params({"id": 640, "state": "APPROVED", "amount": 0.0})
    assert payment == {
        "source": "toss_place",
        "external_id": "640",
        "method": "other",
        "status": "approved",
        "amount": 0,
    }
    assert_valid("sync_payment", payment)


@pytest.mark.parametrize(
    ("details", "card"),
    [
        (None, None),
        ("CARD", None),
        ({}, None),
        ({"cardNo": "536510******7890"}, {"number": "536510******7890"}),
        ({"cardNo": "1234"}, {"number": "1234"}),
        ({"installmentMonth": 12}, {"installment_months": 12}),
        ({"installmentMonth": "lump"}, None),
        ({"installmentMonth": -1, "cardType": "CHECK"}, {"kind": "check"}),
        ({"cardBrand": ["x"], "acquirer": 5, "cardType": None}, None),
    ],
)
def test_card_details_are_read_defensively(details: Any, card: dict[str, Any] | None) -> None:
    params = payment_params({**FULL_PAYMENT, "cardDetails": details})
    assert params.get("card") == card


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"id": None}, "id"),
        ({"id": ""}, "id"),
        ({"id": True}, "id"),
        ({"id": 10**41}, "id"),
        ({"orderState": None}, "orderState"),
        ({"orderState": 3.5}, "orderState"),
        ({"createdAt": None, "openedAt": None}, "createdAt"),
        ({"createdAt": "01/01/2026"}, "createdAt"),
        ({"completedAt": "0"}, "completedAt"),
        ({"chargePrice": []}, "chargePrice"),
        ({"chargePrice": {"totalAmount": -1}}, "chargePrice.totalAmount"),
        ({"chargePrice": {"totalAmount": 1.5}}, "chargePrice.totalAmount"),
        ({"chargePrice": {"totalAmount": "1e3"}}, "chargePrice.totalAmount"),
        ({"chargePrice": {"totalAmount": True}}, "chargePrice.totalAmount"),
        ({"chargePrice": {"totalAmount": 10, "taxAmount": -1}}, "chargePrice.taxAmount"),
        ({"lineItems": {}}, "lineItems"),
        ({"lineItems": [3]}, "lineItems[0]"),
        ({"lineItems": [{"quantity": 1}]}, "lineItems[0].item.title"),
        ({"lineItems": [{"item": "x"}]}, "lineItems[0].item"),
        ({"lineItems": [{"item": {"title": "a"}, "quantity": "two"}]}, "lineItems[0].quantity"),
        (
            {"lineItems": [{"item": {"title": "a"}, "itemPrice": {"priceValue": -100}}]},
            "lineItems[0].itemPrice.priceValue",
        ),
        (
            {"lineItems": [{"item": {"title": "a"}, "optionChoices": [None]}]},
            "lineItems[0].optionChoices[0]",
        ),
    ],
)
def test_unreadable_orders_name_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(TossPlaceFormatError) as err:
        order_params({**FULL_ORDER, **change})
    assert err.value.field == field


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"id": None}, "id"),
        ({"state": None}, "state"),
        ({"amount": None}, "amount"),
        ({"amount": -5}, "amount"),
        ({"amount": "lots"}, "amount"),
        ({"cancelledAmount": -5}, "cancelledAmount"),
        ({"approvedAt": "later"}, "approvedAt"),
        ({"orderId": {"id": 1}}, "orderId"),
    ],
)
def test_unreadable_payments_name_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(TossPlaceFormatError) as err:
        payment_params({**FULL_PAYMENT, **change})
    assert err.value.field == field


def test_not_a_mapping() -> None:
    for function in (order_params, payment_params, order_key, payment_key):
        with pytest.raises(TossPlaceFormatError):
            function([])  # type: ignore[arg-type]


def test_the_fakes_orders_map_to_valid_params(clock: Clock) -> None:
    """Every object the fake makes (demo products, options, discounts, tips, cancels) maps."""
    fake = FakeTossPlace(clock=clock, time_style="offset")
    first = fake.add_order(
        [("latte_ice", 2, [("샷 추가", 500)]), "croissant"],
        dining_option="TOGO",
        discount=1000,
        tip=500,
        pay="CARD",
    )
    fake.add_line(first["id"], ("cheesecake", 1))
    fake.complete(first["id"])
    fake.add_order(["americano_hot"], pay="CASH", state="CANCELLED")
    fake.add_order([{"title": "시즌 한정 쿠키", "code": "S-1", "price": 2500, "qty": 3}])
    partly = fake.add_order(["sandwich", "grapefruit_ade"], pay="BARCODE")
    payment_id = partly["payments"][0]["id"]
    fake.cancel_payment(payment_id, amount=6000)
    for order in fake.orders.values():
        assert_valid("sync_order", order_params(order))
    for payment in fake.payments.values():
        assert_valid("sync_payment", payment_params(payment))

    order = order_params(fake.orders[first["id"]])
    assert order["state"] == "completed"
    assert order["channel"] == "togo"
    assert [(line["title"], line["qty"], line["unit_price"]) for line in order["lines"]] == [
        ("아이스 카페라떼", 2, 5500),
        ("버터 크루아상", 1, 3800),
        ("뉴욕 치즈케이크", 1, 6500),
    ]
    # 2 x 5,500 + 3,800 + 6,500 - 1,000 + 500
    assert order["total"] == 20800
    assert order["discount"] == 1000
    assert order["tip"] == 500
    assert order["tax"] + order["supply"] == 20300
    assert payment_params(fake.payments[payment_id])["status"] == "partial_cancelled"
    assert payment_params(fake.payments[payment_id])["cancelled_amount"] == 6000
    assert payment_params(fake.payments[payment_id])["method"] == "easy_pay"
    card = payment_params(fake.payments[first["payments"][0]["id"]])["card"]
    assert set(card) == {"issuer", "acquirer", "number", "installment_months", "kind"}
    assert "******" in card["number"]


def test_the_fake_bumps_updated_at_strictly(clock: Clock) -> None:
    """Two changes within one millisecond are still two versions with two keys."""
    fake = FakeTossPlace(clock=clock)
    order = fake.add_order(["americano_hot"])
    keys = {order_key(order)}
    keys.add(order_key(fake.add_line(order["id"], "croissant")))
    keys.add(order_key(fake.add_line(order["id"], "croissant")))
    keys.add(order_key(fake.complete(order["id"])))
    assert len(keys) == 4
    assert fake.orders[order["id"]]["chargePrice"]["totalAmount"] == 4500 + 2 * 3800


# --- the client against the fake server ---------------------------------------------------


async def test_reads_merchant_order_and_payments(
    fake: FakeTossPlace, client: TossPlaceClient
) -> None:
    order = fake.add_order(["americano_ice", ("croissant", 2)], pay="CARD")
    fake.pay(order["id"], method="CASH", amount=1000)
    merchant = await client.merchant()
    assert merchant["id"] == 42
    assert merchant["name"] == "케어온 카페 성수점"
    assert await client.order(order["id"]) == fake.orders[order["id"]]
    payments = await client.payments_by_order(order["id"])
    assert [p["sourceType"] for p in payments] == ["CARD", "CASH"]
    assert await client.payment(payments[0]["id"]) == payments[0]
    assert await client.payments_by_order("missing") == []
    # the keys travel as headers, on every request
    assert {r.headers["x-access-key"] for r in fake.requests} == {fake.access_key}
    assert {r.headers["x-secret-key"] for r in fake.requests} == {fake.secret_key}
    assert "secret" not in repr(client)


async def test_unknown_order_is_the_vendors_error(
    fake: FakeTossPlace, client: TossPlaceClient
) -> None:
    with pytest.raises(TossPlaceError) as err:
        await client.order("620000000000009999")
    assert type(err.value) is TossPlaceError
    assert (err.value.code, err.value.reason) == ("4040", "Order not found")
    assert len(fake.requests) == 1


async def test_orders_by_ids_in_chunks_of_25(fake: FakeTossPlace, client: TossPlaceClient) -> None:
    ids = [fake.add_order(["americano_hot"])["id"] for _ in range(60)]
    found = await client.orders_by_ids([*ids, "620000000000009999", ids[0]])
    assert [order["id"] for order in found] == ids
    asked = [r.query["ids"].split(",") for r in fake.requests_to("by-ids")]
    assert [len(chunk) for chunk in asked] == [25, 25, 11]
    assert await client.orders_by_ids([]) == []


@pytest.mark.parametrize("list_key", [None, "content"])
async def test_iter_orders_pages_until_a_short_page(
    socket_enabled: None,
    session: aiohttp.ClientSession,
    clock: Clock,
    list_key: str | None,
) -> None:
    async with FakeTossPlace(clock=clock, list_key=list_key) as fake:
        before = fake.add_order(["americano_hot"], at=datetime(2025, 12, 31, 23, tzinfo=UTC))
        made = []
        for _ in range(250):
            clock.now += 1
            made.append(fake.add_order(["latte_hot"])["id"])
        clock.now += 3600
        after = fake.add_order(["americano_hot"])
        client = make_client(session, fake, clock)
        start = datetime.fromtimestamp(START, UTC)
        seen = [
            order["id"]
            async for order in client.iter_orders(start, start + timedelta(minutes=30), size=100)
        ]
        assert seen == made
        assert before["id"] not in seen
        assert after["id"] not in seen
        pages = fake.requests_to("/order/orders")
        assert [r.query["page"] for r in pages] == ["1", "2", "3"]
        assert {r.query["size"] for r in pages} == {"100"}
        assert {r.query["sortOrder"] for r in pages} == {"ASC"}
        assert pages[0].query["from"] == "2026-01-01T00:00:00.000Z"
        assert pages[0].query["to"] == "2026-01-01T00:30:00.000Z"

        # a last page exactly full costs one more (empty) page
        fake.requests.clear()
        seen = [
            order["id"]
            async for order in client.iter_orders(start, start + timedelta(seconds=201), size=100)
        ]
        assert seen == made[:200]
        assert len(fake.requests_to("/order/orders")) == 3


async def test_iter_orders_reads_naive_times_as_korea_time(
    fake: FakeTossPlace, client: TossPlaceClient
) -> None:
    fake.add_order(["americano_hot"])
    seen = [
        order
        async for order in client.iter_orders(
            datetime(2026, 1, 1, 9, 0), datetime(2026, 1, 1, 9, 5), size=500
        )
    ]
    assert len(seen) == 1
    assert fake.requests[0].query["from"] == "2026-01-01T00:00:00.000Z"
    with pytest.raises(ValueError, match="size"):
        async for _ in client.iter_orders(datetime(2026, 1, 1), datetime(2026, 1, 2), size=501):
            pass


async def test_refused_keys_raise_auth_error_without_retry(
    fake: FakeTossPlace, client: TossPlaceClient, clock: Clock
) -> None:
    fake.secret_key = "rotated-by-the-owner"
    with pytest.raises(TossPlaceAuthError) as err:
        await client.merchant()
    assert err.value.code == "4010"
    assert len(fake.requests) == 1
    assert clock.sleeps == []


async def test_another_merchant_is_an_auth_error(
    session: aiohttp.ClientSession, fake: FakeTossPlace, clock: Clock
) -> None:
    client = make_client(session, fake, clock, merchant_id="43")
    with pytest.raises(TossPlaceAuthError) as err:
        await client.merchant()
    assert err.value.code == "4030"


async def test_rate_limit_waits_until_the_reset(
    fake: FakeTossPlace, client: TossPlaceClient, clock: Clock
) -> None:
    fake.set_rate_limit(tokens=0)
    merchant = await client.merchant()
    assert merchant["id"] == 42
    limited, answered = fake.requests
    assert (limited.status, answered.status) == (429, 200)
    assert limited.response_headers["x-ratelimit-remaining"] == "0"
    reset_ms = int(limited.response_headers["x-ratelimit-reset"])
    # exactly the wait the vendor asked for (one token at 10/s: 0.1 s), once
    assert clock.sleeps == [pytest.approx(reset_ms / 1000 - START, abs=1e-6)]
    assert clock.sleeps[0] == pytest.approx(0.1, abs=0.002)
    assert answered.at == pytest.approx(reset_ms / 1000)


async def test_a_burst_drains_the_bucket_then_each_wait_is_honoured(
    fake: FakeTossPlace, client: TossPlaceClient, clock: Clock
) -> None:
    fake.set_rate_limit(burst=5, refill_per_s=2.0)
    order = fake.add_order(["americano_hot"])
    for _ in range(8):
        assert (await client.order(order["id"]))["id"] == order["id"]
    statuses = [r.status for r in fake.requests]
    assert statuses.count(200) == 8
    assert statuses.count(429) == 3
    # every wait is what that 429 announced, and none is spent without one
    resets = [
        int(r.response_headers["x-ratelimit-reset"]) / 1000 - r.at
        for r in fake.requests
        if r.status == 429
    ]
    assert clock.sleeps == pytest.approx(resets, abs=1e-6)
    assert clock.sleeps == pytest.approx([0.5, 0.5, 0.5], abs=0.002)


async def test_rate_limit_wait_is_capped_then_gives_up(
    session: aiohttp.ClientSession, fake: FakeTossPlace, clock: Clock
) -> None:
    client = make_client(session, fake, clock, max_wait=5.0, retries=2)
    fake.set_rate_limit(tokens=0, refill_per_s=0.01)  # a token in 100 s
    with pytest.raises(TossPlaceRateLimitError) as err:
        await client.merchant()
    assert isinstance(err.value, TossPlaceConnectionError)
    assert err.value.code == "429"
    assert clock.sleeps == [5.0, 5.0]
    assert [r.status for r in fake.requests] == [429, 429, 429]


async def test_server_errors_are_retried_with_backoff(
    fake: FakeTossPlace, client: TossPlaceClient, clock: Clock
) -> None:
    fake.fail_next(2, status=502)
    assert (await client.merchant())["id"] == 42
    assert [r.status for r in fake.requests] == [502, 502, 200]
    assert clock.sleeps == [1.0, 2.0]


async def test_server_errors_outlasting_the_retries(
    fake: FakeTossPlace, client: TossPlaceClient, clock: Clock
) -> None:
    fake.fail_next(4, status=500)
    with pytest.raises(TossPlaceConnectionError) as err:
        await client.merchant()
    assert err.value.code == "5000"
    assert len(fake.requests) == 4
    assert clock.sleeps == [1.0, 2.0, 4.0]


async def test_an_html_error_page(
    session: aiohttp.ClientSession, fake: FakeTossPlace, clock: Clock
) -> None:
    client = make_client(session, fake, clock, retries=0)
    fake.fail_next(1, status=503, body=b"<html>Service Unavailable</html>")
    with pytest.raises(TossPlaceConnectionError) as err:
        await client.merchant()
    assert err.value.code == "503"
    fake.fail_next(1, status=200, body=b"<html>maintenance</html>")
    with pytest.raises(TossPlaceFormatError):
        await client.merchant()
    fake.fail_next(1, status=418, body=b"teapot")
    with pytest.raises(TossPlaceError) as teapot:
        await client.merchant()
    assert type(teapot.value) is TossPlaceError
    assert teapot.value.code == "418"
    assert clock.sleeps == []


async def test_a_slow_answer_times_out_and_is_retried(
    session: aiohttp.ClientSession, fake: FakeTossPlace, clock: Clock
) -> None:
    client = make_client(session, fake, clock, timeout=aiohttp.ClientTimeout(total=0.3))
    fake.slow_next(1, 2.0)
    started = time.monotonic()
    assert (await client.merchant())["id"] == 42
    assert time.monotonic() - started < 1.5
    assert clock.sleeps == [1.0]
    assert len(fake.requests) == 2


async def test_a_server_too_slow_every_time(
    session: aiohttp.ClientSession, fake: FakeTossPlace, clock: Clock
) -> None:
    client = make_client(session, fake, clock, timeout=aiohttp.ClientTimeout(total=0.2), retries=1)
    fake.delay = 1.0
    with pytest.raises(TossPlaceConnectionError) as err:
        await client.merchant()
    assert err.value.code == "timeout"
    assert len(fake.requests) == 2


async def test_nothing_listening(
    socket_enabled: None, session: aiohttp.ClientSession, clock: Clock
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = TossPlaceClient(
        session,
        access_key="a",
        secret_key="s",
        merchant_id="42",
        base_url=f"http://127.0.0.1:{port}",
        sleep=clock.sleep,
        clock=clock,
    )
    with pytest.raises(TossPlaceConnectionError) as err:
        await client.merchant()
    assert err.value.code == "network"
    assert clock.sleeps == [1.0, 2.0, 4.0]


async def test_the_base_url_is_read_when_the_client_is_made(
    fake: FakeTossPlace,
    session: aiohttp.ClientSession,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Home Assistant tests point the integration at the fake through the module constant."""
    monkeypatch.setattr(toss_place, "TOSS_PLACE_API_URL", fake.url)
    client = TossPlaceClient(
        session,
        access_key=fake.access_key,
        secret_key=fake.secret_key,
        merchant_id=42,
        sleep=clock.sleep,
    )
    assert client.base_url == fake.url
    assert (await client.merchant())["id"] == 42


async def test_logs_name_the_event_but_no_key_or_body(
    fake: FakeTossPlace, client: TossPlaceClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=toss_place.__name__)
    order = fake.add_order(["americano_ice"], pay="CARD")
    await client.order(order["id"])
    fake.secret_key = "changed"
    with pytest.raises(TossPlaceAuthError):
        await client.payments_by_order(order["id"])
    event_ids = [r.response_headers["x-toss-event-id"] for r in fake.requests]
    text = caplog.text
    assert all(event_id in text for event_id in event_ids)
    assert "test-access-key" not in text
    assert "test-secret-key" not in text
    assert "아이스 아메리카노" not in text
    assert "chargePrice" not in text


# --- fuzzing: only TossPlaceFormatError or valid parameters -------------------------------

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(
        [
            "",
            " ",
            "0",
            "00",
            "-5",
            "1,500",
            "1e3",
            "١٢",
            "2026-01-01T09:00:00+0900",
            "2026-01-01T00:00:00.000Z",
            "0001-01-01T00:00:00",
            "9999-12-31T23:59:59-1200",
            "APPROVED",
            "CANCELLED",
            "COMPLETED",
            "CARD",
            "TOGO",
        ]
    ),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=10,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, Mapping):
        for key, child in value.items():
            found.extend(_paths(child, (*prefix, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found.extend(_paths(child, (*prefix, index)))
    return found


def _mutate(document: Any, data: st.DataObject) -> Any:
    """A real document with a few parts replaced by arbitrary JSON or removed."""
    document = copy.deepcopy(document)
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        paths = _paths(document)
        path = data.draw(st.sampled_from(paths), label="path")
        if not path:
            document = data.draw(JSON, label="document")
            continue
        parent = document
        for step in path[:-1]:
            parent = parent[step]
        if data.draw(st.booleans(), label="remove") and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = data.draw(JSON, label="value")
    return document


def _real_documents() -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[bytes]]:
    clock = Clock()
    fakes = [FakeTossPlace(clock=clock, time_style=style) for style in ("Z", "offset", "naive")]
    for fake in fakes:
        order = fake.add_order(
            [("latte_ice", 2, [("샷 추가", 500)]), {"title": "쿠키", "price": 2500}],
            discount=500,
            pay="CARD",
        )
        fake.complete(order["id"])
        fake.add_order(["cold_brew"], pay="BARCODE", state="CANCELLED")
    orders = [order for fake in fakes for order in fake.orders.values()] + [FULL_ORDER]
    payments = [p for fake in fakes for p in fake.payments.values()] + [FULL_PAYMENT]
    bodies = [w.body for fake in fakes for w in fake.sent] + [VECTOR_BODY]
    return orders, payments, bodies


REAL_ORDERS, REAL_PAYMENTS, REAL_BODIES = _real_documents()
# examples: the active profile's (100 by default; a CI profile may ask for more)
FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check_order(order: Any) -> None:
    try:
        params = order_params(order)
    except TossPlaceFormatError:
        pass
    else:
        assert_valid("sync_order", params)
    try:
        key = order_key(order)
    except TossPlaceFormatError:
        pass
    else:
        assert key.startswith("toss_place:order:")


def _check_payment(payment: Any) -> None:
    try:
        params = payment_params(payment)
    except TossPlaceFormatError:
        pass
    else:
        assert_valid("sync_payment", params)
        assert (
            "card" not in params
            or "number" not in params["card"]
            or (sum(c.isdigit() for c in params["card"]["number"]) <= 10)
        )
    try:
        key = payment_key(payment)
    except TossPlaceFormatError:
        pass
    else:
        assert key.startswith("toss_place:payment:")


def _check_body(body: bytes) -> None:
    try:
        event = parse_webhook(body)
    except TossPlaceFormatError:
        return
    assert isinstance(event, TossWebhook)
    assert event.id
    assert event.type
    try:
        ref = order_ref_of(event)
    except TossPlaceFormatError:
        pass
    else:
        assert ref is None or (isinstance(ref, str) and ref)
    if event.order is not None:
        _check_order(event.order)
    if event.payment is not None:
        _check_payment(event.payment)


@FUZZ
@given(data=st.data())
def test_fuzz_mutated_orders(data: st.DataObject) -> None:
    _check_order(_mutate(data.draw(st.sampled_from(REAL_ORDERS)), data))


@FUZZ
@given(data=st.data())
def test_fuzz_mutated_payments(data: st.DataObject) -> None:
    _check_payment(_mutate(data.draw(st.sampled_from(REAL_PAYMENTS)), data))


@FUZZ
@given(document=JSON)
def test_fuzz_arbitrary_documents(document: Any) -> None:
    _check_order(document)
    _check_payment(document)
    _check_body(json.dumps(document).encode())


@FUZZ
@given(data=st.data())
def test_fuzz_mutated_webhook_bodies(data: st.DataObject) -> None:
    envelope = json.loads(data.draw(st.sampled_from(REAL_BODIES)))
    _check_body(json.dumps(_mutate(envelope, data), ensure_ascii=False).encode())


@FUZZ
@given(body=st.binary(max_size=200), header=st.text(max_size=80), stamp=st.text(max_size=20))
def test_fuzz_raw_bytes_and_headers(body: bytes, header: str, stamp: str) -> None:
    _check_body(body)
    assert verify_signature(VECTOR_SECRET, stamp, body, header, now_ms=VECTOR_TIMESTAMP) in (
        True,
        False,
    )


def test_fuzz_helpers_see_every_part() -> None:
    """The mutation reaches nested parts (line items, options, card details)."""
    paths = _paths(FULL_ORDER)
    assert ("lineItems", 0, "optionChoices", 1, "priceValue") in paths
    assert ("cardDetails", "installmentMonth") in _paths(FULL_PAYMENT)


def test_validation_error_is_what_a_wrong_mapping_would_raise() -> None:
    """assert_valid is a real check: a value outside the choices fails it."""
    with pytest.raises(ValidationError):
        assert_valid("sync_order", {**order_params(FULL_ORDER), "state": "paid"})


def test_odd_descriptive_fields_do_not_refuse_a_sale() -> None:
    """A name, a code or a category the vendor sends oddly is dropped; the sale is kept."""
    line = {
        "item": {"title": "라떼", "code": ["1004"], "category": {"title": 7}},
        "itemPrice": {"priceValue": 5000},
        "optionChoices": [{"title": {"ko": "샷"}, "code": 3, "priceValue": 500}],
        "quantity": 1,
    }
    params = order_params({**FULL_ORDER, "orderNumber": ["A"], "lineItems": [line]})
    assert "number" not in params
    assert params["lines"] == [
        {
            "title": "라떼",
            "category": "7",
            "qty": 1,
            "unit_price": 5500,
            "options": [{"code": "3", "price": 500, "qty": 1}],
        }
    ]
    assert_valid("sync_order", params)
    payment = payment_params({**FULL_PAYMENT, "van": {"name": "NICE"}, "approvedNo": 123})
    assert "van" not in payment
    assert payment["approval_no"] == "123"
    event = parse_webhook(b'{"id":"e1","type":"t","merchantId":[42]}')
    assert event.merchant_id is None


# --- end to end: the fake's sales, read over HTTP, synced into the demo cafe ---------------


async def test_backfill_from_the_fake_into_the_demo_cafe(
    socket_enabled: None,
    session: aiohttp.ClientSession,
    clock: Clock,
    cafe: Any,
    get: Any,
    dump: Any,
) -> None:
    """What the HA layer's backfill does, on the real actions: every order and payment the
    vendor has lands once, mapped onto the demo menu; a second pass replays everything."""
    async with FakeTossPlace(clock=clock) as fake:
        done = fake.add_order([("latte_hot", 2), "croissant"], pay="CARD", state="COMPLETED")
        gone = fake.add_order(["americano_ice"], pay="CASH", state="CANCELLED")
        table = fake.add_order(["cheesecake"])
        clock.now += 60
        fake.add_line(table["id"], "americano_hot")
        cookie = fake.add_order(
            [{"title": "시즌 한정 쿠키", "code": "S-1", "category": "디저트", "price": 2500}],
            pay="CARD",
        )
        client = make_client(session, fake, clock)

        async def backfill() -> list[Any]:
            results = []
            start = datetime.fromtimestamp(START - 60, UTC)
            async for order in client.iter_orders(start, start + timedelta(hours=1)):
                versions = [("sync_order", order_params(order), order_key(order), "pos")]
                versions += [
                    ("sync_payment", payment_params(p), payment_key(p), "payment")
                    for p in await client.payments_by_order(order["id"])
                ]
                for action, params, key, source in versions:
                    result = await cafe.replayed(action, params, key) or await cafe.execute(
                        action,
                        params,
                        actor="connector:toss_place",
                        source=source,
                        idempotency_key=key,
                    )
                    results.append(result)
            return results

        first = await backfill()
        assert sorted(r.action for r in first) == ["sync_order"] * 4 + ["sync_payment"] * 3
        assert not any(r.replayed for r in first)
        orders = {r.result["order_id"] for r in first if r.action == "sync_order"}
        assert len(orders) == 4
        by_external = {(await get(cafe, o)).get("external_id"): await get(cafe, o) for o in orders}

        completed = by_external[done["id"]]
        assert completed.get("status") == "completed"
        assert completed.get("total") == 13800
        assert [(line["product"], line["qty"]) for line in completed.get("lines")] == [
            ("product.latte_hot", 2),
            ("product.croissant", 1),
        ]
        assert by_external[gone["id"]].get("status") == "cancelled"
        assert by_external[table["id"]].get("status") == "open"
        assert by_external[table["id"]].get("total") == 11000
        assert by_external[cookie["id"]].get("status") == "paid"
        placeholder = by_external[cookie["id"]].get("lines")[0]["product"]
        assert (await get(cafe, placeholder)).get("unmapped") is True

        # stock moved for what was sold, not for the cancelled iced americano
        levels = {
            key: (await get(cafe, f"inventory_item.{key}")).get("on_hand")
            for key in ("milk", "croissant", "cheesecake", "ice_cup", "espresso_beans")
        }
        assert levels == {
            "milk": 18000 - 2 * 200,
            "croissant": 12 - 1,
            "cheesecake": 8 - 1,
            "ice_cup": 400,
            "espresso_beans": 6000 - 3 * 18,
        }
        paid_by_card = next(r for r in first if r.action == "sync_payment")
        card = (await get(cafe, paid_by_card.result["payment_id"])).get("card")
        assert card["number"].count("*") == 6
        assert paid_by_card.result["order_id"] == completed.id

        before = await dump(cafe)
        again = await backfill()
        assert len(again) == len(first)
        assert all(r.replayed for r in again)
        assert await dump(cafe) == before
