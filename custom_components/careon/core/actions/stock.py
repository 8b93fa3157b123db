"""Stock levels and the availability they imply, shared by every action that moves stock."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..engine import ActionContext
from ..fields import normalise_number
from ..ontology import StoreObject

ITEM = "InventoryItem"
PRODUCT = "Product"
REQUIRES = "requires"
STOCK_OUT = "stock_out"


def is_low(item: StoreObject, on_hand: float | None = None) -> bool:
    """At or under the reorder point (items without one are never low)."""
    reorder_point = item.get("reorder_point")
    level = item.get("on_hand", 0) if on_hand is None else on_hand
    return reorder_point is not None and level <= reorder_point


async def set_stock(
    ctx: ActionContext,
    items: Mapping[str, StoreObject],
    levels: Mapping[str, float],
    *,
    extra: Mapping[str, Mapping[str, Any]] | None = None,
    max_need: Mapping[str, float] | None = None,
) -> dict[str, StoreObject]:
    """Write new on-hand levels (and any extra properties), announce crossings, and
    recompute the availability of every product that uses the items.

    Crossings are edges, never levels: ``stock_low`` when an item falls to or under its reorder
    point, ``stock_out`` when it runs out. An item is *out* while it has none (on hand <= 0) or
    keeps a product that needs it off the menu (too little left for the recipe, the product
    off for lack of stock); ``stock_out`` is emitted when an item becomes out, once, listing
    the products it keeps off (none for an item no product needs).
    ``max_need`` (the most any product needs of each item) lets a deduction skip the
    recompute when every new level still covers every recipe.
    """
    updates = []
    for item_id, level in levels.items():
        item = items[item_id]
        properties = {
            **item.properties,
            **(extra or {}).get(item_id, {}),
            "on_hand": normalise_number(level),
        }
        updates.append((item, properties))
    written = {obj.id: obj for obj in await ctx.ontology.update_many(updates)}
    for item_id, after in written.items():
        before = items[item_id]
        if is_low(after) and not is_low(before):
            ctx.emit(
                "stock_low",
                item_id=item_id,
                name=after.name,
                on_hand=after.get("on_hand"),
                unit=after.get("unit"),
                reorder_point=after.get("reorder_point"),
            )
    lowered = all(level <= items[i].get("on_hand", 0) for i, level in levels.items())
    previous = {item_id: items[item_id].get("on_hand", 0) for item_id in written}
    # skipped, every level covers every recipe now and did before: no item keeps a product
    # off, and out is on hand <= 0 alone
    shortages = Shortages()
    if not (
        max_need is not None and lowered and all(levels[i] >= max_need.get(i, 0) for i in levels)
    ):
        shortages = await recompute_availability(ctx, item_ids=written, before=previous)
    for item_id, after in written.items():
        products = shortages.kept_off.get(item_id, [])
        was_out = previous[item_id] <= 0 or item_id in shortages.kept_off_before
        if (after.get("on_hand", 0) <= 0 or products) and not was_out:
            ctx.emit(
                STOCK_OUT,
                item_id=item_id,
                name=after.name,
                on_hand=after.get("on_hand"),
                unit=after.get("unit"),
                products=[
                    {"product_id": p.id, "name": p.name}
                    for p in sorted(products, key=lambda p: (p.name, p.id))
                ],
            )
    return written


@dataclass(frozen=True, slots=True)
class Shortages:
    """What ``recompute_availability`` found, by item id: the products each item keeps off
    the menu now (off for lack of stock, and too little of the item left for them), and the
    items that kept one off before (at the ``before`` levels it was given)."""

    kept_off: dict[str, list[StoreObject]] = field(default_factory=dict)
    kept_off_before: set[str] = field(default_factory=set)


def _off_for_stock(product: StoreObject) -> bool:
    """A product off the menu for lack of stock (not switched off by hand)."""
    return (
        product.type == PRODUCT
        and not product.get("available", True)
        and product.get("availability_reason") == STOCK_OUT
    )


async def recompute_availability(
    ctx: ActionContext,
    *,
    item_ids: Iterable[str] = (),
    product_ids: Iterable[str] = (),
    before: Mapping[str, float] | None = None,
) -> Shortages:
    """Make unmakeable products unavailable and restocked ones available again.

    A product someone switched off by hand stays off; only ``stock_out`` ones come back.
    ``before`` (item id -> its level before this action) lets the result tell which items
    already kept a product off.
    """
    ontology = ctx.ontology
    products = {p.id: p for p in await ontology.linking(item_ids, REQUIRES)}
    missing = set(product_ids) - products.keys()
    if missing:
        products.update(await ontology.get_many(missing))
    if not products:
        return Shortages()
    result = Shortages()
    short: dict[str, list[StoreObject]] = {pid: [] for pid in products}
    for link, item in await ontology.linked(products, REQUIRES):
        need = link.properties.get("qty", 0)
        if item.get("on_hand", 0) < need:
            short[link.source_id].append(item)
        product = products[link.source_id]
        level = (before or {}).get(item.id)
        if level is not None and level < need and _off_for_stock(product):
            result.kept_off_before.add(item.id)
    updates = []
    for product_id, product in products.items():
        if product.type != PRODUCT:
            continue
        available = product.get("available", True)
        makeable = not short[product_id]
        if (available or _off_for_stock(product)) and not makeable:
            for item in short[product_id]:
                result.kept_off.setdefault(item.id, []).append(product)
        if available and not makeable:
            updates.append(
                (
                    product,
                    {**product.properties, "available": False, "availability_reason": STOCK_OUT},
                )
            )
            ctx.emit(
                "product_availability_changed",
                product_id=product_id,
                name=product.name,
                available=False,
                reason=STOCK_OUT,
                missing=[item.name for item in short[product_id]],
            )
        elif not available and makeable and product.get("availability_reason") == STOCK_OUT:
            properties = {k: v for k, v in product.properties.items() if k != "availability_reason"}
            updates.append((product, {**properties, "available": True}))
            ctx.emit(
                "product_availability_changed",
                product_id=product_id,
                name=product.name,
                available=True,
                reason="restocked",
                missing=[],
            )
    await ontology.update_many(updates)
    return result
