"""Orders: place, cancel and refund — with stock deducted by recipe and restored by policy."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..engine import ActionContext, ActionType
from ..errors import ValidationError
from ..fields import MAX_MAGNITUDE, Field, normalise_number, to_iso
from ..ontology import Link, Ontology, StoreObject, new_object_id
from .common import OBJECT_ID, OPTIONAL_OBJECT_ID
from .stock import ITEM, PRODUCT, REQUIRES, set_stock

ORDER = "Order"
CHANNELS = ("here", "togo", "delivery", "pickup")

LINE = {
    "product": OBJECT_ID,
    "qty": Field(kind="integer", default=1, min=1),
    "unit_price": Field(kind="money", min=0),
    "options": Field(kind="list"),
}

# optional properties an order keeps when they are given
ORDER_EXTRA = (
    "external_id",
    "note",
    "completed_at",
    "discount",
    "tax",
    "supply",
    "tip",
    "vendor_updated_at",
    "restocked",
    "closed_at",
)

# optional links of an order: parameter -> (link type, target type)
ORDER_REFS = {
    "zone": ("served_at", "Zone"),
    "staff": ("handled_by", "Staff"),
    "customer": ("placed_by", "Customer"),
}


@dataclass(frozen=True, kw_only=True, slots=True)
class Consumption:
    """What some order lines take from stock, by recipe.

    ``products`` are the lines' products, ``items`` every inventory item their recipes need,
    ``consumed`` how much of each item the lines take (rounded like stored levels), ``first_line``
    the first line that needs each item, and ``max_need`` the most any product needs of each
    item (for ``set_stock``).
    """

    products: dict[str, StoreObject]
    items: dict[str, StoreObject]
    consumed: dict[str, float]
    first_line: dict[str, int]
    max_need: dict[str, float]


async def plan_consumption(ontology: Ontology, lines: list[dict[str, Any]]) -> Consumption:
    """Read the lines' products and recipes (one query); fail naming a line whose product is
    missing or not a product."""
    found, recipe = await ontology.products_with_recipes(
        {line["product"] for line in lines}, REQUIRES
    )
    for index, line in enumerate(lines):
        ontology.check_type(
            f"lines[{index}].product", line["product"], found.get(line["product"]), PRODUCT
        )
    per_product: dict[str, list[tuple[str, float]]] = defaultdict(list)
    items = {}
    max_need = {}
    for link, item, most in recipe:
        per_product[link.source_id].append((item.id, link.properties.get("qty", 0)))
        items[item.id] = item
        max_need[item.id] = most
    consumed: dict[str, float] = defaultdict(float)
    first_line: dict[str, int] = {}
    for index, line in enumerate(lines):
        for item_id, qty in per_product[line["product"]]:
            # rounded like stored levels, so 3 x 2.2 ml equals the 6.6 ml on hand
            consumed[item_id] = normalise_number(consumed[item_id] + qty * line["qty"])
            first_line.setdefault(item_id, index)
    return Consumption(
        products=found,
        items=items,
        consumed=dict(consumed),
        first_line=first_line,
        max_need=max_need,
    )


def order_lines(
    lines: list[dict[str, Any]], products: Mapping[str, StoreObject]
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """The lines as an order stores them, and its ``contains`` links (product -> qty and the
    first line's unit price)."""
    stored = []
    contains: dict[str, dict[str, Any]] = {}
    for line in lines:
        product = products[line["product"]]
        unit_price = line.get("unit_price", product.get("price", 0))
        stored.append(
            {
                "product": product.id,
                "name": product.name,
                "qty": line["qty"],
                "unit_price": unit_price,
                "options": line.get("options", []),
            }
        )
        contained = contains.setdefault(product.id, {"qty": 0, "unit_price": unit_price})
        contained["qty"] += line["qty"]
    return stored, contains


def shortfall_of(
    items: Mapping[str, StoreObject], needed: Mapping[str, float]
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """New stock levels after taking ``needed`` (item -> amount) from ``items``, and the items
    it leaves below zero."""
    levels = {}
    shortfall = []
    for item_id, amount in needed.items():
        item = items[item_id]
        on_hand = item.get("on_hand", 0)
        levels[item_id] = normalise_number(on_hand - amount)
        if levels[item_id] < 0:
            shortfall.append(
                {
                    "item_id": item_id,
                    "name": item.name,
                    "needed": normalise_number(amount),
                    "on_hand": on_hand,
                    "missing": normalise_number(amount - on_hand),
                }
            )
    return levels, shortfall


async def record_order(
    ctx: ActionContext, params: dict[str, Any], *, consume: bool, fact: bool | None = None
) -> dict[str, Any]:
    """Record an order of existing products, as ``place_order`` and ``sync_order`` do.

    ``params``: ``lines`` ({product, qty, unit_price?, options?}), ``status``, ``channel``,
    optional ``number``, ``total`` (else the sum of the lines), ``placed_at``, the optional
    properties of ``ORDER_EXTRA`` and the references of ``ORDER_REFS``. With ``consume`` the
    recipes are deducted from stock (a shortfall flagged); without, nothing is taken (an order
    first seen already cancelled). An order that is not a fact (``fact``, by default
    ``ctx.is_fact``) must be for available products with enough stock.
    """
    ontology = ctx.ontology
    lines = params["lines"]
    plan = await plan_consumption(ontology, lines)
    found = plan.products
    refs = {name: params[name] for name in ORDER_REFS if params.get(name)}
    if refs:
        referenced = await ontology.get_many(refs.values())
        for name, object_id in refs.items():
            ontology.check_type(name, object_id, referenced.get(object_id), ORDER_REFS[name][1])
    consumed = plan.consumed if consume else {}

    if not (ctx.is_fact if fact is None else fact):
        for index, line in enumerate(lines):
            product = found[line["product"]]
            if not product.get("available", True):
                raise ValidationError(
                    "product_unavailable", field=f"lines[{index}].product", product=product.name
                )
        for item_id, needed in consumed.items():
            on_hand = plan.items[item_id].get("on_hand", 0)
            if on_hand < needed:
                raise ValidationError(
                    "insufficient_stock",
                    field=f"lines[{plan.first_line[item_id]}].qty",
                    item=plan.items[item_id].name,
                    needed=f"{normalise_number(needed):g}",
                    on_hand=f"{on_hand:g}",
                )

    stored_lines, contains = order_lines(lines, found)
    total = params.get("total")
    if total is None:
        total = sum(line["qty"] * line["unit_price"] for line in stored_lines)
        if total > MAX_MAGNITUDE:  # each line within bounds, the sum not
            raise ValidationError(
                "out_of_range", field="lines", value=total, limit=f"<= {MAX_MAGNITUDE:g}"
            )
    levels, shortfall = shortfall_of(plan.items, consumed)

    order_id = new_object_id(ORDER)
    number = params.get("number") or order_id.rsplit(".", 1)[1][:6].upper()
    properties: dict[str, Any] = {
        "number": number,
        "status": params["status"],
        "channel": params["channel"],
        "total": total,
        "source": ctx.source,
        "placed_at": params.get("placed_at") or to_iso(ctx.now),
        "lines": stored_lines,
        "consumed": {k: normalise_number(v) for k, v in consumed.items()},
    }
    for key in ORDER_EXTRA:
        if params.get(key) is not None:
            properties[key] = params[key]
    if shortfall:
        properties["shortfall"] = shortfall
    await ontology.create(ORDER, f"{number}", properties, object_id=order_id)
    await ontology.add_links(
        [
            Link(source_id=order_id, link_type="contains", target_id=pid, properties=props)
            for pid, props in contains.items()
        ]
        + [
            Link(
                source_id=order_id,
                link_type=ORDER_REFS[name][0],
                target_id=object_id,
                properties={},
            )
            for name, object_id in refs.items()
        ]
    )
    if levels:
        await set_stock(ctx, plan.items, levels, max_need=plan.max_need)
    ctx.emit(
        "order_placed",
        order_id=order_id,
        number=number,
        total=total,
        channel=params["channel"],
        status=params["status"],
        source=ctx.source,
        lines=[
            {"name": line["name"], "qty": line["qty"], "options": line["options"]}
            for line in stored_lines
        ],
    )
    if shortfall:
        ctx.emit("stock_shortfall", order_id=order_id, number=number, items=shortfall)
    return {
        "order_id": order_id,
        "number": number,
        "total": total,
        "status": params["status"],
        "shortfall": shortfall,
    }


async def place_order(ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
    """Record an order; deduct its recipes from stock; flag any shortfall.

    A POS order (a fact) is always recorded, even when stock goes negative. Any other order
    must be for available products with enough stock.
    """
    return await record_order(ctx, params, consume=True)


async def _close_order(
    ctx: ActionContext, params: dict[str, Any], *, status: str, allowed: tuple[str, ...]
) -> dict[str, Any]:
    ontology = ctx.ontology
    order = await ontology.require("order", params["order"], ORDER)
    current = order.get("status")
    if current not in allowed:
        raise ValidationError(
            "order_status_invalid",
            field="order",
            order=order.name,
            status=current,
            allowed=", ".join(allowed),
        )
    # Stock comes back only where nothing was handed over, unless the caller says otherwise:
    # a cancelled order that was not completed; never a refund (the drink was made).
    restock = params.get("restock")
    if restock is None:
        restock = status == "cancelled" and current != "completed"
    consumed: dict[str, float] = order.get("consumed", {})
    restored = {}
    if restock and consumed:
        items = await ontology.get_many(consumed)
        levels = {
            item_id: item.get("on_hand", 0) + consumed[item_id]
            for item_id, item in items.items()
            if item.type == ITEM
        }
        await set_stock(ctx, items, levels)
        restored = {item_id: consumed[item_id] for item_id in levels}
    properties = {
        **order.properties,
        "status": status,
        "restocked": bool(restored),
        "closed_at": to_iso(ctx.now),
    }
    if ctx.reason:
        properties["reason"] = ctx.reason
    await ontology.update(order, properties)
    ctx.emit(
        f"order_{status}",
        order_id=order.id,
        number=order.get("number"),
        total=order.get("total"),
        previous_status=current,
        restocked=bool(restored),
        reason=ctx.reason,
    )
    return {
        "order_id": order.id,
        "status": status,
        "previous_status": current,
        "restocked": restored,
    }


async def cancel_order(ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
    """Cancel an open or paid order."""
    return await _close_order(ctx, params, status="cancelled", allowed=("open", "paid"))


async def refund_order(ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
    """Refund a paid or completed order."""
    return await _close_order(ctx, params, status="refunded", allowed=("paid", "completed"))


CLOSE_PARAMS = {"order": OBJECT_ID, "restock": Field(kind="boolean")}

ORDER_ACTIONS = (
    ActionType(
        name="place_order",
        params={
            "lines": Field(kind="records", required=True, fields=LINE, min_items=1),
            "channel": Field(kind="string", default="here", choices=CHANNELS),
            "status": Field(kind="string", default="paid", choices=("open", "paid", "completed")),
            "number": Field(kind="string"),
            "total": Field(kind="money", min=0),
            "placed_at": Field(kind="datetime"),
            "external_id": Field(kind="string"),
            "note": Field(kind="string"),
            **{name: OPTIONAL_OBJECT_ID for name in ORDER_REFS},
        },
        apply=place_order,
    ),
    ActionType(name="cancel_order", params=CLOSE_PARAMS, apply=cancel_order),
    ActionType(name="refund_order", params=CLOSE_PARAMS, apply=refund_order),
)
