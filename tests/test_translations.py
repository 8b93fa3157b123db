"""Tests that every message CareOn shows is translated, in English and Korean alike."""

from __future__ import annotations

import json
from pathlib import Path
import re
import string
from typing import Any

import pytest
import yaml

from custom_components.careon.core import ERROR_KEYS
from custom_components.careon.services import ACTION_PARAMS, SERVICE_QUERY, STORE_SERVICES

ROOT = Path(__file__).parent.parent / "custom_components" / "careon"
STRINGS = json.loads((ROOT / "strings.json").read_text(encoding="utf-8"))
LANGUAGES = {
    language: json.loads((ROOT / "translations" / f"{language}.json").read_text(encoding="utf-8"))
    for language in ("en", "ko")
}
HANGUL = re.compile(r"[\uac00-\ud7a3]")
# Errors raised by the Home Assistant layer itself
HA_ERROR_KEYS = {"entry_not_found": ("entry_id",), "entry_not_loaded": ("store",)}


def _placeholders(message: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(message) if name}


def _leaves(node: Any, path: str = "") -> dict[str, str]:
    if isinstance(node, dict):
        leaves: dict[str, str] = {}
        for key, value in node.items():
            leaves |= _leaves(value, f"{path}.{key}" if path else key)
        return leaves
    return {path: node}


def test_english_is_strings() -> None:
    """A custom integration ships strings.json's text as en.json (no [%key:] references)."""
    assert LANGUAGES["en"] == STRINGS
    assert "[%key:" not in json.dumps(STRINGS)


@pytest.mark.parametrize("language", ["en", "ko"])
def test_same_keys_and_placeholders(language: str) -> None:
    """Every translation has every string, with the same placeholders."""
    reference = _leaves(STRINGS)
    translated = _leaves(LANGUAGES[language])
    assert translated.keys() == reference.keys()
    for key, text in reference.items():
        assert _placeholders(translated[key]) == _placeholders(text), key


def test_korean_is_korean() -> None:
    """The Korean file is translated, not copied (names of fields may stay as they are)."""
    untranslated = [
        key
        for key, text in _leaves(LANGUAGES["ko"]).items()
        if (not HANGUL.search(text) and key.split(".")[-1] != "name") or text == ""
    ]
    allowed = {
        "config.step.postgresql.data.database_url",
        "config.step.reconfigure.data.database_url",
    }
    assert set(untranslated) <= allowed


@pytest.mark.parametrize("language", ["en", "ko"])
def test_error_keys(language: str) -> None:
    """Each error the engine can raise has a message using exactly its placeholders."""
    exceptions = LANGUAGES[language]["exceptions"]
    expected = {**ERROR_KEYS, **HA_ERROR_KEYS}
    assert exceptions.keys() == expected.keys()
    for key, placeholders in expected.items():
        assert _placeholders(exceptions[key]["message"]) == set(placeholders), key


def test_services_documented() -> None:
    """services.yaml and strings.json describe the same services and fields."""
    services = yaml.safe_load((ROOT / "services.yaml").read_text(encoding="utf-8"))
    services = {name: body for name, body in services.items() if not name.startswith(".")}
    assert services.keys() == {*ACTION_PARAMS, *STORE_SERVICES, SERVICE_QUERY}
    assert services.keys() == STRINGS["services"].keys()
    for name, body in services.items():
        fields = set(body["fields"])
        assert fields == set(STRINGS["services"][name]["fields"]), name
        assert all("selector" in field for field in body["fields"].values()), name
        params = {str(key) for key in ACTION_PARAMS.get(name, STORE_SERVICES.get(name, {}))}
        assert params <= fields, name


def test_every_flow_field_described() -> None:
    """Every field of every form has a label and a description."""
    for section in ("config", "options"):
        for step_id, step in STRINGS[section]["step"].items():
            assert step.get("data", {}).keys() == step.get("data_description", {}).keys(), step_id
