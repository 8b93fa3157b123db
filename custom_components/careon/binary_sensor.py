"""Binary sensors of a CareOn store: which inventory items run low, which equipment is due for
maintenance."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import dt as dt_util

from .coordinator import CareOnConfigEntry
from .core import StoreObject, StoreSnapshot
from .core.actions.stock import is_low
from .entity import CareOnObjectEntity, ObjectEntities, async_track_store_entities

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class CareOnItemBinarySensorEntityDescription(BinarySensorEntityDescription):
    """Describes a binary sensor of one inventory item."""

    is_on_fn: Callable[[StoreObject], bool]


LOW_STOCK_SENSOR = CareOnItemBinarySensorEntityDescription(
    key="low_stock",
    translation_key="low_stock",
    device_class=BinarySensorDeviceClass.PROBLEM,
    is_on_fn=is_low,
)

MAINTENANCE_DUE_SENSOR = BinarySensorEntityDescription(
    key="maintenance_due",
    translation_key="maintenance_due",
    device_class=BinarySensorDeviceClass.PROBLEM,
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: CareOnConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up one low-stock binary sensor per inventory item and one maintenance-due binary
    sensor per equipment."""
    async_track_store_entities(
        entry,
        Platform.BINARY_SENSOR,
        async_add_entities,
        [],
        ObjectEntities(entity_type=CareOnItemBinarySensorEntity, descriptions=(LOW_STOCK_SENSOR,)),
        ObjectEntities(
            entity_type=CareOnMaintenanceDueBinarySensorEntity,
            descriptions=(MAINTENANCE_DUE_SENSOR,),
        ),
    )


class CareOnItemBinarySensorEntity(CareOnObjectEntity, BinarySensorEntity):
    """Whether an inventory item is at or under its reorder point."""

    entity_description: CareOnItemBinarySensorEntityDescription

    @staticmethod
    def objects(snapshot: StoreSnapshot) -> Mapping[str, StoreObject]:
        """Inventory items."""
        return snapshot.inventory

    @property
    def is_on(self) -> bool:
        """On when the item should be reordered."""
        return self.entity_description.is_on_fn(self.store_object)


class CareOnMaintenanceDueBinarySensorEntity(CareOnObjectEntity, BinarySensorEntity):
    """Whether an equipment has maintenance due: announced, or past its date or hours."""

    @staticmethod
    def objects(snapshot: StoreSnapshot) -> Mapping[str, StoreObject]:
        """Equipment."""
        return snapshot.equipment

    def _due_tasks(self) -> list[StoreObject]:
        return self.coordinator.data.due_tasks(self.store_object, dt_util.utcnow())

    @property
    def is_on(self) -> bool:
        """On while a maintenance task is due."""
        return bool(self._due_tasks())

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """The tasks that are due."""
        return {"tasks": [task.name for task in self._due_tasks()]}
