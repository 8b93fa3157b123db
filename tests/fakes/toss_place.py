"""FakeTossPlace: the Toss Place Open API and its webhooks, served on 127.0.0.1 for tests.

It speaks the vendor's wire format (CONNECTORS.md §1) so that tests exercise our real client and
webhook handler, never a mock of them. Nothing here imports our connector code: the fake signs,
pages and formats on its own.

Start and point a client at it (tests need pytest-socket's ``socket_enabled`` fixture)::

    async with FakeTossPlace() as fake:           # fake.url = "http://127.0.0.1:<port>"
        client = TossPlaceClient(session, access_key=fake.access_key,
                                 secret_key=fake.secret_key, merchant_id=fake.merchant_id,
                                 base_url=fake.url)
        # or monkeypatch toss_place.TOSS_PLACE_API_URL to fake.url (what HA tests do)

Constructor (all keyword, all optional): ``access_key``/``secret_key`` (what the API accepts,
default "test-access-key"/"test-secret-key"), ``merchant_id`` ("42"), ``webhook_secret``
("test-webhook-secret"), ``app`` ("ha-cafe"), ``burst`` (100) and ``refill_per_s`` (10.0) of
the token bucket, ``clock`` (epoch seconds; default ``time.time``: it stamps orders, webhooks
and the bucket — share one with the client under test to make waits exact), ``time_style``
("Z" → ``2026-01-01T00:00:00.000Z``, "offset" → ``…09:00:00.000+0900``, "naive" → Korea time
with no offset), ``list_key`` (None: list endpoints answer a bare list; "content": a page object
``{"content": [...], "page", "size", "totalCount"}``), ``menu`` (data shaped like
demo_cafe.yaml; default: the demo cafe).

State and builders (every mutation returns a deep copy of the object as the API shows it, bumps
``updatedAt`` strictly, and — while ``emit_webhooks`` is true — queues the webhooks the vendor
would send, in order, in ``outbox``):

- ``menu``: ``{product key: catalogue item}``; ``item(key)`` one of them (title = the demo
  product's name, code "1001"…, category, price).
- ``add_order(lines, *, state="OPENED", dining_option="HERE", discount=0, tip=0, pay=None,
  at=None, number=None) -> order``: ``lines`` entries are a product key, ``(key, qty)``,
  ``(key, qty, options)`` with options ``[(title, price), ...]``, or a dict ``{"title", "code",
  "category", "price", "qty", "options"}`` for an item not on the menu (a dict with "product"
  starts from that menu item). ``state`` REQUESTED/OPENED/COMPLETED/CANCELLED; ``pay`` a
  sourceType ("CARD", "CASH", "BARCODE", "ACCOUNT_TRANSFER", "EXTERNAL") approves a payment
  of the total before completion. Webhooks: created (full order), then payment approved, then
  completed/cancelled (thin).
- ``open_order(order_id) -> order``: REQUESTED → OPENED (webhook: opened, thin).
- ``add_line(order_id, line) -> order`` (table service: an open order gains a line; no webhook,
  as the vendor documents none; backfill sees it).
- ``pay(order_id, *, method="CARD", amount=None, approved_no=None, card=None) -> payment``.
- ``complete(order_id, *, pay=None) -> order``; ``cancel(order_id, *, cancel_payments=True)
  -> order`` (cancels its approved payments first, each with its webhook);
  ``cancel_payment(payment_id, *, amount=None) -> payment`` (``amount`` below the payment's:
  state PARTIAL_CANCELLED with ``cancelledAmount``).
- ``orders`` / ``payments``: the live dicts by id (edit them to craft odd data).
- ``now()`` (the clock as a datetime) and ``format_time(dt)`` (as this fake writes times).

Webhooks:

- ``webhook(event_type, data, *, secret=None, timestamp_ms=None, webhook_id=None) ->
  (headers, body)``: an envelope ``{id, type, createdAt, merchantId, app, data}`` signed like
  the vendor (``x-toss-signature: v1=<hex HMAC-SHA256(secret, f"{timestamp}." + body)>``,
  one signature per secret in ``webhook_secrets``), with ``x-toss-timestamp`` (epoch ms from
  ``clock``), ``x-toss-webhook-id`` (stable) and ``x-toss-delivery-id`` (per call).
- ``make_webhook(event_type, data, *, webhook_id=None) -> Webhook`` (unsigned, not queued);
  ``order_webhook(order_id, event_type=None) -> Webhook`` (created carries the full order,
  the others are thin) and ``payment_webhook(payment_id) -> Webhook``: not queued.
- ``outbox: list[Webhook]``; ``take_webhooks()`` pops them all; ``sign(webhook, *, secret=None,
  timestamp_ms=None) -> headers`` signs one delivery attempt (same webhook id, new delivery
  id); ``take_deliveries() -> [(headers, body)]`` does both. ``sent: list[Webhook]`` keeps
  every webhook ever queued (to count what the vendor sent).
- ``webhook_secret`` (str) signs; set ``previous_webhook_secret`` to sign with both (the
  vendor's rotation: two space-separated signatures).

API behaviour, faults and inspection:

- Auth: ``x-access-key``/``x-secret-key`` must equal ``access_key``/``secret_key`` (change
  them to "revoke" the keys) → else 401 ``{"resultType": "FAIL", "error": {"errorCode":
  "4010", ...}}``; another merchant id → 403 (4030); unknown order/payment → 404 (4040); bad
  paging or more than 25 ids → 400 (4000).
- Rate limit: a token bucket (``set_rate_limit(burst=, refill_per_s=, tokens=)``); empty → 429
  (4290); ``tokens`` reads the bucket. Every response that went through the bucket carries
  ``x-ratelimit-limit``, ``x-ratelimit-remaining`` and ``x-ratelimit-reset`` (epoch ms,
  rounded up, when the next token is there); every response carries ``x-toss-event-id``.
- ``fail_next(n=1, status=500, body=None)``: the next n requests answer ``status`` (a FAIL
  envelope, or ``body`` as is); ``slow_next(n, seconds)``; ``delay`` (seconds, every
  request). Faults apply before the rate limit and auth, and are counted per request.
- ``GET /order/orders``: ``from``/``to`` (ISO times) filter on ``updatedAt`` in [from, to);
  ``orderStates`` (comma list); ``page`` from 1, ``size`` ≤ 500 (default 100); ``sortOrder``
  ASC (default) or DESC, by (updatedAt, id).
- ``requests: list[RecordedRequest]`` (method, path, query, headers, status,
  response_headers, at); ``requests_to(fragment)`` filters by path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime
import hashlib
import hmac
import itertools
import json
import math
import time
from typing import Any, ClassVar
import uuid
from zoneinfo import ZoneInfo

from aiohttp import web

from custom_components.careon.core.demo import load_demo_data

from .server import FakeServer

# read once, at import: the fake answers inside an event loop
DEMO_DATA = load_demo_data()
PREFIX = "/api-public/openapi/v1"
KOREA = ZoneInfo("Asia/Seoul")
ISSUERS = ("신한", "KB국민", "삼성", "현대", "롯데", "BC", "하나", "우리", "NH농협")
CARD_PREFIXES = ("536510", "457973", "949013", "404825", "540926", "942150", "465887")

EVENT_ORDER_CREATED = "order.order.created.v1"
EVENT_ORDER_OPENED = "order.order.opened.v1"
EVENT_ORDER_COMPLETED = "order.order.completed.v1"
EVENT_ORDER_CANCELLED = "order.order.cancelled.v1"
EVENT_PAYMENT_APPROVED = "payment.payment.approved.v1"
EVENT_PAYMENT_CANCELLED = "payment.payment.cancelled.v1"


@dataclass
class RecordedRequest:
    """One request the fake answered."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    at: float
    status: int = 0
    response_headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Webhook:
    """One event the vendor sends: its stable webhook id, type and exact body."""

    webhook_id: str
    event_type: str
    body: bytes

    @property
    def payload(self) -> dict[str, Any]:
        """The decoded envelope."""
        data: dict[str, Any] = json.loads(self.body)
        return data


class FakeTossPlace(FakeServer[RecordedRequest]):
    """A Toss Place merchant: orders, payments, the Open API and signed webhooks."""

    _runner_options: ClassVar[Mapping[str, Any]] = {"access_log": None}

    def __init__(
        self,
        *,
        access_key: str = "test-access-key",
        secret_key: str = "test-secret-key",
        merchant_id: str = "42",
        webhook_secret: str = "test-webhook-secret",
        app: str = "ha-cafe",
        burst: int = 100,
        refill_per_s: float = 10.0,
        clock: Callable[[], float] = time.time,
        time_style: str = "Z",
        list_key: str | None = None,
        menu: Mapping[str, Any] | None = None,
    ) -> None:
        """Set the merchant up; ``start()`` (or ``async with``) serves it."""
        if time_style not in ("Z", "offset", "naive"):
            raise ValueError(time_style)
        super().__init__()
        self.access_key = access_key
        self.secret_key = secret_key
        self.merchant_id = merchant_id
        self.webhook_secret = webhook_secret
        self.previous_webhook_secret: str | None = None
        self.app = app
        self.clock = clock
        self.time_style = time_style
        self.list_key = list_key
        self.burst = burst
        self.refill_per_s = refill_per_s
        self._tokens = float(burst)
        self._refilled_at = clock()

        self.orders: dict[str, dict[str, Any]] = {}
        self.payments: dict[str, dict[str, Any]] = {}
        self.outbox: list[Webhook] = []
        self.sent: list[Webhook] = []
        self.emit_webhooks = True
        self._order_seq = itertools.count(1)
        self._payment_seq = itertools.count(1)
        self._event_seq = itertools.count(1)
        self._last_stamp: dict[str, float] = {}

        data = menu if menu is not None else copy.deepcopy(DEMO_DATA)
        self.store_name: str = data.get("store", {}).get("name", "Toss Place cafe")
        categories = sorted({product["category"] for product in data["products"]})
        category_codes = {title: f"CAT-{index:02d}" for index, title in enumerate(categories, 1)}
        self.menu: dict[str, dict[str, Any]] = {
            product["key"]: {
                "id": f"itm-{1000 + index}",
                "title": product["name"],
                "code": str(1000 + index),
                "category": {
                    "title": product["category"],
                    "code": category_codes[product["category"]],
                },
                "price": {"priceValue": int(product["price"])},
            }
            for index, product in enumerate(data["products"], 1)
        }

    # --- serving ------------------------------------------------------------------------------

    def _routes(self, app: web.Application) -> None:
        routes = [
            ("/version", self._version),
            ("/merchants/{merchant}", self._merchant),
            ("/merchants/{merchant}/order/orders", self._orders),
            ("/merchants/{merchant}/order/orders/by-ids", self._orders_by_ids),
            ("/merchants/{merchant}/order/orders/{order_id}", self._order),
            ("/merchants/{merchant}/payment/payments/by-order-id", self._payments_by_order),
            ("/merchants/{merchant}/payment/payments/{payment_id}", self._payment),
            ("/merchants/{merchant}/catalog/items", self._items),
            ("/merchants/{merchant}/catalog/items/{item_id}", self._item),
        ]
        for path, handler in routes:
            app.router.add_get(PREFIX + path, handler)

    # --- limits -----------------------------------------------------------------------------

    def set_rate_limit(
        self,
        *,
        burst: int | None = None,
        refill_per_s: float | None = None,
        tokens: float | None = None,
    ) -> None:
        """Change the token bucket (``tokens=0`` empties it now)."""
        self._refill()
        if burst is not None:
            self.burst = burst
            self._tokens = min(self._tokens, burst)
        if refill_per_s is not None:
            self.refill_per_s = refill_per_s
        if tokens is not None:
            self._tokens = float(tokens)

    @property
    def tokens(self) -> float:
        """Tokens in the bucket now."""
        self._refill()
        return self._tokens

    def _refill(self) -> None:
        now = self.clock()
        elapsed = max(0.0, now - self._refilled_at)
        self._tokens = min(float(self.burst), self._tokens + elapsed * self.refill_per_s)
        self._refilled_at = now

    def _limit_headers(self) -> dict[str, str]:
        missing = max(0.0, 1.0 - self._tokens)
        wait = missing / self.refill_per_s if self.refill_per_s > 0 else 3600.0
        reset_ms = math.ceil((self._refilled_at + wait) * 1000)
        return {
            "x-ratelimit-limit": str(self.burst),
            "x-ratelimit-remaining": str(max(0, math.floor(self._tokens))),
            "x-ratelimit-reset": str(reset_ms),
        }

    @web.middleware
    async def _middleware(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Any],
    ) -> web.StreamResponse:
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers={key.lower(): value for key, value in request.headers.items()},
            at=self.clock(),
        )
        self.requests.append(record)
        delay = self.delay + (self._slow.pop(0) if self._slow else 0.0)
        response: web.StreamResponse
        limits: dict[str, str] = {}
        if delay:
            # the real clock: a slow answer must be slow for the client's real timeout
            await asyncio.sleep(delay)
        if self._failures:
            status, body = self._failures.pop(0)
            if body is not None:
                response = web.Response(status=status, body=body, content_type="text/html")
            else:
                response = _fail(status, f"{status}0", "injected failure")
        else:
            self._refill()
            # a client that waited until the announced reset (rounded up to the ms) is served
            if self._tokens < 1 - 1e-6:
                limits = self._limit_headers()
                response = _fail(429, "4290", "Too many requests")
            else:
                self._tokens -= 1
                limits = self._limit_headers()
                if (
                    request.headers.get("x-access-key") != self.access_key
                    or request.headers.get("x-secret-key") != self.secret_key
                ):
                    response = _fail(401, "4010", "Invalid access key or secret key")
                elif (
                    "merchant" in request.match_info
                    and request.match_info["merchant"] != self.merchant_id
                ):
                    response = _fail(403, "4030", "The app is not installed at this merchant")
                else:
                    response = await handler(request)
        response.headers["x-toss-event-id"] = uuid.uuid4().hex
        response.headers.update(limits)
        record.status = response.status
        record.response_headers = {key.lower(): value for key, value in response.headers.items()}
        return response

    # --- API handlers ---------------------------------------------------------------------

    async def _version(self, request: web.Request) -> web.Response:
        return _ok({"version": "1.0.0"})

    async def _merchant(self, request: web.Request) -> web.Response:
        return _ok(
            {
                "id": _wire_id(self.merchant_id),
                "name": self.store_name,
                "businessNumber": "000-00-00000",
                "status": "ACTIVE",
            }
        )

    async def _orders(self, request: web.Request) -> web.Response:
        query = request.query
        try:
            page = int(query.get("page", "1"))
            size = int(query.get("size", "100"))
            start = _parse_time(query["from"]) if "from" in query else None
            end = _parse_time(query["to"]) if "to" in query else None
        except ValueError:
            return _fail(400, "4000", "Invalid query")
        if page < 1 or not 1 <= size <= 500:
            return _fail(400, "4000", "Invalid paging")
        states = {s for s in query.get("orderStates", "").split(",") if s}
        descending = query.get("sortOrder", "ASC").upper() == "DESC"
        found = []
        for order in self.orders.values():
            updated = _parse_time(order["updatedAt"])
            if start is not None and updated < start:
                continue
            if end is not None and updated >= end:
                continue
            if states and order["orderState"] not in states:
                continue
            found.append((updated, order["id"], order))
        found.sort(key=lambda entry: (entry[0], entry[1]), reverse=descending)
        chunk = [entry[2] for entry in found[(page - 1) * size : page * size]]
        return self._list(chunk, page=page, size=size, total=len(found))

    async def _orders_by_ids(self, request: web.Request) -> web.Response:
        ids = [part for value in request.query.getall("ids", []) for part in value.split(",")]
        ids = [i.strip() for i in ids if i.strip()]
        if len(ids) > 25:
            return _fail(400, "4000", "At most 25 ids")
        found = [self.orders[i] for i in ids if i in self.orders]
        return self._list(found, page=1, size=len(ids), total=len(found))

    async def _order(self, request: web.Request) -> web.Response:
        order = self.orders.get(request.match_info["order_id"])
        if order is None:
            return _fail(404, "4040", "Order not found")
        return _ok(order)

    async def _payments_by_order(self, request: web.Request) -> web.Response:
        order_id = request.query.get("orderId", "")
        found = [p for p in self.payments.values() if p["orderId"] == order_id]
        return self._list(found, page=1, size=len(found), total=len(found))

    async def _payment(self, request: web.Request) -> web.Response:
        payment = self.payments.get(request.match_info["payment_id"])
        if payment is None:
            return _fail(404, "4040", "Payment not found")
        return _ok(payment)

    async def _items(self, request: web.Request) -> web.Response:
        items = list(self.menu.values())
        return self._list(items, page=1, size=len(items), total=len(items))

    async def _item(self, request: web.Request) -> web.Response:
        for item in self.menu.values():
            if item["id"] == request.match_info["item_id"]:
                return _ok(item)
        return _fail(404, "4040", "Item not found")

    def _list(
        self, objects: Sequence[Mapping[str, Any]], *, page: int, size: int, total: int
    ) -> web.Response:
        if self.list_key is None:
            return _ok(list(objects))
        return _ok({self.list_key: list(objects), "page": page, "size": size, "totalCount": total})

    # --- the merchant's sales -------------------------------------------------------------

    def item(self, key: str) -> dict[str, Any]:
        """The catalogue item of a demo product (by its key in demo_cafe.yaml)."""
        return copy.deepcopy(self.menu[key])

    def now(self) -> datetime:
        """The fake's clock as an aware datetime."""
        return datetime.fromtimestamp(self.clock(), UTC)

    def format_time(self, value: datetime) -> str:
        """A time as this fake writes it (``time_style``)."""
        if self.time_style == "Z":
            value = value.astimezone(UTC)
            suffix = "Z"
        elif self.time_style == "offset":
            value = value.astimezone(KOREA)
            suffix = "+0900"
        else:
            value = value.astimezone(KOREA)
            suffix = ""
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}{suffix}"

    def add_order(
        self,
        lines: Iterable[Any],
        *,
        state: str = "OPENED",
        dining_option: str = "HERE",
        discount: int = 0,
        tip: int = 0,
        pay: str | None = None,
        at: datetime | None = None,
        number: str | None = None,
    ) -> dict[str, Any]:
        """A new order (see the module docstring for ``lines``); returns it as the API does."""
        sequence = next(self._order_seq)
        order_id = f"62{sequence:016d}"
        created = at or self.now()
        stamp = self.format_time(created)
        order: dict[str, Any] = {
            "id": order_id,
            "merchantId": _wire_id(self.merchant_id),
            "source": "POS",
            "orderState": "REQUESTED" if state == "REQUESTED" else "OPENED",
            "orderKey": uuid.uuid4().hex,
            "orderNumber": number or f"A-{sequence:03d}",
            "createdAt": stamp,
            "updatedAt": stamp,
            "openedAt": None if state == "REQUESTED" else stamp,
            "completedAt": None,
            "cancelledAt": None,
            "lineItems": [
                self._line(order_id, index, line, dining_option)
                for index, line in enumerate(lines, 1)
            ],
            "discounts": [],
            "payments": [],
            "chargePrice": {},
        }
        if discount:
            order["discounts"].append(
                {"id": f"dsc-{order_id}", "title": "단골 할인", "amount": -discount}
            )
        self._reprice(order, discount=discount, tip=tip)
        self._last_stamp[order_id] = created.timestamp()
        self.orders[order_id] = order
        self._emit(EVENT_ORDER_CREATED, {"order": copy.deepcopy(order)})
        if pay is not None:
            self.pay(order_id, method=pay)
        if state == "COMPLETED":
            self.complete(order_id)
        elif state == "CANCELLED":
            self.cancel(order_id)
        elif state not in ("OPENED", "REQUESTED"):
            raise ValueError(state)
        return copy.deepcopy(self.orders[order_id])

    def open_order(self, order_id: str) -> dict[str, Any]:
        """A REQUESTED order (a kiosk or table order) is accepted: OPENED, with its webhook."""
        order = self.orders[order_id]
        if order["orderState"] != "REQUESTED":
            raise ValueError(f"order {order_id} is {order['orderState']}")
        order["orderState"] = "OPENED"
        self._touch(order)
        order["openedAt"] = order["updatedAt"]
        self._emit(EVENT_ORDER_OPENED, self._thin(order))
        return copy.deepcopy(order)

    def add_line(self, order_id: str, line: Any) -> dict[str, Any]:
        """An open order gains a line (table service); no webhook."""
        order = self.orders[order_id]
        if order["orderState"] not in ("REQUESTED", "OPENED"):
            raise ValueError(f"order {order_id} is {order['orderState']}")
        dining = order["lineItems"][0]["diningOption"] if order["lineItems"] else "HERE"
        order["lineItems"].append(self._line(order_id, len(order["lineItems"]) + 1, line, dining))
        charge = order["chargePrice"]
        self._reprice(order, discount=-charge["discountAmount"], tip=charge["tipAmount"])
        self._touch(order)
        return copy.deepcopy(order)

    def pay(
        self,
        order_id: str,
        *,
        method: str = "CARD",
        amount: int | None = None,
        approved_no: str | None = None,
        card: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Approve a payment for an order (the order's outstanding total by default)."""
        order = self.orders[order_id]
        sequence = next(self._payment_seq)
        payment_id = f"64{sequence:016d}"
        now = self.now()
        if amount is None:
            paid = sum(
                p["amount"] - p.get("cancelledAmount", 0)
                for p in self.payments.values()
                if p["orderId"] == order_id and p["state"] != "CANCELLED"
            )
            amount = max(0, order["chargePrice"]["totalAmount"] - paid)
        supply = round(amount / 1.1)
        payment: dict[str, Any] = {
            "id": payment_id,
            "orderId": order_id,
            "merchantId": _wire_id(self.merchant_id),
            "state": "APPROVED",
            "sourceType": method,
            "paymentMethod": method,
            "van": "NICE" if method == "CARD" else None,
            "amount": amount,
            "taxAmount": amount - supply,
            "supplyAmount": supply,
            "tipAmount": 0,
            "approvedNo": approved_no or f"{(sequence * 7919 + 3001) % 100_000_000:08d}",
            "approvedAt": self.format_time(now),
            "cancelledAt": None,
            "cardDetails": None,
            "easyPayDetails": None,
        }
        if method == "CARD":
            payment["cardDetails"] = dict(
                card
                or {
                    "cardType": "CHECK" if sequence % 3 == 0 else "CREDIT",
                    "cardBrand": ISSUERS[sequence % len(ISSUERS)],
                    "cardNo": f"{CARD_PREFIXES[sequence % len(CARD_PREFIXES)]}******"
                    f"{(sequence * 37) % 10_000:04d}",
                    "acquirer": ISSUERS[(sequence + 1) % len(ISSUERS)],
                    "installmentMonth": "00",
                }
            )
        elif method == "BARCODE":
            payment["easyPayDetails"] = {"provider": "TOSSPAY", "payType": "BARCODE"}
        self.payments[payment_id] = payment
        order["payments"].append(self._payment_summary(payment))
        self._touch(order)
        self._emit(EVENT_PAYMENT_APPROVED, {"payment": copy.deepcopy(payment)})
        return copy.deepcopy(payment)

    def complete(self, order_id: str, *, pay: str | None = None) -> dict[str, Any]:
        """The order is completed (optionally paying it first)."""
        if pay is not None:
            self.pay(order_id, method=pay)
        order = self.orders[order_id]
        order["orderState"] = "COMPLETED"
        self._touch(order)
        order["completedAt"] = order["updatedAt"]
        self._emit(EVENT_ORDER_COMPLETED, self._thin(order))
        return copy.deepcopy(order)

    def cancel(self, order_id: str, *, cancel_payments: bool = True) -> dict[str, Any]:
        """The order is cancelled; its approved payments are cancelled first."""
        order = self.orders[order_id]
        if cancel_payments:
            for payment in list(self.payments.values()):
                if payment["orderId"] == order_id and payment["state"] != "CANCELLED":
                    self.cancel_payment(payment["id"])
        order["orderState"] = "CANCELLED"
        self._touch(order)
        order["cancelledAt"] = order["updatedAt"]
        self._emit(EVENT_ORDER_CANCELLED, self._thin(order))
        return copy.deepcopy(order)

    def cancel_payment(self, payment_id: str, *, amount: int | None = None) -> dict[str, Any]:
        """Cancel a payment in full, or ``amount`` of it (partial)."""
        payment = self.payments[payment_id]
        cancelled = payment.get("cancelledAmount", 0) + (
            payment["amount"] - payment.get("cancelledAmount", 0) if amount is None else amount
        )
        if cancelled >= payment["amount"]:
            payment["state"] = "CANCELLED"
            payment["cancelledAmount"] = payment["amount"]
        else:
            payment["state"] = "PARTIAL_CANCELLED"
            payment["cancelledAmount"] = cancelled
        payment["cancelledAt"] = self.format_time(self.now())
        order = self.orders[payment["orderId"]]
        order["payments"] = [
            self._payment_summary(self.payments[summary["id"]]) for summary in order["payments"]
        ]
        self._touch(order)
        self._emit(EVENT_PAYMENT_CANCELLED, {"payment": copy.deepcopy(payment)})
        return copy.deepcopy(payment)

    def _line(self, order_id: str, index: int, line: Any, dining: str) -> dict[str, Any]:
        options: Sequence[Any] = ()
        qty = 1
        if isinstance(line, str):
            item = self.menu[line]
        elif isinstance(line, tuple | list):
            item = self.menu[line[0]]
            qty = int(line[1]) if len(line) > 1 else 1
            options = line[2] if len(line) > 2 else ()
        else:
            base = self.menu[line["product"]] if "product" in line else None
            title = line.get("title", base["title"] if base else None)
            code = line.get("code", base["code"] if base else None)
            category = line.get("category", base["category"]["title"] if base else "기타")
            price = line.get("price", base["price"]["priceValue"] if base else 0)
            item = {
                "id": f"itm-custom-{code or title}",
                "title": title,
                "code": code,
                "category": {"title": category, "code": None},
                "price": {"priceValue": price},
            }
            qty = int(line.get("qty", 1))
            options = line.get("options", ())
        choices = []
        for option in options:
            if isinstance(option, Mapping):
                choices.append(
                    {
                        "title": option["title"],
                        "code": option.get("code"),
                        "priceValue": option.get("priceValue", option.get("price", 0)),
                        "quantity": option.get("quantity", 1),
                    }
                )
            else:
                title, price = option
                choices.append({"title": title, "code": None, "priceValue": price, "quantity": 1})
        return {
            "id": f"lit-{order_id}-{index}",
            "diningOption": dining,
            "item": {
                "id": item["id"],
                "title": item["title"],
                "code": item["code"],
                "category": copy.deepcopy(item["category"]),
            },
            "itemPrice": {
                "priceValue": item["price"]["priceValue"],
                "taxPercentage": 10,
                "taxInclusive": True,
            },
            "optionChoices": choices,
            "quantity": qty,
        }

    @staticmethod
    def _reprice(order: dict[str, Any], *, discount: int, tip: int) -> None:
        listed = sum(
            (
                line["itemPrice"]["priceValue"]
                + sum(c["priceValue"] * c["quantity"] for c in line["optionChoices"])
            )
            * line["quantity"]
            for line in order["lineItems"]
        )
        total = max(0, listed - discount) + tip
        supply = round((total - tip) / 1.1)
        order["chargePrice"] = {
            "listPrice": listed,
            "discountAmount": -discount,
            "tipAmount": tip,
            "serviceChargeAmount": 0,
            "taxAmount": total - tip - supply,
            "supplyAmount": supply,
            "taxExemptAmount": 0,
            "totalAmount": total,
        }

    def _touch(self, order: dict[str, Any]) -> None:
        """Bump ``updatedAt``: strictly later than the order's previous version."""
        now = max(self.clock(), self._last_stamp.get(order["id"], 0.0) + 0.001)
        self._last_stamp[order["id"]] = now
        order["updatedAt"] = self.format_time(datetime.fromtimestamp(now, UTC))

    @staticmethod
    def _payment_summary(payment: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "id": payment["id"],
            "state": payment["state"],
            "sourceType": payment["sourceType"],
            "amount": payment["amount"],
        }

    def _thin(self, order: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "orderId": order["id"],
            "orderKey": order["orderKey"],
            "orderNumber": order["orderNumber"],
            "source": order["source"],
            "time": order["updatedAt"],
        }

    # --- webhooks -------------------------------------------------------------------------

    @property
    def webhook_secrets(self) -> list[str]:
        """The secrets each delivery is signed with (two during a rotation)."""
        secrets = [self.webhook_secret]
        if self.previous_webhook_secret:
            secrets.append(self.previous_webhook_secret)
        return secrets

    def make_webhook(
        self, event_type: str, data: Mapping[str, Any], *, webhook_id: str | None = None
    ) -> Webhook:
        """An event envelope (not queued, not signed)."""
        sequence = next(self._event_seq)
        envelope = {
            "id": f"evt-{sequence:06d}",
            "type": event_type,
            "createdAt": self.format_time(self.now()),
            "merchantId": _wire_id(self.merchant_id),
            "app": self.app,
            "data": copy.deepcopy(dict(data)),
        }
        body = json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()
        return Webhook(
            webhook_id=webhook_id or f"whk-{uuid.uuid4().hex}", event_type=event_type, body=body
        )

    def sign(
        self,
        webhook: Webhook,
        *,
        secret: str | None = None,
        timestamp_ms: int | None = None,
    ) -> dict[str, str]:
        """The headers of one delivery attempt of ``webhook``."""
        timestamp = str(timestamp_ms if timestamp_ms is not None else int(self.clock() * 1000))
        secrets = [secret] if secret is not None else self.webhook_secrets
        signatures = [
            "v1="
            + hmac.new(
                key.encode(), timestamp.encode() + b"." + webhook.body, hashlib.sha256
            ).hexdigest()
            for key in secrets
        ]
        return {
            "content-type": "application/json",
            "x-toss-signature": " ".join(signatures),
            "x-toss-timestamp": timestamp,
            "x-toss-webhook-id": webhook.webhook_id,
            "x-toss-delivery-id": f"dlv-{uuid.uuid4().hex}",
        }

    def webhook(
        self,
        event_type: str,
        data: Mapping[str, Any],
        *,
        secret: str | None = None,
        timestamp_ms: int | None = None,
        webhook_id: str | None = None,
    ) -> tuple[dict[str, str], bytes]:
        """A signed delivery of an event with ``data`` (not queued)."""
        webhook = self.make_webhook(event_type, data, webhook_id=webhook_id)
        return self.sign(webhook, secret=secret, timestamp_ms=timestamp_ms), webhook.body

    def order_webhook(self, order_id: str, event_type: str | None = None) -> Webhook:
        """An order event for the order as it is now (created: full; others: thin)."""
        order = self.orders[order_id]
        if event_type is None:
            event_type = {
                "COMPLETED": EVENT_ORDER_COMPLETED,
                "CANCELLED": EVENT_ORDER_CANCELLED,
            }.get(order["orderState"], EVENT_ORDER_CREATED)
        if event_type == EVENT_ORDER_CREATED:
            return self.make_webhook(event_type, {"order": copy.deepcopy(order)})
        return self.make_webhook(event_type, self._thin(order))

    def payment_webhook(self, payment_id: str) -> Webhook:
        """A payment event for the payment as it is now."""
        payment = self.payments[payment_id]
        event_type = (
            EVENT_PAYMENT_APPROVED if payment["state"] == "APPROVED" else EVENT_PAYMENT_CANCELLED
        )
        return self.make_webhook(event_type, {"payment": copy.deepcopy(payment)})

    def take_webhooks(self) -> list[Webhook]:
        """The queued webhooks, oldest first; the queue is emptied."""
        taken, self.outbox = self.outbox, []
        return taken

    def take_deliveries(self) -> list[tuple[dict[str, str], bytes]]:
        """The queued webhooks signed now, as (headers, body); the queue is emptied."""
        return [(self.sign(webhook), webhook.body) for webhook in self.take_webhooks()]

    def _emit(self, event_type: str, data: Mapping[str, Any]) -> None:
        if self.emit_webhooks:
            webhook = self.make_webhook(event_type, data)
            self.outbox.append(webhook)
            self.sent.append(webhook)


def _ok(success: Any) -> web.Response:
    return web.json_response(
        {"resultType": "SUCCESS", "success": success},
        dumps=lambda value: json.dumps(value, ensure_ascii=False),
    )


def _fail(status: int, code: str, reason: str) -> web.Response:
    return web.json_response(
        {"resultType": "FAIL", "error": {"errorCode": code, "reason": reason, "data": None}},
        status=status,
    )


def _wire_id(value: str) -> int | str:
    return int(value) if value.isdigit() else value


def _parse_time(value: str) -> datetime:
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=KOREA)
    return parsed


__all__ = [
    "EVENT_ORDER_CANCELLED",
    "EVENT_ORDER_COMPLETED",
    "EVENT_ORDER_CREATED",
    "EVENT_ORDER_OPENED",
    "EVENT_PAYMENT_APPROVED",
    "EVENT_PAYMENT_CANCELLED",
    "FakeTossPlace",
    "RecordedRequest",
    "Webhook",
]
