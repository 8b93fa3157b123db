"""CareOn Vision's MQTT discovery payloads, loaded by Home Assistant's own MQTT integration.

The add-on (vision_addon/, its own Python package) publishes these payloads to a real broker; here
they are fed to the MQTT integration of a test ``hass`` to prove Home Assistant accepts them: the
entities appear with the right units, device and state classes, one device per camera, their states
follow the JSON state topic, the heatmap is an ``image`` entity, and nothing is logged about them.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
import json
import logging
from pathlib import Path
import sys
from typing import Any
from unittest.mock import Mock

from homeassistant.components.image.const import DATA_COMPONENT as IMAGE_COMPONENT

# Imported here, not first by pytest-homeassistant-custom-component's mqtt_client_mock: it patches
# this module from inside the event loop, where Home Assistant 2026.x reports the import as a
# blocking call (2025.x had imported it before).
import homeassistant.components.mqtt.client  # noqa: F401
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN, EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import async_fire_mqtt_message

# The add-on's package lives in vision_addon/ (not installed in Home Assistant's environment):
# discovery.py and config.py need only the standard library, pydantic and PyYAML.
VISION_ADDON = Path(__file__).resolve().parents[1] / "vision_addon"
if str(VISION_ADDON) not in sys.path:
    sys.path.insert(0, str(VISION_ADDON))

from careon_vision import __version__  # noqa: E402
from careon_vision.config import AppConfig, config_from_mapping  # noqa: E402
from careon_vision.discovery import (  # noqa: E402
    bridge_availability_topic,
    camera_topics,
    discovery_messages,
)

ENTRANCE = "sensor.careon_vision_entrance_"
STATE = {
    "date": "2026-11-22",
    "updated": "2026-11-22T10:00:00+09:00",
    "in_today": 7,
    "out_today": 5,
    "lines": {
        "door": {"name": "Door", "in": 4, "out": 3, "in_name": "In", "out_name": "Out"},
        "side_gate": {
            "name": "Side gate",
            "in": 3,
            "out": 2,
            "in_name": "Enter",
            "out_name": "Leave",
        },
    },
    "occupancy": 2,
    "zones": {
        "counter": {
            "name": "Counter",
            "occupancy": 1,
            "dwell_average_s": 12.5,
            "dwell_median_s": 10.0,
            "visits": 4,
        },
        "window": {
            "name": "Window",
            "occupancy": 0,
            "dwell_average_s": None,
            "dwell_median_s": None,
            "visits": 0,
        },
    },
    "hourly": {"09": 3, "10": 4},
    "peak_hour": "10",
    "fps": 9.8,
    "inference_ms": 14.2,
    "dropped_frames": 3,
}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _config() -> AppConfig:
    return config_from_mapping(
        {
            "cameras": [
                {
                    "id": "entrance",
                    "name": "Entrance",
                    "url": "rtsp://viewer:secret@192.0.2.10/stream1",
                    "lines": [
                        {"name": "Door", "start": "0.1,0.6", "end": "0.9,0.6"},
                        {
                            "name": "Side gate",
                            "start": "0.1,0.2",
                            "end": "0.1,0.9",
                            "in_name": "Enter",
                            "out_name": "Leave",
                        },
                    ],
                    "zones": [
                        {"name": "Counter", "polygon": "0.1,0.1; 0.5,0.1; 0.5,0.5"},
                        {"name": "Window", "polygon": "0.6,0.1; 0.9,0.1; 0.9,0.5; 0.6,0.5"},
                    ],
                },
                {
                    "id": "hall",
                    "name": "Hall",
                    "url": "rtsp://192.0.2.11/stream1",
                    "lines": [{"name": "Stairs", "start": "0.2,0.5", "end": "0.8,0.5"}],
                },
            ]
        }
    )


async def _discover(hass: HomeAssistant, config: AppConfig, *, retain: bool = True) -> None:
    for camera in config.cameras:
        for topic, payload in discovery_messages(config, camera):
            async_fire_mqtt_message(hass, topic, json.dumps(payload), retain=retain)
    await hass.async_block_till_done()


# The broker flags a message "retained" only when it delivers it on a new subscription; live
# publications reach existing subscribers unflagged (and HA ignores a second retained message on a
# topic it already has one for). So only the first discovery is fired retained.
def _online(hass: HomeAssistant, config: AppConfig) -> None:
    async_fire_mqtt_message(hass, bridge_availability_topic(config), "online")
    for camera in config.cameras:
        async_fire_mqtt_message(hass, camera_topics(config, camera).availability, "online")


# Logged by the test harness itself, not about CareOn's payloads: phcc's MQTT fixture sets the
# entry up without the config-entries machinery, aiohttp's optional zlib accelerators, and the loader
# about this repository's own custom integration (enabled for every test by tests/conftest.py).
HARNESS_NOISE = (
    "without awaiting async_forward_entry_setups",
    "zlib_ng and isal are not available",
    "custom integration careon which has not been tested",
    # A timing report ("Updating state for X took 0.5 seconds") when the machine is busy.
    "Updating state for ",
)


def _problems(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Warnings and errors logged while discovering (fixture setup) and during the test."""
    return [
        f"{record.name}: {record.getMessage()}"
        for record in [*caplog.get_records("setup"), *caplog.get_records("call")]
        if record.levelno >= logging.WARNING
        # asyncio's debug mode reports slow callbacks ("Executing <Task …> took 0.105 seconds")
        # when the machine is busy: about the machine, not the payloads.
        and record.name != "asyncio"
        and not any(noise in record.getMessage() for noise in HARNESS_NOISE)
    ]


@pytest.fixture
async def vision(
    hass: HomeAssistant, mock_hass_config: None, mqtt_client_mock: Any, mqtt_mock_entry: Any
) -> AsyncGenerator[AppConfig]:
    """A test hass with the MQTT integration and CareOn Vision's two cameras discovered.

    ``mock_hass_config`` gives the MQTT integration an empty configuration.yaml to read.
    """
    await mqtt_mock_entry()
    config = _config()
    await _discover(hass, config)
    yield config
    # The mocked paho client never closes its socket, which is what stops the integration's
    # once-a-second housekeeping timer: close it as the real client would.
    mqtt_client_mock.on_socket_close(mqtt_client_mock, None, Mock(fileno=Mock(return_value=-1)))


async def test_entities_units_and_classes(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    vision: AppConfig,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Every entity is registered with the intended unit, device class, state class, category."""
    expected: dict[str, tuple[str | None, str | None, str | None, EntityCategory | None]] = {
        # entity id suffix: (unit, device class, state class, entity category)
        "visitors_in": ("visitors", None, "total_increasing", None),
        "visitors_out": ("visitors", None, "total_increasing", None),
        "line_door_in": ("visitors", None, "total_increasing", None),
        "line_door_out": ("visitors", None, "total_increasing", None),
        "line_side_gate_in": ("visitors", None, "total_increasing", None),
        "line_side_gate_out": ("visitors", None, "total_increasing", None),
        "occupancy": ("people", None, "measurement", None),
        "zone_counter_occupancy": ("people", None, "measurement", None),
        "zone_counter_dwell": ("s", "duration", "measurement", None),
        "zone_window_occupancy": ("people", None, "measurement", None),
        "zone_window_dwell": ("s", "duration", "measurement", None),
        "fps": ("fps", None, "measurement", EntityCategory.DIAGNOSTIC),
        "inference_ms": ("ms", "duration", "measurement", EntityCategory.DIAGNOSTIC),
        "dropped_frames": ("frames", None, "total_increasing", EntityCategory.DIAGNOSTIC),
    }
    for suffix, (unit, device_class, state_class, category) in expected.items():
        entity_id = ENTRANCE + suffix
        entry = entity_registry.async_get(entity_id)
        assert entry is not None, entity_id
        assert entry.unique_id == f"careon_vision_entrance_{suffix}"
        assert entry.platform == "mqtt"
        assert entry.unit_of_measurement == unit, entity_id
        assert entry.original_device_class == device_class, entity_id
        assert (entry.capabilities or {}).get("state_class") == state_class, entity_id
        assert entry.entity_category == category, entity_id
        # No state has arrived and neither availability topic said online yet.
        assert hass.states.get(entity_id).state == STATE_UNAVAILABLE  # type: ignore[union-attr]

    names = {
        ENTRANCE + "visitors_in": "Entrance Visitors in today",
        ENTRANCE + "line_side_gate_in": "Entrance Side gate Enter",
        ENTRANCE + "line_side_gate_out": "Entrance Side gate Leave",
        ENTRANCE + "zone_counter_dwell": "Entrance Counter average dwell",
        ENTRANCE + "inference_ms": "Entrance Inference time",
    }
    for entity_id, name in names.items():
        assert hass.states.get(entity_id).name == name  # type: ignore[union-attr]

    # One line on the hall camera: no per-line sensors, the totals say it all.
    hall = {
        entry.entity_id
        for entry in entity_registry.entities.values()
        if entry.unique_id.startswith("careon_vision_hall_")
    }
    assert hall == {
        "sensor.careon_vision_hall_visitors_in",
        "sensor.careon_vision_hall_visitors_out",
        "sensor.careon_vision_hall_occupancy",
        "sensor.careon_vision_hall_fps",
        "sensor.careon_vision_hall_inference_ms",
        "sensor.careon_vision_hall_dropped_frames",
        "image.careon_vision_hall_heatmap",
    }
    assert _problems(caplog) == []


async def test_one_device_per_camera(
    hass: HomeAssistant,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
    vision: AppConfig,
) -> None:
    """Each camera is one device (CareOn, CareOn Vision, the add-on's version) with its entities."""
    # MQTT's devices, looked up by identifier among them: no lookup by identifier exists in every
    # supported Home Assistant (async_get_device is deprecated in 2026.x, identifiers being unique
    # per config entry only; async_get_device_by_identifier is new there), nor one way to list the
    # whole registry (2026.x deprecates `devices` as a mapping; 2025.x iterates its ids).
    mqtt_devices = [
        device
        for mqtt_entry in hass.config_entries.async_entries("mqtt")
        for device in dr.async_entries_for_config_entry(device_registry, mqtt_entry.entry_id)
    ]
    for camera in vision.cameras:
        identifier = ("mqtt", f"careon_vision_{camera.id}")
        found = [device for device in mqtt_devices if identifier in device.identifiers]
        assert len(found) == 1, (camera.id, found)
        device = found[0]
        assert device.name == camera.name
        assert device.manufacturer == "CareOn"
        assert device.model == "CareOn Vision"
        assert device.sw_version == __version__
        entities = er.async_entries_for_device(entity_registry, device.id)
        assert {
            entry.unique_id.removeprefix(f"careon_vision_{camera.id}_") for entry in entities
        } >= {
            "visitors_in",
            "visitors_out",
            "occupancy",
            "heatmap",
        }
        assert all(entry.unique_id.startswith(f"careon_vision_{camera.id}_") for entry in entities)
    assert len(mqtt_devices) == len(vision.cameras)


async def test_states_from_state_payload(
    hass: HomeAssistant, vision: AppConfig, caplog: pytest.LogCaptureFixture
) -> None:
    """A state payload sets every sensor and the attributes; null dwell reads as unknown."""
    _online(hass, vision)
    entrance = camera_topics(vision, vision.cameras[0])
    async_fire_mqtt_message(hass, entrance.state, json.dumps(STATE))
    await hass.async_block_till_done()

    def state(suffix: str) -> str:
        return hass.states.get(ENTRANCE + suffix).state  # type: ignore[union-attr]

    assert state("visitors_in") == "7"
    assert state("visitors_out") == "5"
    assert state("line_door_in") == "4"
    assert state("line_door_out") == "3"
    assert state("line_side_gate_in") == "3"
    assert state("line_side_gate_out") == "2"
    assert state("occupancy") == "2"
    assert state("zone_counter_occupancy") == "1"
    assert float(state("zone_counter_dwell")) == 12.5
    assert state("zone_window_occupancy") == "0"
    assert state("zone_window_dwell") == STATE_UNKNOWN
    assert float(state("fps")) == 9.8
    assert float(state("inference_ms")) == 14.2
    assert state("dropped_frames") == "3"

    visitors_in = hass.states.get(ENTRANCE + "visitors_in")
    assert visitors_in is not None
    assert visitors_in.attributes["unit_of_measurement"] == "visitors"
    assert visitors_in.attributes["state_class"] == "total_increasing"
    assert visitors_in.attributes["hourly"] == {"09": 3, "10": 4}
    assert visitors_in.attributes["peak_hour"] == "10"
    assert visitors_in.attributes["date"] == "2026-11-22"
    assert visitors_in.attributes["lines"]["side_gate"]["in"] == 3
    dwell = hass.states.get(ENTRANCE + "zone_counter_dwell")
    assert dwell is not None
    assert dwell.attributes["median_s"] == 10.0
    assert dwell.attributes["visits"] == 4

    # The hall camera's stream is down: its entities are unavailable, the entrance's are not.
    async_fire_mqtt_message(hass, camera_topics(vision, vision.cameras[1]).availability, "offline")
    await hass.async_block_till_done()
    assert hass.states.get("sensor.careon_vision_hall_occupancy").state == STATE_UNAVAILABLE  # type: ignore[union-attr]
    assert state("occupancy") == "2"
    # The add-on's last will: everything is unavailable.
    async_fire_mqtt_message(hass, bridge_availability_topic(vision), "offline")
    await hass.async_block_till_done()
    assert state("occupancy") == STATE_UNAVAILABLE
    assert _problems(caplog) == []


async def test_state_without_diagnostics_and_daily_reset(
    hass: HomeAssistant, vision: AppConfig, caplog: pytest.LogCaptureFixture
) -> None:
    """A state without the pipeline's metrics leaves them unknown; the midnight reset is accepted."""
    _online(hass, vision)
    hall = camera_topics(vision, vision.cameras[1])
    bare = {
        "date": "2026-11-22",
        "updated": "2026-11-22T23:59:59+09:00",
        "in_today": 41,
        "out_today": 40,
        "lines": {
            "stairs": {"name": "Stairs", "in": 41, "out": 40, "in_name": "In", "out_name": "Out"}
        },
        "occupancy": 1,
        "zones": {},
        "hourly": {"23": 41},
        "peak_hour": "23",
    }
    async_fire_mqtt_message(hass, hall.state, json.dumps(bare))
    await hass.async_block_till_done()
    assert hass.states.get("sensor.careon_vision_hall_visitors_in").state == "41"  # type: ignore[union-attr]
    assert hass.states.get("sensor.careon_vision_hall_fps").state == STATE_UNKNOWN  # type: ignore[union-attr]
    reset = {
        **bare,
        "date": "2026-11-23",
        "in_today": 0,
        "out_today": 0,
        "hourly": {},
        "peak_hour": None,
    }
    async_fire_mqtt_message(hass, hall.state, json.dumps(reset))
    await hass.async_block_till_done()
    visitors_in = hass.states.get("sensor.careon_vision_hall_visitors_in")
    assert visitors_in is not None
    assert visitors_in.state == "0"
    assert visitors_in.attributes["peak_hour"] is None
    assert _problems(caplog) == []


async def test_heatmap_image_entity(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    vision: AppConfig,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The heatmap is an image entity serving the PNG bytes published on the heatmap topic."""
    entity_id = "image.careon_vision_entrance_heatmap"
    entry = entity_registry.async_get(entity_id)
    assert entry is not None
    assert entry.unique_id == "careon_vision_entrance_heatmap"
    _online(hass, vision)
    async_fire_mqtt_message(hass, camera_topics(vision, vision.cameras[0]).heatmap, PNG)
    await hass.async_block_till_done()
    state = hass.states.get(entity_id)
    assert state is not None
    assert state.state not in (STATE_UNKNOWN, STATE_UNAVAILABLE)  # the last update's time
    assert state.name == "Entrance Heatmap"
    entity = hass.data[IMAGE_COMPONENT].get_entity(entity_id)
    assert entity is not None
    assert entity.content_type == "image/png"
    assert await entity.async_image() == PNG
    assert _problems(caplog) == []


async def test_rediscovery_is_an_update(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    vision: AppConfig,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Publishing the same discovery again (HA's birth, a reconnect) creates no duplicates."""
    before = set(entity_registry.entities)
    await _discover(hass, vision, retain=False)
    assert set(entity_registry.entities) == before
    # An empty retained config (a zone removed from the add-on's options) removes the entity.
    topic = next(
        topic
        for topic, payload in discovery_messages(vision, vision.cameras[0])
        if payload["unique_id"] == "careon_vision_entrance_zone_window_dwell"
    )
    async_fire_mqtt_message(hass, topic, "")
    await hass.async_block_till_done()
    assert entity_registry.async_get(ENTRANCE + "zone_window_dwell") is None
    assert _problems(caplog) == []
