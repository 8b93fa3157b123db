"""Reconciliation (대사): payments matched to the orders they pay, and the period's card settlement.

Approved payments no order is linked to yet (a card-sales import, a payment that came before
its order) are matched by three rules, in order:

1. ``reference``: the payment names its order (``order_ref``: the vendor's order id, or an
   Order's ``external_id``; never an Order's own id, which is no vendor's reference). A payment
   that names its order is matched by that reference only: it waits for its own order rather
   than be guessed onto another.
2. ``approval_no``: another approved payment with the same approval number (the same card sale
   reported by another source, within a day) already pays an order.
3. ``amount``: an order of exactly the payment's amount, placed within ``window_minutes`` of the
   approval, that approved payments do not cover yet; the nearest wins, and an exact tie
   leaves the payment (and the orders it ties between) unmatched.

Every read is one statement over the period (or a few chunked ones), never one per payment.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any

from sqlalchemy import ColumnElement, exists, literal_column, select

from ..engine import ActionContext, ActionType
from ..errors import ValidationError
from ..fields import Field, to_iso
from ..ontology import Link, Ontology, StoreObject, object_from_row
from ..queries import day_bounds
from ..tables import (
    INDEXED_PROPERTIES,
    ORDER_PLACED_AT_SQL,
    indexed_property,
    links_table,
    objects_table,
)
from .card_sales import CARD_IMPORT

PAYMENT = "Payment"
ORDER = "Order"
PAYS = "pays"
# ext-ref kind of a vendor's order id (sync_order records it)
ORDER_KIND = "order"
# payments that count as money received
APPROVED = ("approved", "partial_cancelled")
SETTLED = (*APPROVED, "cancelled")
# orders a payment may be matched to by amount, and orders that should have a payment
MATCHABLE_ORDER = ("open", "paid", "completed")
SOLD_ORDER = ("paid", "completed")
# The most unmatched payments / orders without payment a result lists (the counts are whole).
LIST_LIMIT = 200
RULES = ("reference", "approval_no", "amount")
# how far apart two reports of one card sale (same approval number) may be
SAME_SALE = timedelta(days=1)
_CHUNK = 500


def _dt(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _chunks(values: Iterable[str]) -> Iterable[list[str]]:
    items = sorted(set(values))
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _prop(name: str, dialect: str | None = None) -> ColumnElement[str]:
    """A property; through its index where it has one (pass the dialect)."""
    if dialect is not None and name in INDEXED_PROPERTIES:
        return indexed_property(dialect, name)
    column: ColumnElement[str] = objects_table.c.properties[name].as_string()
    return column


def _has_pays_link() -> ColumnElement[bool]:
    return exists().where(
        links_table.c.source_id == objects_table.c.id, links_table.c.link_type == PAYS
    )


async def _payments_in(ontology: Ontology, start: str, end: str) -> list[tuple[StoreObject, bool]]:
    """Every payment approved in [start, end), and whether an order is linked to it."""
    dialect = ontology.conn.dialect.name
    rows = await ontology.conn.execute(
        select(objects_table, _has_pays_link().label("linked")).where(
            objects_table.c.type == PAYMENT,
            _prop("approved_at", dialect) >= start,
            _prop("approved_at", dialect) < end,
        )
    )
    return [(object_from_row(row), bool(row.linked)) for row in rows]


async def _linked_by_approval(
    ontology: Ontology, start: str, end: str
) -> dict[str, list[tuple[datetime, str]]]:
    """approval number -> (approved at, order id) of approved payments already linked."""
    payment = objects_table.c
    rows = await ontology.conn.execute(
        select(_prop("approval_no"), _prop("approved_at"), links_table.c.target_id)
        .select_from(
            objects_table.join(
                links_table,
                (links_table.c.source_id == payment.id) & (links_table.c.link_type == PAYS),
            )
        )
        .where(
            payment.type == PAYMENT,
            _prop("status").in_(APPROVED),
            _prop("approved_at") >= start,
            _prop("approved_at") < end,
            _prop("approval_no").is_not(None),
        )
    )
    found: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for approval_no, approved_at, order_id in rows:
        found[approval_no].append((_dt(approved_at), order_id))
    return found


async def _orders_by_reference(
    ontology: Ontology, payments: Sequence[StoreObject]
) -> dict[str, str]:
    """payment id -> the one Order its ``order_ref`` names (ambiguous or unknown refs absent)."""
    by_source: dict[str, set[str]] = defaultdict(set)
    for payment in payments:
        by_source[payment.get("source", "")].add(payment.get("order_ref"))
    via_vendor: dict[tuple[str, str], str] = {}
    for source, refs in by_source.items():
        for ref, object_id in (await ontology.find_external(source, ORDER_KIND, refs)).items():
            via_vendor[(source, ref)] = object_id
    refs = {p.get("order_ref") for p in payments}
    by_external: dict[str, set[str]] = defaultdict(set)
    dialect = ontology.conn.dialect.name
    for chunk in _chunks(refs):
        rows = await ontology.conn.execute(
            select(objects_table.c.id, _prop("external_id", dialect)).where(
                objects_table.c.type == ORDER, _prop("external_id", dialect).in_(chunk)
            )
        )
        for order_id, external_id in rows:
            by_external[external_id].add(order_id)
    matched = {}
    for payment in payments:
        ref = payment.get("order_ref")
        order_id = via_vendor.get((payment.get("source", ""), ref))
        if order_id is None and len(by_external.get(ref, ())) == 1:
            order_id = next(iter(by_external[ref]))
        if order_id is not None:
            matched[payment.id] = order_id
    return matched


async def _candidate_orders(
    ontology: Ontology, start: str, end: str
) -> tuple[dict[str, StoreObject], dict[str, int]]:
    """Orders placed in [start, end) that could be paid, and what approved payments cover of
    each (order id -> sum of approved amounts), in two statements."""
    placed_at: ColumnElement[str] = literal_column(ORDER_PLACED_AT_SQL[ontology.conn.dialect.name])
    in_period = (
        objects_table.c.type == ORDER,
        placed_at >= start,
        placed_at < end,
        _prop("status").in_(MATCHABLE_ORDER),
    )
    rows = await ontology.conn.execute(select(objects_table).where(*in_period))
    orders = {row.id: object_from_row(row) for row in rows}
    covered: dict[str, int] = defaultdict(int)
    if orders:
        order_ids = select(objects_table.c.id).where(*in_period).scalar_subquery()
        payment = objects_table.c
        rows = await ontology.conn.execute(
            select(links_table.c.target_id, objects_table.c.properties["amount"].as_integer())
            .select_from(links_table.join(objects_table, payment.id == links_table.c.source_id))
            .where(
                links_table.c.link_type == PAYS,
                links_table.c.target_id.in_(order_ids),
                payment.type == PAYMENT,
                _prop("status").in_(APPROVED),
            )
        )
        for order_id, amount in rows:
            covered[order_id] += amount or 0
    return orders, covered


def _match_by_amount(
    payments: Sequence[StoreObject],
    orders: Mapping[str, StoreObject],
    covered: Mapping[str, int],
    window: timedelta,
) -> dict[str, str]:
    """payment id -> order id: nearest first; a tie at any distance leaves both sides out."""
    open_orders: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
    for order in orders.values():
        total = order.get("total", 0)
        if total > 0 and covered.get(order.id, 0) < total:
            open_orders[total].append((_dt(order.get("placed_at")), order.id))
    pairs = []
    for payment in payments:
        approved_at = _dt(payment.get("approved_at"))
        for placed_at, order_id in open_orders.get(payment.get("amount", 0), ()):
            distance = abs(approved_at - placed_at)
            if distance <= window:
                pairs.append((distance, payment.id, order_id))
    pairs.sort()
    matched: dict[str, str] = {}
    done: set[str] = set()
    for _distance, group in groupby(pairs, key=lambda pair: pair[0]):
        live = [(p, o) for _, p, o in group if p not in done and o not in done]
        per_payment = Counter(p for p, _ in live)
        per_order = Counter(o for _, o in live)
        for payment_id, order_id in live:
            if per_payment[payment_id] == 1 and per_order[order_id] == 1:
                matched[payment_id] = order_id
        for payment_id, order_id in live:
            done.update((payment_id, order_id))
    return matched


def _settlement(payments: Sequence[StoreObject]) -> dict[str, Any]:
    """The period's card sales, each approval and each cancellation counted once.

    A payment stands for an approval (its amount) and, once cancelled, a cancellation (its
    cancelled amount); an imported row is one or the other. Approvals (and cancellations)
    that share an approval number are one card sale reported twice: the imported rows count,
    else one of the other reports.
    """
    # (approval number, approved|cancelled) -> [(is imported, payment, amount)]
    sales: dict[tuple[str, str], list[tuple[bool, StoreObject, int]]] = defaultdict(list)
    for payment in payments:
        if payment.get("method") != "card" or payment.get("status") not in SETTLED:
            continue
        key = payment.get("approval_no") or payment.id
        amount = payment.get("amount", 0)
        imported = payment.get("source") == CARD_IMPORT
        if imported:
            sales[(key, payment.get("status"))].append((True, payment, amount))
            continue
        sales[(key, "approved")].append((False, payment, amount))
        cancelled = payment.get("cancelled_amount")
        if cancelled is None and payment.get("status") == "cancelled":
            cancelled = amount
        if cancelled:
            sales[(key, "cancelled")].append((False, payment, cancelled))
    totals = {"approved": 0, "cancelled": 0}
    groups: dict[str, dict[str | None, dict[str, int]]] = {"issuer": {}, "acquirer": {}}
    for (_key, kind), reports in sorted(sales.items(), key=lambda entry: entry[0]):
        counted = [r for r in reports if r[0]] or [
            min(reports, key=lambda r: (r[1].get("source", ""), r[1].id))
        ]
        for _imported, payment, amount in counted:
            totals[kind] += amount
            card = payment.get("card", {})
            for name, by_name in groups.items():
                entry = by_name.setdefault(
                    card.get(name), {"count": 0, "approved": 0, "cancelled": 0}
                )
                entry["count"] += 1
                entry[kind] += amount
    return {
        "currency": "KRW",
        "card_approved": totals["approved"],
        "card_cancelled": totals["cancelled"],
        "card_net": totals["approved"] - totals["cancelled"],
        **{
            f"by_{name}": [
                {name: value, **entry, "net": entry["approved"] - entry["cancelled"]}
                for value, entry in sorted(
                    by_name.items(), key=lambda item: (item[0] is None, item[0] or "")
                )
            ]
            for name, by_name in groups.items()
        },
    }


def _period(ctx: ActionContext, params: dict[str, Any]) -> tuple[str, str]:
    start: str | None = params.get("start")
    end: str | None = params.get("end")
    if end is None:
        if start is None:
            return day_bounds(ctx.now, ctx.timezone, params["day_start_hour"])
        end = to_iso(_dt(start) + timedelta(days=1))
    elif start is None:
        start = to_iso(_dt(end) - timedelta(days=1))
    if start >= end:
        raise ValidationError("invalid_period", start=start, end=end, field="end")
    return start, end


async def reconcile(ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
    """Match the period's unlinked approved payments to orders; list what stays unmatched and
    the orders sold without a payment; sum the period's card sales."""
    ontology = ctx.ontology
    start, end = _period(ctx, params)
    window = timedelta(minutes=params["window_minutes"])
    payments = await _payments_in(ontology, start, end)
    waiting = sorted(
        (
            payment
            for payment, linked in payments
            if not linked and payment.get("status") in APPROVED
        ),
        key=lambda p: (p.get("approved_at"), p.id),
    )
    matches: dict[str, tuple[str, str]] = {}  # payment id -> (order id, rule)

    referencing = [p for p in waiting if p.get("order_ref")]
    for payment_id, order_id in (await _orders_by_reference(ontology, referencing)).items():
        matches[payment_id] = (order_id, "reference")

    unnamed = [p for p in waiting if not p.get("order_ref")]
    with_approval = [p for p in unnamed if p.get("approval_no")]
    if with_approval:
        near = await _linked_by_approval(
            ontology, to_iso(_dt(start) - SAME_SALE), to_iso(_dt(end) + SAME_SALE)
        )
        by_id = {p.id: p for p in waiting}
        for payment_id, (order_id, _rule) in matches.items():
            payment = by_id[payment_id]
            if payment.get("approval_no"):
                near.setdefault(payment.get("approval_no"), []).append(
                    (_dt(payment.get("approved_at")), order_id)
                )
        for payment in with_approval:
            approved_at = _dt(payment.get("approved_at"))
            paid = {
                order_id
                for at, order_id in near.get(payment.get("approval_no"), ())
                if abs(at - approved_at) <= SAME_SALE
            }
            if len(paid) == 1:
                matches[payment.id] = (paid.pop(), "approval_no")

    orders, covered = await _candidate_orders(
        ontology, to_iso(_dt(start) - window), to_iso(_dt(end) + window)
    )
    amounts = {p.id: p.get("amount", 0) for p in waiting}
    for payment_id, (order_id, _rule) in matches.items():
        covered[order_id] = covered.get(order_id, 0) + amounts[payment_id]
    by_amount = _match_by_amount(
        [p for p in unnamed if p.id not in matches and p.get("amount", 0) > 0],
        orders,
        covered,
        window,
    )
    for payment_id, order_id in by_amount.items():
        matches[payment_id] = (order_id, "amount")
        covered[order_id] = covered.get(order_id, 0) + amounts[payment_id]

    now = to_iso(ctx.now)
    await ontology.add_links(
        [
            Link(source_id=payment_id, link_type=PAYS, target_id=order_id, properties={})
            for payment_id, (order_id, _rule) in matches.items()
        ]
    )
    await ontology.update_many(
        [
            (p, {**p.properties, "reconciled_at": now, "matched_by": matches[p.id][1]})
            for p in waiting
            if p.id in matches
        ]
    )
    matched = Counter(rule for _order_id, rule in matches.values())
    unmatched = [
        {
            "payment_id": p.id,
            "source": p.get("source"),
            "method": p.get("method"),
            "amount": p.get("amount"),
            "approved_at": p.get("approved_at"),
            "approval_no": p.get("approval_no"),
        }
        for p in waiting
        if p.id not in matches
    ]
    without_payment = [
        {
            "order_id": order.id,
            "number": order.get("number"),
            "total": order.get("total"),
            "placed_at": order.get("placed_at"),
            "source": order.get("source"),
        }
        for order in sorted(orders.values(), key=lambda o: (o.get("placed_at"), o.id))
        if order.get("status") in SOLD_ORDER
        and start <= order.get("placed_at") < end
        and not covered.get(order.id)
    ]
    result = {
        "start": start,
        "end": end,
        "matched": {rule: matched[rule] for rule in RULES},
        # counted whole, listed up to LIST_LIMIT (a month of imports is no response to read)
        "unmatched_payments_count": len(unmatched),
        "unmatched_payments": unmatched[:LIST_LIMIT],
        "orders_without_payment_count": len(without_payment),
        "orders_without_payment": without_payment[:LIST_LIMIT],
        "settlement": _settlement([payment for payment, _linked in payments]),
    }
    ctx.emit(
        "reconciled",
        start=start,
        end=end,
        matched=result["matched"],
        unmatched_payments=len(unmatched),
        orders_without_payment=len(without_payment),
    )
    return result


RECONCILE_ACTIONS = (
    ActionType(
        name="reconcile",
        params={
            "start": Field(kind="datetime"),
            "end": Field(kind="datetime"),
            "day_start_hour": Field(kind="integer", default=0, min=0, max=23),
            "window_minutes": Field(kind="integer", default=10, min=0, max=1440),
        },
        apply=reconcile,
    ),
)
