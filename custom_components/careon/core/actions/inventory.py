"""Stock in, stock counted or written off, and products switched on or off by hand."""

from __future__ import annotations

from typing import Any

from ..engine import ActionContext, ActionType
from ..errors import ValidationError
from ..fields import Field, normalise_number
from .common import OBJECT_ID, OPTIONAL_OBJECT_ID
from .purchasing import receive_against
from .stock import ITEM, PRODUCT, set_stock

ADJUST_MODES = ("count", "waste", "spoilage", "correction")

RECEIVED_LINE = {
    "item": OBJECT_ID,
    "qty": Field(kind="number", required=True, min=0.000001),
    "unit_cost": Field(kind="money", min=0),
}
RECEIVED_LINES = Field(kind="records", fields=RECEIVED_LINE)


async def receive_stock(ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
    """Add delivered stock; with a purchase order, receive the delivery against it."""
    if params.get("purchase_order"):
        return await receive_against(ctx, params["purchase_order"], params.get("lines"))
    lines = params.get("lines")
    if not lines:
        raise ValidationError("missing_field", field="lines")
    ontology = ctx.ontology
    items = await ontology.get_many(line["item"] for line in lines)
    received: dict[str, float] = {}
    extra: dict[str, dict[str, Any]] = {}
    for index, line in enumerate(lines):
        ontology.check_type(f"lines[{index}].item", line["item"], items.get(line["item"]), ITEM)
        received[line["item"]] = received.get(line["item"], 0) + line["qty"]
        if line.get("unit_cost") is not None:
            extra[line["item"]] = {"unit_cost": line["unit_cost"]}
    levels = {item_id: items[item_id].get("on_hand", 0) + qty for item_id, qty in received.items()}
    written = await set_stock(ctx, items, levels, extra=extra)
    summary = [
        {
            "item_id": item_id,
            "name": written[item_id].name,
            "received": normalise_number(qty),
            "on_hand": written[item_id].get("on_hand"),
        }
        for item_id, qty in received.items()
    ]
    ctx.emit("stock_received", items=summary, purchase_order_id=None)
    return {"items": summary, "purchase_order_id": None}


async def adjust_inventory(ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
    """Set stock to a counted level, write off waste or spoilage, or correct it by a delta."""
    item = await ctx.ontology.require("item", params["item"], ITEM)
    mode, qty = params["mode"], params["qty"]
    before = item.get("on_hand", 0)
    if mode == "count":
        if qty < 0:
            raise ValidationError("out_of_range", field="qty", value=qty, limit=">= 0")
        after = qty
    elif mode == "correction":
        after = before + qty
    else:  # waste, spoilage: what was thrown away, so a positive amount
        if qty <= 0:
            raise ValidationError("out_of_range", field="qty", value=qty, limit="> 0")
        after = before - qty
    written = await set_stock(ctx, {item.id: item}, {item.id: after})
    on_hand = written[item.id].get("on_hand")
    ctx.emit(
        "inventory_adjusted",
        item_id=item.id,
        name=item.name,
        mode=mode,
        on_hand_before=before,
        on_hand=on_hand,
        reason=ctx.reason,
    )
    return {
        "item_id": item.id,
        "mode": mode,
        "on_hand_before": before,
        "on_hand": on_hand,
        "delta": normalise_number(on_hand - before),
    }


async def update_availability(ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
    """Switch a product on or off by hand; a manual 'off' survives restocking."""
    product = await ctx.ontology.require("product", params["product"], PRODUCT)
    available = params["available"]
    changed = product.get("available", True) != available
    properties = {k: v for k, v in product.properties.items() if k != "availability_reason"}
    properties["available"] = available
    if not available:
        properties["availability_reason"] = "manual"
    await ctx.ontology.update(product, properties)
    if changed:
        ctx.emit(
            "product_availability_changed",
            product_id=product.id,
            name=product.name,
            available=available,
            reason="manual",
            missing=[],
        )
    return {"product_id": product.id, "available": available, "changed": changed}


INVENTORY_ACTIONS = (
    ActionType(
        name="receive_stock",
        params={
            "lines": RECEIVED_LINES,
            "purchase_order": OPTIONAL_OBJECT_ID,
        },
        apply=receive_stock,
    ),
    ActionType(
        name="adjust_inventory",
        params={
            "item": OBJECT_ID,
            "mode": Field(kind="string", required=True, choices=ADJUST_MODES),
            "qty": Field(kind="number", required=True),
        },
        apply=adjust_inventory,
    ),
    ActionType(
        name="update_availability",
        params={"product": OBJECT_ID, "available": Field(kind="boolean", required=True)},
        apply=update_availability,
    ),
)
