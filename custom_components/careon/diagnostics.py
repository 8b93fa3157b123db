"""Diagnostics of a CareOn store: the setup, the schema, the counts and the objects changed last,
personal data hidden."""

from __future__ import annotations

from typing import Any

from homeassistant.components.diagnostics import REDACTED, async_redact_data
from homeassistant.core import HomeAssistant

from .const import CONF_DATABASE_URL
from .coordinator import CareOnConfigEntry
from .core.database import redact_url, schema_version

# Objects whose name is a person's name
PERSON_TYPES = frozenset({"Customer", "Staff"})
# Diagnostics show every object of a type up to this many; of a larger one (a store's orders,
# payments, customers over the years) the counts and only this many changed last: enough to see
# what the data looks like, bounded however long the store has run.
OBJECTS_PER_TYPE = 25
# What a connector (config subentry) keeps that opens the vendor's account or the webhook
CONNECTOR_SECRETS = frozenset(
    {"access_key", "secret_key", "webhook_secret", "webhook_id", "client_key"}
)


def _subentries(entry: CareOnConfigEntry) -> list[dict[str, Any]]:
    """The entry's connectors, their keys redacted (a unique ID may be a key too)."""
    return [
        {
            "subentry_type": subentry.subentry_type,
            "title": subentry.title,
            "unique_id": REDACTED if subentry.unique_id is not None else None,
            "data": async_redact_data(dict(subentry.data), CONNECTOR_SECRETS),
        }
        for subentry in sorted(
            entry.subentries.values(), key=lambda sub: (sub.subentry_type, sub.title)
        )
    ]


def _connectors(entry: CareOnConfigEntry) -> dict[str, Any]:
    """What each connector reports about itself (None: not set up), keys redacted anyway."""
    return async_redact_data(entry.runtime_data.connectors.diagnostics(), CONNECTOR_SECRETS)


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: CareOnConfigEntry
) -> dict[str, Any]:
    """Return diagnostics for a config entry."""
    engine = entry.runtime_data.engine
    snapshot = entry.runtime_data.coordinator.data
    schema = engine.schema
    objects: list[dict[str, Any]] = []
    async with engine.reader() as ontology:
        version = await schema_version(ontology.conn)
        counts = await ontology.count_by_type()
        for object_type in schema.types:
            recent = await ontology.recent(object_type, OBJECTS_PER_TYPE)
            for obj in sorted(recent, key=lambda obj: (obj.name, obj.id)):
                data = obj.as_dict()
                data["properties"] = async_redact_data(
                    data["properties"], schema.types[object_type].personal_properties
                )
                if object_type in PERSON_TYPES:
                    data = async_redact_data(data, {"name"})
                objects.append(data)
    return {
        "entry": {
            "title": entry.title,
            "data": {
                **entry.data,
                CONF_DATABASE_URL: redact_url(entry.data[CONF_DATABASE_URL]),
            },
            "options": dict(entry.options),
            "subentries": _subentries(entry),
        },
        "connectors": _connectors(entry),
        "database": {
            "dialect": engine.engine.dialect.name,
            "schema_version": version,
            "timezone": str(engine.timezone),
        },
        "schema": schema.to_dict(),
        "counts": dict(sorted(counts.items())),
        "objects_per_type": OBJECTS_PER_TYPE,
        "snapshot": {
            "store": snapshot.store.id if snapshot.store else None,
            "products": len(snapshot.products),
            "inventory_items": len(snapshot.inventory),
            "orders_today": snapshot.orders_today,
            "revenue_today": snapshot.revenue_today,
            "average_ticket": snapshot.average_ticket,
            "low_stock": [item.id for item in snapshot.low_stock],
            "unreconciled_payments": snapshot.unreconciled_payments,
        },
        "objects": objects,
    }
