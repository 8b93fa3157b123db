"""Tests that every message CareOn shows is translated, in English and Korean alike.

Part of the readiness suite (tests/test_readiness.py says where the rest lives): the services'
names and descriptions, their icons and the entities' icons are checked there.
"""

from __future__ import annotations

import json
from pathlib import Path
import re
import string
from typing import Any

from homeassistant.helpers import config_validation as cv
import pytest
import voluptuous as vol

from custom_components.careon.core import ERROR_KEYS
from custom_components.careon.llm_api import LLM_ERROR_KEYS

ROOT = Path(__file__).parent.parent / "custom_components" / "careon"
STRINGS = json.loads((ROOT / "strings.json").read_text(encoding="utf-8"))
LANGUAGES = {
    language: json.loads((ROOT / "translations" / f"{language}.json").read_text(encoding="utf-8"))
    for language in ("en", "ko")
}
HANGUL = re.compile(r"[\uac00-\ud7a3]")
# Errors raised by the Home Assistant layer itself
HA_ERROR_KEYS = {
    "entry_not_found": ("entry_id",),
    "entry_not_loaded": ("store",),
    **LLM_ERROR_KEYS,
}


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


def test_every_flow_field_described() -> None:
    """Every field of every form has a label and a description."""
    for section in ("config", "options"):
        for step_id, step in STRINGS[section]["step"].items():
            assert step.get("data", {}).keys() == step.get("data_description", {}).keys(), step_id


# hassfest's rules for a translated string (script/hassfest/translations.py,
# validate_translation_value) and for translation keys (translation_key_validator).
RE_TRANSLATION_KEY = re.compile(r"^(?!.+[_-]{2})(?![_-])[a-z0-9-_]+(?<![_-])$")
RE_COMBINED_REFERENCE = re.compile(r"(.+\[%)|(%\].+)")
RE_PLACEHOLDER_IN_SINGLE_QUOTES = re.compile(r"'{\w+}'")
RE_URL = re.compile(
    r"(((ftp|ftps|scp|http|https|mqtt|mqtts|socket|socks5):\/\/|www\.)"
    r"[a-z0-9]+([\-\.]{1}[a-z0-9]+)*\.[a-z]{2,5}(:[0-9]{1,5})?(\/.*)?)",
    re.IGNORECASE,
)
# Subtrees whose keys are translation keys: (path pattern of the key's parent, as in _leaves)
TRANSLATION_KEY_PARENTS = (
    re.compile(r"^entity\.[a-z_]+$"),
    re.compile(r"^entity\.[a-z_]+\.[^.]+\.state$"),
    re.compile(r"^entity\.[a-z_]+\.[^.]+\.state_attributes$"),
    re.compile(r"^selector\.[^.]+\.options$"),
    re.compile(r"^services$"),
    re.compile(r"^exceptions$"),
    re.compile(r"^issues$"),
)


def check_translation_strings(strings: dict[str, Any]) -> list[str]:
    """Every string passes hassfest's rules; every translation key has hassfest's form."""
    problems: list[str] = []
    leaves: dict[str, Any] = _leaves(strings)
    for key, text in leaves.items():
        if not isinstance(text, str):
            problems.append(f"{key}: not a string")
            continue
        try:
            cv.string_with_no_html(text)
        except vol.Invalid:
            problems.append(f"{key}: contains HTML")
        if RE_PLACEHOLDER_IN_SINGLE_QUOTES.search(text):
            problems.append(f"{key}: a placeholder inside single quotes")
        if any(not name.isidentifier() for name in _placeholders(text)):
            problems.append(f"{key}: a placeholder that is not an identifier")
        if RE_COMBINED_REFERENCE.search(text):
            problems.append(f"{key}: a combined translation")
        if text != text.strip():
            problems.append(f"{key}: leading or trailing spaces")
        if RE_URL.search(text):
            problems.append(f"{key}: a URL (use a description placeholder)")

    def walk(node: Any, path: str) -> None:
        if not isinstance(node, dict):
            return
        for name, child in node.items():
            if any(parent.match(path) for parent in TRANSLATION_KEY_PARENTS) and (
                RE_TRANSLATION_KEY.match(name) is None
            ):
                problems.append(f"{path}.{name}: not a translation key ([a-z0-9-_]+)")
            walk(child, f"{path}.{name}" if path else name)

    walk(strings, "")
    return problems


@pytest.mark.parametrize("language", ["en", "ko"])
def test_translation_strings_pass_hassfest(language: str) -> None:
    assert check_translation_strings(LANGUAGES[language]) == []


def test_translation_strings_check_catches_mistakes() -> None:
    broken = json.loads(json.dumps(STRINGS))
    broken["exceptions"]["entry_not_found"]["message"] = "No store '{entry_id}'"
    broken["services"]["query"]["description"] = "See <b>the docs</b> at https://careon.example/q"
    broken["services"]["query"]["name"] = "Query "
    broken["entity"]["sensor"]["Revenue"] = {"name": "Revenue"}
    broken["selector"]["channel"]["options"]["to_go_"] = "To go"
    broken["issues"]["x"] = {"title": "{0} failed", "description": "[%key:common::x%] more"}
    problems = check_translation_strings(broken)
    assert [
        problem for problem in problems if problem not in check_translation_strings(STRINGS)
    ] == [
        "exceptions.entry_not_found.message: a placeholder inside single quotes",
        "issues.x.title: a placeholder that is not an identifier",
        "issues.x.description: a combined translation",
        "services.query.name: leading or trailing spaces",
        "services.query.description: contains HTML",
        "services.query.description: a URL (use a description placeholder)",
        "selector.channel.options.to_go_: not a translation key ([a-z0-9-_]+)",
        "entity.sensor.Revenue: not a translation key ([a-z0-9-_]+)",
    ]
