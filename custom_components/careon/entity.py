"""Base entity of CareOn, and the bookkeeping that follows objects coming and going."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from homeassistant.const import Platform
from homeassistant.core import callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN, STORE_DEVICE_MANUFACTURER, STORE_DEVICE_MODEL
from .coordinator import CareOnConfigEntry, CareOnDataUpdateCoordinator
from .core import StoreObject, StoreSnapshot

# The part of a unique id that names the store itself (store-wide entities).
STORE_KEY = "store"


def unique_id_for(entry: CareOnConfigEntry, object_id: str, key: str) -> str:
    """The unique id of an entity: the entry, the object it shows and what it shows of it."""
    return f"{entry.entry_id}_{object_id}_{key}"


class CareOnEntity(CoordinatorEntity[CareOnDataUpdateCoordinator]):
    """An entity of the store device."""

    _attr_has_entity_name = True

    def __init__(
        self,
        coordinator: CareOnDataUpdateCoordinator,
        description: EntityDescription,
        object_id: str = STORE_KEY,
    ) -> None:
        """Initialize the entity."""
        super().__init__(coordinator)
        entry = coordinator.config_entry
        self.entity_description = description
        self._attr_unique_id = unique_id_for(entry, object_id, description.key)
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, entry.entry_id)},
            manufacturer=STORE_DEVICE_MANUFACTURER,
            model=STORE_DEVICE_MODEL,
            name=entry.title,
        )


class CareOnObjectEntity(CareOnEntity):
    """An entity that shows one object of the store (a product, an inventory item, equipment)."""

    def __init__(
        self,
        coordinator: CareOnDataUpdateCoordinator,
        description: EntityDescription,
        object_id: str,
    ) -> None:
        """Initialize the entity; its name carries the object's name."""
        super().__init__(coordinator, description, object_id)
        self.store_object_id = object_id
        self._last_object = self.objects(coordinator.data)[object_id]
        self._attr_translation_placeholders = {"name": self.store_object.name}

    @property
    def store_object(self) -> StoreObject:
        """The object as last read (kept while it is gone, until the entity is removed)."""
        if (obj := self.objects(self.coordinator.data).get(self.store_object_id)) is not None:
            self._last_object = obj
        return self._last_object

    @staticmethod
    def objects(snapshot: StoreSnapshot) -> Mapping[str, StoreObject]:
        """The objects of this entity's type in a snapshot (static: the platform asks it
        which objects get entities before there is any)."""
        raise NotImplementedError

    @property
    def available(self) -> bool:
        """Available while the store answers and the object exists."""
        return super().available and self.store_object_id in self.objects(self.coordinator.data)

    @callback
    def _handle_coordinator_update(self) -> None:
        """Follow renames of the object."""
        if (name := self.store_object.name) != self._attr_translation_placeholders["name"]:
            self._attr_translation_placeholders = {"name": name}
            # `name` is a cached property: forget the old one
            self.__dict__.pop("name", None)
        super()._handle_coordinator_update()


@dataclass(frozen=True, kw_only=True)
class ObjectEntities:
    """The entities a platform gives every object of one kind: one ``entity_type`` entity per
    description, for each of the objects that ``entity_type.objects`` lists."""

    entity_type: type[CareOnObjectEntity]
    descriptions: tuple[EntityDescription, ...]


@callback
def async_track_store_entities(
    entry: CareOnConfigEntry,
    platform: Platform,
    async_add_entities: AddConfigEntryEntitiesCallback,
    store_entities: Iterable[Entity],
    *object_entities: ObjectEntities,
) -> None:
    """Add the store's entities, then follow the objects: new objects get entities, and the
    entities of objects that are gone leave the entity registry (they would never come back
    otherwise).
    """
    coordinator = entry.runtime_data.coordinator
    registry = er.async_get(coordinator.hass)
    store_entities = list(store_entities)
    store_ids = {entity.unique_id for entity in store_entities}
    # per kind of object, the objects that have their entities
    known: list[set[str]] = [set() for _ in object_entities]

    @callback
    def _async_sync() -> None:
        wanted = set(store_ids)
        new_entities: list[CareOnEntity] = []
        for kind, seen in zip(object_entities, known, strict=True):
            current = set(kind.entity_type.objects(coordinator.data))
            wanted.update(
                unique_id_for(entry, object_id, description.key)
                for object_id in current
                for description in kind.descriptions
            )
            new = current - seen
            seen.intersection_update(current)
            seen.update(new)
            new_entities.extend(
                kind.entity_type(coordinator, description, object_id)
                for object_id in sorted(new)
                for description in kind.descriptions
            )
        for entity_entry in er.async_entries_for_config_entry(registry, entry.entry_id):
            if entity_entry.domain == platform and entity_entry.unique_id not in wanted:
                registry.async_remove(entity_entry.entity_id)
        if new_entities:
            async_add_entities(new_entities)

    async_add_entities(store_entities)
    _async_sync()
    entry.async_on_unload(coordinator.async_add_listener(_async_sync))
