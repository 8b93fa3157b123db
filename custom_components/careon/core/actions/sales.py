"""Sales kept in step with a vendor: POS orders and payments upserted by their vendor ids.

Connectors deliver versions of an order or a payment at least once and in any order (webhooks,
backfill). ``sync_order`` and ``sync_payment`` make the store converge on the same state
whatever order the versions come in: an object is found by its vendor id (careon_external_refs),
an order's state only moves forward (open < completed < cancelled; a copy older than the one
applied is ignored), a payment's too (pending < failed < approved < partial_cancelled <
cancelled), and each links to the other whichever comes first.

POS items no product matches become placeholder products (``unmapped``) that the owner maps to
a product or keeps (``resolve_unmapped_product``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, select

from ..engine import ActionContext, ActionType
from ..errors import ValidationError
from ..fields import Field, normalise_number, to_iso, validate_fields
from ..ontology import Link, Ontology, StoreObject, new_object_id, object_from_row
from ..privacy import (
    hash_phone,
    is_masked,
    mask_card_number,
    mask_phone,
    normalise_phone,
    phone_tail,
    redact_phone,
    store_privacy_key,
)
from ..tables import indexed_property, links_table, objects_table
from .common import OBJECT_ID
from .orders import (
    CHANNELS,
    ORDER,
    _close_order,
    order_lines,
    plan_consumption,
    record_order,
    shortfall_of,
)
from .stock import ITEM, PRODUCT, set_stock

PAYMENT = "Payment"
CUSTOMER = "Customer"
PAYS = "pays"
CONTAINS = "contains"
PLACED_BY = "placed_by"
# kinds of vendor ids (careon_external_refs.kind)
ORDER_KIND = "order"
PAYMENT_KIND = "payment"

ORDER_STATES = ("open", "completed", "cancelled")
# how far an order has come, as the POS says it (paid is ours: payments covering an open order)
_STATE_RANK = {"open": 0, "completed": 1, "cancelled": 2}
_STATUS_RANK = {"open": 0, "paid": 0, "completed": 1, "cancelled": 2, "refunded": 2}
TERMINAL = frozenset({"cancelled", "refunded"})

PAYMENT_METHODS = ("card", "cash", "easy_pay", "transfer", "external", "other")
PAYMENT_STATUSES = ("approved", "cancelled", "partial_cancelled", "failed", "pending")
_PAYMENT_RANK = {"pending": 0, "failed": 1, "approved": 2, "partial_cancelled": 3, "cancelled": 4}
# payments whose money (less what was cancelled) counts toward an order
APPROVED = frozenset({"approved", "partial_cancelled"})
CARD_FIELDS = {
    "issuer": Field(kind="string"),
    "acquirer": Field(kind="string"),
    "number": Field(kind="string"),
    "installment_months": Field(kind="integer", min=0),
    "kind": Field(kind="string"),
}
# Payment property: false when the connector said a cancelled payment must not refund its order
REFUND_ORDER = "refund_order"

SYNC_LINE = {
    "title": Field(kind="string", required=True),
    "code": Field(kind="string"),
    "category": Field(kind="string"),
    "qty": Field(kind="integer", default=1, min=1),
    "unit_price": Field(kind="money", default=0, min=0),
    "options": Field(kind="list"),
}
# what a newer copy of an order may change
_VENDOR_FIELDS = (
    "channel",
    "total",
    "discount",
    "tax",
    "supply",
    "tip",
    "completed_at",
    "vendor_updated_at",
)


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _name_key(text: str) -> str:
    """How a POS title is compared with a product's name: case and spacing ignored."""
    return " ".join(text.split()).casefold()


def _refs_of(product: StoreObject, source: str) -> list[str]:
    """A product's POS references for one connector (item codes, or titles of items the POS
    sends without a code)."""
    refs = (product.get("pos_refs") or {}).get(source) or []
    if isinstance(refs, str):
        refs = [refs]
    return [str(ref) for ref in refs] if isinstance(refs, list) else []


class _Catalogue:
    """The products a connector's lines are matched against, kept current while placeholders
    are added."""

    def __init__(self, source: str, products: Iterable[StoreObject]) -> None:
        self.source = source
        self.by_ref: dict[str, StoreObject] = {}
        self.by_ref_title: dict[str, StoreObject] = {}
        self.by_name: dict[str, StoreObject] = {}
        # a real product wins over a placeholder (the sort is stable: by name otherwise)
        for product in sorted(products, key=lambda p: bool(p.get("unmapped"))):
            self.add(product)

    def add(self, product: StoreObject) -> None:
        for ref in _refs_of(product, self.source):
            self.by_ref.setdefault(ref, product)
            self.by_ref_title.setdefault(_name_key(ref), product)
        self.by_name.setdefault(_name_key(product.name), product)

    def find(self, title: str, code: str | None) -> StoreObject | None:
        if code is not None and (product := self.by_ref.get(code)) is not None:
            return product
        key = _name_key(title)
        return self.by_ref_title.get(key) or self.by_name.get(key)


async def _map_lines(
    ctx: ActionContext, source: str, lines: list[dict[str, Any]], unmapped: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Order lines of products for the POS lines: matched by item code (``pos_refs``), else by
    name, else a placeholder product (one per code or title, reused afterwards)."""
    if not lines:
        return []
    catalogue = _Catalogue(source, await ctx.ontology.by_type(PRODUCT))
    mapped = []
    for line in lines:
        code = line.get("code")
        product = catalogue.find(line["title"], code)
        if product is None:
            product = await _placeholder(ctx, source, line)
            catalogue.add(product)
            unmapped.append({"product_id": product.id, "title": line["title"], "code": code})
        mapped.append(
            {
                "product": product.id,
                "qty": line["qty"],
                "unit_price": line["unit_price"],
                "options": line.get("options", []),
            }
        )
    return mapped


async def _placeholder(ctx: ActionContext, source: str, line: dict[str, Any]) -> StoreObject:
    properties: dict[str, Any] = {
        "price": line["unit_price"],
        "available": True,
        "unmapped": True,
        # an item without a code is known again by its title
        "pos_refs": {source: [line.get("code") or line["title"]]},
    }
    if line.get("category"):
        properties["category"] = line["category"]
    product = await ctx.ontology.create(
        PRODUCT, line["title"], properties, object_id=new_object_id(PRODUCT)
    )
    ctx.emit(
        "pos_item_unmapped",
        product_id=product.id,
        title=line["title"],
        code=line.get("code"),
        source=source,
    )
    return product


async def _customer(ctx: ActionContext, phone: str | None) -> str | None:
    """The customer with this phone number (found by its keyed hash), created when new. A
    number the vendor already masked cannot be told apart from others: no customer."""
    if not phone or is_masked(phone) or len(normalise_phone(phone)) < 4:
        return None
    ontology = ctx.ontology
    phone_hash = hash_phone(phone, await store_privacy_key(ontology.conn))
    objects = objects_table.c
    found = await ontology.conn.scalar(
        select(objects.id)
        .where(
            objects.type == CUSTOMER,
            indexed_property(ontology.conn.dialect.name, "phone_hash") == phone_hash,
        )
        .order_by(objects.created_at, objects.id)
        .limit(1)
    )
    if found is not None:
        return str(found)
    customer = await ontology.create(
        CUSTOMER,
        f"고객 ****{phone_tail(phone)}",
        {"phone": mask_phone(phone), "phone_hash": phone_hash},
        object_id=new_object_id(CUSTOMER),
    )
    return customer.id


def _net(payment: StoreObject) -> int:
    return int(payment.get("amount", 0)) - int(payment.get("cancelled_amount", 0))


def covers(payments: Iterable[StoreObject], total: int) -> bool:
    """Whether approved payments (less what was cancelled of them) pay ``total``."""
    approved = [p for p in payments if p.get("status") in APPROVED]
    return bool(approved) and sum(_net(p) for p in approved) >= total


def _refund_due(payments: Iterable[StoreObject]) -> bool:
    """Every payment of an order cancelled in full, at least one of them meant to refund it."""
    payments = list(payments)
    return any(
        p.get("status") == "cancelled" and p.get(REFUND_ORDER) is not False for p in payments
    ) and not any(p.get("status") in APPROVED for p in payments)


async def _waiting_payments(ontology: Ontology, source: str, external_id: str) -> list[StoreObject]:
    """Payments of a connector that arrived before their order: they name it, nothing links
    them yet."""
    objects, links = objects_table.c, links_table.c
    linked = exists().where(and_(links.source_id == objects.id, links.link_type == PAYS))
    rows = await ontology.conn.execute(
        select(objects_table)
        .where(
            objects.type == PAYMENT,
            indexed_property(ontology.conn.dialect.name, "order_ref") == external_id,
            objects.properties["source"].as_string() == source,
            ~linked,
        )
        .order_by(objects.created_at, objects.id)
    )
    return [object_from_row(row) for row in rows]


async def _is_synced(ontology: Ontology, order_id: str) -> bool:
    """Whether a connector keeps the order in step (the order has a vendor id)."""
    return any(kind == ORDER_KIND for _, _, kind, _ in await ontology.external_ids_of([order_id]))


async def find_order(ontology: Ontology, source: str, reference: str) -> StoreObject | None:
    """The order a payment names: by the connector's vendor id, else an order whose
    ``external_id`` it is. Never by an order's own id: a vendor names orders by its own
    references, and a payment that could name any order could refund any order."""
    found = await ontology.find_external(source, ORDER_KIND, [reference])
    if reference in found:
        return await ontology.get(found[reference])
    objects = objects_table.c
    row = (
        await ontology.conn.execute(
            select(objects_table)
            .where(
                objects.type == ORDER,
                indexed_property(ontology.conn.dialect.name, "external_id") == reference,
            )
            .order_by(objects.created_at, objects.id)
            .limit(1)
        )
    ).first()
    return object_from_row(row) if row is not None else None


async def _refund(ctx: ActionContext, order_id: str) -> None:
    """Refund an order in this transaction; nothing comes back to stock."""
    await _close_order(
        ctx,
        {"order": order_id, "restock": False},
        status="refunded",
        allowed=("open", "paid", "completed"),
    )


def _order_closed_event(ctx: ActionContext, order_id: str, result: Mapping[str, Any]) -> None:
    """Announce an order first seen already cancelled or refunded."""
    ctx.emit(
        f"order_{result['status']}",
        order_id=order_id,
        number=result["number"],
        total=result["total"],
        previous_status=None,
        restocked=False,
        reason=ctx.reason,
    )


def _order_completed_event(ctx: ActionContext, order: Mapping[str, Any], order_id: str) -> None:
    ctx.emit(
        "order_completed",
        order_id=order_id,
        number=order.get("number"),
        total=order.get("total"),
        source=ctx.source,
    )


async def sync_order(ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
    """Create or move forward the order a connector reports (see the module's docstring)."""
    known = await ctx.ontology.find_external(params["source"], ORDER_KIND, [params["external_id"]])
    if params["external_id"] in known:
        order = await ctx.ontology.get(known[params["external_id"]])
        if order is not None:
            return await _update_order(ctx, params, order)
    return await _create_order(ctx, params)


async def _create_order(ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
    ontology = ctx.ontology
    source, external_id, state = params["source"], params["external_id"], params["state"]
    unmapped: list[dict[str, Any]] = []
    lines = await _map_lines(ctx, source, params.get("lines") or [], unmapped)
    waiting = await _waiting_payments(ontology, source, external_id)
    if state == "open":
        status = "paid" if covers(waiting, params["total"]) else "open"
    elif state == "completed":
        status = "completed"
    else:
        # a cancelled copy that says it was completed first: handed over, then refunded
        status = "refunded" if params.get("completed_at") else "cancelled"
    record: dict[str, Any] = {
        key: params.get(key)
        for key in ("number", "total", "placed_at", "external_id", *_VENDOR_FIELDS)
    }
    record.update(
        lines=lines, status=status, customer=await _customer(ctx, params.get("customer_phone"))
    )
    if status == "completed" and record["completed_at"] is None:
        record["completed_at"] = to_iso(ctx.now)
    if status in TERMINAL:
        record.update(restocked=False, closed_at=to_iso(ctx.now))
    # a sale that happened is recorded whatever the stock or the menu says; an order first
    # seen cancelled took nothing from stock
    result = await record_order(ctx, record, consume=status != "cancelled", fact=True)
    order_id = result["order_id"]
    await ontology.add_external(source, ORDER_KIND, {external_id: order_id})
    await ontology.add_links(
        [Link(source_id=p.id, link_type=PAYS, target_id=order_id, properties={}) for p in waiting]
    )
    if status == "completed":
        _order_completed_event(ctx, result, order_id)
        if _refund_due(waiting):
            await _refund(ctx, order_id)
            status = "refunded"
    elif status in TERMINAL:
        _order_closed_event(ctx, order_id, result)
    return {
        "order_id": order_id,
        "created": True,
        "changed": True,
        "status": status,
        "previous_status": None,
        "unmapped": unmapped,
        "linked_payments": [p.id for p in waiting],
    }


def _is_older(params: Mapping[str, Any], order: StoreObject) -> bool:
    incoming, applied = params.get("vendor_updated_at"), order.get("vendor_updated_at")
    return incoming is not None and applied is not None and _when(incoming) < _when(applied)


def _line_key(lines: Iterable[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (line["product"], line["qty"], line["unit_price"], line.get("options") or [])
        for line in lines
    ]


async def _reline(
    ctx: ActionContext, order: StoreObject, properties: dict[str, Any], lines: list[dict[str, Any]]
) -> bool:
    """Give an order new lines (items added at the table): stock moves by the difference in
    what the recipes take, in one ``set_stock``; return False when the lines are the same."""
    if _line_key(lines) == _line_key(properties.get("lines") or []):
        return False
    ontology = ctx.ontology
    plan = await plan_consumption(ontology, lines)
    stored, contains = order_lines(lines, plan.products)
    before: dict[str, float] = properties.get("consumed") or {}
    difference = {
        item_id: normalise_number(plan.consumed.get(item_id, 0) - before.get(item_id, 0))
        for item_id in sorted({*plan.consumed, *before})
    }
    items = dict(plan.items)
    gone = [item_id for item_id in difference if item_id not in items]
    items.update(
        {i: item for i, item in (await ontology.get_many(gone)).items() if item.type == ITEM}
    )
    difference = {i: d for i, d in difference.items() if d and i in items}
    levels, shortfall = shortfall_of(items, difference)
    shortfall = [entry for entry in shortfall if entry["needed"] > 0]
    if levels:
        await set_stock(ctx, items, levels)
    properties["lines"] = stored
    properties["consumed"] = dict(plan.consumed)
    if shortfall:
        properties["shortfall"] = [*(properties.get("shortfall") or []), *shortfall]
        ctx.emit("stock_shortfall", order_id=order.id, number=order.name, items=shortfall)
    current = {link.target_id: link for link in await ontology.links_from([order.id], CONTAINS)}
    for product_id in current.keys() - contains.keys():
        await ontology.remove_link(order.id, CONTAINS, product_id)
    for product_id, link_properties in contains.items():
        link = current.get(product_id)
        if link is None or dict(link.properties) != link_properties:
            await ontology.set_link(
                Link(
                    source_id=order.id,
                    link_type=CONTAINS,
                    target_id=product_id,
                    properties=link_properties,
                )
            )
    return True


async def _update_order(
    ctx: ActionContext, params: dict[str, Any], order: StoreObject
) -> dict[str, Any]:
    ontology = ctx.ontology
    state = params["state"]
    previous = order.get("status")
    result: dict[str, Any] = {
        "order_id": order.id,
        "created": False,
        "changed": False,
        "status": previous,
        "previous_status": previous,
        "unmapped": [],
        "linked_payments": [],
    }
    # a closed order stays closed; an older copy, or one behind what was applied, changes nothing
    if (
        previous in TERMINAL
        or _is_older(params, order)
        or _STATE_RANK[state] < _STATUS_RANK[previous]
    ):
        return result
    properties = dict(order.properties)
    for key in _VENDOR_FIELDS:
        if params.get(key) is not None:
            properties[key] = params[key]
    name = params.get("number") or order.name
    properties["number"] = name
    if previous in ("open", "paid"):
        lines = await _map_lines(
            ctx, params["source"], params.get("lines") or [], result["unmapped"]
        )
        await _reline(ctx, order, properties, lines)
    status = previous
    if state == "completed" and previous != "completed":
        status = "completed"
        properties.setdefault("completed_at", to_iso(ctx.now))
    payments: list[StoreObject] = []
    if state != "cancelled":
        payments = await ontology.linking([order.id], PAYS)
    if status == "open" and covers(payments, properties["total"]):
        status = "paid"
    properties["status"] = status
    changed = properties != dict(order.properties) or name != order.name
    if changed:
        order = await ontology.update(order, properties, name=name)
    if (
        params.get("customer_phone")
        and not await ontology.links_from([order.id], PLACED_BY)
        and (customer := await _customer(ctx, params["customer_phone"]))
    ):
        await ontology.add_links(
            [Link(source_id=order.id, link_type=PLACED_BY, target_id=customer, properties={})]
        )
        changed = True
    if status == "completed" and previous != "completed":
        _order_completed_event(ctx, properties, order.id)
    if state == "cancelled":
        # cancelled before it was made: stock comes back; after (the copy says it was
        # completed, or it was): a refund, nothing comes back
        if status == "completed" or params.get("completed_at"):
            await _refund(ctx, order.id)
            status = "refunded"
        else:
            await _close_order(
                ctx, {"order": order.id}, status="cancelled", allowed=("open", "paid")
            )
            status = "cancelled"
        changed = True
    elif status == "completed" and previous != "completed" and _refund_due(payments):
        await _refund(ctx, order.id)
        status = "refunded"
    result.update(changed=changed, status=status)
    return result


def _card(raw: Mapping[str, Any] | None, ctx: ActionContext) -> dict[str, Any] | None:
    """The card details a payment keeps: known fields, the number masked."""
    if not raw:
        return None
    present = {key: value for key, value in raw.items() if value is not None and value != ""}
    card = validate_fields(CARD_FIELDS, present, prefix="card.", tz=ctx.timezone)
    if card.get("number"):
        card["number"] = mask_card_number(card["number"])
    return card or None


def _payment_rank(properties: Mapping[str, Any]) -> tuple[int, int]:
    return _PAYMENT_RANK[properties["status"]], int(properties.get("cancelled_amount") or 0)


async def sync_payment(ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
    """Create or move forward the payment a connector reports; link it to its order, mark the
    order paid once approved payments cover it, refund it when its payment is cancelled."""
    ontology = ctx.ontology
    source, external_id = params["source"], params["external_id"]
    incoming: dict[str, Any] = {
        "method": params["method"],
        "amount": params["amount"],
        "status": params["status"],
        "source": source,
        "external_id": external_id,
    }
    for key in (
        "cancelled_amount",
        "approval_no",
        "van",
        "order_ref",
        "approved_at",
        "cancelled_at",
    ):
        if params.get(key) is not None:
            incoming[key] = params[key]
    if (card := _card(params.get("card"), ctx)) is not None:
        incoming["card"] = card
    if incoming["status"] == "cancelled" and "cancelled_amount" not in incoming:
        incoming["cancelled_amount"] = incoming["amount"]
    if not params["refund_order"]:
        incoming[REFUND_ORDER] = False

    known = await ontology.find_external(source, PAYMENT_KIND, [external_id])
    payment = await ontology.get(known[external_id]) if external_id in known else None
    previous: str | None = None
    if payment is None:
        payment = await ontology.create(
            PAYMENT, f"{source} {external_id}", incoming, object_id=new_object_id(PAYMENT)
        )
        await ontology.add_external(source, PAYMENT_KIND, {external_id: payment.id})
        created = changed = True
    else:
        created, changed = False, False
        previous = payment.get("status")
        if _payment_rank(incoming) > _payment_rank(payment.properties):
            properties = {**payment.properties, **incoming}
            if params["refund_order"]:
                properties.pop(REFUND_ORDER, None)
            payment = await ontology.update(payment, properties)
            changed = True
    status = payment.get("status")

    order: StoreObject | None = None
    if links := await ontology.links_from([payment.id], PAYS):
        order = await ontology.get(links[0].target_id)
    elif (reference := payment.get("order_ref")) is not None:
        order = await find_order(ontology, source, reference)
        if order is not None:
            await ontology.add_links(
                [Link(source_id=payment.id, link_type=PAYS, target_id=order.id, properties={})]
            )
            changed = True
    if created:
        ctx.emit(
            "payment_recorded",
            payment_id=payment.id,
            amount=payment.get("amount"),
            method=payment.get("method"),
            status=status,
            order_id=order.id if order else None,
            source=source,
        )

    refunded = False
    if order is not None and changed:
        refunded = await _settle(ctx, order, payment, refund=params["refund_order"])
    if status == "cancelled" and previous != "cancelled":
        ctx.emit(
            "payment_cancelled",
            payment_id=payment.id,
            amount=payment.get("cancelled_amount"),
            order_id=order.id if order else None,
            refunded=refunded,
        )
    return {
        "payment_id": payment.id,
        "created": created,
        "changed": changed,
        "status": status,
        "previous_status": previous,
        "order_id": order.id if order else None,
        "refunded": refunded,
    }


async def _settle(
    ctx: ActionContext, order: StoreObject, payment: StoreObject, *, refund: bool
) -> bool:
    """An open order covered by approved payments is paid; an order whose payment was
    cancelled in full, with no other approved payment, is refunded (a connector's POS order
    only once completed: before that, the POS says itself whether it was cancelled).
    Return whether the order was refunded."""
    ontology = ctx.ontology
    payments = await ontology.linking([order.id], PAYS)
    status = order.get("status")
    if status == "open" and covers(payments, order.get("total", 0)):
        await ontology.update(order, {**order.properties, "status": "paid"})
        return False
    refundable = ("completed",) if await _is_synced(ontology, order.id) else ("paid", "completed")
    if (
        refund
        and payment.get("status") == "cancelled"
        and status in refundable
        and not any(p.get("status") in APPROVED for p in payments if p.id != payment.id)
    ):
        await _refund(ctx, order.id)
        return True
    return False


async def resolve_unmapped_product(ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
    """Settle a placeholder product a connector made: map it to a product (its POS codes and
    the orders that contain it move there, the placeholder goes) or keep it as a product."""
    ontology = ctx.ontology
    product = await ontology.require("product", params["product"], PRODUCT)
    if not product.get("unmapped"):
        raise ValidationError("product_not_unmapped", product=product.name, field="product")
    map_to = params.get("map_to")
    if map_to is None or map_to == product.id:
        await ontology.update(product, {**product.properties, "unmapped": False})
        ctx.emit(
            "unmapped_product_resolved",
            product_id=product.id,
            name=product.name,
            mapped_to=None,
        )
        return {"product_id": product.id, "mapped_to": None, "pos_refs": {}, "orders": 0}
    target = await ontology.require("map_to", map_to, PRODUCT)

    pos_refs: dict[str, list[str]] = {
        source: _refs_of(target, source) for source in target.get("pos_refs") or {}
    }
    for source in product.get("pos_refs") or {}:
        refs = pos_refs.setdefault(source, [])
        refs.extend(ref for ref in _refs_of(product, source) if ref not in refs)

    # the orders that contain the placeholder contain the product now (quantities summed)
    moved = await ontology.links_to([product.id], CONTAINS)
    order_ids = [link.source_id for link in moved]
    existing = {
        link.source_id: link
        for link in await ontology.links_from(order_ids, CONTAINS)
        if link.target_id == target.id
    }
    for link in moved:
        properties = dict(link.properties)
        if (already := existing.get(link.source_id)) is not None:
            properties = {
                **link.properties,
                **already.properties,
                "qty": normalise_number(
                    already.properties.get("qty", 0) + link.properties.get("qty", 0)
                ),
            }
        await ontology.set_link(
            Link(
                source_id=link.source_id,
                link_type=CONTAINS,
                target_id=target.id,
                properties=properties,
            )
        )
    # and their lines name it, so that history points at a product that exists
    orders = await ontology.get_many(order_ids)
    await ontology.update_many(
        [
            (
                order,
                {
                    **order.properties,
                    "lines": [
                        {**line, "product": target.id}
                        if line.get("product") == product.id
                        else line
                        for line in order.get("lines") or []
                    ],
                },
            )
            for order in orders.values()
        ]
    )
    await ontology.delete(product)
    await ontology.update(target, {**target.properties, "pos_refs": pos_refs})
    ctx.emit(
        "unmapped_product_resolved",
        product_id=product.id,
        name=product.name,
        mapped_to=target.id,
    )
    return {
        "product_id": product.id,
        "mapped_to": target.id,
        "pos_refs": pos_refs,
        "orders": len(orders),
    }


def _redact_order(params: dict[str, Any]) -> dict[str, Any]:
    """The audit keeps a customer's phone number masked."""
    phone = params.get("customer_phone")
    if isinstance(phone, str):
        return {**params, "customer_phone": redact_phone(phone)}
    return params


def _redact_payment(params: dict[str, Any]) -> dict[str, Any]:
    """The audit keeps a card number masked, as the payment does."""
    card = params.get("card")
    if isinstance(card, Mapping) and isinstance(card.get("number"), str):
        return {**params, "card": {**card, "number": mask_card_number(card["number"])}}
    return params


SALES_ACTIONS = (
    ActionType(
        name="sync_order",
        params={
            "source": Field(kind="string", required=True),
            "external_id": Field(kind="string", required=True),
            "number": Field(kind="string"),
            "state": Field(kind="string", required=True, choices=ORDER_STATES),
            "channel": Field(kind="string", default="here", choices=CHANNELS),
            "placed_at": Field(kind="datetime", required=True),
            "completed_at": Field(kind="datetime"),
            "cancelled_at": Field(kind="datetime"),
            "vendor_updated_at": Field(kind="datetime"),
            "total": Field(kind="money", required=True, min=0),
            "discount": Field(kind="money", min=0),
            "tax": Field(kind="money", min=0),
            "supply": Field(kind="money", min=0),
            "tip": Field(kind="money", min=0),
            "lines": Field(kind="records", fields=SYNC_LINE, min_items=0),
            "customer_phone": Field(kind="string"),
        },
        apply=sync_order,
        redact=_redact_order,
    ),
    ActionType(
        name="sync_payment",
        params={
            "source": Field(kind="string", required=True),
            "external_id": Field(kind="string", required=True),
            "order_ref": Field(kind="string"),
            "method": Field(kind="string", required=True, choices=PAYMENT_METHODS),
            "status": Field(kind="string", required=True, choices=PAYMENT_STATUSES),
            "amount": Field(kind="money", required=True, min=0),
            "cancelled_amount": Field(kind="money", min=0),
            "approval_no": Field(kind="string"),
            "van": Field(kind="string"),
            "approved_at": Field(kind="datetime"),
            "cancelled_at": Field(kind="datetime"),
            "card": Field(kind="mapping"),
            "refund_order": Field(kind="boolean", default=True),
        },
        apply=sync_payment,
        redact=_redact_payment,
    ),
    ActionType(
        name="resolve_unmapped_product",
        params={"product": OBJECT_ID, "map_to": Field(kind="string")},
        apply=resolve_unmapped_product,
    ),
)
