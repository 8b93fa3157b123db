"""Tests of careon_vision.config: good configurations, clear errors, no leaked credentials."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any
import zoneinfo

from hypothesis import HealthCheck, assume, given, settings, strategies as st
import pytest
import yaml

from careon_vision.config import (
    AppConfig,
    CameraConfig,
    ConfigError,
    DetectorConfig,
    LineConfig,
    ZoneConfig,
    apply_env_overrides,
    config_from_mapping,
    load_config,
    mask_url,
    slugify,
)

PASSWORD = "Sup3r-s3cret!"
MQTT_PASSWORD = "mqtt-pw-9876"
URL = f"rtsp://admin:{PASSWORD}@192.168.1.20:554/Streaming/Channels/101"

NESTED_YAML = f"""
timezone: Asia/Seoul
detector:
  backend: yolo
  model: /models/yolo11n.pt
  confidence: 0.35
mqtt:
  host: 192.168.1.2
  username: careon
  password: {MQTT_PASSWORD}
cameras:
  - id: front
    name: Front door
    url: {URL}
    fps: 8
    lines:
      - name: Door
        start: "0.1,0.6"
        end: [0.9, 0.6]
        in_name: Enter
        out_name: Leave
      - name: 입구
        start: 0.2 0.9
        end: 0.8 0.9
        invert: true
    zones:
      - name: Counter
        polygon: "0.1,0.1; 0.5,0.1; 0.5,0.4; 0.1,0.4"
      - name: 창가
        polygon: [[0.6, 0.1], [0.9, 0.1], [0.9, 0.5]]
  - id: hall
    name: Hall
    url: rtsp://192.168.1.21/stream
    detector:
      confidence: 0.6
"""


def _camera(**extra: Any) -> dict[str, Any]:
    return {"id": "front", "name": "Front", "url": URL, **extra}


def _flat(**extra: Any) -> dict[str, Any]:
    """The add-on's options layout: top-level lines and zones naming their camera."""
    data: dict[str, Any] = {
        "cameras": [_camera()],
        "lines": [{"camera": "front", "name": "Door", "start": "0.1,0.5", "end": "0.9,0.5"}],
        "zones": [
            {"camera": "front", "name": "Counter", "polygon": "0.1,0.1; 0.5,0.1; 0.5,0.5"},
            {"camera": "front", "name": "Tables", "polygon": "0.5,0.5; 0.9,0.5; 0.9,0.9; 0.5,0.9"},
        ],
        "detector": {"backend": "yolo", "model": "yolo11n.pt", "confidence": 0.4},
        "timezone": "Asia/Seoul",
        "log_level": "info",
    }
    data.update(extra)
    return data


def _error(data: Any) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        config_from_mapping(data)
    return info.value


def _outcome(data: Any) -> AppConfig | ConfigError:
    """The configuration, or the ConfigError; any other exception propagates (a bug)."""
    try:
        return config_from_mapping(data)
    except ConfigError as error:
        return error


def _assert_no_secret(text: str) -> None:
    assert PASSWORD not in text
    assert MQTT_PASSWORD not in text
    assert "admin:" not in text or "admin:***" in text


# --- good configurations ---------------------------------------------------------------------------


def test_nested_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "vision.yaml"
    path.write_text(NESTED_YAML, encoding="utf-8")
    config = load_config(path)

    assert [camera.id for camera in config.cameras] == ["front", "hall"]
    front, hall = config.cameras
    assert front.url == URL  # the real URL is kept for the capture
    assert front.fps == 8.0
    door, entrance = front.lines
    assert door.start == (0.1, 0.6)
    assert door.end == (0.9, 0.6)
    assert (door.in_name, door.out_name) == ("Enter", "Leave")
    assert door.key == "door"
    assert entrance.key == "line_2"  # not ASCII: positional key
    assert entrance.invert is True
    assert entrance.start == (0.2, 0.9)
    assert [zone.key for zone in front.zones] == ["counter", "zone_2"]
    assert front.zones[0].polygon == [(0.1, 0.1), (0.5, 0.1), (0.5, 0.4), (0.1, 0.4)]
    assert config.tz == zoneinfo.ZoneInfo("Asia/Seoul")
    assert config.mqtt.password is not None
    assert config.mqtt.password.get_secret_value() == MQTT_PASSWORD
    # The camera without detector options uses the global one; the other merges its options.
    assert config.detector_for(front) is config.detector
    hall_detector = config.detector_for(hall)
    assert hall_detector.confidence == 0.6
    assert hall_detector.model == "/models/yolo11n.pt"
    assert hall.lines == []
    assert hall.zones == []


def test_json_file(tmp_path: Path) -> None:
    path = tmp_path / "vision.json"
    path.write_text(json.dumps(yaml.safe_load(NESTED_YAML)), encoding="utf-8")
    config = load_config(str(path))
    assert config.cameras[0].lines[0].key == "door"


def test_flat_addon_layout_is_attached_to_cameras() -> None:
    data = _flat(
        cameras=[_camera(), {"id": "hall", "name": "Hall", "url": "rtsp://10.0.0.2/s"}],
    )
    data["lines"].append({"camera": "hall", "name": "홀", "start": "0,0.5", "end": "1,0.5"})
    config = config_from_mapping(data)
    front, hall = config.cameras
    assert [line.key for line in front.lines] == ["door"]
    assert [zone.key for zone in front.zones] == ["counter", "tables"]
    assert [line.key for line in hall.lines] == ["line_1"]
    assert config.lines == []
    assert config.zones == []
    # Round trip: the dump is the nested layout and validates again to the same configuration.
    dumped = config.model_dump(mode="json")
    assert "lines" not in dumped
    dumped["mqtt"]["password"] = None
    again = config_from_mapping(dumped)
    assert again.cameras[1].lines[0].key == "line_1"
    assert again.cameras[0].zones == front.zones


def test_flat_items_numbered_after_nested_ones() -> None:
    camera = _camera(lines=[{"name": "정문", "start": "0,0.5", "end": "1,0.5"}])
    data = _flat(cameras=[camera])
    data["lines"] = [{"camera": "front", "name": "후문", "start": "0,0.2", "end": "1,0.2"}]
    config = config_from_mapping(data)
    assert [line.key for line in config.cameras[0].lines] == ["line_1", "line_2"]


def test_minimal_config_defaults() -> None:
    config = config_from_mapping({"cameras": [{"id": "c1", "name": "C", "url": "/tmp/v.mp4"}]})
    assert config.timezone == "Asia/Seoul"
    assert config.mqtt.host == "core-mosquitto"
    assert config.mqtt.port == 1883
    assert config.detector == DetectorConfig()
    assert config.data_dir == Path("/data")
    assert config.cameras[0].heatmap.grid == (64, 48)
    assert config.log_level == "info"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0.2,0.5", (0.2, 0.5)),
        ("0.2, 0.5", (0.2, 0.5)),
        ("0.2 0.5", (0.2, 0.5)),
        ("(0.2, 0.5)", (0.2, 0.5)),
        ("[1, 0]", (1.0, 0.0)),
        ([0.2, 0.5], (0.2, 0.5)),
        (["0.2", "0.5"], (0.2, 0.5)),
        ((0, 1), (0.0, 1.0)),
        ({"x": 0.3, "y": 0.4}, (0.3, 0.4)),
        (".5,1e-1", (0.5, 0.1)),
    ],
)
def test_point_formats(value: Any, expected: tuple[float, float]) -> None:
    line = LineConfig.model_validate({"name": "L", "start": value, "end": "0.77,0.77"})
    assert line.start == pytest.approx(expected)


@pytest.mark.parametrize(
    "polygon",
    [
        "0.1,0.1; 0.9,0.1; 0.9,0.9",
        "0.1,0.1;0.9,0.1;0.9,0.9;0.1,0.1",  # closed ring: the repeated point is dropped
        "0.1,0.1 0.9,0.1 0.9,0.9",
        [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9]],
        ["0.1,0.1", "0.9,0.1", "0.9,0.9"],
        [0.1, 0.1, 0.9, 0.1, 0.9, 0.9],
    ],
)
def test_polygon_formats(polygon: Any) -> None:
    zone = ZoneConfig.model_validate({"name": "Z", "polygon": polygon})
    assert zone.polygon == [(0.1, 0.1), (0.9, 0.1), (0.9, 0.9)]


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Door", "door"),
        ("Front Door #2", "front_door_2"),
        ("  Side-entrance  ", "side_entrance"),
        ("입구", "line_1"),
        ("입구 Door", "line_1"),  # not entirely ASCII: positional
        ("!!!", "line_1"),
    ],
)
def test_line_keys(name: str, key: str) -> None:
    config = config_from_mapping(
        {"cameras": [_camera(lines=[{"name": name, "start": "0,0", "end": "1,1"}])]}
    )
    assert config.cameras[0].lines[0].key == key


def test_slugify() -> None:
    assert slugify("Cash Desk") == "cash_desk"
    assert slugify("카운터") == ""
    assert slugify("__A__b__") == "a_b"


def test_explicit_id_wins() -> None:
    line = {"name": "입구", "id": "entrance", "start": "0,0", "end": "1,1"}
    config = config_from_mapping({"cameras": [_camera(lines=[line])]})
    assert config.cameras[0].lines[0].key == "entrance"
    blank = {**line, "id": ""}
    config = config_from_mapping({"cameras": [_camera(lines=[blank])]})
    assert config.cameras[0].lines[0].key == "line_1"


def test_lenient_values() -> None:
    config = config_from_mapping(
        {
            "cameras": [_camera(detector_confidence="0.55", detector_device=0)],
            "log_level": "WARN",
            "mqtt": {"username": "", "password": ""},
            "detector": {"backend": "SSD_ONNX", "model": "/m/p.onnx"},
        }
    )
    camera = config.cameras[0]
    assert config.log_level == "warning"
    assert config.mqtt.username is None
    assert config.mqtt.password is None
    detector = config.detector_for(camera)
    assert detector.backend == "ssd_onnx"
    assert detector.confidence == 0.55
    assert detector.device == "0"
    assert detector.model == "/m/p.onnx"


def test_camera_detector_override_is_checked_after_merge() -> None:
    error = _error(
        {"cameras": [_camera(detector={"backend": "ssd_onnx"})], "detector": {"model": "y.pt"}}
    )
    assert str(error) == "cameras[0].detector.model: the ssd_onnx backend needs an .onnx model file"


# --- errors ----------------------------------------------------------------------------------------


def _set(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """Copy of ``data`` with ``path`` ("cameras.0.lines.1.start") set to ``value``."""
    result = copy.deepcopy(data)
    target: Any = result
    parts = path.split(".")
    for part in parts[:-1]:
        target = target[int(part)] if isinstance(target, list) else target[part]
    last = parts[-1]
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return result


NESTED = yaml.safe_load(NESTED_YAML)


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("cameras.0.lines.1.start", "1.2,0.5", "cameras[0].lines[1].start: coordinates"),
        ("cameras.0.lines.1.start", "-0.1,0.5", "cameras[0].lines[1].start: coordinates"),
        ("cameras.0.lines.0.end", "0.5", 'cameras[0].lines[0].end: a point is written "x,y"'),
        ("cameras.0.lines.0.end", [0.1, 0.2, 0.3], "cameras[0].lines[0].end: a point needs"),
        ("cameras.0.lines.0.end", "0.1,0.6", "cameras[0].lines[0].end: a line needs two diff"),
        ("cameras.0.lines.0.end", "nan,0.5", "cameras[0].lines[0].end:"),
        ("cameras.0.lines.0.end", [True, 0.5], "cameras[0].lines[0].end: x must be a number"),
        ("cameras.0.lines.0.name", "  ", "cameras[0].lines[0].name: must not be empty"),
        ("cameras.0.lines.0.id", "Front Door", "cameras[0].lines[0].id: use only lower-case"),
        ("cameras.0.lines.0.hysteresis", -1, "cameras[0].lines[0].hysteresis: must be greater"),
        ("cameras.0.lines.0.anchor", "feet", "cameras[0].lines[0].anchor: must be one of"),
        ("cameras.0.lines.0.invert", "maybe", "cameras[0].lines[0].invert: must be a valid bool"),
        ("cameras.0.zones.0.polygon", "0,0; 0.5,0.5", "cameras[0].zones[0].polygon: a zone needs"),
        ("cameras.0.zones.0.polygon", "0,0; 0.5,0.5; 1,1", "cameras[0].zones[0].polygon: the zone"),
        (
            "cameras.0.zones.0.polygon",
            "0,0; 1,0; 0.2,1; 0.8,0.5",
            "cameras[0].zones[0].polygon: the zone's outline crosses itself",
        ),
        ("cameras.0.zones.0.polygon", "0,0; 0,0; 1,1", "cameras[0].zones[0].polygon: a zone's"),
        ("cameras.0.zones.0.polygon", "0,0; 2,0; 1,1", "cameras[0].zones[0].polygon[1]: coord"),
        ("cameras.0.zones.0.polygon", [0.1, 0.2, 0.3], "cameras[0].zones[0].polygon: a flat list"),
        ("cameras.0.zones.0.enter_frames", 0, "cameras[0].zones[0].enter_frames: must be greater"),
        ("cameras.0.id", "Front", "cameras[0].id: use only lower-case"),
        ("cameras.0.id", "", "cameras[0].id:"),
        ("cameras.1.id", "front", "cameras[1].id: camera id 'front' is already used by cameras[0]"),
        ("cameras.0.fps", 0, "cameras[0].fps: must be greater than 0"),
        ("cameras.0.fps", 60, "cameras[0].fps: must be less than or equal to 30"),
        ("cameras.0.fps", "fast", "cameras[0].fps: must be a valid number"),
        ("cameras.0.capture", "vlc", "cameras[0].capture: must be one of"),
        ("cameras.0.buffer_frames", 0, "cameras[0].buffer_frames:"),
        ("cameras.0.url", "", "cameras[0].url: must not be empty"),
        ("cameras.0.url", "ftp://u:pw@host/x", "cameras[0].url: unsupported URL scheme"),
        ("cameras.0.url", "rtsp://:pw@/x", "cameras[0].url: the URL has no host"),
        ("cameras.0.url", "rtsp://u:p w@h/x", "cameras[0].url: the URL must not contain spaces"),
        ("cameras.0.url", "rtsp://u:pw@h:99999/x", "cameras[0].url: the URL's host or port"),
        ("cameras.0.heatmap", {"grid": "64 by 48"}, "cameras[0].heatmap.grid: the grid is"),
        ("cameras.0.heatmap", {"grid": [0, 48]}, "cameras[0].heatmap.grid: the grid needs"),
        ("cameras.0.heatmap", {"half_life_s": 0}, "cameras[0].heatmap.half_life_s: must be"),
        ("cameras.0.lines", "Door", "cameras[0].lines: must be a valid list"),
        ("cameras.0.detector", "fast", "cameras[0].detector: must be a valid dictionary"),
        ("cameras.1.detector", {"confidence": 1.5}, "cameras[1].detector.confidence: must be"),
        ("cameras.1.detector", {"confidance": 0.5}, "did you mean 'confidence'?"),
        ("cameras", [], "cameras: List should have at least 1 item"),
        ("cameras", None, "cameras: must be a valid list"),
        ("detector.backend", "tensorflow", "detector.backend: must be one of"),
        ("detector.confidence", 0, "detector.confidence: must be greater than 0"),
        ("detector.image_size", 650, "detector.image_size: must be a multiple of 32"),
        ("detector.model", "", "detector.model: must not be empty"),
        ("timezone", "Asia/Busan", "timezone: unknown time zone 'Asia/Busan'"),
        ("timezone", "../../etc/passwd", "timezone: unknown time zone"),
        ("mqtt.port", 0, "mqtt.port: must be greater than or equal to 1"),
        ("mqtt.port", "mqtt", "mqtt.port: must be a valid integer"),
        ("mqtt.base_topic", "careon/#", "mqtt.base_topic: a topic prefix must not contain"),
        ("mqtt.password", 1234, "mqtt.password: must be a valid string"),
        ("log_level", "verbose", "log_level: must be one of 'debug', 'info', 'warning' or 'error'"),
        ("publish_interval_s", -1, "publish_interval_s: must be greater than 0"),
        ("dwell_window", 0, "dwell_window: must be greater than or equal to 1"),
        ("data_dir", 5, "data_dir:"),
        ("extra_option", 1, "extra_option: unknown option"),
        ("cameras.0.lines.0.colour", "red", "cameras[0].lines[0].colour: unknown option"),
    ],
)
def test_bad_values_name_their_path(path: str, value: Any, expected: str) -> None:
    error = _error(_set(NESTED, path, value))
    assert expected in str(error), str(error)
    for line in error.problems:
        assert ": " in line
    _assert_no_secret(str(error))


def test_missing_required_options() -> None:
    data = copy.deepcopy(NESTED)
    del data["cameras"][0]["url"]
    del data["cameras"][0]["lines"][1]["end"]
    error = _error(data)
    assert error.problems == [
        "cameras[0].url: required option is missing",
        "cameras[0].lines[1].end: required option is missing",
    ]
    assert _error({}).problems == ["cameras: required option is missing"]


def test_several_problems_one_line_each() -> None:
    data = _set(NESTED, "timezone", "Nowhere")
    data = _set(data, "cameras.0.fps", -2)
    data = _set(data, "mqtt.port", 0)
    lines = str(_error(data)).splitlines()
    assert len(lines) == 3
    assert {line.split(":")[0] for line in lines} == {"timezone", "cameras[0].fps", "mqtt.port"}


def test_duplicate_line_and_zone_keys() -> None:
    camera = _camera(
        lines=[
            {"name": "Door", "start": "0,0", "end": "1,1"},
            {"name": "door", "start": "0,1", "end": "1,0"},
            {"name": "입구", "start": "0,1", "end": "1,0"},
            {"name": "Back", "id": "line_3", "start": "0,1", "end": "1,0"},
        ],
        zones=[
            {"name": "A", "polygon": "0,0; 1,0; 1,1"},
            {"name": "B", "id": "a", "polygon": "0,0; 1,0; 1,1"},
        ],
    )
    error = _error({"cameras": [camera]})
    assert error.problems == [
        "cameras[0].lines[1].name: line key 'door' is already used by lines[0]; "
        "give one of them a different name or an id",
        "cameras[0].lines[3].name: line key 'line_3' is already used by lines[2]; "
        "give one of them a different name or an id",
        "cameras[0].zones[1].name: zone key 'a' is already used by zones[0]; "
        "give one of them a different name or an id",
    ]


def test_flat_layout_errors_name_the_flat_path() -> None:
    data = _flat()
    data["lines"].append({"camera": "back", "name": "X", "start": "0,0", "end": "1,1"})
    data["zones"].append({"camera": "front", "name": "counter", "polygon": "0,0; 1,0; 1,1"})
    error = _error(data)
    assert error.problems == [
        "lines[1].camera: no camera has the id 'back' (camera ids: 'front')",
        "zones[2].name: zone key 'counter' is already used by zones[0] on camera 'front'; "
        "give one of them a different name or an id",
    ]
    data = _flat()
    data["lines"][0]["start"] = "5,5"
    del data["zones"][1]["camera"]
    problems = _error(data).problems
    assert problems[0].startswith("lines[0].start: coordinates are relative")
    assert problems[1] == "zones[1].camera: required option is missing"


@pytest.mark.parametrize("data", [None, [], "cameras: []", 5])
def test_not_a_mapping(data: Any) -> None:
    assert "mapping" in str(_error(data))


def test_non_text_keys() -> None:
    assert "option names must be text" in str(_error({1: "x"}))


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.yaml: configuration file not found"):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="empty"):
        load_config(empty)
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(binary)
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(listing)
    broken_json = tmp_path / "broken.json"
    broken_json.write_text('{"cameras": [', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"invalid JSON at line 1, column 14"):
        load_config(broken_json)


def test_yaml_syntax_error_does_not_quote_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(f"cameras:\n  - id: front\n    url: {URL}\n   name: x: y\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: invalid YAML at line 4")
    assert "\n" not in message
    _assert_no_secret(message)


def test_validation_errors_from_a_file_name_the_path(tmp_path: Path) -> None:
    path = tmp_path / "vision.yaml"
    path.write_text(NESTED_YAML.replace("end: [0.9, 0.6]", 'end: "0.9;"'), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"^cameras\[0\]\.lines\[0\]\.end: a point is written"):
        load_config(path)


# --- secrets ---------------------------------------------------------------------------------------


def test_no_credentials_in_repr_or_str() -> None:
    config = config_from_mapping(yaml.safe_load(NESTED_YAML))
    for text in (repr(config), str(config), repr(config.cameras[0]), str(config.mqtt)):
        _assert_no_secret(text)
    assert "admin:***@192.168.1.20" in repr(config.cameras[0])
    assert config.cameras[0].safe_url == mask_url(URL)


@pytest.mark.parametrize(
    "mutation",
    [
        {"cameras": [_camera(url=f"ftp://admin:{PASSWORD}@h/x")]},
        {"cameras": [_camera(url=f"rtsp://admin:{PASSWORD}@h:abc/x")]},
        {"cameras": [_camera(url=f"rtsp://admin:{PASSWORD} @h/x")]},
        {"cameras": [_camera(url=f"rtsp://h/x?user=admin&password={PASSWORD}", fps=0)]},
        {"cameras": [_camera(url=f"rtsp://admin:{PASSWORD}@[::1/x")]},
        {"cameras": [_camera(url=[URL])]},
        {"cameras": [_camera(url={"u": URL})]},
        {"cameras": [_camera()], "mqtt": {"password": MQTT_PASSWORD, "port": -1}},
        {"cameras": [_camera()], "mqtt": {"password": [MQTT_PASSWORD]}},
        {"cameras": [_camera()], "mqtt": {"pasword": MQTT_PASSWORD}},
        {"cameras": [_camera(), _camera()]},
        {"cameras": [_camera(id=PASSWORD)]},
        {"cameras": [_camera(name=PASSWORD, fps="x")], "timezone": "Mars/Olympus"},
    ],
)
def test_no_credentials_in_errors(mutation: dict[str, Any]) -> None:
    error = _error(mutation)
    _assert_no_secret(str(error))
    _assert_no_secret(repr(error))
    assert error.__cause__ is None
    assert error.__suppress_context__


def test_mask_url() -> None:
    assert mask_url("rtsp://user:pass@host/x") == "rtsp://user:***@host/x"
    assert (
        mask_url("rtsp://user:p%40ss@10.0.0.1:554/s?ch=1") == "rtsp://user:***@10.0.0.1:554/s?ch=1"
    )
    assert mask_url("rtsp://user@host/x") == "rtsp://user@host/x"
    assert mask_url("rtsp://host/x") == "rtsp://host/x"
    assert mask_url("http://cam/snap?user=admin&password=pw&x=1") == (
        "http://cam/snap?user=admin&password=***&x=1"
    )
    assert mask_url("/videos/v.mp4") == "/videos/v.mp4"
    assert mask_url("rtsp://u:pw@[::1/x") == "rtsp://***"


# --- environment -----------------------------------------------------------------------------------


def test_env_overrides() -> None:
    config = config_from_mapping(_flat())
    updated = apply_env_overrides(
        config,
        {
            "CAREON_MQTT_HOST": "core-mosquitto.local",
            "CAREON_MQTT_PORT": "8883",
            "CAREON_MQTT_USERNAME": "addons",
            "CAREON_MQTT_PASSWORD": MQTT_PASSWORD,
            "UNRELATED": "x",
        },
    )
    assert updated.mqtt.host == "core-mosquitto.local"
    assert updated.mqtt.port == 8883
    assert updated.mqtt.username == "addons"
    assert updated.mqtt.password is not None
    assert updated.mqtt.password.get_secret_value() == MQTT_PASSWORD
    assert updated.cameras == config.cameras
    assert config.mqtt.host == "core-mosquitto"  # the original is untouched
    _assert_no_secret(repr(updated))


def test_env_overrides_empty_or_unset_keep_options() -> None:
    config = config_from_mapping(_flat(mqtt={"host": "broker", "password": "keep"}))
    assert apply_env_overrides(config, {}) is config
    same = apply_env_overrides(config, {"CAREON_MQTT_HOST": "", "CAREON_MQTT_PORT": " "})
    assert same.mqtt.host == "broker"
    user_only = apply_env_overrides(config, {"CAREON_MQTT_USERNAME": "u"})
    assert user_only.mqtt.password is not None
    assert user_only.mqtt.password.get_secret_value() == "keep"


def test_env_overrides_default_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAREON_MQTT_HOST", "from-env")
    config = config_from_mapping(_flat())
    assert apply_env_overrides(config).mqtt.host == "from-env"


@pytest.mark.parametrize("port", ["abc", "0", "70000"])
def test_env_override_bad_port(port: str) -> None:
    config = config_from_mapping(_flat())
    with pytest.raises(ConfigError, match=r"^mqtt\.port: .*CAREON_MQTT_\* environment") as info:
        apply_env_overrides(
            config, {"CAREON_MQTT_PORT": port, "CAREON_MQTT_PASSWORD": MQTT_PASSWORD}
        )
    _assert_no_secret(str(info.value))


# --- models used directly --------------------------------------------------------------------------


def test_standalone_models() -> None:
    line = LineConfig(name="입구", start=(0.1, 0.5), end=(0.9, 0.5))
    assert line.key == "line_1"
    zone = ZoneConfig(name="Counter", polygon=[(0, 0), (1, 0), (1, 1)])
    assert zone.key == "counter"
    camera = CameraConfig(id="c", name="C", url=URL, lines=[line, line])
    assert [x.key for x in camera.lines] == ["line_1", "line_2"]
    config = AppConfig(cameras=[camera])
    assert config.camera("c") is config.cameras[0]
    with pytest.raises(KeyError):
        config.camera("nope")


# --- fuzzing ---------------------------------------------------------------------------------------

_OPTION_NAMES = [
    "cameras", "lines", "zones", "detector", "timezone", "mqtt", "id", "name", "url", "fps",
    "start", "end", "polygon", "camera", "backend", "model", "confidence", "port", "password",
    "log_level", "heatmap", "grid", "invert", "detector_confidence", "image_size",
]  # fmt: skip

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["0.5,0.5", "0,0; 1,0; 1,1", "rtsp://u:pw@h/x", "front", "yolo", "1e400"]),
)
_values = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(_OPTION_NAMES) | st.text(max_size=6), children, max_size=5),
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(_OPTION_NAMES) | st.text(max_size=8), _values, max_size=6))
def test_fuzz_random_mappings(data: dict[str, Any]) -> None:
    outcome = _outcome(data)
    if isinstance(outcome, ConfigError):
        assert outcome.problems
        assert all(problem.strip() for problem in outcome.problems)
    else:
        assert isinstance(outcome, AppConfig)


@settings(max_examples=200, deadline=None)
@given(
    base=st.sampled_from([NESTED, _flat()]),
    path=st.sampled_from(
        [
            "cameras.0.fps",
            "cameras.0.lines",
            "cameras.0.url",
            "cameras.0.id",
            "cameras.0",
            "detector",
            "detector.confidence",
            "timezone",
            "mqtt",
            "zones",
            "lines",
            "cameras.0.detector",
        ]
    ),  # fmt: skip
    value=_values,
)
def test_fuzz_mutated_configs(base: dict[str, Any], path: str, value: Any) -> None:
    try:
        data = _set(base, path, value)
    except (KeyError, IndexError, TypeError):
        return  # the path does not exist in this layout
    outcome = _outcome(data)
    if isinstance(outcome, ConfigError):
        _assert_no_secret(str(outcome))


@given(
    x=st.floats(min_value=0, max_value=1),
    y=st.floats(min_value=0, max_value=1),
    sep=st.sampled_from([",", ", ", " ", " , ", ";"]),
)
def test_fuzz_point_strings_round_trip(x: float, y: float, sep: str) -> None:
    assume((x, y) != (0.5, 0.5))
    line = LineConfig.model_validate({"name": "L", "start": f"{x!r}{sep}{y!r}", "end": "0.5,0.5"})
    assert line.start == (x, y)


def test_env_timezone_override() -> None:
    config = config_from_mapping(_flat(timezone=None))
    assert config.timezone == "Asia/Seoul"  # null takes the default
    updated = apply_env_overrides(config, {"CAREON_TIMEZONE": "Europe/Berlin"})
    assert updated.tz == zoneinfo.ZoneInfo("Europe/Berlin")
    with pytest.raises(ConfigError, match=r"^timezone: unknown time zone .*CAREON_TIMEZONE"):
        apply_env_overrides(config, {"CAREON_TIMEZONE": "Mars/Base"})


def test_null_options_take_their_defaults() -> None:
    data = _flat(log_level=None, lines=None)
    data["cameras"][0].update({"fps": None, "capture": None, "detector": None})
    data["zones"][0].update({"enter_frames": None, "id": None})
    config = config_from_mapping(data)
    camera = config.cameras[0]
    assert (camera.fps, camera.capture, camera.detector) == (5.0, "ffmpeg", None)
    assert camera.lines == []
    assert camera.zones[0].enter_frames == 3
    assert config.log_level == "info"
    assert "cameras: must be a valid list" in str(_error({"cameras": None}))
