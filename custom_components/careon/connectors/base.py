"""What every vendor connector does in Home Assistant: its webhook, recording vendor objects
through the store's actions, and asking for new keys when the vendor refuses them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, ClassVar

import aiohttp
from aiohttp import web
from aiohttp.hdrs import METH_POST
from homeassistant.components import webhook
from homeassistant.config_entries import ConfigSubentry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.aiohttp_client import async_get_clientsession

from ..const import DOMAIN, LOGGER
from ..core import ActionEngine, ActionResult, CareOnError, ValidationError
from ..core.fields import validate_fields
from .const import (
    CONF_SUBENTRY_ID,
    CONF_WEBHOOK_ID,
    CONNECTOR_NAMES,
    WEBHOOK_MAX_BYTES,
    WEBHOOK_READ_CHUNK,
)

if TYPE_CHECKING:
    from ..coordinator import CareOnConfigEntry


class ConnectorFailure(Exception):
    """A webhook delivery could not be recorded: the HTTP status to answer, and why."""

    def __init__(self, status: HTTPStatus, reason: str) -> None:
        """Keep the answer for the vendor."""
        super().__init__(reason)
        self.status = status
        self.reason = reason


class Connector(ABC):
    """One vendor account of one store (a config subentry)."""

    connector: ClassVar[str]
    actor: ClassVar[str]

    def __init__(
        self,
        hass: HomeAssistant,
        entry: CareOnConfigEntry,
        subentry: ConfigSubentry,
        engine: ActionEngine,
    ) -> None:
        """Build the vendor client on Home Assistant's shared HTTP session."""
        self.hass = hass
        self.entry = entry
        self.subentry = subentry
        self.engine = engine
        self.session = async_get_clientsession(hass)
        self.webhook_id: str = subentry.data[CONF_WEBHOOK_ID]
        self.name = CONNECTOR_NAMES[self.connector]
        # what the connector did since the store was loaded, for diagnostics
        self.stats: Counter[str] = Counter()
        self.last_refusal: str | None = None
        self.auth_failed = False
        self._webhook_registered = False
        self._setup_client()

    @abstractmethod
    def _setup_client(self) -> None:
        """Build the vendor's client from the subentry's keys."""

    @callback
    def async_start(self) -> None:
        """Listen on the connector's webhook."""
        webhook.async_register(
            self.hass,
            DOMAIN,
            f"{self.entry.title} {self.name}",
            self.webhook_id,
            self.async_handle_webhook,
            local_only=False,
            allowed_methods=[METH_POST],
        )
        self._webhook_registered = True

    async def async_stop(self) -> None:
        """Stop listening (deliveries meanwhile are caught up later, or retried by the vendor)."""
        if self._webhook_registered:
            webhook.async_unregister(self.hass, self.webhook_id)
            self._webhook_registered = False

    @abstractmethod
    async def async_handle_webhook(
        self, hass: HomeAssistant, webhook_id: str, request: web.Request
    ) -> web.Response:
        """Answer one webhook delivery."""

    @callback
    def async_auth_failed(self) -> None:
        """The vendor refused the keys: ask the owner for new ones (once)."""
        if self.auth_failed:
            return
        self.auth_failed = True
        LOGGER.warning(
            "%s refused the keys of %s; enter new ones to resume", self.name, self.entry.title
        )
        self.entry.async_start_reauth(self.hass, data={CONF_SUBENTRY_ID: self.subentry.subentry_id})

    def validate(self, action: str, params: Mapping[str, Any]) -> None:
        """Check parameters as the action will, before anything is written."""
        try:
            validate_fields(self.engine.actions[action].params, params, tz=self.engine.timezone)
        except ValidationError as err:
            raise ConnectorFailure(HTTPStatus.BAD_REQUEST, _refusal(err)) from err

    async def async_execute(
        self, action: str, params: Mapping[str, Any], key: str, *, source: str
    ) -> ActionResult:
        """Run one action as the connector: a version already recorded is not run again."""
        if (replayed := await self.engine.replayed(action, params, key)) is not None:
            self.stats["already_recorded"] += 1
            return replayed
        return await self.engine.execute(
            action, params, actor=self.actor, source=source, idempotency_key=key
        )

    async def async_sync(
        self, action: str, params: Mapping[str, Any], key: str, *, source: str
    ) -> ActionResult | None:
        """``async_execute`` for a delivery: the store's refusal becomes the HTTP answer.

        A version already recorded with other parameters (a mapping changed by an update of
        CareOn) stays as first recorded: the answer is None.
        """
        try:
            return await self.async_execute(action, params, key, source=source)
        except ValidationError as err:
            if err.translation_key == "idempotency_conflict":
                LOGGER.debug("%s: version %s was recorded differently before", self.name, key)
                return None
            raise ConnectorFailure(HTTPStatus.BAD_REQUEST, _refusal(err)) from err
        except CareOnError as err:
            # the database is unavailable or busy: the vendor delivers again later
            raise ConnectorFailure(HTTPStatus.SERVICE_UNAVAILABLE, str(err)) from err

    async def async_read_body(self, request: web.Request) -> bytes:
        """A delivery's body, at most WEBHOOK_MAX_BYTES: a larger one is refused (413) before
        it is read whole, and a body that cannot be read (the sender went away) is a 400.
        Read here rather than by ``request.read()``, whose errors would reach Home
        Assistant's webhook handler, which logs the webhook id (the secret in its URL)."""
        if request.content_length is not None and request.content_length > WEBHOOK_MAX_BYTES:
            raise ConnectorFailure(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body too large")
        body = bytearray()
        try:
            async for chunk in request.content.iter_chunked(WEBHOOK_READ_CHUNK):
                body += chunk
                if len(body) > WEBHOOK_MAX_BYTES:
                    raise ConnectorFailure(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body too large")
        except (OSError, aiohttp.ClientError, web.HTTPException) as err:
            raise ConnectorFailure(HTTPStatus.BAD_REQUEST, "body not read") from err
        return bytes(body)

    def _refuse(self, status: HTTPStatus, reason: str) -> web.Response:
        """Answer a delivery that was not recorded (the vendor retries 5xx; 4xx are logged)."""
        self.stats[f"refused_{int(status)}"] += 1
        self.last_refusal = f"{int(status)} {reason}"
        if status == HTTPStatus.UNAUTHORIZED or status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            # anyone on the internet can knock (401); a 5xx is delivered again
            LOGGER.debug("%s webhook for %s refused: %s", self.name, self.entry.title, reason)
        else:
            # the vendor will not deliver it again: said where the owner looks, with the
            # diagnostics' last_refusal (the reason names fields, never values or keys)
            LOGGER.warning(
                "%s webhook for %s refused for good (HTTP %s): %s",
                self.name,
                self.entry.title,
                int(status),
                reason,
            )
        return web.Response(status=status, text=reason)

    def diagnostics(self) -> dict[str, Any]:
        """What the connector did since the store was loaded (no keys, no personal data)."""
        return {
            "connector": self.connector,
            "subentry_id": self.subentry.subentry_id,
            "webhook_registered": self._webhook_registered,
            "auth_failed": self.auth_failed,
            "stats": dict(sorted(self.stats.items())),
            "last_refusal": self.last_refusal,
        }


def _refusal(err: ValidationError) -> str:
    """Why the store refused a vendor object, naming the field but never its value."""
    return f"refused by the store: {err.translation_key} ({err.field or '-'})"
