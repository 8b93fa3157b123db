"""Purchasing on the demo cafe: reorders from stock levels, purchase orders approved, cancelled
and received in parts, and the stock events (low, out) blueprints trigger on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import random
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from custom_components.careon.core import ActionEngine, ActionResult, ValidationError
from custom_components.careon.core.actions.purchasing import reorder_qty
from custom_components.careon.core.fields import to_iso
from custom_components.careon.core.ontology import StoreObject

TIMEZONE = "Asia/Seoul"  # the tests' stores (conftest)

MILK = "inventory_item.milk"
OAT_MILK = "inventory_item.oat_milk"
CROISSANT = "inventory_item.croissant"
CHEESECAKE = "inventory_item.cheesecake"
ICE = "inventory_item.ice"
DAIRY = "supplier.dairy"
BAKERY = "supplier.bakery"


async def _refused(act: Any, engine: ActionEngine, action: str, **params: Any) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        await act(engine, action, **params)
    return info.value


async def _count(act: Any, engine: ActionEngine, item: str, qty: float) -> None:
    await act(engine, "adjust_inventory", item=item, mode="count", qty=qty)


def _events(result: ActionResult, event_type: str) -> list[dict[str, Any]]:
    return [dict(e.data) for e in result.events if e.type == event_type]


def _day(result: ActionResult) -> str:
    return result.occurred_at.astimezone(ZoneInfo(TIMEZONE)).date().isoformat()


async def _supplier_of(engine: ActionEngine, purchase_order_id: str) -> str:
    async with engine.reader() as ontology:
        ((_link, supplier),) = await ontology.linked([purchase_order_id], "for")
    return supplier.id


async def _item(
    act: Any, engine: ActionEngine, key: str, supplier: str | None, **props: Any
) -> str:
    links = [{"link_type": "supplied_by", "target": supplier}] if supplier else []
    await act(
        engine,
        "create_object",
        object_type="InventoryItem",
        key=key,
        name=key,
        properties={"unit": "l", **props},
        links=links,
    )
    return f"inventory_item.{key}"


async def _supplier(act: Any, engine: ActionEngine, key: str, **props: Any) -> str:
    await act(engine, "create_object", object_type="Supplier", key=key, name=key, properties=props)
    return f"supplier.{key}"


# --- reorder arithmetic -----------------------------------------------------------------------


def _stored(**properties: Any) -> StoreObject:
    now = datetime.now(UTC)
    return StoreObject(
        id="inventory_item.x",
        type="InventoryItem",
        name="x",
        properties=properties,
        version=1,
        created_at=now,
        updated_at=now,
    )


@pytest.mark.parametrize(
    ("properties", "qty"),
    [
        ({"on_hand": 5000, "par_level": 24000, "pack_size": 1000}, 19000),
        ({"on_hand": 900, "par_level": 6000, "pack_size": 1000}, 6000),  # 5100 -> 6 packs
        ({"on_hand": 3, "par_level": 15, "pack_size": 5}, 15),
        ({"on_hand": -2, "par_level": 10, "pack_size": 1}, 12),  # a shortfall is made up, too
        ({"on_hand": 0.7, "par_level": 1, "pack_size": 0.1}, 0.3),  # 2.9999999999999996 packs
        ({"on_hand": 0.7, "par_level": 2.5, "pack_size": 0.3}, 1.8),  # 6.000000000000001 packs
        ({"on_hand": 0.1, "par_level": 0.4, "pack_size": 0.25}, 0.5),
        ({"on_hand": 1.25, "par_level": 3}, 1.75),  # no pack size: exactly what is missing
        ({"on_hand": 3, "par_level": 3, "pack_size": 1}, 0),
        ({"on_hand": 4, "par_level": 3}, 0),
        ({"on_hand": 1}, None),
    ],
)
def test_reorder_quantity_is_par_minus_on_hand_in_whole_packs(
    properties: dict[str, Any], qty: float | None
) -> None:
    assert reorder_qty(_stored(**properties)) == qty


# --- auto_reorder ------------------------------------------------------------------------------


async def test_auto_reorder_makes_one_purchase_order_per_supplier(
    cafe: ActionEngine, act, get
) -> None:
    await _count(act, cafe, MILK, 5000)  # reorder point 6000, par 24000, packs of 1000
    await _count(act, cafe, OAT_MILK, 900)  # reorder point 1000, par 6000
    await _count(act, cafe, CROISSANT, 3)  # reorder point 4, par 15, packs of 5
    await _count(act, cafe, CHEESECAKE, 3)  # at the reorder point counts: par 10
    await _count(act, cafe, ICE, 1000)  # no supplier on purpose
    result = await act(cafe, "auto_reorder")
    expected_at = to_iso(result.occurred_at + timedelta(days=1))
    bakery, dairy = result.result["purchase_orders"]  # by supplier name
    assert bakery == {
        "purchase_order_id": bakery["purchase_order_id"],
        "name": f"동네베이커리 {_day(result)}",
        "supplier_id": BAKERY,
        "supplier": "동네베이커리",
        "status": "draft",
        "lines": [
            {
                "item": CHEESECAKE,
                "name": "치즈케이크",
                "unit": "ea",
                "qty": 7,
                "received": 0,
                "unit_cost": 2900,
            },
            {
                "item": CROISSANT,
                "name": "크루아상",
                "unit": "ea",
                "qty": 15,
                "received": 0,
                "unit_cost": 1600,
            },
        ],
        "total_cost": 7 * 2900 + 15 * 1600,
        "expected_at": expected_at,
    }
    assert [(line["item"], line["qty"]) for line in dairy["lines"]] == [
        (OAT_MILK, 6000),  # by item name: 오트밀크, 우유
        (MILK, 19000),
    ]
    assert (dairy["supplier_id"], dairy["total_cost"]) == (DAIRY, 19000 * 3 + 6000 * 5)
    assert result.result["skipped"] == [{"item_id": ICE, "name": "얼음", "reason": "no_supplier"}]
    assert result.created == {bakery["purchase_order_id"], dairy["purchase_order_id"]}

    created = _events(result, "purchase_order_created")
    assert created[1] == {
        "purchase_order_id": dairy["purchase_order_id"],
        "name": dairy["name"],
        "supplier_id": DAIRY,
        "supplier": "서울우유 대리점",
        "status": "draft",
        "lines": dairy["lines"],
        "total_cost": dairy["total_cost"],
        "origin": "auto_reorder",
        "order_method": "phone",
    }
    assert [e.type for e in result.events] == [
        "purchase_order_created",
        "purchase_order_created",
        "reorder_needs_supplier",
    ]
    assert _events(result, "reorder_needs_supplier") == [
        {"items": [{"item_id": ICE, "name": "얼음"}]}
    ]

    stored = await get(cafe, dairy["purchase_order_id"])
    assert stored.type == "PurchaseOrder"
    assert stored.name == dairy["name"]
    assert dict(stored.properties) == {
        "status": "draft",
        "lines": dairy["lines"],
        "total_cost": dairy["total_cost"],
        "origin": "auto_reorder",
        "expected_at": expected_at,
    }
    assert await _supplier_of(cafe, dairy["purchase_order_id"]) == DAIRY

    # approve: ordered at once, and the supplier's order is announced
    await _count(act, cafe, ICE, 20000)
    await _count(act, cafe, "inventory_item.sandwich", 1)
    result = await act(cafe, "auto_reorder", approve=True)
    (po,) = result.result["purchase_orders"]
    assert (po["status"], po["lines"][0]["qty"]) == ("ordered", 8)  # par 8, packs of 2
    assert [e.type for e in result.events] == ["purchase_order_created", "purchase_order_approved"]
    stored = await get(cafe, po["purchase_order_id"])
    assert (stored.get("approved_by"), stored.get("approved_at")) == (
        "tester",
        to_iso(result.occurred_at),
    )


async def test_auto_reorder_chooses_the_supplier_with_the_shortest_lead_time(
    cafe: ActionEngine, act
) -> None:
    slow = await _supplier(act, cafe, "slow", lead_time_days=5)
    fast_b = await _supplier(act, cafe, "fast_b", lead_time_days=2)
    fast_a = await _supplier(act, cafe, "fast_a", lead_time_days=2)
    unknown = await _supplier(act, cafe, "unknown")
    oil = await _item(
        act, cafe, "oil", slow, on_hand=1, reorder_point=2, par_level=5, lead_time_days=9
    )
    for supplier in (fast_b, unknown, fast_a):
        await act(cafe, "set_link", source=oil, link_type="supplied_by", target=supplier)
    # a supplier without a lead time comes last; the expected date is then the item's
    salt = await _item(
        act, cafe, "salt", unknown, on_hand=0, reorder_point=1, par_level=2, lead_time_days=4
    )
    result = await act(cafe, "auto_reorder", items=[oil, salt])
    by_supplier = {po["supplier_id"]: po for po in result.result["purchase_orders"]}
    assert set(by_supplier) == {fast_a, unknown}  # fast_a and fast_b tie on 2 days: by name
    assert by_supplier[fast_a]["lines"][0]["item"] == oil
    assert by_supplier[fast_a]["expected_at"] == to_iso(result.occurred_at + timedelta(days=2))
    assert by_supplier[unknown]["lines"][0]["item"] == salt
    assert by_supplier[unknown]["expected_at"] == to_iso(result.occurred_at + timedelta(days=4))
    assert "unit_cost" not in by_supplier[unknown]["lines"][0]  # no cost known
    assert by_supplier[unknown]["total_cost"] == 0


async def test_auto_reorder_reports_what_it_does_not_order(cafe: ActionEngine, act) -> None:
    dairy_item = await _item(act, cafe, "cream", DAIRY, on_hand=1, reorder_point=2)
    full = await _item(act, cafe, "syrup", DAIRY, on_hand=5, reorder_point=2, par_level=5)
    await _count(act, cafe, CROISSANT, 2)
    first = await act(cafe, "auto_reorder")
    # items at their reorder point without a par level are reported; items above it are not
    assert first.result["skipped"] == [
        {"item_id": dairy_item, "name": "cream", "reason": "no_par_level"}
    ]
    (po,) = first.result["purchase_orders"]
    assert po["lines"][0]["qty"] == 15  # par 15 - 2 = 13 -> 3 packs of 5

    # named items are ordered when under par, whatever their reorder point
    result = await act(cafe, "auto_reorder", items=[full, CROISSANT, dairy_item, ICE, MILK])
    (milk_po,) = result.result["purchase_orders"]
    assert [(line["item"], line["qty"]) for line in milk_po["lines"]] == [(MILK, 6000)]
    assert result.result["skipped"] == [
        {"item_id": full, "name": "syrup", "reason": "at_par"},
        {"item_id": CROISSANT, "name": "크루아상", "reason": "on_order", "on_order": 15},
        {"item_id": dairy_item, "name": "cream", "reason": "no_par_level"},
        {"item_id": ICE, "name": "얼음", "reason": "no_supplier"},
    ]

    err = await _refused(act, cafe, "auto_reorder", items=[MILK, "product.croissant"])
    assert (err.translation_key, err.field) == ("wrong_object_type", "items[1]")
    err = await _refused(act, cafe, "auto_reorder", items=["inventory_item.none"])
    assert (err.translation_key, err.field) == ("object_not_found", "items[0]")
    err = await _refused(act, cafe, "auto_reorder", items=[3])
    assert (err.translation_key, err.field) == ("invalid_type", "items[0]")


async def test_auto_reorder_never_orders_an_item_twice(cafe: ActionEngine, act, dump) -> None:
    await _count(act, cafe, CROISSANT, 0)
    await _count(act, cafe, CHEESECAKE, 1)
    first = await act(cafe, "auto_reorder")
    (po,) = first.result["purchase_orders"]
    po_id = po["purchase_order_id"]

    # run again: everything is on order, nothing is written but the audit row
    before = await dump(cafe)
    again = await act(cafe, "auto_reorder")
    assert again.result == {
        "purchase_orders": [],
        "skipped": [
            {"item_id": CHEESECAKE, "name": "치즈케이크", "reason": "on_order", "on_order": 9},
            {"item_id": CROISSANT, "name": "크루아상", "reason": "on_order", "on_order": 15},
        ],
    }
    assert again.events == ()
    after = await dump(cafe)
    assert len(after["careon_audit"]) == len(before["careon_audit"]) + 1
    assert {k: v for k, v in after.items() if k != "careon_audit"} == {
        k: v for k, v in before.items() if k != "careon_audit"
    }

    # a partial delivery: the rest is still on order
    await act(
        cafe, "receive_purchase_order", purchase_order=po_id, lines=[{"item": CROISSANT, "qty": 5}]
    )
    await _count(act, cafe, CROISSANT, 0)
    again = await act(cafe, "auto_reorder", items=[CROISSANT])
    assert again.result["skipped"][0]["on_order"] == 10
    # a cancelled order is no longer on order: the next reorder orders again
    await act(cafe, "cancel_purchase_order", purchase_order=po_id)
    again = await act(cafe, "auto_reorder")
    (new,) = again.result["purchase_orders"]
    assert new["purchase_order_id"] != po_id
    assert [(line["item"], line["qty"]) for line in new["lines"]] == [
        (CHEESECAKE, 9),
        (CROISSANT, 15),
    ]


# --- create, approve, cancel ------------------------------------------------------------------


async def test_create_purchase_order_by_hand(cafe: ActionEngine, act, get) -> None:
    result = await act(
        cafe,
        "create_purchase_order",
        supplier=DAIRY,
        lines=[
            {"item": MILK, "qty": 6000},
            {"item": OAT_MILK, "qty": "2000", "unit_cost": 6},
            {"item": MILK, "qty": 1000.5},
        ],
        expected_at="2025-03-02T09:00:00",
        note="오전 배송",
    )
    po = result.result
    assert po["lines"] == [
        {"item": MILK, "name": "우유", "unit": "ml", "qty": 7000.5, "received": 0, "unit_cost": 3},
        {
            "item": OAT_MILK,
            "name": "오트밀크",
            "unit": "ml",
            "qty": 2000,
            "received": 0,
            "unit_cost": 6,
        },
    ]
    assert po["expected_at"] == "2025-03-02T00:00:00.000000+00:00"  # store time is Seoul
    assert po["total_cost"] == round(7000.5 * 3 + 2000 * 6)
    assert (po["status"], po["supplier_id"]) == ("draft", DAIRY)
    (created,) = _events(result, "purchase_order_created")
    assert created["origin"] == "manual"
    stored = await get(cafe, po["purchase_order_id"])
    assert (stored.get("origin"), stored.get("note")) == ("manual", "오전 배송")

    err = await _refused(
        act, cafe, "create_purchase_order", supplier=MILK, lines=[{"item": MILK, "qty": 1}]
    )
    assert (err.translation_key, err.field) == ("wrong_object_type", "supplier")
    err = await _refused(
        act,
        cafe,
        "create_purchase_order",
        supplier=DAIRY,
        lines=[{"item": MILK, "qty": 1}, {"item": DAIRY, "qty": 1}],
    )
    assert (err.translation_key, err.field) == ("wrong_object_type", "lines[1].item")
    err = await _refused(act, cafe, "create_purchase_order", supplier=DAIRY, lines=[])
    assert (err.translation_key, err.field) == ("empty_list", "lines")
    err = await _refused(
        act, cafe, "create_purchase_order", supplier=DAIRY, lines=[{"item": MILK, "qty": 0}]
    )
    assert (err.translation_key, err.field) == ("out_of_range", "lines[0].qty")

    # purchase orders are records of the purchasing actions, not set-up objects
    err = await _refused(
        act, cafe, "create_object", object_type="PurchaseOrder", name="PO", properties={}
    )
    assert (err.translation_key, err.field) == ("managed_property", "object_type")
    err = await _refused(
        act,
        cafe,
        "update_object",
        object_id=po["purchase_order_id"],
        properties={"status": "received"},
    )
    assert (err.translation_key, err.field) == ("managed_property", "object_id")
    err = await _refused(act, cafe, "delete_object", object_id=po["purchase_order_id"])
    assert err.translation_key == "managed_property"


async def test_approve_and_cancel_follow_the_status(cafe: ActionEngine, act, get) -> None:
    async def new_po() -> str:
        result = await act(
            cafe,
            "create_purchase_order",
            supplier=DAIRY,
            lines=[{"item": MILK, "qty": 6000}, {"item": OAT_MILK, "qty": 1500.5}],
            note="문 앞에 놓아 주세요",
        )
        return str(result.result["purchase_order_id"])

    po_id = await new_po()
    name = (await get(cafe, po_id)).name
    result = await act(cafe, "approve_purchase_order", purchase_order=po_id)
    message = f"{name}\n- 우유 6000 ml\n- 오트밀크 1500.5 ml\n문 앞에 놓아 주세요"
    assert result.result == {
        "purchase_order_id": po_id,
        "name": name,
        "status": "ordered",
        "previous_status": "draft",
        "supplier_id": DAIRY,
        "message": message,
    }
    (approved,) = _events(result, "purchase_order_approved")
    assert approved == {
        "purchase_order_id": po_id,
        "name": name,
        "supplier_id": DAIRY,
        "supplier": "서울우유 대리점",
        "order_method": "phone",
        "lines": (await get(cafe, po_id)).get("lines"),
        "total_cost": 6000 * 3 + round(1500.5 * 5),
        "message": message,
    }
    stored = await get(cafe, po_id)
    assert (stored.get("status"), stored.get("approved_by")) == ("ordered", "tester")
    assert stored.get("approved_at") == to_iso(result.occurred_at)

    err = await _refused(act, cafe, "approve_purchase_order", purchase_order=po_id)
    assert err.translation_key == "purchase_order_status_invalid"
    assert err.placeholders == {
        "field": "purchase_order",
        "purchase_order": name,
        "status": "ordered",
        "allowed": "draft, requested",
    }

    result = await act(cafe, "cancel_purchase_order", purchase_order=po_id, why="거래처 휴무")
    assert result.result == {
        "purchase_order_id": po_id,
        "status": "cancelled",
        "previous_status": "ordered",
    }
    assert _events(result, "purchase_order_cancelled") == [
        {
            "purchase_order_id": po_id,
            "name": name,
            "supplier_id": DAIRY,
            "supplier": "서울우유 대리점",
            "previous_status": "ordered",
            "reason": "거래처 휴무",
        }
    ]
    assert (await get(cafe, po_id)).get("cancelled_at") == to_iso(result.occurred_at)
    for action in ("cancel_purchase_order", "approve_purchase_order", "receive_purchase_order"):
        err = await _refused(act, cafe, action, purchase_order=po_id)
        assert (err.translation_key, err.placeholders["status"]) == (
            "purchase_order_status_invalid",
            "cancelled",
        )
    assert err.placeholders["allowed"] == "draft, requested, ordered, partially_received"

    # a draft can be cancelled; a partly delivered order, too; a received one cannot
    draft = await new_po()
    await act(cafe, "cancel_purchase_order", purchase_order=draft)
    partial = await new_po()
    await act(
        cafe,
        "receive_purchase_order",
        purchase_order=partial,
        lines=[{"item": MILK, "qty": 6000}],
    )
    err = await _refused(act, cafe, "approve_purchase_order", purchase_order=partial)
    assert err.placeholders["status"] == "partially_received"
    result = await act(cafe, "cancel_purchase_order", purchase_order=partial)
    assert result.result["previous_status"] == "partially_received"
    received = await new_po()
    await act(cafe, "receive_purchase_order", purchase_order=received)
    err = await _refused(act, cafe, "cancel_purchase_order", purchase_order=received)
    assert err.placeholders["status"] == "received"

    err = await _refused(act, cafe, "approve_purchase_order", purchase_order=MILK)
    assert (err.translation_key, err.field) == ("wrong_object_type", "purchase_order")
    err = await _refused(act, cafe, "cancel_purchase_order", purchase_order="purchase_order.x")
    assert (err.translation_key, err.field) == ("object_not_found", "purchase_order")


async def test_approving_again_with_the_same_key_replays_the_first_result(
    cafe: ActionEngine, act, dump
) -> None:
    created = await act(
        cafe, "create_purchase_order", supplier=BAKERY, lines=[{"item": CROISSANT, "qty": 10}]
    )
    po_id = created.result["purchase_order_id"]
    first = await act(cafe, "approve_purchase_order", purchase_order=po_id, idempotency_key="ok-1")
    before = await dump(cafe)
    again = await act(cafe, "approve_purchase_order", purchase_order=po_id, idempotency_key="ok-1")
    assert again.replayed
    assert (again.result, again.audit_id) == (first.result, first.audit_id)
    assert again.events == ()
    assert await dump(cafe) == before
    # without the key, approving twice is refused
    err = await _refused(act, cafe, "approve_purchase_order", purchase_order=po_id)
    assert err.translation_key == "purchase_order_status_invalid"


# --- receiving ---------------------------------------------------------------------------------


async def test_partial_deliveries(cafe: ActionEngine, act, get, on_hand) -> None:
    created = await act(
        cafe,
        "create_purchase_order",
        supplier=DAIRY,
        lines=[{"item": MILK, "qty": 6000}, {"item": OAT_MILK, "qty": 2000}],
        approve=True,
    )
    po_id = created.result["purchase_order_id"]
    first = await act(
        cafe,
        "receive_purchase_order",
        purchase_order=po_id,
        lines=[{"item": MILK, "qty": 4000, "unit_cost": 4}],
    )
    assert first.result == {
        "purchase_order_id": po_id,
        "status": "partially_received",
        "items": [{"item_id": MILK, "name": "우유", "received": 4000, "on_hand": 22000}],
        "outstanding": [
            {"item_id": MILK, "name": "우유", "qty": 2000},
            {"item_id": OAT_MILK, "name": "오트밀크", "qty": 2000},
        ],
        "unpriced": [],
    }
    assert await on_hand(cafe, "milk") == 18000 + 4000
    assert (await get(cafe, MILK)).get("unit_cost") == 4
    # the cost the delivery came at is the order's too
    assert created.result["total_cost"] == 6000 * 3 + 2000 * 5
    assert (await get(cafe, po_id)).get("total_cost") == 6000 * 4 + 2000 * 5
    assert [e.type for e in first.events] == ["stock_received", "purchase_order_received"]
    assert _events(first, "stock_received") == [
        {"items": first.result["items"], "purchase_order_id": po_id}
    ]
    received_event = _events(first, "purchase_order_received")[0]
    assert (received_event["status"], received_event["complete"]) == ("partially_received", False)
    assert [(line["qty"], line["received"]) for line in received_event["lines"]] == [
        (6000, 4000),
        (2000, 0),
    ]
    po = await get(cafe, po_id)
    assert po.get("status") == "partially_received"
    assert po.get("received_at") == to_iso(first.occurred_at)

    # the rest of what was ordered, by default
    second = await act(cafe, "receive_purchase_order", purchase_order=po_id)
    assert second.result["status"] == "received"
    assert second.result["outstanding"] == []
    assert [(i["item_id"], i["received"], i["on_hand"]) for i in second.result["items"]] == [
        (MILK, 2000, 24000),
        (OAT_MILK, 2000, 6000),
    ]
    assert _events(second, "purchase_order_received")[0]["complete"] is True
    po = await get(cafe, po_id)
    assert [(line["qty"], line["received"]) for line in po.get("lines")] == [
        (6000, 6000),
        (2000, 2000),
    ]
    assert await on_hand(cafe, "milk") == 24000
    assert await on_hand(cafe, "oat_milk") == 6000

    # more than ordered in one delivery: stock goes up by what arrived, the order is complete
    created = await act(
        cafe, "create_purchase_order", supplier=BAKERY, lines=[{"item": CROISSANT, "qty": 0.5}]
    )
    result = await act(
        cafe,
        "receive_stock",
        purchase_order=created.result["purchase_order_id"],
        lines=[{"item": CROISSANT, "qty": 0.25}, {"item": CROISSANT, "qty": 0.5}],
    )
    assert result.result["status"] == "received"
    assert result.result["items"] == [
        {"item_id": CROISSANT, "name": "크루아상", "received": 0.75, "on_hand": 12.75}
    ]
    po = await get(cafe, created.result["purchase_order_id"])
    assert po.get("lines")[0]["received"] == 0.75


async def test_receiving_an_item_that_was_not_ordered_changes_nothing(
    cafe: ActionEngine, act, dump
) -> None:
    created = await act(
        cafe,
        "create_purchase_order",
        supplier=DAIRY,
        lines=[{"item": MILK, "qty": 6000}],
        approve=True,
    )
    po_id = created.result["purchase_order_id"]
    before = await dump(cafe)
    for action in ("receive_purchase_order", "receive_stock"):
        err = await _refused(
            act,
            cafe,
            action,
            purchase_order=po_id,
            lines=[{"item": MILK, "qty": 1000}, {"item": CROISSANT, "qty": 10}],
        )
        assert err.translation_key == "item_not_on_purchase_order"
        assert err.placeholders == {
            "field": "lines[1].item",
            "item": "크루아상",
            "purchase_order": created.result["name"],
        }
        assert "크루아상" in str(err)
    err = await _refused(
        act, cafe, "receive_purchase_order", purchase_order=po_id, lines=[{"item": DAIRY, "qty": 1}]
    )
    assert (err.translation_key, err.field) == ("wrong_object_type", "lines[0].item")
    assert await dump(cafe) == before


async def test_receipt_brings_stock_out_products_back(cafe: ActionEngine, act, get) -> None:
    sold = await act(
        cafe, "place_order", via="pos", lines=[{"product": "product.croissant", "qty": 12}]
    )
    assert _events(sold, "stock_out") == [
        {
            "item_id": CROISSANT,
            "name": "크루아상",
            "on_hand": 0,
            "unit": "ea",
            "products": [{"product_id": "product.croissant", "name": "버터 크루아상"}],
        }
    ]
    assert (await get(cafe, "product.croissant")).get("available") is False
    reorder = await act(cafe, "auto_reorder", approve=True)
    (po,) = reorder.result["purchase_orders"]
    assert po["lines"][0]["qty"] == 15
    received = await act(cafe, "receive_purchase_order", purchase_order=po["purchase_order_id"])
    assert [e.type for e in received.events] == [
        "product_availability_changed",
        "stock_received",
        "purchase_order_received",
    ]
    assert _events(received, "product_availability_changed")[0]["reason"] == "restocked"
    product = await get(cafe, "product.croissant")
    assert product.get("available") is True
    assert "availability_reason" not in product.properties


async def test_a_delivery_prices_the_order_and_names_what_has_no_price(
    cafe: ActionEngine, act, get
) -> None:
    syrup = await _item(act, cafe, "hazelnut_syrup", DAIRY, on_hand=1)  # no unit cost
    created = await act(
        cafe,
        "create_purchase_order",
        supplier=DAIRY,
        lines=[{"item": syrup, "qty": 10}, {"item": MILK, "qty": 1000}],
    )
    po_id = created.result["purchase_order_id"]
    assert created.result["total_cost"] == 1000 * 3

    first = await act(
        cafe,
        "receive_purchase_order",
        purchase_order=po_id,
        lines=[{"item": syrup, "qty": 4}, {"item": MILK, "qty": 1000, "unit_cost": 4}],
    )
    assert first.result["unpriced"] == [syrup]  # the total leaves the syrup out
    (event,) = _events(first, "purchase_order_received")
    assert event["unpriced"] == [syrup]
    assert [line.get("unit_cost") for line in event["lines"]] == [None, 4]
    po = await get(cafe, po_id)
    assert po.get("total_cost") == 1000 * 4
    assert [line.get("unit_cost") for line in po.get("lines")] == [None, 4]

    rest = await act(
        cafe,
        "receive_stock",
        purchase_order=po_id,
        lines=[{"item": syrup, "qty": 6, "unit_cost": 250}],
    )
    assert (rest.result["status"], rest.result["unpriced"]) == ("received", [])
    assert _events(rest, "purchase_order_received")[0]["unpriced"] == []
    po = await get(cafe, po_id)
    assert po.get("total_cost") == 1000 * 4 + 10 * 250
    assert [(line["item"], line.get("unit_cost")) for line in po.get("lines")] == [
        (syrup, 250),
        (MILK, 4),
    ]
    assert (await get(cafe, syrup)).get("unit_cost") == 250


async def test_an_item_on_order_is_not_ordered_again_by_hand(cafe: ActionEngine, act, dump) -> None:
    beans = "inventory_item.espresso_beans"
    await _count(act, cafe, beans, 10)
    reorder = await act(cafe, "auto_reorder", items=[beans])
    (auto,) = reorder.result["purchase_orders"]
    assert [(line["item"], line["qty"]) for line in auto["lines"]] == [(beans, 8000)]
    supplier = auto["supplier_id"]

    before = await dump(cafe)
    for status in ("draft", "partially_received"):
        if status == "partially_received":
            await act(
                cafe,
                "receive_purchase_order",
                purchase_order=auto["purchase_order_id"],
                lines=[{"item": beans, "qty": 1000}],
            )
            before = await dump(cafe)
        err = await _refused(
            act,
            cafe,
            "create_purchase_order",
            supplier=supplier,
            lines=[{"item": MILK, "qty": 1000}, {"item": beans, "qty": 8000}],
        )
        assert err.translation_key == "item_on_order"
        assert err.placeholders == {
            "field": "lines[1].item",
            "item": "에스프레소 원두",
            "purchase_order": auto["name"],
        }
        assert await dump(cafe) == before

    # once that order is closed, the item can be ordered again
    await act(cafe, "cancel_purchase_order", purchase_order=auto["purchase_order_id"])
    again = await act(
        cafe, "create_purchase_order", supplier=supplier, lines=[{"item": beans, "qty": 8000}]
    )
    assert again.result["lines"][0]["qty"] == 8000


async def test_purchase_order_names_are_unique(cafe: ActionEngine, act) -> None:
    first = await act(
        cafe, "create_purchase_order", supplier=DAIRY, lines=[{"item": MILK, "qty": 1000}]
    )
    day = _day(first)
    assert first.result["name"] == f"서울우유 대리점 {day}"
    second = await act(
        cafe, "create_purchase_order", supplier=DAIRY, lines=[{"item": OAT_MILK, "qty": 1000}]
    )
    assert second.result["name"] == f"서울우유 대리점 {day} #2"
    (created,) = _events(second, "purchase_order_created")
    assert created["name"] == second.result["name"]
    # a cancelled order keeps its name: the next one is the third
    await act(cafe, "cancel_purchase_order", purchase_order=first.result["purchase_order_id"])
    await _count(act, cafe, MILK, 100)
    reorder = await act(cafe, "auto_reorder", items=[MILK, CROISSANT])
    assert [po["name"] for po in reorder.result["purchase_orders"]] == [
        f"동네베이커리 {day}",
        f"서울우유 대리점 {day} #3",
    ]
    bakery = await act(
        cafe, "create_purchase_order", supplier=BAKERY, lines=[{"item": CHEESECAKE, "qty": 5}]
    )
    assert bakery.result["name"] == f"동네베이커리 {day} #2"


# --- stock events ------------------------------------------------------------------------------


async def test_stock_out_is_announced_once_per_crossing(cafe: ActionEngine, act) -> None:
    await _count(act, cafe, MILK, 400)
    latte = [{"product": "product.latte_hot"}]
    # 200 ml left: the matcha latte (220 ml) can no longer be made
    result = await act(cafe, "place_order", lines=latte)
    assert _events(result, "stock_out") == [
        {
            "item_id": MILK,
            "name": "우유",
            "on_hand": 200,
            "unit": "ml",
            "products": [{"product_id": "product.matcha_latte", "name": "말차 라떼"}],
        }
    ]
    # 0 ml: every milk drink goes off, but milk was already out (it kept the matcha latte
    # off): no second stock_out for the same shortage
    result = await act(cafe, "place_order", lines=latte)
    assert _events(result, "stock_out") == []
    assert sorted(e["product_id"] for e in _events(result, "product_availability_changed")) == [
        "product.latte_hot",
        "product.latte_ice",
        "product.vanilla_latte",
    ]
    # already out: a POS sale below 0 is no new crossing
    result = await act(cafe, "place_order", via="pos", lines=latte)
    assert _events(result, "stock_out") == []
    # restocked: every milk drink is back; used up again: one event listing all of them
    await act(cafe, "receive_stock", lines=[{"item": MILK, "qty": 1000}])
    result = await act(cafe, "adjust_inventory", item=MILK, mode="waste", qty=1000)
    (out,) = _events(result, "stock_out")
    assert out["on_hand"] == -200
    assert [p["product_id"] for p in out["products"]] == [
        "product.matcha_latte",
        "product.vanilla_latte",
        "product.latte_ice",
        "product.latte_hot",
    ]  # by name: 말차 라떼, 바닐라 라떼, 아이스 카페라떼, 카페라떼 (HOT)
    # an item no product needs runs out too, with no products
    await act(
        cafe,
        "create_object",
        object_type="InventoryItem",
        key="napkin",
        name="냅킨",
        properties={"unit": "ea", "on_hand": 3},
    )
    result = await act(cafe, "adjust_inventory", item="inventory_item.napkin", mode="waste", qty=3)
    assert _events(result, "stock_out") == [
        {
            "item_id": "inventory_item.napkin",
            "name": "냅킨",
            "on_hand": 0,
            "unit": "ea",
            "products": [],
        }
    ]
    result = await act(
        cafe, "adjust_inventory", item="inventory_item.napkin", mode="correction", qty=-1
    )
    assert _events(result, "stock_out") == []
    # restocked and out again: a new crossing
    await act(cafe, "adjust_inventory", item="inventory_item.napkin", mode="count", qty=1)
    result = await act(cafe, "adjust_inventory", item="inventory_item.napkin", mode="count", qty=0)
    assert len(_events(result, "stock_out")) == 1


async def test_a_storm_of_stock_changes_announces_each_crossing_once(
    cafe: ActionEngine, act, on_hand
) -> None:
    """1,000 sales and corrections moving croissants up and down across the reorder point (4):
    one stock_low per downward crossing, one stock_out per running out."""
    rng = random.Random(20250301)
    reorder_point, level = 4, 12
    crossings = outs = 0
    low_events = out_events = 0
    for step in range(1000):
        qty = rng.randint(1, 4)
        down = level > 8 or (level > -3 and rng.random() < 0.5)
        if down and step % 3:
            result = await act(
                cafe, "place_order", via="pos", lines=[{"product": "product.croissant", "qty": qty}]
            )
            after = level - qty
        elif down:
            result = await act(cafe, "adjust_inventory", item=CROISSANT, mode="waste", qty=qty)
            after = level - qty
        else:
            result = await act(cafe, "adjust_inventory", item=CROISSANT, mode="correction", qty=qty)
            after = level + qty
        crossings += level > reorder_point >= after
        outs += level > 0 >= after
        low_events += len(_events(result, "stock_low"))
        out_events += len(_events(result, "stock_out"))
        level = after
    assert await on_hand(cafe, "croissant") == level
    assert crossings > 50  # the storm did cross, many times
    assert low_events == crossings
    assert out_events == outs


BEAN_DRINKS = {
    "product.americano_hot",
    "product.americano_ice",
    "product.latte_hot",
    "product.latte_ice",
    "product.oat_latte",
    "product.vanilla_latte",
}


async def test_a_storm_on_beans_announces_each_running_out_once(
    cafe: ActionEngine, act, get, on_hand
) -> None:
    """Espresso beans, 18 g a drink (reorder point 2000 g): 400 sales, deliveries, counts,
    waste and corrections. The beans are out while less than a drink's worth is left (every
    coffee off the menu, whether or not some is still on hand): exactly one stock_out per
    entry into that state, one stock_low per downward crossing, both counted from the levels
    alone."""
    beans = "inventory_item.espresso_beans"
    for key in ("hot_cup", "lid"):  # the cups never run out here
        await _count(act, cafe, f"inventory_item.{key}", 1_000_000)
    for product in BEAN_DRINKS:
        assert (await get(cafe, product)).get("available", True) is True

    def is_out(level: float) -> bool:
        return level < 18

    rng = random.Random(20250302)
    level = await on_hand(cafe, "espresso_beans")
    assert level == 6000
    outs = lows = out_events = low_events = 0
    for _ in range(400):
        roll = rng.random()
        if (level > 120 and roll < 0.5) or roll < 0.3:
            qty = rng.randint(1, 3)
            result = await act(
                cafe,
                "place_order",
                via="pos",
                lines=[{"product": "product.americano_hot", "qty": qty}],
            )
            after = level - 18 * qty
        elif level > 120:
            qty = rng.randint(1, level // 2)
            result = await act(cafe, "adjust_inventory", item=beans, mode="waste", qty=qty)
            after = level - qty
        elif roll < 0.5:
            qty = rng.choice([1, 5, 17, 18, 36, 250])
            result = await act(cafe, "receive_stock", lines=[{"item": beans, "qty": qty}])
            after = level + qty
        elif roll < 0.65:
            after = rng.choice([0, 10, 17, 18, 19, 90, 2100])
            result = await act(cafe, "adjust_inventory", item=beans, mode="count", qty=after)
        elif roll < 0.8:
            qty = rng.randint(1, 30)
            result = await act(cafe, "adjust_inventory", item=beans, mode="waste", qty=qty)
            after = level - qty
        else:
            qty = rng.randint(1, 40) * rng.choice([-1, 1])
            result = await act(cafe, "adjust_inventory", item=beans, mode="correction", qty=qty)
            after = level + qty
        outs += not is_out(level) and is_out(after)
        lows += level > 2000 >= after
        for event in _events(result, "stock_out"):
            assert event["item_id"] == beans
            assert event["on_hand"] == after
            assert {p["product_id"] for p in event["products"]} == BEAN_DRINKS
            out_events += 1
        low_events += len(_events(result, "stock_low"))
        level = after
        drinks_on = (await get(cafe, "product.americano_hot")).get("available", True)
        assert drinks_on is not is_out(level)
    assert await on_hand(cafe, "espresso_beans") == level
    assert outs > 20  # the storm did run the beans out, many times
    assert lows > 2
    assert out_events == outs
    assert low_events == lows
