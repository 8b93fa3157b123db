"""The action engine: audit trail, idempotency, listeners, atomicity and concurrency."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from custom_components.careon.core import (
    ActionContext,
    ActionEngine,
    ActionResult,
    ActionType,
    CareOnError,
    ConflictError,
    StoreUnavailableError,
    ValidationError,
    database as database_module,
    engine as engine_module,
)
from custom_components.careon.core.actions import ACTIONS
from custom_components.careon.core.database import create_engine
from custom_components.careon.core.engine import SCHEMA_EXTENSIONS_KEY
from custom_components.careon.core.fields import Field
from custom_components.careon.core.tables import audit_table, meta_table

ACTOR = "tester"  # the actor of tests/core/conftest.py's act()
LATTE = "product.latte_hot"
AMERICANO = "product.americano_hot"


async def _audit_rows(engine: ActionEngine) -> list[Any]:
    async with engine.engine.connect() as conn:
        return list(await conn.execute(select(audit_table).order_by(audit_table.c.id)))


async def test_every_committed_action_writes_one_audit_row(cafe: ActionEngine, act) -> None:
    before = await _audit_rows(cafe)
    assert len(before) == 52  # the demo cafe's create_object actions
    assert {(row.action, row.actor, row.source) for row in before} == {
        ("create_object", "careon", "demo")
    }
    assert before[0].idempotency_key == "demo:Store:store"

    placed = await cafe.execute(
        "place_order",
        {"lines": [{"product": LATTE, "qty": "2"}], "channel": "togo"},
        actor="user:1234",
        source="service",
        idempotency_key="till-1",
        reason="전화 주문",
    )
    with pytest.raises(ValidationError):
        await act(cafe, "place_order", lines=[{"product": "product.none"}])
    cancelled = await act(cafe, "cancel_order", order=placed.result["order_id"], why="실수")
    rows = await _audit_rows(cafe)
    assert len(rows) == 54  # the refused order left no row
    row = rows[-2]
    assert row.id == placed.audit_id
    assert row.action == "place_order"
    assert row.actor == "user:1234"
    assert row.source == "service"
    assert row.idempotency_key == "till-1"
    assert row.reason == "전화 주문"
    # the parameters as validated (normalised, defaults filled in)
    assert row.parameters == {
        "lines": [{"product": LATTE, "qty": 2}],
        "channel": "togo",
        "status": "paid",
    }
    assert row.result == placed.result
    assert row.created_at == placed.occurred_at.replace(tzinfo=None)
    last = rows[-1]
    assert (last.id, last.action, last.actor, last.reason, last.idempotency_key) == (
        cancelled.audit_id,
        "cancel_order",
        ACTOR,
        "실수",
        None,
    )
    assert last.result == cancelled.result
    assert last.created_at >= row.created_at


async def test_unknown_action_and_bad_parameters_are_refused_before_the_database(
    cafe: ActionEngine, act
) -> None:
    with pytest.raises(ValidationError) as info:
        await act(cafe, "fly_to_the_moon")
    assert info.value.placeholders == {"action": "fly_to_the_moon", "field": "action"}
    with pytest.raises(ValidationError) as info:
        await act(
            cafe, "adjust_inventory", item="inventory_item.milk", mode="count", qty=1, colour="red"
        )
    assert (info.value.translation_key, info.value.field) == ("unknown_field", "colour")


async def test_replay_returns_the_first_result_and_changes_nothing(
    cafe: ActionEngine, act, dump
) -> None:
    heard: list[ActionResult] = []
    cafe.subscribe(heard.append)
    first = await act(
        cafe, "place_order", idempotency_key="pos-0001", via="pos", lines=[{"product": LATTE}]
    )
    assert not first.replayed
    assert heard == [first]
    before = await dump(cafe)

    replay = await act(
        cafe, "place_order", idempotency_key="pos-0001", via="pos", lines=[{"product": LATTE}]
    )
    assert replay.replayed
    assert replay.result == first.result
    assert (replay.audit_id, replay.action, replay.actor, replay.source) == (
        first.audit_id,
        "place_order",
        ACTOR,
        "pos",
    )
    assert replay.idempotency_key == "pos-0001"
    assert replay.occurred_at == first.occurred_at
    assert replay.events == ()
    assert replay.created == replay.updated == frozenset()
    # the same key with other parameters is another sale: refused, never answered with the
    # first sale's result (that would drop the second sale without a word)
    with pytest.raises(ValidationError) as info:
        await act(
            cafe,
            "place_order",
            idempotency_key="pos-0001",
            via="pos",
            lines=[{"product": AMERICANO, "qty": 3}],
        )
    assert info.value.translation_key == "idempotency_conflict"
    assert info.value.placeholders == {
        "key": "pos-0001",
        "action": "place_order",
        "field": "idempotency_key",
    }
    assert await dump(cafe) == before
    assert heard == [first]  # a replay is not announced

    # the same key for another action is a conflict, and changes nothing either
    with pytest.raises(ValidationError) as info:
        await act(cafe, "cancel_order", idempotency_key="pos-0001", order=first.result["order_id"])
    assert info.value.translation_key == "idempotency_conflict"
    assert info.value.placeholders == {
        "key": "pos-0001",
        "action": "place_order",
        "field": "idempotency_key",
    }
    assert await dump(cafe) == before
    assert heard == [first]


async def test_replay_of_a_cancel_after_the_order_was_cancelled(
    cafe: ActionEngine, act, dump, on_hand
) -> None:
    order = (await act(cafe, "place_order", lines=[{"product": LATTE}])).result["order_id"]
    first = await act(cafe, "cancel_order", order=order, idempotency_key="cancel-1")
    before = await dump(cafe)
    # the second run fails its criteria (already cancelled): the key turns it into a replay
    again = await act(cafe, "cancel_order", order=order, idempotency_key="cancel-1")
    assert again.replayed
    assert again.result == first.result
    assert await dump(cafe) == before
    assert await on_hand(cafe, "milk") == 18000  # restocked once, not twice
    # without the key it is an error, as before
    with pytest.raises(ValidationError) as info:
        await act(cafe, "cancel_order", order=order)
    assert info.value.translation_key == "order_status_invalid"


async def test_replay_from_another_engine_and_after_a_refusal(
    cafe_url: str, open_engine, act, dump
) -> None:
    one, two = await open_engine(cafe_url), await open_engine(cafe_url)
    # a refused action records nothing: the same key works once the cause is fixed
    with pytest.raises(ValidationError):
        await act(
            one, "update_availability", idempotency_key="k", product="product.x", available=False
        )
    first = await act(
        one, "update_availability", idempotency_key="k", product=LATTE, available=False
    )
    assert not first.replayed
    before = await dump(one)
    replay = await act(
        two, "update_availability", idempotency_key="k", product=LATTE, available=False
    )
    assert replay.replayed
    assert replay.result == first.result
    assert await dump(two) == before
    # the demo is seeded with keys: seeding again through another engine is all replays
    replay = await two.execute(
        "create_object",
        {
            "object_type": "Zone",
            "key": "hall",
            "name": "홀",
            "properties": {"kind": "dining", "capacity": 12},
        },
        actor="careon",
        source="demo",
        idempotency_key="demo:Zone:hall",
    )
    assert replay.replayed
    assert replay.result["object_id"] == "zone.hall"
    assert await dump(two) == before
    # ... and the same key asking for something else is refused
    with pytest.raises(ValidationError) as info:
        await two.execute(
            "create_object",
            {
                "object_type": "Zone",
                "key": "hall",
                "name": "다른 홀",
                "properties": {"kind": "dining"},
            },
            actor="careon",
            source="demo",
            idempotency_key="demo:Zone:hall",
        )
    assert info.value.translation_key == "idempotency_conflict"
    assert await dump(two) == before


async def test_listeners_hear_only_committed_actions(
    cafe: ActionEngine, act, database: Any, cafe_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    def committed_orders() -> int:
        """Count orders from outside the engine, synchronously (another client)."""
        if database.backend == "sqlite":
            path = cafe_url.split(":///", 1)[1]
            with sqlite3.connect(path) as conn:
                return int(
                    conn.execute(
                        "SELECT count(*) FROM careon_objects WHERE type = 'Order'"
                    ).fetchone()[0]
                )
        name = cafe_url.rsplit("/", 1)[1]
        return int(
            database.server.psql(
                "SELECT count(*) FROM careon_objects WHERE type = 'Order'", database=name
            )
        )

    seen: list[tuple[str, int]] = []

    def listener(result: ActionResult) -> None:
        seen.append((result.action, committed_orders()))

    async def hook(ctx: ActionContext) -> None:
        seen.append(("before_commit", committed_orders()))

    unsubscribe = cafe.subscribe(listener)
    cafe.before_commit.append(hook)
    await act(cafe, "place_order", lines=[{"product": LATTE}])
    assert seen == [("before_commit", 0), ("place_order", 1)]

    # a refused action, or one whose commit fails, is not announced
    seen.clear()
    with pytest.raises(ValidationError):
        await act(cafe, "place_order", lines=[{"product": "product.none"}])
    cafe.before_commit.append(_fail)
    with pytest.raises(RuntimeError):
        await act(cafe, "place_order", lines=[{"product": LATTE}])
    cafe.before_commit.clear()
    assert seen == [("before_commit", 1)]

    # a failing listener is logged; the action stands and the other listeners still hear it
    seen.clear()

    def broken(result: ActionResult) -> None:
        raise RuntimeError("listener bug")

    cafe.subscribe(broken)
    later: list[str] = []
    cafe.subscribe(lambda result: later.append(result.action))
    with caplog.at_level(logging.ERROR):
        result = await act(cafe, "place_order", lines=[{"product": LATTE}])
    assert not result.replayed
    assert "A CareOn action listener failed" in caplog.text
    assert seen == [("place_order", 2)]
    assert later == ["place_order"]
    unsubscribe()
    await act(cafe, "place_order", lines=[{"product": LATTE}])
    assert seen == [("place_order", 2)]
    assert later == ["place_order", "place_order"]


async def _fail(ctx: ActionContext) -> None:
    raise RuntimeError("injected fault after the effects")


FAULTY_ACTIONS: list[tuple[str, dict[str, Any], str]] = [
    # action, parameters, an object the effects change (checked inside the transaction)
    (
        "place_order",
        {"lines": [{"product": LATTE}, {"product": "product.americano_ice"}]},
        "inventory_item.espresso_beans",
    ),
    ("receive_stock", {"purchase_order": "<po>"}, "<po>"),
    ("receive_purchase_order", {"purchase_order": "<po>"}, "inventory_item.milk"),
    ("approve_purchase_order", {"purchase_order": "<draft>"}, "<draft>"),
    ("auto_reorder", {"items": ["inventory_item.cheesecake"]}, None),
    ("cancel_order", {"order": "<order>"}, "inventory_item.milk"),
    ("delete_object", {"object_id": "inventory_item.croissant"}, "product.croissant"),
    (
        "adjust_inventory",
        {"item": "inventory_item.milk", "mode": "count", "qty": 0},
        "product.matcha_latte",
    ),
    (
        "create_object",
        {
            "object_type": "Product",
            "key": "new",
            "name": "신메뉴",
            "properties": {"price": 1},
            "links": [
                {"link_type": "requires", "target": "inventory_item.milk", "properties": {"qty": 1}}
            ],
        },
        "product.new",
    ),
    ("define_type", {"object_type": "Table", "properties": {"seats": {"kind": "integer"}}}, None),
]


@pytest.mark.parametrize(
    ("action", "params", "touched"), FAULTY_ACTIONS, ids=[a for a, _, _ in FAULTY_ACTIONS]
)
async def test_a_fault_before_commit_leaves_the_database_as_it_was(
    cafe: ActionEngine, act, dump, action: str, params: dict[str, Any], touched: str | None
) -> None:
    # Setup for the multi-object actions: purchase orders (one ordered, of two items; one
    # draft, of a third: an item is never on two open orders); a placed order.
    lines = [
        {"item": "inventory_item.milk", "qty": 6000},
        {"item": "inventory_item.croissant", "qty": 10},
    ]
    po = await act(
        cafe, "create_purchase_order", supplier="supplier.dairy", lines=lines, approve=True
    )
    draft = await act(
        cafe,
        "create_purchase_order",
        supplier="supplier.dairy",
        lines=[{"item": "inventory_item.oat_milk", "qty": 2000}],
    )
    order = await act(
        cafe,
        "place_order",
        via="pos",
        lines=[{"product": LATTE}, {"product": "product.croissant", "qty": 12}],
    )
    ids = {
        "<order>": order.result["order_id"],
        "<po>": po.result["purchase_order_id"],
        "<draft>": draft.result["purchase_order_id"],
    }
    params = {k: ids.get(v, v) if isinstance(v, str) else v for k, v in params.items()}
    touched = ids.get(touched, touched) if touched else None
    schema_before = cafe.schema
    before = await dump(cafe)
    heard: list[ActionResult] = []
    cafe.subscribe(heard.append)
    applied: dict[str, Any] = {}

    async def fault(ctx: ActionContext) -> None:
        # the effects are in the transaction: prove it, then fail
        if touched is not None:
            obj = await ctx.ontology.get(touched)
            applied["touched"] = obj
        applied["audit"] = await ctx.ontology.conn.scalar(
            select(audit_table.c.id).order_by(audit_table.c.id.desc()).limit(1)
        )
        raise RuntimeError("injected fault after the effects")

    cafe.before_commit.append(fault)
    with pytest.raises(RuntimeError, match="injected fault"):
        await act(cafe, action, **params)
    assert applied["audit"] > order.audit_id  # the audit row was written, too
    if action == "delete_object":
        assert applied["touched"].version > 1  # the deleted item was in use: recomputed
    elif touched is not None:
        assert applied["touched"] is not None
        assert applied["touched"].version > 1 or action == "create_object"

    assert await dump(cafe) == before
    assert cafe.schema is schema_before
    assert heard == []

    # the engine goes on: the same action commits once the fault is gone
    cafe.before_commit.remove(fault)
    result = await act(cafe, action, **params)
    assert heard == [result]
    assert await dump(cafe) != before


def _retries(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("Retrying ")]


async def _till(act, engine: ActionEngine, number: int, orders: int) -> list[ActionResult]:
    """A till selling one americano after another, each sale with its own key."""
    results = []
    for index in range(orders):
        results.append(
            await act(
                engine,
                "place_order",
                via="pos",
                idempotency_key=f"till{number}-{index}",
                lines=[{"product": AMERICANO}],
            )
        )
        await asyncio.sleep(0)  # let the other till in
    return results


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
async def test_two_engines_ordering_at_once_lose_no_update(
    database: Any, cafe_url: str, open_engine, act, on_hand, caplog: pytest.LogCaptureFixture
) -> None:
    """Two tills (two engines, as two processes would) sell the same coffee at once."""
    one, two = await open_engine(cafe_url), await open_engine(cafe_url)
    orders = 20
    with caplog.at_level(logging.DEBUG, logger="custom_components.careon.core.engine"):
        first, second = await asyncio.gather(_till(act, one, 1, orders), _till(act, two, 2, orders))
    assert not any(r.replayed for r in (*first, *second))
    # the two tills' orders were committed interleaved, not one till after the other
    ids_one, ids_two = {r.audit_id for r in first}, {r.audit_id for r in second}
    assert min(ids_two) < max(ids_one)
    assert min(ids_one) < max(ids_two)
    # the writer lock queues the engines' transactions: they never collide, so never retry
    assert _retries(caplog) == []
    # americano_hot: 18 g beans, a hot cup, a lid; no sale lost, no deduction lost
    assert await on_hand(one, "espresso_beans") == 6000 - 2 * orders * 18
    assert await on_hand(one, "hot_cup") == 300 - 2 * orders
    assert await on_hand(two, "lid") == 600 - 2 * orders
    assert len(await _audit_rows(one)) == 52 + 2 * orders
    async with one.reader() as ontology:
        assert len(await ontology.by_type("Order")) == 2 * orders
        beans = await ontology.get("inventory_item.espresso_beans")
    assert beans.version == 1 + 2 * orders
    assert all(not r.result["shortfall"] for r in (*first, *second))


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_two_engines_on_one_sqlite_file(
    database: Any, cafe_url: str, open_engine, act, on_hand
) -> None:
    """Two processes on one SQLite file (Home Assistant and the demo command, say), in turn."""
    one, two = await open_engine(cafe_url), await open_engine(cafe_url)
    await act(one, "place_order", lines=[{"product": AMERICANO}])
    await act(two, "place_order", lines=[{"product": AMERICANO}])
    await act(one, "place_order", lines=[{"product": AMERICANO}])
    assert await on_hand(two, "espresso_beans") == 6000 - 3 * 18
    assert [row.action for row in (await _audit_rows(one))[52:]] == ["place_order"] * 3


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_two_engines_on_one_sqlite_file_at_once(
    database: Any, cafe_url: str, open_engine, act, on_hand, caplog: pytest.LogCaptureFixture
) -> None:
    """Two engines write one SQLite file at once: BEGIN IMMEDIATE queues them, none fails."""
    one, two = await open_engine(cafe_url), await open_engine(cafe_url)
    orders = 10

    with caplog.at_level(logging.DEBUG, logger="custom_components.careon.core.engine"):
        outcomes = await asyncio.gather(
            _till(act, one, 1, orders), _till(act, two, 2, orders), return_exceptions=True
        )
    assert not any(isinstance(outcome, BaseException) for outcome in outcomes), outcomes
    first, second = outcomes
    assert not any(r.replayed for r in (*first, *second))
    # no "database is locked" and no stale version: the writers waited for each other
    assert _retries(caplog) == []
    # every order recorded, once, with its own audit row; no deduction lost
    rows = (await _audit_rows(one))[52:]
    assert sorted(row.idempotency_key for row in rows) == sorted(
        f"till{n}-{i}" for n in (1, 2) for i in range(orders)
    )
    assert {row.id for row in rows} == {r.audit_id for r in (*first, *second)}
    assert await on_hand(two, "espresso_beans") == 6000 - 2 * orders * 18
    assert await on_hand(one, "hot_cup") == 300 - 2 * orders
    async with two.reader() as ontology:
        assert len(await ontology.by_type("Order")) == 2 * orders
        beans = await ontology.get("inventory_item.espresso_beans")
    assert beans.version == 1 + 2 * orders


async def test_stale_expected_version_from_another_engine(
    cafe_url: str, open_engine, act, get
) -> None:
    one, two = await open_engine(cafe_url), await open_engine(cafe_url)
    seen = await get(one, "zone.hall")
    await act(
        two,
        "update_object",
        object_id="zone.hall",
        properties={"capacity": 14},
        expected_version=seen.version,
    )
    with pytest.raises(ConflictError) as info:
        await act(
            one,
            "update_object",
            object_id="zone.hall",
            properties={"capacity": 10},
            expected_version=seen.version,
        )
    assert info.value.translation_key == "stale_version"
    assert info.value.placeholders == {
        "object_id": "zone.hall",
        "expected": str(seen.version),
        "actual": str(seen.version + 1),
    }
    assert (await get(one, "zone.hall")).get("capacity") == 14


# What a program outside CareOn (psql, a script, another tool) does to an object: change it
# and bump its version, in its own transaction, without CareOn's writer lock.
_OUTSIDE_UPDATE = text(
    "UPDATE careon_objects SET version = version + 1, "
    "properties = jsonb_set(properties, '{on_hand}', "
    "to_jsonb((properties->>'on_hand')::numeric + 1)) "
    "WHERE id = :id"
)


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
async def test_an_object_changed_on_every_attempt_ends_in_concurrent_update(
    database: Any,
    cafe_url: str,
    open_engine,
    act,
    get,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A writer outside CareOn changes the object between read and write, every time: give up.

    Two CareOn engines never race (the writer lock queues them); the version check is what
    still protects the store from everything else that writes its tables. SQLite cannot have
    this race: its writer holds the whole file from BEGIN IMMEDIATE on.
    """
    outside = create_engine(cafe_url).execution_options(isolation_level="AUTOCOMMIT")
    attempts: list[int] = []

    async def touch_then_write(ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
        item = await ctx.ontology.require("item", params["item"], "InventoryItem")
        attempts.append(item.version)
        # the outside writer gets in between this action's read and its write (and is not
        # held up by the action's writer lock: a deadlock here fails instead of hanging)
        async with outside.connect() as conn:
            changed = await asyncio.wait_for(conn.execute(_OUTSIDE_UPDATE, {"id": item.id}), 10)
        assert changed.rowcount == 1
        await ctx.ontology.update(item, {**item.properties, "on_hand": 0})
        return {}

    racy = ActionType(
        name="racy_count",
        params={"item": Field(kind="string", required=True)},
        apply=touch_then_write,
    )
    engine = await open_engine(cafe_url, actions={**ACTIONS, "racy_count": racy})
    audit_before = await _audit_rows(engine)
    try:
        with (
            caplog.at_level(logging.DEBUG, logger="custom_components.careon.core.engine"),
            pytest.raises(CareOnError) as info,
        ):
            await act(engine, "racy_count", item="inventory_item.milk")
    finally:
        await outside.dispose()
    assert type(info.value) is CareOnError  # the store's trouble, not the caller's
    assert info.value.translation_key == "concurrent_update"
    assert info.value.placeholders == {"action": "racy_count"}
    assert attempts == [1, 2, 3, 4, 5]  # re-read every time, five attempts
    assert len([m for m in _retries(caplog) if m.startswith("Retrying racy_count")]) == 5
    milk = await get(engine, "inventory_item.milk")
    assert milk.get("on_hand") == 18005  # only the outside writer's changes
    assert milk.version == 6
    # no audit row for the action that gave up (the outside writer writes none)
    assert await _audit_rows(engine) == audit_before

    # the engine goes on: once nobody else writes, actions on the object commit
    await act(engine, "adjust_inventory", item="inventory_item.milk", mode="count", qty=100)
    assert (await get(engine, "inventory_item.milk")).get("on_hand") == 100


async def test_ping_reader_and_close(engine: ActionEngine) -> None:
    await engine.ping()
    async with engine.reader() as ontology:
        assert await ontology.by_type("Store") == []
        assert await ontology.get_many([]) == {}
        assert await ontology.links_from([]) == []
        assert await ontology.linked([], "requires") == []
        assert await ontology.linking([], "requires") == []
        assert await ontology.products_with_recipes([], "requires") == ({}, [])
        assert (await ontology.conn.execute(text("SELECT 1"))).scalar() == 1
    await engine.close()
    await engine.close()  # twice is fine


async def test_close_waits_for_work_in_flight_and_refuses_new_work(
    cafe_url: str, open_engine, act, get
) -> None:
    """Closing lets a read and an action in flight finish, refuses what comes after it, and
    leaves no connection open."""
    engine: ActionEngine = await open_engine(cafe_url)
    reading, acting, release = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def read() -> Any:
        async with engine.reader() as ontology:
            reading.set()
            await release.wait()
            return await ontology.get("zone.hall")

    async def hold(ctx: ActionContext) -> None:
        acting.set()
        await release.wait()

    engine.before_commit.append(hold)
    reader = asyncio.create_task(read())
    action = asyncio.create_task(
        act(engine, "update_object", object_id="zone.hall", properties={"capacity": 20})
    )
    await asyncio.wait_for(asyncio.gather(reading.wait(), acting.wait()), 10)
    closing = asyncio.create_task(engine.close())
    await asyncio.sleep(0.1)
    assert not closing.done()  # the read and the action are still in flight

    with pytest.raises(StoreUnavailableError) as info:
        async with engine.reader():
            pass
    assert info.value.translation_key == "database_unavailable"
    with pytest.raises(StoreUnavailableError):
        await engine.ping()
    with pytest.raises(StoreUnavailableError):
        await act(engine, "place_order", lines=[{"product": AMERICANO}])

    release.set()
    assert (await asyncio.wait_for(reader, 10)).id == "zone.hall"  # the read finished
    committed = await asyncio.wait_for(action, 10)
    await asyncio.wait_for(closing, 10)
    assert engine.engine.pool.checkedout() == 0
    with pytest.raises(StoreUnavailableError):
        await act(engine, "place_order", lines=[{"product": AMERICANO}])

    # the action that was in flight committed; the refused ones changed nothing
    other = await open_engine(cafe_url)
    assert (await get(other, "zone.hall")).get("capacity") == 20
    rows = await _audit_rows(other)
    assert rows[-1].id == committed.audit_id
    assert [row.action for row in rows[52:]] == ["update_object"]


async def _create_existing(ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
    """Insert an object whose id is taken, past the checks create_object makes."""
    await ctx.ontology.create("Zone", "again", {"kind": "dining"}, object_id="zone.hall")
    return {}


async def test_a_constraint_violation_that_is_no_replay_is_store_unavailable(
    cafe_url: str, open_engine, act, dump
) -> None:
    duplicate = ActionType(name="duplicate", params={}, apply=_create_existing)
    engine = await open_engine(cafe_url, actions={**ACTIONS, "duplicate": duplicate})
    before = await dump(engine)
    heard: list[ActionResult] = []
    engine.subscribe(heard.append)
    for key in (None, "never-used"):  # with a key, the replay finds no first result
        with pytest.raises(StoreUnavailableError) as info:
            await act(engine, "duplicate", idempotency_key=key)
        assert info.value.translation_key == "database_unavailable"
        assert isinstance(info.value.__cause__, IntegrityError)
    assert await dump(engine) == before
    assert heard == []
    # the writer connection is fine afterwards
    await act(engine, "update_object", object_id="zone.hall", properties={"capacity": 9})


async def test_a_stored_schema_extension_this_version_cannot_build_does_not_open(
    db_url: str, open_engine, act
) -> None:
    engine = await open_engine(db_url)
    await act(engine, "define_type", object_type="Table", properties={"seats": {"kind": "integer"}})
    await engine.close()
    # a newer CareOn stored a property kind this version does not know
    raw = create_engine(db_url)
    try:
        async with raw.begin() as conn:
            await conn.execute(
                meta_table.update()
                .where(meta_table.c.key == SCHEMA_EXTENSIONS_KEY)
                .values(value=[{"object_type": "Table", "properties": {"seats": {"kind": "seat"}}}])
            )
    finally:
        await raw.dispose()
    with pytest.raises(StoreUnavailableError) as info:
        await ActionEngine.open(db_url)
    assert info.value.translation_key == "database_unavailable"
    assert isinstance(info.value.__cause__, ValidationError)
    assert info.value.__cause__.translation_key == "invalid_choice"


def _sqlite_path(url: str) -> str:
    return str(make_url(url).database)


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_another_writers_lock_is_waited_out_within_the_deadline(
    cafe_url: str, act, dump, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process holding SQLite's write lock longer than SQLite waits ("database is
    locked") is waited out: the action is tried again with a backoff and done once the lock
    goes; held past the action's deadline, the action is refused as busy, nothing written."""
    monkeypatch.setattr(database_module, "SQLITE_BUSY_TIMEOUT_MS", 100)
    monkeypatch.setattr(engine_module, "ACTION_DEADLINE", 3.0)
    busy = await ActionEngine.open(cafe_url)  # its connections wait 100 ms only
    try:
        other = sqlite3.connect(_sqlite_path(cafe_url), isolation_level=None, timeout=5)
        try:
            other.execute("BEGIN IMMEDIATE")
            loop = asyncio.get_running_loop()
            loop.call_later(1.0, other.execute, "COMMIT")
            started = loop.time()
            sale = await act(busy, "place_order", lines=[{"product": "product.croissant"}])
            assert loop.time() - started >= 1.0
            assert sale.result["status"] == "paid"

            before = await dump(busy)
            other.execute("BEGIN IMMEDIATE")
            with pytest.raises(CareOnError) as info:
                await act(busy, "place_order", lines=[{"product": "product.croissant"}])
            assert info.value.translation_key == "concurrent_update"
            other.execute("COMMIT")
            assert await dump(busy) == before
        finally:
            other.close()
    finally:
        await busy.close()
