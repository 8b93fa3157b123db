"""POS orders and payments from connectors (sync_order, sync_payment) on the demo cafe: lines
mapped to products, versions delivered twice and out of order converging on one state, refunds
by a cancelled payment, placeholders for unknown POS items resolved by the owner."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings, strategies as st
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from custom_components.careon.core import (
    ActionEngine,
    ActionResult,
    StoreUnavailableError,
    ValidationError,
)
from custom_components.careon.core.fields import to_iso
from custom_components.careon.core.privacy import hash_phone, store_privacy_key
from custom_components.careon.core.queries import SALE_STATUSES
from custom_components.careon.core.tables import audit_table, external_refs_table

SOURCE = "toss_place"
ACTOR = "connector:toss_place"
LATTE = "product.latte_hot"
ICED = "product.americano_ice"
CROISSANT = "product.croissant"
CHEESECAKE = "product.cheesecake"
PLACED = datetime.fromisoformat("2026-01-05T09:00:00+09:00")


def _at(minutes: float) -> str:
    return (PLACED + timedelta(minutes=minutes)).isoformat()


def order_params(
    external_id: str,
    state: str,
    *,
    updated: float = 0,
    lines: list[dict[str, Any]] | None = None,
    total: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A Toss Place order version as the connector maps it (``updated``: minutes after 9:00)."""
    lines = lines if lines is not None else [{"title": "카페라떼 (HOT)", "unit_price": 5000}]
    if total is None:
        total = sum(line.get("qty", 1) * line.get("unit_price", 0) for line in lines)
    return {
        "source": SOURCE,
        "external_id": external_id,
        "number": f"A-{external_id[-3:]}",
        "state": state,
        "placed_at": _at(0),
        "vendor_updated_at": _at(updated),
        "total": total,
        "lines": lines,
        **extra,
    }


def payment_params(
    external_id: str, order_ref: str | None, status: str, amount: int, **extra: Any
) -> dict[str, Any]:
    params = {
        "source": SOURCE,
        "external_id": external_id,
        "method": "card",
        "status": status,
        "amount": amount,
        **extra,
    }
    if order_ref is not None:
        params["order_ref"] = order_ref
    return params


async def sync(
    engine: ActionEngine,
    action: str,
    params: dict[str, Any],
    *,
    key: str | None = None,
    via: str | None = None,
) -> ActionResult:
    """Run sync_order/sync_payment as the Toss Place connector does."""
    source = via or ("pos" if action == "sync_order" else "payment")
    return await engine.execute(action, params, actor=ACTOR, source=source, idempotency_key=key)


def order_key(params: dict[str, Any]) -> str:
    return f"{SOURCE}:order:{params['external_id']}:{params['state']}:{params['vendor_updated_at']}"


def payment_key(params: dict[str, Any]) -> str:
    return f"{SOURCE}:payment:{params['external_id']}:{params['status']}"


async def _levels(engine: ActionEngine) -> dict[str, Any]:
    async with engine.reader() as ontology:
        return {item.id: item.get("on_hand") for item in await ontology.by_type("InventoryItem")}


async def _contains(engine: ActionEngine, order_id: str) -> dict[str, dict[str, Any]]:
    async with engine.reader() as ontology:
        links = await ontology.links_from([order_id], "contains")
    return {link.target_id: dict(link.properties) for link in links}


async def _paying(engine: ActionEngine, order_id: str) -> set[str]:
    async with engine.reader() as ontology:
        return {p.id for p in await ontology.linking([order_id], "pays")}


def _minus(levels: dict[str, Any], **taken: float) -> dict[str, Any]:
    return {
        item: level - taken.get(item.removeprefix("inventory_item."), 0)
        for item, level in levels.items()
    }


# latte_hot = 18 g beans, 200 ml milk, a hot cup and a lid
LATTE_TAKES = {"espresso_beans": 18, "milk": 200, "hot_cup": 1, "lid": 1}


def _times(n: int, takes: dict[str, float]) -> dict[str, float]:
    return {item: n * qty for item, qty in takes.items()}


# --- lines -> products ---------------------------------------------------------------------


async def test_lines_map_by_code_then_name_else_one_placeholder_each(
    cafe: ActionEngine, act, get
) -> None:
    await act(cafe, "update_object", object_id=ICED, properties={"pos_refs": {SOURCE: ["A002"]}})
    before = await _levels(cafe)
    lines = [
        # by code, whatever the POS calls it
        {"title": "ICE AMERICANO", "code": "A002", "qty": 2, "unit_price": 4500},
        # by name: case and spacing do not matter
        {"title": " 버터   크루아상 ", "code": "B777", "unit_price": 3800},
        # nothing matches: a placeholder, reused by a later line with the same title
        {"title": "Seasonal Tart", "code": "T99", "category": "디저트", "unit_price": 6000},
        {"title": "seasonal  tart", "code": "T98", "unit_price": 6000, "options": ["포장"]},
        # no code: a placeholder known again by its title
        {"title": "Gift Wrap", "unit_price": 1000},
    ]
    params = order_params(
        "620000000000000001",
        "open",
        lines=lines,
        total=24500,
        discount=500,
        tax=2227,
        supply=22273,
        tip=0,
        channel="togo",
    )
    result = await sync(cafe, "sync_order", params)
    order_id = result.result["order_id"]
    tart, wrap = (entry["product_id"] for entry in result.result["unmapped"])
    assert result.result == {
        "order_id": order_id,
        "created": True,
        "changed": True,
        "status": "open",
        "previous_status": None,
        "unmapped": [
            {"product_id": tart, "title": "Seasonal Tart", "code": "T99"},
            {"product_id": wrap, "title": "Gift Wrap", "code": None},
        ],
        "linked_payments": [],
    }
    assert [e.type for e in result.events] == [
        "pos_item_unmapped",
        "pos_item_unmapped",
        "order_placed",
    ]
    assert dict(result.events[0].data) == {
        "product_id": tart,
        "title": "Seasonal Tart",
        "code": "T99",
        "source": SOURCE,
    }
    assert (await get(cafe, tart)).properties == {
        "price": 6000,
        "category": "디저트",
        "available": True,
        "unmapped": True,
        "pos_refs": {SOURCE: ["T99"]},
    }
    assert (await get(cafe, wrap)).properties == {
        "price": 1000,
        "available": True,
        "unmapped": True,
        "pos_refs": {SOURCE: ["Gift Wrap"]},
    }
    order = await get(cafe, order_id)
    assert order.name == "A-001"
    props = order.properties
    assert {key: props[key] for key in ("status", "channel", "total", "source")} == {
        "status": "open",
        "channel": "togo",
        "total": 24500,
        "source": "pos",
    }
    assert (props["external_id"], props["number"]) == ("620000000000000001", "A-001")
    assert (props["discount"], props["tax"], props["supply"], props["tip"]) == (
        500,
        2227,
        22273,
        0,
    )
    assert props["placed_at"] == to_iso(PLACED)
    assert props["vendor_updated_at"] == to_iso(PLACED)
    assert [(line["product"], line["qty"], line["unit_price"]) for line in props["lines"]] == [
        (ICED, 2, 4500),
        (CROISSANT, 1, 3800),
        (tart, 1, 6000),
        (tart, 1, 6000),
        (wrap, 1, 1000),
    ]
    assert props["lines"][3]["options"] == ["포장"]
    assert await _contains(cafe, order_id) == {
        ICED: {"qty": 2, "unit_price": 4500},
        CROISSANT: {"qty": 1, "unit_price": 3800},
        tart: {"qty": 2, "unit_price": 6000},
        wrap: {"qty": 1, "unit_price": 1000},
    }
    # americano_ice = 18 g beans, 150 g ice, an ice cup, a lid, a straw
    iced = {"espresso_beans": 18, "ice": 150, "ice_cup": 1, "lid": 1, "straw": 1}
    assert await _levels(cafe) == _minus(before, **_times(2, iced), croissant=1)
    async with cafe.reader() as ontology:
        assert await ontology.find_external(SOURCE, "order", ["620000000000000001"]) == {
            "620000000000000001": order_id
        }

    # a later order finds the placeholders again: no new product, no new event
    again = await sync(
        cafe,
        "sync_order",
        order_params(
            "620000000000000002",
            "completed",
            lines=[
                {"title": "타르트 (시즌)", "code": "T99", "unit_price": 6000},
                {"title": "gift wrap", "unit_price": 1000},
            ],
        ),
    )
    assert again.result["unmapped"] == []
    assert [e.type for e in again.events] == ["order_placed", "order_completed"]
    lines_of = (await get(cafe, again.result["order_id"])).get("lines")
    assert [line["product"] for line in lines_of] == [tart, wrap]
    async with cafe.reader() as ontology:
        products = await ontology.by_type("Product")
    assert sum(1 for p in products if p.get("unmapped")) == 2
    assert len(products) == 13 + 2


async def test_a_pos_order_is_recorded_whatever_the_stock_or_the_menu(
    cafe: ActionEngine, act, get, on_hand
) -> None:
    await act(cafe, "update_availability", product=CHEESECAKE, available=False)
    result = await sync(
        cafe,
        "sync_order",
        order_params(
            "620000000000000009",
            "completed",
            lines=[
                {"title": "뉴욕 치즈케이크", "qty": 9, "unit_price": 6500},
            ],
        ),
        via="service",  # even not marked as a fact, a synced order happened
    )
    assert result.result["status"] == "completed"
    assert await on_hand(cafe, "cheesecake") == -1
    order = await get(cafe, result.result["order_id"])
    assert order.get("shortfall")[0]["missing"] == 1
    assert "stock_shortfall" in [e.type for e in result.events]


# --- an order's life ----------------------------------------------------------------------


async def test_an_order_moves_forward_only(cafe: ActionEngine, get) -> None:
    start = await _levels(cafe)
    opened = order_params("620000000000000010", "open", updated=0)
    first = await sync(cafe, "sync_order", opened)
    order_id = first.result["order_id"]
    taken = _minus(start, **LATTE_TAKES)
    assert await _levels(cafe) == taken

    # the same version again: found, nothing changes
    same = await sync(cafe, "sync_order", opened)
    assert same.result == {
        "order_id": order_id,
        "created": False,
        "changed": False,
        "status": "open",
        "previous_status": "open",
        "unmapped": [],
        "linked_payments": [],
    }
    assert same.events == ()
    assert same.updated == frozenset()

    done = await sync(
        cafe,
        "sync_order",
        order_params("620000000000000010", "completed", updated=5, completed_at=_at(5)),
    )
    assert (done.result["changed"], done.result["status"], done.result["previous_status"]) == (
        True,
        "completed",
        "open",
    )
    assert [(e.type, dict(e.data)) for e in done.events] == [
        (
            "order_completed",
            {"order_id": order_id, "number": "A-010", "total": 5000, "source": "pos"},
        )
    ]
    order = await get(cafe, order_id)
    assert (order.get("status"), order.get("completed_at")) == (
        "completed",
        to_iso(PLACED + timedelta(minutes=5)),
    )
    assert order.get("vendor_updated_at") == to_iso(PLACED + timedelta(minutes=5))

    # an older copy (the open one, delivered late) changes nothing
    late = await sync(cafe, "sync_order", order_params("620000000000000010", "open", updated=1))
    assert (late.result["changed"], late.result["status"]) == (False, "completed")
    # cancelled after it was completed: a refund, the stock stays used
    cancelled = await sync(
        cafe,
        "sync_order",
        order_params("620000000000000010", "cancelled", updated=9, completed_at=_at(5)),
    )
    assert (cancelled.result["status"], cancelled.result["previous_status"]) == (
        "refunded",
        "completed",
    )
    assert [e.type for e in cancelled.events] == ["order_refunded"]
    assert await _levels(cafe) == taken
    # closed: nothing moves it again
    for state in ("open", "completed", "cancelled"):
        after = await sync(
            cafe, "sync_order", order_params("620000000000000010", state, updated=20)
        )
        assert (after.result["changed"], after.result["status"]) == (False, "refunded")
    assert (await get(cafe, order_id)).get("status") == "refunded"


async def test_cancelled_before_it_was_made_gives_the_stock_back(cafe: ActionEngine, get) -> None:
    start = await _levels(cafe)
    first = await sync(cafe, "sync_order", order_params("620000000000000011", "open"))
    result = await sync(
        cafe, "sync_order", order_params("620000000000000011", "cancelled", updated=3)
    )
    assert (result.result["status"], result.result["previous_status"]) == ("cancelled", "open")
    assert [(e.type, e.data["restocked"]) for e in result.events] == [("order_cancelled", True)]
    assert await _levels(cafe) == start
    order = await get(cafe, first.result["order_id"])
    assert (order.get("status"), order.get("restocked")) == ("cancelled", True)


async def test_first_seen_closed(cafe: ActionEngine, get) -> None:
    start = await _levels(cafe)
    # cancelled before we ever saw it: recorded, nothing taken from stock
    cancelled = await sync(
        cafe, "sync_order", order_params("620000000000000012", "cancelled", updated=4)
    )
    assert cancelled.result["status"] == "cancelled"
    assert [e.type for e in cancelled.events] == ["order_placed", "order_cancelled"]
    order = await get(cafe, cancelled.result["order_id"])
    assert (order.get("status"), order.get("consumed"), order.get("restocked")) == (
        "cancelled",
        {},
        False,
    )
    assert await _levels(cafe) == start
    # the open copy arriving afterwards is older and changes nothing
    late = await sync(cafe, "sync_order", order_params("620000000000000012", "open"))
    assert (late.result["created"], late.result["changed"]) == (False, False)
    assert await _levels(cafe) == start

    # cancelled after it was completed (the copy says when): a refund of what was made
    refunded = await sync(
        cafe,
        "sync_order",
        order_params("620000000000000013", "cancelled", updated=9, completed_at=_at(5)),
    )
    assert refunded.result["status"] == "refunded"
    assert [e.type for e in refunded.events] == ["order_placed", "order_refunded"]
    assert await _levels(cafe) == _minus(start, **LATTE_TAKES)


async def test_completed_before_created_and_older_copies(cafe: ActionEngine, get) -> None:
    start = await _levels(cafe)
    two = [{"title": "카페라떼 (HOT)", "qty": 2, "unit_price": 5000}]
    done = await sync(
        cafe, "sync_order", order_params("620000000000000014", "completed", updated=6, lines=two)
    )
    assert done.result["status"] == "completed"
    order = await get(cafe, done.result["order_id"])
    assert order.get("completed_at") == to_iso(done.occurred_at)  # the copy did not say
    for late in (
        order_params("620000000000000014", "open", updated=0),
        order_params("620000000000000014", "open", updated=2, lines=two * 3),
    ):
        result = await sync(cafe, "sync_order", late)
        assert (result.result["changed"], result.result["status"]) == (False, "completed")
    assert await _levels(cafe) == _minus(start, **_times(2, LATTE_TAKES))

    # an older open copy after a newer open one: ignored
    newer = order_params("620000000000000015", "open", updated=8, lines=two)
    await sync(cafe, "sync_order", newer)
    older = await sync(cafe, "sync_order", order_params("620000000000000015", "open", updated=1))
    assert older.result["changed"] is False
    assert (await get(cafe, older.result["order_id"])).get("total") == 10000
    assert await _levels(cafe) == _minus(start, **_times(4, LATTE_TAKES))


async def test_lines_edited_while_open_move_stock_by_the_difference(
    cafe: ActionEngine, get
) -> None:
    start = await _levels(cafe)
    one = [{"title": "카페라떼 (HOT)", "unit_price": 5000}]
    first = await sync(cafe, "sync_order", order_params("620000000000000016", "open", lines=one))
    order_id = first.result["order_id"]
    # the table orders more: a second latte and a croissant
    more = [
        {"title": "카페라떼 (HOT)", "qty": 2, "unit_price": 5000},
        {"title": "버터 크루아상", "unit_price": 3800},
    ]
    edited = await sync(
        cafe, "sync_order", order_params("620000000000000016", "open", updated=10, lines=more)
    )
    assert (edited.result["changed"], edited.result["status"]) == (True, "open")
    assert await _levels(cafe) == _minus(start, **_times(2, LATTE_TAKES), croissant=1)
    # one write per item moved, once
    assert edited.updated == {
        order_id,
        "inventory_item.espresso_beans",
        "inventory_item.milk",
        "inventory_item.hot_cup",
        "inventory_item.lid",
        "inventory_item.croissant",
    }
    order = await get(cafe, order_id)
    assert order.get("total") == 13800
    assert order.get("consumed") == {
        "inventory_item.espresso_beans": 36,
        "inventory_item.milk": 400,
        "inventory_item.hot_cup": 2,
        "inventory_item.lid": 2,
        "inventory_item.croissant": 1,
    }
    assert await _contains(cafe, order_id) == {
        LATTE: {"qty": 2, "unit_price": 5000},
        CROISSANT: {"qty": 1, "unit_price": 3800},
    }
    # the latte taken off again: its stock comes back, the croissant stays used
    fewer = [{"title": "버터 크루아상", "unit_price": 3800}]
    await sync(
        cafe, "sync_order", order_params("620000000000000016", "open", updated=20, lines=fewer)
    )
    assert await _levels(cafe) == _minus(start, croissant=1)
    assert await _contains(cafe, order_id) == {CROISSANT: {"qty": 1, "unit_price": 3800}}
    # the completing copy has the final lines too
    final = [{"title": "버터 크루아상", "qty": 3, "unit_price": 3800}]
    await sync(
        cafe,
        "sync_order",
        order_params("620000000000000016", "completed", updated=30, lines=final),
    )
    order = await get(cafe, order_id)
    assert (order.get("status"), order.get("total")) == ("completed", 11400)
    assert await _levels(cafe) == _minus(start, croissant=3)
    # completed: the lines are history now
    await sync(
        cafe,
        "sync_order",
        order_params("620000000000000016", "completed", updated=40, lines=one),
    )
    assert await _levels(cafe) == _minus(start, croissant=3)
    # cancelled while open after edits: everything comes back
    await sync(cafe, "sync_order", order_params("620000000000000017", "open", lines=one))
    await sync(
        cafe, "sync_order", order_params("620000000000000017", "open", updated=1, lines=more)
    )
    await sync(cafe, "sync_order", order_params("620000000000000017", "cancelled", updated=2))
    assert await _levels(cafe) == _minus(start, croissant=3)


# --- payments -----------------------------------------------------------------------------


async def test_payment_before_its_order_is_linked_when_the_order_comes(
    cafe: ActionEngine, get
) -> None:
    paid = await sync(
        cafe,
        "sync_payment",
        payment_params(
            "640000000000000001",
            "620000000000000020",
            "approved",
            5000,
            approval_no="00123456",
            van="NICE",
            approved_at=_at(1),
            card={
                "issuer": "신한",
                "acquirer": "신한카드",
                "number": "5365-1012-3456-7890",
                "installment_months": 0,
                "kind": "credit",
                "unused": None,
            },
        ),
    )
    payment_id = paid.result["payment_id"]
    assert paid.result == {
        "payment_id": payment_id,
        "created": True,
        "changed": True,
        "status": "approved",
        "previous_status": None,
        "order_id": None,
        "refunded": False,
    }
    assert [(e.type, dict(e.data)) for e in paid.events] == [
        (
            "payment_recorded",
            {
                "payment_id": payment_id,
                "amount": 5000,
                "method": "card",
                "status": "approved",
                "order_id": None,
                "source": SOURCE,
            },
        )
    ]
    payment = await get(cafe, payment_id)
    assert payment.type == "Payment"
    assert payment.properties == {
        "method": "card",
        "amount": 5000,
        "status": "approved",
        "source": SOURCE,
        "external_id": "640000000000000001",
        "order_ref": "620000000000000020",
        "approval_no": "00123456",
        "van": "NICE",
        "approved_at": to_iso(PLACED + timedelta(minutes=1)),
        "card": {
            "issuer": "신한",
            "acquirer": "신한카드",
            "number": "5365-10**-****-7890",
            "installment_months": 0,
            "kind": "credit",
        },
    }
    # the card number is not kept whole anywhere, not even in the audit row
    async with cafe.engine.connect() as conn:
        audit = (
            await conn.execute(select(audit_table.c.parameters).order_by(audit_table.c.id.desc()))
        ).first()
    assert audit is not None
    assert audit.parameters["card"]["number"] == "5365-10**-****-7890"

    order = await sync(cafe, "sync_order", order_params("620000000000000020", "open"))
    assert order.result["linked_payments"] == [payment_id]
    assert order.result["status"] == "paid"
    assert await _paying(cafe, order.result["order_id"]) == {payment_id}
    # a payment of another connector with the same order id is not this order's
    other = await sync(
        cafe,
        "sync_payment",
        {**payment_params("x-1", "620000000000000021", "approved", 5000), "source": "other"},
    )
    second = await sync(cafe, "sync_order", order_params("620000000000000021", "open"))
    assert second.result["linked_payments"] == []
    assert second.result["status"] == "open"
    assert other.result["order_id"] is None


async def test_payments_after_the_order_pay_it_once_they_cover_it(cafe: ActionEngine, get) -> None:
    placed = await sync(
        cafe,
        "sync_order",
        order_params(
            "620000000000000022",
            "open",
            lines=[{"title": "카페라떼 (HOT)", "qty": 2, "unit_price": 5000}],
        ),
    )
    order_id = placed.result["order_id"]
    # split bill: the first half does not pay it
    half = await sync(
        cafe, "sync_payment", payment_params("p-1", "620000000000000022", "approved", 5000)
    )
    assert half.result["order_id"] == order_id
    assert (await get(cafe, order_id)).get("status") == "open"
    # a failed attempt counts for nothing
    await sync(cafe, "sync_payment", payment_params("p-2", "620000000000000022", "failed", 5000))
    assert (await get(cafe, order_id)).get("status") == "open"
    # the same payment again changes nothing
    again = await sync(
        cafe, "sync_payment", payment_params("p-1", "620000000000000022", "approved", 5000)
    )
    assert (again.result["created"], again.result["changed"]) == (False, False)
    assert again.events == ()
    rest = await sync(
        cafe,
        "sync_payment",
        payment_params("p-3", "620000000000000022", "approved", 5000, method="cash"),
    )
    assert rest.result["order_id"] == order_id
    assert (await get(cafe, order_id)).get("status") == "paid"
    assert len(await _paying(cafe, order_id)) == 3
    # completing a paid order
    done = await sync(
        cafe,
        "sync_order",
        order_params(
            "620000000000000022",
            "completed",
            updated=5,
            lines=[{"title": "카페라떼 (HOT)", "qty": 2, "unit_price": 5000}],
        ),
    )
    assert (done.result["status"], done.result["previous_status"]) == ("completed", "paid")

    # an order placed by hand that names the vendor's id is found by that id; an order's own
    # id is no vendor's reference, and names no order
    by_hand = await sync_any(cafe, "place_order", lines=[{"product": LATTE}], external_id="N-1")
    by_id = await sync(
        cafe,
        "sync_payment",
        {**payment_params("n-1", by_hand["order_id"], "approved", 5000), "source": "nice"},
    )
    assert by_id.result["order_id"] is None
    cancelled = await sync(
        cafe,
        "sync_payment",
        {**payment_params("n-1", by_hand["order_id"], "cancelled", 5000), "source": "nice"},
    )
    assert (cancelled.result["order_id"], cancelled.result["refunded"]) == (None, False)
    by_ref = await sync(
        cafe,
        "sync_payment",
        {**payment_params("n-2", "N-1", "approved", 5000), "source": "nice"},
    )
    assert by_ref.result["order_id"] == by_hand["order_id"]


async def sync_any(engine: ActionEngine, action: str, **params: Any) -> dict[str, Any]:
    result = await engine.execute(action, params, actor="user:owner", source="service")
    return dict(result.result)


async def test_payment_status_moves_forward_only(cafe: ActionEngine, get) -> None:
    cancelled = payment_params(
        "p-10", None, "cancelled", 4500, cancelled_at=_at(9), approval_no="00000042"
    )
    first = await sync(cafe, "sync_payment", cancelled)
    payment_id = first.result["payment_id"]
    assert [e.type for e in first.events] == ["payment_recorded", "payment_cancelled"]
    assert (await get(cafe, payment_id)).get("cancelled_amount") == 4500
    late = await sync(cafe, "sync_payment", payment_params("p-10", None, "approved", 4500))
    assert late.result == {
        "payment_id": payment_id,
        "created": False,
        "changed": False,
        "status": "cancelled",
        "previous_status": "cancelled",
        "order_id": None,
        "refunded": False,
    }
    # partial cancels: forward as more is cancelled
    await sync(cafe, "sync_payment", payment_params("p-11", None, "approved", 10000))
    part = await sync(
        cafe,
        "sync_payment",
        payment_params("p-11", None, "partial_cancelled", 10000, cancelled_amount=3000),
    )
    assert (part.result["status"], part.result["previous_status"]) == (
        "partial_cancelled",
        "approved",
    )
    more = await sync(
        cafe,
        "sync_payment",
        payment_params("p-11", None, "partial_cancelled", 10000, cancelled_amount=7000),
    )
    assert more.result["changed"] is True
    less = await sync(
        cafe,
        "sync_payment",
        payment_params("p-11", None, "partial_cancelled", 10000, cancelled_amount=3000),
    )
    assert less.result["changed"] is False
    assert (await get(cafe, part.result["payment_id"])).get("cancelled_amount") == 7000
    pending = await sync(cafe, "sync_payment", payment_params("p-12", None, "pending", 100))
    approved = await sync(cafe, "sync_payment", payment_params("p-12", None, "approved", 100))
    assert (approved.result["previous_status"], approved.result["status"]) == (
        "pending",
        "approved",
    )
    assert approved.result["payment_id"] == pending.result["payment_id"]
    # bad card details are refused, naming the field
    with pytest.raises(ValidationError) as info:
        await sync(
            cafe,
            "sync_payment",
            payment_params("p-13", None, "approved", 100, card={"installment_months": "x"}),
        )
    assert info.value.field == "card.installment_months"


async def test_a_cancelled_payment_refunds_a_completed_order(
    cafe: ActionEngine, get, on_hand
) -> None:
    start = await _levels(cafe)
    await sync(cafe, "sync_order", order_params("620000000000000030", "open"))
    await sync(cafe, "sync_payment", payment_params("p-30", "620000000000000030", "approved", 5000))
    done = await sync(
        cafe, "sync_order", order_params("620000000000000030", "completed", updated=3)
    )
    result = await sync(
        cafe, "sync_payment", payment_params("p-30", "620000000000000030", "cancelled", 5000)
    )
    order_id = done.result["order_id"]
    assert result.result["refunded"] is True
    assert result.result["order_id"] == order_id
    assert [e.type for e in result.events] == ["order_refunded", "payment_cancelled"]
    assert result.events[1].data["refunded"] is True
    assert result.events[1].data["amount"] == 5000
    assert (await get(cafe, order_id)).get("status") == "refunded"
    assert await _levels(cafe) == _minus(start, **LATTE_TAKES)  # it was made
    # the POS's own cancel that follows changes nothing
    after = await sync(
        cafe,
        "sync_order",
        order_params("620000000000000030", "cancelled", updated=9, completed_at=_at(3)),
    )
    assert after.result["changed"] is False


async def test_a_cancelled_payment_leaves_an_unfinished_pos_order_to_the_pos(
    cafe: ActionEngine, get
) -> None:
    start = await _levels(cafe)
    await sync(cafe, "sync_order", order_params("620000000000000031", "open"))
    await sync(cafe, "sync_payment", payment_params("p-31", "620000000000000031", "approved", 5000))
    result = await sync(
        cafe, "sync_payment", payment_params("p-31", "620000000000000031", "cancelled", 5000)
    )
    assert result.result["refunded"] is False
    order_id = result.result["order_id"]
    assert (await get(cafe, order_id)).get("status") == "paid"
    # the POS cancels the order it never made: the stock comes back
    cancelled = await sync(
        cafe, "sync_order", order_params("620000000000000031", "cancelled", updated=4)
    )
    assert cancelled.result["status"] == "cancelled"
    assert await _levels(cafe) == start


async def test_refund_rules_for_orders_placed_in_the_store(cafe: ActionEngine, get) -> None:
    nice = {"source": "nice_payments", "method": "card"}

    async def pay(external_id: str, order_ref: str, status: str, **extra: Any) -> dict[str, Any]:
        params = {
            **nice,
            "external_id": external_id,
            "order_ref": order_ref,
            "status": status,
            "amount": 5000,
            **extra,
        }
        return dict((await sync(cafe, "sync_payment", params)).result)

    # an online order (place_order, paid) whose payment is cancelled: refunded
    online = await sync_any(cafe, "place_order", lines=[{"product": LATTE}], external_id="W-1")
    assert (await pay("t-1", "W-1", "approved"))["order_id"] == online["order_id"]
    cancelled = await pay("t-1", "W-1", "cancelled")
    assert cancelled["refunded"] is True
    assert (await get(cafe, online["order_id"])).get("status") == "refunded"
    # refund_order false: the payment is cancelled, the order stays
    kept = await sync_any(cafe, "place_order", lines=[{"product": LATTE}], external_id="W-2")
    await pay("t-2", "W-2", "approved")
    assert (await pay("t-2", "W-2", "cancelled", refund_order=False))["refunded"] is False
    assert (await get(cafe, kept["order_id"])).get("status") == "paid"
    # another approved payment still pays it: no refund
    split = await sync_any(cafe, "place_order", lines=[{"product": LATTE}], external_id="W-3")
    await pay("t-3", "W-3", "approved")
    await pay("t-4", "W-3", "approved")
    assert (await pay("t-3", "W-3", "cancelled"))["refunded"] is False
    assert (await get(cafe, split["order_id"])).get("status") == "paid"
    # a partial cancel refunds nothing
    part = await sync_any(cafe, "place_order", lines=[{"product": LATTE}], external_id="W-4")
    await pay("t-5", "W-4", "approved")
    partial = await pay("t-5", "W-4", "partial_cancelled", cancelled_amount=1000)
    assert partial["refunded"] is False
    assert (await get(cafe, part["order_id"])).get("status") == "paid"


async def test_completing_an_order_whose_payments_were_all_cancelled_refunds_it(
    cafe: ActionEngine, get
) -> None:
    # the refund arrived before the POS said the order was done
    await sync(cafe, "sync_order", order_params("620000000000000032", "open"))
    await sync(
        cafe, "sync_payment", payment_params("p-32", "620000000000000032", "cancelled", 5000)
    )
    done = await sync(
        cafe, "sync_order", order_params("620000000000000032", "completed", updated=3)
    )
    assert done.result["status"] == "refunded"
    assert [e.type for e in done.events] == ["order_completed", "order_refunded"]
    # created completed, with its cancelled payment waiting
    await sync(
        cafe, "sync_payment", payment_params("p-33", "620000000000000033", "cancelled", 5000)
    )
    created = await sync(cafe, "sync_order", order_params("620000000000000033", "completed"))
    assert created.result["status"] == "refunded"
    # unless the connector said the cancel refunds nothing
    await sync(
        cafe,
        "sync_payment",
        payment_params("p-34", "620000000000000034", "cancelled", 5000, refund_order=False),
    )
    kept = await sync(cafe, "sync_order", order_params("620000000000000034", "completed"))
    assert kept.result["status"] == "completed"


# --- duplicates: idempotency keys and engine.replayed -------------------------------------


async def test_replayed_skips_known_versions(cafe: ActionEngine, dump) -> None:
    params = order_params("620000000000000040", "open")
    key = order_key(params)
    assert await cafe.replayed("sync_order", params, key) is None
    first = await sync(cafe, "sync_order", params, key=key)
    before = await dump(cafe)
    known = await cafe.replayed("sync_order", params, key)
    assert known is not None
    assert known.replayed
    assert (known.audit_id, dict(known.result)) == (first.audit_id, dict(first.result))
    assert (known.actor, known.source, known.idempotency_key) == (ACTOR, "pos", key)
    # executing it again answers the same without running it
    again = await sync(cafe, "sync_order", params, key=key)
    assert again.replayed
    assert dict(again.result) == dict(first.result)
    assert await dump(cafe) == before
    # the key of another request is refused, never answered with the first result
    with pytest.raises(ValidationError) as info:
        await cafe.replayed("sync_order", {**params, "total": 1}, key)
    assert info.value.translation_key == "idempotency_conflict"
    with pytest.raises(ValidationError) as info:
        await cafe.replayed("sync_payment", payment_params("p", None, "approved", 1), key)
    assert info.value.translation_key == "idempotency_conflict"
    # parameters are checked as execute checks them
    with pytest.raises(ValidationError) as info:
        await cafe.replayed("sync_order", {**params, "state": "lost"}, "other")
    assert (info.value.translation_key, info.value.field) == ("invalid_choice", "state")
    with pytest.raises(ValidationError) as info:
        await cafe.replayed("teleport", {}, key)
    assert info.value.translation_key == "unknown_action"
    # a payment's key compares what the audit keeps (the card number masked)
    payment = payment_params(
        "640000000000000041",
        "620000000000000040",
        "approved",
        5000,
        card={"number": "5365101234567890"},
    )
    await sync(cafe, "sync_payment", payment, key=payment_key(payment))
    assert await cafe.replayed("sync_payment", payment, payment_key(payment)) is not None
    assert await dump(cafe) != before
    # a closed store answers nothing
    await cafe.close()
    with pytest.raises(StoreUnavailableError):
        await cafe.replayed("sync_order", params, key)


# --- customers ------------------------------------------------------------------------------


async def test_a_customer_is_found_by_the_hash_of_the_phone_number(
    cafe: ActionEngine, get, dump
) -> None:
    first = await sync(
        cafe,
        "sync_order",
        order_params("620000000000000050", "open", customer_phone="010-1234-5678"),
    )
    async with cafe.reader() as ontology:
        customers = await ontology.by_type("Customer")
        placed_by = await ontology.links_from([first.result["order_id"]], "placed_by")
        key = await store_privacy_key(ontology.conn)
    assert len(customers) == 1
    customer = customers[0]
    assert customer.name == "고객 ****5678"
    assert customer.properties == {
        "phone": "010-****-5678",
        "phone_hash": hash_phone("01012345678", key),
    }
    assert [link.target_id for link in placed_by] == [customer.id]
    # the same number written otherwise: the same customer
    second = await sync(
        cafe,
        "sync_order",
        order_params("620000000000000051", "open", customer_phone="+82 10 1234 5678"),
    )
    async with cafe.reader() as ontology:
        assert len(await ontology.by_type("Customer")) == 1
        placed_by = await ontology.links_from([second.result["order_id"]], "placed_by")
    assert [link.target_id for link in placed_by] == [customer.id]
    # a number given on a later copy links the order then; a masked one finds no one
    await sync(cafe, "sync_order", order_params("620000000000000052", "open"))
    later = await sync(
        cafe,
        "sync_order",
        order_params("620000000000000052", "open", updated=1, customer_phone="01099998888"),
    )
    assert later.result["changed"] is True
    masked = await sync(
        cafe,
        "sync_order",
        order_params("620000000000000053", "open", customer_phone="010-****-5678"),
    )
    async with cafe.reader() as ontology:
        assert len(await ontology.by_type("Customer")) == 2
        assert await ontology.links_from([masked.result["order_id"]], "placed_by") == []
    everything = repr(await dump(cafe))
    for whole in ("010-1234-5678", "01012345678", "1234 5678", "01099998888"):
        assert whole not in everything


# --- placeholders ---------------------------------------------------------------------------


async def test_resolve_an_unmapped_product_by_mapping_it(cafe: ActionEngine, act, get) -> None:
    await act(cafe, "update_object", object_id=CROISSANT, properties={"pos_refs": {"other": ["C"]}})
    tart_line = {"title": "Tart", "code": "T1", "unit_price": 6000}
    first = await sync(
        cafe,
        "sync_order",
        order_params(
            "620000000000000060",
            "completed",
            lines=[tart_line, {"title": "버터 크루아상", "unit_price": 3800}],
        ),
    )
    tart = first.result["unmapped"][0]["product_id"]
    second = await sync(
        cafe,
        "sync_order",
        order_params("620000000000000061", "completed", lines=[tart_line, tart_line]),
    )
    # not a placeholder: refused
    with pytest.raises(ValidationError) as info:
        await act(cafe, "resolve_unmapped_product", product=CROISSANT)
    assert info.value.translation_key == "product_not_unmapped"
    assert info.value.placeholders == {"field": "product", "product": "버터 크루아상"}
    with pytest.raises(ValidationError) as info:
        await act(cafe, "resolve_unmapped_product", product=tart, map_to="zone.hall")
    assert (info.value.translation_key, info.value.field) == ("wrong_object_type", "map_to")
    # the owner says the tart is the croissant (a renamed item)
    resolved = await act(cafe, "resolve_unmapped_product", product=tart, map_to=CROISSANT)
    assert resolved.result == {
        "product_id": tart,
        "mapped_to": CROISSANT,
        "pos_refs": {"other": ["C"], SOURCE: ["T1"]},
        "orders": 2,
    }
    assert resolved.deleted == {tart}
    assert await get(cafe, tart) is None
    assert (await get(cafe, CROISSANT)).get("pos_refs") == {"other": ["C"], SOURCE: ["T1"]}
    # the orders contain the croissant now, quantities summed where it was there already
    assert await _contains(cafe, first.result["order_id"]) == {
        CROISSANT: {"qty": 2, "unit_price": 3800}
    }
    assert await _contains(cafe, second.result["order_id"]) == {
        CROISSANT: {"qty": 2, "unit_price": 6000}
    }
    lines = (await get(cafe, second.result["order_id"])).get("lines")
    assert [(line["product"], line["name"]) for line in lines] == [(CROISSANT, "Tart")] * 2
    # the code maps to the croissant from now on
    third = await sync(
        cafe, "sync_order", order_params("620000000000000062", "open", lines=[tart_line])
    )
    assert third.result["unmapped"] == []
    assert (await get(cafe, third.result["order_id"])).get("lines")[0]["product"] == CROISSANT
    # and the croissant, sold, still cannot be deleted
    with pytest.raises(ValidationError) as info:
        await act(cafe, "delete_object", object_id=CROISSANT)
    assert info.value.translation_key == "object_in_use"


async def test_resolve_an_unmapped_product_by_keeping_it(cafe: ActionEngine, act, get) -> None:
    placed = await sync(
        cafe,
        "sync_order",
        order_params("620000000000000063", "open", lines=[{"title": "Gift Wrap", "unit_price": 0}]),
    )
    wrap = placed.result["unmapped"][0]["product_id"]
    kept = await act(cafe, "resolve_unmapped_product", product=wrap)
    assert kept.result == {"product_id": wrap, "mapped_to": None, "pos_refs": {}, "orders": 0}
    assert [e.type for e in kept.events] == ["unmapped_product_resolved"]
    product = await get(cafe, wrap)
    assert product.get("unmapped") is False
    assert product.get("pos_refs") == {SOURCE: ["Gift Wrap"]}
    with pytest.raises(ValidationError) as info:
        await act(cafe, "resolve_unmapped_product", product=wrap)
    assert info.value.translation_key == "product_not_unmapped"
    # the owner cannot mark a product unmapped by hand
    with pytest.raises(ValidationError) as info:
        await act(cafe, "update_object", object_id=wrap, properties={"unmapped": True})
    assert info.value.translation_key == "managed_property"
    # a kept product is a product like any other: found again by its title
    again = await sync(
        cafe,
        "sync_order",
        order_params("620000000000000064", "open", lines=[{"title": "gift wrap", "unit_price": 0}]),
    )
    assert again.result["unmapped"] == []


# --- any order of delivery, any duplicates: the same store -----------------------------------

# POS items: three on the menu (two by name, one by code) and two nobody mapped
ITEMS = (
    {"title": "카페라떼 (HOT)", "unit_price": 5000},
    {"title": "ICE AMERICANO", "code": "A002", "unit_price": 4500},
    {"title": "버터 크루아상", "unit_price": 3800},
    {"title": "시즌 타르트", "code": "T01", "unit_price": 6000},
    {"title": "포장 봉투", "unit_price": 100},
)
# How an order's life goes at the POS, as the versions it sends (in the vendor's order):
# o = the order (open, open with more lines, completed, cancelled; "cancelled after" carries
# completed_at), p = its one payment (approved, cancelled).
LIVES = {
    "sold": ("o:open", "p:approved", "o:completed"),
    "walked_out": ("o:open", "o:cancelled"),
    "refunded_after": ("o:open", "p:approved", "o:completed", "p:cancelled", "o:cancelled_after"),
    "cancelled_paid": ("o:open", "p:approved", "p:cancelled", "o:cancelled"),
    "kiosk": ("o:completed", "p:approved"),
    "table": ("o:open", "o:more", "p:approved", "o:completed"),
    "table_still_open": ("o:open", "o:more", "p:approved"),
    "payment_refund": ("o:open", "p:approved", "o:completed", "p:cancelled"),
}


def _versions(
    index: int, life: str, lines: list[dict[str, Any]], extra: dict[str, Any]
) -> list[tuple[str, dict[str, Any], str]]:
    """(action, params, idempotency key) of every version one order's life sends; a table
    adds ``extra`` to its lines, and every later version carries them."""
    order_id = f"6200000000000001{index:02d}"
    steps = LIVES[life]
    final = [*lines, dict(extra)] if "o:more" in steps else lines
    current = lines
    versions = []
    for minute, step in enumerate(steps):
        kind, state = step.split(":")
        if kind == "p":
            params = payment_params(
                f"6400000000000001{index:02d}",
                order_id,
                state,
                sum(line["unit_price"] for line in final),
                approval_no=f"{index:08d}",
            )
            versions.append(("sync_payment", params, payment_key(params)))
            continue
        if state == "more":
            current = final
        pos_state = {"more": "open", "cancelled_after": "cancelled"}.get(state, state)
        params = order_params(order_id, pos_state, updated=minute, lines=current)
        if state == "cancelled_after":
            params["completed_at"] = _at(minute - 1)
        versions.append(("sync_order", params, order_key(params)))
    return versions


async def _projection(engine: ActionEngine) -> dict[str, Any]:
    """What must be the same whatever order the versions came in."""
    async with engine.reader() as ontology:
        orders = await ontology.by_type("Order")
        payments = await ontology.by_type("Payment")
        products = await ontology.by_type("Product")
        items = await ontology.by_type("InventoryItem")
        paying = {
            link.source_id: link.target_id
            for link in await ontology.links_to([o.id for o in orders], "pays")
        }
        contains = await ontology.links_from([o.id for o in orders], "contains")
        names = {p.id: p.name for p in products}
        refs = await ontology.conn.execute(
            select(external_refs_table.c.kind, external_refs_table.c.external_id)
        )
        external = Counter(kind for kind, _ in refs)
    by_id = {o.id: o.get("external_id") for o in orders}
    return {
        "orders": {
            o.get("external_id"): (
                o.get("status"),
                o.get("total"),
                o.name,
                [
                    (names[line["product"]], line["qty"], line["unit_price"])
                    for line in o.get("lines")
                ],
                sorted(
                    (names[link.target_id], link.properties["qty"])
                    for link in contains
                    if link.source_id == o.id
                ),
            )
            for o in orders
        },
        "payments": {
            p.get("external_id"): (
                p.get("status"),
                p.get("amount"),
                p.get("cancelled_amount"),
                by_id.get(paying.get(p.id, "")),
            )
            for p in payments
        },
        "products": {
            p.name: (p.get("unmapped"), p.get("available"), p.get("pos_refs")) for p in products
        },
        "stock": {item.id: item.get("on_hand") for item in items},
        "revenue": sum(o.get("total") for o in orders if o.get("status") in SALE_STATUSES),
        "counts": (len(orders), len(payments), len(products), dict(external)),
    }


async def _deliver(
    engine: ActionEngine, deliveries: list[tuple[str, dict[str, Any], str]], checks: list[bool]
) -> None:
    for (action, params, key), check_first in zip(deliveries, checks, strict=True):
        if check_first and await engine.replayed(action, params, key) is not None:
            continue  # a known version: skipped, as the backfill does
        await sync(engine, action, params, key=key)


_LIFE_NAMES = sorted(LIVES)


@st.composite
def _scenario(draw: st.DrawFn) -> tuple[list[Any], list[int], list[bool]]:
    count = draw(st.integers(min_value=1, max_value=3))
    versions: list[tuple[str, dict[str, Any], str]] = []
    for index in range(count):
        life = draw(st.sampled_from(_LIFE_NAMES))
        picked = draw(st.lists(st.sampled_from(range(len(ITEMS))), min_size=1, max_size=2))
        extra = draw(st.sampled_from(ITEMS))
        versions += _versions(index, life, [dict(ITEMS[i]) for i in picked], extra)
    order = draw(st.permutations(range(len(versions))))
    repeats = draw(st.lists(st.sampled_from(range(len(versions))), max_size=len(versions)))
    sequence = list(order)
    for repeat in repeats:
        sequence.insert(draw(st.integers(0, len(sequence))), repeat)
    checks = draw(st.lists(st.booleans(), min_size=len(sequence), max_size=len(sequence)))
    return versions, sequence, checks


@pytest.fixture
async def fresh_cafes(database, cafe_url: str):
    """Make more copies of the untouched demo cafe (the copy behind ``cafe_url`` is their
    template and is never opened)."""
    template = make_url(cafe_url).database
    opened: list[ActionEngine] = []

    async def _fresh() -> ActionEngine:
        engine = await ActionEngine.open(database.new_url(template), timezone="Asia/Seoul")
        opened.append(engine)
        await engine.execute(
            "update_object",
            {"object_id": ICED, "properties": {"pos_refs": {SOURCE: ["A002"]}}},
            actor="tester",
            source="service",
        )
        return engine

    yield _fresh
    for engine in opened:
        await engine.close()


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=_scenario())
async def test_any_order_with_duplicates_ends_like_the_vendors_order(
    fresh_cafes: Any, scenario: tuple[list[Any], list[int], list[bool]]
) -> None:
    versions, sequence, checks = scenario
    in_order = await fresh_cafes()
    await _deliver(in_order, versions, [False] * len(versions))
    expected = await _projection(in_order)
    await in_order.close()

    shuffled = await fresh_cafes()
    await _deliver(shuffled, [versions[i] for i in sequence], checks)
    assert await _projection(shuffled) == expected
    # exactly one object per vendor id; each version recorded once in the audit
    orders = {params["external_id"] for action, params, _ in versions if action == "sync_order"}
    payments = {params["external_id"] for action, params, _ in versions if action == "sync_payment"}
    assert expected["counts"][0] == len(orders)
    assert expected["counts"][1] == len(payments)
    assert expected["counts"][3] == {
        **({"order": len(orders)} if orders else {}),
        **({"payment": len(payments)} if payments else {}),
    }
    async with shuffled.engine.connect() as conn:
        keys = [
            row.idempotency_key
            for row in await conn.execute(
                select(audit_table.c.idempotency_key).where(
                    audit_table.c.action.in_(["sync_order", "sync_payment"])
                )
            )
        ]
    assert sorted(keys) == sorted({key for _, _, key in versions})
    await shuffled.close()
