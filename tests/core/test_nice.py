"""NICE Payments connector: the vendor's signature vector, webhook parsing and checks, the
mapping into sync_payment, and the REST client against FakeNice (a real HTTP server on
127.0.0.1 speaking NICE's wire format)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
import copy
from datetime import date, datetime
import json
import logging
import socket
from typing import Any
from urllib.parse import urlencode

import aiohttp
from hypothesis import HealthCheck, given, settings, strategies as st
import pytest

from custom_components.careon.core.actions import ACTIONS
from custom_components.careon.core.connectors import nice
from custom_components.careon.core.connectors.nice import (
    NiceAuthError,
    NiceClient,
    NiceConnectionError,
    NiceError,
    NiceFormatError,
    NiceNotFound,
    parse_webhook,
    payment_key,
    payment_params,
    signature,
    verify_webhook,
)
from custom_components.careon.core.errors import ValidationError
from custom_components.careon.core.fields import validate_fields
from tests.fakes.nice import KOREA, FakeNice

pytestmark = pytest.mark.usefixtures("socket_enabled")

NEW_YEAR_NOON = datetime(2026, 1, 1, 12, 0, 0, tzinfo=KOREA).timestamp()
SYNC_PAYMENT = ACTIONS["sync_payment"].params


@pytest.fixture
async def fake() -> AsyncIterator[FakeNice]:
    """A NICE API on 127.0.0.1 whose clock stands at 2026-01-01 12:00:00 Korea time."""
    async with FakeNice(clock=lambda: NEW_YEAR_NOON) as server:
        yield server


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp session, closed after the test."""
    async with aiohttp.ClientSession() as client_session:
        yield client_session


def client_for(fake: FakeNice, session: aiohttp.ClientSession, **kwargs: Any) -> NiceClient:
    """A client on the fake, retrying at once (no real sleeping)."""

    async def no_sleep(_: float) -> None:
        return None

    kwargs.setdefault("client_key", fake.client_key)
    kwargs.setdefault("secret_key", fake.secret_key)
    kwargs.setdefault("sleep", no_sleep)
    return NiceClient(session, base_url=fake.url, **kwargs)


def assert_sync_payment_params(params: dict[str, Any]) -> None:
    """The mapped params are exactly what sync_payment accepts, unchanged by validation."""
    validated = validate_fields(SYNC_PAYMENT, params, tz=KOREA)
    for key, value in params.items():
        assert validated[key] == value, key


# --- signatures ---------------------------------------------------------------------------


def test_signature_matches_the_vendor_vector() -> None:
    assert (
        signature(
            "nictest00m01012601011200000001",
            4500,
            "2026-01-01T12:00:01.000+0900",
            "test-secret-key",
        )
        == "50b3930c25901eaaa83908705b942400a5b6e3907169428a60f52af51c1856ff"
    )
    # a form-encoded webhook carries the amount as text: the same signature
    assert signature(
        "nictest00m01012601011200000001", "4500", "2026-01-01T12:00:01.000+0900", "test-secret-key"
    ) == signature(
        "nictest00m01012601011200000001", 4500, "2026-01-01T12:00:01.000+0900", "test-secret-key"
    )


async def test_the_fake_signs_like_the_vendor(fake: FakeNice) -> None:
    payment = fake.add_payment(amount=4500)
    assert payment["tid"] == "nictest00m01012601011200000001"
    assert payment["ediDate"] == "2026-01-01T12:00:00.000+0900"
    assert verify_webhook(payment, fake.secret_key)
    _, body = fake.webhook({**payment, "ediDate": "2026-01-01T12:00:01.000+0900"})
    assert json.loads(body)["signature"] == (
        "50b3930c25901eaaa83908705b942400a5b6e3907169428a60f52af51c1856ff"
    )


async def test_verify_webhook_accepts_only_the_merchant_secret(fake: FakeNice) -> None:
    payment = fake.add_payment(amount=12_000)
    _, body = fake.webhook(payment["tid"])
    received = parse_webhook(body, "application/json;charset=utf-8")
    assert verify_webhook(received, fake.secret_key)
    assert verify_webhook({**received, "signature": received["signature"].upper()}, fake.secret_key)
    assert not verify_webhook(received, "another-secret")
    assert not verify_webhook({**received, "amount": 1}, fake.secret_key)  # tampered amount
    assert not verify_webhook({**received, "tid": received["tid"][:-1] + "9"}, fake.secret_key)
    _, forged = fake.webhook(payment["tid"], secret="guessed")
    assert not verify_webhook(parse_webhook(forged, "application/json"), fake.secret_key)
    for broken in (
        {k: v for k, v in received.items() if k != "signature"},
        {k: v for k, v in received.items() if k != "ediDate"},
        {**received, "signature": None},
        {**received, "signature": 123},
        {**received, "signature": "서명"},  # not even ASCII: refused, not an exception
        {**received, "amount": True},
        {**received, "amount": None},
        {**received, "tid": 5},
    ):
        assert verify_webhook(broken, fake.secret_key) is False


# --- parsing ------------------------------------------------------------------------------


async def test_json_and_form_webhooks_map_the_same(fake: FakeNice) -> None:
    payment = fake.add_payment(amount=8_900, quota="03", card_code="06", acquirer_code="01")
    json_headers, json_body = fake.webhook(payment["tid"])
    form_headers, form_body = fake.webhook(payment["tid"], form=True)
    from_json = parse_webhook(json_body, json_headers["Content-Type"])
    from_form = parse_webhook(form_body, form_headers["Content-Type"])
    assert from_form["amount"] == "8900"  # form fields are text
    assert from_form["card"]["cardCode"] == "06"
    assert verify_webhook(from_json, fake.secret_key)
    assert verify_webhook(from_form, fake.secret_key)
    assert payment_params(from_json) == payment_params(from_form)
    assert payment_key(from_json) == payment_key(from_form)
    # a content type that lies is read by the body's shape
    assert parse_webhook(json_body, "text/plain") == from_json
    assert parse_webhook(form_body, None)["tid"] == payment["tid"]


def test_form_webhooks_with_dotted_keys_json_cards_and_euc_kr() -> None:
    dotted = urlencode(
        {
            "tid": "t1",
            "status": "paid",
            "amount": "1000",
            "card.cardCode": "02",
            "payMethod": "card",
        }
    ).encode()
    assert parse_webhook(dotted, "application/x-www-form-urlencoded")["card"] == {"cardCode": "02"}
    as_json = urlencode({"tid": "t1", "card": json.dumps({"cardCode": "04"})}).encode()
    assert parse_webhook(as_json, "application/x-www-form-urlencoded")["card"] == {"cardCode": "04"}
    korean = urlencode({"tid": "t1", "goodsName": "카페라떼"}, encoding="euc-kr").encode()
    parsed = parse_webhook(korean, "application/x-www-form-urlencoded; charset=EUC-KR")
    assert parsed["goodsName"] == "카페라떼"
    json_cp949 = json.dumps({"tid": "t2", "goodsName": "빙수"}, ensure_ascii=False).encode("cp949")
    assert parse_webhook(json_cp949, "application/json")["goodsName"] == "빙수"


@pytest.mark.parametrize(
    ("body", "content_type", "field"),
    [
        (b"", "application/json", "body"),
        (b"{not json", "application/json", "body"),
        (b"[1, 2]", "application/json", "body"),
        (b'{"amount": 1}', "application/json", "tid"),
        (b'{"tid": "  "}', "application/json", "tid"),
        (b'{"tid": 7}', "application/json", "tid"),
        (b"amount=1", "application/x-www-form-urlencoded", "tid"),
        (b"tid=x&card=%7Bbroken", "application/x-www-form-urlencoded", "card"),
        (b"tid=x&card=1&card[cardCode]=2", "application/x-www-form-urlencoded", "card"),
        (b"\xff\xfe\x00\x81\xfe", "application/json", "body"),
        (b"tid=%FF%FE%81", "application/x-www-form-urlencoded; charset=ascii", "body"),
    ],
)
def test_parse_webhook_refuses_what_is_not_a_payment(
    body: bytes, content_type: str, field: str
) -> None:
    with pytest.raises(NiceFormatError) as info:
        parse_webhook(body, content_type)
    assert info.value.field == field
    assert isinstance(info.value, NiceError)


# --- mapping ------------------------------------------------------------------------------


async def test_a_paid_card_payment_maps_to_sync_payment(fake: FakeNice) -> None:
    payment = fake.add_payment(
        amount=12_500,
        order_id="A-0001",
        card_code="04",
        acquirer_code="04",
        card_num="53611234****1234",
        quota=0,
        approve_no="00123456",
    )
    params = payment_params(payment)
    assert params == {
        "source": "nice_payments",
        "external_id": payment["tid"],
        "order_ref": "A-0001",
        "method": "card",
        "status": "approved",
        "amount": 12_500,
        "cancelled_amount": 0,
        "approval_no": "00123456",
        "approved_at": "2026-01-01T03:00:00.000000+00:00",
        "card": {
            "issuer": "삼성",
            "acquirer": "삼성",
            "number": "536112******1234",
            "installment_months": 0,
            "kind": "credit",
        },
    }
    assert_sync_payment_params(params)
    assert payment_key(payment) == f"nice_payments:payment:{payment['tid']}:paid:12500"
    assert payment_params(payment, source="nice_sandbox")["source"] == "nice_sandbox"


async def test_cancels_map_forward_with_amounts_and_keys(fake: FakeNice) -> None:
    payment = fake.add_payment(amount=10_000)
    tid = payment["tid"]
    partial = fake.cancel(tid, 3_000, at=NEW_YEAR_NOON + 600)
    params = payment_params(partial)
    assert (params["status"], params["cancelled_amount"]) == ("partial_cancelled", 3_000)
    assert params["cancelled_at"] == "2026-01-01T03:10:00.000000+00:00"
    assert params["approved_at"] == "2026-01-01T03:00:00.000000+00:00"
    assert payment_key(partial) == f"nice_payments:payment:{tid}:partialCancelled:7000"
    full = fake.cancel(tid, at=NEW_YEAR_NOON + 1200)
    params = payment_params(full)
    assert (params["status"], params["cancelled_amount"], params["amount"]) == (
        "cancelled",
        10_000,
        10_000,
    )
    assert payment_key(full) == f"nice_payments:payment:{tid}:cancelled:0"
    assert_sync_payment_params(params)
    # without balanceAmt the cancels list tells how much went back
    no_balance = {k: v for k, v in full.items() if k != "balanceAmt"}
    assert payment_params(no_balance)["cancelled_amount"] == 10_000
    assert payment_key(no_balance).endswith(":cancelled:0")
    no_list = {**no_balance, "cancels": None}
    assert payment_params(no_list)["cancelled_amount"] == 10_000


@pytest.mark.parametrize(
    ("status", "expected"),
    [("failed", "failed"), ("expired", "failed"), ("ready", "pending")],
)
async def test_payments_that_took_no_money(fake: FakeNice, status: str, expected: str) -> None:
    method = "vbank" if status == "ready" else "card"
    payment = fake.add_payment(amount=30_000, status=status, method=method)
    params = payment_params(payment)
    assert params["status"] == expected
    assert "approved_at" not in params  # "0": not applicable
    assert "cancelled_at" not in params
    assert "cancelled_amount" not in params
    assert "approval_no" not in params
    assert params["method"] == ("transfer" if method == "vbank" else "card")
    assert_sync_payment_params(params)


@pytest.mark.parametrize(
    ("pay_method", "expected"),
    [
        ("CARD", "card"),
        ("card", "card"),
        ("BANK", "transfer"),
        ("vbank", "transfer"),
        ("naverpayCard", "easy_pay"),
        ("kakaopay", "easy_pay"),
        ("samsungpayCard", "easy_pay"),
        ("payco", "easy_pay"),
        ("ssgpay", "easy_pay"),
        ("cellphone", "other"),
        ("giftcard", "other"),
        (None, "other"),
        (7, "other"),
    ],
)
def test_pay_methods(pay_method: Any, expected: str) -> None:
    payment = {"tid": "t", "status": "paid", "amount": 100, "payMethod": pay_method}
    assert payment_params(payment)["method"] == expected


@pytest.mark.parametrize(
    ("card", "expected"),
    [
        ({"cardCode": "01", "acquCardCode": "01"}, {"issuer": "BC", "acquirer": "BC"}),
        ({"cardCode": "02", "cardName": "국민"}, {"issuer": "KB국민"}),
        ({"cardCode": "3", "acquCardCode": 16}, {"issuer": "하나", "acquirer": "하나"}),
        ({"cardCode": "25", "acquCardCode": "26"}, {"issuer": "VISA", "acquirer": "MASTER"}),
        ({"cardCode": "28", "acquCardCode": "29"}, {"issuer": "AMEX", "acquirer": "JCB"}),
        ({"cardCode": "37", "cardName": "카카오뱅크"}, {"issuer": "카카오뱅크"}),
        ({"cardCode": "99"}, {}),
        ({"cardQuota": "03"}, {"installment_months": 3}),
        ({"cardQuota": 12}, {"installment_months": 12}),
        ({"cardQuota": "일시불"}, {}),
        ({"cardQuota": True}, {}),
        ({"cardType": "CHECK"}, {"kind": "check"}),
        ({"cardType": "gift"}, {}),
        ({"cardNum": "5365101234567890"}, {"number": "536510******7890"}),
        ({"cardNum": None}, {}),
    ],
)
def test_card_details(card: dict[str, Any], expected: dict[str, Any]) -> None:
    payment = {"tid": "t", "status": "paid", "amount": 100, "payMethod": "card", "card": card}
    assert payment_params(payment).get("card", {}) == expected


def test_times_and_amounts_in_every_form() -> None:
    base = {"tid": "t", "status": "paid", "amount": "4500", "balanceAmt": "4500"}
    assert payment_params(base)["amount"] == 4500
    assert payment_params({**base, "amount": 4500.0})["amount"] == 4500
    for paid_at, expected in [
        ("2026-01-01T12:00:01.000+0900", "2026-01-01T03:00:01.000000+00:00"),
        ("2026-01-01T03:00:01Z", "2026-01-01T03:00:01.000000+00:00"),
        ("2026-01-01T12:00:01", "2026-01-01T03:00:01.000000+00:00"),  # no offset: Korea
        ("20260101120001", "2026-01-01T03:00:01.000000+00:00"),
    ]:
        assert payment_params({**base, "paidAt": paid_at})["approved_at"] == expected
    for nothing in ("0", "", None, "null"):
        assert "approved_at" not in payment_params({**base, "paidAt": nothing})
    assert payment_params({**base, "orderId": 12})["order_ref"] == "12"
    assert "order_ref" not in payment_params({**base, "orderId": " "})
    # a balance above the amount is not a negative cancel
    assert payment_params({**base, "balanceAmt": 9000})["cancelled_amount"] == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"tid": None}, "tid"),
        ({"tid": ""}, "tid"),
        ({"status": "refunded"}, "status"),
        ({"status": None}, "status"),
        ({"amount": None}, "amount"),
        ({"amount": -1}, "amount"),
        ({"amount": "4,500"}, "amount"),
        ({"amount": 45.5}, "amount"),
        ({"amount": True}, "amount"),
        ({"amount": [1]}, "amount"),
        ({"balanceAmt": "x"}, "balanceAmt"),
        ({"paidAt": "yesterday"}, "paidAt"),
        ({"paidAt": 5}, "paidAt"),
        ({"cancelledAt": "2026-13-01T00:00:00"}, "cancelledAt"),
        ({"paidAt": "0001-01-01T00:00:00+0900"}, "paidAt"),
    ],
)
def test_unreadable_payments_raise_format_errors(change: dict[str, Any], field: str) -> None:
    payment = {"tid": "t", "status": "paid", "amount": 100, "balanceAmt": 100, **change}
    with pytest.raises(NiceFormatError) as info:
        payment_params(payment)
    assert info.value.field == field


def test_a_payment_that_is_not_a_mapping() -> None:
    with pytest.raises(NiceFormatError):
        payment_params(["tid"])  # type: ignore[arg-type]


# --- client against the fake ----------------------------------------------------------------


async def test_client_reads_payments_by_tid_and_order(
    fake: FakeNice, session: aiohttp.ClientSession
) -> None:
    payment = fake.add_payment(amount=4500, order_id="A-0042")
    client = client_for(fake, session)
    assert await client.payment(payment["tid"]) == payment
    assert await client.find_by_order_id("A-0042", date(2026, 1, 1)) == payment
    assert await client.find_by_order_id("A-0042", "2026-01-01") == payment
    assert await client.find_by_order_id("A-0042", "20260101") == payment
    with pytest.raises(NiceNotFound) as info:
        await client.find_by_order_id("A-0042", date(2026, 1, 2))
    assert info.value.code == "A118"
    with pytest.raises(NiceNotFound):
        await client.payment("nictest00m0101260101120000999")
    with pytest.raises(ValueError, match="YYYYMMDD"):
        await client.find_by_order_id("A-0042", "January")
    expected = "Basic " + base64.b64encode(f"{fake.client_key}:{fake.secret_key}".encode()).decode()
    assert {request.authorization for request in fake.requests} == {expected}
    assert fake.requests_to("/find/")[0].query == {"orderDate": "20260101"}


async def test_client_quotes_ids_into_the_path(
    fake: FakeNice, session: aiohttp.ClientSession
) -> None:
    payment = fake.add_payment(order_id="주문/1 ?x")
    client = client_for(fake, session)
    assert (await client.find_by_order_id("주문/1 ?x", "20260101"))["tid"] == payment["tid"]
    assert fake.requests[-1].path == "/v1/payments/find/주문/1 ?x"
    with pytest.raises(NiceNotFound):
        await client.payment("../access-token")
    assert fake.requests[-1].method == "GET"


async def test_a_failed_payment_is_still_a_payment(
    fake: FakeNice, session: aiohttp.ClientSession
) -> None:
    payment = fake.add_payment(status="failed")
    assert payment["resultCode"] == "3011"
    fetched = await client_for(fake, session).payment(payment["tid"])
    assert payment_params(fetched)["status"] == "failed"


async def test_credentials_are_checked_with_an_access_token(
    fake: FakeNice, session: aiohttp.ClientSession
) -> None:
    await client_for(fake, session).check_credentials()
    assert fake.requests[-1].method == "POST"
    assert fake.requests[-1].path == "/v1/access-token"
    with pytest.raises(NiceAuthError) as info:
        await client_for(fake, session, secret_key="wrong").check_credentials()
    assert info.value.code == "U104"
    payment = fake.add_payment()
    fake.secret_key = "rotated"  # the merchant issued new keys: the old ones are refused
    with pytest.raises(NiceAuthError):
        await client_for(fake, session, secret_key="test-secret-key").payment(payment["tid"])


@pytest.mark.parametrize(
    ("status", "body", "error", "code"),
    [
        (401, b"", NiceAuthError, "401"),
        (403, b'{"resultCode": "U315", "resultMsg": "IP"}', NiceError, "U315"),
        (200, b'{"resultCode": "U304", "resultMsg": "BASIC"}', NiceAuthError, "U304"),
        (404, b"not found", NiceError, "404"),
        (200, b'{"resultCode": "A126", "resultMsg": "BID"}', NiceError, "A126"),
        (400, b'{"resultCode": "9000", "resultMsg": "field"}', NiceError, "9000"),
        (200, b"<html>maintenance</html>", NiceFormatError, "format"),
        (200, b'{"resultCode": "0000", "tid": "t"}', NiceFormatError, "format"),
        (200, b'{"resultCode": "U107", "resultMsg": "none"}', NiceNotFound, "U107"),
    ],
)
async def test_vendor_answers_become_typed_errors(
    fake: FakeNice,
    session: aiohttp.ClientSession,
    status: int,
    body: bytes,
    error: type[NiceError],
    code: str,
) -> None:
    fake.fail_next(1, status=status, body=body)
    with pytest.raises(error) as info:
        await client_for(fake, session).payment("nictest00m01012601011200000001")
    assert type(info.value) is error
    assert info.value.code == code


async def test_server_errors_are_retried(fake: FakeNice, session: aiohttp.ClientSession) -> None:
    payment = fake.add_payment()
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    fake.fail_next(2, status=502)
    client = client_for(fake, session, retries=2, sleep=sleep)
    assert await client.payment(payment["tid"]) == payment
    assert [r.status for r in fake.requests] == [502, 502, 200]
    assert waits == [0.5, 1.0]
    fake.requests.clear()
    fake.fail_next(3, status=503)
    with pytest.raises(NiceConnectionError, match="HTTP 503"):
        await client.payment(payment["tid"])
    assert len(fake.requests) == 3


async def test_slow_and_unreachable_servers(fake: FakeNice, session: aiohttp.ClientSession) -> None:
    payment = fake.add_payment()
    fake.slow_next(1, 2.0)
    quick = client_for(fake, session, timeout=aiohttp.ClientTimeout(total=0.3))
    with pytest.raises(NiceConnectionError, match="timed out"):
        await quick.payment(payment["tid"])
    assert len(fake.requests) == 1  # a timeout is not retried: a webhook is waiting
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"

    async def no_sleep(_: float) -> None:
        return None

    nowhere = NiceClient(
        session, client_key="k", secret_key="s", base_url=closed, retries=1, sleep=no_sleep
    )
    with pytest.raises(NiceConnectionError) as info:
        await nowhere.payment("t")
    assert info.value.code == "connection"


async def test_modes_pick_the_host_from_nice_hosts(
    fake: FakeNice, session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert nice.NICE_HOSTS == {
        "production": "https://api.nicepay.co.kr",
        "sandbox": "https://sandbox-api.nicepay.co.kr",
    }
    monkeypatch.setitem(nice.NICE_HOSTS, "production", fake.url)
    payment = fake.add_payment()
    client = NiceClient(
        session, client_key=fake.client_key, secret_key=fake.secret_key, mode="production"
    )
    assert (await client.payment(payment["tid"]))["tid"] == payment["tid"]
    with pytest.raises(ValueError, match="mode"):
        NiceClient(session, client_key="k", secret_key="s", mode="staging")


async def test_nothing_secret_is_logged(
    fake: FakeNice, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    payment = fake.add_payment(order_id="A-77", card_num="5365101234567890")
    caplog.set_level(logging.DEBUG, logger="custom_components.careon")
    client = client_for(fake, session)
    await client.payment(payment["tid"])
    await client.find_by_order_id("A-77", "20260101")
    fake.fail_next(1, status=401)
    with pytest.raises(NiceAuthError):
        await client.payment(payment["tid"])
    ours = "\n".join(
        record.getMessage()
        for record in caplog.records
        if record.name.startswith("custom_components.careon")
    )
    assert "NICE GET /v1/payments" in ours
    for secret in (fake.secret_key, fake.client_key, payment["tid"], "A-77", "5365101234567890"):
        assert secret not in ours


# --- fuzz ---------------------------------------------------------------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
_REAL: dict[str, Any] = {
    "resultCode": "0000",
    "tid": "nictest00m01012601011200000001",
    "orderId": "A-1",
    "ediDate": "2026-01-01T12:00:01.000+0900",
    "signature": "50b3930c25901eaaa83908705b942400a5b6e3907169428a60f52af51c1856ff",
    "status": "partialCancelled",
    "paidAt": "2026-01-01T12:00:00.000+0900",
    "failedAt": "0",
    "cancelledAt": "2026-01-01T12:10:00.000+0900",
    "payMethod": "card",
    "amount": 4500,
    "balanceAmt": 1500,
    "approveNo": "00000001",
    "card": {
        "cardCode": "04",
        "cardName": "삼성",
        "cardNum": "53611234****1234",
        "cardQuota": "0",
        "cardType": "credit",
        "acquCardCode": "04",
        "acquCardName": "삼성",
    },
    "cancels": [{"tid": "c1", "amount": 3000, "cancelledAt": "2026-01-01T12:10:00.000+0900"}],
}
_VALUES = _JSON | st.sampled_from(
    ["0", "", "paid", "cancelled", "ready", "2026-01-01T12:00:00+0900", "-5", "3", "١٢"]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    changes=st.dictionaries(st.sampled_from(sorted(_REAL)), _VALUES, max_size=5),
    card_changes=st.dictionaries(st.sampled_from(sorted(_REAL["card"])), _VALUES, max_size=4),
    dropped=st.sets(st.sampled_from(sorted(_REAL)), max_size=4),
)
def test_fuzz_mutated_payments_map_or_raise_format_errors(
    changes: dict[str, Any], card_changes: dict[str, Any], dropped: set[str]
) -> None:
    payment = copy.deepcopy(_REAL)
    payment["card"].update(card_changes)
    payment.update(changes)
    for key in dropped:
        payment.pop(key, None)
    try:
        params = payment_params(payment)
        key = payment_key(payment)
    except NiceFormatError:
        return
    try:
        assert_sync_payment_params(params)
    except ValidationError as err:  # pragma: no cover - a failure report
        pytest.fail(f"{params} is not valid for sync_payment: {err}")
    assert key.startswith(f"nice_payments:payment:{params['external_id']}:")
    assert 0 <= params.get("cancelled_amount", 0) <= params["amount"]
    assert verify_webhook(payment, "test-secret-key") in (True, False)


@settings(max_examples=300, deadline=None)
@given(
    body=st.binary(max_size=200)
    | _JSON.map(lambda value: json.dumps(value).encode())
    | st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=5).map(
        lambda fields: urlencode(fields).encode()
    ),
    content_type=st.sampled_from(
        [
            None,
            "",
            "application/json",
            "application/json;charset=utf-8",
            "application/x-www-form-urlencoded",
            "application/x-www-form-urlencoded; charset=euc-kr",
            "text/html; charset=nonsense",
            "text/plain; charset=",
        ]
    ),
)
def test_fuzz_webhook_bodies_parse_or_raise_format_errors(
    body: bytes, content_type: str | None
) -> None:
    try:
        payment = parse_webhook(body, content_type)
    except NiceFormatError:
        return
    assert isinstance(payment["tid"], str)
    assert payment["tid"].strip()
    try:
        params = payment_params(payment)
    except NiceFormatError:
        return
    assert_sync_payment_params(params)
