"""CareOn Vision's entities, as Home Assistant's MQTT integration created them.

The CareOn Vision add-on (vision_addon/) publishes MQTT discovery for one device per camera; every
entity's unique id is ``careon_vision_<camera_id>_<key>`` (see
``vision_addon/careon_vision/discovery.py``). Camera ids may contain underscores, so the camera is
read from the entity's device (identifier ``careon_vision_<camera_id>``) when it has one, else by
matching the known keys from the end of the unique id.
"""

from __future__ import annotations

from dataclasses import dataclass
import re
from typing import Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, entity_registry as er

from .const import CONF_VISITOR_SENSORS

VISION_PREFIX: Final = "careon_vision_"
MQTT_PLATFORM: Final = "mqtt"

KEY_VISITORS_IN: Final = "visitors_in"
KEY_VISITORS_OUT: Final = "visitors_out"
KEY_OCCUPANCY: Final = "occupancy"

# The keys the add-on gives its entities, matched at the end of a unique id. Zone and line keys
# are tried first: ``careon_vision_door_zone_counter_occupancy`` is the zone ``counter`` of the
# camera ``door`` rather than the occupancy of a camera ``door_zone_counter`` (the unique id
# alone cannot tell them apart; the device can, see `_camera_from_device`).
_KEYS: Final = (
    KEY_VISITORS_IN,
    KEY_VISITORS_OUT,
    KEY_OCCUPANCY,
    "fps",
    "inference_ms",
    "dropped_frames",
    "heatmap",
)
_KEY_PATTERNS: Final = (
    re.compile(r"zone_[a-z0-9_]+_(?:occupancy|dwell)"),
    re.compile(r"line_[a-z0-9_]+_(?:in|out)"),
)


@dataclass(frozen=True, kw_only=True, slots=True)
class VisionEntity:
    """One entity of a CareOn Vision camera."""

    entity_id: str
    camera: str
    """The camera's id (``entrance``)."""
    key: str
    """What the entity shows: ``visitors_in``, ``occupancy``, ``zone_counter_occupancy``,
    ``zone_counter_dwell``, ``line_door_in``, ``fps``, ..."""


def split_unique_id(unique_id: str, camera: str | None = None) -> tuple[str, str] | None:
    """``(camera, key)`` of a CareOn Vision unique id, or None when it is not one.

    With ``camera`` (known from the device) the key is what follows it; otherwise a known key is
    matched at the end: zone and line keys first (the shortest camera id that leaves one), then
    the plain keys.
    """
    if not unique_id.startswith(VISION_PREFIX):
        return None
    rest = unique_id.removeprefix(VISION_PREFIX)
    if camera is not None:
        if rest.startswith(f"{camera}_") and len(rest) > len(camera) + 1:
            return camera, rest[len(camera) + 1 :]
        return None
    # zone_/line_ keys: the camera id is the shortest head that leaves a whole key
    for pattern in _KEY_PATTERNS:
        for index, char in enumerate(rest):
            if char == "_" and index and pattern.fullmatch(rest[index + 1 :]):
                return rest[:index], rest[index + 1 :]
    for key in _KEYS:
        if rest.endswith(f"_{key}") and len(rest) > len(key) + 1:
            return rest[: -len(key) - 1], key
    return None


def _camera_from_device(device: dr.DeviceEntry | None) -> str | None:
    """The camera id a CareOn Vision device names in its identifier."""
    if device is None:
        return None
    for _domain, identifier in device.identifiers:
        if identifier.startswith(VISION_PREFIX):
            return identifier.removeprefix(VISION_PREFIX)
    return None


@callback
def vision_entities(hass: HomeAssistant) -> list[VisionEntity]:
    """Every CareOn Vision entity in the entity registry (MQTT discovery), by entity id."""
    entities = er.async_get(hass)
    devices = dr.async_get(hass)
    found: list[VisionEntity] = []
    for entry in entities.entities.values():
        if entry.platform != MQTT_PLATFORM or not entry.unique_id.startswith(VISION_PREFIX):
            continue
        camera = (
            _camera_from_device(devices.async_get(entry.device_id)) if entry.device_id else None
        )
        parts = split_unique_id(entry.unique_id, camera)
        if parts is None and camera is not None:
            parts = split_unique_id(entry.unique_id)
        if parts is None:
            continue
        found.append(VisionEntity(entity_id=entry.entity_id, camera=parts[0], key=parts[1]))
    return sorted(found, key=lambda entity: entity.entity_id)


@callback
def visitor_sensors(hass: HomeAssistant, entry: ConfigEntry) -> list[str]:
    """The sensors that count the store's visitors: the ones chosen in the options, else every
    CareOn Vision camera's ``visitors_in`` sensor."""
    if chosen := entry.options.get(CONF_VISITOR_SENSORS):
        return list(chosen)
    return [entity.entity_id for entity in vision_entities(hass) if entity.key == KEY_VISITORS_IN]
