"""Toss Place in Home Assistant: the POS's webhooks, and polling for what they missed.

Deliveries are verified (HMAC of the timestamp and body with the webhook secret), answered 200
only once the order or payment is committed to the store, and remembered by their
``x-toss-webhook-id`` so a retried one is answered without work. Orders are read again every
ten minutes from a persisted cursor (minus an overlap), since a webhook sent while Home
Assistant was down is lost for good; versions already recorded are skipped.
"""

from __future__ import annotations

import asyncio
from collections import Counter, OrderedDict
from collections.abc import Mapping, Sequence
import contextlib
from datetime import datetime
from http import HTTPStatus
import time
from typing import Any

from aiohttp import web
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.helpers.start import async_at_started
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from ..const import DOMAIN, LOGGER
from ..core import CareOnError
from ..core.connectors import toss_place as toss
from .base import Connector, ConnectorFailure
from .const import (
    ACTOR_TOSS_PLACE,
    BACKFILL_FIRST_WINDOW,
    BACKFILL_INTERVAL,
    BACKFILL_OVERLAP,
    CLIENT_BACKOFF,
    CLIENT_RETRIES,
    CONF_ACCESS_KEY,
    CONF_MERCHANT_ID,
    CONF_SECRET_KEY,
    CONF_WEBHOOK_SECRET,
    CONNECTOR_TOSS_PLACE,
    CURSOR_STORAGE_VERSION,
    SOURCE_ORDER,
    SOURCE_PAYMENT,
    WEBHOOK_DEDUPE_SIZE,
)

type Prepared = list[tuple[str, dict[str, Any], str, str]]


def cursor_store(hass: HomeAssistant, entry_id: str, subentry_id: str) -> Store[dict[str, str]]:
    """Where a Toss Place connector keeps how far its polling got."""
    return Store(hass, CURSOR_STORAGE_VERSION, f"{DOMAIN}.{entry_id}.{subentry_id}.toss_place")


class TossPlaceConnector(Connector):
    """One store's Toss Place merchant."""

    connector = CONNECTOR_TOSS_PLACE
    actor = ACTOR_TOSS_PLACE

    def _setup_client(self) -> None:
        data = self.subentry.data
        self.merchant_id = str(data[CONF_MERCHANT_ID])
        self._webhook_secret: str = data[CONF_WEBHOOK_SECRET]
        self.client = toss.TossPlaceClient(
            self.session,
            access_key=data[CONF_ACCESS_KEY],
            secret_key=data[CONF_SECRET_KEY],
            merchant_id=self.merchant_id,
            # read here, not bound at import: tests point it at a local server
            base_url=toss.TOSS_PLACE_API_URL,
            retries=CLIENT_RETRIES,
            backoff=CLIENT_BACKOFF,
        )
        # webhook ids answered (oldest first), bounded
        self._deliveries: OrderedDict[str, None] = OrderedDict()
        self._store = cursor_store(self.hass, self.entry.entry_id, self.subentry.subentry_id)
        self.cursor: datetime | None = None
        self._cursor_loaded = False
        self._backfill: asyncio.Task[None] | None = None
        self._unsub_started: CALLBACK_TYPE | None = None
        self._unsub_poll: CALLBACK_TYPE | None = None
        self._failing = False
        self.last_backfill: dict[str, Any] | None = None

    # --- lifecycle ----------------------------------------------------------------------

    @callback
    def async_start(self) -> None:
        """Listen on the webhook; poll once Home Assistant has started, then every 10 min."""
        super().async_start()
        self._unsub_started = async_at_started(self.hass, self._async_hass_started)

    @callback
    def _async_hass_started(self, hass: HomeAssistant) -> None:
        self._unsub_started = None
        if self._unsub_poll is None and not self.auth_failed:
            self._unsub_poll = async_track_time_interval(
                hass,
                self._async_poll,
                BACKFILL_INTERVAL,
                name=f"{DOMAIN} {self.entry.title} Toss Place backfill",
                cancel_on_shutdown=True,
            )
        self.async_request_backfill()

    @callback
    def _async_poll(self, _now: datetime) -> None:
        self.async_request_backfill()

    @callback
    def async_request_backfill(self) -> asyncio.Task[None] | None:
        """Start a round of polling unless one runs (or the keys were refused)."""
        if self.auth_failed:
            return None
        if self._backfill is None or self._backfill.done():
            self._backfill = self.entry.async_create_background_task(
                self.hass,
                self.async_backfill(),
                f"{DOMAIN} {self.entry.title} Toss Place backfill",
            )
        return self._backfill

    async def async_stop(self) -> None:
        """Stop the webhook and the polling (a round in flight is cancelled); a connector
        removed from the store forgets its cursor."""
        await super().async_stop()
        self._stop_polling()
        if self._backfill is not None and not self._backfill.done():
            self._backfill.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._backfill
        if self.subentry.subentry_id not in self.entry.subentries:
            await self._store.async_remove()

    @callback
    def _stop_polling(self) -> None:
        for unsub in (self._unsub_started, self._unsub_poll):
            if unsub is not None:
                unsub()
        self._unsub_started = self._unsub_poll = None

    @callback
    def async_auth_failed(self) -> None:
        """The keys were refused: stop polling until new ones are entered (a reload)."""
        self._stop_polling()
        super().async_auth_failed()

    # --- webhooks -----------------------------------------------------------------------

    async def async_handle_webhook(
        self, hass: HomeAssistant, webhook_id: str, request: web.Request
    ) -> web.Response:
        """One delivery: 401 unless signed and fresh, 400 when unreadable, 503 when it
        could not be recorded now (the vendor delivers it again), else 200."""
        self.stats["webhooks"] += 1
        try:
            body = await self.async_read_body(request)
        except ConnectorFailure as err:
            return self._refuse(err.status, err.reason)
        headers = request.headers
        if not toss.verify_signature(
            self._webhook_secret,
            headers.get(toss.HEADER_TIMESTAMP),
            body,
            headers.get(toss.HEADER_SIGNATURE),
            now_ms=int(time.time() * 1000),
        ):
            return self._refuse(HTTPStatus.UNAUTHORIZED, "bad signature or timestamp")
        delivery = headers.get(toss.HEADER_WEBHOOK_ID)
        if self._answered(delivery):
            return web.Response()
        try:
            event = toss.parse_webhook(body)
            if delivery is None and self._answered(event.id):
                return web.Response()
            await self._async_handle_event(event)
        except toss.TossPlaceFormatError as err:
            return self._refuse(HTTPStatus.BAD_REQUEST, f"unreadable {err.field}")
        except ConnectorFailure as err:
            return self._refuse(err.status, err.reason)
        except toss.TossPlaceAuthError:
            self.async_auth_failed()
            return self._refuse(HTTPStatus.SERVICE_UNAVAILABLE, "Toss Place refused the keys")
        except toss.TossPlaceError as err:
            return self._refuse(HTTPStatus.SERVICE_UNAVAILABLE, f"Toss Place: {err.code}")
        except Exception:
            # never answered 200 (Home Assistant's default): the vendor delivers it again
            LOGGER.exception("Unexpected error handling a Toss Place webhook")
            return self._refuse(HTTPStatus.INTERNAL_SERVER_ERROR, "unexpected error")
        self._remember(delivery or event.id)
        return web.Response()

    def _answered(self, delivery: str | None) -> bool:
        """Whether this webhook was recorded already (a retry of it)."""
        if delivery is None or delivery not in self._deliveries:
            return False
        self.stats["duplicates"] += 1
        self._deliveries.move_to_end(delivery)
        return True

    def _remember(self, delivery: str) -> None:
        self._deliveries[delivery] = None
        self._deliveries.move_to_end(delivery)
        while len(self._deliveries) > WEBHOOK_DEDUPE_SIZE:
            self._deliveries.popitem(last=False)

    async def _async_handle_event(self, event: toss.TossWebhook) -> None:
        if event.merchant_id is not None and event.merchant_id != self.merchant_id:
            # the app's other merchants are other stores' business
            self.stats["other_merchant"] += 1
            return
        if event.type == toss.EVENT_ORDER_CREATED and event.order is not None:
            await self._async_record_order(event.order)
        elif event.is_order_event:
            if (order_id := toss.order_ref_of(event)) is None:
                raise toss.TossPlaceFormatError("data.orderId")
            if (order := await self._async_fetch_order(order_id)) is not None:
                await self._async_record_order(order)
        elif event.is_payment_event:
            if (payment := event.payment) is None:
                raise toss.TossPlaceFormatError("data.payment")
            await self._async_record_payment(payment)
        else:
            self.stats["ignored"] += 1

    async def _async_fetch_order(self, order_id: str) -> dict[str, Any] | None:
        """The vendor's current copy of an order; None when the vendor does not know it
        (polling picks it up once it does)."""
        try:
            return await self.client.order(order_id)
        except (toss.TossPlaceConnectionError, toss.TossPlaceAuthError):
            raise
        except toss.TossPlaceError as err:
            LOGGER.debug("Toss Place has no order %s (%s) yet", order_id, err.code)
            self.stats["order_not_found"] += 1
            return None

    # --- recording ----------------------------------------------------------------------

    async def _async_payments_of(self, order: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
        """An order's payments: those it carries in full; else, unless the store already
        has each of them in the state the order lists, the vendor's copies."""
        payments = order.get("payments")
        if isinstance(payments, list):
            if all(isinstance(p, Mapping) and "orderId" in p for p in payments):
                return payments
            if await self._async_payments_recorded(payments):
                return []
        return await self.client.payments_by_order(str(order.get("id")))

    async def _async_payments_recorded(self, summaries: list[Any]) -> bool:
        """Whether the store has every payment of an order's summary, in the listed state."""
        states: dict[str, str] = {}
        for summary in summaries:
            if not isinstance(summary, Mapping) or not isinstance(summary.get("state"), str):
                return False
            states[str(summary.get("id"))] = toss.PAYMENT_STATES.get(
                summary["state"].upper(), "pending"
            )
        try:
            async with self.engine.reader() as ontology:
                refs = await ontology.find_external(CONNECTOR_TOSS_PLACE, "payment", list(states))
                stored = await ontology.get_many(refs.values())
        except CareOnError as err:
            raise ConnectorFailure(HTTPStatus.SERVICE_UNAVAILABLE, "store unavailable") from err
        return all(
            (obj := stored.get(refs.get(payment_id, ""))) is not None
            and obj.get("status") == status
            for payment_id, status in states.items()
        )

    def _prepare_payment(self, payment: Mapping[str, Any]) -> tuple[str, dict[str, Any], str, str]:
        params = toss.payment_params(payment)
        # The order's own state says whether it was cancelled or refunded: a payment cancelled
        # at the till (paid again another way, or before the order is cancelled) is not a refund.
        params["refund_order"] = False
        self.validate("sync_payment", params)
        return ("sync_payment", params, toss.payment_key(payment), SOURCE_PAYMENT)

    async def _async_record_order(self, order: Mapping[str, Any]) -> None:
        """Record an order version, then its payments; every part is read and checked
        before anything is written."""
        params = toss.order_params(order)
        self.validate("sync_order", params)
        prepared: Prepared = [("sync_order", params, toss.order_key(order), SOURCE_ORDER)]
        prepared += [self._prepare_payment(p) for p in await self._async_payments_of(order)]
        await self._async_run(prepared)
        self.stats["orders"] += 1

    async def _async_record_payment(self, payment: Mapping[str, Any]) -> None:
        """Record a payment; an order not yet in the store is fetched and recorded first."""
        prepared: Prepared = [self._prepare_payment(payment)]
        order_id = prepared[0][1].get("order_ref")
        if order_id is not None and not await self._async_order_known(order_id):
            order = await self._async_fetch_order(order_id)
            if order is not None:
                await self._async_record_order(order)
        await self._async_run(prepared)
        self.stats["payments"] += 1

    async def _async_order_known(self, order_id: str) -> bool:
        try:
            async with self.engine.reader() as ontology:
                found = await ontology.find_external(CONNECTOR_TOSS_PLACE, "order", [order_id])
        except CareOnError as err:
            raise ConnectorFailure(HTTPStatus.SERVICE_UNAVAILABLE, "store unavailable") from err
        return bool(found)

    async def _async_run(self, prepared: Prepared) -> None:
        for action, params, key, source in prepared:
            await self.async_sync(action, params, key, source=source)

    # --- polling ------------------------------------------------------------------------

    async def async_backfill(self) -> None:
        """Record every order changed since the last round (minus an overlap), oldest
        first; the cursor moves only when the whole round is recorded."""
        if not self._cursor_loaded:
            stored = await self._store.async_load()
            if stored and (cursor := dt_util.parse_datetime(stored.get("cursor", ""))):
                self.cursor = cursor
            self._cursor_loaded = True
        now = dt_util.utcnow()
        start = (self.cursor or now - BACKFILL_FIRST_WINDOW) - BACKFILL_OVERLAP
        counts: Counter[str] = Counter()
        try:
            async for order in self.client.iter_orders(start, now):
                counts["orders"] += 1
                try:
                    await self._async_record_order(order)
                except (toss.TossPlaceFormatError, ConnectorFailure) as err:
                    if isinstance(err, ConnectorFailure) and err.status != HTTPStatus.BAD_REQUEST:
                        raise
                    # a vendor order the store cannot read: waiting will not make it readable
                    counts["skipped"] += 1
                    LOGGER.warning(
                        "Skipped a Toss Place order of %s that cannot be recorded: %s",
                        self.entry.title,
                        err,
                    )
        except toss.TossPlaceAuthError:
            self.async_auth_failed()
            return
        except (toss.TossPlaceError, ConnectorFailure) as err:
            # unreachable vendor or store: said once, tried again next round
            self.stats["backfill_failures"] += 1
            if not self._failing:
                LOGGER.warning(
                    "Could not read Toss Place orders for %s, retrying in %s: %s",
                    self.entry.title,
                    BACKFILL_INTERVAL,
                    err,
                )
                self._failing = True
            return
        if self._failing:
            LOGGER.info("Reading Toss Place orders for %s works again", self.entry.title)
            self._failing = False
        self.cursor = now
        await self._store.async_save({"cursor": now.isoformat()})
        self.stats["backfills"] += 1
        self.last_backfill = {
            "from": start.isoformat(),
            "to": now.isoformat(),
            "orders": counts["orders"],
            "skipped": counts["skipped"],
        }

    def diagnostics(self) -> dict[str, Any]:
        """What the connector did, and how far polling got (no keys)."""
        return {
            **super().diagnostics(),
            "cursor": self.cursor.isoformat() if self.cursor else None,
            "polling": self._unsub_poll is not None,
            "last_backfill": self.last_backfill,
        }
