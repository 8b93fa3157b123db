"""The vendors a store talks to (config subentries), in Home Assistant.

Each connector adapts a vendor client of ``core.connectors`` to Home Assistant: its webhook on
Home Assistant's HTTP server, polling where webhooks can be missed, and reauthentication when
the vendor refuses the keys. What vendors send is recorded through the store's actions
(``sync_order``, ``sync_payment``) with the connector as actor and the vendor's version as the
idempotency key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback

from ..core import ActionEngine
from .base import Connector
from .const import CONNECTOR_NICE_PAYMENTS, CONNECTOR_TOSS_PLACE
from .nice import NiceConnector
from .toss_place import TossPlaceConnector, cursor_store

if TYPE_CHECKING:
    from ..coordinator import CareOnConfigEntry

__all__ = ["CareOnConnectors", "NiceConnector", "TossPlaceConnector"]

type SubentryFingerprint = Mapping[str, tuple[str, Mapping[str, Any]]]


def subentries_fingerprint(entry: ConfigEntry) -> SubentryFingerprint:
    """What the connectors were built from: a change means a reload."""
    return {
        subentry_id: (subentry.subentry_type, dict(subentry.data))
        for subentry_id, subentry in entry.subentries.items()
    }


@dataclass(kw_only=True)
class CareOnConnectors:
    """The connectors of one loaded store; a vendor not set up is None."""

    toss_place: TossPlaceConnector | None = None
    nice_payments: NiceConnector | None = None
    fingerprint: SubentryFingerprint = field(default_factory=dict)

    @classmethod
    def from_entry(
        cls, hass: HomeAssistant, entry: CareOnConfigEntry, engine: ActionEngine
    ) -> CareOnConnectors:
        """Build the connectors of ``entry``'s subentries (nothing runs yet)."""
        connectors = cls(fingerprint=subentries_fingerprint(entry))
        for subentry in entry.subentries.values():
            if subentry.subentry_type == CONNECTOR_TOSS_PLACE:
                connectors.toss_place = TossPlaceConnector(hass, entry, subentry, engine)
            elif subentry.subentry_type == CONNECTOR_NICE_PAYMENTS:
                connectors.nice_payments = NiceConnector(hass, entry, subentry, engine)
        return connectors

    @property
    def all(self) -> list[Connector]:
        """The connectors set up."""
        return [c for c in (self.toss_place, self.nice_payments) if c is not None]

    @callback
    def async_start(self) -> None:
        """Listen on the webhooks and start polling."""
        for connector in self.all:
            connector.async_start()

    async def async_stop(self) -> None:
        """Stop listening and polling."""
        for connector in self.all:
            await connector.async_stop()

    def changed(self, entry: ConfigEntry) -> bool:
        """Whether ``entry``'s subentries differ from those the connectors were built from."""
        return subentries_fingerprint(entry) != self.fingerprint

    def diagnostics(self) -> dict[str, Any]:
        """Each connector's diagnostics (no keys), None for a vendor not set up."""
        return {
            CONNECTOR_TOSS_PLACE: self.toss_place.diagnostics() if self.toss_place else None,
            CONNECTOR_NICE_PAYMENTS: (
                self.nice_payments.diagnostics() if self.nice_payments else None
            ),
        }


async def async_remove_connector_data(
    hass: HomeAssistant, entry_id: str, subentry_ids: list[str]
) -> None:
    """Forget what removed connectors kept on disk (Toss Place's polling cursor)."""
    for subentry_id in subentry_ids:
        await cursor_store(hass, entry_id, subentry_id).async_remove()
