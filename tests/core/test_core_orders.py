"""Orders on the demo cafe: stock deducted by recipe, POS facts, cancellations and refunds."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from custom_components.careon.core import ActionEngine, ValidationError
from custom_components.careon.core.fields import to_iso

LATTE = "product.latte_hot"
CROISSANT = "product.croissant"
CHEESECAKE = "product.cheesecake"


async def _refused(act: Any, engine: ActionEngine, action: str, **params: Any) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        await act(engine, action, **params)
    return info.value


async def _levels(on_hand: Any, engine: ActionEngine, *keys: str) -> dict[str, Any]:
    return {key: await on_hand(engine, key) for key in keys}


async def test_place_order_deducts_the_recipes(cafe: ActionEngine, act, get, on_hand) -> None:
    result = await act(
        cafe, "place_order", lines=[{"product": LATTE, "qty": 2}, {"product": CROISSANT}]
    )
    order_id = result.result["order_id"]
    assert result.result == {
        "order_id": order_id,
        "number": order_id[6:12].upper(),
        "total": 2 * 5000 + 3800,
        "status": "paid",
        "shortfall": [],
    }
    # demo recipe: latte_hot = 18 g beans, 200 ml milk, a hot cup and a lid
    assert await _levels(
        on_hand, cafe, "espresso_beans", "milk", "hot_cup", "lid", "croissant", "ice"
    ) == {
        "espresso_beans": 6000 - 36,
        "milk": 18000 - 400,
        "hot_cup": 300 - 2,
        "lid": 600 - 2,
        "croissant": 11,
        "ice": 20000,
    }
    assert [e.type for e in result.events] == ["order_placed"]
    placed = result.events[0].data
    assert placed["lines"] == [
        {"name": "카페라떼 (HOT)", "qty": 2, "options": []},
        {"name": "버터 크루아상", "qty": 1, "options": []},
    ]
    assert (placed["total"], placed["channel"], placed["source"]) == (13800, "here", "service")
    assert result.created == {order_id}
    assert {"inventory_item.milk", "inventory_item.croissant"} <= result.updated

    order = await get(cafe, order_id)
    assert order.type == "Order"
    assert order.name == result.result["number"]
    props = order.properties
    assert (props["status"], props["channel"], props["source"], props["total"]) == (
        "paid",
        "here",
        "service",
        13800,
    )
    assert props["placed_at"] == to_iso(result.occurred_at)
    assert props["consumed"] == {
        "inventory_item.espresso_beans": 36,
        "inventory_item.milk": 400,
        "inventory_item.hot_cup": 2,
        "inventory_item.lid": 2,
        "inventory_item.croissant": 1,
    }
    assert props["lines"] == [
        {"product": LATTE, "name": "카페라떼 (HOT)", "qty": 2, "unit_price": 5000, "options": []},
        {
            "product": CROISSANT,
            "name": "버터 크루아상",
            "qty": 1,
            "unit_price": 3800,
            "options": [],
        },
    ]
    assert "shortfall" not in props
    async with cafe.reader() as ontology:
        contains = await ontology.links_from([order_id], "contains")
    assert {link.target_id: dict(link.properties) for link in contains} == {
        LATTE: {"qty": 2, "unit_price": 5000},
        CROISSANT: {"qty": 1, "unit_price": 3800},
    }


async def test_place_order_options_prices_and_references(
    cafe: ActionEngine, act, get, on_hand
) -> None:
    await act(
        cafe,
        "create_object",
        object_type="Customer",
        key="regular",
        name="단골",
        properties={"loyalty_points": 10},
    )
    placed_at = datetime(2025, 3, 1, 8, 15)  # naive: the store's local time (Asia/Seoul)
    result = await act(
        cafe,
        "place_order",
        channel="togo",
        status="completed",
        number="A-17",
        external_id="toss-123",
        note="샷 추가",
        placed_at=placed_at.isoformat(),
        zone="zone.counter",
        staff="staff.barista1",
        customer="customer.regular",
        lines=[
            {"product": LATTE, "unit_price": 4000, "options": ["샷 추가"]},
            {"product": LATTE, "qty": 2},
        ],
    )
    assert result.result["number"] == "A-17"
    assert result.result["total"] == 4000 + 2 * 5000
    assert result.result["status"] == "completed"
    order = await get(cafe, result.result["order_id"])
    assert order.name == "A-17"
    assert order.get("placed_at") == "2025-02-28T23:15:00.000000+00:00"
    assert (order.get("external_id"), order.get("note"), order.get("channel")) == (
        "toss-123",
        "샷 추가",
        "togo",
    )
    assert order.get("lines")[0]["options"] == ["샷 추가"]
    assert order.get("consumed")["inventory_item.milk"] == 600
    assert await on_hand(cafe, "milk") == 18000 - 600
    async with cafe.reader() as ontology:
        links = await ontology.links_from([order.id])
    assert {(link.link_type, link.target_id) for link in links} == {
        ("contains", LATTE),
        ("served_at", "zone.counter"),
        ("handled_by", "staff.barista1"),
        ("placed_by", "customer.regular"),
    }
    contains = next(link for link in links if link.link_type == "contains")
    assert contains.properties["qty"] == 3

    # an explicit total (a discount at the till) wins over the sum of the lines
    result = await act(cafe, "place_order", total=3000, lines=[{"product": CROISSANT}])
    assert result.result["total"] == 3000


async def test_place_order_refuses_bad_lines_and_references(cafe: ActionEngine, act, dump) -> None:
    before = await dump(cafe)
    err = await _refused(
        act, cafe, "place_order", lines=[{"product": LATTE}, {"product": "product.bingsu"}]
    )
    assert (err.translation_key, err.field) == ("object_not_found", "lines[1].product")
    assert err.placeholders["object_id"] == "product.bingsu"
    err = await _refused(act, cafe, "place_order", lines=[{"product": "inventory_item.milk"}])
    assert (err.translation_key, err.field) == ("wrong_object_type", "lines[0].product")
    assert (err.placeholders["expected"], err.placeholders["actual"]) == (
        "Product",
        "InventoryItem",
    )
    err = await _refused(act, cafe, "place_order", lines=[])
    assert (err.translation_key, err.field) == ("empty_list", "lines")
    err = await _refused(act, cafe, "place_order")
    assert (err.translation_key, err.field) == ("missing_field", "lines")
    err = await _refused(act, cafe, "place_order", lines=[{"product": LATTE, "qty": 0}])
    assert (err.translation_key, err.field) == ("out_of_range", "lines[0].qty")
    err = await _refused(act, cafe, "place_order", lines=[{"product": LATTE, "qty": 1.5}])
    assert (err.translation_key, err.field) == ("invalid_type", "lines[0].qty")
    err = await _refused(act, cafe, "place_order", lines=[{"product": LATTE}], channel="drone")
    assert (err.translation_key, err.field) == ("invalid_choice", "channel")
    err = await _refused(act, cafe, "place_order", lines=[{"product": LATTE}], zone="staff.owner")
    assert (err.translation_key, err.field) == ("wrong_object_type", "zone")
    err = await _refused(
        act, cafe, "place_order", lines=[{"product": LATTE}], customer="customer.nobody"
    )
    assert (err.translation_key, err.field) == ("object_not_found", "customer")
    assert await dump(cafe) == before


async def test_manual_order_needs_stock_and_available_products(
    cafe: ActionEngine, act, on_hand, dump
) -> None:
    before = await dump(cafe)
    err = await _refused(
        act, cafe, "place_order", lines=[{"product": LATTE}, {"product": CROISSANT, "qty": 13}]
    )
    assert err.translation_key == "insufficient_stock"
    assert err.placeholders == {
        "field": "lines[1].qty",
        "item": "크루아상",
        "needed": "13",
        "on_hand": "12",
    }
    # several lines draw on one item: the sum counts, the first line is named
    await act(cafe, "adjust_inventory", item="inventory_item.milk", mode="count", qty=500)
    err = await _refused(
        act,
        cafe,
        "place_order",
        lines=[
            {"product": "product.croissant"},
            {"product": LATTE},
            {"product": "product.latte_ice"},
            {"product": LATTE},
        ],
    )
    assert err.placeholders == {
        "field": "lines[1].qty",
        "item": "우유",
        "needed": "580",
        "on_hand": "500",
    }
    await act(cafe, "place_order", lines=[{"product": LATTE, "qty": 2}])  # 400 of 500: fine
    assert await on_hand(cafe, "milk") == 100

    await act(cafe, "update_availability", product=CHEESECAKE, available=False)
    before = await dump(cafe)
    err = await _refused(
        act, cafe, "place_order", lines=[{"product": CROISSANT}, {"product": CHEESECAKE}]
    )
    assert err.translation_key == "product_unavailable"
    assert err.placeholders == {"field": "lines[1].product", "product": "뉴욕 치즈케이크"}
    assert await dump(cafe) == before


async def test_pos_order_is_always_recorded_and_flags_the_shortfall(
    cafe: ActionEngine, act, get, on_hand
) -> None:
    await act(cafe, "update_availability", product=CHEESECAKE, available=False)
    result = await act(
        cafe,
        "place_order",
        via="pos",
        lines=[{"product": CROISSANT, "qty": 13}, {"product": CHEESECAKE}],
    )
    shortfall = [
        {
            "item_id": "inventory_item.croissant",
            "name": "크루아상",
            "needed": 13,
            "on_hand": 12,
            "missing": 1,
        }
    ]
    assert result.result["shortfall"] == shortfall
    assert result.source == "pos"
    order = await get(cafe, result.result["order_id"])
    assert order.get("shortfall") == shortfall
    assert order.get("source") == "pos"
    assert await on_hand(cafe, "croissant") == -1
    assert await on_hand(cafe, "cheesecake") == 7
    events = {e.type: dict(e.data) for e in result.events}
    assert list(events) == [
        "stock_low",
        "product_availability_changed",
        "stock_out",
        "order_placed",
        "stock_shortfall",
    ]
    assert events["stock_shortfall"] == {
        "order_id": order.id,
        "number": order.name,
        "items": shortfall,
    }
    assert events["stock_low"] == {
        "item_id": "inventory_item.croissant",
        "name": "크루아상",
        "on_hand": -1,
        "unit": "ea",
        "reorder_point": 4,
    }
    assert events["stock_out"] == {
        "item_id": "inventory_item.croissant",
        "name": "크루아상",
        "on_hand": -1,
        "unit": "ea",
        "products": [{"product_id": CROISSANT, "name": "버터 크루아상"}],
    }
    assert events["product_availability_changed"] == {
        "product_id": CROISSANT,
        "name": "버터 크루아상",
        "available": False,
        "reason": "stock_out",
        "missing": ["크루아상"],
    }
    croissant = await get(cafe, CROISSANT)
    assert (croissant.get("available"), croissant.get("availability_reason")) == (
        False,
        "stock_out",
    )
    # a POS sale of an unavailable product is still a sale
    again = await act(cafe, "place_order", via="pos", lines=[{"product": CROISSANT}])
    assert again.result["shortfall"][0]["missing"] == 2
    assert [e.type for e in again.events] == ["order_placed", "stock_shortfall"]
    assert await on_hand(cafe, "croissant") == -2
    # payments are facts too
    paid = await act(cafe, "place_order", via="payment", lines=[{"product": CROISSANT}])
    assert paid.result["shortfall"][0]["on_hand"] == -2


async def test_products_become_unavailable_when_an_order_uses_up_what_they_need(
    cafe: ActionEngine, act, get
) -> None:
    # milk: matcha latte needs 220, latte 200, iced latte 180
    await act(cafe, "adjust_inventory", item="inventory_item.milk", mode="count", qty=400)
    result = await act(cafe, "place_order", lines=[{"product": LATTE}])
    changed = [e.data for e in result.events if e.type == "product_availability_changed"]
    assert [(d["product_id"], d["available"], d["missing"]) for d in changed] == [
        ("product.matcha_latte", False, ["우유"])
    ]
    assert (await get(cafe, "product.matcha_latte")).get("availability_reason") == "stock_out"
    assert (await get(cafe, LATTE)).get("available") is True
    assert (await get(cafe, "product.latte_ice")).get("available") is True
    # an order that leaves enough for every recipe changes no availability
    result = await act(cafe, "place_order", lines=[{"product": CROISSANT}])
    assert [e.type for e in result.events] == ["order_placed"]
    assert result.updated == {"inventory_item.croissant"}


async def test_stock_low_is_announced_when_crossing_the_reorder_point(
    cafe: ActionEngine, act
) -> None:
    first = await act(cafe, "place_order", lines=[{"product": CROISSANT, "qty": 7}])
    assert [e.type for e in first.events] == ["order_placed"]  # 5 left, reorder point 4
    crossing = await act(cafe, "place_order", lines=[{"product": CROISSANT}])
    assert [(e.type, e.data.get("on_hand")) for e in crossing.events] == [
        ("stock_low", 4),
        ("order_placed", None),
    ]
    below = await act(cafe, "place_order", lines=[{"product": CROISSANT}])
    assert [e.type for e in below.events] == ["order_placed"]  # already low: no repeat


async def test_cancel_restores_stock_of_unprepared_orders(
    cafe: ActionEngine, act, get, on_hand
) -> None:
    placed = await act(cafe, "place_order", lines=[{"product": LATTE, "qty": 2}])
    order_id = placed.result["order_id"]
    result = await act(cafe, "cancel_order", order=order_id, why="손님 변심")
    assert result.result == {
        "order_id": order_id,
        "status": "cancelled",
        "previous_status": "paid",
        "restocked": {
            "inventory_item.espresso_beans": 36,
            "inventory_item.milk": 400,
            "inventory_item.hot_cup": 2,
            "inventory_item.lid": 2,
        },
    }
    assert await _levels(on_hand, cafe, "espresso_beans", "milk", "hot_cup", "lid") == {
        "espresso_beans": 6000,
        "milk": 18000,
        "hot_cup": 300,
        "lid": 600,
    }
    assert [(e.type, e.data["restocked"], e.data["reason"]) for e in result.events] == [
        ("order_cancelled", True, "손님 변심")
    ]
    order = await get(cafe, order_id)
    assert (order.get("status"), order.get("restocked"), order.get("reason")) == (
        "cancelled",
        True,
        "손님 변심",
    )
    assert order.get("closed_at") == to_iso(result.occurred_at)

    err = await _refused(act, cafe, "cancel_order", order=order_id)
    assert err.translation_key == "order_status_invalid"
    assert err.placeholders == {
        "field": "order",
        "order": order.name,
        "status": "cancelled",
        "allowed": "open, paid",
    }
    err = await _refused(act, cafe, "refund_order", order=order_id)
    assert err.placeholders["allowed"] == "paid, completed"
    err = await _refused(act, cafe, "cancel_order", order=LATTE)
    assert (err.translation_key, err.field) == ("wrong_object_type", "order")

    # an open order, cancelled without restocking on purpose
    opened = await act(cafe, "place_order", status="open", lines=[{"product": CROISSANT}])
    result = await act(cafe, "cancel_order", order=opened.result["order_id"], restock=False)
    assert result.result["restocked"] == {}
    assert result.result["previous_status"] == "open"
    assert await on_hand(cafe, "croissant") == 11
    assert (await get(cafe, opened.result["order_id"])).get("restocked") is False
    err = await _refused(act, cafe, "refund_order", order=opened.result["order_id"])
    assert err.translation_key == "order_status_invalid"


async def test_refunds_restock_only_when_asked(cafe: ActionEngine, act, get, on_hand) -> None:
    done = await act(cafe, "place_order", status="completed", lines=[{"product": CHEESECAKE}])
    result = await act(cafe, "refund_order", order=done.result["order_id"])
    assert result.result["restocked"] == {}
    assert result.result["previous_status"] == "completed"
    assert [e.type for e in result.events] == ["order_refunded"]
    assert await on_hand(cafe, "cheesecake") == 7  # it was eaten

    done = await act(cafe, "place_order", status="completed", lines=[{"product": CHEESECAKE}])
    result = await act(cafe, "refund_order", order=done.result["order_id"], restock=True)
    assert result.result["restocked"] == {"inventory_item.cheesecake": 1}
    assert await on_hand(cafe, "cheesecake") == 7

    # a paid order refunded: something was handed over, so no stock comes back by default
    paid = await act(cafe, "place_order", lines=[{"product": CHEESECAKE}])
    assert await on_hand(cafe, "cheesecake") == 6
    result = await act(cafe, "refund_order", order=paid.result["order_id"])
    assert result.result["restocked"] == {}
    assert await on_hand(cafe, "cheesecake") == 6
    assert (await get(cafe, paid.result["order_id"])).get("status") == "refunded"


async def test_cancel_brings_back_stock_out_products_but_not_manual_off(
    cafe: ActionEngine, act, get, on_hand
) -> None:
    sale = await act(
        cafe,
        "place_order",
        via="pos",
        lines=[{"product": CROISSANT, "qty": 12}, {"product": CHEESECAKE, "qty": 8}],
    )
    assert (await get(cafe, CROISSANT)).get("available") is False
    assert (await get(cafe, CHEESECAKE)).get("available") is False
    await act(cafe, "update_availability", product=CHEESECAKE, available=False)  # by hand now
    result = await act(cafe, "cancel_order", order=sale.result["order_id"], via="pos")
    changed = [
        (e.data["product_id"], e.data["available"], e.data["reason"])
        for e in result.events
        if e.type == "product_availability_changed"
    ]
    assert changed == [(CROISSANT, True, "restocked")]
    croissant = await get(cafe, CROISSANT)
    assert croissant.get("available") is True
    assert "availability_reason" not in croissant.properties
    cheesecake = await get(cafe, CHEESECAKE)
    assert (cheesecake.get("available"), cheesecake.get("availability_reason")) == (False, "manual")
    assert await on_hand(cafe, "croissant") == 12
    assert await on_hand(cafe, "cheesecake") == 8


async def test_cancel_skips_items_deleted_since_the_order(
    cafe: ActionEngine, act, on_hand, get
) -> None:
    sale = await act(
        cafe, "place_order", lines=[{"product": "product.sandwich"}, {"product": CROISSANT}]
    )
    await act(cafe, "delete_object", object_id="inventory_item.sandwich")
    result = await act(cafe, "cancel_order", order=sale.result["order_id"])
    assert result.result["restocked"] == {"inventory_item.croissant": 1}
    assert await on_hand(cafe, "croissant") == 12
    assert await get(cafe, "inventory_item.sandwich") is None


async def test_orders_placed_one_day_do_not_move_the_clock(cafe: ActionEngine, act, get) -> None:
    """placed_at is taken as given (a POS order arriving late keeps its own time)."""
    yesterday = datetime.now().astimezone() - timedelta(days=1)
    result = await act(
        cafe,
        "place_order",
        via="pos",
        placed_at=yesterday.isoformat(),
        lines=[{"product": CROISSANT}],
    )
    order = await get(cafe, result.result["order_id"])
    assert order.get("placed_at") == to_iso(yesterday)


async def test_fractional_recipes_compare_without_float_drift(engine: ActionEngine, act) -> None:
    """3 x 2.2 ml is exactly the 6.6 ml on hand: sold, nothing short, nothing negative."""
    await act(
        engine,
        "create_object",
        object_type="InventoryItem",
        key="syrup",
        name="Syrup",
        properties={"unit": "ml", "on_hand": 6.6},
    )
    await act(
        engine,
        "create_object",
        object_type="Product",
        key="shot",
        name="Shot",
        properties={"price": 500},
        links=[
            {"link_type": "requires", "target": "inventory_item.syrup", "properties": {"qty": 2.2}}
        ],
    )
    manual = await act(engine, "place_order", lines=[{"product": "product.shot", "qty": 3}])
    assert manual.result["shortfall"] == []
    assert [e.type for e in manual.events if e.type == "stock_shortfall"] == []
    async with engine.reader() as ontology:
        syrup = await ontology.get("inventory_item.syrup")
        shot = await ontology.get("product.shot")
    assert syrup is not None
    assert syrup.get("on_hand") == 0
    assert shot is not None
    assert shot.get("available") is False  # nothing left for a fourth
