"""Toss Place (POS) Open API: a REST client, webhook signatures, and the mapping into actions.

The wire format is described in CONNECTORS.md §1. Three parts, none of which imports Home
Assistant:

- ``TossPlaceClient`` reads orders and payments over the Open API with the app's key pair. It
  honours the vendor's rate limit (a 429 waits until ``x-ratelimit-reset``, at most
  ``max_wait`` seconds), retries server errors, timeouts and network errors with a growing
  back-off, and raises ``TossPlaceAuthError`` when the keys are refused.
- ``sign``/``verify_signature``/``parse_webhook`` check and read webhook deliveries.
- ``order_params``/``payment_params`` turn a vendor order or payment into the parameters of the
  ``sync_order``/``sync_payment`` actions; ``order_key``/``payment_key`` are the idempotency keys
  of those versions. Anything the vendor sends that cannot be mapped raises
  ``TossPlaceFormatError`` naming the field; unknown enum values map to a neutral value.

Money is whole won (integers). A vendor time without an offset is Korea time; every time is
normalised to the store's one form (UTC ISO 8601, ``fields.to_iso``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
import hashlib
import hmac
import json
import logging
import math
import time
from typing import Any, Final
from urllib.parse import quote
from zoneinfo import ZoneInfo

import aiohttp

from ..fields import MAX_MAGNITUDE, to_iso
from ..privacy import mask_card_number

_LOGGER = logging.getLogger(__name__)

CONNECTOR: Final = "toss_place"
# Patched by tests (the fake server's address); read when a client is made, not at import.
TOSS_PLACE_API_URL = "https://open-api.tossplace.com"
API_PREFIX: Final = "/api-public/openapi/v1"
KOREA: Final[tzinfo] = ZoneInfo("Asia/Seoul")

# Every request: 5 s to connect, 30 s in all (the vendor's advice for its APIs).
DEFAULT_TIMEOUT: Final = aiohttp.ClientTimeout(total=30, connect=5)
MAX_PAGE_SIZE: Final = 500
MAX_IDS_PER_REQUEST: Final = 25

HEADER_ACCESS_KEY: Final = "x-access-key"
HEADER_SECRET_KEY: Final = "x-secret-key"
HEADER_EVENT_ID: Final = "x-toss-event-id"
HEADER_RATELIMIT_LIMIT: Final = "x-ratelimit-limit"
HEADER_RATELIMIT_REMAINING: Final = "x-ratelimit-remaining"
HEADER_RATELIMIT_RESET: Final = "x-ratelimit-reset"
HEADER_SIGNATURE: Final = "x-toss-signature"
HEADER_TIMESTAMP: Final = "x-toss-timestamp"
HEADER_WEBHOOK_ID: Final = "x-toss-webhook-id"
HEADER_DELIVERY_ID: Final = "x-toss-delivery-id"

SIGNATURE_VERSION: Final = "v1"
SIGNATURE_TOLERANCE_MS: Final = 300_000

EVENT_ORDER_CREATED: Final = "order.order.created.v1"
EVENT_ORDER_OPENED: Final = "order.order.opened.v1"
EVENT_ORDER_COMPLETED: Final = "order.order.completed.v1"
EVENT_ORDER_CANCELLED: Final = "order.order.cancelled.v1"
EVENT_PAYMENT_APPROVED: Final = "payment.payment.approved.v1"
EVENT_PAYMENT_CANCELLED: Final = "payment.payment.cancelled.v1"
ORDER_EVENTS: Final = frozenset(
    {EVENT_ORDER_CREATED, EVENT_ORDER_OPENED, EVENT_ORDER_COMPLETED, EVENT_ORDER_CANCELLED}
)
PAYMENT_EVENTS: Final = frozenset({EVENT_PAYMENT_APPROVED, EVENT_PAYMENT_CANCELLED})
# events whose data carries only the order's id (fetch the order to know more)
THIN_ORDER_EVENTS: Final = frozenset(
    {EVENT_ORDER_OPENED, EVENT_ORDER_COMPLETED, EVENT_ORDER_CANCELLED}
)

ORDER_STATES: Final[Mapping[str, str]] = {
    "REQUESTED": "open",
    "OPENED": "open",
    "COMPLETED": "completed",
    "CANCELLED": "cancelled",
}
CHANNELS: Final[Mapping[str, str]] = {
    "HERE": "here",
    "TOGO": "togo",
    "DELIVERY": "delivery",
    "PICKUP": "pickup",
}
PAYMENT_STATES: Final[Mapping[str, str]] = {
    "APPROVED": "approved",
    "CANCELLED": "cancelled",
    "PARTIAL_CANCELLED": "partial_cancelled",
    "PARTIALLY_CANCELLED": "partial_cancelled",
    "FAILED": "failed",
    "PENDING": "pending",
}
PAYMENT_METHODS: Final[Mapping[str, str]] = {
    "CARD": "card",
    "CASH": "cash",
    "ACCOUNT_TRANSFER": "transfer",
    "BARCODE": "easy_pay",
    "EXTERNAL": "external",
}

type Sleep = Callable[[float], Awaitable[object]]
type Clock = Callable[[], float]


class TossPlaceError(Exception):
    """The Open API refused a request (its FAIL envelope: an error code and a reason)."""

    def __init__(self, code: str, reason: str) -> None:
        """Keep the vendor's code and reason (neither holds a key or a body)."""
        self.code = code
        self.reason = reason
        super().__init__(f"{code}: {reason}")


class TossPlaceAuthError(TossPlaceError):
    """The access/secret key pair was refused, or the app is not installed at the merchant."""


class TossPlaceConnectionError(TossPlaceError):
    """The Open API could not be reached: network error, timeout, or server errors that
    outlasted the retries. Worth trying again later."""


class TossPlaceRateLimitError(TossPlaceConnectionError):
    """Still rate limited (HTTP 429) after waiting ``retries`` times."""


class TossPlaceFormatError(TossPlaceError):
    """What the vendor sent cannot be read: ``field`` names the first unreadable part."""

    def __init__(self, field: str) -> None:
        """Name the field (a path like ``lineItems[0].quantity``), never its value."""
        self.field = field
        super().__init__("format", f"unexpected value in {field}")


# --- the REST client ----------------------------------------------------------------------


class TossPlaceClient:
    """The Toss Place Open API of one merchant, through a caller's aiohttp session."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        access_key: str,
        secret_key: str,
        merchant_id: str | int,
        base_url: str | None = None,
        max_wait: float = 60.0,
        retries: int = 3,
        sleep: Sleep = asyncio.sleep,
        timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
        backoff: float = 1.0,
        clock: Clock = time.time,
    ) -> None:
        """Bind to a merchant. ``base_url`` defaults to ``TOSS_PLACE_API_URL`` as it is now.

        ``retries``: how many times one request is tried again after a server error, a
        timeout or a network error (waiting ``backoff`` times 1, 2, 4... seconds), and, counted
        apart, after a 429. ``sleep`` and ``clock`` (epoch seconds) are injectable for tests.
        """
        self._session = session
        self._headers = {
            HEADER_ACCESS_KEY: access_key,
            HEADER_SECRET_KEY: secret_key,
            "Accept": "application/json",
        }
        self.merchant_id = str(merchant_id)
        self.base_url = (base_url or TOSS_PLACE_API_URL).rstrip("/")
        self._max_wait = max_wait
        self._retries = retries
        self._sleep = sleep
        self._timeout = timeout
        self._backoff = backoff
        self._clock = clock

    def __repr__(self) -> str:
        """Name the merchant and the server, never the keys."""
        return f"TossPlaceClient(merchant_id={self.merchant_id!r}, base_url={self.base_url!r})"

    async def merchant(self) -> dict[str, Any]:
        """The merchant the keys are installed at (a cheap check of the credentials)."""
        return _mapping(await self._get(self._merchant_path()), "success")

    async def order(self, order_id: str) -> dict[str, Any]:
        """One order by its id (``TossPlaceError`` with the vendor's code when unknown)."""
        path = f"{self._merchant_path()}/order/orders/{_segment(order_id)}"
        return _mapping(await self._get(path), "success")

    async def orders_by_ids(self, ids: Iterable[str]) -> list[dict[str, Any]]:
        """Orders by id, asked for 25 at a time; ids the vendor does not know are left out."""
        wanted = list(dict.fromkeys(str(i) for i in ids))
        orders: list[dict[str, Any]] = []
        for start in range(0, len(wanted), MAX_IDS_PER_REQUEST):
            chunk = wanted[start : start + MAX_IDS_PER_REQUEST]
            body = await self._get(
                f"{self._merchant_path()}/order/orders/by-ids", {"ids": ",".join(chunk)}
            )
            orders.extend(_items(body))
        return orders

    async def payments_by_order(self, order_id: str) -> list[dict[str, Any]]:
        """Every payment (approved or cancelled) of one order."""
        body = await self._get(
            f"{self._merchant_path()}/payment/payments/by-order-id", {"orderId": str(order_id)}
        )
        return _items(body)

    async def payment(self, payment_id: str) -> dict[str, Any]:
        """One payment by its id."""
        path = f"{self._merchant_path()}/payment/payments/{_segment(payment_id)}"
        return _mapping(await self._get(path), "success")

    async def iter_orders(
        self, start: datetime, end: datetime, size: int = 100
    ) -> AsyncIterator[dict[str, Any]]:
        """Orders with a change in [start, end), oldest first, page after page until a short
        page. An order moved from one page to a later one while paging is yielded once per
        version; the same version twice is yielded once. Offset paging can also skip an order
        when an earlier one changes mid-way (it leaves the window and the rest shift up): the
        caller's overlapping windows and webhooks cover that."""
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise ValueError(f"size must be between 1 and {MAX_PAGE_SIZE}")
        query = {
            "from": _wire_time(start),
            "to": _wire_time(end),
            "size": str(size),
            "sortOrder": "ASC",
        }
        seen: set[tuple[str, str]] = set()
        page = 1
        while True:
            body = await self._get(
                f"{self._merchant_path()}/order/orders", {**query, "page": str(page)}
            )
            orders = _items(body)
            for order in orders:
                version = (str(order.get("id")), str(order.get("updatedAt")))
                if version not in seen:
                    seen.add(version)
                    yield order
            if len(orders) < size:
                return
            page += 1

    def _merchant_path(self) -> str:
        return f"/merchants/{_segment(self.merchant_id)}"

    async def _get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        """The ``success`` part of a GET's envelope, after waits and retries."""
        url = f"{self.base_url}{API_PREFIX}{path}"
        failures = 0
        limited = 0
        while True:
            try:
                async with self._session.get(
                    url, headers=self._headers, params=params, timeout=self._timeout
                ) as response:
                    _LOGGER.debug(
                        "Toss Place GET %s: HTTP %s (event %s)",
                        path,
                        response.status,
                        response.headers.get(HEADER_EVENT_ID, "-"),
                    )
                    status = response.status
                    headers = response.headers
                    raw = await response.read()
            except (aiohttp.ClientError, TimeoutError) as err:
                reason = type(err).__name__ if isinstance(err, TimeoutError) else str(err)
                failure = TossPlaceConnectionError(
                    "timeout" if isinstance(err, TimeoutError) else "network", reason
                )
                if failures >= self._retries:
                    raise failure from err
                await self._sleep(self._retry_wait(failures))
                failures += 1
                continue

            if status == 429:
                if limited >= self._retries:
                    raise TossPlaceRateLimitError("429", "rate limited")
                limited += 1
                await self._sleep(self._rate_limit_wait(headers))
                continue
            code, reason, success = _read_envelope(status, raw)
            if status >= 500:
                if failures >= self._retries:
                    raise TossPlaceConnectionError(code, reason)
                await self._sleep(self._retry_wait(failures))
                failures += 1
                continue
            if status in (401, 403) or code == "4010":
                raise TossPlaceAuthError(code, reason)
            if success is _NO_SUCCESS:
                if status < 300 and code == "":
                    raise TossPlaceFormatError("resultType")
                raise TossPlaceError(code or str(status), reason)
            return success

    def _retry_wait(self, failures: int) -> float:
        return float(min(self._backoff * 2**failures, self._max_wait))

    def _rate_limit_wait(self, headers: Mapping[str, str]) -> float:
        """Seconds until the bucket has a token again (``x-ratelimit-reset``, epoch ms)."""
        reset = headers.get(HEADER_RATELIMIT_RESET, "")
        wait: float
        try:
            wait = int(reset.strip()) / 1000 - self._clock()
        except ValueError:
            try:
                wait = float(headers.get("Retry-After", ""))
            except ValueError:
                wait = self._backoff
        if math.isnan(wait):
            wait = self._backoff
        return min(max(wait, 0.0), self._max_wait)


_NO_SUCCESS: Final = object()
# a numeric id longer than this is not an id (and too long for str() by default)
_LONGEST_ID: Final = 10**40


def _read_envelope(status: int, raw: bytes) -> tuple[str, str, Any]:
    """(error code, reason, success payload or ``_NO_SUCCESS``) of a response body."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        return (str(status) if status >= 300 else "", f"HTTP {status}", _NO_SUCCESS)
    if not isinstance(body, Mapping):
        return (str(status) if status >= 300 else "", f"HTTP {status}", _NO_SUCCESS)
    if body.get("resultType") == "SUCCESS" and status < 300:
        return ("", "", body.get("success"))
    error = body.get("error")
    if isinstance(error, Mapping):
        code = error.get("errorCode")
        reason = error.get("reason")
        return (
            str(code) if isinstance(code, str | int) else str(status),
            reason if isinstance(reason, str) else f"HTTP {status}",
            _NO_SUCCESS,
        )
    return (str(status) if status >= 300 else "", f"HTTP {status}", _NO_SUCCESS)


def _segment(value: str) -> str:
    return quote(str(value), safe="")


def _wire_time(value: datetime) -> str:
    """The vendor's own time form: UTC with milliseconds and ``Z``."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=KOREA)
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _mapping(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise TossPlaceFormatError(path)
    return dict(value)


def _items(success: Any) -> list[dict[str, Any]]:
    """The objects of a list response: a bare list, or a page object holding one."""
    if isinstance(success, Mapping):
        for key in ("content", "items", "orders", "payments", "list", "data"):
            if isinstance(success.get(key), list):
                success = success[key]
                break
        else:
            raise TossPlaceFormatError("success")
    if not isinstance(success, list):
        raise TossPlaceFormatError("success")
    return [_mapping(item, f"success[{index}]") for index, item in enumerate(success)]


# --- webhooks -------------------------------------------------------------------------------


def sign(secret: str, timestamp: int | str, body: bytes | str) -> str:
    """The ``x-toss-signature`` of a delivery: ``v1=`` hex HMAC-SHA256 of ``timestamp.body``."""
    raw = body.encode() if isinstance(body, str) else body
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256)
    return f"{SIGNATURE_VERSION}={digest.hexdigest()}"


def verify_signature(
    secret: str | Sequence[str],
    timestamp: str | int | None,
    body: bytes | str,
    header: str | None,
    *,
    now_ms: int,
    tolerance_ms: int = SIGNATURE_TOLERANCE_MS,
) -> bool:
    """Whether a delivery is the vendor's: a fresh timestamp (within ``tolerance_ms`` of
    ``now_ms``, either way) and, among the space-separated signatures of the header (several
    while the vendor rotates its secret), one made with ``secret`` (or one of several)."""
    secrets = [secret] if isinstance(secret, str) else list(secret)
    if not header or not secrets or timestamp is None:
        return False
    stamp = str(timestamp).strip()
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 20:
        return False
    if abs(now_ms - int(stamp)) > tolerance_ms:
        return False
    given = [part.encode() for part in header.split() if part.startswith(f"{SIGNATURE_VERSION}=")]
    matched = False
    for key in secrets:
        if not key:
            continue
        expected = sign(key, stamp, body).encode()
        for candidate in given:
            # no early exit: the time taken does not tell which candidate matched
            matched |= hmac.compare_digest(expected, candidate)
    return matched


@dataclass(frozen=True)
class TossWebhook:
    """One webhook delivery's envelope: ``{id, type, createdAt, merchantId, app, data}``."""

    id: str
    type: str
    created_at: datetime | None
    merchant_id: str | None
    data: dict[str, Any] = field(default_factory=dict)
    app: str | None = None

    @property
    def is_order_event(self) -> bool:
        """An ``order.order.*`` event we know."""
        return self.type in ORDER_EVENTS

    @property
    def is_payment_event(self) -> bool:
        """A ``payment.payment.*`` event we know."""
        return self.type in PAYMENT_EVENTS

    @property
    def order(self) -> dict[str, Any] | None:
        """The full order the event carries (``order.order.created.v1``), if any."""
        order = self.data.get("order")
        return dict(order) if isinstance(order, Mapping) else None

    @property
    def payment(self) -> dict[str, Any] | None:
        """The payment a payment event carries, if any."""
        payment = self.data.get("payment")
        return dict(payment) if isinstance(payment, Mapping) else None


def parse_webhook(body: bytes | str) -> TossWebhook:
    """Read a delivery's body; ``TossPlaceFormatError`` when it is not a Toss Place event."""
    try:
        event = json.loads(body)
    except (ValueError, RecursionError):
        # ValueError covers bad UTF-8 and numbers too long to read; RecursionError, nesting
        raise TossPlaceFormatError("body") from None
    if not isinstance(event, Mapping):
        raise TossPlaceFormatError("body")
    event_id = _text(event.get("id"), "id", required=True)
    event_type = _text(event.get("type"), "type", required=True)
    data = event.get("data")
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise TossPlaceFormatError("data")
    app = event.get("app")
    return TossWebhook(
        id=str(event_id),
        type=str(event_type),
        created_at=_time(event.get("createdAt"), "createdAt"),
        merchant_id=_soft_text(event.get("merchantId")),
        data=dict(data),
        app=app if isinstance(app, str) else None,
    )


def order_ref_of(event: TossWebhook) -> str | None:
    """The id of the order an event is about: ``data.orderId`` (thin order events),
    ``data.order.id`` (full ones) or ``data.payment.orderId`` (payment events)."""
    data = event.data
    if "orderId" in data:
        return _text(data["orderId"], "data.orderId")
    if (order := event.order) is not None and "id" in order:
        return _text(order["id"], "data.order.id")
    if (payment := event.payment) is not None and "orderId" in payment:
        return _text(payment["orderId"], "data.payment.orderId")
    return None


# --- mapping into actions -------------------------------------------------------------------


def order_params(order: Mapping[str, Any], source: str = CONNECTOR) -> dict[str, Any]:
    """The ``sync_order`` parameters of one vendor order (a full Order object)."""
    if not isinstance(order, Mapping):
        raise TossPlaceFormatError("order")
    params: dict[str, Any] = {
        "source": source,
        "external_id": _text(order.get("id"), "id", required=True),
        "state": _order_state(order),
    }
    if number := _soft_text(order.get("orderNumber")):
        params["number"] = number
    placed_at = _time(order.get("createdAt"), "createdAt") or _time(
        order.get("openedAt"), "openedAt"
    )
    if placed_at is None:
        raise TossPlaceFormatError("createdAt")
    params["placed_at"] = to_iso(placed_at)
    for key, param in (
        ("completedAt", "completed_at"),
        ("cancelledAt", "cancelled_at"),
        ("updatedAt", "vendor_updated_at"),
    ):
        if (value := _time(order.get(key), key)) is not None:
            params[param] = to_iso(value)

    lines, channels = _order_lines(order.get("lineItems"))
    channel = _enum(order.get("diningOption"), CHANNELS) or next(
        (c for c in channels if c is not None), None
    )
    if channel is not None:
        params["channel"] = channel

    charge = order.get("chargePrice")
    if charge is None:
        charge = {}
    if not isinstance(charge, Mapping):
        raise TossPlaceFormatError("chargePrice")
    total = _money(charge.get("totalAmount"), "chargePrice.totalAmount")
    if total is None:
        total = sum(line["qty"] * line["unit_price"] for line in lines)
    if total < 0:
        raise TossPlaceFormatError("chargePrice.totalAmount")
    params["total"] = total
    discount = _money(charge.get("discountAmount"), "chargePrice.discountAmount")
    if discount:
        params["discount"] = abs(discount)
    for key, param in (("taxAmount", "tax"), ("supplyAmount", "supply"), ("tipAmount", "tip")):
        amount = _money(charge.get(key), f"chargePrice.{key}")
        if amount is not None:
            if amount < 0:
                raise TossPlaceFormatError(f"chargePrice.{key}")
            params[param] = amount
    params["lines"] = lines
    return params


def payment_params(payment: Mapping[str, Any], source: str = CONNECTOR) -> dict[str, Any]:
    """The ``sync_payment`` parameters of one vendor payment."""
    if not isinstance(payment, Mapping):
        raise TossPlaceFormatError("payment")
    state = _text(payment.get("state"), "state", required=True)
    status = PAYMENT_STATES.get(str(state).upper(), "pending")
    amount = _money(payment.get("amount"), "amount")
    if amount is None or amount < 0:
        raise TossPlaceFormatError("amount")
    params: dict[str, Any] = {
        "source": source,
        "external_id": _text(payment.get("id"), "id", required=True),
        "method": _enum(payment.get("sourceType"), PAYMENT_METHODS) or "other",
        "status": status,
        "amount": amount,
    }
    if order_ref := _text(payment.get("orderId"), "orderId"):
        params["order_ref"] = order_ref
    cancelled = _money(payment.get("cancelledAmount"), "cancelledAmount")
    if cancelled is None and status == "cancelled":
        cancelled = amount
    if cancelled is not None:
        if cancelled < 0:
            raise TossPlaceFormatError("cancelledAmount")
        params["cancelled_amount"] = cancelled
    if approval_no := _soft_text(payment.get("approvedNo")):
        params["approval_no"] = approval_no
    if van := _soft_text(payment.get("van")):
        params["van"] = van
    for key, param in (("approvedAt", "approved_at"), ("cancelledAt", "cancelled_at")):
        if (value := _time(payment.get(key), key)) is not None:
            params[param] = to_iso(value)
    if card := _card(payment.get("cardDetails")):
        params["card"] = card
    return params


def order_key(order: Mapping[str, Any]) -> str:
    """The idempotency key of one version of an order: id, vendor state and update time."""
    if not isinstance(order, Mapping):
        raise TossPlaceFormatError("order")
    order_id = _text(order.get("id"), "id", required=True)
    state = _text(order.get("orderState"), "orderState", required=True)
    updated = _time(order.get("updatedAt"), "updatedAt")
    stamp = to_iso(updated) if updated is not None else ""
    return f"{CONNECTOR}:order:{order_id}:{state}:{stamp}"


def payment_key(payment: Mapping[str, Any]) -> str:
    """The idempotency key of one state of a payment: ``toss_place:payment:{id}:{state}``.

    A partly cancelled payment can be cancelled in part again (same state, more cancelled):
    its key ends with the amount cancelled so far, so each step is its own version.
    """
    if not isinstance(payment, Mapping):
        raise TossPlaceFormatError("payment")
    payment_id = _text(payment.get("id"), "id", required=True)
    state = _text(payment.get("state"), "state", required=True)
    key = f"{CONNECTOR}:payment:{payment_id}:{state}"
    if PAYMENT_STATES.get(str(state).upper()) == "partial_cancelled":
        cancelled = _money(payment.get("cancelledAmount"), "cancelledAmount")
        key = f"{key}:{cancelled or 0}"
    return key


def parse_time(value: Any, path: str = "time") -> datetime | None:
    """A vendor time as an aware datetime: ``Z``, ``+0900``/``+09:00``, or no offset (Korea
    time); epoch milliseconds are accepted too. ``None``/empty → ``None``."""
    return _time(value, path)


def _order_state(order: Mapping[str, Any]) -> str:
    state = _text(order.get("orderState"), "orderState", required=True)
    # a state we do not know yet is treated as still open: sync_order never moves back
    return ORDER_STATES.get(str(state).upper(), "open")


def _order_lines(raw: Any) -> tuple[list[dict[str, Any]], list[str | None]]:
    if raw is None:
        return [], []
    if not isinstance(raw, list):
        raise TossPlaceFormatError("lineItems")
    lines: list[dict[str, Any]] = []
    channels: list[str | None] = []
    for index, item in enumerate(raw):
        path = f"lineItems[{index}]"
        if not isinstance(item, Mapping):
            raise TossPlaceFormatError(path)
        qty = _money(item.get("quantity"), f"{path}.quantity")
        if qty is None:
            qty = 1
        if qty <= 0:
            # a line taken off the bill (quantity 0) sells nothing
            continue
        product = item.get("item")
        if product is None:
            product = {}
        if not isinstance(product, Mapping):
            raise TossPlaceFormatError(f"{path}.item")
        code = _soft_text(product.get("code"))
        title = _soft_text(product.get("title")) or _soft_text(item.get("title")) or code
        if title is None:
            raise TossPlaceFormatError(f"{path}.item.title")
        line: dict[str, Any] = {"title": title, "qty": qty}
        if code:
            line["code"] = code
        category = product.get("category")
        if isinstance(category, Mapping):
            category = category.get("title")
        if category_title := _soft_text(category):
            line["category"] = category_title
        price = item.get("itemPrice")
        if price is None:
            price = {}
        if not isinstance(price, Mapping):
            raise TossPlaceFormatError(f"{path}.itemPrice")
        unit_price = _money(price.get("priceValue"), f"{path}.itemPrice.priceValue") or 0
        options = []
        choices = item.get("optionChoices")
        if choices is None:
            choices = []
        if not isinstance(choices, list):
            raise TossPlaceFormatError(f"{path}.optionChoices")
        for number, choice in enumerate(choices):
            choice_path = f"{path}.optionChoices[{number}]"
            if not isinstance(choice, Mapping):
                raise TossPlaceFormatError(choice_path)
            choice_price = _money(choice.get("priceValue"), f"{choice_path}.priceValue") or 0
            choice_qty = _money(choice.get("quantity"), f"{choice_path}.quantity")
            choice_qty = 1 if choice_qty is None else choice_qty
            if choice_qty < 0:
                raise TossPlaceFormatError(f"{choice_path}.quantity")
            unit_price += choice_price * choice_qty
            option: dict[str, Any] = {"price": choice_price, "qty": choice_qty}
            if choice_title := _soft_text(choice.get("title")):
                option["title"] = choice_title
            if choice_code := _soft_text(choice.get("code")):
                option["code"] = choice_code
            options.append(option)
        if unit_price < 0:
            raise TossPlaceFormatError(f"{path}.itemPrice.priceValue")
        line["unit_price"] = unit_price
        line["options"] = options
        lines.append(line)
        channels.append(_enum(item.get("diningOption"), CHANNELS))
    return lines, channels


def _card(details: Any) -> dict[str, Any] | None:
    if not isinstance(details, Mapping):
        return None
    card: dict[str, Any] = {}
    if issuer := _loose_text(details.get("cardBrand")):
        card["issuer"] = issuer
    if acquirer := _loose_text(details.get("acquirer")):
        card["acquirer"] = acquirer
    if number := _loose_text(details.get("cardNo")):
        card["number"] = mask_card_number(number)
    months = details.get("installmentMonth")
    if isinstance(months, int) and not isinstance(months, bool) and months >= 0:
        card["installment_months"] = months
    elif isinstance(months, str) and months.strip().isascii() and months.strip().isdigit():
        card["installment_months"] = int(months.strip())
    if kind := _loose_text(details.get("cardType")):
        card["kind"] = kind.lower()
    return card or None


def _enum(value: Any, mapping: Mapping[str, str]) -> str | None:
    """A vendor enum mapped; anything unknown (or not text) is ``None``."""
    if not isinstance(value, str):
        return None
    return mapping.get(value.strip().upper())


def _loose_text(value: Any) -> str | None:
    """Text for an informative field: anything else is dropped rather than refused."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _soft_text(value: Any) -> str | None:
    """Text or a whole number for a descriptive field (a number, a code, a name): anything
    else is dropped rather than refusing the whole order over it."""
    try:
        return _text(value, "")
    except TossPlaceFormatError:
        return None


def _text(value: Any, path: str, *, required: bool = False) -> str | None:
    """Text or a whole number (ids arrive as either) as stripped text; empty → ``None``."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise TossPlaceFormatError(path)
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise TossPlaceFormatError(path)
    if isinstance(value, int) and abs(value) >= _LONGEST_ID:
        raise TossPlaceFormatError(path)
    return str(value).strip()


def _money(value: Any, path: str) -> int | None:
    """Whole won: an integer, an integral float or a string of digits; ``None`` if absent."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise TossPlaceFormatError(path)
    amount: int | None = None
    if isinstance(value, int):
        amount = value
    elif isinstance(value, float) and value.is_integer():
        amount = int(value)
    elif isinstance(value, str):
        text = value.strip().replace(",", "")
        digits = text[1:] if text[:1] in "+-" else text
        if digits.isascii() and digits.isdigit() and len(digits) <= 18:
            amount = int(text)
    # beyond what the store's fields take: the delivery can never be recorded
    if amount is None or abs(amount) > MAX_MAGNITUDE:
        raise TossPlaceFormatError(path)
    return amount


def _time(value: Any, path: str) -> datetime | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise TossPlaceFormatError(path)
    if isinstance(value, int):
        # epoch milliseconds
        try:
            return datetime.fromtimestamp(value / 1000, UTC)
        except (OverflowError, OSError, ValueError):
            raise TossPlaceFormatError(path) from None
    if not isinstance(value, str):
        raise TossPlaceFormatError(path)
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise TossPlaceFormatError(path) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=KOREA)
    try:
        # out of range once in UTC (year 1 or 9999 with an offset)
        parsed.astimezone(UTC)
    except OverflowError:
        raise TossPlaceFormatError(path) from None
    return parsed
