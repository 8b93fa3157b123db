"""Reading the store: the day's snapshot and the query service."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from custom_components.careon.core import (
    ActionEngine,
    ValidationError,
    queries,
    query_objects,
    store_snapshot,
)
from custom_components.careon.core.fields import to_iso
from custom_components.careon.core.ontology import Ontology
from custom_components.careon.core.queries import (
    MAX_QUERY_OBJECTS,
    day_bounds,
    hourly_orders,
)
from custom_components.careon.core.tables import ORDER_PLACED_AT_SQL

SEOUL = ZoneInfo("Asia/Seoul")
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=SEOUL)  # Saturday noon in Seoul = 03:00 UTC


async def _order(
    act: Any,
    cafe: ActionEngine,
    placed_at: str,
    product: str = "product.croissant",
    qty: int = 1,
    status: str = "paid",
) -> str:
    result = await act(
        cafe,
        "place_order",
        via="pos",
        placed_at=placed_at,
        status=status,
        lines=[{"product": product, "qty": qty}],
    )
    return str(result.result["order_id"])


async def _snapshot(cafe: ActionEngine, **kwargs: Any) -> Any:
    async with cafe.reader() as ontology:
        return await store_snapshot(
            ontology, tz=cafe.timezone, now=kwargs.pop("now", NOW), **kwargs
        )


def test_day_bounds_in_the_store_timezone() -> None:
    assert day_bounds(NOW, SEOUL) == (
        "2025-02-28T15:00:00.000000+00:00",
        "2025-03-01T15:00:00.000000+00:00",
    )
    # a business day starting at 5: 1 a.m. still belongs to the day before
    late = datetime(2025, 3, 2, 1, 0, tzinfo=SEOUL)
    assert day_bounds(late, SEOUL, 5) == (
        "2025-02-28T20:00:00.000000+00:00",
        "2025-03-01T20:00:00.000000+00:00",
    )
    assert day_bounds(datetime(2025, 3, 1, 3, 0, tzinfo=UTC), SEOUL, 5)[0] == (
        "2025-02-28T20:00:00.000000+00:00"
    )


async def test_store_snapshot_counts_the_business_day(cafe: ActionEngine, act) -> None:
    empty = await _snapshot(cafe)
    assert (empty.orders_today, empty.revenue_today, empty.average_ticket) == (0, 0, None)
    assert empty.store is not None
    assert empty.store.name == "케어온 카페 성수점"
    assert len(empty.products) == 13
    assert len(empty.inventory) == 17
    assert empty.low_stock == []

    await _order(act, cafe, "2025-03-01T00:30:00+09:00")  # today, 3800
    await _order(act, cafe, "2025-03-01T11:59:59", "product.cheesecake", 2)  # naive: Seoul, 13000
    await _order(
        act,
        cafe,
        "2025-03-01T14:59:59Z",
        "product.sandwich",  # 23:59:59 KST, 7500
        status="completed",
    )
    await _order(act, cafe, "2025-02-28T23:59:59+09:00", "product.sandwich")  # yesterday
    await _order(act, cafe, "2025-03-02T00:00:00+09:00", "product.sandwich")  # tomorrow
    await _order(act, cafe, "2025-03-01T10:00:00+09:00", status="open")  # not paid yet
    cancelled = await _order(act, cafe, "2025-03-01T10:00:00+09:00", "product.cheesecake")
    refunded = await _order(act, cafe, "2025-03-01T10:00:00+09:00", "product.cheesecake")
    await act(cafe, "cancel_order", order=cancelled)
    await act(cafe, "refund_order", order=refunded)

    snap = await _snapshot(cafe)
    assert (snap.orders_today, snap.revenue_today) == (3, 3800 + 13000 + 7500)
    assert snap.average_ticket == round((3800 + 13000 + 7500) / 3)

    # the next day, with the day starting at 5 a.m. (1 a.m. on 2 March is still 1 March)
    snap = await _snapshot(cafe, now=datetime(2025, 3, 2, 1, 0, tzinfo=SEOUL), day_start_hour=5)
    assert (snap.orders_today, snap.revenue_today) == (3, 13000 + 7500 + 7500)
    # sandwiches 6 - 3 = 3 (reorder point 2); cheesecake 8 - 4 + 2 (restocked) = 6 (3)
    assert [item.id for item in snap.low_stock] == []
    await act(cafe, "place_order", via="pos", lines=[{"product": "product.sandwich"}])
    snap = await _snapshot(cafe)
    assert [item.id for item in snap.low_stock] == ["inventory_item.sandwich"]


async def test_hourly_orders_counts_demand_per_utc_hour(cafe: ActionEngine, act) -> None:
    """Every hour of the period is present; cancelled orders are no demand, refunded and
    unpaid ones are; the period is [start, end)."""
    await _order(act, cafe, "2025-03-01T09:00:00+09:00")  # 00:00 UTC
    await _order(act, cafe, "2025-03-01T09:59:59.999+09:00")  # 00:59 UTC
    await _order(act, cafe, "2025-03-01T01:30:00Z", status="open")
    refunded = await _order(act, cafe, "2025-03-01T01:45:00Z", "product.cheesecake")
    cancelled = await _order(act, cafe, "2025-03-01T01:50:00Z", "product.cheesecake")
    await act(cafe, "refund_order", order=refunded)
    await act(cafe, "cancel_order", order=cancelled)
    await _order(act, cafe, "2025-03-01T03:00:00Z")  # the end: not in the period
    await _order(act, cafe, "2025-02-28T23:59:59Z")  # before the start
    start = datetime(2025, 3, 1, 0, 0, tzinfo=UTC)
    end = datetime(2025, 3, 1, 3, 0, tzinfo=UTC)
    async with cafe.reader() as ontology:
        counts = await hourly_orders(ontology, start=start, end=end)
        # a start inside an hour counts from that moment, keyed by its hour
        late = await hourly_orders(
            ontology, start=datetime(2025, 3, 1, 9, 30, tzinfo=SEOUL), end=end
        )
        empty = await hourly_orders(ontology, start=end, end=end)
    assert counts == {
        datetime(2025, 3, 1, 0, tzinfo=UTC): 2,
        datetime(2025, 3, 1, 1, tzinfo=UTC): 2,
        datetime(2025, 3, 1, 2, tzinfo=UTC): 0,
    }
    assert all(hour.tzinfo is UTC for hour in counts)
    assert late == {
        datetime(2025, 3, 1, 0, tzinfo=UTC): 1,
        datetime(2025, 3, 1, 1, tzinfo=UTC): 2,
        datetime(2025, 3, 1, 2, tzinfo=UTC): 0,
    }
    assert empty == {}
    with pytest.raises(ValueError, match="aware"):
        async with cafe.reader() as ontology:
            await hourly_orders(ontology, start=datetime(2025, 3, 1), end=end)


async def test_hourly_orders_of_many_orders_in_one_query(cafe: ActionEngine) -> None:
    """Three weeks of orders written straight into the table: the counts per hour are the
    database's (a grouped query), matching what was written."""
    start = datetime(2025, 2, 3, tzinfo=UTC)
    expected: dict[datetime, int] = {}
    rows = []
    for i in range(21 * 24):
        hour = start + timedelta(hours=i)
        expected[hour] = i % 5
        for n in range(i % 5):
            placed = hour + timedelta(minutes=7 * n)
            rows.append(
                (
                    "Order",
                    f"order.bulk{i}_{n}",
                    f"#{i}-{n}",
                    {"status": "paid", "total": 4500, "placed_at": to_iso(placed), "lines": []},
                )
            )
    async with cafe.engine.begin() as conn:
        await Ontology(conn).create_many(rows)
    async with cafe.reader() as ontology:
        counts = await hourly_orders(ontology, start=start, end=start + timedelta(days=21))
    assert counts == expected
    assert sum(counts.values()) == len(rows)


async def _query(cafe: ActionEngine, **params: Any) -> list[dict[str, Any]]:
    async with cafe.reader() as ontology:
        return await query_objects(ontology, cafe.schema, params)


async def test_query_by_type_and_filters(cafe: ActionEngine) -> None:
    rows = await _query(
        cafe, object_type="Product", filters={"category": "커피", "price": {"gte": 5000}}
    )
    assert sorted(r["id"] for r in rows) == [
        "product.cold_brew",
        "product.decaf_americano",
        "product.latte_hot",
        "product.latte_ice",
        "product.oat_latte",
        "product.vanilla_latte",
    ]
    assert [r["name"] for r in rows] == sorted(r["name"] for r in rows)
    first = rows[0]
    assert set(first) == {"id", "type", "name", "properties", "version", "created_at", "updated_at"}
    assert datetime.fromisoformat(first["created_at"]).tzinfo is not None

    async def ids(**filters: Any) -> list[str]:
        return sorted(r["id"] for r in await _query(cafe, object_type="Product", filters=filters))

    assert await ids(price={"gt": 6000}) == ["product.cheesecake", "product.sandwich"]
    assert await ids(price={"lt": 4500}) == ["product.croissant"]
    assert await ids(price={"lte": 4500, "ne": 3800}) == [
        "product.americano_hot",
        "product.americano_ice",
    ]
    assert await ids(category={"in": ["베이커리", "디저트"]}) == [
        "product.cheesecake",
        "product.croissant",
        "product.sandwich",
    ]
    assert await ids(name={"contains": "라떼"}, category={"ne": "커피"}) == ["product.matcha_latte"]
    assert await ids(id="product.sandwich") == ["product.sandwich"]
    assert await ids(allergens={"contains": "우유"}) == []  # unset: never contains
    assert await ids(cost={"gt": 0}) == []  # unset: no order comparison
    assert await ids(category={"gt": 5}) == []  # text against a number: no match, no error
    assert len(await ids(cost=None)) == 13  # eq None: every product without a cost

    limited = await _query(cafe, object_type="InventoryItem", limit=3)
    assert len(limited) == 3


async def test_query_by_ids_and_following_links(cafe: ActionEngine, act) -> None:
    rows = await _query(cafe, object_ids=["product.latte_hot", "zone.hall", "nothing.here"])
    assert sorted(r["id"] for r in rows) == ["product.latte_hot", "zone.hall"]
    rows = await _query(cafe, object_ids=["product.latte_hot", "zone.hall"], object_type="Zone")
    assert [r["id"] for r in rows] == ["zone.hall"]

    rows = await _query(
        cafe,
        object_ids=["product.latte_hot"],
        follow=["requires.supplied_by", "prepared_with.located_in"],
    )
    latte = rows[0]
    requires = {entry["id"]: entry for entry in latte["links"]["requires"]}
    assert {k: v["link"] for k, v in requires.items()} == {
        "inventory_item.espresso_beans": {"qty": 18},
        "inventory_item.milk": {"qty": 200},
        "inventory_item.hot_cup": {"qty": 1},
        "inventory_item.lid": {"qty": 1},
    }
    assert [s["id"] for s in requires["inventory_item.milk"]["links"]["supplied_by"]] == [
        "supplier.dairy"
    ]
    assert requires["inventory_item.milk"]["properties"]["on_hand"] == 18000
    machines = {
        e["id"]: [z["id"] for z in e["links"]["located_in"]]
        for e in latte["links"]["prepared_with"]
    }
    assert machines == {
        "equipment.espresso_machine": ["zone.counter"],
        "equipment.grinder": ["zone.counter"],
    }

    # backwards: which orders contain a product, which products need an item
    order = (
        await act(cafe, "place_order", lines=[{"product": "product.latte_hot", "qty": 2}])
    ).result["order_id"]
    rows = await _query(
        cafe, object_type="Product", filters={"id": "product.latte_hot"}, follow=["~contains"]
    )
    assert [(o["id"], o["link"]) for o in rows[0]["links"]["~contains"]] == [
        (order, {"qty": 2, "unit_price": 5000})
    ]
    rows = await _query(cafe, object_ids=["inventory_item.milk"], follow=["~requires"])
    assert sorted(p["id"] for p in rows[0]["links"]["~requires"]) == [
        "product.latte_hot",
        "product.latte_ice",
        "product.matcha_latte",
        "product.vanilla_latte",
    ]
    # nothing links to a zone's staff here: empty lists, not missing keys
    rows = await _query(cafe, object_ids=["zone.terrace"], follow=["~assigned_to"])
    assert rows[0]["links"] == {"~assigned_to": []}


async def test_following_links_to_an_object_reached_twice(cafe: ActionEngine) -> None:
    """Two products need the same beans: both see who supplies them."""
    rows = await _query(
        cafe,
        object_ids=["product.latte_hot", "product.americano_hot"],
        follow=["requires.supplied_by"],
    )
    assert len(rows) == 2
    for product in rows:
        beans = next(
            i for i in product["links"]["requires"] if i["id"] == "inventory_item.espresso_beans"
        )
        assert [s["id"] for s in beans["links"]["supplied_by"]] == ["supplier.beans"], product["id"]


QUERY_ERRORS = [
    ({"object_type": "Table"}, "unknown_object_type", "object_type"),
    ({}, "missing_field", "object_type"),
    ({"object_type": "Product", "filters": {"colour": "red"}}, "unknown_field", "filters.colour"),
    (
        {"object_type": "Product", "filters": {"price": {"between": [1, 2]}}},
        "invalid_choice",
        "filters.price",
    ),
    ({"object_type": "Product", "follow": ["requires.made_by"]}, "unknown_link_type", "follow"),
    ({"object_type": "Product", "follow": [""]}, "invalid_type", "follow"),
    ({"object_type": "Product", "follow": [3]}, "invalid_type", "follow"),
    (
        {"object_type": "Product", "follow": ["~contains.contains.~contains.contains"]},
        "out_of_range",
        "follow",
    ),
    ({"object_type": "Product", "limit": 0}, "out_of_range", "limit"),
    ({"object_type": "Product", "limit": 1001}, "out_of_range", "limit"),
    ({"object_type": "Product", "select": ["name"]}, "unknown_field", "select"),
]


async def test_query_errors(cafe: ActionEngine) -> None:
    for params, key, field in QUERY_ERRORS:
        with pytest.raises(ValidationError) as info:
            await _query(cafe, **params)
        assert (info.value.translation_key, info.value.field) == (key, field), params


async def test_following_links_is_bounded(cafe: ActionEngine, act) -> None:
    """Each hop can multiply the answer (one product, its orders, their lines' products, their
    orders...): past MAX_QUERY_OBJECTS objects the query is refused, cleanly, instead of
    growing without end; the same query with a narrower start is answered."""
    for _ in range(40):
        await act(
            cafe,
            "place_order",
            lines=[{"product": "product.latte_hot"}, {"product": "product.americano_hot"}],
        )
    hops = "~contains.contains.~contains"
    with pytest.raises(ValidationError) as info:
        await _query(cafe, object_ids=["product.latte_hot"], follow=[hops])
    assert info.value.translation_key == "query_too_large"
    assert info.value.placeholders["limit"] == str(MAX_QUERY_OBJECTS)
    # two hops: the 40 orders and their 80 lines' products
    (latte,) = await _query(cafe, object_ids=["product.latte_hot"], follow=["~contains.contains"])
    orders = latte["links"]["~contains"]
    assert len(orders) == 40
    assert sum(len(order["links"]["contains"]) for order in orders) == 80


async def test_a_query_reads_no_more_links_than_it_may_answer(
    cafe: ActionEngine, act, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The links of a step are read with a limit: a step that would exceed the budget is
    refused after reading one link more than the budget, not the whole table."""
    monkeypatch.setattr(queries, "MAX_QUERY_OBJECTS", 10)
    for _ in range(30):
        await act(cafe, "place_order", lines=[{"product": "product.latte_hot"}])
    read: list[int] = []
    real = Ontology.links_to

    async def links_to(self: Ontology, *args: Any, **kwargs: Any) -> Any:
        links = await real(self, *args, **kwargs)
        read.append(len(links))
        return links

    monkeypatch.setattr(Ontology, "links_to", links_to)
    with pytest.raises(ValidationError) as info:
        await _query(cafe, object_ids=["product.latte_hot"], follow=["~contains"])
    assert info.value.translation_key == "query_too_large"
    assert read == [10]  # the budget (10, less the product itself) and one more


async def test_the_days_orders_are_found_through_the_index(cafe: ActionEngine, act) -> None:
    """The snapshot reads one business day of orders through ix_careon_orders_placed_at,
    not every order the store ever took."""
    await act(cafe, "place_order", lines=[{"product": "product.latte_hot"}])
    start, end = day_bounds(datetime.now(UTC), cafe.timezone)
    async with cafe.engine.connect() as conn:
        placed_at = ORDER_PLACED_AT_SQL[conn.dialect.name]
        query = (
            "SELECT properties FROM careon_objects WHERE type = 'Order' "
            f"AND {placed_at} >= :start AND {placed_at} < :end"
        )
        if conn.dialect.name == "sqlite":
            plan = " ".join(
                str(row[-1])
                for row in await conn.execute(
                    text(f"EXPLAIN QUERY PLAN {query}"), {"start": start, "end": end}
                )
            )
        else:
            await conn.execute(text("SET enable_seqscan = off"))  # a tiny table: force the choice
            plan = " ".join(
                str(row[0])
                for row in await conn.execute(
                    text(f"EXPLAIN {query}"), {"start": start, "end": end}
                )
            )
    assert "ix_careon_orders_placed_at" in plan
    async with cafe.reader() as ontology:
        snapshot = await store_snapshot(ontology, tz=cafe.timezone, now=datetime.now(UTC))
    assert snapshot.orders_today == 1
