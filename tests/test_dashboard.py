"""The wall-tablet dashboards shipped in dashboards/ (Lovelace YAML, English and Korean).

They use built-in cards only; every entity they name is one the demo store or CareOn Vision's
``entrance`` camera creates; the Korean file has the English one's cards, entities and templates
(only the text differs); and the list templates render in Home Assistant and follow the store:
low stock, camera zones, alarms and maintenance due.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterator
from datetime import timedelta
from pathlib import Path
import re
import sys
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers.template import Template
from homeassistant.util import dt as dt_util
from homeassistant.util.yaml import load_yaml
import jinja2
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from .conftest import async_call_careon

# The add-on's package lives in vision_addon/ (not installed in Home Assistant's environment):
# discovery.py and config.py need only the standard library, pydantic and PyYAML.
VISION_ADDON = Path(__file__).resolve().parents[1] / "vision_addon"
if str(VISION_ADDON) not in sys.path:
    sys.path.insert(0, str(VISION_ADDON))

from careon_vision.config import config_from_mapping  # noqa: E402
from careon_vision.discovery import discovery_messages  # noqa: E402

DASHBOARDS = Path(__file__).resolve().parents[1] / "dashboards"
ENGLISH = DASHBOARDS / "careon_wall.yaml"
KOREAN = DASHBOARDS / "careon_wall.ko.yaml"

# Cards that ship with Home Assistant's frontend (no custom: cards, no resources to install)
BUILT_IN_CARDS = frozenset(
    {
        "conditional",
        "entities",
        "entity",
        "glance",
        "grid",
        "heading",
        "horizontal-stack",
        "image",
        "markdown",
        "picture-entity",
        "tile",
        "todo-list",
        "vertical-stack",
    }
)
# The big numbers at the top: entity -> (English name, Korean name). The end-to-end test finds
# the English cards by these names.
BIG_NUMBERS = {
    "sensor.careon_cafe_revenue_today": ("Revenue today", "오늘 매출"),
    "sensor.careon_cafe_orders_today": ("Orders today", "오늘 주문"),
    "sensor.careon_vision_entrance_visitors_in": ("Visitors in", "들어온 손님"),
    "sensor.careon_vision_entrance_occupancy": ("Present now", "지금 매장 인원"),
    "sensor.careon_cafe_low_stock_items": ("Low stock", "재고 부족"),
    "sensor.careon_cafe_open_purchase_orders": ("Open orders", "진행 중 발주"),
    "sensor.careon_cafe_active_alarms": ("Active alarms", "활성 알람"),
}
# Keys whose values are text shown to people (translated in the Korean file)
TEXT_KEYS = frozenset({"title", "name", "heading", "unit"})
# The prefixes the header comment tells to replace for another store and camera
STORE_PREFIX = "careon_cafe_"
CAMERA_PREFIX = "careon_vision_entrance_"
HANGUL = re.compile(r"[\uac00-\ud7a3]")
# What the text of a markdown template is laid out with: HTML tags, bold, list items
MARKUP = re.compile(r"</?[\w-]+(?:\s[^>]*)?>|\*\*|^\s*- ", re.MULTILINE)
# Latin words the Korean text may have
LATIN_IN_KOREAN = frozenset({"CareOn", "Vision"})
ALL_GOOD = '<ha-alert alert-type="success">'

# Which markdown card lists what: a piece of its template
LOW_STOCK = "_low_stock$"
ZONES = "_zone_.+_occupancy$"
ALARMS = "_active_alarms$"
MAINTENANCE = "_maintenance_due$"


def _load(path: Path) -> dict[str, Any]:
    config = load_yaml(path)
    assert isinstance(config, dict)
    return config


def _card_tree(card: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield card
    for inner in card.get("cards", []):
        yield from _card_tree(inner)
    if "card" in card:
        yield from _card_tree(card["card"])


def _cards(config: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every card of every view, nested cards included."""
    for view in config["views"]:
        for section in view.get("sections", []):
            for card in section["cards"]:
                yield from _card_tree(card)
        for card in view.get("cards", []):
            yield from _card_tree(card)


def _entity_ids(node: Any) -> Iterator[str]:
    """Every entity id named under an ``entity`` or ``entities`` key (cards, rows, conditions)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "entity" and isinstance(value, str):
                yield value
            elif key == "entities" and isinstance(value, list):
                for row in value:
                    if isinstance(row, str):
                        yield row
            yield from _entity_ids(value)
    elif isinstance(node, list):
        for item in node:
            yield from _entity_ids(item)


def _markdown(config: dict[str, Any], role: str) -> str:
    """The template of the one markdown card whose template has ``role`` in it."""
    contents = [
        card["content"]
        for card in _cards(config)
        if card["type"] == "markdown" and role in card["content"]
    ]
    assert len(contents) == 1, role
    return str(contents[0])


def _vision_entity_ids() -> set[str]:
    """The entities CareOn Vision's discovery creates for a camera ``entrance``."""
    config = config_from_mapping(
        {
            "cameras": [
                {
                    "id": "entrance",
                    "name": "Entrance",
                    "url": "rtsp://192.0.2.10/stream1",
                    "lines": [{"name": "Door", "start": "0.1,0.6", "end": "0.9,0.6"}],
                    "zones": [{"name": "Counter", "polygon": "0.1,0.1; 0.5,0.1; 0.5,0.5"}],
                }
            ]
        }
    )
    return {
        payload["default_entity_id"]
        for topic, payload in discovery_messages(config, config.cameras[0])
    }


def _template_logic(content: str) -> list[tuple[str, str]]:
    """A template's tags and expressions, token by token, without the text around them."""
    return [
        (token, value)
        for _, token, value in jinja2.Environment().lex(content)
        if token not in ("data", "whitespace")
    ]


def _template_text(content: str) -> str:
    """The text of a template, around its tags and expressions."""
    return "".join(
        value for _, token, value in jinja2.Environment().lex(content) if token == "data"
    )


def _assert_same_structure(english: Any, korean: Any, path: str) -> None:
    if isinstance(english, dict):
        assert isinstance(korean, dict), path
        assert korean.keys() == english.keys(), path
        for key, value in english.items():
            if key in TEXT_KEYS and isinstance(value, str):
                assert isinstance(korean[key], str), f"{path}.{key}"
                assert korean[key] == value or HANGUL.search(korean[key]), f"{path}.{key}"
            elif key == "content":
                assert _template_logic(korean[key]) == _template_logic(value), f"{path}.{key}"
                english_text, korean_text = _template_text(value), _template_text(korean[key])
                assert MARKUP.findall(korean_text) == MARKUP.findall(english_text), path
                assert HANGUL.search(korean_text), f"{path}.{key}"
                # no English left in the Korean text (names of products excepted)
                words = set(re.findall(r"[A-Za-z]{2,}", MARKUP.sub("", korean_text)))
                assert words <= LATIN_IN_KOREAN, f"{path}.{key}: {words - LATIN_IN_KOREAN}"
                assert not HANGUL.search(english_text), f"{path}.{key}"
            else:
                _assert_same_structure(value, korean[key], f"{path}.{key}")
    elif isinstance(english, list):
        assert isinstance(korean, list), path
        assert len(korean) == len(english), path
        for index, (english_item, korean_item) in enumerate(zip(english, korean, strict=True)):
            _assert_same_structure(english_item, korean_item, f"{path}[{index}]")
    else:
        assert korean == english, path


async def _render(hass: HomeAssistant, content: str) -> str:
    return str(Template(content, hass).async_render(parse_result=False))


@pytest.fixture(params=["en", "ko"], ids=["ha_en", "ha_ko"])
async def store(
    request: pytest.FixtureRequest,
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    demo_store: Path,
) -> AsyncGenerator[MockConfigEntry]:
    """The demo cafe ("CareOn Cafe"), set up with Home Assistant in English or in Korean
    (entity names follow the language, entity ids do not)."""
    hass.config.language = request.param
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    yield mock_config_entry
    assert await hass.config_entries.async_unload(mock_config_entry.entry_id)
    await hass.async_block_till_done()


@pytest.mark.parametrize("path", [ENGLISH, KOREAN], ids=["careon_wall", "careon_wall.ko"])
def test_built_in_cards_only(path: Path) -> None:
    """One sections view of built-in cards (nothing to install)."""
    config = _load(path)
    assert [view["type"] for view in config["views"]] == ["sections"]
    assert {section["type"] for section in config["views"][0]["sections"]} == {"grid"}
    types = {card["type"] for card in _cards(config)}
    assert types <= BUILT_IN_CARDS, types - BUILT_IN_CARDS


@pytest.mark.parametrize(
    ("path", "language"), [(ENGLISH, 0), (KOREAN, 1)], ids=["careon_wall", "careon_wall.ko"]
)
def test_big_numbers_on_top(path: Path, language: int) -> None:
    """The first section spans the whole view and holds the big numbers, as entity cards with
    the names the end-to-end test reads back."""
    view = _load(path)["views"][0]
    top = view["sections"][0]
    assert top["column_span"] == view["max_columns"]
    numbers = [card for card in _cards({"views": [{"sections": [top]}]}) if card["type"] != "grid"]
    assert all(card["type"] == "entity" for card in numbers)
    assert {card["entity"]: card["name"] for card in numbers} == {
        entity_id: names[language] for entity_id, names in BIG_NUMBERS.items()
    }


@pytest.mark.usefixtures("store")
async def test_entities_exist(hass: HomeAssistant) -> None:
    """Every entity a card names is one the demo store or the entrance camera creates."""
    vision = _vision_entity_ids()
    for path in (ENGLISH, KOREAN):
        named = set(_entity_ids(_load(path)))
        assert named, path
        missing = {
            entity_id
            for entity_id in named
            if hass.states.get(entity_id) is None and entity_id not in vision
        }
        assert not missing, (path, missing)
        assert "todo.careon_cafe_purchase_orders" in named


@pytest.mark.parametrize("path", [ENGLISH, KOREAN], ids=["careon_wall", "careon_wall.ko"])
def test_adapting_to_another_store(path: Path) -> None:
    """Replacing the store's and the camera's prefixes adapts the dashboard: every entity it
    names has one of them, and the templates name none (they find the entities themselves)."""
    config = _load(path)
    for entity_id in _entity_ids(config):
        object_id = entity_id.split(".", 1)[1]
        assert object_id.startswith((STORE_PREFIX, CAMERA_PREFIX)), entity_id
    for card in _cards(config):
        if card["type"] == "markdown":
            assert "careon_cafe" not in card["content"]
            assert "entrance" not in card["content"]
    header = path.read_text(encoding="utf-8").split("\ntitle:")[0]
    assert f"s/{STORE_PREFIX}/" in header
    assert f"s/{CAMERA_PREFIX}/" in header


def test_korean_follows_english() -> None:
    """The Korean dashboard has the English one's views, sections, cards, entities and template
    logic; only the text differs, and it is Korean."""
    english, korean = _load(ENGLISH), _load(KOREAN)
    _assert_same_structure(english, korean, "dashboard")
    assert korean["views"][0]["title"] != english["views"][0]["title"]


@pytest.mark.parametrize("path", [ENGLISH, KOREAN], ids=["careon_wall", "careon_wall.ko"])
async def test_low_stock_list(hass: HomeAssistant, store: MockConfigEntry, path: Path) -> None:
    """An item at its reorder point shows with its name, the quantity left and the reorder
    point; with none the card says all is well."""
    template = _markdown(_load(path), LOW_STOCK)
    before = await _render(hass, template)
    assert ALL_GOOD in before
    assert "우유" not in before

    await async_call_careon(
        hass, store, "adjust_inventory", item="inventory_item.milk", mode="count", qty=250
    )
    await async_call_careon(
        hass, store, "adjust_inventory", item="inventory_item.sandwich", mode="count", qty=1
    )
    after = await _render(hass, template)
    assert ALL_GOOD not in after
    lines = after.strip().split("\n")
    assert len(lines) == 2, after
    milk, sandwich = sorted(lines, key=lambda line: "샌드위치" in line)
    # the item's own name, without the store's name or the entity's "low stock"
    assert milk.startswith("- <big>**우유** 250 mL</big>")
    assert milk.endswith(" 6000 mL")
    # counted in pieces: no unit
    assert sandwich.startswith("- <big>**햄치즈 샌드위치** 1</big>")
    assert sandwich.endswith(" 2")


@pytest.mark.parametrize("path", [ENGLISH, KOREAN], ids=["careon_wall", "careon_wall.ko"])
async def test_zone_list(hass: HomeAssistant, store: MockConfigEntry, path: Path) -> None:
    """Each camera zone shows the people in it and their average stay."""
    template = _markdown(_load(path), ZONES)
    before = await _render(hass, template)
    assert '<ha-alert alert-type="info">' in before
    assert "Counter" not in before

    hass.states.async_set(
        "sensor.careon_vision_entrance_zone_counter_occupancy",
        "3",
        {"friendly_name": "Entrance Counter occupancy", "unit_of_measurement": "people"},
    )
    hass.states.async_set(
        "sensor.careon_vision_entrance_zone_counter_dwell",
        "42.4",
        {"friendly_name": "Entrance Counter average dwell", "unit_of_measurement": "s"},
    )
    hass.states.async_set(
        "sensor.careon_vision_entrance_zone_window_occupancy",
        "unavailable",
        {"friendly_name": "Entrance Window occupancy"},
    )
    # not a camera zone
    hass.states.async_set(
        "sensor.kitchen_zone_hall_occupancy", "7", {"friendly_name": "Kitchen hall occupancy"}
    )
    after = await _render(hass, template)
    zones = after.strip().split("\n- ")
    assert len(zones) == 2, after
    assert "**Entrance Counter**" in zones[0]
    assert re.search(r"\b3</big>", zones[0])
    assert re.search(r"\b42(&nbsp;)?(s|초)", zones[0])
    assert "**Entrance Window**" in zones[1]
    assert "\u2013</big>" in zones[1]  # an en dash: no count
    assert "Kitchen" not in after

    hass.states.async_set(
        "sensor.careon_vision_entrance_zone_counter_occupancy",
        "5",
        {"friendly_name": "Entrance Counter occupancy", "unit_of_measurement": "people"},
    )
    hass.states.async_set("sensor.careon_vision_entrance_zone_counter_dwell", "300", {})
    again = await _render(hass, template)
    assert re.search(r"\b5</big>", again)
    assert re.search(r"\b5(&nbsp;)?(min|분)", again)


@pytest.mark.parametrize("path", [ENGLISH, KOREAN], ids=["careon_wall", "careon_wall.ko"])
async def test_alarm_list(hass: HomeAssistant, store: MockConfigEntry, path: Path) -> None:
    """A raised alarm shows, as severe as it is, until it is resolved."""
    template = _markdown(_load(path), ALARMS)
    assert ALL_GOOD in await _render(hass, template)

    raised = await async_call_careon(
        hass,
        store,
        "raise_alarm",
        kind="cold_chain",
        severity="warning",
        subject="equipment.display_fridge",
        message="쇼케이스 온도 7.5 °C",
    )
    await async_call_careon(hass, store, "raise_alarm", kind="door_open", severity="critical")
    shown = await _render(hass, template)
    assert ALL_GOOD not in shown
    alerts = re.findall(r'<ha-alert alert-type="(\w+)">(.*?)</ha-alert>', shown, re.DOTALL)
    assert [(kind, "door open" in text) for kind, text in alerts] == [
        ("error", True),
        ("warning", False),
    ]
    assert "쇼케이스 냉장고 · cold chain" in alerts[1][1]
    assert "쇼케이스 온도 7.5 °C" in alerts[1][1]

    await async_call_careon(hass, store, "resolve_alarm", alarm=raised["alarm_id"])
    shown = await _render(hass, template)
    assert "쇼케이스" not in shown
    assert "door open" in shown

    # many alarms: the card shows five and counts the others
    for number in range(6):
        await async_call_careon(hass, store, "raise_alarm", kind=f"probe_{number}", settle=False)
    await async_call_careon(hass, store, "raise_alarm", kind="probe_6")
    shown = await _render(hass, template)
    assert shown.count("<ha-alert") == 5
    assert re.search(r"(?<!\d)3(?!\d)", shown.rsplit("</ha-alert>", 1)[1])


@pytest.mark.parametrize("path", [ENGLISH, KOREAN], ids=["careon_wall", "careon_wall.ko"])
async def test_maintenance_list(hass: HomeAssistant, store: MockConfigEntry, path: Path) -> None:
    """Maintenance due shows by equipment with the task names; with none due, the card says so
    and tells the next one."""
    template = _markdown(_load(path), MAINTENANCE)
    before = await _render(hass, template)
    assert ALL_GOOD in before
    # the plans' first tasks: the espresso machine's backflush is the earliest (a week away)
    assert "**백플러시 및 샤워스크린 세척**" in before
    assert "(에스프레소 머신)" in before

    await async_call_careon(
        hass,
        store,
        "schedule_maintenance",
        equipment="equipment.grinder",
        name="버 교체",
        due=(dt_util.utcnow() - timedelta(hours=1)).isoformat(),
    )
    after = await _render(hass, template)
    assert ALL_GOOD not in after
    assert "백플러시" not in after
    assert re.search(r"^- <big>\*\*그라인더\*\*</big>:\s+버 교체$", after.strip(), re.MULTILINE)
