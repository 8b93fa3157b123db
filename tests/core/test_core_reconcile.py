"""Reconciliation on the demo cafe: unlinked payments matched to orders by reference, approval
number and amount (nearest, ties left alone); what stays unmatched; the card settlement; the
snapshot's count of unreconciled payments."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from custom_components.careon.core import (
    ERROR_KEYS,
    ActionContext,
    ActionEngine,
    ActionType,
    Link,
    ValidationError,
    store_snapshot,
)
from custom_components.careon.core.actions import ACTIONS
from custom_components.careon.core.fields import Field, to_iso, validate_fields
from custom_components.careon.core.ontology import new_object_id
from custom_components.careon.core.queries import day_bounds

SEOUL = ZoneInfo("Asia/Seoul")  # the tests' stores (conftest)
DAY = {"start": "2025-03-01T00:00:00+09:00", "end": "2025-03-02T00:00:00+09:00"}
DAY_UTC = {"start": "2025-02-28T15:00:00.000000+00:00", "end": "2025-03-01T15:00:00.000000+00:00"}
CROISSANT = "product.croissant"


def at(hour: int, minute: int = 0, date: str = "2025-03-01") -> str:
    """A time in Seoul (on 1 March 2025 unless told)."""
    return f"{date}T{hour:02d}:{minute:02d}:00+09:00"


def utc(value: str) -> str:
    return to_iso(datetime.fromisoformat(value))


async def _seed_payment(ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
    """A Payment as a connector would have recorded it (validated against the schema)."""
    spec = ctx.schema.types["Payment"].properties
    properties = validate_fields(spec, params["properties"], tz=ctx.timezone)
    payment_id = new_object_id("Payment", params["key"])
    await ctx.ontology.create("Payment", params["key"], properties, object_id=payment_id)
    if params.get("pays"):
        await ctx.ontology.add_links(
            [Link(source_id=payment_id, link_type="pays", target_id=params["pays"], properties={})]
        )
    return {"payment_id": payment_id}


async def _seed_order_ref(ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
    """The vendor id of an order, as sync_order records it."""
    await ctx.ontology.add_external(
        params["source"], "order", {params["external_id"]: params["order"]}
    )
    return {}


TEST_ACTIONS = {
    "seed_payment": ActionType(
        name="seed_payment",
        params={
            "key": Field(kind="string", required=True),
            "properties": Field(kind="mapping", required=True),
            "pays": Field(kind="string"),
        },
        apply=_seed_payment,
    ),
    "seed_order_ref": ActionType(
        name="seed_order_ref",
        params={
            "source": Field(kind="string", required=True),
            "external_id": Field(kind="string", required=True),
            "order": Field(kind="string", required=True),
        },
        apply=_seed_order_ref,
    ),
}


@pytest.fixture
async def store(cafe_url: str, open_engine: Callable[..., Awaitable[ActionEngine]]) -> ActionEngine:
    """The demo cafe, with the test's seeding actions."""
    return await open_engine(cafe_url, actions={**ACTIONS, **TEST_ACTIONS})


class Store:
    """Orders and payments on a test store, in few words."""

    def __init__(self, engine: ActionEngine, act: Any) -> None:
        self.engine = engine
        self.act = act

    async def order(self, placed_at: str, total: int, status: str = "paid", **extra: Any) -> str:
        cancel = status == "cancelled"
        result = await self.act(
            self.engine,
            "place_order",
            via="pos",
            lines=[{"product": CROISSANT}],
            total=total,
            status="paid" if cancel else status,
            placed_at=placed_at,
            **extra,
        )
        order_id: str = result.result["order_id"]
        if cancel:
            await self.act(self.engine, "cancel_order", order=order_id)
        return order_id

    async def payment(
        self,
        key: str,
        amount: int,
        approved_at: str,
        *,
        pays: str | None = None,
        **properties: Any,
    ) -> str:
        properties = {
            "method": "card",
            "status": "approved",
            "source": "toss_place",
            "amount": amount,
            "approved_at": approved_at,
            **properties,
        }
        params: dict[str, Any] = {"key": key, "properties": properties}
        if pays:
            params["pays"] = pays
        result = await self.act(self.engine, "seed_payment", **params)
        payment_id: str = result.result["payment_id"]
        return payment_id

    async def reconcile(self, **params: Any) -> Any:
        return await self.act(self.engine, "reconcile", **params)

    async def pays(self, payment_id: str) -> list[str]:
        async with self.engine.reader() as ontology:
            return [link.target_id for link in await ontology.links_from([payment_id], "pays")]

    async def get(self, object_id: str) -> Any:
        async with self.engine.reader() as ontology:
            return await ontology.get(object_id)


@pytest.fixture
def shop(store: ActionEngine, act) -> Store:
    return Store(store, act)


def _unmatched(
    *payments: tuple[str, int, str, str | None], source: str = "toss_place"
) -> list[dict[str, Any]]:
    return [
        {
            "payment_id": payment_id,
            "source": source,
            "method": "card",
            "amount": amount,
            "approved_at": utc(approved_at),
            "approval_no": approval_no,
        }
        for payment_id, amount, approved_at, approval_no in payments
    ]


def _without(shop_orders: list[tuple[str, int, str, str]]) -> list[dict[str, Any]]:
    return [
        {
            "order_id": order_id,
            "number": order_id[6:12].upper(),
            "total": total,
            "placed_at": utc(placed_at),
            "source": source,
        }
        for order_id, total, placed_at, source in shop_orders
    ]


async def test_reference_matches_the_order_a_payment_names(shop: Store) -> None:
    by_external = await shop.order(at(9), 5000, external_id="T-1")
    by_id = await shop.order(at(9, 30), 6000)
    by_vendor = await shop.order(at(10), 7000, external_id="local-3")
    await shop.act(
        shop.engine, "seed_order_ref", source="toss_place", external_id="TOSS-3", order=by_vendor
    )
    twins = [await shop.order(at(12), 2000, external_id="DUP") for _ in range(2)]
    unknown_order = await shop.order(at(11, 1), 8000)

    p_external = await shop.payment("p1", 5000, at(9, 1), order_ref="T-1", source="nice_payments")
    # an order's own id is no vendor's reference: it names no order, and the payment waits
    p_id = await shop.payment("p2", 3000, at(9, 31), order_ref=by_id)
    p_vendor = await shop.payment("p3", 7000, at(10, 2), order_ref="TOSS-3")
    # names an order nobody knows yet: it waits for it, never guessed onto the 8000 order
    p_waiting = await shop.payment("p4", 8000, at(11), order_ref="TOSS-404", approval_no="0404")
    # names two orders: left alone
    p_twins = await shop.payment("p5", 2000, at(12, 1), order_ref="DUP")
    # not money received
    cancelled = await shop.payment("p6", 5000, at(9, 2), order_ref="T-1", status="cancelled")

    result = await shop.reconcile(**DAY)
    body = result.result
    assert (body["start"], body["end"]) == (DAY_UTC["start"], DAY_UTC["end"])
    assert body["matched"] == {"reference": 2, "approval_no": 0, "amount": 0}
    assert body["unmatched_payments"] == _unmatched(
        (p_id, 3000, at(9, 31), None),
        (p_waiting, 8000, at(11), "0404"),
        (p_twins, 2000, at(12, 1), None),
    )
    assert body["orders_without_payment"] == _without(
        [(by_id, 6000, at(9, 30), "pos"), (unknown_order, 8000, at(11, 1), "pos")]
        + [(t, 2000, at(12), "pos") for t in sorted(twins)]
    )
    for payment_id, order_id in ((p_external, by_external), (p_vendor, by_vendor)):
        assert await shop.pays(payment_id) == [order_id]
        payment = await shop.get(payment_id)
        assert payment.get("matched_by") == "reference"
        assert payment.get("reconciled_at") == to_iso(result.occurred_at)
        assert payment.version == 2
    for payment_id in (p_id, p_waiting, p_twins, cancelled):
        assert await shop.pays(payment_id) == []
        assert (await shop.get(payment_id)).get("matched_by") is None
    assert result.updated == {p_external, p_vendor}
    assert [(e.type, dict(e.data)) for e in result.events] == [
        (
            "reconciled",
            {
                "start": DAY_UTC["start"],
                "end": DAY_UTC["end"],
                "matched": {"reference": 2, "approval_no": 0, "amount": 0},
                "unmatched_payments": 3,
                "orders_without_payment": 4,
            },
        )
    ]


async def test_approval_number_follows_a_payment_already_linked(shop: Store) -> None:
    paid = await shop.order(at(12), 4500)
    await shop.payment("toss1", 4500, at(12), pays=paid, approval_no="00777001")
    # linked by reference in the same run: its approval number counts right away
    later = await shop.order(at(13), 9000, external_id="T-2")
    toss2 = await shop.payment("toss2", 9000, at(13), order_ref="T-2", approval_no="00777002")
    # one approval number on two orders: which one is unknowable
    first, second = await shop.order(at(14), 3000), await shop.order(at(14, 30), 3000)
    await shop.payment("toss3", 3000, at(14), pays=first, approval_no="00777003")
    await shop.payment("toss4", 3000, at(14, 30), pays=second, approval_no="00777003")
    # the same number weeks earlier is another sale
    old = await shop.order(at(12, date="2025-02-10"), 1234)
    await shop.payment("toss5", 1234, at(12, date="2025-02-10"), pays=old, approval_no="00777005")

    rows = [
        {
            "row": 2,
            "approved_at": at(12),
            "approval_no": "00777001",
            "amount": 4500,
            "status": "approved",
            "issuer": "신한카드",
        },
        {
            "row": 3,
            "approved_at": at(12, 30),
            "approval_no": "00777001",
            "amount": 4500,
            "status": "cancelled",
        },
        {
            "row": 4,
            "approved_at": at(13),
            "approval_no": "00777002",
            "amount": 9000,
            "status": "approved",
        },
        {
            "row": 5,
            "approved_at": at(14, 31),
            "approval_no": "00777003",
            "amount": 3000,
            "status": "approved",
        },
        {
            "row": 6,
            "approved_at": at(18),
            "approval_no": "00777005",
            "amount": 1234,
            "status": "approved",
        },
    ]
    imported = await shop.act(
        shop.engine, "import_card_sales", via="card_import", file_name="f.csv", rows=rows
    )
    assert imported.result["imported"] == 5
    async with shop.engine.reader() as ontology:
        by_row = {
            p.get("raw")["row"]: p.id
            for p in await ontology.by_type("Payment")
            if p.get("source") == "card_import"
        }

    body = (await shop.reconcile(**DAY)).result
    assert body["matched"] == {"reference": 1, "approval_no": 2, "amount": 0}
    assert await shop.pays(toss2) == [later]
    assert await shop.pays(by_row[2]) == [paid]
    assert await shop.pays(by_row[4]) == [later]
    assert (await shop.get(by_row[4])).get("matched_by") == "approval_no"
    for row in (3, 5, 6):
        assert await shop.pays(by_row[row]) == []
    assert body["unmatched_payments"] == _unmatched(
        (by_row[5], 3000, at(14, 31), "00777003"),
        (by_row[6], 1234, at(18), "00777005"),
        source="card_import",
    )
    assert body["orders_without_payment"] == []


async def test_amount_matches_the_nearest_order_and_leaves_ties(shop: Store) -> None:
    order_a = await shop.order(at(12), 7500)
    order_b = await shop.order(at(12, 8), 7500, status="completed")
    pay_a = await shop.payment("a", 7500, at(12, 3))  # 3 min from A, 5 from B
    pay_b = await shop.payment("b", 7500, at(12, 9))  # 1 min from B: B is taken first
    # one payment exactly between two orders
    tie_1, tie_2 = await shop.order(at(14, 55), 4000), await shop.order(at(15, 5), 4000)
    pay_tie = await shop.payment("tie", 4000, at(15))
    # two payments exactly either side of one order
    twice = await shop.order(at(21), 1500)
    pay_q1 = await shop.payment("q1", 1500, at(20, 58))
    pay_q2 = await shop.payment("q2", 1500, at(21, 2))
    # outside the window (10 minutes by default)
    far = await shop.order(at(16, 11), 9000)
    pay_far = await shop.payment("far", 9000, at(16))
    # already covered by its approved payment
    covered = await shop.order(at(17), 6000)
    await shop.payment("covered", 6000, at(17), pays=covered)
    pay_covered = await shop.payment("c2", 6000, at(17, 1))
    # a cancelled order is not paid for
    await shop.order(at(18), 5500, status="cancelled")
    pay_cancelled = await shop.payment("x", 5500, at(18, 1))
    # an open order (table service) may be; a partly cancelled payment still pays
    open_order = await shop.order(at(19), 3300, status="open")
    pay_open = await shop.payment("o", 3300, at(19, 2))
    partial = await shop.order(at(20), 2200)
    pay_partial = await shop.payment(
        "pp", 2200, at(20, 3), status="partial_cancelled", cancelled_amount=200
    )
    # outside the period: neither matched nor listed
    await shop.payment("tomorrow", 7500, at(0, 5, date="2025-03-02"))

    body = (await shop.reconcile(**DAY)).result
    assert body["matched"] == {"reference": 0, "approval_no": 0, "amount": 4}
    for payment_id, order_id in (
        (pay_a, order_a),
        (pay_b, order_b),
        (pay_open, open_order),
        (pay_partial, partial),
    ):
        assert await shop.pays(payment_id) == [order_id]
        assert (await shop.get(payment_id)).get("matched_by") == "amount"
    assert body["unmatched_payments"] == _unmatched(
        (pay_tie, 4000, at(15), None),
        (pay_far, 9000, at(16), None),
        (pay_covered, 6000, at(17, 1), None),
        (pay_cancelled, 5500, at(18, 1), None),
        (pay_q1, 1500, at(20, 58), None),
        (pay_q2, 1500, at(21, 2), None),
    )
    assert body["orders_without_payment"] == _without(
        [
            (tie_1, 4000, at(14, 55), "pos"),
            (tie_2, 4000, at(15, 5), "pos"),
            (far, 9000, at(16, 11), "pos"),
            (twice, 1500, at(21), "pos"),
        ]
    )

    # a wider window reaches the far order; nothing matched before moves, ties stay ties
    again = (await shop.reconcile(window_minutes=15, **DAY)).result
    assert again["matched"] == {"reference": 0, "approval_no": 0, "amount": 1}
    assert await shop.pays(pay_far) == [far]
    assert [p["payment_id"] for p in again["unmatched_payments"]] == [
        pay_tie,
        pay_covered,
        pay_cancelled,
        pay_q1,
        pay_q2,
    ]
    assert [o["order_id"] for o in again["orders_without_payment"]] == [tie_1, tie_2, twice]
    assert (await shop.get(pay_a)).version == 2  # matched once, untouched since


async def test_settlement_counts_each_card_sale_once(shop: Store) -> None:
    def card(issuer: str | None, acquirer: str | None = None) -> dict[str, Any]:
        found = {"issuer": issuer, "acquirer": acquirer or issuer}
        return {k: v for k, v in found.items() if v is not None}

    # reported by Toss and in the card-sales file: the file's row counts
    await shop.payment("a1", 10000, at(10), approval_no="A1", card=card("신한"))
    # approved, then cancelled: Toss has one payment, the file two rows
    await shop.payment(
        "a2",
        3000,
        at(11),
        approval_no="A2",
        status="cancelled",
        cancelled_amount=3000,
        cancelled_at=at(11, 30),
        card=card("국민"),
    )
    # only Toss knows these
    await shop.payment(
        "a3",
        20000,
        at(12),
        approval_no="A3",
        status="partial_cancelled",
        cancelled_amount=5000,
        card=card("현대카드", "BC카드"),
    )
    await shop.payment(
        "a4",
        8000,
        at(13),
        approval_no="A4",
        status="cancelled",
        source="nice_payments",
        card=card("삼성카드"),
    )
    # two connectors report one sale
    await shop.payment("a5t", 2500, at(14), approval_no="A5", card=card("롯데카드"))
    await shop.payment(
        "a5n", 2500, at(14), approval_no="A5", source="nice_payments", card=card("롯데카드")
    )
    # no approval number, no card details: two sales
    await shop.payment("n1", 1000, at(15))
    await shop.payment("n2", 1000, at(15, 1))
    # not card sales of the day
    await shop.payment("cash", 7000, at(16), method="cash")
    await shop.payment("failed", 9999, at(16), status="failed", approval_no="F")
    await shop.payment("pending", 9999, at(16), status="pending")
    await shop.payment("before", 5000, at(23, date="2025-02-28"), approval_no="B")
    rows = [
        {
            "row": 2,
            "approved_at": at(10),
            "approval_no": "A1",
            "amount": 10000,
            "status": "approved",
            "issuer": "신한카드",
            "acquirer": "신한카드",
        },
        {
            "row": 3,
            "approved_at": at(11),
            "approval_no": "A2",
            "amount": 3000,
            "status": "approved",
            "issuer": "KB국민카드",
            "acquirer": "KB국민카드",
        },
        {
            "row": 4,
            "approved_at": at(11, 30),
            "approval_no": "A2",
            "amount": 3000,
            "status": "cancelled",
            "issuer": "KB국민카드",
            "acquirer": "KB국민카드",
        },
    ]
    await shop.act(shop.engine, "import_card_sales", via="card_import", file_name="f", rows=rows)

    def entry(
        name: str, value: str | None, count: int, approved: int, cancelled: int
    ) -> dict[str, Any]:
        return {
            name: value,
            "count": count,
            "approved": approved,
            "cancelled": cancelled,
            "net": approved - cancelled,
        }

    body = (await shop.reconcile(**DAY)).result
    assert body["settlement"] == {
        "currency": "KRW",
        "card_approved": 10000 + 3000 + 20000 + 8000 + 2500 + 1000 + 1000,
        "card_cancelled": 3000 + 5000 + 8000,
        "card_net": 45500 - 16000,
        "by_issuer": [
            entry("issuer", "KB국민카드", 2, 3000, 3000),
            entry("issuer", "롯데카드", 1, 2500, 0),
            entry("issuer", "삼성카드", 2, 8000, 8000),
            entry("issuer", "신한카드", 1, 10000, 0),
            entry("issuer", "현대카드", 2, 20000, 5000),
            entry("issuer", None, 2, 2000, 0),
        ],
        "by_acquirer": [
            entry("acquirer", "BC카드", 2, 20000, 5000),
            entry("acquirer", "KB국민카드", 2, 3000, 3000),
            entry("acquirer", "롯데카드", 1, 2500, 0),
            entry("acquirer", "삼성카드", 2, 8000, 8000),
            entry("acquirer", "신한카드", 1, 10000, 0),
            entry("acquirer", None, 2, 2000, 0),
        ],
    }
    # matching changes nothing of it: the same sales, counted the same
    assert (await shop.reconcile(**DAY)).result["settlement"] == body["settlement"]


async def test_the_period(shop: Store, act) -> None:
    for start, end in (
        (DAY["start"], DAY["start"]),
        (DAY["end"], DAY["start"]),
        ("2025-03-01T10:00:00+09:00", "2025-03-01T01:00:00Z"),  # 10:00 after 01:00 UTC = 10:00
    ):
        with pytest.raises(ValidationError) as info:
            await shop.reconcile(start=start, end=end)
        err = info.value
        assert err.translation_key == "invalid_period"
        assert set(ERROR_KEYS["invalid_period"]) <= set(err.placeholders)
        assert (err.placeholders["start"], err.placeholders["end"]) == (utc(start), utc(end))
    # one side given: a day from it
    body = (await shop.reconcile(start=DAY["start"])).result
    assert (body["start"], body["end"]) == (DAY_UTC["start"], DAY_UTC["end"])
    body = (await shop.reconcile(end=DAY["end"])).result
    assert (body["start"], body["end"]) == (DAY_UTC["start"], DAY_UTC["end"])
    # neither: the business day now, which may start at 5 a.m.
    for hour in (0, 5):
        before = datetime.now(UTC)
        body = (await shop.reconcile(day_start_hour=hour)).result
        after = datetime.now(UTC)
        assert (body["start"], body["end"]) in {
            day_bounds(before, SEOUL, hour),
            day_bounds(after, SEOUL, hour),
        }
    with pytest.raises(ValidationError) as info:
        await shop.reconcile(window_minutes=1441)
    assert info.value.field == "window_minutes"
    with pytest.raises(ValidationError) as info:
        await shop.reconcile(day_start_hour=24)
    assert info.value.field == "day_start_hour"


async def test_the_snapshot_counts_unreconciled_payments(shop: Store) -> None:
    async def snapshot() -> Any:
        async with shop.engine.reader() as ontology:
            return await store_snapshot(ontology, tz=SEOUL, now=datetime.now(UTC))

    empty = await snapshot()
    assert (empty.unreconciled_payments, empty.orders_today, empty.revenue_today) == (0, 0, 0)

    order = await shop.order(at(12), 4800)
    await shop.payment("linked", 4800, at(12), pays=order)
    await shop.payment("a", 3000, at(13))
    await shop.payment("b", 3100, at(13, 30))
    await shop.payment("partial", 2000, at(14), status="partial_cancelled", cancelled_amount=500)
    await shop.payment("cancelled", 2000, at(14, 5), status="cancelled")
    await shop.payment("pending", 2000, at(14, 10), status="pending")
    today = await shop.act(
        shop.engine, "place_order", via="pos", lines=[{"product": CROISSANT}], total=3100
    )
    snap = await snapshot()
    assert (snap.unreconciled_payments, snap.orders_today, snap.revenue_today) == (3, 1, 3100)

    # the 3100 payment is matched by amount to an order of its day; the order placed now is
    # far outside its window
    matched_order = await shop.order(at(13, 31), 3100)
    result = await shop.reconcile(**DAY)
    assert result.result["matched"] == {"reference": 0, "approval_no": 0, "amount": 1}
    assert [p["amount"] for p in result.result["unmatched_payments"]] == [3000, 2000]
    snap = await snapshot()
    assert (snap.unreconciled_payments, snap.orders_today, snap.revenue_today) == (2, 1, 3100)
    async with shop.engine.reader() as ontology:
        assert [link.source_id for link in await ontology.links_to([matched_order], "pays")] == [
            new_object_id("Payment", "b")
        ]
        assert await ontology.links_to([today.result["order_id"]], "pays") == []


async def test_a_payment_before_its_order_from_another_connector(shop: Store) -> None:
    """NICE reports the card payment of a Toss order before Toss reports the order: sync_order
    links only its own connector's waiting payments, reconciliation links the rest."""
    payment = await shop.act(
        shop.engine,
        "sync_payment",
        via="payment",
        source="nice_payments",
        external_id="tid-1",
        order_ref="T-100",
        method="card",
        status="approved",
        amount=8000,
        approval_no="30000001",
        approved_at=at(10, 1),
        card={"issuer": "현대카드", "number": "5365101234567890"},
    )
    payment_id = payment.result["payment_id"]
    order = await shop.act(
        shop.engine,
        "sync_order",
        via="pos",
        source="toss_place",
        external_id="T-100",
        state="completed",
        placed_at=at(10),
        total=8000,
        lines=[{"title": "버터 크루아상", "unit_price": 8000}],
    )
    order_id = order.result["order_id"]
    assert await shop.pays(payment_id) == []
    await shop.act(
        shop.engine,
        "import_card_sales",
        via="card_import",
        file_name="f.csv",
        rows=[
            {
                "row": 2,
                "approved_at": at(10, 1),
                "approval_no": "30000001",
                "amount": 8000,
                "status": "approved",
                "issuer": "현대카드",
                "acquirer": "현대카드",
            },
        ],
    )
    async with shop.engine.reader() as ontology:
        snap = await store_snapshot(ontology, tz=SEOUL, now=datetime.now(UTC))
    assert snap.unreconciled_payments == 2

    body = (await shop.reconcile(**DAY)).result
    assert body["matched"] == {"reference": 1, "approval_no": 1, "amount": 0}
    assert body["unmatched_payments"] == []
    assert body["orders_without_payment"] == []
    async with shop.engine.reader() as ontology:
        linked = await ontology.links_to([order_id], "pays")
        assert len(linked) == 2
        assert payment_id in {link.source_id for link in linked}
        snap = await store_snapshot(ontology, tz=SEOUL, now=datetime.now(UTC))
    assert snap.unreconciled_payments == 0
    # one card sale: the file's row counts, NICE's report of it does not again
    settlement = body["settlement"]
    assert (settlement["card_approved"], settlement["card_cancelled"]) == (8000, 0)
    assert settlement["by_issuer"] == [
        {"issuer": "현대카드", "count": 1, "approved": 8000, "cancelled": 0, "net": 8000}
    ]
