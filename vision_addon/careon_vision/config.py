"""Configuration of CareOn Vision: cameras, counting lines, zones, detector, MQTT.

The models are pydantic v2 models; their titles and descriptions document the options. Validators
accept what people type: a point as ``"0.2,0.5"``, ``"0.2 0.5"`` or ``[0.2, 0.5]``, a polygon as
``"0.1,0.1; 0.9,0.1; 0.9,0.9"`` or a list of points. Coordinates are *relative* to the image:
``x`` from 0 (left) to 1 (right), ``y`` from 0 (top) to 1 (bottom), so a configuration survives a
change of the camera's resolution.

Two layouts are accepted:

* nested (the CLI's YAML file): each camera carries its ``lines`` and ``zones``;
* flat (the Home Assistant add-on options, whose schema cannot nest three levels): top-level
  ``lines`` and ``zones`` lists whose items name their ``camera`` by id.

:func:`load_config` and :func:`config_from_mapping` raise :class:`ConfigError`, whose message has one
line per problem, each naming the option's path (``cameras[0].lines[1].start: ...``). The messages are
built here from pydantic's error types, never from the input values, so a password or the credentials
in a camera URL never appear in them (nor in the models' ``repr``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
import difflib
import json
import math
import os
from pathlib import Path
import re
import types
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
import zoneinfo

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
import yaml

__all__ = [
    "AppConfig",
    "CameraConfig",
    "ConfigError",
    "DetectorConfig",
    "FlatLineConfig",
    "FlatZoneConfig",
    "HeatmapConfig",
    "LineConfig",
    "MqttConfig",
    "Point",
    "ZoneConfig",
    "apply_env_overrides",
    "config_from_mapping",
    "load_config",
    "mask_url",
    "slugify",
]

_M = TypeVar("_M", bound=BaseModel)

Point = tuple[float, float]
"""A point in relative image coordinates: (x, y), both in [0, 1], x right, y down."""

KEY_PATTERN = r"^[a-z0-9_]+$"
_KEY_RE = re.compile(KEY_PATTERN)
_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_POINT_RE = re.compile(rf"^\s*[(\[]?\s*({_NUMBER})\s*(?:[,;]\s*|\s+)({_NUMBER})\s*[)\]]?\s*$")
_URL_SCHEMES = frozenset({"rtsp", "rtsps", "rtmp", "rtmps", "http", "https", "file"})
# Query parameters some cameras take credentials in (``...?user=admin&password=x``).
_SECRET_QUERY_KEYS = frozenset(
    {"password", "passwd", "pass", "pwd", "token", "key", "secret", "auth", "api_key", "apikey"}
)
_LOG_LEVEL_ALIASES = {"warn": "warning", "err": "error", "critical": "error", "fatal": "error"}
_MIN_POLYGON_AREA = 1e-6
# A path at the head of a validator's message line: "lines[1].name", "model", "cameras[0].id".
_RELATIVE_PATH_RE = re.compile(r"[a-z_]+(?:\[\d+\])*(?:\.[a-z_]+(?:\[\d+\])*)*")

ENV_MQTT_HOST = "CAREON_MQTT_HOST"
ENV_MQTT_PORT = "CAREON_MQTT_PORT"
ENV_MQTT_USERNAME = "CAREON_MQTT_USERNAME"
ENV_MQTT_PASSWORD = "CAREON_MQTT_PASSWORD"
ENV_TIMEZONE = "CAREON_TIMEZONE"


class ConfigError(Exception):
    """An invalid or unreadable configuration.

    ``str(error)`` has one line per problem, each starting with the option's path; ``problems``
    holds the same lines as a list.
    """

    def __init__(self, problems: str | Sequence[str]) -> None:
        self.problems: list[str] = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


# --- helpers --------------------------------------------------------------------------------------


def slugify(text: str) -> str:
    """Lower-case ASCII slug of ``text``: runs of non-alphanumerics become one ``_``.

    Returns ``""`` when ``text`` is not ASCII or has no letters or digits (the caller then falls
    back to a positional key such as ``line_1``).
    """
    if not text.isascii():
        return ""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def mask_url(url: str) -> str:
    """Hide the password in a URL: ``rtsp://user:pass@host/x`` -> ``rtsp://user:***@host/x``.

    Credentials passed as query parameters (``?password=...``, ``&pwd=...``, ``&token=...``) are
    masked too. Anything that is not a URL (a file path) is returned unchanged.
    """
    if "://" not in url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        # Unparseable (an invalid IPv6 literal, say): show only the scheme.
        return url.split("://", 1)[0] + "://***"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, sep, _password = userinfo.partition(":")
        netloc = f"{user}:***@{hostport}" if sep else f"{user}@{hostport}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(key.lower() in _SECRET_QUERY_KEYS for key, _ in pairs):
            query = urlencode(
                [(k, "***" if k.lower() in _SECRET_QUERY_KEYS else v) for k, v in pairs],
                safe="*",
            )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _url_secrets(url: str) -> list[str]:
    """The secret substrings of a URL (password, secret query values), for scrubbing messages."""
    secrets: list[str] = []
    if "://" not in url:
        return secrets
    try:
        parts = urlsplit(url)
    except ValueError:
        return [url]
    if "@" in parts.netloc:
        userinfo = parts.netloc.rpartition("@")[0]
        _user, sep, password = userinfo.partition(":")
        if sep and password:
            secrets.append(password)
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key.lower() in _SECRET_QUERY_KEYS and value:
            secrets.append(value)
    return secrets


def _parse_number(value: Any, what: str) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{what} must be a number, not a boolean")
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise ValueError(f"{what} must be a number") from None
    else:
        raise ValueError(f"{what} must be a number")
    if not math.isfinite(number):
        raise ValueError(f"{what} must be a finite number")
    return number


def _parse_point(value: Any) -> Any:
    """Turn ``"0.2,0.5"``, ``"0.2 0.5"``, ``[0.2, 0.5]`` or ``{x:, y:}`` into ``(x, y)``."""
    if isinstance(value, str):
        match = _POINT_RE.match(value)
        if match is None:
            raise ValueError(
                'a point is written "x,y" with two numbers between 0 and 1, e.g. "0.5,0.8"'
            )
        return (float(match.group(1)), float(match.group(2)))
    if isinstance(value, Mapping):
        if set(value) != {"x", "y"}:
            raise ValueError("a point given as a mapping needs exactly the keys x and y")
        return (_parse_number(value["x"], "x"), _parse_number(value["y"], "y"))
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        if len(value) != 2:
            raise ValueError(f"a point needs exactly two numbers (x, y), got {len(value)} values")
        return (_parse_number(value[0], "x"), _parse_number(value[1], "y"))
    raise ValueError('a point is written "x,y" or [x, y] with numbers between 0 and 1')


def _check_point(point: Point) -> Point:
    x, y = point
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ValueError("coordinates must be finite numbers")
    if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
        raise ValueError(
            f"coordinates are relative to the image and must lie between 0 and 1 "
            f"(0,0 is the top-left corner, 1,1 the bottom-right); got {x:g},{y:g}"
        )
    return (x, y)


RelPoint = Annotated[Point, BeforeValidator(_parse_point), AfterValidator(_check_point)]
"""A :data:`Point` field: parsed from what people type, checked to lie in [0, 1]."""


def _parse_polygon(value: Any) -> Any:
    """Accept ``"x,y; x,y; x,y"``, a list of points, or a flat list ``[x, y, x, y, ...]``."""
    if isinstance(value, str):
        parts = [part for part in re.split(r"[;|\n]", value) if part.strip()]
        if len(parts) == 1:
            # "x,y x,y x,y": pairs separated by whitespace only.
            pairs = re.findall(rf"({_NUMBER})\s*,\s*({_NUMBER})", value)
            if len(pairs) > 1:
                return [(float(x), float(y)) for x, y in pairs]
        return parts
    if (
        isinstance(value, Sequence)
        and not isinstance(value, bytes | bytearray)
        and len(value) > 2
        and all(isinstance(item, int | float) and not isinstance(item, bool) for item in value)
    ):
        if len(value) % 2:
            raise ValueError("a flat list of coordinates needs an even count of numbers")
        return [(value[i], value[i + 1]) for i in range(0, len(value), 2)]
    return value


def _polygon_area(points: Sequence[Point]) -> float:
    area = 0.0
    for (x1, y1), (x2, y2) in zip(points, [*points[1:], points[0]], strict=True):
        area += x1 * y2 - x2 * y1
    return abs(area) / 2.0


def _orientation(p: Point, q: Point, r: Point) -> float:
    return (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])


def _segments_cross(a: Point, b: Point, c: Point, d: Point) -> bool:
    """Whether segments ab and cd cross properly (touching at an end point does not count)."""
    d1, d2 = _orientation(c, d, a), _orientation(c, d, b)
    d3, d4 = _orientation(a, b, c), _orientation(a, b, d)
    return ((d1 > 0 > d2) or (d1 < 0 < d2)) and ((d3 > 0 > d4) or (d3 < 0 < d4))


def _check_polygon(points: list[Point]) -> list[Point]:
    if len(points) > 3 and points[0] == points[-1]:
        points = points[:-1]  # a closed ring: drop the repeated first point
    if len(points) < 3:
        raise ValueError(f"a zone needs at least 3 corner points, got {len(points)}")
    if len(set(points)) != len(points):
        raise ValueError("a zone's corner points must all be different")
    if _polygon_area(points) <= _MIN_POLYGON_AREA:
        raise ValueError("the zone's corners enclose no area (they lie on one line)")
    edges = list(zip(points, [*points[1:], points[0]], strict=True))
    for i, (a, b) in enumerate(edges):
        for j in range(i + 1, len(edges)):
            c, d = edges[j]
            if _segments_cross(a, b, c, d):
                raise ValueError(
                    f"the zone's outline crosses itself (edges {i + 1} and {j + 1}); "
                    "list the corners in order around the zone"
                )
    return points


def _strip_required(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        if not value:
            raise ValueError("must not be empty")
    return value


def _empty_to_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value.strip() if isinstance(value, str) else value


NonEmptyStr = Annotated[str, BeforeValidator(_strip_required)]
OptionalKey = Annotated[
    Annotated[str, StringConstraints(pattern=KEY_PATTERN)] | None,
    BeforeValidator(_empty_to_none),
]


def _parse_grid(value: Any) -> Any:
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+)\s*[xX,;\s]\s*(\d+)\s*", value)
        if match is None:
            raise ValueError('the grid is written "columns x rows", e.g. "64x48"')
        return (int(match.group(1)), int(match.group(2)))
    return value


def _check_grid(grid: tuple[int, int]) -> tuple[int, int]:
    columns, rows = grid
    if not (1 <= columns <= 1024 and 1 <= rows <= 1024):
        raise ValueError("the grid needs between 1 and 1024 columns and rows")
    return grid


# --- models ---------------------------------------------------------------------------------------


def _factory(model: type[_M]) -> Callable[[], _M]:
    """A ``default_factory`` building ``model`` with its defaults (typed for mypy)."""

    def build() -> _M:
        return model()

    return build


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _null_means_default(cls, data: Any) -> Any:
        """An option given as null (a cleared field in the add-on UI) takes its default."""
        if not isinstance(data, Mapping):
            return data
        fields = cls.model_fields
        return {
            key: value
            for key, value in data.items()
            if not (
                value is None
                and isinstance(key, str)
                and key in fields
                and not fields[key].is_required()
                and fields[key].get_default(call_default_factory=True) is not None
            )
        }


class MqttConfig(_Model):
    """The MQTT broker Home Assistant listens on (the add-on gets it from the Supervisor)."""

    host: NonEmptyStr = Field(
        "core-mosquitto",
        title="Broker host",
        description="Host name or IP address of the MQTT broker.",
    )
    port: int = Field(1883, ge=1, le=65535, title="Broker port", description="TCP port.")
    username: str | None = Field(None, title="Username", description="Broker user, if any.")
    password: SecretStr | None = Field(
        None, title="Password", description="Broker password; never logged."
    )
    client_id: NonEmptyStr = Field(
        "careon_vision", title="Client id", description="MQTT client identifier."
    )
    discovery_prefix: NonEmptyStr = Field(
        "homeassistant",
        title="Discovery prefix",
        description="Home Assistant's MQTT discovery prefix.",
    )
    base_topic: NonEmptyStr = Field(
        "careon_vision",
        title="Base topic",
        description="Prefix of the state, heatmap and availability topics.",
    )
    keepalive: int = Field(
        30, ge=5, le=3600, title="Keep-alive", description="Seconds between MQTT pings."
    )
    tls: bool = Field(False, title="TLS", description="Connect with TLS.")

    @field_validator("username", mode="before")
    @classmethod
    def _blank_username(cls, value: Any) -> Any:
        return _empty_to_none(value)

    @field_validator("password", mode="before")
    @classmethod
    def _blank_password(cls, value: Any) -> Any:
        if isinstance(value, str) and not value:
            return None
        return value

    @field_validator("discovery_prefix", "base_topic")
    @classmethod
    def _check_topic(cls, value: str) -> str:
        if any(char in value for char in "+#\0"):
            raise ValueError("a topic prefix must not contain the wildcards + or #")
        stripped = value.strip("/")
        if not stripped:
            raise ValueError("must not be empty")
        return stripped


class DetectorConfig(_Model):
    """The person detector and its tracker."""

    backend: Literal["yolo", "ssd_onnx", "scripted"] = Field(
        "yolo",
        title="Backend",
        description=(
            "yolo: an Ultralytics YOLO model (.pt, .onnx, .engine); ssd_onnx: an SSD pedestrian "
            "model in ONNX; scripted: detections read from a YAML/JSON file (tests)."
        ),
    )
    model: NonEmptyStr = Field(
        "yolo11n.pt",
        title="Model",
        description="Path of the model file (or the script file for the scripted backend).",
    )
    confidence: float = Field(
        0.4, gt=0.0, lt=1.0, title="Confidence", description="Minimum detection confidence."
    )
    image_size: int = Field(
        640,
        ge=32,
        le=2048,
        multiple_of=32,
        title="Image size",
        description="Inference size in pixels (YOLO), a multiple of 32.",
    )
    device: NonEmptyStr = Field(
        "cpu",
        title="Device",
        description='Inference device: "cpu", or a GPU such as "0" or "cuda:0".',
    )
    track_buffer: int = Field(
        30,
        ge=1,
        le=1000,
        title="Track buffer",
        description="Frames a lost track is kept before it ends (ByteTrack).",
    )

    @field_validator("backend", mode="before")
    @classmethod
    def _lower_backend(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("device", mode="before")
    @classmethod
    def _device_text(cls, value: Any) -> Any:
        # YAML reads ``device: 0`` as an integer.
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class LineConfig(_Model):
    """A counting line from ``start`` to ``end``; people crossing it are counted in or out."""

    name: NonEmptyStr = Field(title="Name", description='The line\'s name, e.g. "Door".')
    id: OptionalKey = Field(
        None,
        title="Id",
        description=(
            "Key used in entity ids (a-z, 0-9, _). Default: the name as a slug, or line_<n> "
            "for names that are not ASCII."
        ),
    )
    start: RelPoint = Field(
        title="Start", description='First end of the line, relative "x,y" (0..1).'
    )
    end: RelPoint = Field(title="End", description='Second end of the line, relative "x,y" (0..1).')
    in_name: NonEmptyStr = Field("In", title="In name", description='Name of the "in" direction.')
    out_name: NonEmptyStr = Field(
        "Out", title="Out name", description='Name of the "out" direction.'
    )
    invert: bool = Field(False, title="Invert", description="Swap the in and out directions.")
    hysteresis: float = Field(
        0.02,
        ge=0.0,
        lt=0.5,
        title="Hysteresis",
        description="Half-width of the band around the line (relative) in which sides do not change.",
    )
    min_displacement: float = Field(
        0.04,
        ge=0.0,
        le=1.0,
        title="Minimum displacement",
        description="Distance (relative) a person must travel between sides to be counted.",
    )
    anchor: Literal["bottom_center", "center"] = Field(
        "bottom_center",
        title="Anchor",
        description="Point of the person's box tested against the line: the feet or the centre.",
    )

    _position: int = PrivateAttr(default=1)

    @model_validator(mode="after")
    def _distinct_ends(self) -> LineConfig:
        if self.start == self.end:
            raise ValueError("end: a line needs two different end points")
        return self

    @property
    def key(self) -> str:
        """The line's key: ``id``, else the slug of its ASCII name, else ``line_<n>``."""
        return self.id or slugify(self.name) or f"line_{self._position}"


class ZoneConfig(_Model):
    """A polygonal zone; a person is in it when the bottom-centre of their box is."""

    name: NonEmptyStr = Field(title="Name", description='The zone\'s name, e.g. "Counter".')
    id: OptionalKey = Field(
        None,
        title="Id",
        description=(
            "Key used in entity ids (a-z, 0-9, _). Default: the name as a slug, or zone_<n> "
            "for names that are not ASCII."
        ),
    )
    polygon: Annotated[
        list[RelPoint], BeforeValidator(_parse_polygon), AfterValidator(_check_polygon)
    ] = Field(
        title="Polygon",
        description='Corners in order around the zone, relative: "x,y; x,y; x,y; ..." (>= 3).',
    )
    enter_frames: int = Field(
        3,
        ge=1,
        le=100,
        title="Enter frames",
        description="Consecutive frames inside before a person counts as in the zone.",
    )
    exit_frames: int = Field(
        3,
        ge=1,
        le=100,
        title="Exit frames",
        description="Consecutive frames outside before a person counts as having left.",
    )

    _position: int = PrivateAttr(default=1)

    @property
    def key(self) -> str:
        """The zone's key: ``id``, else the slug of its ASCII name, else ``zone_<n>``."""
        return self.id or slugify(self.name) or f"zone_{self._position}"


class FlatLineConfig(LineConfig):
    """A line in the add-on's flat layout: it names its camera."""

    camera: NonEmptyStr = Field(title="Camera", description="Id of the camera the line is on.")


class FlatZoneConfig(ZoneConfig):
    """A zone in the add-on's flat layout: it names its camera."""

    camera: NonEmptyStr = Field(title="Camera", description="Id of the camera the zone is on.")


class HeatmapConfig(_Model):
    """Where people are over time: a decaying grid, published as a PNG."""

    grid: Annotated[tuple[int, int], BeforeValidator(_parse_grid), AfterValidator(_check_grid)] = (
        Field(
            (64, 48),
            title="Grid",
            description='Columns and rows of the grid, e.g. "64x48".',
        )
    )
    half_life_s: float = Field(
        1800.0,
        gt=0.0,
        title="Half-life",
        description="Seconds after which a presence counts half.",
    )
    publish_interval_s: float = Field(
        60.0,
        gt=0.0,
        title="Publish interval",
        description="Seconds between heatmap images.",
    )
    width: int = Field(
        320,
        ge=16,
        le=4096,
        title="Image width",
        description="Width of the PNG in pixels (the height follows the grid's aspect).",
    )


_CAMERA_DETECTOR_KEYS = {
    "detector_backend": "backend",
    "detector_model": "model",
    "detector_confidence": "confidence",
    "detector_image_size": "image_size",
    "detector_device": "device",
}


class CameraConfig(_Model):
    """A camera: its stream, sampling rate, counting lines, zones and heatmap."""

    id: str = Field(
        title="Id",
        description="Camera key used in entity ids and topics (a-z, 0-9, _), unique.",
        pattern=KEY_PATTERN,
        min_length=1,
    )
    name: NonEmptyStr = Field(title="Name", description="Name of the camera's device in HA.")
    url: NonEmptyStr = Field(
        title="Stream URL",
        description=(
            "rtsp://user:password@host:554/path (also rtsps, http(s)), or a video file path. "
            "Credentials are never logged."
        ),
    )
    fps: float = Field(5.0, gt=0.0, le=30.0, title="FPS", description="Frames analysed per second.")
    capture: Literal["ffmpeg", "gstreamer_nvdec"] = Field(
        "ffmpeg",
        title="Capture",
        description="ffmpeg (OpenCV, RTSP over TCP), or gstreamer_nvdec (Jetson hardware decode).",
    )
    codec: Literal["h264", "h265"] = Field(
        "h264", title="Codec", description="Stream codec, for the NVDEC pipeline."
    )
    buffer_frames: int = Field(
        2,
        ge=1,
        le=30,
        title="Buffer frames",
        description="Frames queued between capture and detection; the oldest are dropped.",
    )
    detector: DetectorConfig | None = Field(
        None,
        title="Detector",
        description="Per-camera detector options, merged over the global detector.",
    )
    lines: list[LineConfig] = Field(
        default_factory=list, title="Lines", description="Counting lines."
    )
    zones: list[ZoneConfig] = Field(default_factory=list, title="Zones", description="Zones.")
    heatmap: HeatmapConfig = Field(
        default_factory=_factory(HeatmapConfig), title="Heatmap", description="Heatmap options."
    )

    @model_validator(mode="before")
    @classmethod
    def _flat_detector_keys(cls, data: Any) -> Any:
        """Accept ``detector_model: x`` etc. (the add-on's flat camera items)."""
        if not isinstance(data, Mapping) or not any(k in data for k in _CAMERA_DETECTOR_KEYS):
            return data
        result = {k: v for k, v in data.items() if k not in _CAMERA_DETECTOR_KEYS}
        overrides = {
            field: data[key]
            for key, field in _CAMERA_DETECTOR_KEYS.items()
            if key in data and data[key] is not None and data[key] != ""
        }
        nested = result.get("detector")
        if isinstance(nested, Mapping):
            overrides = {**nested, **overrides}
        elif nested is not None:
            return data  # let the field report the wrong type
        result["detector"] = overrides or None
        return result

    @field_validator("id", mode="before")
    @classmethod
    def _strip_id(cls, value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        # Messages here must never include the URL: it may carry credentials.
        if any(char.isspace() for char in value):
            raise ValueError("the URL must not contain spaces (percent-encode them as %20)")
        if "://" in value:
            scheme = value.split("://", 1)[0].lower()
            if scheme not in _URL_SCHEMES:
                raise ValueError(
                    "unsupported URL scheme; use rtsp://, rtsps://, http(s):// or a file path"
                )
            try:
                parts = urlsplit(value)
                _ = parts.port
            except ValueError:
                raise ValueError("the URL's host or port is not valid") from None
            if scheme != "file" and not parts.hostname:
                raise ValueError("the URL has no host")
        return value

    @model_validator(mode="after")
    def _check_keys(self) -> CameraConfig:
        # Copies: the numbering must not touch line/zone objects shared with another camera.
        self.lines = [line.model_copy() for line in self.lines]
        self.zones = [zone.model_copy() for zone in self.zones]
        problems = _assign_keys(
            [(f"lines[{i}]", line) for i, line in enumerate(self.lines)],
            [(f"zones[{i}]", zone) for i, zone in enumerate(self.zones)],
            camera_id=None,
        )
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            yield (name, mask_url(value) if name == "url" and isinstance(value, str) else value)

    @property
    def safe_url(self) -> str:
        """The stream URL with its password masked, for logs."""
        return mask_url(self.url)


def _assign_keys(
    lines: Sequence[tuple[str, LineConfig]],
    zones: Sequence[tuple[str, ZoneConfig]],
    *,
    camera_id: str | None,
) -> list[str]:
    """Number the lines and zones (for positional keys) and report duplicate keys."""
    where = f" on camera '{camera_id}'" if camera_id else ""
    return _number_items("line", lines, where) + _number_items("zone", zones, where)


def _number_items(
    kind: str, items: Sequence[tuple[str, LineConfig | ZoneConfig]], where: str
) -> list[str]:
    problems: list[str] = []
    seen: dict[str, str] = {}
    for position, (path, item) in enumerate(items, start=1):
        item._position = position
        key = item.key
        if key in seen:
            problems.append(
                f"{path}.name: {kind} key '{key}' is already used by {seen[key]}{where}; "
                "give one of them a different name or an id"
            )
        else:
            seen[key] = path
    return problems


def _detector_problems(detector: DetectorConfig) -> list[str]:
    """Checks that need the whole detector (a camera's options are merged over the global ones)."""
    suffix = Path(detector.model).suffix.lower()
    if detector.backend == "ssd_onnx" and suffix != ".onnx":
        return ["model: the ssd_onnx backend needs an .onnx model file"]
    if detector.backend == "scripted" and suffix not in {".yaml", ".yml", ".json"}:
        return ["model: the scripted backend needs a .yaml or .json script file"]
    return []


_DEFAULT_DATA_DIR = Path("/data")


class AppConfig(_Model):
    """The whole configuration of CareOn Vision."""

    cameras: list[CameraConfig] = Field(
        title="Cameras", description="The cameras to analyse (at least one).", min_length=1
    )
    lines: list[FlatLineConfig] = Field(
        default_factory=list,
        title="Lines (add-on layout)",
        description="Counting lines naming their camera; attached to it when loaded.",
        exclude=True,
    )
    zones: list[FlatZoneConfig] = Field(
        default_factory=list,
        title="Zones (add-on layout)",
        description="Zones naming their camera; attached to it when loaded.",
        exclude=True,
    )
    detector: DetectorConfig = Field(
        default_factory=_factory(DetectorConfig), title="Detector", description="Default detector."
    )
    timezone: NonEmptyStr = Field(
        "Asia/Seoul",
        title="Time zone",
        description="IANA time zone of the store (daily counters reset at its midnight).",
    )
    mqtt: MqttConfig = Field(
        default_factory=_factory(MqttConfig), title="MQTT", description="The broker."
    )
    data_dir: Path = Field(
        _DEFAULT_DATA_DIR,
        title="Data directory",
        description="Where the daily counters are kept across restarts.",
    )
    publish_interval_s: float = Field(
        1.0,
        gt=0.0,
        le=3600.0,
        title="Publish interval",
        description="Minimum seconds between state messages of a camera.",
    )
    dwell_window: int = Field(
        50,
        ge=1,
        le=100000,
        title="Dwell window",
        description="Completed visits kept for the average and median dwell time.",
    )
    lost_after_s: float = Field(
        2.0,
        gt=0.0,
        le=3600.0,
        title="Lost after",
        description="Seconds a person may be unseen before their visit ends.",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", title="Log level", description="debug, info, warning or error."
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_log_level(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip().lower()
            return _LOG_LEVEL_ALIASES.get(value, value)
        return value

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as Asia/Seoul or Europe/Paris"
            ) from None
        return value

    @model_validator(mode="after")
    def _attach_and_check(self) -> AppConfig:
        problems: list[str] = []
        index: dict[str, int] = {}
        for i, camera in enumerate(self.cameras):
            if camera.id in index:
                problems.append(
                    f"cameras[{i}].id: camera id '{camera.id}' is already used by "
                    f"cameras[{index[camera.id]}]"
                )
            else:
                index[camera.id] = i
        flat_lines: dict[str, list[tuple[str, LineConfig]]] = {}
        flat_zones: dict[str, list[tuple[str, ZoneConfig]]] = {}
        for j, flat_line in enumerate(self.lines):
            if self._known_camera(f"lines[{j}]", flat_line.camera, index, problems):
                line = LineConfig.model_validate(flat_line.model_dump(exclude={"camera"}))
                flat_lines.setdefault(flat_line.camera, []).append((f"lines[{j}]", line))
        for j, flat_zone in enumerate(self.zones):
            if self._known_camera(f"zones[{j}]", flat_zone.camera, index, problems):
                zone = ZoneConfig.model_validate(flat_zone.model_dump(exclude={"camera"}))
                flat_zones.setdefault(flat_zone.camera, []).append((f"zones[{j}]", zone))
        problems.extend(f"detector.{p}" for p in _detector_problems(self.detector))
        cameras: list[CameraConfig] = []
        for i, camera in enumerate(self.cameras):
            extra_lines = flat_lines.get(camera.id, [])
            extra_zones = flat_zones.get(camera.id, [])
            if extra_lines or extra_zones:
                lines: list[tuple[str, LineConfig]] = [
                    (f"cameras[{i}].lines[{k}]", line.model_copy())
                    for k, line in enumerate(camera.lines)
                ] + extra_lines
                zones: list[tuple[str, ZoneConfig]] = [
                    (f"cameras[{i}].zones[{k}]", zone.model_copy())
                    for k, zone in enumerate(camera.zones)
                ] + extra_zones
                problems.extend(_assign_keys(lines, zones, camera_id=camera.id))
                camera = camera.model_copy(  # noqa: PLW2901 -- the camera with its flat items
                    update={"lines": [x for _, x in lines], "zones": [x for _, x in zones]}
                )
            if camera.detector is not None:
                # The camera's detector options are merged over the global ones, so that
                # camera.detector is the detector it really uses.
                try:
                    merged = self._merge_detector(camera.detector)
                except ValidationError as exc:
                    problems.extend(
                        _format_errors(exc, prefix=("cameras", i, "detector"), model=DetectorConfig)
                    )
                else:
                    problems.extend(
                        f"cameras[{i}].detector.{p}" for p in _detector_problems(merged)
                    )
                    camera = camera.model_copy(update={"detector": merged})  # noqa: PLW2901
            cameras.append(camera)
        if problems:
            raise ValueError("\n".join(problems))
        self.cameras = cameras
        self.lines = []
        self.zones = []
        return self

    @staticmethod
    def _known_camera(
        path: str, camera_id: str, index: Mapping[str, int], problems: list[str]
    ) -> bool:
        if camera_id in index:
            return True
        known = ", ".join(f"'{c}'" for c in index) or "none"
        problems.append(f"{path}.camera: no camera has the id '{camera_id}' (camera ids: {known})")
        return False

    def _merge_detector(self, override: DetectorConfig) -> DetectorConfig:
        data = self.detector.model_dump()
        data.update({name: getattr(override, name) for name in override.model_fields_set})
        return DetectorConfig.model_validate(data)

    def detector_for(self, camera: CameraConfig) -> DetectorConfig:
        """The detector ``camera`` uses: its own (merged over the global one when loaded)."""
        return self.detector if camera.detector is None else camera.detector

    def camera(self, camera_id: str) -> CameraConfig:
        """The camera with id ``camera_id`` (``KeyError`` if there is none)."""
        for camera in self.cameras:
            if camera.id == camera_id:
                return camera
        raise KeyError(camera_id)

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        """The store's time zone."""
        return zoneinfo.ZoneInfo(self.timezone)


# --- error messages -------------------------------------------------------------------------------


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation such as ``list[X]``, ``X | None``, ``Annotated``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = get_origin(annotation)
    if origin is Annotated:
        return _model_in(get_args(annotation)[0])
    if origin in (list, tuple, Union, types.UnionType) or origin is Sequence:
        for arg in get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None


def _model_at(model: type[BaseModel] | None, loc: Sequence[int | str]) -> type[BaseModel] | None:
    """The model whose field ``loc`` (a pydantic error location) names, for 'did you mean'."""
    for part in loc:
        if model is None:
            return None
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        model = _model_in(field.annotation)
    return model


def _format_loc(loc: Iterable[int | str]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


def _message(error: Mapping[str, Any], model: type[BaseModel] | None) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    loc = tuple(error["loc"])
    if kind == "missing":
        return "required option is missing"
    if kind == "extra_forbidden":
        owner = _model_at(model, loc[:-1])
        name = str(loc[-1]) if loc else ""
        if owner is not None:
            allowed = sorted(owner.model_fields)
            close = difflib.get_close_matches(name, allowed, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            return f"unknown option{hint} (allowed: {', '.join(allowed)})"
        return "unknown option"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected', 'the listed values')}"
    if kind in {"value_error", "assertion_error"}:
        return str(ctx.get("error", error["msg"]))
    if kind == "string_pattern_mismatch":
        return "use only lower-case letters a-z, digits and _ (for example front_door)"
    text = str(error["msg"])
    if text.startswith("Input should be "):
        text = "must be " + text.removeprefix("Input should be ")
    return text


def _format_errors(
    exc: ValidationError,
    *,
    prefix: Sequence[int | str] = (),
    model: type[BaseModel] | None = AppConfig,
) -> list[str]:
    """One line per error, ``path: message``; built without the input values.

    A model validator may report several problems in one message, one per line, each starting
    with a path relative to the model it ran on (``lines[1].name: ...``); those paths are joined
    to the error's location.
    """
    problems: list[str] = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = (*prefix, *error["loc"])
        base = _format_loc(loc)
        for line in _message(error, model).splitlines() or ["invalid value"]:
            head, sep, rest = line.partition(": ")
            if sep and _RELATIVE_PATH_RE.fullmatch(head):
                path = f"{base}.{head}" if base else head
                problems.append(f"{path}: {rest}")
            else:
                problems.append(f"{base}: {line}" if base else line)
    return problems


def _secrets_in(data: Any) -> list[str]:
    """Passwords and URL credentials anywhere in raw configuration data (to scrub messages)."""
    found: list[str] = []
    if isinstance(data, Mapping):
        for key, value in data.items():
            if isinstance(value, str) and isinstance(key, str) and "password" in key.lower():
                if value:
                    found.append(value)
            else:
                found.extend(_secrets_in(value))
    elif isinstance(data, list | tuple):
        for item in data:
            found.extend(_secrets_in(item))
    elif isinstance(data, str):
        found.extend(_url_secrets(data))
    return found


def _scrub(problems: Iterable[str], secrets: Iterable[str]) -> list[str]:
    ordered = sorted({s for s in secrets if len(s) >= 1}, key=len, reverse=True)
    cleaned: list[str] = []
    for problem in problems:
        text = problem
        for secret in ordered:
            text = text.replace(secret, "***")
        cleaned.append(text)
    return cleaned


# --- loading --------------------------------------------------------------------------------------


def config_from_mapping(data: Mapping[str, Any]) -> AppConfig:
    """Validate configuration data (nested or the add-on's flat layout) into an :class:`AppConfig`.

    Raises :class:`ConfigError` with one line per problem.
    """
    if not isinstance(data, Mapping):
        raise ConfigError("the configuration must be a mapping of options (key: value)")
    if any(not isinstance(key, str) for key in data):
        raise ConfigError("option names must be text")
    try:
        return AppConfig.model_validate(dict(data))
    except ValidationError as exc:
        problems = _format_errors(exc)
        raise ConfigError(_scrub(problems, _secrets_in(data))) from None
    except (TypeError, ValueError, RecursionError) as exc:
        # A value pydantic cannot even inspect (an odd object from a programmatic caller).
        raise ConfigError(f"invalid configuration: {type(exc).__name__}") from None


def load_config(path: str | Path) -> AppConfig:
    """Read a YAML or JSON configuration file (``.json`` is parsed as JSON, anything else as YAML).

    A missing or unreadable file, a syntax error or invalid values raise :class:`ConfigError`.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a configuration file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: the file is not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the file ({exc.strerror or 'error'})") from None
    data: Any
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"{path}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
            ) from None
    else:
        try:
            data = yaml.safe_load(text)
        except yaml.MarkedYAMLError as exc:
            # Not str(exc): it quotes the offending lines, which may hold a password.
            mark = exc.problem_mark or exc.context_mark
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise ConfigError(
                f"{path}: invalid YAML{where}: {exc.problem or 'syntax error'}"
            ) from None
        except yaml.YAMLError:
            raise ConfigError(f"{path}: invalid YAML") from None
    if data is None:
        raise ConfigError(f"{path}: the configuration file is empty")
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: the configuration must be a mapping of options (key: value)")
    return config_from_mapping(data)


def apply_env_overrides(config: AppConfig, environ: Mapping[str, str] | None = None) -> AppConfig:
    """Return ``config`` with the broker taken from ``CAREON_MQTT_HOST/PORT/USERNAME/PASSWORD``.

    The add-on's run script exports these from the Supervisor's MQTT service, and
    ``CAREON_TIMEZONE`` (Home Assistant's time zone) when the ``timezone`` option is not set.
    Unset or empty variables leave the option as it is. An invalid value raises
    :class:`ConfigError` naming the option and the variable.
    """
    env = os.environ if environ is None else environ
    updates: dict[str, Any] = {}
    for variable, option in (
        (ENV_MQTT_HOST, "host"),
        (ENV_MQTT_PORT, "port"),
        (ENV_MQTT_USERNAME, "username"),
        (ENV_MQTT_PASSWORD, "password"),
    ):
        value = env.get(variable, "")
        if value.strip():
            updates[option] = value.strip() if option != "password" else value
    timezone = env.get(ENV_TIMEZONE, "").strip()
    if not updates and not timezone:
        return config
    problems: list[str] = []
    changes: dict[str, Any] = {}
    if updates:
        data = config.mqtt.model_dump()
        if config.mqtt.password is not None:
            data["password"] = config.mqtt.password.get_secret_value()
        data.update(updates)
        try:
            changes["mqtt"] = MqttConfig.model_validate(data)
        except ValidationError as exc:
            found = _format_errors(exc, prefix=("mqtt",), model=MqttConfig)
            secrets = [s for s in (updates.get("password"), data.get("password")) if s]
            problems += [
                f"{p} (from the CAREON_MQTT_* environment)" for p in _scrub(found, secrets)
            ]
    if timezone:
        try:
            changes["timezone"] = AppConfig._check_timezone(timezone)
        except ValueError as exc:
            problems.append(f"timezone: {exc} (from {ENV_TIMEZONE})")
    if problems:
        raise ConfigError(problems)
    return config.model_copy(update=changes)
