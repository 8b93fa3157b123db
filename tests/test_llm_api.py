"""Tests of the "CareOn store" LLM API: a real Home Assistant, the demo cafe in a real store,
the tools called through Home Assistant's own ``llm`` helper and a conversation ChatLog."""

from __future__ import annotations

from collections.abc import AsyncGenerator
import dataclasses
import inspect
import json
from pathlib import Path
import shutil
from typing import Any

from homeassistant.components.conversation import ConversationInput
from homeassistant.components.conversation.chat_log import (
    AssistantContent,
    ToolResultContent,
    async_get_chat_log,
)
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError, Unauthorized
from homeassistant.helpers import chat_session, entity_registry as er, llm
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events
from sqlalchemy import select
import voluptuous as vol

try:  # Home Assistant 2026.11+: probatio replaced voluptuous, and converts tools for agents
    from probatio import UNSUPPORTED, to_openapi as convert
except ImportError:  # older Home Assistant: voluptuous-openapi
    from voluptuous_openapi import UNSUPPORTED, convert

from custom_components.careon.const import LLM_API_ID, SOURCE_ASSISTANT
from custom_components.careon.core import StoreObject
from custom_components.careon.core.tables import audit_table
from custom_components.careon.llm_api import API_NAME, TOOLS

from .conftest import async_run_action, async_settle, store_entry
from .llm_tools import ACT_TOOLS, ALL_TOOLS, CONFIRMED_TOOLS

PLATFORM = "test_agent"


def _new[T](cls: type[T], **fields: Any) -> T:
    """One of Home Assistant's dataclasses, given the fields this version of it has: the
    supported versions differ (LLMContext lost ``user_prompt`` and gained ``agent_id`` in 2026.x,
    ConversationInput gained ``satellite_id``)."""
    names = {field.name for field in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{name: value for name, value in fields.items() if name in names})


def _llm_context(user_id: str | None = None) -> llm.LLMContext:
    return _new(
        llm.LLMContext,
        platform=PLATFORM,
        context=Context(user_id=user_id),
        user_prompt="help me run the cafe",
        language="en",
        assistant="conversation",
        device_id=None,
    )


async def _api(hass: HomeAssistant, user_id: str | None = None) -> llm.APIInstance:
    return await llm.async_get_api(hass, LLM_API_ID, _llm_context(user_id))


async def _call(api: llm.APIInstance, tool: str, **args: Any) -> dict[str, Any]:
    result = await api.async_call_tool(llm.ToolInput(tool_name=tool, tool_args=args))
    await async_settle(api.api.hass)
    # what a conversation agent sends the model back must be JSON
    return dict(json.loads(json.dumps(_data(result))))


def _data(result: Any) -> Any:
    """What the model reads of a tool's answer: 2026.x wraps it in an llm.ToolResult."""
    return getattr(result, "data", result)


def _content_data(content: ToolResultContent) -> Any:
    """What the model reads of a tool's answer in a ChatLog: 2026.x keeps the llm.ToolResult in
    ``result`` (``tool_result`` is deprecated there), 2025.x the data in ``tool_result``."""
    if (result := getattr(content, "result", None)) is not None:
        return _data(result)
    return content.tool_result


async def _audit(entry: MockConfigEntry) -> list[Any]:
    async with entry.runtime_data.engine.reader() as ontology:
        return list(await ontology.conn.execute(select(audit_table).order_by(audit_table.c.id)))


async def _get(entry: MockConfigEntry, object_id: str) -> StoreObject:
    async with entry.runtime_data.engine.reader() as ontology:
        obj = await ontology.get(object_id)
    assert obj is not None, object_id
    return obj


@pytest.fixture
async def admin_api(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_admin_user: Any
) -> llm.APIInstance:
    """The API as the owner's conversation agent sees it."""
    return await _api(hass, hass_admin_user.id)


async def test_api_listed_with_tools_and_prompt(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """The API is offered next to Assist; one store: no store argument; every schema converts
    to the OpenAPI form agents send models."""
    # Assist's API comes with conversation (2026.x: through the llm integration it depends on),
    # which needs the core's exposed entities
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(hass, "conversation", {})
    apis = {api.id: api for api in llm.async_get_apis(hass)}
    assert llm.LLM_API_ASSIST in apis
    assert apis[LLM_API_ID].name == API_NAME == "CareOn store"

    api = await _api(hass)
    assert [tool.name for tool in api.tools] == ALL_TOOLS
    assert [tool.name for tool in api.tools] == [tool(multi_store=False).name for tool in TOOLS]
    assert init_integration.title in api.api_prompt
    assert init_integration.entry_id in api.api_prompt
    assert "Asia/Seoul" in api.api_prompt
    assert "KRW" in api.api_prompt
    assert "confirm true" in api.api_prompt
    for tool in api.tools:
        assert len(tool.description or "") > 60, tool.name
        # as agents convert tools: with the API's serializer (none), or Assist's
        assistant = await llm.async_get_api(
            hass, llm.LLM_API_ASSIST, dataclasses.replace(_llm_context(), assistant=None)
        )
        for serializer in (api.custom_serializer, assistant.custom_serializer):
            converted = convert(tool.parameters, custom_serializer=serializer)
            text = json.dumps(converted)  # UNSUPPORTED (an object) would not serialise
            assert UNSUPPORTED not in converted.values()
            assert converted["type"] == "object"
        properties = converted.get("properties", {})
        assert "store" not in properties, tool.name
        assert ("confirm" in properties) is (tool.name in CONFIRMED_TOOLS), tool.name
        assert ("reason" in properties) is (tool.name in ACT_TOOLS), tool.name
        assert "UNSUPPORTED" not in text
    place_order = convert(next(t for t in api.tools if t.name == "place_order").parameters)
    assert place_order["required"] == ["lines"]
    line = place_order["properties"]["lines"]["items"]
    assert line["properties"]["qty"] == {
        "type": "integer",
        "minimum": 1,
        "default": 1,
        "description": "How many.",
    }
    assert place_order["properties"]["channel"]["enum"] == ["here", "togo", "delivery", "pickup"]


async def test_no_store_loaded(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """With no store loaded the API offers no tools and says so."""
    assert await hass.config_entries.async_unload(init_integration.entry_id)
    api = await _api(hass)
    assert api.tools == []
    assert "No CareOn store is loaded" in api.api_prompt


async def test_store_status(hass: HomeAssistant, admin_api: llm.APIInstance) -> None:
    """Today's numbers, low stock, alarms, maintenance due and products off, read afresh."""
    entry = hass.config_entries.async_entries("careon")[0]
    before = await _call(admin_api, "store_status")
    assert before["orders_today"] == 0
    assert before["revenue_today"] == 0
    assert before["average_ticket"] is None
    assert before["currency"] == "KRW"

    await async_run_action(
        hass,
        entry,
        "place_order",
        lines=[{"product": "product.latte_hot", "qty": 2}, {"product": "product.cheesecake"}],
    )
    await async_run_action(hass, entry, "place_order", lines=[{"product": "product.croissant"}])
    await async_run_action(
        hass, entry, "adjust_inventory", item="inventory_item.milk", mode="count", qty=100
    )
    await async_run_action(
        hass, entry, "update_availability", product="product.sandwich", available=False
    )
    alarm = await async_run_action(
        hass, entry, "raise_alarm", kind="door_open", severity="critical", subject="zone.kitchen"
    )
    task = await async_run_action(
        hass,
        entry,
        "schedule_maintenance",
        equipment="equipment.oven",
        name="문 가스켓 점검",
        due="2020-01-01T09:00:00+09:00",
    )

    status = await _call(admin_api, "store_status")
    assert status["store"] == entry.title
    assert status["orders_today"] == 2
    assert status["revenue_today"] == 2 * 5000 + 6500 + 3800
    assert status["average_ticket"] == round((2 * 5000 + 6500 + 3800) / 2)
    assert status["unreconciled_payments"] == 0
    low = {item["id"]: item for item in status["low_stock"]}
    assert status["low_stock_count"] == len(low)
    assert low["inventory_item.milk"]["on_hand"] == 100
    assert low["inventory_item.milk"]["unit"] == "ml"
    assert low["inventory_item.milk"]["low"] is True
    [active] = status["active_alarms"]
    assert active["id"] == alarm["alarm_id"]
    assert active["severity"] == "critical"
    assert active["subject"] == {"id": "zone.kitchen", "name": "주방"}
    due = {row["id"]: row for row in status["maintenance_due"]}
    task_id = task["tasks"][0]["task_id"]
    assert due[task_id]["due_now"] is True
    assert due[task_id]["equipment"] == {"id": "equipment.oven", "name": "컨벡션 오븐"}
    off = {product["id"]: product for product in status["unavailable_products"]}
    assert off["product.sandwich"]["reason"] == "manual"
    # milk at 100 ml makes no latte: off for lack of stock
    assert off["product.latte_hot"]["reason"] == "stock_out"


async def test_stock(hass: HomeAssistant, admin_api: llm.APIInstance) -> None:
    """Every item with its levels; only_low keeps the low ones."""
    entry = hass.config_entries.async_entries("careon")[0]
    everything = (await _call(admin_api, "stock"))["items"]
    assert len(everything) == 17
    assert not any(item["low"] for item in everything)
    milk = next(item for item in everything if item["id"] == "inventory_item.milk")
    assert milk == {
        "id": "inventory_item.milk",
        "name": "우유",
        "on_hand": 18000,
        "unit": "ml",
        "reorder_point": 6000,
        "par_level": 24000,
        "low": False,
    }
    assert (await _call(admin_api, "stock", only_low=True))["items"] == []
    await async_run_action(
        hass, entry, "adjust_inventory", item="inventory_item.croissant", mode="count", qty=4
    )
    [low] = (await _call(admin_api, "stock", only_low=True))["items"]
    assert low["id"] == "inventory_item.croissant"
    assert low["on_hand"] == 4
    assert low["low"] is True


async def test_purchase_orders(hass: HomeAssistant, admin_api: llm.APIInstance) -> None:
    """Open orders with supplier, lines and total; include_recent adds cancelled ones."""
    entry = hass.config_entries.async_entries("careon")[0]
    assert (await _call(admin_api, "purchase_orders"))["purchase_orders"] == []
    created = await async_run_action(
        hass,
        entry,
        "create_purchase_order",
        supplier="supplier.dairy",
        lines=[{"item": "inventory_item.milk", "qty": 10000}],
    )
    cancelled = await async_run_action(
        hass,
        entry,
        "create_purchase_order",
        supplier="supplier.bakery",
        lines=[{"item": "inventory_item.croissant", "qty": 10}],
    )
    await async_run_action(
        hass, entry, "cancel_purchase_order", purchase_order=cancelled["purchase_order_id"]
    )
    [order] = (await _call(admin_api, "purchase_orders"))["purchase_orders"]
    assert order["id"] == created["purchase_order_id"]
    assert order["status"] == "draft"
    assert order["supplier"] == {"id": "supplier.dairy", "name": "서울우유 대리점"}
    assert order["total_cost"] == 10000 * 3
    [line] = order["lines"]
    assert line["item"] == "inventory_item.milk"
    assert line["qty"] == 10000
    assert line["received"] == 0
    assert line["unit_cost"] == 3
    recent = (await _call(admin_api, "purchase_orders", include_recent=True))["purchase_orders"]
    assert {po["id"]: po["status"] for po in recent} == {
        created["purchase_order_id"]: "draft",
        cancelled["purchase_order_id"]: "cancelled",
    }


async def test_maintenance_due(hass: HomeAssistant, admin_api: llm.APIInstance) -> None:
    """Open tasks, the ones due now first."""
    entry = hass.config_entries.async_entries("careon")[0]
    later = await async_run_action(
        hass, entry, "schedule_maintenance", name="후드 필터 세척", due="2099-01-01"
    )
    overdue = await async_run_action(
        hass,
        entry,
        "schedule_maintenance",
        equipment="equipment.grinder",
        name="버 교체",
        due="2020-01-01",
    )
    tasks = (await _call(admin_api, "maintenance_due"))["tasks"]
    by_id = {task["id"]: task for task in tasks}
    overdue_row = by_id[overdue["tasks"][0]["task_id"]]
    later_row = by_id[later["tasks"][0]["task_id"]]
    assert overdue_row["due_now"] is True
    assert overdue_row["equipment"] == {"id": "equipment.grinder", "name": "그라인더"}
    assert later_row["due_now"] is False
    assert later_row["equipment"] is None
    assert later_row["due"].startswith("2098-12-31T15:00:00")  # midnight in Seoul, as UTC
    # due ones first
    flags = [task["due_now"] for task in tasks]
    assert flags == sorted(flags, reverse=True)


async def test_zone_occupancy(
    hass: HomeAssistant, admin_api: llm.APIInstance, entity_registry: er.EntityRegistry
) -> None:
    """The ontology's zones with what the CareOn Vision cameras count now."""
    empty = await _call(admin_api, "zone_occupancy")
    assert empty["cameras"] == []
    assert {zone["id"] for zone in empty["zones"]} == {
        "zone.counter",
        "zone.hall",
        "zone.terrace",
        "zone.kitchen",
        "zone.storage",
        "zone.entrance",
    }
    assert all(zone["people_now"] is None for zone in empty["zones"])

    states = {
        # camera "front_door" (an underscore in the id), camera "hall_cam"
        "careon_vision_front_door_visitors_in": "41",
        "careon_vision_front_door_visitors_out": "37",
        "careon_vision_front_door_occupancy": "3",
        "careon_vision_front_door_zone_entrance_occupancy": "2",
        "careon_vision_front_door_zone_entrance_dwell": "12.5",
        "careon_vision_hall_cam_occupancy": "unavailable",
        "careon_vision_hall_cam_zone_hall_occupancy": "5",
        "careon_vision_hall_cam_zone_hall_dwell": "600",
        "careon_vision_hall_cam_zone_entrance_occupancy": "1",
    }
    for unique_id, state in states.items():
        registered = entity_registry.async_get_or_create(
            "sensor", "mqtt", unique_id, suggested_object_id=unique_id
        )
        hass.states.async_set(registered.entity_id, state)
    # not CareOn Vision: ignored
    other = entity_registry.async_get_or_create("sensor", "mqtt", "someone_else_occupancy")
    hass.states.async_set(other.entity_id, "9")

    seen = await _call(admin_api, "zone_occupancy")
    zones = {zone["id"]: zone for zone in seen["zones"]}
    assert zones["zone.entrance"]["people_now"] == 3
    assert zones["zone.entrance"]["average_dwell_s"] == 12.5
    assert zones["zone.entrance"]["capacity"] == 4
    assert zones["zone.hall"]["people_now"] == 5
    assert zones["zone.hall"]["average_dwell_s"] == 600
    assert zones["zone.kitchen"]["people_now"] is None
    cameras = {camera["camera"]: camera for camera in seen["cameras"]}
    assert cameras.keys() == {"front_door", "hall_cam"}
    assert cameras["front_door"]["people_now"] == 3
    assert cameras["front_door"]["visitors_in_today"] == 41
    assert cameras["front_door"]["visitors_out_today"] == 37
    assert cameras["front_door"]["zones"] == {
        "entrance": {"people_now": 2, "average_dwell_s": 12.5}
    }
    assert cameras["hall_cam"]["people_now"] is None  # offline
    assert cameras["hall_cam"]["zones"]["hall"] == {"people_now": 5, "average_dwell_s": 600}


async def test_query_hides_personal_data_from_staff(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    admin_api: llm.APIInstance,
    hass_read_only_user: Any,
) -> None:
    """An assistant asked by a staff account reads no wages and may not filter on them; asked
    by the owner it reads them."""
    staff_api = await _api(hass, hass_read_only_user.id)
    hidden = await _call(staff_api, "query", object_type="Staff")
    assert hidden["count"] == 4
    assert not [p for p in hidden["objects"] if "hourly_rate" in p["properties"]]
    shown = await _call(admin_api, "query", object_type="Staff")
    assert all("hourly_rate" in p["properties"] for p in shown["objects"])
    with pytest.raises(ServiceValidationError) as err:
        await _call(staff_api, "query", object_type="Staff", filters={"hourly_rate": 10030})
    assert err.value.translation_key == "personal_property"


async def test_query(hass: HomeAssistant, admin_api: llm.APIInstance) -> None:
    """The query service's engine: type, filters, links followed, limit."""
    found = await _call(
        admin_api,
        "query",
        object_type="Product",
        filters={"price": {"gte": 6000}},
        follow=["requires.supplied_by"],
    )
    assert {obj["id"] for obj in found["objects"]} == {
        "product.grapefruit_ade",
        "product.cheesecake",
        "product.sandwich",
    }
    assert found["count"] == 3
    cake = next(obj for obj in found["objects"] if obj["id"] == "product.cheesecake")
    [needs] = cake["links"]["requires"]
    assert needs["id"] == "inventory_item.cheesecake"
    assert needs["links"]["supplied_by"][0]["id"] == "supplier.bakery"
    limited = await _call(admin_api, "query", object_type="Product", limit=2)
    assert limited["count"] == 2
    with pytest.raises(ServiceValidationError) as err:
        await _call(admin_api, "query", object_type="Pastry")
    assert err.value.translation_key == "unknown_object_type"
    assert "Pastry" in str(err.value)
    with pytest.raises(vol.Invalid):
        await _call(admin_api, "query", object_type="Product", limit=5000)


async def test_place_order(
    hass: HomeAssistant, admin_api: llm.APIInstance, hass_admin_user: Any
) -> None:
    """A confirmed sale by name and key: the order, the stock, the audit row and the event say
    the assistant acted for the user."""
    entry = hass.config_entries.async_entries("careon")[0]
    actions = async_capture_events(hass, "careon_action")
    beans = (await _get(entry, "inventory_item.espresso_beans")).get("on_hand")
    result = await _call(
        admin_api,
        "place_order",
        lines=[{"product": "카페라떼 (hot)", "qty": 2}, {"product": "cheesecake"}],
        channel="togo",
        note="창가 손님",
        confirm=True,
        reason="손님이 말로 주문함",
    )
    assert result["success"] is True
    order_id = result["result"]["order_id"]
    order = await _get(entry, order_id)
    assert order.get("total") == 2 * 5000 + 6500
    assert order.get("channel") == "togo"
    assert order.get("note") == "창가 손님"
    assert [(line["product"], line["qty"]) for line in order.get("lines")] == [
        ("product.latte_hot", 2),
        ("product.cheesecake", 1),
    ]
    assert (await _get(entry, "inventory_item.espresso_beans")).get("on_hand") == beans - 36
    row = (await _audit(entry))[-1]
    actor = f"assistant:{PLATFORM}/user:{hass_admin_user.id}"
    assert (row.action, row.actor, row.source, row.reason) == (
        "place_order",
        actor,
        SOURCE_ASSISTANT,
        "손님이 말로 주문함",
    )
    [event] = actions
    assert event.data["actor"] == actor
    assert event.data["source"] == "assistant"
    assert event.data["result"]["order_id"] == order_id
    assert event.context.user_id == hass_admin_user.id


async def test_act_tools(hass: HomeAssistant, admin_api: llm.APIInstance) -> None:
    """Each act tool changes the store as its action does, with names resolved."""
    entry = hass.config_entries.async_entries("careon")[0]

    adjusted = await _call(
        admin_api, "adjust_stock", item="우유", mode="waste", qty=500, reason="쏟음"
    )
    assert adjusted["result"]["on_hand"] == 17500
    assert (await _get(entry, "inventory_item.milk")).get("on_hand") == 17500

    drafted = await _call(
        admin_api,
        "create_purchase_order",
        supplier="서울우유 대리점",
        lines=[{"item": "milk", "qty": 6000}, {"item": "inventory_item.oat_milk", "qty": 2000}],
        note="오전 배송",
    )
    po_id = drafted["result"]["purchase_order_id"]
    po = await _get(entry, po_id)
    assert po.get("status") == "draft"
    assert po.get("total_cost") == 6000 * 3 + 2000 * 5

    approved = await _call(
        admin_api, "approve_purchase_order", purchase_order=po.name, confirm=True
    )
    assert approved["result"]["status"] == "ordered"
    assert (await _get(entry, po_id)).get("status") == "ordered"

    second = await _call(
        admin_api,
        "create_purchase_order",
        supplier="supplier.bakery",
        lines=[{"item": "크루아상", "qty": 10, "unit_cost": 1500}],
        approve=True,
        confirm=True,
    )
    second_id = second["result"]["purchase_order_id"]
    assert (await _get(entry, second_id)).get("status") == "ordered"
    assert (await _get(entry, second_id)).get("total_cost") == 15000
    cancelled = await _call(
        admin_api, "cancel_purchase_order", purchase_order=second_id, confirm=True
    )
    assert cancelled["result"]["status"] == "cancelled"

    off = await _call(admin_api, "set_availability", product="matcha_latte", available=False)
    assert off["result"] == {
        "product_id": "product.matcha_latte",
        "available": False,
        "changed": True,
    }
    assert (await _get(entry, "product.matcha_latte")).get("available") is False

    planned = await _call(
        admin_api, "schedule_maintenance", equipment="제빙기", interval_days=14, runtime_hours=200
    )
    assert planned["result"]["equipment_id"] == "equipment.ice_maker"
    machine = await _get(entry, "equipment.ice_maker")
    assert machine.get("maintenance_interval_days") == 14
    one_off = await _call(
        admin_api, "schedule_maintenance", name="배수구 청소", due="2099-03-01", notes="주말"
    )
    [task] = one_off["result"]["tasks"]
    assert (await _get(entry, task["task_id"])).get("notes") == "주말"

    alarm = await async_run_action(
        hass, entry, "raise_alarm", kind="door_open", subject="zone.hall"
    )
    acknowledged = await _call(
        admin_api, "acknowledge_alarm", alarm=alarm["alarm_id"], confirm=True
    )
    assert acknowledged["result"]["status"] == "acknowledged"
    assert (await _get(entry, alarm["alarm_id"])).get("status") == "acknowledged"

    mine = [row for row in await _audit(entry) if row.source == SOURCE_ASSISTANT]
    assert [row.action for row in mine] == [
        "adjust_inventory",
        "create_purchase_order",
        "approve_purchase_order",
        "create_purchase_order",
        "cancel_purchase_order",
        "update_availability",
        "schedule_maintenance",
        "schedule_maintenance",
        "acknowledge_alarm",
    ]
    assert all(row.actor.startswith(f"assistant:{PLATFORM}/user:") for row in mine)
    assert mine[0].reason == "쏟음"


async def test_confirmation_enforced(hass: HomeAssistant, admin_api: llm.APIInstance) -> None:
    """Without confirm true, money and irreversible tools change nothing and say what they
    would do; with it they run."""
    entry = hass.config_entries.async_entries("careon")[0]
    draft = await async_run_action(
        hass,
        entry,
        "create_purchase_order",
        supplier="supplier.dairy",
        lines=[{"item": "inventory_item.milk", "qty": 10000}],
    )
    po_id = draft["purchase_order_id"]
    alarm = await async_run_action(
        hass, entry, "raise_alarm", kind="door_open", subject="zone.hall"
    )
    actions = async_capture_events(hass, "careon_action")
    audit_before = len(await _audit(entry))
    beans = (await _get(entry, "inventory_item.espresso_beans")).get("on_hand")

    refused: dict[str, tuple[dict[str, Any], list[str]]] = {
        "place_order": (
            {"lines": [{"product": "product.latte_hot", "qty": 2}]},
            ["2 x 카페라떼 (HOT)", "10,000 won", "deduct"],
        ),
        "create_purchase_order": (
            {
                "supplier": "supplier.bakery",
                "lines": [{"item": "inventory_item.croissant", "qty": 10}],
                "approve": True,
            },
            ["동네베이커리", "16,000 won"],
        ),
        "approve_purchase_order": (
            {"purchase_order": po_id},
            ["서울우유 대리점", "30,000 won", "approve"],
        ),
        "cancel_purchase_order": ({"purchase_order": po_id}, ["서울우유 대리점", "cancel"]),
        "acknowledge_alarm": ({"alarm": alarm["alarm_id"]}, ["acknowledge", "warning"]),
    }
    for tool, (args, effect) in refused.items():
        for confirm in ({}, {"confirm": False}):
            with pytest.raises(ServiceValidationError) as err:
                await _call(admin_api, tool, **args, **confirm)
            assert err.value.translation_key == "confirmation_required"
            message = str(err.value)
            assert message.startswith(f"{tool} was not run: it would "), message
            assert "call " + tool + " again with confirm set to true" in message
            for words in effect:
                assert words in message, (tool, message)
    assert len(await _audit(entry)) == audit_before
    assert actions == []
    assert (await _get(entry, "inventory_item.espresso_beans")).get("on_hand") == beans
    assert (await _get(entry, po_id)).get("status") == "draft"
    assert (await _get(entry, alarm["alarm_id"])).get("status") == "active"
    assert (await _call(admin_api, "purchase_orders"))["purchase_orders"][0]["id"] == po_id

    # a draft spends nothing: no confirmation
    draft2 = await _call(
        admin_api,
        "create_purchase_order",
        supplier="supplier.bakery",
        lines=[{"item": "inventory_item.croissant", "qty": 10}],
    )
    assert draft2["result"]["status"] == "draft"
    # confirmed
    for tool, (args, _) in refused.items():
        if tool != "create_purchase_order":
            assert (await _call(admin_api, tool, **args, confirm=True))["success"] is True
    assert (await _get(entry, "inventory_item.espresso_beans")).get("on_hand") == beans - 36
    assert (await _get(entry, po_id)).get("status") == "cancelled"
    assert (await _get(entry, alarm["alarm_id"])).get("status") == "acknowledged"


async def test_bad_arguments(hass: HomeAssistant, admin_api: llm.APIInstance) -> None:
    """Unknown objects, bad quantities, wrong types and missing arguments are errors a model can
    read, and change nothing."""
    entry = hass.config_entries.async_entries("careon")[0]
    audit_before = len(await _audit(entry))
    stock_before = (await _call(admin_api, "stock"))["items"]

    with pytest.raises(ServiceValidationError) as err:
        await _call(admin_api, "place_order", lines=[{"product": "latte"}], confirm=True)
    assert err.value.translation_key == "assistant_object_not_found"
    message = str(err.value)
    assert message.startswith('lines[0].product: no Product matches "latte".'), message
    # the suggestions are the products whose id or name contains the word
    assert "product.latte_hot" in message
    assert "product.latte_ice" in message
    assert "product.oat_latte" in message
    assert "product.americano_hot" not in message

    with pytest.raises(ServiceValidationError) as err:
        await _call(admin_api, "adjust_stock", item="unobtainium", mode="count", qty=1)
    assert err.value.translation_key == "assistant_object_not_found"
    # nothing similar: a few that exist
    assert "(and 9 more). Use an id from these or from a read tool" in str(err.value)

    # two products of one name: the ids to choose from
    await async_run_action(
        hass,
        entry,
        "create_object",
        object_type="Product",
        name="말차 라떼",
        key="matcha_latte_large",
        properties={"price": 6500},
    )
    audit_before += 1
    with pytest.raises(ServiceValidationError) as err:
        await _call(admin_api, "set_availability", product="말차 라떼", available=False)
    assert err.value.translation_key == "assistant_object_ambiguous"
    assert str(err.value) == (
        'product: "말차 라떼" matches several objects: 말차 라떼 (product.matcha_latte), '
        "말차 라떼 (product.matcha_latte_large). Use one of these ids"
    )

    # qty 0, a wrong type, a missing argument, an unknown choice, an unknown argument
    for tool, args in (
        ("place_order", {"lines": [{"product": "product.latte_hot", "qty": 0}]}),
        ("place_order", {"lines": [{"product": "product.latte_hot", "qty": "two"}]}),
        ("place_order", {"lines": "latte"}),
        ("place_order", {"confirm": True}),
        ("adjust_stock", {"item": "milk", "mode": "spilled", "qty": 1}),
        ("adjust_stock", {"item": "milk", "mode": "count", "qty": "lots"}),
        ("set_availability", {"product": "product.latte_hot", "available": "maybe"}),
        ("stock", {"store": "CareOn Cafe"}),
    ):
        with pytest.raises(vol.Invalid):
            await _call(admin_api, tool, **args)

    # the engine's own checks arrive translated, in readable English
    with pytest.raises(ServiceValidationError) as err:
        await _call(admin_api, "adjust_stock", item="milk", mode="waste", qty=0)
    assert err.value.translation_key == "out_of_range"
    assert str(err.value) == "qty is 0, but it must be > 0"
    with pytest.raises(ServiceValidationError) as err:
        await _call(
            admin_api,
            "place_order",
            lines=[{"product": "product.croissant", "qty": 13}],
            confirm=True,
        )
    assert err.value.translation_key == "insufficient_stock"
    assert "크루아상" in str(err.value)
    with pytest.raises(ServiceValidationError) as err:
        await _call(admin_api, "schedule_maintenance", name="청소", due="next tuesday")
    assert err.value.translation_key == "invalid_type"
    with pytest.raises(HomeAssistantError, match='Tool "sell" not found'):
        await _call(admin_api, "sell")

    assert len(await _audit(entry)) == audit_before
    assert (await _call(admin_api, "stock"))["items"] == stock_before


async def test_same_rule_as_a_person(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_read_only_user: Any
) -> None:
    """A staff user's assistant may sell and draft, but approving spending and setting a
    maintenance plan take an administrator, like the services."""
    entry = init_integration
    staff_api = await _api(hass, hass_read_only_user.id)
    draft = await _call(
        staff_api,
        "create_purchase_order",
        supplier="supplier.dairy",
        lines=[{"item": "inventory_item.milk", "qty": 1000}],
    )
    po_id = draft["result"]["purchase_order_id"]
    audit_before = len(await _audit(entry))
    for tool, args in (
        ("approve_purchase_order", {"purchase_order": po_id, "confirm": True}),
        ("approve_purchase_order", {"purchase_order": po_id}),
        (
            "create_purchase_order",
            {
                "supplier": "supplier.bakery",
                "lines": [{"item": "croissant", "qty": 5}],
                "approve": True,
                "confirm": True,
            },
        ),
        ("schedule_maintenance", {"equipment": "equipment.oven", "interval_days": 7}),
    ):
        with pytest.raises(HomeAssistantError) as err:
            await _call(staff_api, tool, **args)
        assert err.value.translation_key == "admin_required"
        assert isinstance(err.value.__cause__, Unauthorized)
        assert str(err.value).startswith(f"{tool}: only a Home Assistant administrator")
    assert len(await _audit(entry)) == audit_before
    assert (await _get(entry, po_id)).get("status") == "draft"
    sale = await _call(
        staff_api, "place_order", lines=[{"product": "product.latte_hot"}], confirm=True
    )
    assert sale["result"]["status"] == "paid"
    row = (await _audit(entry))[-1]
    assert row.actor == f"assistant:{PLATFORM}/user:{hass_read_only_user.id}"

    # no user (an automation's agent): acts for Home Assistant, as the services do
    system_api = await llm.async_get_api(
        hass,
        LLM_API_ID,
        _new(
            llm.LLMContext,
            platform=PLATFORM,
            context=None,
            user_prompt=None,
            language="en",
            assistant=None,
            device_id=None,
        ),
    )
    await _call(system_api, "approve_purchase_order", purchase_order=po_id, confirm=True)
    assert (await _audit(entry))[-1].actor == f"assistant:{PLATFORM}"
    assert (await _get(entry, po_id)).get("status") == "ordered"


@pytest.fixture
async def two_stores(
    hass: HomeAssistant, init_integration: MockConfigEntry, demo_store: Path, tmp_path: Path
) -> AsyncGenerator[tuple[MockConfigEntry, MockConfigEntry]]:
    """The demo cafe and a second copy of it, both loaded."""
    annex_path = tmp_path / "annex.db"
    shutil.copyfile(demo_store, annex_path)
    annex = store_entry(annex_path, entry_id="01JCAREON0ANNEX0ENTRY00000", title="CareOn Annex")
    annex.add_to_hass(hass)
    assert await hass.config_entries.async_setup(annex.entry_id)
    await hass.async_block_till_done()
    yield init_integration, annex
    if annex.state is ConfigEntryState.LOADED:
        assert await hass.config_entries.async_unload(annex.entry_id)
        await hass.async_block_till_done()


async def test_two_stores(
    hass: HomeAssistant,
    two_stores: tuple[MockConfigEntry, MockConfigEntry],
    hass_admin_user: Any,
) -> None:
    """With two stores every tool takes a required store: its name (any case) or entry id."""
    cafe, annex = two_stores
    api = await _api(hass, hass_admin_user.id)
    assert "CareOn Cafe" in api.api_prompt
    assert "CareOn Annex" in api.api_prompt
    assert "store argument" in api.api_prompt
    for tool in api.tools:
        converted = convert(tool.parameters)
        assert "store" in converted["required"], tool.name
    with pytest.raises(vol.Invalid):
        await _call(api, "stock")
    with pytest.raises(ServiceValidationError) as err:
        await _call(api, "stock", store="Downtown")
    assert err.value.translation_key == "store_not_found"
    assert "CareOn Annex" in str(err.value)
    assert "CareOn Cafe" in str(err.value)

    await _call(api, "adjust_stock", store="careon annex", item="milk", mode="count", qty=1234)
    assert (await _get(annex, "inventory_item.milk")).get("on_hand") == 1234
    assert (await _get(cafe, "inventory_item.milk")).get("on_hand") == 18000
    by_id = await _call(api, "stock", store=cafe.entry_id)
    assert next(i for i in by_id["items"] if i["id"] == "inventory_item.milk")["on_hand"] == 18000
    status = await _call(api, "store_status", store="CAREON ANNEX")
    assert status["store"] == "CareOn Annex"

    # the annex goes away: the instance built for two stores still answers for the cafe
    assert await hass.config_entries.async_unload(annex.entry_id)
    with pytest.raises(ServiceValidationError) as err:
        await _call(api, "stock", store="CareOn Annex")
    assert err.value.translation_key == "store_not_found"
    assert (await _call(api, "stock", store="CareOn Cafe"))["items"]


async def test_chat_log_tool_calls(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_admin_user: Any
) -> None:
    """Through a conversation ChatLog: the API's prompt joins the system prompt; tool results
    and errors come back as content a model reads ({"error", "error_text"} in English)."""
    entry = init_integration
    user_input = _new(
        ConversationInput,
        text="라떼 두 잔 팔았어",
        context=Context(user_id=hass_admin_user.id),
        conversation_id=None,
        device_id=None,
        satellite_id=None,
        language="ko",
        agent_id="conversation.test_agent",
    )
    # the session's owner: the user's context (2026.x asks for it; 2025.x takes none)
    owner: dict[str, Any] = {}
    if "context" in inspect.signature(chat_session.async_get_chat_session).parameters:
        owner["context"] = user_input.context
    with (
        chat_session.async_get_chat_session(hass, **owner) as session,
        async_get_chat_log(hass, session, user_input) as chat_log,
    ):
        await chat_log.async_update_llm_data(
            conversing_domain=PLATFORM, user_input=user_input, user_llm_hass_api=LLM_API_ID
        )
        assert chat_log.llm_api is not None
        assert "confirm true" in chat_log.content[0].content
        assert entry.title in chat_log.content[0].content

        calls = [
            llm.ToolInput(
                id="unconfirmed",
                tool_name="place_order",
                tool_args={"lines": [{"product": "latte_hot", "qty": 2}]},
            ),
            llm.ToolInput(
                id="unknown", tool_name="place_order", tool_args={"lines": [{"product": "라떼"}]}
            ),
            llm.ToolInput(
                id="invalid",
                tool_name="adjust_stock",
                tool_args={"item": "milk", "mode": "count"},
            ),
            llm.ToolInput(id="status", tool_name="store_status", tool_args={}),
        ]
        results: dict[str, ToolResultContent] = {}
        async for content in chat_log.async_add_assistant_content(
            AssistantContent(agent_id="conversation.test_agent", tool_calls=calls)
        ):
            results[content.tool_call_id] = content
        await async_settle(hass)

        unconfirmed = _content_data(results["unconfirmed"])
        assert unconfirmed["error"] == "ServiceValidationError"
        assert str(unconfirmed["error_text"]).startswith("place_order was not run: it would ")
        assert "10,000 won" in str(unconfirmed["error_text"])
        unknown = _content_data(results["unknown"])
        assert unknown["error"] == "ServiceValidationError"
        assert str(unknown["error_text"]).startswith('lines[0].product: no Product matches "라떼"')
        assert "카페라떼 (HOT) (product.latte_hot)" in str(unknown["error_text"])
        invalid = _content_data(results["invalid"])
        assert invalid["error"] == "MultipleInvalid"
        assert "qty" in str(invalid["error_text"])
        status = _content_data(results["status"])
        assert status["orders_today"] == 0
        json.dumps([_content_data(result) for result in results.values()])

        # the model recovers: asks the user, then confirms
        async for content in chat_log.async_add_assistant_content(
            AssistantContent(
                agent_id="conversation.test_agent",
                tool_calls=[
                    llm.ToolInput(
                        id="confirmed",
                        tool_name="place_order",
                        tool_args={"lines": [{"product": "latte_hot", "qty": 2}], "confirm": True},
                    )
                ],
            )
        ):
            assert _content_data(content)["success"] is True
        await async_settle(hass)
    sold = [row for row in await _audit(entry) if row.source == SOURCE_ASSISTANT]
    assert [(row.action, row.actor) for row in sold] == [
        ("place_order", f"assistant:{PLATFORM}/user:{hass_admin_user.id}")
    ]
    assert (await _call(await _api(hass), "store_status"))["orders_today"] == 1


async def test_staff_plan(hass: HomeAssistant, admin_api: llm.APIInstance) -> None:
    """The staff plan tool answers what the adjust_staffing action answers, takes what-if
    settings, refuses bad days, and changes nothing; store_status carries the next hour."""
    entry = hass.config_entries.async_entries("careon")[0]
    audit_before = len(await _audit(entry))
    plan = await _call(admin_api, "staff_plan")
    response = await hass.services.async_call(
        "careon",
        "adjust_staffing",
        {"config_entry_id": entry.entry_id},
        blocking=True,
        return_response=True,
    )
    assert plan == json.loads(json.dumps(response))
    # the demo cafe: 18 orders per staff-hour, no order history yet, open 08-21 on weekdays
    # and 10-21 at the weekend: the minimum staff while open, nobody while closed
    assert plan["orders_per_staff_hour"] == 18
    assert plan["method"] == "none"
    assert plan["staff_available"] == 4
    open_hours = [hour for hour in plan["hours"] if hour["open"]]
    assert len(open_hours) in (11, 13)
    assert {hour["staff"] for hour in open_hours} == {1}
    assert {hour["staff"] for hour in plan["hours"] if not hour["open"]} == {0}
    assert plan["total_staff_hours"] == len(open_hours)

    what_if = await _call(admin_api, "staff_plan", date=plan["date"], min_staff=5)
    assert {hour["staff"] for hour in what_if["hours"] if hour["open"]} == {5}
    assert what_if["short_hours"] == [hour["start"] for hour in open_hours]

    with pytest.raises(ServiceValidationError) as err:
        await _call(admin_api, "staff_plan", date="2020-01-01")
    assert "date" in str(err.value)
    with pytest.raises(ServiceValidationError) as err:
        await _call(admin_api, "staff_plan", date="tomorrow")
    assert str(err.value) == "date must be a date (YYYY-MM-DD)"
    with pytest.raises(ServiceValidationError) as err:
        await _call(admin_api, "staff_plan", orders_per_staff_hour=0)
    assert "orders_per_staff_hour" in str(err.value)
    assert len(await _audit(entry)) == audit_before

    status = await _call(admin_api, "store_status")
    next_hour = status["recommended_staff_next_hour"]
    assert next_hour["staff"] == entry.runtime_data.forecast.data.next_hour.staff
    assert next_hour["start"] == entry.runtime_data.forecast.data.next_hour.start.isoformat()


async def test_repeated_tool_call_counted_once(
    hass: HomeAssistant, admin_api: llm.APIInstance
) -> None:
    """An agent that sends the same tool call again (a retry) gets the first answer: the sale
    is recorded once."""
    entry = hass.config_entries.async_entries("careon")[0]
    call = llm.ToolInput(
        id="toolu_retry",
        tool_name="place_order",
        tool_args={"lines": [{"product": "croissant", "qty": 1}], "confirm": True},
    )
    first = _data(await admin_api.async_call_tool(call))
    second = _data(await admin_api.async_call_tool(call))
    await async_settle(hass)
    assert first["replayed"] is False
    assert second["replayed"] is True
    assert second["result"] == first["result"]
    sales = [row for row in await _audit(entry) if row.action == "place_order"]
    assert [row.idempotency_key for row in sales] == ["assistant:toolu_retry"]
    assert (await _call(admin_api, "store_status"))["orders_today"] == 1
    # another call (another id) is another sale
    await admin_api.async_call_tool(dataclasses.replace(call, id="toolu_next"))
    assert (await _call(admin_api, "store_status"))["orders_today"] == 2
