"""Switches of a CareOn store: whether each product is on sale."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import SOURCE_ENTITY
from .coordinator import CareOnConfigEntry
from .core import StoreObject, StoreSnapshot
from .entity import CareOnObjectEntity, ObjectEntities, async_track_store_entities
from .helpers import async_execute

# One action at a time from this platform (the engine serializes writes anyway).
PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class CareOnProductSwitchEntityDescription(SwitchEntityDescription):
    """Describes a switch of one product."""

    is_on_fn: Callable[[StoreObject], bool]
    action: str
    params_fn: Callable[[str, bool], dict[str, Any]]


AVAILABILITY_SWITCH = CareOnProductSwitchEntityDescription(
    key="availability",
    translation_key="availability",
    is_on_fn=lambda product: bool(product.get("available", True)),
    action="update_availability",
    params_fn=lambda product_id, on: {"product": product_id, "available": on},
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: CareOnConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up one availability switch per product."""
    async_track_store_entities(
        entry,
        Platform.SWITCH,
        async_add_entities,
        [],
        ObjectEntities(entity_type=CareOnProductSwitchEntity, descriptions=(AVAILABILITY_SWITCH,)),
    )


class CareOnProductSwitchEntity(CareOnObjectEntity, SwitchEntity):
    """Puts a product on sale, or takes it off."""

    entity_description: CareOnProductSwitchEntityDescription

    @staticmethod
    def objects(snapshot: StoreSnapshot) -> Mapping[str, StoreObject]:
        """Products."""
        return snapshot.products

    @property
    def is_on(self) -> bool:
        """On while the product can be ordered."""
        return self.entity_description.is_on_fn(self.store_object)

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Put the product on sale."""
        await self._async_set(True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Take the product off sale."""
        await self._async_set(False)

    async def _async_set(self, on: bool) -> None:
        description = self.entity_description
        await async_execute(
            self.coordinator.engine,
            description.action,
            description.params_fn(self.store_object_id, on),
            context=self._context,
            source=SOURCE_ENTITY,
        )
        # The committed action refreshes the coordinator (see async_setup_entry).
