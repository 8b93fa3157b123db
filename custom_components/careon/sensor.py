"""Sensors of a CareOn store: today's sales, the work in progress, the payments left to
reconcile, the stock of every inventory item and the maintenance of every equipment."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import Platform, UnitOfMass, UnitOfTime, UnitOfVolume
from homeassistant.core import HomeAssistant
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN, STORE_DEVICE_MANUFACTURER, STORE_DEVICE_MODEL
from .coordinator import CareOnConfigEntry
from .core import StoreObject, StoreSnapshot
from .core.actions.alarms import SEVERITIES
from .core.queries import parse_iso
from .entity import (
    STORE_KEY,
    CareOnEntity,
    CareOnObjectEntity,
    ObjectEntities,
    async_track_store_entities,
    unique_id_for,
)
from .forecast import CareOnForecastCoordinator

PARALLEL_UPDATES = 0

CURRENCY = "KRW"
# The active alarms sensor lists this many alarms at most in its attributes
MAX_ALARMS_LISTED = 20
SEVERITY_RANK = {severity: rank for rank, severity in enumerate(SEVERITIES)}

# An inventory item's unit -> the sensor's device class and unit of measurement
UNITS: Mapping[str, tuple[SensorDeviceClass | None, str | None]] = {
    "g": (SensorDeviceClass.WEIGHT, UnitOfMass.GRAMS),
    "kg": (SensorDeviceClass.WEIGHT, UnitOfMass.KILOGRAMS),
    "ml": (SensorDeviceClass.VOLUME_STORAGE, UnitOfVolume.MILLILITERS),
    "l": (SensorDeviceClass.VOLUME_STORAGE, UnitOfVolume.LITERS),
    "ea": (None, None),
}
# ... and the decimals shown: Home Assistant's own default for the device class and unit (2026.x
# applies it when an integration suggests none; 2025.x shows every decimal), stated here so the
# stock looks the same on every supported version.
DISPLAY_PRECISION: Mapping[str, int] = {"g": 0, "kg": 2, "ml": 0, "l": 2}


@dataclass(frozen=True, kw_only=True)
class CareOnStoreSensorEntityDescription(SensorEntityDescription):
    """Describes a sensor of the whole store."""

    value_fn: Callable[[StoreSnapshot], StateType]
    attributes_fn: Callable[[StoreSnapshot], dict[str, Any]] | None = None
    # totals of the business day start again from zero when the day rolls over
    resets_daily: bool = False


@dataclass(frozen=True, kw_only=True)
class CareOnItemSensorEntityDescription(SensorEntityDescription):
    """Describes a sensor of one inventory item."""

    value_fn: Callable[[StoreObject], StateType]
    attributes_fn: Callable[[StoreObject], dict[str, Any]]


@dataclass(frozen=True, kw_only=True)
class CareOnEquipmentSensorEntityDescription(SensorEntityDescription):
    """Describes a sensor of one equipment."""

    value_fn: Callable[[StoreSnapshot, StoreObject], StateType | datetime]
    attributes_fn: Callable[[StoreSnapshot, StoreObject], dict[str, Any]]


def _alarms(snapshot: StoreSnapshot) -> dict[str, Any]:
    """The unresolved alarms, the most severe and then the latest first (at most
    ``MAX_ALARMS_LISTED``, so that the attributes stay small)."""
    alarms = sorted(
        snapshot.alarms.values(),
        key=lambda alarm: (
            SEVERITY_RANK.get(alarm.get("severity"), -1),
            alarm.get("raised_at", ""),
            alarm.id,
        ),
        reverse=True,
    )
    listed = []
    for alarm in alarms[:MAX_ALARMS_LISTED]:
        subject = snapshot.alarm_subject.get(alarm.id)
        listed.append(
            {
                "id": alarm.id,
                "name": alarm.name,
                "kind": alarm.get("kind"),
                "subject": subject.name if subject is not None else None,
                "severity": alarm.get("severity"),
                "status": alarm.get("status"),
                "level": alarm.get("escalation_level", 0),
                "message": alarm.get("message"),
                "raised_at": alarm.get("raised_at"),
            }
        )
    return {"alarms": listed}


def _next_maintenance(snapshot: StoreSnapshot, equipment: StoreObject) -> datetime | None:
    task = snapshot.next_maintenance(equipment.id)
    return parse_iso(task.get("due")) if task else None


STORE_SENSORS: tuple[CareOnStoreSensorEntityDescription, ...] = (
    CareOnStoreSensorEntityDescription(
        key="revenue_today",
        translation_key="revenue_today",
        device_class=SensorDeviceClass.MONETARY,
        native_unit_of_measurement=CURRENCY,
        state_class=SensorStateClass.TOTAL,
        suggested_display_precision=0,
        resets_daily=True,
        value_fn=lambda snapshot: snapshot.revenue_today,
    ),
    CareOnStoreSensorEntityDescription(
        key="orders_today",
        translation_key="orders_today",
        state_class=SensorStateClass.TOTAL,
        resets_daily=True,
        value_fn=lambda snapshot: snapshot.orders_today,
    ),
    CareOnStoreSensorEntityDescription(
        key="average_ticket",
        translation_key="average_ticket",
        device_class=SensorDeviceClass.MONETARY,
        native_unit_of_measurement=CURRENCY,
        suggested_display_precision=0,
        value_fn=lambda snapshot: snapshot.average_ticket,
    ),
    CareOnStoreSensorEntityDescription(
        key="low_stock_count",
        translation_key="low_stock_count",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda snapshot: len(snapshot.low_stock),
    ),
    CareOnStoreSensorEntityDescription(
        key="open_purchase_orders",
        translation_key="open_purchase_orders",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda snapshot: len(snapshot.open_purchase_orders),
    ),
    CareOnStoreSensorEntityDescription(
        key="active_alarms",
        translation_key="active_alarms",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda snapshot: len(snapshot.alarms),
        attributes_fn=_alarms,
    ),
    # approved payments not yet matched to an order (the reconcile service lists them)
    CareOnStoreSensorEntityDescription(
        key="unreconciled_payments",
        translation_key="unreconciled_payments",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda snapshot: snapshot.unreconciled_payments,
    ),
)

# How many people the next hour needs (the traffic forecast's suggestion; nothing acts on it)
RECOMMENDED_STAFF_SENSOR = SensorEntityDescription(
    key="recommended_staff",
    translation_key="recommended_staff",
    state_class=SensorStateClass.MEASUREMENT,
)

QUANTITY_SENSOR = CareOnItemSensorEntityDescription(
    key="quantity",
    translation_key="quantity",
    state_class=SensorStateClass.MEASUREMENT,
    value_fn=lambda item: item.get("on_hand", 0),
    attributes_fn=lambda item: {
        "reorder_point": item.get("reorder_point"),
        "par_level": item.get("par_level"),
    },
)

EQUIPMENT_SENSORS: tuple[CareOnEquipmentSensorEntityDescription, ...] = (
    CareOnEquipmentSensorEntityDescription(
        key="next_maintenance",
        translation_key="next_maintenance",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=_next_maintenance,
        attributes_fn=lambda snapshot, equipment: {
            "task": task.name if (task := snapshot.next_maintenance(equipment.id)) else None,
        },
    ),
    CareOnEquipmentSensorEntityDescription(
        key="runtime_hours",
        translation_key="runtime_hours",
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.HOURS,
        # back to zero after a maintenance by runtime
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=1,
        value_fn=lambda _, equipment: equipment.get("runtime_hours", 0),
        attributes_fn=lambda _, equipment: {
            "total_runtime_hours": equipment.get("total_runtime_hours", 0),
            "maintenance_runtime_hours": equipment.get("maintenance_runtime_hours"),
        },
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: CareOnConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up the store's sensors, one stock sensor per inventory item and the maintenance
    sensors of every equipment."""
    coordinator = entry.runtime_data.coordinator
    async_track_store_entities(
        entry,
        Platform.SENSOR,
        async_add_entities,
        [
            *(CareOnStoreSensorEntity(coordinator, description) for description in STORE_SENSORS),
            CareOnRecommendedStaffSensorEntity(entry.runtime_data.forecast),
        ],
        ObjectEntities(entity_type=CareOnItemSensorEntity, descriptions=(QUANTITY_SENSOR,)),
        ObjectEntities(entity_type=CareOnEquipmentSensorEntity, descriptions=EQUIPMENT_SENSORS),
    )


class CareOnStoreSensorEntity(CareOnEntity, SensorEntity):
    """A sensor of the whole store."""

    entity_description: CareOnStoreSensorEntityDescription

    @property
    def native_value(self) -> StateType:
        """The value, from the last snapshot."""
        return self.entity_description.value_fn(self.coordinator.data)

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """What goes with the value (the list of the active alarms)."""
        if (attributes_fn := self.entity_description.attributes_fn) is None:
            return None
        return attributes_fn(self.coordinator.data)

    @property
    def last_reset(self) -> datetime | None:
        """The start of the business day, for the day's totals."""
        if self.entity_description.resets_daily:
            return self.coordinator.business_day_start
        return None


class CareOnRecommendedStaffSensorEntity(
    CoordinatorEntity[CareOnForecastCoordinator], SensorEntity
):
    """The staff the next hour needs: its expected orders over the orders one person serves in
    an hour (at least the minimum staff while the store is open, 0 while it is closed)."""

    _attr_has_entity_name = True
    entity_description = RECOMMENDED_STAFF_SENSOR

    def __init__(self, coordinator: CareOnForecastCoordinator) -> None:
        """Initialize the sensor (a store sensor, fed by the forecast coordinator)."""
        super().__init__(coordinator)
        entry = coordinator.config_entry
        self._attr_unique_id = unique_id_for(entry, STORE_KEY, RECOMMENDED_STAFF_SENSOR.key)
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, entry.entry_id)},
            manufacturer=STORE_DEVICE_MANUFACTURER,
            model=STORE_DEVICE_MODEL,
            name=entry.title,
        )

    @property
    def available(self) -> bool:
        """Available once a forecast was computed (a failed refresh keeps the last one)."""
        return self.coordinator.data is not None

    @property
    def native_value(self) -> StateType:
        """The staff recommended for the next hour."""
        return self.coordinator.data.next_hour.staff

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Which hour, what it expects and the assumptions behind the number."""
        forecast = self.coordinator.data
        hour = forecast.next_hour.as_dict()
        return {
            "hour_start": hour["start"],
            "open": hour["open"],
            "expected_orders": hour["expected_orders"],
            "expected_visitors": hour["expected_visitors"],
            "orders_per_staff_hour": forecast.settings.orders_per_staff_hour,
            "min_staff": forecast.settings.min_staff,
            "method": forecast.orders.method,
        }


class CareOnItemSensorEntity(CareOnObjectEntity, SensorEntity):
    """How much of one inventory item is on hand."""

    entity_description: CareOnItemSensorEntityDescription

    @staticmethod
    def objects(snapshot: StoreSnapshot) -> Mapping[str, StoreObject]:
        """Inventory items."""
        return snapshot.inventory

    @property
    def device_class(self) -> SensorDeviceClass | None:
        """Weight or volume, following the item's unit."""
        return UNITS.get(self.store_object.get("unit"), (None, None))[0]

    @property
    def native_unit_of_measurement(self) -> str | None:
        """The item's unit."""
        return UNITS.get(self.store_object.get("unit"), (None, None))[1]

    @property
    def suggested_display_precision(self) -> int | None:
        """The decimals shown for the item's unit."""
        return DISPLAY_PRECISION.get(self.store_object.get("unit"))

    @property
    def native_value(self) -> StateType:
        """The quantity on hand."""
        return self.entity_description.value_fn(self.store_object)

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """When to reorder, and how much to keep."""
        return self.entity_description.attributes_fn(self.store_object)


class CareOnEquipmentSensorEntity(CareOnObjectEntity, SensorEntity):
    """When one equipment is due for maintenance, and how long it ran."""

    entity_description: CareOnEquipmentSensorEntityDescription

    @staticmethod
    def objects(snapshot: StoreSnapshot) -> Mapping[str, StoreObject]:
        """Equipment."""
        return snapshot.equipment

    @property
    def native_value(self) -> StateType | datetime:
        """The value, from the last snapshot."""
        return self.entity_description.value_fn(self.coordinator.data, self.store_object)

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """What goes with the value."""
        return self.entity_description.attributes_fn(self.coordinator.data, self.store_object)
