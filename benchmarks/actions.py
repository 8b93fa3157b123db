"""Benchmark: sustained place_order rate on SQLite against hand-written sqlite3, and the p50 of a
link query on a 10,000-object store.

    .venv/bin/python benchmarks/actions.py [--orders 3000] [--rounds 6] [--queries 1000]

Both sides use the same database file layout (created by CareOn's migrations), the same
pragmas (WAL, synchronous=FULL) and one transaction per order with an audit row, so the ratio
is the cost of CareOn's engine (validation, SQLAlchemy, the async driver) over the bare writes.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime, timedelta
import json
from pathlib import Path
import sqlite3
import statistics
import sys
import tempfile
import time
from typing import Any
import uuid

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from custom_components.careon.core import ActionEngine, query_objects, store_snapshot
from custom_components.careon.core.database import sqlite_url
from custom_components.careon.core.fields import to_iso
from custom_components.careon.core.ontology import Link, Ontology

PRODUCTS = 3  # an order of 3 lines, 2 ingredients each
LINES = [{"product": f"product.p{i}"} for i in range(PRODUCTS)]


async def _seed_menu(engine: ActionEngine) -> None:
    for i in range(PRODUCTS * 2):
        await engine.execute(
            "create_object",
            {
                "object_type": "InventoryItem",
                "key": f"i{i}",
                "name": f"item {i}",
                "properties": {"unit": "g", "on_hand": 10**9, "reorder_point": 100},
            },
            actor="bench",
            source="bench",
        )
    for i in range(PRODUCTS):
        await engine.execute(
            "create_object",
            {
                "object_type": "Product",
                "key": f"p{i}",
                "name": f"product {i}",
                "properties": {"price": 4500},
                "links": [
                    {
                        "link_type": "requires",
                        "target": f"inventory_item.i{2 * i}",
                        "properties": {"qty": 18},
                    },
                    {
                        "link_type": "requires",
                        "target": f"inventory_item.i{2 * i + 1}",
                        "properties": {"qty": 1},
                    },
                ],
            },
            actor="bench",
            source="bench",
        )


def _baseline_order(db: sqlite3.Connection) -> None:
    """The same reads and writes as place_order, written by hand."""
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
    ids = [line["product"] for line in LINES]
    db.execute("BEGIN")
    rows = db.execute(
        "SELECT p.id, p.properties, l.properties, i.id, i.properties, i.version "
        "FROM careon_objects p JOIN careon_links l ON l.source_id = p.id "
        "AND l.link_type = 'requires' JOIN careon_objects i ON i.id = l.target_id "
        f"WHERE p.id IN ({','.join('?' * len(ids))})",
        ids,
    ).fetchall()
    items: dict[str, list[Any]] = {}
    total = 0
    for _pid, product_props, link_props, item_id, item_props, version in rows:
        need = json.loads(link_props)["qty"]
        entry = items.setdefault(item_id, [json.loads(item_props), version, 0])
        entry[2] += need
        total += json.loads(product_props)["price"] // 2
    order_id = f"order.{uuid.uuid4().hex}"
    db.execute(
        "INSERT INTO careon_objects (id, type, name, properties, version, created_at, updated_at) "
        "VALUES (?, 'Order', ?, ?, 1, ?, ?)",
        (
            order_id,
            order_id[-6:],
            json.dumps({"status": "paid", "total": total, "lines": LINES}),
            now,
            now,
        ),
    )
    db.executemany(
        "INSERT INTO careon_links (source_id, link_type, target_id, properties, created_at) "
        "VALUES (?, 'contains', ?, ?, ?)",
        [(order_id, pid, json.dumps({"qty": 1}), now) for pid in ids],
    )
    updates = []
    for item_id, (props, version, need) in items.items():
        props["on_hand"] -= need
        updates.append((json.dumps(props), version + 1, now, item_id, version))
    db.executemany(
        "UPDATE careon_objects SET properties = ?, version = ?, updated_at = ? "
        "WHERE id = ? AND version = ?",
        updates,
    )
    db.execute(
        "INSERT INTO careon_audit (action, parameters, actor, source, idempotency_key, result, "
        "reason, created_at) VALUES ('place_order', ?, 'bench', 'pos', NULL, ?, NULL, ?)",
        (json.dumps({"lines": LINES}), json.dumps({"order_id": order_id}), now),
    )
    db.execute("COMMIT")


def _open_baseline(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON"):
        db.execute(f"PRAGMA {pragma}")
    return db


async def order_rates(folder: Path, orders: int, rounds: int) -> tuple[list[float], list[float]]:
    """Orders per second, CareOn and hand-written, measured in alternating rounds.

    Alternating keeps both sides under the same background load of a shared machine.
    """
    careon_path, baseline_path = folder / "careon.db", folder / "baseline.db"
    # the same tables (CareOn's migrations) and the same menu on both sides
    baseline_engine = await ActionEngine.open(sqlite_url(baseline_path), timezone="Asia/Seoul")
    try:
        await _seed_menu(baseline_engine)
    finally:
        await baseline_engine.close()
    engine = await ActionEngine.open(sqlite_url(careon_path), timezone="Asia/Seoul")
    db = _open_baseline(baseline_path)
    careon_rates, baseline_rates = [], []
    try:
        await _seed_menu(engine)
        for _ in range(50):  # warm caches on both sides
            await engine.execute("place_order", {"lines": LINES}, actor="bench", source="pos")
            _baseline_order(db)
        per_round = max(1, orders // rounds)
        for _ in range(rounds):
            start = time.perf_counter()
            for _ in range(per_round):
                await engine.execute("place_order", {"lines": LINES}, actor="bench", source="pos")
            careon_rates.append(per_round / (time.perf_counter() - start))
            start = time.perf_counter()
            for _ in range(per_round):
                _baseline_order(db)
            baseline_rates.append(per_round / (time.perf_counter() - start))
    finally:
        db.close()
        await engine.close()
    return careon_rates, baseline_rates


async def link_query_latency(path: Path, objects: int, queries: int) -> tuple[float, float]:
    """p50 and p95 (ms) of product -> requires -> inventory on a store of ``objects`` objects."""
    engine = await ActionEngine.open(sqlite_url(path), timezone="Asia/Seoul")
    try:
        items = objects // 5
        products = objects - items
        async with engine.engine.begin() as conn:
            ontology = Ontology(conn)
            for i in range(items):
                await ontology.create(
                    "InventoryItem",
                    f"item {i}",
                    {"unit": "g", "on_hand": 1000},
                    object_id=f"inventory_item.{i}",
                )
            links = []
            for i in range(products):
                await ontology.create(
                    "Product", f"product {i}", {"price": 1000 + i}, object_id=f"product.{i}"
                )
                links += [
                    Link(
                        source_id=f"product.{i}",
                        link_type="requires",
                        target_id=f"inventory_item.{(i * 7 + k) % items}",
                        properties={"qty": k + 1},
                    )
                    for k in range(3)
                ]
            await ontology.add_links(links)
        timings = []
        for n in range(queries):
            pid = f"product.{(n * 7919) % products}"
            start = time.perf_counter()
            async with engine.reader() as reader:
                result = await query_objects(
                    reader, engine.schema, {"object_ids": [pid], "follow": ["requires"]}
                )
            timings.append((time.perf_counter() - start) * 1000)
            assert len(result[0]["links"]["requires"]) == 3
        timings.sort()
        return statistics.median(timings), timings[int(len(timings) * 0.95)]
    finally:
        await engine.close()


async def snapshot_latency(path: Path, orders: int, days: int, reads: int) -> float:
    """p50 (ms) of the entities' snapshot on a store with ``orders`` spread over ``days``."""
    engine = await ActionEngine.open(sqlite_url(path), timezone="Asia/Seoul")
    try:
        now = datetime.now(UTC)
        async with engine.engine.begin() as conn:
            ontology = Ontology(conn)
            for n in range(orders):
                placed = now - timedelta(days=n % days, minutes=n % 600)
                await ontology.create(
                    "Order",
                    f"A-{n}",
                    {"status": "paid", "total": 4500, "placed_at": to_iso(placed), "lines": []},
                    object_id=f"order.{n}",
                )
        timings = []
        for _ in range(reads):
            start = time.perf_counter()
            async with engine.reader() as reader:
                await store_snapshot(reader, tz=engine.timezone, now=now)
            timings.append((time.perf_counter() - start) * 1000)
        return statistics.median(timings)
    finally:
        await engine.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--year-orders", type=int, default=55_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        careon, baseline = await order_rates(folder, args.orders, args.rounds)
        p50, p95 = await link_query_latency(folder / "store10k.db", args.objects, args.queries)
        snapshot_p50 = await snapshot_latency(folder / "year.db", args.year_orders, 365, 50)
    careon_median, baseline_median = statistics.median(careon), statistics.median(baseline)
    print(
        f"place_order, 3 lines x 2 ingredients, SQLite WAL synchronous=FULL, {args.orders} "
        f"orders per side in {args.rounds} alternating rounds"
    )
    print(
        f"  CareOn action engine : {careon_median:6.0f} orders/s (median; rounds "
        f"{', '.join(f'{r:.0f}' for r in careon)})"
    )
    print(
        f"  hand-written sqlite3 : {baseline_median:6.0f} orders/s (median; rounds "
        f"{', '.join(f'{r:.0f}' for r in baseline)})"
    )
    print(f"  ratio hand-written / CareOn: {baseline_median / careon_median:.2f}x")
    print(
        f"link query product -> requires -> inventory on {args.objects} objects, "
        f"{args.queries} queries (query service: a read transaction + the traversal)"
    )
    print(f"  p50 {p50:.3f} ms, p95 {p95:.3f} ms")
    print(
        f"entities' snapshot (today's sales, stock, menu) with {args.year_orders} orders over "
        f"a year: p50 {snapshot_p50:.2f} ms"
    )


if __name__ == "__main__":
    asyncio.run(main())
