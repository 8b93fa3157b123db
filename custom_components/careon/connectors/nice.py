"""NICE Payments in Home Assistant: the payment webhook and fetching a payment on demand."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from aiohttp import web
from homeassistant.core import HomeAssistant

from ..const import LOGGER
from ..core import CareOnError, ValidationError
from ..core.connectors import nice
from .base import Connector, ConnectorFailure
from .const import (
    ACTOR_NICE_PAYMENTS,
    CLIENT_RETRIES,
    CONF_CLIENT_KEY,
    CONF_MODE,
    CONF_SECRET_KEY,
    CONNECTOR_NICE_PAYMENTS,
    SOURCE_PAYMENT,
)

# NICE logs a delivery as failed unless the body is exactly this
_ACCEPTED = "OK"


class NiceConnector(Connector):
    """One store's NICE Payments merchant: its webhook, and payments looked up by hand."""

    connector = CONNECTOR_NICE_PAYMENTS
    actor = ACTOR_NICE_PAYMENTS

    def _setup_client(self) -> None:
        data = self.subentry.data
        self.mode: str = data[CONF_MODE]
        self._secret_key: str = data[CONF_SECRET_KEY]
        self.client = nice.NiceClient(
            self.session,
            client_key=data[CONF_CLIENT_KEY],
            secret_key=self._secret_key,
            mode=self.mode,
            # read here, not bound at import: tests point it at a local server
            base_url=nice.NICE_HOSTS[self.mode],
            retries=CLIENT_RETRIES,
        )

    async def async_handle_webhook(
        self, hass: HomeAssistant, webhook_id: str, request: web.Request
    ) -> web.Response:
        """A payment changed: check NICE's signature, confirm it, record it, answer "OK"."""
        self.stats["webhooks"] += 1
        try:
            body = await self.async_read_body(request)
        except ConnectorFailure as err:
            return self._refuse(err.status, err.reason)
        try:
            payment = nice.parse_webhook(body, request.headers.get("Content-Type"))
        except nice.NiceFormatError as err:
            return self._refuse(HTTPStatus.BAD_REQUEST, f"unreadable body ({err.field})")
        if not nice.verify_webhook(payment, self._secret_key):
            return self._refuse(HTTPStatus.UNAUTHORIZED, "bad signature")
        try:
            params, key = _sync_params(await self._async_confirm(str(payment["tid"])))
            await self.async_sync("sync_payment", params, key, source=SOURCE_PAYMENT)
        except nice.NiceFormatError as err:
            return self._refuse(HTTPStatus.BAD_REQUEST, f"unreadable payment ({err.field})")
        except ConnectorFailure as err:
            return self._refuse(err.status, err.reason)
        except Exception:
            # never answered 200 (Home Assistant's default): NICE delivers it again
            LOGGER.exception("Unexpected error handling a NICE Payments webhook")
            return self._refuse(HTTPStatus.INTERNAL_SERVER_ERROR, "unexpected error")
        self.stats["payments"] += 1
        return web.Response(text=_ACCEPTED, content_type="text/html")

    async def _async_confirm(self, tid: str) -> Mapping[str, Any]:
        """NICE's own copy of the payment a webhook announces.

        The webhook's signature covers only ``tid + amount + ediDate``, run together: digits
        moved between tid and amount keep it valid, and the status, order and cancels are not
        signed at all. Nothing of the webhook but its tid is believed; what is recorded is
        what NICE answers for that tid. A tid NICE does not know is refused for good (400);
        NICE unreachable or refusing the keys is answered 503, so that NICE delivers again.
        """
        if not nice.is_tid(tid):
            raise ConnectorFailure(HTTPStatus.BAD_REQUEST, "not a NICE transaction id")
        try:
            confirmed = await self.client.payment(tid)
        except nice.NiceNotFound as err:
            raise ConnectorFailure(HTTPStatus.BAD_REQUEST, "unknown to NICE") from err
        except nice.NiceAuthError as err:
            self.async_auth_failed()
            raise ConnectorFailure(
                HTTPStatus.SERVICE_UNAVAILABLE, "NICE refused the keys; not confirmed"
            ) from err
        except nice.NiceFormatError as err:
            raise ConnectorFailure(
                HTTPStatus.SERVICE_UNAVAILABLE, f"NICE answered no payment ({err.field})"
            ) from err
        except nice.NiceError as err:
            raise ConnectorFailure(
                HTTPStatus.SERVICE_UNAVAILABLE, f"NICE could not confirm the payment ({err.code})"
            ) from err
        if confirmed.get("tid") != tid:
            raise ConnectorFailure(
                HTTPStatus.SERVICE_UNAVAILABLE, "NICE answered for another transaction"
            )
        return confirmed

    async def async_fetch_payment(
        self,
        tid: str | None = None,
        order_id: str | None = None,
        order_date: str | None = None,
    ) -> dict[str, Any]:
        """Look a payment up at NICE (by tid, or by order id and date), record it, and
        return what ``sync_payment`` did with ``payment``: the canonical payment recorded.

        Raises ``CareOnError`` ``vendor_auth_failed`` (a reauth flow starts) or
        ``vendor_request_failed``; the store's own errors as they come.
        """
        try:
            if tid:
                payment = await self.client.payment(tid)
            elif order_id and order_date:
                payment = await self.client.find_by_order_id(order_id, order_date)
            else:
                raise ValidationError("missing_field", field="tid")
            params, key = _sync_params(payment)
        except nice.NiceAuthError as err:
            self.async_auth_failed()
            raise CareOnError("vendor_auth_failed", connector=self.connector) from err
        except ValueError as err:
            # an order date that is not YYYYMMDD
            raise ValidationError("invalid_type", field="order_date", expected="YYYYMMDD") from err
        except nice.NiceError as err:
            raise CareOnError(
                "vendor_request_failed", connector=self.connector, error=str(err)
            ) from err
        result = await self.async_execute("sync_payment", params, key, source=SOURCE_PAYMENT)
        self.stats["payments"] += 1
        return {**result.result, "replayed": result.replayed, "payment": params}

    def diagnostics(self) -> dict[str, Any]:
        """What the connector did (no keys)."""
        return {**super().diagnostics(), "mode": self.mode}


def _sync_params(payment: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """``sync_payment``'s parameters and idempotency key; a cancel refunds its order."""
    params = nice.payment_params(payment)
    params["refund_order"] = True
    return params, nice.payment_key(payment)
