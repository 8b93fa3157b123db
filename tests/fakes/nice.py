"""FakeNice: the NICE Payments API and its webhooks, served on 127.0.0.1 for tests.

It speaks the vendor's wire format (CONNECTORS.md §2, nicepay-manual) so that tests exercise our
real client and webhook handler, never a mock of them. Nothing here imports our connector code:
the fake signs and formats on its own.

Start it and point a client at it (tests need pytest-socket's ``socket_enabled`` fixture)::

    async with FakeNice() as fake:                 # fake.url = "http://127.0.0.1:<port>"
        client = NiceClient(session, client_key=fake.client_key,
                            secret_key=fake.secret_key, base_url=fake.url)
        # or monkeypatch nice.NICE_HOSTS["sandbox"] to fake.url (what HA tests do)

Constructor (all keyword, all optional): ``client_key`` / ``secret_key`` (what the API accepts,
default "S2_test-client-key" / "test-secret-key"; the secret also signs payments), ``mid``
("nictest00m", the head of every tid), ``clock`` (epoch seconds; default ``time.time``).

State and builders (each returns a deep copy of the payment as the API shows it):

- ``add_payment(*, amount=4500, order_id=None, method="card", status="paid", at=None,
  card_code="04", acquirer_code=None, card_num="53611234****1234", quota=0,
  card_type="credit", approve_no=None, goods_name="아메리카노") -> payment``: ``status``
  paid, ready (a virtual account waiting: method "vbank"), failed or expired; ``at`` a
  datetime or epoch seconds (default: ``clock``). ``order_id`` defaults to a fresh one;
  ``method`` another payMethod ("bank", "naverpayCard", ...) has no card object unless it
  ends in "Card".
- ``cancel(tid, amount=None, *, reason="고객 요청", at=None) -> payment``: the whole balance
  (status cancelled) or ``amount`` of it (partialCancelled), with a ``cancels`` entry,
  ``cancelledAt``, a new ``ediDate`` and signature.
- ``payments``: the live dicts by tid (edit them to craft odd data; ``resign(tid)`` signs
  the edited payment again).

Webhooks: ``webhook(payment_or_tid, *, form=False, secret=None) -> (headers, body)``: the
payment object POSTed as JSON (``application/json;charset=utf-8``) or form-encoded (nested
objects as ``card[cardCode]=...``, lists as JSON text), signed with ``secret`` (default the
fake's secret key): ``signature = hex(sha256(tid + amount + ediDate + secret))``.

API behaviour, faults and inspection:

- Auth: ``Authorization: Basic base64(client_key:secret_key)`` or a ``Bearer`` token from
  ``POST /v1/access-token``; anything else → HTTP 401 ``{"resultCode": "U104", ...}``
  (change ``client_key``/``secret_key`` to "revoke" the keys).
- ``GET /v1/payments/{tid}``; ``GET /v1/payments/find/{orderId}?orderDate=YYYYMMDD`` (the
  Korea-time date the payment was made; missing or malformed → 400 ``U100``); no such
  payment → HTTP 200 ``{"resultCode": "A118", "resultMsg": "조회 결과데이터 없음"}``.
- ``fail_next(n=1, status=500, body=None)``: the next n requests answer ``status``;
  ``slow_next(n, seconds)``; ``delay`` (seconds, every request).
- ``requests: list[RecordedRequest]`` (method, path, query, authorization, status);
  ``requests_to(fragment)`` filters by path.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
import copy
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import hashlib
import itertools
import json
import secrets
import time
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from aiohttp import web

from .server import FakeServer

KOREA = ZoneInfo("Asia/Seoul")
CARD_NAMES = {
    "01": "비씨",
    "02": "KB국민",
    "03": "하나(외환)",
    "04": "삼성",
    "06": "신한",
    "07": "현대",
    "08": "롯데",
    "11": "씨티",
    "12": "NH채움",
    "15": "우리",
    "16": "하나",
    "25": "해외비자",
    "26": "해외마스터",
    "28": "해외AMX",
    "29": "해외JCB",
}
_METHOD_CODES = {"card": "01", "bank": "02", "vbank": "03", "cellphone": "05"}


@dataclass
class RecordedRequest:
    """One request the fake answered."""

    method: str
    path: str
    query: dict[str, str]
    authorization: str
    status: int = 0


def nice_time(moment: datetime) -> str:
    """NICE's time format: ``2026-01-01T12:00:01.000+0900`` (Korea time)."""
    local = moment.astimezone(KOREA)
    return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}+0900"


def sign(tid: str, amount: int | str, edi_date: str, secret: str) -> str:
    """hex(sha256(tid + amount + ediDate + secretKey)), as NICE signs."""
    return hashlib.sha256(f"{tid}{amount}{edi_date}{secret}".encode()).hexdigest()


class FakeNice(FakeServer[RecordedRequest]):
    """NICE Payments' REST API and webhooks (see the module docstring)."""

    def __init__(
        self,
        *,
        client_key: str = "S2_test-client-key",
        secret_key: str = "test-secret-key",
        mid: str = "nictest00m",
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Hold the keys the API accepts; serve nothing until ``start``."""
        super().__init__()
        self.client_key = client_key
        self.secret_key = secret_key
        self.mid = mid
        self.clock = clock
        self.payments: dict[str, dict[str, Any]] = {}
        self._tokens: set[str] = set()
        self._order_dates: dict[str, str] = {}
        self._numbers = itertools.count(1)

    # --- serving ----------------------------------------------------------------------------

    def _routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/access-token", self._access_token)
        app.router.add_get("/v1/payments/find/{order_id}", self._find)
        app.router.add_get("/v1/payments/{tid}", self._payment)

    # --- builders ---------------------------------------------------------------------------

    def _now(self, at: datetime | float | None = None) -> datetime:
        if isinstance(at, datetime):
            return at if at.tzinfo else at.replace(tzinfo=KOREA)
        return datetime.fromtimestamp(self.clock() if at is None else at, UTC)

    def add_payment(
        self,
        *,
        amount: int = 4500,
        order_id: str | None = None,
        method: str = "card",
        status: str = "paid",
        at: datetime | float | None = None,
        card_code: str = "04",
        acquirer_code: str | None = None,
        card_num: str = "53611234****1234",
        quota: int | str = 0,
        card_type: str = "credit",
        approve_no: str | None = None,
        goods_name: str = "아메리카노",
    ) -> dict[str, Any]:
        """A payment as NICE keeps it (see the module docstring)."""
        moment = self._now(at)
        number = next(self._numbers)
        local = moment.astimezone(KOREA)
        code = _METHOD_CODES.get(method.lower(), "16")
        tid = f"{self.mid}{code}01{local:%y%m%d%H%M%S}{number:04d}"[:30]
        order_id = order_id or f"order-{local:%Y%m%d}-{number:04d}"
        paid = status == "paid"
        has_card = method.lower() == "card" or method.endswith("Card")
        acquirer = acquirer_code or card_code
        payment: dict[str, Any] = {
            "resultCode": "0000" if status in ("paid", "ready") else "3011",
            "resultMsg": "정상 처리되었습니다." if status in ("paid", "ready") else "카드번호 오류",
            "tid": tid,
            "cancelledTid": None,
            "orderId": order_id,
            "ediDate": nice_time(moment),
            "signature": None,
            "status": status,
            "paidAt": nice_time(moment) if paid else "0",
            "failedAt": nice_time(moment) if status == "failed" else "0",
            "cancelledAt": "0",
            "payMethod": method,
            "amount": amount,
            "balanceAmt": amount if paid else 0,
            "goodsName": goods_name,
            "mallReserved": None,
            "useEscrow": False,
            "currency": "KRW",
            "channel": "pc",
            "approveNo": (approve_no or f"{number:08d}") if paid else None,
            "buyerName": None,
            "buyerTel": None,
            "buyerEmail": None,
            "receiptUrl": f"https://npg.nicepay.co.kr/issue/IssueLoader.do?TID={tid}&type=0",
            "mallUserId": None,
            "issuedCashReceipt": False,
            "coupon": None,
            "card": {
                "cardCode": card_code,
                "cardName": CARD_NAMES.get(card_code, "기타"),
                "cardNum": card_num,
                "cardQuota": quota,
                "isInterestFree": False,
                "cardType": card_type,
                "canPartCancel": "true",
                "acquCardCode": acquirer,
                "acquCardName": CARD_NAMES.get(acquirer, "기타"),
            }
            if has_card
            else None,
            "vbank": {
                "vbankCode": "004",
                "vbankName": "국민",
                "vbankNumber": "12345678901234",
                "vbankExpDate": nice_time(moment + timedelta(days=3)),
                "vbankHolder": "케어온카페",
            }
            if method.lower() == "vbank"
            else None,
            "cancels": None,
            "cashReceipts": None,
        }
        self.payments[tid] = payment
        self._order_dates[tid] = f"{local:%Y%m%d}"
        self.resign(tid)
        return copy.deepcopy(payment)

    def cancel(
        self,
        tid: str,
        amount: int | None = None,
        *,
        reason: str = "고객 요청",
        at: datetime | float | None = None,
    ) -> dict[str, Any]:
        """Cancel the whole balance, or ``amount`` of it (a partial cancel)."""
        payment = self.payments[tid]
        balance = payment["balanceAmt"]
        amount = balance if amount is None else amount
        if not 0 < amount <= balance:
            raise ValueError(f"cannot cancel {amount} of a balance of {balance}")
        moment = self._now(at)
        cancel_tid = f"{tid[:-4]}{next(self._numbers) % 10000:04d}"
        payment["balanceAmt"] = balance - amount
        payment["status"] = "cancelled" if payment["balanceAmt"] == 0 else "partialCancelled"
        payment["resultCode"] = "0000"
        payment["resultMsg"] = "정상 처리되었습니다."
        payment["cancelledTid"] = cancel_tid
        payment["cancelledAt"] = nice_time(moment)
        payment["ediDate"] = nice_time(moment)
        payment["cancels"] = [
            *(payment["cancels"] or []),
            {
                "tid": cancel_tid,
                "amount": amount,
                "cancelledAt": nice_time(moment),
                "reason": reason,
                "receiptUrl": f"https://npg.nicepay.co.kr/issue/IssueLoader.do?TID={cancel_tid}",
                "couponAmt": 0,
            },
        ]
        self.resign(tid)
        return copy.deepcopy(payment)

    def resign(self, tid: str, secret: str | None = None) -> None:
        """Sign the stored payment again (after editing it)."""
        payment = self.payments[tid]
        payment["signature"] = sign(
            payment["tid"], payment["amount"], payment["ediDate"], secret or self.secret_key
        )

    # --- webhooks ---------------------------------------------------------------------------

    def webhook(
        self,
        payment_or_tid: dict[str, Any] | str,
        *,
        form: bool = False,
        secret: str | None = None,
    ) -> tuple[dict[str, str], bytes]:
        """The POST NICE makes for a payment: headers and the exact body."""
        payment = copy.deepcopy(
            self.payments[payment_or_tid] if isinstance(payment_or_tid, str) else payment_or_tid
        )
        payment["signature"] = sign(
            payment["tid"], payment["amount"], payment["ediDate"], secret or self.secret_key
        )
        if not form:
            body = json.dumps(payment, ensure_ascii=False).encode("utf-8")
            return {"Content-Type": "application/json;charset=utf-8"}, body
        pairs: list[tuple[str, str]] = []
        for key, value in payment.items():
            if isinstance(value, dict):
                pairs += [(f"{key}[{inner}]", _form_value(item)) for inner, item in value.items()]
            else:
                pairs.append((key, _form_value(value)))
        body = urlencode(pairs).encode("ascii")
        return {"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"}, body

    # --- API --------------------------------------------------------------------------------

    @web.middleware
    async def _middleware(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            authorization=request.headers.get("Authorization", ""),
        )
        self.requests.append(record)
        wait = self.delay + (self._slow.pop(0) if self._slow else 0.0)
        if wait:
            await asyncio.sleep(wait)
        response: web.StreamResponse
        if self._failures:
            status, body = self._failures.pop(0)
            response = web.Response(status=status, body=body or b"Service Unavailable")
        elif not self._authorized(record.authorization):
            response = _json(
                {"resultCode": "U104", "resultMsg": "사용자 인증에 실패하였습니다."}, 401
            )
        else:
            response = await handler(request)
        record.status = response.status
        return response

    def _authorized(self, header: str) -> bool:
        scheme, _, credentials = header.partition(" ")
        if scheme == "Bearer":
            return credentials in self._tokens
        expected = base64.b64encode(f"{self.client_key}:{self.secret_key}".encode()).decode()
        return scheme == "Basic" and secrets.compare_digest(credentials, expected)

    async def _access_token(self, request: web.Request) -> web.Response:
        token = secrets.token_hex(20)
        self._tokens.add(token)
        now = self._now()
        return _json(
            {
                "resultCode": "0000",
                "resultMsg": "정상 처리되었습니다.",
                "accessToken": token,
                "tokenType": "Bearer",
                "expiredAt": nice_time(now + timedelta(minutes=30)),
                "now": nice_time(now),
            }
        )

    async def _payment(self, request: web.Request) -> web.Response:
        payment = self.payments.get(request.match_info["tid"])
        if payment is None:
            return _json({"resultCode": "A118", "resultMsg": "조회 결과데이터 없음"})
        return _json(payment)

    async def _find(self, request: web.Request) -> web.Response:
        order_date = request.query.get("orderDate", "")
        if len(order_date) != 8 or not order_date.isdigit():
            return _json(
                {"resultCode": "U100", "resultMsg": "orderDate 필수입력항목이 누락되었습니다."}, 400
            )
        order_id = request.match_info["order_id"]
        for tid, payment in self.payments.items():
            if payment["orderId"] == order_id and self._order_dates[tid] == order_date:
                return _json(payment)
        return _json({"resultCode": "A118", "resultMsg": "조회 결과데이터 없음"})


def _form_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _json(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(body, ensure_ascii=False).encode("utf-8"),
        content_type="application/json",
        charset="utf-8",
    )
