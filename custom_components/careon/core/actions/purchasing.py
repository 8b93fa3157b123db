"""Purchasing: reorders from stock levels, purchase orders approved, cancelled and received.

A purchase order's lines are ``{item, name, unit, qty, received, unit_cost}``; deliveries may
come in parts, each adding to ``received``. An item is *on order* while an open purchase order
still waits for some of it, and an item on order is never ordered a second time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
import math
from typing import Any

from sqlalchemy import or_, select

from ..engine import ActionContext, ActionType
from ..errors import ValidationError
from ..fields import Field, normalise_number, to_iso, validate_fields
from ..ontology import Link, Ontology, StoreObject, new_object_id
from ..queries import PURCHASE_ORDER_OPEN
from ..tables import objects_table
from .common import OBJECT_ID
from .stock import ITEM, is_low, set_stock

PURCHASE_ORDER = "PurchaseOrder"
SUPPLIER = "Supplier"
SUPPLIED_BY = "supplied_by"
FOR = "for"
APPROVABLE = ("draft", "requested")
ORIGIN_AUTO = "auto_reorder"
ORIGIN_MANUAL = "manual"

ORDER_LINE = {
    "item": OBJECT_ID,
    "qty": Field(kind="number", required=True, min=0.000001),
    "unit_cost": Field(kind="money", min=0),
}
ORDER_LINES = Field(kind="records", fields=ORDER_LINE)


def _remaining(line: Mapping[str, Any]) -> float:
    """What a line still waits for (never negative: a supplier may send more)."""
    return max(float(line.get("qty") or 0) - float(line.get("received") or 0), 0.0)


def on_order(purchase_orders: Iterable[StoreObject]) -> dict[str, float]:
    """What open purchase orders still wait for, by item id."""
    waiting: dict[str, float] = {}
    for purchase_order in purchase_orders:
        if purchase_order.get("status", "draft") not in PURCHASE_ORDER_OPEN:
            continue
        for line in purchase_order.get("lines", []):
            remaining = _remaining(line)
            if line.get("item") and remaining > 0:
                waiting[line["item"]] = waiting.get(line["item"], 0) + remaining
    return {item_id: normalise_number(qty) for item_id, qty in waiting.items()}


def reorder_qty(item: StoreObject) -> float | None:
    """Par level - on hand, rounded up to whole packs; None without a par level."""
    par_level = item.get("par_level")
    if par_level is None:
        return None
    need = normalise_number(par_level - item.get("on_hand", 0))
    if need <= 0:
        return 0
    pack_size = item.get("pack_size")
    if not pack_size:
        return need
    # rounded before the ceiling, so 0.3 / 0.1 (2.9999999999999996) is 3 packs, not 4
    packs = math.ceil(normalise_number(need / pack_size))
    return normalise_number(packs * pack_size)


def _lead_time(supplier: StoreObject) -> float:
    lead_time = supplier.get("lead_time_days")
    return math.inf if lead_time is None else float(lead_time)


def _qty_text(qty: float) -> str:
    """A quantity as people write it: 24000, 0.5 (never 2.4e+04)."""
    return f"{qty:.6f}".rstrip("0").rstrip(".") if isinstance(qty, float) else str(qty)


def order_message(purchase_order: StoreObject) -> str:
    """A plain-text order to send the supplier: the order's name and a line per item."""
    rows = [purchase_order.name]
    rows += [
        f"- {line.get('name', line.get('item'))} {_qty_text(line.get('qty', 0))} "
        f"{line.get('unit', '')}".rstrip()
        for line in purchase_order.get("lines", [])
    ]
    if purchase_order.get("note"):
        rows.append(purchase_order.get("note"))
    return "\n".join(rows)


def _lines_summary(lines: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [dict(line) for line in lines]


def _total_cost(lines: Iterable[Mapping[str, Any]]) -> int:
    """What the lines cost (integer KRW); a line without a unit cost counts as nothing."""
    return round(sum(float(line["qty"]) * (line.get("unit_cost") or 0) for line in lines))


def _unpriced(lines: Iterable[Mapping[str, Any]]) -> list[str]:
    """The items of the lines without a unit cost (the total leaves them out)."""
    return list(dict.fromkeys(line["item"] for line in lines if line.get("unit_cost") is None))


async def _unique_names(ontology: Ontology, bases: Sequence[str]) -> list[str]:
    """A name for each new purchase order no other one has: the base ("<supplier> <day>"),
    else the base with " #2", " #3"..."""
    if not bases:
        return []
    rows = await ontology.conn.execute(
        select(objects_table.c.name).where(
            objects_table.c.type == PURCHASE_ORDER,
            or_(*(objects_table.c.name.startswith(b, autoescape=True) for b in set(bases))),
        )
    )
    taken = {row.name for row in rows}
    names = []
    for base in bases:
        name, number = base, 1
        while name in taken:
            number += 1
            name = f"{base} #{number}"
        taken.add(name)
        names.append(name)
    return names


@dataclass(frozen=True, kw_only=True, slots=True)
class _NewOrder:
    """One purchase order to create: its supplier and lines."""

    supplier: StoreObject
    lines: list[dict[str, Any]]
    expected_at: str | None = None
    note: str | None = None


def _line(item: StoreObject, qty: float, unit_cost: int | None) -> dict[str, Any]:
    line: dict[str, Any] = {
        "item": item.id,
        "name": item.name,
        "unit": item.get("unit"),
        "qty": normalise_number(qty),
        "received": 0,
    }
    if unit_cost is not None:
        line["unit_cost"] = unit_cost
    return line


def _expected_at(
    ctx: ActionContext, supplier: StoreObject, items: Iterable[StoreObject]
) -> str | None:
    """Now + the supplier's lead time (else the longest of the items'); None without any."""
    lead_time = supplier.get("lead_time_days")
    if lead_time is None:
        lead_time = max(
            (i.get("lead_time_days") for i in items if i.get("lead_time_days")), default=None
        )
    return None if lead_time is None else to_iso(ctx.now + timedelta(days=lead_time))


async def _create_orders(
    ctx: ActionContext, orders: Sequence[_NewOrder], *, origin: str, approve: bool
) -> list[dict[str, Any]]:
    """Create purchase orders (one per entry), link them to their suppliers, announce them."""
    ontology = ctx.ontology
    object_type = ctx.schema.object_type(PURCHASE_ORDER)
    day = ctx.now.astimezone(ctx.timezone).date().isoformat()
    status = "ordered" if approve else "draft"
    created: list[dict[str, Any]] = []
    links: list[Link] = []
    approved: list[tuple[StoreObject, StoreObject]] = []
    names = await _unique_names(ontology, [f"{order.supplier.name} {day}" for order in orders])
    for order, name in zip(orders, names, strict=True):
        supplier = order.supplier
        total = _total_cost(order.lines)
        properties: dict[str, Any] = {
            "status": status,
            "lines": order.lines,
            "total_cost": total,
            "origin": origin,
            "expected_at": order.expected_at,
            "note": order.note,
        }
        if approve:
            properties |= {"approved_at": to_iso(ctx.now), "approved_by": ctx.actor}
        properties = validate_fields(
            object_type.properties, {k: v for k, v in properties.items() if v is not None}
        )
        object_id = new_object_id(PURCHASE_ORDER)
        purchase_order = await ontology.create(
            PURCHASE_ORDER, name, properties, object_id=object_id
        )
        links.append(Link(source_id=object_id, link_type=FOR, target_id=supplier.id, properties={}))
        if approve:
            approved.append((purchase_order, supplier))
        summary = {
            "purchase_order_id": object_id,
            "name": purchase_order.name,
            "supplier_id": supplier.id,
            "supplier": supplier.name,
            "status": status,
            "lines": _lines_summary(order.lines),
            "total_cost": total,
            "expected_at": properties.get("expected_at"),
        }
        created.append(summary)
        ctx.emit(
            "purchase_order_created",
            purchase_order_id=object_id,
            name=purchase_order.name,
            supplier_id=supplier.id,
            supplier=supplier.name,
            status=status,
            lines=summary["lines"],
            total_cost=total,
            origin=origin,
            order_method=supplier.get("order_method"),
        )
    await ontology.add_links(links)
    for purchase_order, supplier in approved:
        _emit_approved(ctx, purchase_order, supplier)
    return created


def _emit_approved(
    ctx: ActionContext, purchase_order: StoreObject, supplier: StoreObject | None
) -> None:
    ctx.emit(
        "purchase_order_approved",
        purchase_order_id=purchase_order.id,
        name=purchase_order.name,
        supplier_id=supplier.id if supplier else None,
        supplier=supplier.name if supplier else None,
        order_method=supplier.get("order_method") if supplier else None,
        lines=_lines_summary(purchase_order.get("lines", [])),
        total_cost=purchase_order.get("total_cost"),
        message=order_message(purchase_order),
    )


async def _open_purchase_orders(ontology: Ontology) -> list[StoreObject]:
    return [
        po
        for po in await ontology.by_type(PURCHASE_ORDER)
        if po.get("status", "draft") in PURCHASE_ORDER_OPEN
    ]


async def auto_reorder(ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
    """Order every low item up to its par level: one purchase order per supplier.

    Items already on order, without a par level, at par or without a supplier are reported
    in ``skipped``, never dropped silently.
    """
    ontology = ctx.ontology
    if params.get("items"):
        for index, item_id in enumerate(params["items"]):
            if not isinstance(item_id, str) or not item_id:
                raise ValidationError("invalid_type", field=f"items[{index}]", expected="text")
        wanted = list(dict.fromkeys(params["items"]))
        found = await ontology.get_many(wanted)
        candidates = [
            ontology.check_type(f"items[{index}]", item_id, found.get(item_id), ITEM)
            for index, item_id in enumerate(wanted)
        ]
    else:
        candidates = [item for item in await ontology.by_type(ITEM) if is_low(item)]
    waiting = on_order(await _open_purchase_orders(ontology))
    skipped: list[dict[str, Any]] = []
    to_order: list[tuple[StoreObject, float]] = []
    for item in candidates:
        if waiting.get(item.id, 0) > 0:
            skipped.append(
                {
                    "item_id": item.id,
                    "name": item.name,
                    "reason": "on_order",
                    "on_order": waiting[item.id],
                }
            )
            continue
        qty = reorder_qty(item)
        if qty is None or qty <= 0:
            reason = "no_par_level" if qty is None else "at_par"
            skipped.append({"item_id": item.id, "name": item.name, "reason": reason})
            continue
        to_order.append((item, qty))

    # the supplier with the shortest lead time (then by name) of each item
    # (links, then the few suppliers: cheaper than a join that repeats each supplier per item)
    links = await ontology.links_from([item.id for item, _ in to_order], SUPPLIED_BY)
    suppliers = await ontology.get_many({link.target_id for link in links})
    best: dict[str, StoreObject] = {}
    for link in links:
        if (candidate := suppliers.get(link.target_id)) is None:
            continue
        current = best.get(link.source_id)
        key = (_lead_time(candidate), candidate.name, candidate.id)
        if current is None or key < (_lead_time(current), current.name, current.id):
            best[link.source_id] = candidate
    by_supplier: dict[str, tuple[StoreObject, list[StoreObject], list[dict[str, Any]]]] = {}
    needs_supplier = []
    for item, qty in to_order:
        supplier = best.get(item.id)
        if supplier is None:
            skipped.append({"item_id": item.id, "name": item.name, "reason": "no_supplier"})
            needs_supplier.append({"item_id": item.id, "name": item.name})
            continue
        entry = by_supplier.setdefault(supplier.id, (supplier, [], []))
        entry[1].append(item)
        entry[2].append(_line(item, qty, item.get("unit_cost")))
    orders = [
        _NewOrder(supplier=supplier, lines=lines, expected_at=_expected_at(ctx, supplier, items))
        for supplier, items, lines in sorted(
            by_supplier.values(), key=lambda entry: (entry[0].name, entry[0].id)
        )
    ]
    created = await _create_orders(
        ctx, orders, origin=ORIGIN_AUTO, approve=bool(params.get("approve"))
    )
    if needs_supplier:
        ctx.emit("reorder_needs_supplier", items=needs_supplier)
    return {"purchase_orders": created, "skipped": skipped}


async def create_purchase_order(ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
    """Order items from a supplier by hand (the same order as auto_reorder makes)."""
    ontology = ctx.ontology
    lines = params["lines"]
    found = await ontology.get_many([params["supplier"], *(line["item"] for line in lines)])
    supplier = ontology.check_type(
        "supplier", params["supplier"], found.get(params["supplier"]), SUPPLIER
    )
    merged: dict[str, dict[str, Any]] = {}
    items: list[StoreObject] = []
    for index, line in enumerate(lines):
        item = ontology.check_type(
            f"lines[{index}].item", line["item"], found.get(line["item"]), ITEM
        )
        unit_cost = line.get("unit_cost", item.get("unit_cost"))
        if item.id in merged:
            # the same item twice is one line
            merged[item.id]["qty"] = normalise_number(merged[item.id]["qty"] + line["qty"])
            if line.get("unit_cost") is not None:
                merged[item.id]["unit_cost"] = line["unit_cost"]
            continue
        merged[item.id] = _line(item, line["qty"], unit_cost)
        items.append(item)
    # never a second open order for an item (what auto_reorder promises, by hand too)
    waiting = await _open_purchase_orders(ontology)
    for index, line in enumerate(lines):
        holder = next(
            (
                po
                for po in waiting
                if any(
                    open_line.get("item") == line["item"] and _remaining(open_line) > 0
                    for open_line in po.get("lines", [])
                )
            ),
            None,
        )
        if holder is not None:
            raise ValidationError(
                "item_on_order",
                field=f"lines[{index}].item",
                item=found[line["item"]].name,
                purchase_order=holder.name,
            )
    expected_at = params.get("expected_at") or _expected_at(ctx, supplier, items)
    order = _NewOrder(
        supplier=supplier,
        lines=list(merged.values()),
        expected_at=expected_at,
        note=params.get("note"),
    )
    (created,) = await _create_orders(
        ctx, [order], origin=ORIGIN_MANUAL, approve=bool(params.get("approve"))
    )
    return created


async def _require_purchase_order(
    ctx: ActionContext, object_id: str, allowed: tuple[str, ...]
) -> tuple[StoreObject, str]:
    purchase_order = await ctx.ontology.require("purchase_order", object_id, PURCHASE_ORDER)
    status = purchase_order.get("status", "draft")
    if status not in allowed:
        raise ValidationError(
            "purchase_order_status_invalid",
            field="purchase_order",
            purchase_order=purchase_order.name,
            status=status,
            allowed=", ".join(allowed),
        )
    return purchase_order, status


async def _supplier_of(ctx: ActionContext, purchase_order: StoreObject) -> StoreObject | None:
    linked = await ctx.ontology.linked([purchase_order.id], FOR)
    return linked[0][1] if linked else None


async def approve_purchase_order(ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
    """Approve a draft (or requested) purchase order: it is now ordered from the supplier."""
    purchase_order, previous = await _require_purchase_order(
        ctx, params["purchase_order"], APPROVABLE
    )
    updated = await ctx.ontology.update(
        purchase_order,
        {
            **purchase_order.properties,
            "status": "ordered",
            "approved_at": to_iso(ctx.now),
            "approved_by": ctx.actor,
        },
    )
    supplier = await _supplier_of(ctx, updated)
    _emit_approved(ctx, updated, supplier)
    return {
        "purchase_order_id": updated.id,
        "name": updated.name,
        "status": "ordered",
        "previous_status": previous,
        "supplier_id": supplier.id if supplier else None,
        "message": order_message(updated),
    }


async def cancel_purchase_order(ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
    """Cancel an open purchase order; what it still waited for is no longer on order."""
    purchase_order, previous = await _require_purchase_order(
        ctx, params["purchase_order"], PURCHASE_ORDER_OPEN
    )
    properties = {
        **purchase_order.properties,
        "status": "cancelled",
        "cancelled_at": to_iso(ctx.now),
    }
    updated = await ctx.ontology.update(purchase_order, properties)
    supplier = await _supplier_of(ctx, updated)
    ctx.emit(
        "purchase_order_cancelled",
        purchase_order_id=updated.id,
        name=updated.name,
        supplier_id=supplier.id if supplier else None,
        supplier=supplier.name if supplier else None,
        previous_status=previous,
        reason=ctx.reason,
    )
    return {"purchase_order_id": updated.id, "status": "cancelled", "previous_status": previous}


async def receive_against(
    ctx: ActionContext, purchase_order_id: str, lines: Sequence[Mapping[str, Any]] | None
) -> dict[str, Any]:
    """Receive a delivery against a purchase order (by default all it still waits for).

    Stock goes up by what arrived; each line's ``received`` adds up; the order is received
    once every line is, else partially received. A ``unit_cost`` given with the delivery is
    the item's cost from now on and the cost of the order's lines it filled (the order's
    total follows); ``unpriced`` names the items whose lines still have no cost, which the
    total leaves out. Shared by receive_purchase_order and receive_stock.
    """
    ontology = ctx.ontology
    purchase_order, _previous = await _require_purchase_order(
        ctx, purchase_order_id, PURCHASE_ORDER_OPEN
    )
    po_lines = [dict(line) for line in purchase_order.get("lines", []) if line.get("item")]
    if lines is None:
        delivery = [
            {"item": line["item"], "qty": _remaining(line)}
            for line in po_lines
            if _remaining(line) > 0
        ]
        prefix = "purchase_order.lines"
    else:
        delivery = [dict(line) for line in lines]
        prefix = "lines"
    if not delivery:
        raise ValidationError("missing_field", field="lines")
    ordered = {line["item"] for line in po_lines}
    items = await ontology.get_many({*ordered, *(line["item"] for line in delivery)})
    arrived: dict[str, float] = {}
    extra: dict[str, dict[str, Any]] = {}
    for index, line in enumerate(delivery):
        field = f"{prefix}[{index}].item"
        item = ontology.check_type(field, line["item"], items.get(line["item"]), ITEM)
        if item.id not in ordered:
            raise ValidationError(
                "item_not_on_purchase_order",
                field=field,
                item=item.name,
                purchase_order=purchase_order.name,
            )
        arrived[item.id] = normalise_number(arrived.get(item.id, 0) + line["qty"])
        if line.get("unit_cost") is not None:
            extra[item.id] = {"unit_cost": line["unit_cost"]}
    levels = {item_id: items[item_id].get("on_hand", 0) + qty for item_id, qty in arrived.items()}
    written = await set_stock(ctx, items, levels, extra=extra)

    # an item ordered on two lines fills the first one first; more than was ordered goes on
    # its last line; a unit cost given with the delivery is the cost of the lines it filled
    for item_id, qty in arrived.items():
        item_lines = [line for line in po_lines if line["item"] == item_id]
        cost = extra.get(item_id, {}).get("unit_cost")
        left = qty
        for line in item_lines:
            take = min(left, _remaining(line))
            line["received"] = normalise_number(float(line.get("received") or 0) + take)
            if take > 0 and cost is not None:
                line["unit_cost"] = cost
            left -= take
        if normalise_number(left) > 0:
            item_lines[-1]["received"] = normalise_number(item_lines[-1]["received"] + left)
            if cost is not None:
                item_lines[-1]["unit_cost"] = cost
    complete = all(_remaining(line) <= 0 for line in po_lines)
    status = "received" if complete else "partially_received"
    unpriced = _unpriced(po_lines)
    await ontology.update(
        purchase_order,
        {
            **purchase_order.properties,
            "lines": po_lines,
            "total_cost": _total_cost(po_lines),
            "status": status,
            "received_at": to_iso(ctx.now),
        },
    )
    summary = [
        {
            "item_id": item_id,
            "name": written[item_id].name,
            "received": qty,
            "on_hand": written[item_id].get("on_hand"),
        }
        for item_id, qty in arrived.items()
    ]
    outstanding = [
        {
            "item_id": line["item"],
            "name": line.get("name"),
            "qty": normalise_number(_remaining(line)),
        }
        for line in po_lines
        if _remaining(line) > 0
    ]
    ctx.emit("stock_received", items=summary, purchase_order_id=purchase_order.id)
    ctx.emit(
        "purchase_order_received",
        purchase_order_id=purchase_order.id,
        name=purchase_order.name,
        status=status,
        complete=complete,
        lines=_lines_summary(po_lines),
        unpriced=unpriced,
    )
    return {
        "purchase_order_id": purchase_order.id,
        "status": status,
        "items": summary,
        "outstanding": outstanding,
        "unpriced": unpriced,
    }


async def receive_purchase_order(ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
    """Receive a delivery against a purchase order; partial deliveries are fine."""
    return await receive_against(ctx, params["purchase_order"], params.get("lines"))


PURCHASING_ACTIONS = (
    ActionType(
        name="auto_reorder",
        params={
            "items": Field(kind="list"),
            "approve": Field(kind="boolean", default=False),
        },
        apply=auto_reorder,
    ),
    ActionType(
        name="create_purchase_order",
        params={
            "supplier": OBJECT_ID,
            "lines": Field(kind="records", required=True, fields=ORDER_LINE, min_items=1),
            "expected_at": Field(kind="datetime"),
            "note": Field(kind="string"),
            "approve": Field(kind="boolean", default=False),
        },
        apply=create_purchase_order,
    ),
    ActionType(
        name="approve_purchase_order",
        params={"purchase_order": OBJECT_ID},
        apply=approve_purchase_order,
    ),
    ActionType(
        name="cancel_purchase_order",
        params={"purchase_order": OBJECT_ID},
        apply=cancel_purchase_order,
    ),
    ActionType(
        name="receive_purchase_order",
        params={"purchase_order": OBJECT_ID, "lines": ORDER_LINES},
        apply=receive_purchase_order,
    ),
)
