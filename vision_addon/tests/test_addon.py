"""The add-on manifests pass the add-on linter's schemas and rules, and map onto careon_vision.config.

The schemas are the community add-on linter's (frenck/action-addon-linter), kept in
tests/data/addon-linter. Its other rules are encoded here: no key set to its default value,
no webui together with ingress, no deprecated architectures or obsolete keys.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
import re
import stat
import subprocess
from typing import Any

import jsonschema
import pytest
import yaml

from careon_vision import __version__
from careon_vision.config import AppConfig, config_from_mapping

REPO_ROOT = Path(__file__).resolve().parents[2]
ADDON = REPO_ROOT / "addons" / "careon_vision"
LINTER = Path(__file__).resolve().parent / "data" / "addon-linter"

# The Supervisor's grammar of one option type (supervisor/addons/options.py, RE_SCHEMA_ELEMENT).
RE_SCHEMA_ELEMENT = re.compile(
    r"^(?:"
    r"|bool|email|url|port"
    r"|device(?:\((?P<filter>subsystem=[a-z]+)\))?"
    r"|str(?:\((?P<s_min>\d+)?,(?P<s_max>\d+)?\))?"
    r"|password(?:\((?P<p_min>\d+)?,(?P<p_max>\d+)?\))?"
    r"|int(?:\((?P<i_min>-?\d+)?,(?P<i_max>-?\d+)?\))?"
    r"|float(?:\((?P<f_min>-?\d*\.?\d+)?,(?P<f_max>-?\d*\.?\d+)?\))?"
    r"|match\((?P<match>.*)\)"
    r"|list\((?P<list>.+)\)"
    r")\??$"
)
DEPRECATED_ARCH = {"armhf", "armv7", "i386"}
OBSOLETE_CONFIG_KEYS = {"watchdog", "codenotary"}
OBSOLETE_BUILD_KEYS = {"squash", "codenotary"}
# Defaults the linter's README names (the schema carries the rest as "default").
README_DEFAULTS: dict[str, Any] = {
    "init": True,
    "boot": "auto",
    "startup": "application",
    "options": {},
}

# A realistic store: one camera, a door line with Korean direction names, two zones.
EXAMPLE_OPTIONS: dict[str, Any] = {
    "cameras": [
        {
            "id": "entrance",
            "name": "입구 카메라",
            "url": "rtsp://admin:Cafe2026!@192.168.0.64:554/Streaming/Channels/102",
            "fps": 6.0,
            "detector_confidence": 0.45,
        }
    ],
    "lines": [
        {
            "camera": "entrance",
            "name": "Door",
            "start": "0.15,0.72",
            "end": "0.85,0.72",
            "in_name": "입장",
            "out_name": "퇴장",
        }
    ],
    "zones": [
        {
            "camera": "entrance",
            "name": "Counter",
            "polygon": "0.05,0.1; 0.45,0.1; 0.45,0.5; 0.05,0.5",
        },
        {
            "camera": "entrance",
            "name": "창가 좌석",
            "polygon": "0.55,0.1; 0.95,0.1; 0.95,0.6; 0.55,0.6",
        },
    ],
    "detector": {
        "backend": "yolo",
        "model": "/opt/careon_vision/models/yolo11n.pt",
        "confidence": 0.4,
        "image_size": 640,
    },
    "timezone": "Asia/Seoul",
    "log_level": "info",
}


def _load_yaml(path: Path) -> Any:
    if not path.is_file():
        pytest.fail(f"{path} is missing")
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    data = _load_yaml(ADDON / "config.yaml")
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def build() -> dict[str, Any]:
    data = _load_yaml(ADDON / "build.yaml")
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def translations() -> dict[str, Any]:
    data = _load_yaml(ADDON / "translations" / "en.yaml")
    assert isinstance(data, dict)
    return data


def _linter_schema(name: str) -> dict[str, Any]:
    path = LINTER / name
    if not path.is_file():
        pytest.fail(
            f"the add-on linter's schema {path} is missing: the tests need "
            "vision_addon/tests/data/addon-linter"
        )
    schema = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(schema, dict)
    return schema


def _schema_errors(schema: dict[str, Any], data: Any) -> list[str]:
    validator = jsonschema.Draft7Validator(
        schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '<root>'}: {error.message}"
        for error in validator.iter_errors(data)
    ]


def _keys_at_default(
    schema: dict[str, Any], data: dict[str, Any], extra: dict[str, Any]
) -> list[str]:
    defaults = {
        key: spec["default"]
        for key, spec in schema["properties"].items()
        if isinstance(spec, dict) and "default" in spec
    }
    defaults.update(extra)
    return [key for key, value in data.items() if key in defaults and value == defaults[key]]


# --- the linter ------------------------------------------------------------------------------------


def test_config_yaml_passes_the_linter_schema(config: dict[str, Any]) -> None:
    assert _schema_errors(_linter_schema("config.schema.json"), config) == []


def test_build_yaml_passes_the_linter_schema(build: dict[str, Any]) -> None:
    assert _schema_errors(_linter_schema("build.schema.json"), build) == []


def test_no_key_at_its_default(config: dict[str, Any], build: dict[str, Any]) -> None:
    schema = _linter_schema("config.schema.json")
    assert _keys_at_default(schema, config, README_DEFAULTS) == []
    assert _keys_at_default(_linter_schema("build.schema.json"), build, {}) == []


def test_the_default_check_catches_defaults(config: dict[str, Any]) -> None:
    """The rule itself works: a manifest with init: true or boot: auto is caught."""
    schema = _linter_schema("config.schema.json")
    bad = {**config, "init": True, "boot": "auto", "ingress_port": 8099, "options": {}}
    assert set(_keys_at_default(schema, bad, README_DEFAULTS)) == {
        "init",
        "boot",
        "ingress_port",
        "options",
    }


def test_no_webui_with_ingress_and_no_obsolete_keys(
    config: dict[str, Any], build: dict[str, Any]
) -> None:
    assert not ("webui" in config and config.get("ingress")), "webui together with ingress"
    assert not set(config) & OBSOLETE_CONFIG_KEYS
    assert not set(build) & OBSOLETE_BUILD_KEYS
    assert not set(config["arch"]) & DEPRECATED_ARCH
    assert not set(build.get("build_from", {})) & DEPRECATED_ARCH


def test_manifest_identity(config: dict[str, Any], build: dict[str, Any]) -> None:
    assert config["name"] == "CareOn Vision"
    assert config["slug"] == ADDON.name == "careon_vision"
    assert str(config["version"]) == __version__
    pyproject = (REPO_ROOT / "vision_addon" / "pyproject.toml").read_text(encoding="utf-8")
    assert f'version = "{__version__}"' in pyproject
    assert sorted(config["arch"]) == ["aarch64", "amd64"]
    assert config["services"] == ["mqtt:need"]
    assert config["init"] is False  # s6-overlay of the base images must be PID 1
    assert config["url"].startswith("https://")
    assert sorted(build["build_from"]) == sorted(config["arch"])
    for arch, image in build["build_from"].items():
        assert image.startswith(f"ghcr.io/home-assistant/{arch}-base-debian:"), image


def test_changelog_has_the_version(config: dict[str, Any]) -> None:
    changelog = (ADDON / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"## {config['version']}" in changelog


# --- options and schema ----------------------------------------------------------------------------


def _schema_leaves(schema: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Every option type in the add-on schema, by dotted path ("cameras[].url")."""
    leaves: dict[str, str] = {}
    for key, spec in schema.items():
        path = f"{prefix}{key}"
        if isinstance(spec, list):
            assert len(spec) == 1, f"{path}: a list schema has one element"
            item = spec[0]
            if isinstance(item, dict):
                leaves.update(_schema_leaves(item, f"{path}[]."))
            else:
                leaves[f"{path}[]"] = item
        elif isinstance(spec, dict):
            leaves.update(_schema_leaves(spec, f"{path}."))
        else:
            leaves[path] = spec
    return leaves


def test_schema_types_are_supervisor_types(config: dict[str, Any]) -> None:
    leaves = _schema_leaves(config["schema"])
    bad = {path: kind for path, kind in leaves.items() if not RE_SCHEMA_ELEMENT.match(str(kind))}
    assert bad == {}
    for path, kind in leaves.items():
        match = RE_SCHEMA_ELEMENT.match(kind)
        assert match is not None
        if match.group("match") is not None:
            re.compile(match.group("match"))  # the regex compiles
        assert "password" not in kind or path.endswith("password"), path


def _check_value(kind: str, value: Any, path: str) -> list[str]:
    """Validate one option value the way the Supervisor's option types do (enough for our types)."""
    match = RE_SCHEMA_ELEMENT.match(kind)
    assert match is not None, kind
    base = kind.rstrip("?")
    if base.startswith(("str", "password", "url", "email")):
        return [] if isinstance(value, str) else [f"{path}: not a string"]
    if base == "bool":
        return [] if isinstance(value, bool) else [f"{path}: not a boolean"]
    if base.startswith(("int", "float", "port")):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return [f"{path}: not a number"]
        if base.startswith(("int", "port")) and not float(value).is_integer():
            return [f"{path}: not an integer"]
        low = match.group("i_min") or match.group("f_min")
        high = match.group("i_max") or match.group("f_max")
        if (low is not None and value < float(low)) or (high is not None and value > float(high)):
            return [f"{path}: {value} outside {low}..{high}"]
        return []
    if match.group("match") is not None:
        ok = isinstance(value, str) and re.fullmatch(match.group("match"), value)
        return [] if ok else [f"{path}: does not match {match.group('match')}"]
    if match.group("list") is not None:
        return [] if value in match.group("list").split("|") else [f"{path}: not one of the list"]
    return [f"{path}: unhandled type {kind}"]


def _check_options(schema: dict[str, Any], options: dict[str, Any], prefix: str = "") -> list[str]:
    problems = [f"{prefix}{key}: not in the schema" for key in options if key not in schema]
    for key, spec in schema.items():
        path = f"{prefix}{key}"
        if key not in options:
            if isinstance(spec, str) and not spec.endswith("?"):
                problems.append(f"{path}: required by the schema but missing")
            elif isinstance(spec, dict | list):
                problems.append(f"{path}: missing")
            continue
        value = options[key]
        if isinstance(spec, list):
            if not isinstance(value, list):
                problems.append(f"{path}: not a list")
                continue
            for i, item in enumerate(value):
                if isinstance(spec[0], dict):
                    if isinstance(item, dict):
                        problems += _check_options(spec[0], item, f"{path}[{i}].")
                    else:
                        problems.append(f"{path}[{i}]: not a mapping")
                else:
                    problems += _check_value(spec[0], item, f"{path}[{i}]")
        elif isinstance(spec, dict):
            if isinstance(value, dict):
                problems += _check_options(spec, value, f"{path}.")
            else:
                problems.append(f"{path}: not a mapping")
        else:
            problems += _check_value(spec, value, path)
    return problems


def test_default_options_fit_the_schema(config: dict[str, Any]) -> None:
    assert _check_options(config["schema"], config["options"]) == []


def test_example_options_fit_the_schema(config: dict[str, Any]) -> None:
    assert _check_options(config["schema"], EXAMPLE_OPTIONS) == []


def test_the_options_check_catches_mistakes(config: dict[str, Any]) -> None:
    bad = copy.deepcopy(EXAMPLE_OPTIONS)
    bad["cameras"][0]["fps"] = 99
    bad["lines"][0]["colour"] = "red"
    bad["detector"]["backend"] = "tensorflow"
    del bad["log_level"]
    assert sorted(_check_options(config["schema"], bad)) == [
        "cameras[0].fps: 99 outside 0.1..30",
        "detector.backend: not one of the list",
        "lines[0].colour: not in the schema",
        "log_level: required by the schema but missing",
    ]


def _model_fields(model: type[Any]) -> set[str]:
    return set(model.model_fields)


def test_schema_options_exist_in_careon_vision_config(config: dict[str, Any]) -> None:
    """Every add-on option is an option careon_vision.config knows (flat camera keys included)."""
    from careon_vision.config import (  # noqa: PLC0415
        CameraConfig,
        DetectorConfig,
        FlatLineConfig,
        FlatZoneConfig,
    )

    schema = config["schema"]
    camera_flat = {"detector_backend", "detector_model", "detector_confidence", "detector_image_size", "detector_device"}  # fmt: skip
    assert set(schema) <= _model_fields(AppConfig)
    assert set(schema["cameras"][0]) <= _model_fields(CameraConfig) | camera_flat
    assert set(schema["lines"][0]) <= _model_fields(FlatLineConfig)
    assert set(schema["zones"][0]) <= _model_fields(FlatZoneConfig)
    assert set(schema["detector"]) <= _model_fields(DetectorConfig)


def test_default_options_map_onto_app_config(config: dict[str, Any]) -> None:
    app = config_from_mapping(config["options"])
    assert isinstance(app, AppConfig)
    camera = app.cameras[0]
    assert camera.id == "front"
    assert [line.key for line in camera.lines] == ["door"]
    assert app.detector.model == "/opt/careon_vision/models/yolo11n.pt"
    dockerfile = (ADDON / "Dockerfile").read_text(encoding="utf-8")
    assert app.detector.model in dockerfile  # the default model is baked into the image


def test_example_options_map_onto_app_config() -> None:
    # The Supervisor writes the options as /data/options.json: go through JSON like it does.
    app = config_from_mapping(json.loads(json.dumps(EXAMPLE_OPTIONS)))
    camera = app.cameras[0]
    assert [line.key for line in camera.lines] == ["door"]
    assert (camera.lines[0].in_name, camera.lines[0].out_name) == ("입장", "퇴장")
    assert [zone.key for zone in camera.zones] == ["counter", "zone_2"]
    assert camera.zones[1].polygon[0] == (0.55, 0.1)
    assert app.detector_for(camera).confidence == 0.45
    assert "Cafe2026!" not in repr(app)


def test_options_json_round_trip_through_load_config(
    tmp_path: Path, config: dict[str, Any]
) -> None:
    from careon_vision.config import load_config  # noqa: PLC0415

    options = tmp_path / "options.json"
    options.write_text(json.dumps(config["options"]), encoding="utf-8")
    assert load_config(options).cameras[0].lines[0].start == (0.1, 0.6)


# --- translations ----------------------------------------------------------------------------------


def _translation_problems(
    schema: dict[str, Any], entries: dict[str, Any], prefix: str = ""
) -> list[str]:
    problems = [
        f"{prefix}{key}: translated but not an option" for key in entries if key not in schema
    ]
    for key, spec in schema.items():
        path = f"{prefix}{key}"
        entry = entries.get(key)
        if not isinstance(entry, dict):
            problems.append(f"{path}: no translation")
            continue
        for part in ("name", "description"):
            if not (isinstance(entry.get(part), str) and entry[part].strip()):
                problems.append(f"{path}: no {part}")
        nested = spec[0] if isinstance(spec, list) else spec
        if isinstance(nested, dict):
            fields = entry.get("fields")
            if not isinstance(fields, dict):
                problems.append(f"{path}: no fields")
            else:
                problems += _translation_problems(nested, fields, f"{path}.")
        elif "fields" in entry:
            problems.append(f"{path}: fields on a plain option")
    return problems


def test_every_option_is_translated(config: dict[str, Any], translations: dict[str, Any]) -> None:
    assert set(translations) <= {"configuration", "network"}
    assert _translation_problems(config["schema"], translations["configuration"]) == []


# --- image and run script --------------------------------------------------------------------------


def _dockerfile_lines(path: Path) -> list[str]:
    """Instructions with continuation lines joined, comments dropped."""
    text = path.read_text(encoding="utf-8")
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        current += " " + stripped.removesuffix("\\").strip()
        if not stripped.endswith("\\"):
            lines.append(current.strip())
            current = ""
    return lines


def test_dockerfile(config: dict[str, Any]) -> None:
    lines = _dockerfile_lines(ADDON / "Dockerfile")
    assert lines[0] == "ARG BUILD_FROM"
    assert lines[1] == "FROM ${BUILD_FROM}"
    joined = "\n".join(lines)
    assert "YOLO_OFFLINE=1" in joined
    assert "YOLO_AUTOINSTALL=False" in joined
    assert "download.pytorch.org/whl/cpu" in joined
    assert "careon-dev/careon" in joined
    assert "v${BUILD_VERSION}" in joined
    copies = [line.split()[1:-1] for line in lines if line.startswith("COPY ")]
    assert copies, "the Dockerfile copies the run script"
    for sources in copies:
        for source in sources:
            assert not source.startswith("--")
            assert (ADDON / source).exists(), f"COPY source {source} is missing"
    cmd = next(line for line in lines if line.startswith("CMD "))
    assert json.loads(cmd.removeprefix("CMD ")) == ["/run.sh"]
    assert any(line.startswith("COPY run.sh /run.sh") for line in lines)


def test_jetson_dockerfile_is_documented() -> None:
    lines = _dockerfile_lines(ADDON / "Dockerfile.jetson")
    froms = [line for line in lines if line.startswith("FROM ")]
    args = " ".join(line for line in lines if line.startswith("ARG "))
    assert froms
    assert "nvcr.io/nvidia/l4t-jetpack" in froms[0] + args
    joined = "\n".join(lines)
    assert "YOLO_OFFLINE=1" in joined
    for source in (s for line in lines if line.startswith("COPY ") for s in line.split()[1:-1]):
        assert (REPO_ROOT / source).exists(), f"COPY source {source} (repository root context)"
    docs = (ADDON / "DOCS.md").read_text(encoding="utf-8")
    assert "Dockerfile.jetson" in docs
    assert "format=engine" in docs
    assert "--runtime nvidia" in docs
    assert "gstreamer_nvdec" in docs


def test_run_script() -> None:
    run = ADDON / "run.sh"
    assert run.stat().st_mode & stat.S_IXUSR, "run.sh must be executable"
    text = run.read_text(encoding="utf-8")
    assert text.startswith("#!/usr/bin/with-contenv bashio\n")
    for variable, key in (
        ("CAREON_MQTT_HOST", "host"),
        ("CAREON_MQTT_PORT", "port"),
        ("CAREON_MQTT_USERNAME", "username"),
        ("CAREON_MQTT_PASSWORD", "password"),
    ):
        assert f"{variable}=\"$(bashio::services mqtt '{key}')\"" in text
        assert variable in text.split("export", 1)[1]
    code = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    assert not any("set -x" in line or "set -o xtrace" in line for line in code)
    assert text.rstrip().endswith("exec python3 -m careon_vision --addon")
    result = subprocess.run(["bash", "-n", str(run)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_run_script_exports_for_careon_vision(tmp_path: Path) -> None:
    """Run the script against a fake bashio: it exports the broker and execs the package."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (tmp_path / "bashio").write_text(
        """
bashio::services.available() { return 0; }
bashio::services() { case "$2" in host) echo core-mosquitto;; port) echo 1883;;
  username) echo addons;; password) echo 's3cret pw';; esac; }
bashio::config.has_value() { return 1; }
bashio::log.info() { echo "LOG $*"; }
bashio::exit.nok() { echo "NOK $*"; exit 1; }
""",
        encoding="utf-8",
    )
    python = bin_dir / "python3"
    python.write_text(
        '#!/bin/bash\necho "ARGS $*"\nenv | grep -E "^CAREON_" | sort\n', encoding="utf-8"
    )
    python.chmod(0o755)
    script = (ADDON / "run.sh").read_text(encoding="utf-8").split("\n", 1)[1]
    wrapper = tmp_path / "run.sh"
    wrapper.write_text(f"#!/bin/bash\nsource {tmp_path / 'bashio'}\n{script}", encoding="utf-8")
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "TZ": "Europe/Berlin"}
    result = subprocess.run(
        ["bash", str(wrapper)], capture_output=True, text=True, env=env, check=False, timeout=30
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "ARGS -m careon_vision --addon" in out
    assert "CAREON_MQTT_HOST=core-mosquitto" in out
    assert "CAREON_MQTT_PORT=1883" in out
    assert "CAREON_MQTT_USERNAME=addons" in out
    assert "CAREON_MQTT_PASSWORD=s3cret pw" in out
    assert "CAREON_TIMEZONE=Europe/Berlin" in out
    assert "s3cret" not in "\n".join(line for line in out.splitlines() if line.startswith("LOG"))


# --- repository and documents ----------------------------------------------------------------------


def test_repository_yaml() -> None:
    data = _load_yaml(REPO_ROOT / "repository.yaml")
    assert isinstance(data, dict)
    assert set(data) <= {"name", "url", "maintainer"}
    for key in ("name", "url", "maintainer"):
        assert isinstance(data.get(key), str), key
        assert data[key].strip(), key
    assert data["url"].startswith("https://github.com/careon-dev/careon")


def test_documents_exist_and_cover_setup() -> None:
    docs = (ADDON / "DOCS.md").read_text(encoding="utf-8")
    for needle in ("Mosquitto", "rtsp://", "0.1,0.6", "Jetson", "privacy"):
        assert needle.lower() in docs.lower(), needle
    readme = (ADDON / "README.md").read_text(encoding="utf-8")
    assert "CareOn Vision" in readme
    assert "This folder will hold" not in (REPO_ROOT / "addons" / "README.md").read_text(
        encoding="utf-8"
    )
