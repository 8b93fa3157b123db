"""Stock in (deliveries, purchase orders), stock counted or written off, availability by hand."""

from __future__ import annotations

from typing import Any

import pytest

from custom_components.careon.core import ActionEngine, ValidationError
from custom_components.careon.core.fields import to_iso

MILK = "inventory_item.milk"
CROISSANT = "inventory_item.croissant"


async def _refused(act: Any, engine: ActionEngine, action: str, **params: Any) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        await act(engine, action, **params)
    return info.value


async def test_receive_stock_lines(cafe: ActionEngine, act, get, on_hand) -> None:
    result = await act(
        cafe,
        "receive_stock",
        lines=[
            {"item": MILK, "qty": 1000, "unit_cost": 4},
            {"item": CROISSANT, "qty": "5"},
            {"item": MILK, "qty": 500.5},
        ],
    )
    assert result.result == {
        "purchase_order_id": None,
        "items": [
            {"item_id": MILK, "name": "우유", "received": 1500.5, "on_hand": 19500.5},
            {"item_id": CROISSANT, "name": "크루아상", "received": 5, "on_hand": 17},
        ],
    }
    assert [(e.type, e.data["items"]) for e in result.events] == [
        ("stock_received", result.result["items"])
    ]
    assert await on_hand(cafe, "milk") == 19500.5
    assert await on_hand(cafe, "croissant") == 17
    assert (await get(cafe, MILK)).get("unit_cost") == 4
    assert (await get(cafe, CROISSANT)).get("unit_cost") == 1600

    err = await _refused(
        act,
        cafe,
        "receive_stock",
        lines=[{"item": MILK, "qty": 1}, {"item": "product.latte_hot", "qty": 1}],
    )
    assert (err.translation_key, err.field) == ("wrong_object_type", "lines[1].item")
    err = await _refused(act, cafe, "receive_stock", lines=[{"item": MILK, "qty": 0}])
    assert (err.translation_key, err.field) == ("out_of_range", "lines[0].qty")
    err = await _refused(act, cafe, "receive_stock")
    assert (err.translation_key, err.field) == ("missing_field", "lines")
    err = await _refused(act, cafe, "receive_stock", lines=[{"item": "inventory_item.x", "qty": 1}])
    assert (err.translation_key, err.field) == ("object_not_found", "lines[0].item")


async def test_receive_stock_fills_a_purchase_order(cafe: ActionEngine, act, get, on_hand) -> None:
    """receive_stock with a purchase order is receive_purchase_order (test_core_purchasing)."""
    created = await act(
        cafe,
        "create_purchase_order",
        supplier="supplier.dairy",
        lines=[{"item": MILK, "qty": 6000}, {"item": CROISSANT, "qty": 10}],
        expected_at="2025-03-02T09:00:00",
        approve=True,
    )
    po_id = created.result["purchase_order_id"]
    assert (await get(cafe, po_id)).get("expected_at") == "2025-03-02T00:00:00.000000+00:00"

    result = await act(cafe, "receive_stock", purchase_order=po_id)
    assert result.result["purchase_order_id"] == po_id
    assert (result.result["status"], result.result["outstanding"]) == ("received", [])
    assert [(i["item_id"], i["received"], i["on_hand"]) for i in result.result["items"]] == [
        (MILK, 6000, 24000),
        (CROISSANT, 10, 22),
    ]
    assert [(e.type, e.data["purchase_order_id"]) for e in result.events] == [
        ("stock_received", po_id),
        ("purchase_order_received", po_id),
    ]
    po = await get(cafe, po_id)
    assert po.get("status") == "received"
    assert po.get("received_at") == to_iso(result.occurred_at)
    assert [(line["item"], line["qty"], line["received"]) for line in po.get("lines")] == [
        (MILK, 6000, 6000),
        (CROISSANT, 10, 10),
    ]

    err = await _refused(act, cafe, "receive_stock", purchase_order=po_id)
    assert err.translation_key == "purchase_order_status_invalid"
    assert err.placeholders == {
        "field": "purchase_order",
        "purchase_order": po.name,
        "status": "received",
        "allowed": "draft, requested, ordered, partially_received",
    }
    assert await on_hand(cafe, "milk") == 24000

    # lines given with a purchase order are what arrived (a partial delivery)
    created = await act(
        cafe,
        "create_purchase_order",
        supplier="supplier.dairy",
        lines=[{"item": MILK, "qty": 1000}],
    )
    po_id = created.result["purchase_order_id"]
    result = await act(
        cafe, "receive_stock", purchase_order=po_id, lines=[{"item": MILK, "qty": 400}]
    )
    assert result.result["items"][0]["received"] == 400
    assert result.result["outstanding"] == [{"item_id": MILK, "name": "우유", "qty": 600}]
    assert (await get(cafe, po_id)).get("status") == "partially_received"

    await act(cafe, "cancel_purchase_order", purchase_order=po_id)
    err = await _refused(act, cafe, "receive_stock", purchase_order=po_id)
    assert err.placeholders["status"] == "cancelled"
    err = await _refused(act, cafe, "receive_stock", purchase_order=MILK)
    assert (err.translation_key, err.field) == ("wrong_object_type", "purchase_order")
    # the purchase order is the purchasing actions' to change
    err = await _refused(
        act, cafe, "update_object", object_id=po_id, properties={"status": "draft"}
    )
    assert err.translation_key == "managed_property"


async def test_receiving_stock_makes_stock_out_products_available_again(
    cafe: ActionEngine, act, get
) -> None:
    await act(cafe, "place_order", via="pos", lines=[{"product": "product.croissant", "qty": 14}])
    assert (await get(cafe, "product.croissant")).get("available") is False
    result = await act(cafe, "receive_stock", lines=[{"item": CROISSANT, "qty": 2}])
    assert [e.type for e in result.events] == ["stock_received"]  # 0: still none to sell
    result = await act(cafe, "receive_stock", lines=[{"item": CROISSANT, "qty": 1}])
    assert [(e.type, e.data.get("reason")) for e in result.events] == [
        ("product_availability_changed", "restocked"),
        ("stock_received", None),
    ]
    assert (await get(cafe, "product.croissant")).get("available") is True


@pytest.mark.parametrize(
    ("mode", "qty", "after"),
    [
        ("count", 250, 250),
        ("count", 0, 0),
        ("waste", 300, 17700),
        ("spoilage", 1000.5, 16999.5),
        ("correction", -18000.5, -0.5),
        ("correction", 2000, 20000),
    ],
)
async def test_adjust_inventory_modes(
    cafe: ActionEngine, act, on_hand, mode: str, qty: float, after: float
) -> None:
    result = await act(cafe, "adjust_inventory", item=MILK, mode=mode, qty=qty, why="재고 조사")
    assert result.result == {
        "item_id": MILK,
        "mode": mode,
        "on_hand_before": 18000,
        "on_hand": after,
        "delta": after - 18000,
    }
    adjusted = next(e for e in result.events if e.type == "inventory_adjusted")
    assert dict(adjusted.data) == {
        "item_id": MILK,
        "name": "우유",
        "mode": mode,
        "on_hand_before": 18000,
        "on_hand": after,
        "reason": "재고 조사",
    }
    assert await on_hand(cafe, "milk") == after


async def test_adjust_inventory_refusals_and_availability(
    cafe: ActionEngine, act, get, dump
) -> None:
    before = await dump(cafe)
    for mode, qty, limit in (("count", -1, ">= 0"), ("waste", 0, "> 0"), ("spoilage", -5, "> 0")):
        err = await _refused(act, cafe, "adjust_inventory", item=MILK, mode=mode, qty=qty)
        assert err.translation_key == "out_of_range"
        assert err.placeholders["limit"] == limit
        assert err.field == "qty"
    err = await _refused(act, cafe, "adjust_inventory", item=MILK, mode="theft", qty=1)
    assert (err.translation_key, err.field) == ("invalid_choice", "mode")
    err = await _refused(act, cafe, "adjust_inventory", item=MILK, mode="count", qty="lots")
    assert (err.translation_key, err.field) == ("invalid_type", "qty")
    err = await _refused(
        act, cafe, "adjust_inventory", item="product.latte_hot", mode="count", qty=1
    )
    assert (err.translation_key, err.field) == ("wrong_object_type", "item")
    assert await dump(cafe) == before

    # counting milk to 0 stops every milk drink; counting it back brings them back
    result = await act(cafe, "adjust_inventory", item=MILK, mode="count", qty=0)
    off = sorted(
        e.data["product_id"] for e in result.events if e.type == "product_availability_changed"
    )
    assert off == [
        "product.latte_hot",
        "product.latte_ice",
        "product.matcha_latte",
        "product.vanilla_latte",
    ]
    assert "stock_low" in [e.type for e in result.events]
    result = await act(cafe, "adjust_inventory", item=MILK, mode="correction", qty=200)
    back = sorted(
        e.data["product_id"] for e in result.events if e.type == "product_availability_changed"
    )
    assert back == ["product.latte_hot", "product.latte_ice", "product.vanilla_latte"]
    assert (await get(cafe, "product.matcha_latte")).get("available") is False


async def test_update_availability_by_hand(cafe: ActionEngine, act, get) -> None:
    result = await act(cafe, "update_availability", product="product.cheesecake", available=False)
    assert result.result == {
        "product_id": "product.cheesecake",
        "available": False,
        "changed": True,
    }
    assert [dict(e.data) for e in result.events] == [
        {
            "product_id": "product.cheesecake",
            "name": "뉴욕 치즈케이크",
            "available": False,
            "reason": "manual",
            "missing": [],
        }
    ]
    cake = await get(cafe, "product.cheesecake")
    assert (cake.get("available"), cake.get("availability_reason")) == (False, "manual")

    result = await act(cafe, "update_availability", product="product.cheesecake", available=False)
    assert result.result["changed"] is False
    assert result.events == ()

    # restocking does not undo a manual 'off'
    await act(cafe, "receive_stock", lines=[{"item": "inventory_item.cheesecake", "qty": 2}])
    assert (await get(cafe, "product.cheesecake")).get("available") is False

    result = await act(cafe, "update_availability", product="product.cheesecake", available=True)
    assert result.result["changed"] is True
    cake = await get(cafe, "product.cheesecake")
    assert cake.get("available") is True
    assert "availability_reason" not in cake.properties

    err = await _refused(act, cafe, "update_availability", product=MILK, available=True)
    assert (err.translation_key, err.field) == ("wrong_object_type", "product")
    err = await _refused(
        act, cafe, "update_availability", product="product.cheesecake", available="no"
    )
    assert (err.translation_key, err.field) == ("invalid_type", "available")
