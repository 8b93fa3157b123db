"""Tests of CareOn's services: every action, the query, and their translated errors."""

from __future__ import annotations

from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError, Unauthorized
from homeassistant.helpers import selector
from homeassistant.helpers.service import async_get_all_descriptions
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events
import voluptuous as vol

from custom_components.careon.const import DOMAIN
from custom_components.careon.core import queries

from .conftest import async_call_careon, get_state

pytestmark = pytest.mark.usefixtures("init_integration")

ALL_SERVICES = {
    "place_order",
    "cancel_order",
    "refund_order",
    "receive_stock",
    "adjust_inventory",
    "update_availability",
    "create_object",
    "update_object",
    "delete_object",
    "set_link",
    "remove_link",
    "define_type",
    "auto_reorder",
    "create_purchase_order",
    "approve_purchase_order",
    "cancel_purchase_order",
    "receive_purchase_order",
    "schedule_maintenance",
    "update_maintenance_task",
    "complete_maintenance",
    "cancel_maintenance",
    "record_runtime",
    "check_maintenance",
    "raise_alarm",
    "acknowledge_alarm",
    "resolve_alarm",
    "escalate_alarm",
    "resolve_unmapped_product",
    "import_card_sales",
    "reconcile",
    "fetch_nice_payment",
    "query",
    "adjust_staffing",
}


_call = async_call_careon


async def _fails(
    hass: HomeAssistant, entry: MockConfigEntry, service: str, **data: Any
) -> ServiceValidationError:
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, entry, service, **data)
    assert err.value.translation_domain == DOMAIN
    return err.value


def _state(hass: HomeAssistant, entity_id: str) -> str:
    state = get_state(hass, entity_id)
    assert state is not None
    return state.state


async def test_services_registered(hass: HomeAssistant) -> None:
    """One service per action, and the query."""
    assert set(hass.services.async_services_for_domain(DOMAIN)) == ALL_SERVICES


async def test_service_descriptions(hass: HomeAssistant) -> None:
    """services.yaml loads, with every field of every service."""
    descriptions = (await async_get_all_descriptions(hass))[DOMAIN]
    assert set(descriptions) == ALL_SERVICES
    # an object selector (2026.x writes its default config out: {"object": {"multiple": False}})
    lines = selector.selector(descriptions["place_order"]["fields"]["lines"]["selector"])
    assert isinstance(lines, selector.ObjectSelector)
    assert not lines.config.get("multiple", False)
    assert descriptions["adjust_inventory"]["fields"]["mode"]["required"] is True
    assert descriptions["create_purchase_order"]["fields"]["lines"]["required"] is True
    # (2026.x also writes out the options it defaults: custom_value, multiple, sort)
    assert (
        descriptions["raise_alarm"]["fields"]["severity"]["selector"]["select"].items()
        >= {
            "options": ["info", "warning", "critical"],
            "translation_key": "alarm_severity",
        }.items()
    )
    assert (
        descriptions["record_runtime"]["fields"]["hours"]["selector"]["number"][
            "unit_of_measurement"
        ]
        == "h"
    )
    assert set(descriptions["check_maintenance"]["fields"]) == {
        "config_entry_id",
        "reason",
        "idempotency_key",
    }


async def test_place_cancel_refund(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """Orders are placed, cancelled (restocked) and refunded."""
    entry = init_integration
    placed = await _call(
        hass,
        entry,
        "place_order",
        lines=[{"product": "product.latte_hot", "qty": 2}, {"product": "product.croissant"}],
        channel="togo",
        note="덜 뜨겁게",
        zone="zone.hall",
        reason="counter",
    )
    assert placed["total"] == 2 * 5000 + 3800
    assert placed["status"] == "paid"
    assert placed["shortfall"] == []
    assert _state(hass, "sensor.careon_cafe_uyu_stock") == str(18000 - 400)
    assert _state(hass, "sensor.careon_cafe_average_ticket") == str(13800)

    cancelled = await _call(hass, entry, "cancel_order", order=placed["order_id"])
    assert cancelled["status"] == "cancelled"
    assert cancelled["restocked"]["inventory_item.milk"] == 400
    assert _state(hass, "sensor.careon_cafe_uyu_stock") == "18000"
    assert _state(hass, "sensor.careon_cafe_orders_today") == "0"
    assert _state(hass, "sensor.careon_cafe_average_ticket") == "unknown"

    err = await _fails(hass, entry, "refund_order", order=placed["order_id"])
    assert err.translation_key == "order_status_invalid"
    assert (err.translation_placeholders or {})["status"] == "cancelled"

    second = await _call(
        hass, entry, "place_order", lines=[{"product": "product.croissant"}], status="completed"
    )
    refunded = await _call(hass, entry, "refund_order", order=second["order_id"], restock=True)
    assert refunded == {
        "order_id": second["order_id"],
        "status": "refunded",
        "previous_status": "completed",
        "restocked": {"inventory_item.croissant": 1},
        "replayed": False,
    }


async def test_place_order_errors(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """The engine's checks come back translated, naming the field."""
    entry = init_integration
    err = await _fails(hass, entry, "place_order", lines=[{"product": "product.bingsu"}])
    assert err.translation_key == "object_not_found"
    assert err.translation_placeholders == {
        "field": "lines[0].product",
        "object_id": "product.bingsu",
    }
    assert str(err) == "lines[0].product: there is no object product.bingsu"

    err = await _fails(
        hass, entry, "place_order", lines=[{"product": "product.croissant", "qty": 50}]
    )
    assert err.translation_key == "insufficient_stock"
    assert err.translation_placeholders == {
        "field": "lines[0].qty",
        "item": "크루아상",
        "needed": "50",
        "on_hand": "12",
    }

    err = await _fails(
        hass, entry, "place_order", lines=[{"product": "product.croissant", "qty": "lots"}]
    )
    assert err.translation_key == "invalid_type"
    assert err.translation_placeholders == {"field": "lines[0].qty", "expected": "whole number"}

    err = await _fails(
        hass, entry, "place_order", lines=[{"product": "product.croissant"}], channel="drone"
    )
    assert err.translation_key == "invalid_choice"
    assert (err.translation_placeholders or {})["field"] == "channel"

    err = await _fails(hass, entry, "place_order")
    assert err.translation_key == "missing_field"
    assert err.translation_placeholders == {"field": "lines"}

    err = await _fails(hass, entry, "place_order", lines=[])
    assert err.translation_key == "empty_list"

    err = await _fails(
        hass, entry, "place_order", lines=[{"product": "product.croissant"}], table="7"
    )
    assert err.translation_key == "unknown_field"
    assert err.translation_placeholders == {"field": "table"}

    # The shape of a call is checked by the schema: lines are mappings.
    with pytest.raises(vol.Invalid):
        await _call(hass, entry, "place_order", lines=["product.croissant"])

    # The nothing-changed promise: no order was recorded.
    assert _state(hass, "sensor.careon_cafe_orders_today") == "0"


async def test_unavailable_product(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """A product taken off sale cannot be ordered through the service."""
    entry = init_integration
    result = await _call(
        hass, entry, "update_availability", product="product.croissant", available=False
    )
    assert result == {
        "product_id": "product.croissant",
        "available": False,
        "changed": True,
        "replayed": False,
    }
    assert _state(hass, "switch.careon_cafe_beoteo_keuruasang_on_sale") == "off"

    err = await _fails(hass, entry, "place_order", lines=[{"product": "product.croissant"}])
    assert err.translation_key == "product_unavailable"
    assert err.translation_placeholders == {"field": "lines[0].product", "product": "버터 크루아상"}

    err = await _fails(
        hass, entry, "update_availability", product="inventory_item.milk", available=True
    )
    assert err.translation_key == "wrong_object_type"


async def test_stock(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """Stock is received and adjusted; bad quantities are refused."""
    entry = init_integration
    received = await _call(
        hass,
        entry,
        "receive_stock",
        lines=[{"item": "inventory_item.milk", "qty": 6000, "unit_cost": 3}],
    )
    assert received["items"] == [
        {"item_id": "inventory_item.milk", "name": "우유", "received": 6000, "on_hand": 24000}
    ]
    assert _state(hass, "sensor.careon_cafe_uyu_stock") == "24000"

    adjusted = await _call(
        hass, entry, "adjust_inventory", item="inventory_item.milk", mode="waste", qty=1000
    )
    assert adjusted["on_hand"] == 23000
    assert adjusted["delta"] == -1000

    adjusted = await _call(
        hass, entry, "adjust_inventory", item="inventory_item.croissant", mode="count", qty=2
    )
    assert adjusted["on_hand"] == 2
    assert _state(hass, "binary_sensor.careon_cafe_keuruasang_low_stock") == "on"
    assert _state(hass, "sensor.careon_cafe_low_stock_items") == "1"

    err = await _fails(
        hass, entry, "adjust_inventory", item="inventory_item.milk", mode="waste", qty=-5
    )
    assert err.translation_key == "out_of_range"
    err = await _fails(
        hass, entry, "adjust_inventory", item="inventory_item.milk", mode="melt", qty=5
    )
    assert err.translation_key == "invalid_choice"
    err = await _fails(hass, entry, "receive_stock")
    assert err.translation_key == "missing_field"


async def test_setup_actions(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """Objects and links are created, changed and removed; the schema grows."""
    entry = init_integration
    created = await _call(
        hass,
        entry,
        "create_object",
        object_type="Supplier",
        name="제주 녹차농원",
        key="jeju_tea",
        properties={"order_method": "phone"},
    )
    assert created == {
        "object_id": "supplier.jeju_tea",
        "object_type": "Supplier",
        "version": 1,
        "replayed": False,
    }
    err = await _fails(
        hass, entry, "create_object", object_type="Supplier", name="again", key="jeju_tea"
    )
    assert err.translation_key == "duplicate_object"

    updated = await _call(
        hass,
        entry,
        "update_object",
        object_id="supplier.jeju_tea",
        properties={"lead_time_days": 4},
        expected_version=1,
    )
    assert updated == {"object_id": "supplier.jeju_tea", "version": 2, "replayed": False}
    err = await _fails(
        hass, entry, "update_object", object_id="supplier.jeju_tea", name="x", expected_version=1
    )
    assert err.translation_key == "stale_version"
    assert (err.translation_placeholders or {})["expected"] == "1"

    linked = await _call(
        hass,
        entry,
        "set_link",
        source="inventory_item.matcha",
        link_type="supplied_by",
        target="supplier.jeju_tea",
    )
    assert linked["created"] is True
    err = await _fails(
        hass,
        entry,
        "set_link",
        source="inventory_item.matcha",
        link_type="supplied_by",
        target="zone.hall",
    )
    assert err.translation_key == "wrong_link_target"

    removed = await _call(
        hass,
        entry,
        "remove_link",
        source="inventory_item.matcha",
        link_type="supplied_by",
        target="supplier.jeju_tea",
    )
    assert removed["target"] == "supplier.jeju_tea"
    err = await _fails(
        hass,
        entry,
        "remove_link",
        source="inventory_item.matcha",
        link_type="supplied_by",
        target="supplier.jeju_tea",
    )
    assert err.translation_key == "link_not_found"

    deleted = await _call(hass, entry, "delete_object", object_id="supplier.jeju_tea")
    assert deleted == {
        "object_id": "supplier.jeju_tea",
        "object_type": "Supplier",
        "replayed": False,
    }
    err = await _fails(hass, entry, "delete_object", object_id="supplier.jeju_tea")
    assert err.translation_key == "object_not_found"

    defined = await _call(
        hass,
        entry,
        "define_type",
        object_type="Table",
        properties={"seats": {"kind": "integer", "min": 1}},
        links={"in_zone": {"target": "Zone"}},
    )
    assert defined["object_type"] == "Table"
    table = await _call(
        hass,
        entry,
        "create_object",
        object_type="Table",
        name="창가 2인석",
        key="window",
        properties={"seats": 2},
        links=[{"link_type": "in_zone", "target": "zone.hall"}],
    )
    assert table["object_id"] == "table.window"
    err = await _fails(hass, entry, "define_type", object_type="Table", properties={"seats": {}})
    assert err.translation_key == "schema_conflict"
    err = await _fails(hass, entry, "create_object", object_type="Spaceship", name="x")
    assert err.translation_key == "unknown_object_type"


async def test_query(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """Objects by type and filter, with links followed."""
    entry = init_integration
    response = await _call(
        hass,
        entry,
        "query",
        object_type="Product",
        filters={"category": "커피", "price": {"gte": 5500}},
        follow="requires.supplied_by",
    )
    names = [obj["name"] for obj in response["objects"]]
    assert names == ["바닐라 라떼", "오트 라떼"]
    oat = response["objects"][1]
    oat_milk = next(i for i in oat["links"]["requires"] if i["id"] == "inventory_item.oat_milk")
    assert oat_milk["link"] == {"qty": 200}
    assert [s["id"] for s in oat_milk["links"]["supplied_by"]] == ["supplier.dairy"]

    response = await _call(hass, entry, "query", object_ids=["zone.hall", "zone.terrace"], limit=1)
    assert [obj["id"] for obj in response["objects"]] == ["zone.terrace"]

    err = await _fails(hass, entry, "query", object_type="Product", filters={"colour": "red"})
    assert err.translation_key == "unknown_field"
    assert err.translation_placeholders == {"field": "filters.colour"}
    err = await _fails(hass, entry, "query")
    assert err.translation_key == "missing_field"
    # bounded: four hops are refused, and so is an answer past its size, translated
    err = await _fails(
        hass, entry, "query", object_type="Product", follow="~contains.contains.~contains.contains"
    )
    assert (err.translation_key, err.translation_placeholders["field"]) == (
        "out_of_range",
        "follow",
    )
    with patch.object(queries, "MAX_QUERY_OBJECTS", 100):  # the demo cafe is small
        err = await _fails(
            hass, entry, "query", object_type="Product", follow="requires.~requires.requires"
        )
    assert err.translation_key == "query_too_large"
    assert err.translation_placeholders == {"limit": "100", "field": "follow"}

    # A query only responds.
    with pytest.raises(ServiceValidationError):
        await hass.services.async_call(
            DOMAIN,
            "query",
            {"config_entry_id": entry.entry_id, "object_type": "Zone"},
            blocking=True,
        )


async def test_action_without_response(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Actions may be called without asking for their result."""
    assert (
        await hass.services.async_call(
            DOMAIN,
            "update_availability",
            {
                "config_entry_id": init_integration.entry_id,
                "product": "product.croissant",
                "available": False,
            },
            blocking=True,
        )
        is None
    )


async def test_idempotency_conflict(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """An idempotency key belongs to one action."""
    entry = init_integration
    await _call(
        hass,
        entry,
        "update_availability",
        product="product.croissant",
        available=False,
        idempotency_key="k1",
    )
    err = await _fails(
        hass,
        entry,
        "adjust_inventory",
        item="inventory_item.croissant",
        mode="count",
        qty=-1,
        idempotency_key="k1",
    )
    assert err.translation_key == "idempotency_conflict"


async def test_entry_errors(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """A call names a loaded CareOn entry."""
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, init_integration, "query", config_entry_id="nope", object_type="Zone")
    assert err.value.translation_key == "entry_not_found"

    other = MockConfigEntry(domain="other")
    other.add_to_hass(hass)
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "query",
            {"config_entry_id": other.entry_id, "object_type": "Zone"},
            blocking=True,
            return_response=True,
        )
    assert err.value.translation_key == "entry_not_found"

    assert await hass.config_entries.async_unload(init_integration.entry_id)
    assert init_integration.state is ConfigEntryState.NOT_LOADED
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, init_integration, "place_order", lines=[{"product": "product.croissant"}])
    assert err.value.translation_key == "entry_not_loaded"
    assert err.value.translation_placeholders == {"store": "CareOn Cafe"}


async def test_database_unavailable(
    hass: HomeAssistant, init_integration: MockConfigEntry, store_path: Any
) -> None:
    """An unreachable database is a HomeAssistantError, not the caller's mistake."""
    await init_integration.runtime_data.engine.close()
    store_path.rename(store_path.with_suffix(".moved"))
    store_path.mkdir()
    for service, data in (
        ("query", {"object_type": "Zone"}),
        ("update_availability", {"product": "product.croissant", "available": False}),
    ):
        with pytest.raises(HomeAssistantError) as err:
            await _call(hass, init_integration, service, **data)
        assert not isinstance(err.value, ServiceValidationError)
        assert err.value.translation_key == "database_unavailable"
    store_path.rmdir()
    store_path.with_suffix(".moved").rename(store_path)


async def test_pos_sale_is_recorded_even_when_stock_is_short(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """A sale from the till is a fact: recorded with its shortfall, never refused."""
    entry = init_integration
    err = await _fails(
        hass, entry, "place_order", lines=[{"product": "product.cheesecake", "qty": 9}]
    )
    assert err.translation_key == "insufficient_stock"
    events = async_capture_events(hass, "careon_stock_shortfall")
    sale = await _call(
        hass,
        entry,
        "place_order",
        lines=[{"product": "product.cheesecake", "qty": 9}],
        from_pos=True,
        idempotency_key="pos-A-001",
    )
    assert sale["shortfall"] == [
        {
            "item_id": "inventory_item.cheesecake",
            "name": "치즈케이크",
            "needed": 9,
            "on_hand": 8,
            "missing": 1,
        }
    ]
    assert sale["replayed"] is False
    assert _state(hass, "sensor.careon_cafe_orders_today") == "1"
    assert len(events) == 1
    assert events[0].data["order_id"] == sale["order_id"]
    # the till sends it again: the same answer, nothing counted twice
    again = await _call(
        hass,
        entry,
        "place_order",
        lines=[{"product": "product.cheesecake", "qty": 9}],
        from_pos=True,
        idempotency_key="pos-A-001",
    )
    assert again == {**sale, "replayed": True}
    assert _state(hass, "sensor.careon_cafe_orders_today") == "1"


async def test_personal_data_is_for_administrators(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_read_only_user, hass_admin_user
) -> None:
    """Wages and other personal properties: a staff account's query leaves them out (of the
    linked objects too) and may not filter on them; the owner's query has them."""
    entry = init_integration

    async def query(user_id: str, **data: Any) -> dict[str, Any]:
        response = await hass.services.async_call(
            DOMAIN,
            "query",
            {"config_entry_id": entry.entry_id, **data},
            blocking=True,
            context=Context(user_id=user_id),
            return_response=True,
        )
        assert response is not None
        return dict(response)

    staff, owner = hass_read_only_user.id, hass_admin_user.id
    for user_id, sees in ((staff, False), (owner, True)):
        people = (await query(user_id, object_type="Staff"))["objects"]
        assert people
        assert all(("hourly_rate" in p["properties"]) is sees for p in people)
        assert all("role" in p["properties"] for p in people)
        (zone,) = (await query(user_id, object_ids=["zone.counter"], follow="~assigned_to"))[
            "objects"
        ]
        baristas = zone["links"]["~assigned_to"]
        assert baristas
        assert all(("hourly_rate" in p["properties"]) is sees for p in baristas)
    with pytest.raises(ServiceValidationError) as err:
        await query(staff, object_type="Staff", filters={"hourly_rate": {"gte": 10500}})
    assert err.value.translation_key == "personal_property"
    assert err.value.translation_placeholders == {"field": "filters.hourly_rate"}
    rich = await query(owner, object_type="Staff", filters={"hourly_rate": {"gte": 10500}})
    assert [p["name"] for p in rich["objects"]] == ["이바리스타"]


async def test_setup_actions_are_for_administrators(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_read_only_user, hass_admin_user
) -> None:
    """A staff account may sell, but not change the store's setup."""
    entry = init_integration
    staff = Context(user_id=hass_read_only_user.id)
    with pytest.raises(Unauthorized):
        await hass.services.async_call(
            DOMAIN,
            "delete_object",
            {"config_entry_id": entry.entry_id, "object_id": "product.latte_hot"},
            blocking=True,
            context=staff,
            return_response=True,
        )
    sale = await hass.services.async_call(
        DOMAIN,
        "place_order",
        {"config_entry_id": entry.entry_id, "lines": [{"product": "product.latte_hot"}]},
        blocking=True,
        context=staff,
        return_response=True,
    )
    assert sale is not None
    assert sale["status"] == "paid"
    owner = Context(user_id=hass_admin_user.id)
    created = await hass.services.async_call(
        DOMAIN,
        "create_object",
        {
            "config_entry_id": entry.entry_id,
            "object_type": "Zone",
            "name": "2층",
            "key": "second_floor",
            "properties": {"kind": "dining"},
        },
        blocking=True,
        context=owner,
        return_response=True,
    )
    assert created is not None
    assert created["object_id"] == "zone.second_floor"


async def _get(hass: HomeAssistant, entry: MockConfigEntry, object_id: str) -> dict[str, Any]:
    response = await _call(hass, entry, "query", object_ids=[object_id], follow=["for"])
    [found] = response["objects"]
    return dict(found)


async def test_purchase_orders(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """Reorder what runs low, approve, receive in parts; cancel a manual order."""
    entry = init_integration
    created = async_capture_events(hass, "careon_purchase_order_created")
    await _call(
        hass, entry, "adjust_inventory", item="inventory_item.croissant", mode="count", qty=2
    )

    reordered = await _call(hass, entry, "auto_reorder")
    [order] = reordered["purchase_orders"]
    assert reordered["skipped"] == []
    assert order["supplier_id"] == "supplier.bakery"
    assert order["status"] == "draft"
    # par 15 - 2 on hand = 13, rounded up to packs of 5
    assert [(line["item"], line["qty"]) for line in order["lines"]] == [
        ("inventory_item.croissant", 15)
    ]
    assert order["total_cost"] == 15 * 1600
    assert [event.data["purchase_order_id"] for event in created] == [order["purchase_order_id"]]
    assert created[0].data["entry_id"] == entry.entry_id
    # never a second open order for the same item
    again = await _call(hass, entry, "auto_reorder", items=["inventory_item.croissant"])
    assert again["purchase_orders"] == []
    assert [(s["item_id"], s["reason"]) for s in again["skipped"]] == [
        ("inventory_item.croissant", "on_order")
    ]

    po_id = order["purchase_order_id"]
    approved = await _call(hass, entry, "approve_purchase_order", purchase_order=po_id)
    assert approved["status"] == "ordered"
    assert "크루아상 15 ea" in approved["message"]
    err = await _fails(hass, entry, "approve_purchase_order", purchase_order=po_id)
    assert err.translation_key == "purchase_order_status_invalid"

    partial = await _call(
        hass,
        entry,
        "receive_purchase_order",
        purchase_order=po_id,
        lines=[{"item": "inventory_item.croissant", "qty": 10}],
    )
    assert partial["status"] == "partially_received"
    assert partial["outstanding"] == [
        {"item_id": "inventory_item.croissant", "name": "크루아상", "qty": 5}
    ]
    assert _state(hass, "sensor.careon_cafe_keuruasang_stock") == "12"
    err = await _fails(
        hass,
        entry,
        "receive_purchase_order",
        purchase_order=po_id,
        lines=[{"item": "inventory_item.milk", "qty": 1}],
    )
    assert err.translation_key == "item_not_on_purchase_order"
    rest = await _call(hass, entry, "receive_purchase_order", purchase_order=po_id)
    assert rest["status"] == "received"
    assert rest["outstanding"] == []
    assert _state(hass, "sensor.careon_cafe_keuruasang_stock") == "17"

    manual = await _call(
        hass,
        entry,
        "create_purchase_order",
        supplier="supplier.dairy",
        lines=[{"item": "inventory_item.milk", "qty": 6000}],
        note="오전 배송",
    )
    assert manual["status"] == "draft"
    manual_order = manual
    cancelled = await _call(
        hass,
        entry,
        "cancel_purchase_order",
        purchase_order=manual_order["purchase_order_id"],
        reason="ordered by phone already",
    )
    assert cancelled["status"] == "cancelled"
    stored = await _get(hass, entry, manual_order["purchase_order_id"])
    assert stored["properties"]["status"] == "cancelled"
    assert [s["id"] for s in stored["links"]["for"]] == ["supplier.dairy"]
    err = await _fails(
        hass,
        entry,
        "receive_purchase_order",
        purchase_order=manual_order["purchase_order_id"],
    )
    assert err.translation_key == "purchase_order_status_invalid"


async def test_maintenance(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """Plans, runtime hours, one-off tasks: scheduled, edited, completed and cancelled."""
    entry = init_integration
    due_events = async_capture_events(hass, "careon_maintenance_due")
    scheduled = await _call(
        hass,
        entry,
        "schedule_maintenance",
        equipment="equipment.grinder",
        runtime_hours=10,
        name="버 교체",
    )
    assert scheduled["equipment_id"] == "equipment.grinder"
    usage = next(task for task in scheduled["tasks"] if task["reason"] == "usage")
    assert usage["name"] == "버 교체"
    assert usage["due_runtime_hours"] == 10

    ran = await _call(hass, entry, "record_runtime", equipment="equipment.grinder", hours=4)
    assert ran["runtime_hours"] == 4
    assert ran["due"] == []
    ran = await _call(hass, entry, "record_runtime", equipment="equipment.grinder", hours="6.5")
    assert ran["runtime_hours"] == 10.5
    assert [task["task_id"] for task in ran["due"]] == [usage["task_id"]]
    await _call(hass, entry, "record_runtime", equipment="equipment.grinder", hours=1)
    assert [event.data["task_id"] for event in due_events] == [usage["task_id"]]
    err = await _fails(hass, entry, "record_runtime", equipment="equipment.grinder", hours=0)
    assert err.translation_key == "out_of_range"

    await _call(hass, entry, "complete_maintenance", task=usage["task_id"], notes="버 교체함")
    grinder = await _get(hass, entry, "equipment.grinder")
    assert grinder["properties"]["runtime_hours"] == 0
    assert grinder["properties"]["total_runtime_hours"] == 11.5
    assert grinder["properties"]["status"] == "ok"
    err = await _fails(hass, entry, "complete_maintenance", task=usage["task_id"])
    assert err.translation_key == "maintenance_task_status_invalid"

    one_off = await _call(
        hass,
        entry,
        "schedule_maintenance",
        name="간판 조명 교체",
        due="2099-01-02T10:00:00+09:00",
        assigned_to="staff.owner",
    )
    [task] = one_off["tasks"]
    assert task["reason"] == "manual"
    await _call(hass, entry, "update_maintenance_task", task=task["task_id"], name="간판 LED 교체")
    stored = await _get(hass, entry, task["task_id"])
    assert stored["name"] == "간판 LED 교체"
    assert stored["properties"]["due"] == "2099-01-02T01:00:00.000000+00:00"
    cancelled = await _call(hass, entry, "cancel_maintenance", task=task["task_id"])
    assert cancelled["status"] == "cancelled"

    err = await _fails(hass, entry, "schedule_maintenance", equipment="equipment.oven")
    assert err.translation_key == "maintenance_plan_missing"
    # the scheduler already opened every plan's task when the store was set up
    checked = await _call(hass, entry, "check_maintenance")
    assert checked == {"created": [], "due": [], "replayed": False}


async def test_alarms(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """An alarm is raised once, acknowledged, escalated with a task and resolved."""
    entry = init_integration
    alarms = async_capture_events(hass, "careon_alarm")
    raised = await _call(
        hass,
        entry,
        "raise_alarm",
        kind="cold_chain",
        severity="warning",
        subject="equipment.display_fridge",
        entity="sensor.display_fridge_temperature",
        value="7.5",
        limit=5,
        unit="°C",
        message="쇼케이스 온도 높음",
    )
    alarm_id = raised["alarm_id"]
    assert raised["status"] == "active"
    assert raised["existing"] is False
    again = await _call(
        hass, entry, "raise_alarm", kind="cold_chain", subject="equipment.display_fridge"
    )
    assert again["alarm_id"] == alarm_id
    assert again["existing"] is True

    acknowledged = await _call(hass, entry, "acknowledge_alarm", alarm=alarm_id)
    assert acknowledged["status"] == "acknowledged"
    escalated = await _call(
        hass,
        entry,
        "escalate_alarm",
        alarm=alarm_id,
        notified="notify.mobile_app_owner",
        severity="critical",
        maintenance_task="쇼케이스 냉장고 점검",
        assigned_to="staff.owner",
    )
    assert escalated["escalation_level"] == 1
    assert escalated["severity"] == "critical"
    task = await _get(hass, entry, escalated["task_id"])
    assert task["properties"]["reason"] == "alarm"
    assert [e["id"] for e in task["links"]["for"]] == ["equipment.display_fridge"]

    resolved = await _call(hass, entry, "resolve_alarm", alarm=alarm_id, resolution="문 닫힘")
    assert resolved["status"] == "resolved"
    err = await _fails(hass, entry, "acknowledge_alarm", alarm=alarm_id)
    assert err.translation_key == "alarm_status_invalid"
    assert [event.data["phase"] for event in alarms] == [
        "raised",
        "acknowledged",
        "escalated",
        "resolved",
    ]
    err = await _fails(hass, entry, "raise_alarm", kind="cold_chain", severity="panic")
    assert err.translation_key == "invalid_choice"


async def test_owner_decisions(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_read_only_user, hass_admin_user
) -> None:
    """Staff draft and receive orders, do maintenance and handle alarms; approving spending
    and setting maintenance plans is the owner's (automations act for the owner)."""
    entry = init_integration
    staff = Context(user_id=hass_read_only_user.id)
    owner = Context(user_id=hass_admin_user.id)

    async def call(context: Context | None, service: str, **data: Any) -> dict[str, Any]:
        return await async_call_careon(hass, entry, service, context=context, **data)

    await call(staff, "adjust_inventory", item="inventory_item.cheesecake", mode="count", qty=1)
    with pytest.raises(Unauthorized):
        await call(staff, "auto_reorder", approve=True)
    [order] = (await call(staff, "auto_reorder", approve=False))["purchase_orders"]
    po_id = order["purchase_order_id"]
    with pytest.raises(Unauthorized):
        await call(staff, "approve_purchase_order", purchase_order=po_id)
    with pytest.raises(Unauthorized):
        await call(
            staff,
            "create_purchase_order",
            supplier="supplier.dairy",
            lines=[{"item": "inventory_item.milk", "qty": 1000}],
            approve=True,
        )
    assert (await call(owner, "approve_purchase_order", purchase_order=po_id))["status"] == (
        "ordered"
    )
    assert (await call(staff, "receive_purchase_order", purchase_order=po_id))["status"] == (
        "received"
    )

    with pytest.raises(Unauthorized):
        await call(staff, "schedule_maintenance", equipment="equipment.oven", interval_days=14)
    one_off = await call(staff, "schedule_maintenance", name="후드 필터 세척", due="2099-01-01")
    await call(staff, "complete_maintenance", task=one_off["tasks"][0]["task_id"])
    planned = await call(None, "schedule_maintenance", equipment="equipment.oven", interval_days=14)
    assert planned["equipment_id"] == "equipment.oven"
    await call(staff, "record_runtime", equipment="equipment.oven", hours=1)
    await call(staff, "check_maintenance")

    alarm = await call(staff, "raise_alarm", kind="door_open", subject="zone.kitchen")
    await call(staff, "acknowledge_alarm", alarm=alarm["alarm_id"])
    await call(staff, "escalate_alarm", alarm=alarm["alarm_id"], notified=["김사장"])
    await call(staff, "resolve_alarm", alarm=alarm["alarm_id"])


async def test_resolve_unmapped_product(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_read_only_user, hass_admin_user
) -> None:
    """POS items no product matched are mapped to a product or kept, by the owner only."""
    entry = init_integration
    synced = await entry.runtime_data.engine.execute(
        "sync_order",
        {
            "source": "toss_place",
            "external_id": "620000000000000009",
            "number": "A-009",
            "state": "completed",
            "placed_at": "2025-04-20T12:00:00+09:00",
            "total": 5000 + 6000,
            "lines": [
                {"title": "라떼 HOT", "code": "LT-H", "unit_price": 5000},
                {"title": "오늘의 케이크", "code": "CK-1", "unit_price": 6000},
            ],
        },
        actor="connector:toss_place",
        source="pos",
    )
    latte, cake = (line["product_id"] for line in synced.result["unmapped"])

    staff = Context(user_id=hass_read_only_user.id)
    with pytest.raises(Unauthorized):
        await _call(hass, entry, "resolve_unmapped_product", product=latte, context=staff)

    owner = Context(user_id=hass_admin_user.id)
    mapped = await _call(
        hass,
        entry,
        "resolve_unmapped_product",
        product=latte,
        map_to="product.latte_hot",
        context=owner,
    )
    assert mapped == {
        "product_id": latte,
        "mapped_to": "product.latte_hot",
        "pos_refs": {"toss_place": ["LT-H"]},
        "orders": 1,
        "replayed": False,
    }
    response = await _call(hass, entry, "query", object_ids=[latte, "product.latte_hot"])
    [product] = response["objects"]
    assert product["id"] == "product.latte_hot"
    assert product["properties"]["pos_refs"] == {"toss_place": ["LT-H"]}
    order = await _get(hass, entry, synced.result["order_id"])
    assert {line["product"] for line in order["properties"]["lines"]} == {
        "product.latte_hot",
        cake,
    }

    kept = await _call(hass, entry, "resolve_unmapped_product", product=cake, context=owner)
    assert kept["mapped_to"] is None
    assert (await _get(hass, entry, cake))["properties"]["unmapped"] is False
    err = await _fails(hass, entry, "resolve_unmapped_product", product=cake)
    assert err.translation_key == "product_not_unmapped"
    assert err.translation_placeholders["product"] == "오늘의 케이크"
