"""NICE Payments (online PG): REST client, webhook checks and the mapping into ``sync_payment``.

The vendor's wire format (CONNECTORS.md §2, nicepay-manual): Basic auth with the merchant's
client key and secret key; ``GET /v1/payments/{tid}``, ``GET /v1/payments/find/{orderId}?
orderDate=YYYYMMDD``, ``POST /v1/access-token``. A payment object carries ``resultCode``
("0000" success), ``tid``, ``orderId``, ``ediDate``, ``signature`` = hex(sha256(tid + amount +
ediDate + secretKey)), ``status`` paid|ready|failed|cancelled|partialCancelled|expired, times
as ISO 8601 with ``+0900`` or the string ``"0"``, ``amount``/``balanceAmt`` integers (strings in
form-encoded webhooks), ``approveNo`` and ``card{cardCode, cardName, cardNum (masked),
cardQuota, cardType, acquCardCode, acquCardName}``.

The webhook is a POST of the payment object; the receiver answers 200 with the body ``OK``.
Nothing here logs keys or bodies: at most a method, a path and a status at debug level.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable, Mapping
from datetime import date, datetime, tzinfo
import hashlib
import hmac
import json
import logging
from typing import Any, Final
from urllib.parse import parse_qsl, quote
from zoneinfo import ZoneInfo

import aiohttp
from yarl import URL

from ..fields import MAX_MAGNITUDE, to_iso
from ..privacy import mask_card_number

_LOGGER = logging.getLogger(__name__)

CONNECTOR: Final = "nice_payments"
NICE_HOSTS: dict[str, str] = {
    "production": "https://api.nicepay.co.kr",
    "sandbox": "https://sandbox-api.nicepay.co.kr",
}
# The vendor's advice: 5 s to connect, 30 s to read.
DEFAULT_TIMEOUT: Final = aiohttp.ClientTimeout(total=35, connect=5, sock_read=30)
KOREA: Final = ZoneInfo("Asia/Seoul")

SUCCESS: Final = "0000"
# U101 base64, U102 no credentials, U103 wrong scheme, U104 authentication failed,
# U304 Basic authentication failed, U305 Bearer authentication failed
AUTH_CODES: Final = frozenset({"U101", "U102", "U103", "U104", "U304", "U305"})
# A118 no data, A251/U107 no such transaction, U111 nothing found, U126 no such orderId
NOT_FOUND_CODES: Final = frozenset({"A118", "A251", "U107", "U111", "U126"})

# status -> sync_payment status
STATUSES: Final[Mapping[str, str]] = {
    "paid": "approved",
    "cancelled": "cancelled",
    "partialCancelled": "partial_cancelled",
    "failed": "failed",
    "expired": "failed",
    "ready": "pending",
}
# payMethod (case-insensitive) -> sync_payment method; anything else is "other"
_METHODS: Final[Mapping[str, str]] = {
    "card": "card",
    "bank": "transfer",
    "vbank": "transfer",
    "cellphone": "other",
}
_EASY_PAY_PREFIXES: Final = (
    "naverpay",
    "kakaopay",
    "samsungpay",
    "payco",
    "ssgpay",
    "tosspay",
    "applepay",
    "lpay",
    "skpay",
    "cardandeasypay",
)
# NICE card codes (issuer and acquirer) -> the names used across CareOn
CARD_CODES: Final[Mapping[str, str]] = {
    "01": "BC",
    "02": "KB국민",
    "03": "하나",
    "04": "삼성",
    "06": "신한",
    "07": "현대",
    "08": "롯데",
    "11": "씨티",
    "12": "NH",
    "15": "우리",
    "16": "하나",
    "25": "VISA",
    "26": "MASTER",
    "28": "AMEX",
    "29": "JCB",
}
CARD_KINDS: Final = frozenset({"credit", "check", "prepaid", "foreign"})
_NO_TIME: Final = frozenset({"", "0", "null", "none"})


class NiceError(Exception):
    """NICE answered with a failure: its result code and message."""

    def __init__(self, code: str, msg: str) -> None:
        """Keep the vendor's code and message (never a key or a body)."""
        self.code = code
        self.msg = msg
        super().__init__(f"{code}: {msg}" if msg else code)


class NiceAuthError(NiceError):
    """The client key / secret key pair was refused (HTTP 401 or an authentication code)."""


class NiceNotFound(NiceError):
    """No payment for that tid or orderId (A118)."""


class NiceConnectionError(NiceError):
    """NICE could not be reached: network error, timeout, or 5xx after the retries."""

    def __init__(self, msg: str) -> None:
        """A connection failure has no vendor code."""
        super().__init__("connection", msg)


class NiceFormatError(NiceError):
    """A body or a field of a payment could not be read."""

    def __init__(self, field: str) -> None:
        """Name the field that was missing or malformed."""
        self.field = field
        super().__init__("format", f"unreadable field {field}")


# --- REST client ------------------------------------------------------------------------


class NiceClient:
    """The merchant's NICE Payments API, through Home Assistant's shared aiohttp session."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        client_key: str,
        secret_key: str,
        mode: str = "sandbox",
        base_url: str | None = None,
        timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
        retries: int = 2,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        """``mode`` picks the host from ``NICE_HOSTS`` unless ``base_url`` is given."""
        if base_url is None:
            if mode not in NICE_HOSTS:
                raise ValueError(f"mode must be one of {', '.join(NICE_HOSTS)}")
            base_url = NICE_HOSTS[mode]
        self._session = session
        self._base = base_url.rstrip("/")
        token = base64.b64encode(f"{client_key}:{secret_key}".encode()).decode("ascii")
        self._headers = {
            "Authorization": f"Basic {token}",
            "Content-Type": "application/json;charset=utf-8",
        }
        self._timeout = timeout
        self._retries = max(0, retries)
        self._sleep = sleep

    async def payment(self, tid: str) -> dict[str, Any]:
        """The payment with this transaction id (raises NiceNotFound when there is none)."""
        body = await self._request("GET", f"/v1/payments/{quote(tid, safe='')}")
        return _payment_of(body)

    async def find_by_order_id(self, order_id: str, order_date: date | str) -> dict[str, Any]:
        """The payment of the merchant's order ``order_id`` placed on ``order_date``."""
        if isinstance(order_date, date):
            day = order_date.strftime("%Y%m%d")
        else:
            day = order_date.strip().replace("-", "")
            if len(day) != 8 or not day.isdigit():
                raise ValueError("order_date must be a date or YYYYMMDD")
        body = await self._request(
            "GET", f"/v1/payments/find/{quote(order_id, safe='')}", params={"orderDate": day}
        )
        return _payment_of(body)

    async def check_credentials(self) -> None:
        """Ask for an access token: succeeds only with a valid key pair.

        Raises NiceAuthError for refused keys, NiceConnectionError when unreachable.
        """
        body = await self._request("POST", "/v1/access-token")
        if body.get("resultCode") != SUCCESS:
            raise NiceError(str(body.get("resultCode", "")), str(body.get("resultMsg", "")))

    async def _request(
        self, method: str, path: str, params: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        url = URL(self._base + path, encoded=True)
        attempt = 0
        while True:
            try:
                async with self._session.request(
                    method, url, params=params, headers=self._headers, timeout=self._timeout
                ) as response:
                    status = response.status
                    raw = await response.read()
            except TimeoutError as err:
                # a slow server is not retried: the caller (a webhook) is waiting
                raise NiceConnectionError("timed out") from err
            except aiohttp.ClientError as err:
                if attempt < self._retries:
                    attempt += 1
                    await self._sleep(0.5 * 2 ** (attempt - 1))
                    continue
                raise NiceConnectionError(type(err).__name__) from err
            # the path without its last segment: no tid or order id in the log
            _LOGGER.debug("NICE %s %s/… -> HTTP %s", method, path.rsplit("/", 1)[0], status)
            if status >= 500:
                if attempt < self._retries:
                    attempt += 1
                    await self._sleep(0.5 * 2 ** (attempt - 1))
                    continue
                raise NiceConnectionError(f"HTTP {status}")
            return _checked(status, raw)


def _checked(status: int, raw: bytes) -> dict[str, Any]:
    """The JSON body of an answer, or the error it carries."""
    try:
        body = json.loads(_decode(raw))
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        if status == 401:
            raise NiceAuthError(str(status), "unauthorized")
        if status >= 400:
            raise NiceError(str(status), "request refused")
        raise NiceFormatError("body")
    code = str(body.get("resultCode") or "")
    msg = str(body.get("resultMsg") or "")
    if status == 401 or code in AUTH_CODES:
        raise NiceAuthError(code or str(status), msg)
    if code in NOT_FOUND_CODES or status == 404:
        raise NiceNotFound(code or str(status), msg)
    if status >= 400:
        raise NiceError(code or str(status), msg)
    return body


def _payment_of(body: dict[str, Any]) -> dict[str, Any]:
    """A payment object; a failed payment is still a payment (status failed, its own code)."""
    is_payment = isinstance(body.get("tid"), str) and isinstance(body.get("status"), str)
    if body.get("resultCode") != SUCCESS and not is_payment:
        raise NiceError(str(body.get("resultCode", "")), str(body.get("resultMsg", "")))
    if not is_payment:
        raise NiceFormatError("tid" if not isinstance(body.get("tid"), str) else "status")
    return body


def _decode(raw: bytes, charset: str | None = None) -> str:
    for encoding in (charset or "utf-8", "utf-8", "cp949"):
        try:
            return raw.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
    raise UnicodeDecodeError("utf-8", raw, 0, len(raw), "not UTF-8 or CP949")


# --- signatures and webhooks ------------------------------------------------------------


def signature(tid: str, amount: int | str, edi_date: str, secret: str) -> str:
    """hex(sha256(tid + amount + ediDate + secretKey)): NICE's tamper check."""
    return hashlib.sha256(f"{tid}{amount}{edi_date}{secret}".encode()).hexdigest()


# A tid: the merchant's 10-character MID, then 20 more letters and digits (30 in all)
TID_LENGTH: Final = 30


def is_tid(value: str) -> bool:
    """Whether ``value`` has the shape of a NICE transaction id."""
    return len(value) == TID_LENGTH and value.isascii() and value.isalnum()


def verify_webhook(payment: Mapping[str, Any], secret: str) -> bool:
    """True when the payment's ``signature`` was made with the merchant's secret key."""
    tid, amount, edi, given = (
        payment.get("tid"),
        payment.get("amount"),
        payment.get("ediDate"),
        payment.get("signature"),
    )
    if not (isinstance(tid, str) and isinstance(edi, str) and isinstance(given, str)):
        return False
    if isinstance(amount, bool) or not isinstance(amount, int | str):
        return False
    expected = signature(tid, amount, edi, secret)
    return hmac.compare_digest(expected.encode(), given.strip().lower().encode("utf-8"))


def parse_webhook(body: bytes, content_type: str | None) -> dict[str, Any]:
    """The payment object a webhook carries, sent as JSON or form-encoded.

    Form fields named ``card[cardCode]`` or ``card.cardCode`` become nested mappings.
    Raises NiceFormatError when the body is not a payment.
    """
    media, _, rest = (content_type or "").partition(";")
    media = media.strip().lower()
    charset = None
    for part in rest.split(";"):
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip('"').lower()
    try:
        text = _decode(body, charset)
    except UnicodeDecodeError:
        raise NiceFormatError("body") from None
    payment: Any
    if media == "application/x-www-form-urlencoded" or (
        "json" not in media and not text.lstrip().startswith("{")
    ):
        payment = _form(text, charset)
    else:
        try:
            payment = json.loads(text)
        except ValueError:
            raise NiceFormatError("body") from None
    if not isinstance(payment, dict):
        raise NiceFormatError("body")
    tid = payment.get("tid")
    if not isinstance(tid, str) or not tid.strip():
        raise NiceFormatError("tid")
    return payment


def _form(text: str, charset: str | None) -> dict[str, Any]:
    pairs: list[tuple[str, str]] | None = None
    for encoding in dict.fromkeys((charset or "utf-8", "utf-8", "cp949")):
        try:
            pairs = parse_qsl(
                text.strip(), keep_blank_values=True, encoding=encoding, errors="strict"
            )
            break
        except (UnicodeDecodeError, LookupError, ValueError):
            continue
    if pairs is None:
        raise NiceFormatError("body")
    out: dict[str, Any] = {}
    for key, value in pairs:
        parent, child = _split_key(key)
        if child is None:
            if key == "card" and value.lstrip().startswith("{"):
                try:
                    parsed = json.loads(value)
                except ValueError:
                    raise NiceFormatError("card") from None
                out[key] = parsed
            else:
                out[key] = value
        else:
            nested = out.setdefault(parent, {})
            if not isinstance(nested, dict):
                raise NiceFormatError(parent)
            nested[child] = value
    return out


def _split_key(key: str) -> tuple[str, str | None]:
    if key.endswith("]") and "[" in key:
        parent, _, child = key[:-1].partition("[")
        return parent, child
    if "." in key:
        parent, _, child = key.partition(".")
        return parent, child
    return key, None


# --- mapping into sync_payment ----------------------------------------------------------


def payment_params(payment: Mapping[str, Any], source: str = CONNECTOR) -> dict[str, Any]:
    """The ``sync_payment`` parameters for a NICE payment object.

    Raises NiceFormatError for a payment it cannot read (no tid, an unknown status, an
    amount that is not a whole number of won, a time that is not ISO 8601).
    """
    if not isinstance(payment, Mapping):
        raise NiceFormatError("payment")
    tid = _text(payment.get("tid"))
    if tid is None:
        raise NiceFormatError("tid")
    raw_status = payment.get("status")
    if not isinstance(raw_status, str) or raw_status.strip() not in STATUSES:
        raise NiceFormatError("status")
    status = STATUSES[raw_status.strip()]
    amount = _money(payment.get("amount"), "amount")
    if amount is None:
        raise NiceFormatError("amount")
    params: dict[str, Any] = {
        "source": source,
        "external_id": tid,
        "method": _method(payment.get("payMethod")),
        "status": status,
        "amount": amount,
    }
    if (order_ref := _text(payment.get("orderId"))) is not None:
        params["order_ref"] = order_ref
    if status in ("approved", "cancelled", "partial_cancelled"):
        balance = _money(payment.get("balanceAmt"), "balanceAmt")
        if balance is not None:
            params["cancelled_amount"] = min(amount, max(0, amount - balance))
        elif status != "approved":
            params["cancelled_amount"] = _cancelled_sum(payment.get("cancels"), amount)
    if (approval_no := _text(payment.get("approveNo"))) is not None:
        params["approval_no"] = approval_no
    if (approved_at := _time(payment.get("paidAt"), "paidAt")) is not None:
        params["approved_at"] = approved_at
    if (cancelled_at := _time(payment.get("cancelledAt"), "cancelledAt")) is not None:
        params["cancelled_at"] = cancelled_at
    card = payment.get("card")
    if isinstance(card, Mapping) and (mapped := _card(card)):
        params["card"] = mapped
    return params


def payment_key(payment: Mapping[str, Any]) -> str:
    """The idempotency key of one version of a payment: tid, status and balance."""
    params = payment_params(payment)
    balance = _money(payment.get("balanceAmt"), "balanceAmt")
    if balance is None:
        balance = params["amount"] - params.get("cancelled_amount", 0)
    return f"{CONNECTOR}:payment:{params['external_id']}:{str(payment['status']).strip()}:{balance}"


def _cancelled_sum(cancels: Any, amount: int) -> int:
    """Sum of the cancels[] amounts; the whole amount when there is no list."""
    if not isinstance(cancels, list) or not cancels:
        return amount
    total = 0
    for cancel in cancels:
        value = _money(cancel.get("amount"), "cancels") if isinstance(cancel, Mapping) else None
        total += value or 0
    return min(total, amount)


def _card(card: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if (issuer := _card_name(card.get("cardCode"), card.get("cardName"))) is not None:
        out["issuer"] = issuer
    if (acquirer := _card_name(card.get("acquCardCode"), card.get("acquCardName"))) is not None:
        out["acquirer"] = acquirer
    if (number := _text(card.get("cardNum"))) is not None:
        out["number"] = mask_card_number(number)
    quota = card.get("cardQuota")
    if not isinstance(quota, bool) and isinstance(quota, int | str):
        text = str(quota).strip()
        if text.isdecimal() and text.isascii():
            out["installment_months"] = int(text)
    kind = card.get("cardType")
    if isinstance(kind, str) and kind.strip().lower() in CARD_KINDS:
        out["kind"] = kind.strip().lower()
    return out


def _card_name(code: Any, name: Any) -> str | None:
    if isinstance(code, int) and not isinstance(code, bool):
        code = str(code)
    if isinstance(code, str) and code.strip().isdecimal() and code.strip().isascii():
        known = CARD_CODES.get(code.strip().zfill(2))
        if known is not None:
            return known
    return _text(name)


def _method(value: Any) -> str:
    if not isinstance(value, str):
        return "other"
    key = value.strip().lower()
    if key in _METHODS:
        return _METHODS[key]
    return "easy_pay" if key.startswith(_EASY_PAY_PREFIXES) else "other"


def _text(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _money(value: Any, field: str) -> int | None:
    """A whole, non-negative number of won; None when absent."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise NiceFormatError(field)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str):
        text = value.strip()
        if not (text.isdecimal() and text.isascii()):
            raise NiceFormatError(field)
        value = int(text)
    if not isinstance(value, int) or value < 0 or value > MAX_MAGNITUDE:
        raise NiceFormatError(field)
    return value


def _time(value: Any, field: str, tz: tzinfo = KOREA) -> str | None:
    """An aware ISO time in UTC; None for NICE's "0" (not applicable)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise NiceFormatError(field)
    text = value.strip()
    if text.lower() in _NO_TIME:
        return None
    try:
        if len(text) == 14 and text.isdecimal():
            moment = datetime.strptime(text, "%Y%m%d%H%M%S")
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise NiceFormatError(field) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    try:
        return to_iso(moment)
    except (OverflowError, ValueError):
        raise NiceFormatError(field) from None
