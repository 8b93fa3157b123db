"""Home Assistant MQTT discovery payloads and topics of CareOn Vision.

One Home Assistant device per camera. Every entity reads the camera's JSON state topic
(``<base>/<camera_id>/state``, retained) through a ``value_template``; the heatmap is an ``image``
entity fed with PNG bytes on ``<base>/<camera_id>/heatmap``. Every entity is available only when both
the add-on (``<base>/status``, the MQTT last will) and the camera's stream
(``<base>/<camera_id>/availability``) are ``online``.

This module imports nothing but the standard library and :mod:`careon_vision.config`, so Home
Assistant's own test environment (no numpy, OpenCV or Ultralytics) can load it to check that the
payloads are accepted by the MQTT integration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from careon_vision import __version__
from careon_vision.config import AppConfig, CameraConfig

PAYLOAD_ONLINE: Final = "online"
PAYLOAD_OFFLINE: Final = "offline"

MANUFACTURER: Final = "CareOn"
MODEL: Final = "CareOn Vision"
ORIGIN_NAME: Final = "CareOn Vision"
SUPPORT_URL: Final = "https://github.com/careon-dev/careon"

# Units of the count sensors. Home Assistant has no device class for a number of people, so these
# sensors have none and their unit is free text (accepted without a warning for any state class).
UNIT_VISITORS: Final = "visitors"
UNIT_PEOPLE: Final = "people"
UNIT_FPS: Final = "fps"
UNIT_FRAMES: Final = "frames"

# Prefix of every unique id, object id and discovery node id.
ID_PREFIX: Final = "careon_vision"

_ATTRIBUTES_TEMPLATE: Final = (
    "{{ {'date': value_json.date, 'lines': value_json.lines, 'hourly': value_json.hourly,"
    " 'peak_hour': value_json.peak_hour} | tojson }}"
)


@dataclass(frozen=True)
class CameraTopics:
    """The MQTT topics CareOn Vision publishes for one camera."""

    state: str
    """The JSON state (counts, occupancy, zones, diagnostics), retained."""
    heatmap: str
    """The heatmap PNG, retained."""
    availability: str
    """``online`` while the camera's stream delivers frames, else ``offline``; retained."""


def bridge_availability_topic(config: AppConfig) -> str:
    """The add-on's availability topic (``<base>/status``), also its MQTT last will."""
    return f"{config.mqtt.base_topic}/status"


def ha_status_topic(config: AppConfig) -> str:
    """The topic on which Home Assistant announces itself (``<prefix>/status``: online/offline)."""
    return f"{config.mqtt.discovery_prefix}/status"


def camera_topics(config: AppConfig, camera: CameraConfig) -> CameraTopics:
    """The state, heatmap and availability topics of ``camera``."""
    root = f"{config.mqtt.base_topic}/{camera.id}"
    return CameraTopics(
        state=f"{root}/state",
        heatmap=f"{root}/heatmap",
        availability=f"{root}/availability",
    )


def device_identifier(camera: CameraConfig) -> str:
    """The Home Assistant device identifier (also the discovery node id) of ``camera``."""
    return f"{ID_PREFIX}_{camera.id}"


def discovery_topic(config: AppConfig, camera: CameraConfig, component: str, key: str) -> str:
    """``<prefix>/<component>/careon_vision_<camera_id>/<key>/config``."""
    return f"{config.mqtt.discovery_prefix}/{component}/{device_identifier(camera)}/{key}/config"


def discovery_subscription(config: AppConfig, camera: CameraConfig) -> str:
    """A topic filter matching every discovery topic this add-on may have published for ``camera``.

    The publisher subscribes to it to find retained configs of entities that no longer exist (a
    removed line or zone) and clears them with an empty retained payload.
    """
    return f"{config.mqtt.discovery_prefix}/+/{device_identifier(camera)}/+/config"


def _quoted(key: str) -> str:
    """``key`` as a Jinja string literal (keys are ``[a-z0-9_]+``, quoted defensively anyway)."""
    return "'" + key.replace("\\", "\\\\").replace("'", "\\'") + "'"


def discovery_messages(config: AppConfig, camera: CameraConfig) -> list[tuple[str, dict[str, Any]]]:
    """The retained discovery messages (topic, JSON payload) of ``camera``'s Home Assistant device.

    Entity keys (unique id ``careon_vision_<camera_id>_<key>``):

    - ``visitors_in`` / ``visitors_out``: crossings of all lines today (``total_increasing``: the
      reset at local midnight starts a new cycle), attributes ``date``, ``lines``, ``hourly``,
      ``peak_hour``;
    - ``line_<line>_in`` / ``line_<line>_out``: per line, only when the camera has more than one;
    - ``occupancy``: people in view now;
    - ``zone_<zone>_occupancy``, ``zone_<zone>_dwell`` (average dwell, seconds; attributes
      ``median_s`` and ``visits``);
    - diagnostics ``fps``, ``inference_ms``, ``dropped_frames``;
    - ``heatmap``: an ``image`` entity (PNG).
    """
    topics = camera_topics(config, camera)
    device_id = device_identifier(camera)
    shared: dict[str, Any] = {
        "device": {
            "identifiers": [device_id],
            "name": camera.name,
            "manufacturer": MANUFACTURER,
            "model": MODEL,
            "sw_version": __version__,
        },
        "origin": {"name": ORIGIN_NAME, "sw_version": __version__, "support_url": SUPPORT_URL},
        "availability": [
            {
                "topic": bridge_availability_topic(config),
                "payload_available": PAYLOAD_ONLINE,
                "payload_not_available": PAYLOAD_OFFLINE,
            },
            {
                "topic": topics.availability,
                "payload_available": PAYLOAD_ONLINE,
                "payload_not_available": PAYLOAD_OFFLINE,
            },
        ],
        "availability_mode": "all",
        "qos": 1,
    }
    messages: list[tuple[str, dict[str, Any]]] = []

    def add(component: str, key: str, name: str, **options: Any) -> None:
        object_id = f"{device_id}_{key}"
        payload: dict[str, Any] = {
            "name": name,
            "unique_id": object_id,
            # ``object_id`` sets the entity id up to Home Assistant 2025.9; 2025.10 deprecated it
            # for ``default_entity_id``. Older versions drop the unknown key, newer ones prefer it.
            "object_id": object_id,
            "default_entity_id": f"{component}.{object_id}",
            **options,
            **shared,
        }
        messages.append((discovery_topic(config, camera, component, key), payload))

    def sensor(key: str, name: str, value_template: str, **options: Any) -> None:
        add("sensor", key, name, state_topic=topics.state, value_template=value_template, **options)

    directions = (("in", "mdi:account-arrow-right"), ("out", "mdi:account-arrow-left"))
    for direction, icon in directions:
        sensor(
            f"visitors_{direction}",
            f"Visitors {direction} today",
            f"{{{{ value_json.{direction}_today }}}}",
            state_class="total_increasing",
            unit_of_measurement=UNIT_VISITORS,
            icon=icon,
            json_attributes_topic=topics.state,
            json_attributes_template=_ATTRIBUTES_TEMPLATE,
        )
    if len(camera.lines) > 1:
        for line in camera.lines:
            line_key = _quoted(line.key)
            labels = {"in": line.in_name, "out": line.out_name}
            for direction, icon in directions:
                label = labels[direction]
                sensor(
                    f"line_{line.key}_{direction}",
                    f"{line.name} {label}",
                    f"{{{{ value_json.lines[{line_key}]['{direction}'] }}}}",
                    state_class="total_increasing",
                    unit_of_measurement=UNIT_VISITORS,
                    icon=icon,
                )
    sensor(
        "occupancy",
        "Occupancy",
        "{{ value_json.occupancy }}",
        state_class="measurement",
        unit_of_measurement=UNIT_PEOPLE,
        icon="mdi:account-group",
    )
    for zone in camera.zones:
        zone_key = _quoted(zone.key)
        sensor(
            f"zone_{zone.key}_occupancy",
            f"{zone.name} occupancy",
            f"{{{{ value_json.zones[{zone_key}].occupancy }}}}",
            state_class="measurement",
            unit_of_measurement=UNIT_PEOPLE,
            icon="mdi:account-group",
        )
        sensor(
            f"zone_{zone.key}_dwell",
            f"{zone.name} average dwell",
            # None (no completed visit yet) renders as "None", which the sensor reads as unknown.
            f"{{{{ value_json.zones[{zone_key}].dwell_average_s }}}}",
            device_class="duration",
            state_class="measurement",
            unit_of_measurement="s",
            suggested_display_precision=0,
            json_attributes_topic=topics.state,
            json_attributes_template=(
                f"{{{{ {{'median_s': value_json.zones[{zone_key}].dwell_median_s,"
                f" 'visits': value_json.zones[{zone_key}].visits}} | tojson }}}}"
            ),
        )
    # The pipeline adds the diagnostics to the state; a state without them reads as unknown.
    sensor(
        "fps",
        "FPS",
        "{{ value_json.fps | default(None) }}",
        state_class="measurement",
        unit_of_measurement=UNIT_FPS,
        suggested_display_precision=1,
        entity_category="diagnostic",
        icon="mdi:speedometer",
    )
    sensor(
        "inference_ms",
        "Inference time",
        "{{ value_json.inference_ms | default(None) }}",
        device_class="duration",
        state_class="measurement",
        unit_of_measurement="ms",
        suggested_display_precision=1,
        entity_category="diagnostic",
    )
    sensor(
        "dropped_frames",
        "Dropped frames",
        "{{ value_json.dropped_frames | default(None) }}",
        state_class="total_increasing",
        unit_of_measurement=UNIT_FRAMES,
        entity_category="diagnostic",
        icon="mdi:filmstrip-off",
    )
    add(
        "image",
        "heatmap",
        "Heatmap",
        image_topic=topics.heatmap,
        content_type="image/png",
    )
    return messages


def discovery_topics(config: AppConfig) -> set[str]:
    """Every discovery topic of every configured camera."""
    return {topic for camera in config.cameras for topic, _ in discovery_messages(config, camera)}
