"""Diagnostics of a CareOn store: the setup, the schema and the objects, personal data hidden."""

from __future__ import annotations

from collections import Counter
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from .const import CONF_DATABASE_URL
from .coordinator import CareOnConfigEntry
from .core.database import redact_url, schema_version

# Objects whose name is a person's name
PERSON_TYPES = frozenset({"Customer", "Staff"})


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
        for object_type in schema.types:
            for obj in await ontology.by_type(object_type):
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
        },
        "database": {
            "dialect": engine.engine.dialect.name,
            "schema_version": version,
            "timezone": str(engine.timezone),
        },
        "schema": schema.to_dict(),
        "counts": dict(sorted(Counter(obj["type"] for obj in objects).items())),
        "snapshot": {
            "store": snapshot.store.id if snapshot.store else None,
            "products": len(snapshot.products),
            "inventory_items": len(snapshot.inventory),
            "orders_today": snapshot.orders_today,
            "revenue_today": snapshot.revenue_today,
            "average_ticket": snapshot.average_ticket,
            "low_stock": [item.id for item in snapshot.low_stock],
        },
        "objects": objects,
    }
