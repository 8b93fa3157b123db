"""Benchmark: auto_reorder across a store of 2,000 inventory items and 50 suppliers.

    .venv/bin/python benchmarks/reorder.py [--items 2000] [--suppliers 50] [--runs 5] [--no-postgres]

Most items are at or under their reorder point; some are already on order, some have no
supplier or no par level. Every run starts from a fresh copy of the same store. The baseline is
the same computation written by hand with sqlite3 on the same file layout and pragmas (WAL,
synchronous=FULL): one scan of the items, one of the purchase orders, one join for the
suppliers, the purchase orders and their links inserted, an audit row with the result, one
transaction. The ratio is the cost of CareOn's engine over those bare reads and writes. On
PostgreSQL (a throwaway server from tests/postgres.py, when its binaries are installed) only
CareOn's time is measured.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime, timedelta
import json
import math
from pathlib import Path
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from typing import Any
import uuid
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from custom_components.careon.core import ActionEngine
from custom_components.careon.core.database import sqlite_url
from custom_components.careon.core.fields import normalise_number, to_iso
from custom_components.careon.core.ontology import Link, Ontology

TIMEZONE = "Asia/Seoul"
OPEN = ("draft", "requested", "ordered", "partially_received")


def _item_properties(i: int) -> dict[str, Any]:
    """Item i: 10 in 11 low; every 97th without a par level; packs of 1, 5 or 1000."""
    reorder_point, par = 100 + i % 50, 400 + i % 300
    low = i % 11 != 0
    properties: dict[str, Any] = {
        "unit": ("g", "ml", "ea")[i % 3],
        "on_hand": normalise_number(reorder_point * (0.25 + (i % 7) / 10)) if low else par,
        "reorder_point": reorder_point,
        "pack_size": (1, 5, 1000, 0.5)[i % 4],
        "unit_cost": 10 + i % 90,
    }
    if i % 97:
        properties["par_level"] = par
    return properties


async def seed(engine: ActionEngine, items: int, suppliers: int) -> None:
    """The store: suppliers, items with 1 or (every 4th) 2 suppliers (every 101st none), 10 open purchase
    orders holding 100 of the items, and 200 received ones (last months' history)."""
    async with engine.engine.begin() as conn:
        ontology = Ontology(conn)
        for s in range(suppliers):
            await ontology.create(
                "Supplier",
                f"supplier {s:02d}",
                {"order_method": "phone", "lead_time_days": 1 + s % 4},
                object_id=f"supplier.s{s}",
            )
        links = []
        for i in range(items):
            await ontology.create(
                "InventoryItem",
                f"item {i:04d}",
                _item_properties(i),
                object_id=f"inventory_item.{i}",
            )
            if i % 101 == 0:
                continue
            chosen = {i % suppliers, (i * 7 + 3) % suppliers} if i % 4 == 1 else {i % suppliers}
            links += [
                Link(
                    source_id=f"inventory_item.{i}",
                    link_type="supplied_by",
                    target_id=f"supplier.s{s}",
                    properties={},
                )
                for s in sorted(chosen)
            ]
        for n in range(210):
            status = "ordered" if n < 10 else "received"
            lines = [
                {"item": f"inventory_item.{(n * 10 + k) * 3 % items}", "qty": 10, "received": 0}
                for k in range(10)
            ]
            if status == "received":
                lines = [{**line, "received": 10} for line in lines]
            await ontology.create(
                "PurchaseOrder",
                f"old {n}",
                {"status": status, "lines": lines, "origin": "auto_reorder", "total_cost": 0},
                object_id=f"purchase_order.old{n}",
            )
            links.append(
                Link(
                    source_id=f"purchase_order.old{n}",
                    link_type="for",
                    target_id=f"supplier.s{n % suppliers}",
                    properties={},
                )
            )
        await ontology.add_links(links)


# --- the hand-written baseline ----------------------------------------------------------------


def _reorder_qty(properties: dict[str, Any]) -> float | None:
    par = properties.get("par_level")
    if par is None:
        return None
    need = normalise_number(par - properties.get("on_hand", 0))
    if need <= 0:
        return 0
    pack = properties.get("pack_size")
    if not pack:
        return need
    return normalise_number(math.ceil(normalise_number(need / pack)) * pack)


def baseline_reorder(path: Path) -> dict[str, Any]:
    """auto_reorder by hand: the same reads, decisions and writes, in one transaction."""
    db = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON"):
        db.execute(f"PRAGMA {pragma}")
    now = datetime.now(UTC)
    stamp = now.replace(tzinfo=None).isoformat(sep=" ")
    try:
        db.execute("BEGIN IMMEDIATE")
        items = [
            (row[0], row[1], json.loads(row[2]))
            for row in db.execute(
                "SELECT id, name, properties FROM careon_objects WHERE type = 'InventoryItem' "
                "ORDER BY name, id"
            )
        ]
        low = [
            item
            for item in items
            if item[2].get("reorder_point") is not None
            and item[2].get("on_hand", 0) <= item[2]["reorder_point"]
        ]
        waiting: dict[str, float] = {}
        for (properties,) in db.execute(
            "SELECT properties FROM careon_objects WHERE type = 'PurchaseOrder'"
        ):
            po = json.loads(properties)
            if po.get("status", "draft") in OPEN:
                for line in po.get("lines", []):
                    left = line.get("qty", 0) - line.get("received", 0)
                    if left > 0:
                        waiting[line["item"]] = waiting.get(line["item"], 0) + left
        skipped, to_order = [], []
        for item_id, name, properties in low:
            if waiting.get(item_id, 0) > 0:
                skipped.append(
                    {
                        "item_id": item_id,
                        "name": name,
                        "reason": "on_order",
                        "on_order": waiting[item_id],
                    }
                )
                continue
            qty = _reorder_qty(properties)
            if not qty:
                reason = "no_par_level" if qty is None else "at_par"
                skipped.append({"item_id": item_id, "name": name, "reason": reason})
                continue
            to_order.append((item_id, name, properties, qty))
        ids = [entry[0] for entry in to_order]
        best: dict[str, tuple[Any, ...]] = {}
        for source_id, supplier_id, supplier_name, properties in db.execute(
            "SELECT l.source_id, s.id, s.name, s.properties FROM careon_links l "
            "JOIN careon_objects s ON s.id = l.target_id WHERE l.link_type = 'supplied_by' "
            f"AND l.source_id IN ({','.join('?' * len(ids))})",
            ids,
        ):
            lead = json.loads(properties).get("lead_time_days")
            key = (math.inf if lead is None else lead, supplier_name, supplier_id)
            if source_id not in best or key < best[source_id][:3]:
                best[source_id] = (*key, lead)
        orders: dict[str, dict[str, Any]] = {}
        for item_id, name, properties, qty in to_order:
            if item_id not in best:
                skipped.append({"item_id": item_id, "name": name, "reason": "no_supplier"})
                continue
            _lead_key, supplier_name, supplier_id, lead = best[item_id]
            order = orders.setdefault(
                supplier_id, {"supplier": supplier_name, "lead": lead, "lines": []}
            )
            order["lines"].append(
                {
                    "item": item_id,
                    "name": name,
                    "unit": properties.get("unit"),
                    "qty": qty,
                    "received": 0,
                    "unit_cost": properties.get("unit_cost"),
                }
            )
        day = now.astimezone(ZoneInfo(TIMEZONE)).date().isoformat()
        created, rows, links = [], [], []
        for supplier_id, order in sorted(orders.items(), key=lambda e: (e[1]["supplier"], e[0])):
            po_id = f"purchase_order.{uuid.uuid4().hex}"
            total = round(sum(line["qty"] * line["unit_cost"] for line in order["lines"]))
            expected = to_iso(now + timedelta(days=order["lead"]))
            properties = {
                "status": "draft",
                "lines": order["lines"],
                "total_cost": total,
                "origin": "auto_reorder",
                "expected_at": expected,
            }
            name = f"{order['supplier']} {day}"
            rows.append((po_id, name, json.dumps(properties), stamp, stamp))
            links.append((po_id, supplier_id, stamp))
            created.append(
                {
                    "purchase_order_id": po_id,
                    "name": name,
                    "supplier_id": supplier_id,
                    "supplier": order["supplier"],
                    "status": "draft",
                    "lines": order["lines"],
                    "total_cost": total,
                    "expected_at": expected,
                }
            )
        db.executemany(
            "INSERT INTO careon_objects (id, type, name, properties, version, created_at, "
            "updated_at) VALUES (?, 'PurchaseOrder', ?, ?, 1, ?, ?)",
            rows,
        )
        db.executemany(
            "INSERT INTO careon_links (source_id, link_type, target_id, properties, created_at) "
            "VALUES (?, 'for', ?, '{}', ?)",
            links,
        )
        result = {"purchase_orders": created, "skipped": skipped}
        db.execute(
            "INSERT INTO careon_audit (action, parameters, actor, source, idempotency_key, "
            "result, reason, created_at) VALUES ('auto_reorder', '{}', 'bench', 'bench', NULL, "
            "?, NULL, ?)",
            (json.dumps(result), stamp),
        )
        db.execute("COMMIT")
        return result
    finally:
        db.close()


# --- timing -----------------------------------------------------------------------------------


async def careon_reorder(url: str) -> tuple[float, dict[str, Any]]:
    """Seconds for one auto_reorder on a store (the engine opened and warmed beforehand)."""
    engine = await ActionEngine.open(url, timezone=TIMEZONE)
    try:
        await engine.ping()
        start = time.perf_counter()
        result = await engine.execute("auto_reorder", {}, actor="bench", source="bench")
        return time.perf_counter() - start, dict(result.result)
    finally:
        await engine.close()


def _shape(result: dict[str, Any]) -> tuple[int, int, dict[str, int]]:
    reasons: dict[str, int] = {}
    for entry in result["skipped"]:
        reasons[entry["reason"]] = reasons.get(entry["reason"], 0) + 1
    lines = sum(len(po["lines"]) for po in result["purchase_orders"])
    return len(result["purchase_orders"]), lines, reasons


async def sqlite_runs(folder: Path, items: int, suppliers: int, runs: int) -> None:
    template = folder / "template.db"
    engine = await ActionEngine.open(sqlite_url(template), timezone=TIMEZONE)
    try:
        await seed(engine, items, suppliers)
    finally:
        await engine.close()
    careon, baseline = [], []
    shapes = set()
    for n in range(runs):  # alternating, so both sides share the machine's background load
        copy = folder / f"careon{n}.db"
        shutil.copyfile(template, copy)
        seconds, result = await careon_reorder(sqlite_url(copy))
        careon.append(seconds)
        shapes.add(repr(_shape(result)))
        copy = folder / f"baseline{n}.db"
        shutil.copyfile(template, copy)
        start = time.perf_counter()
        result = baseline_reorder(copy)
        baseline.append(time.perf_counter() - start)
        shapes.add(repr(_shape(result)))
    if len(shapes) != 1:
        raise SystemExit(f"CareOn and the baseline disagree: {shapes}")
    pos, lines, reasons = _shape(result)
    print(
        f"auto_reorder, {items} items ({sum(reasons.values()) + lines} at or under the reorder "
        f"point), {suppliers} suppliers: {pos} purchase orders, {lines} lines, skipped {reasons}"
    )
    print(f"SQLite WAL synchronous=FULL, {runs} runs on fresh copies")
    print(f"  CareOn action engine : {_ms(careon)}")
    print(f"  hand-written sqlite3 : {_ms(baseline)}")
    print(
        f"  ratio CareOn / hand-written: "
        f"{statistics.median(careon) / statistics.median(baseline):.2f}x"
    )


async def postgres_runs(items: int, suppliers: int, runs: int) -> None:
    from tests.postgres import PostgresServer  # noqa: PLC0415 - optional

    try:
        server = PostgresServer().start()
    except Exception as err:  # no binaries, no permission: this part is optional
        print(f"PostgreSQL: skipped ({err})")
        return
    try:
        url = server.create_database("reorder_template")
        engine = await ActionEngine.open(url, timezone=TIMEZONE)
        try:
            await seed(engine, items, suppliers)
        finally:
            await engine.close()
        careon = []
        for n in range(runs):
            server.psql(f"CREATE DATABASE reorder_{n} TEMPLATE reorder_template")
            seconds, _result = await careon_reorder(server.url_for(f"reorder_{n}"))
            careon.append(seconds)
        print(
            f"PostgreSQL {server.psql('SHOW server_version').strip()}, {runs} runs on fresh copies"
        )
        print(f"  CareOn action engine : {_ms(careon)}")
    finally:
        server.stop()


def _ms(seconds: list[float]) -> str:
    runs = ", ".join(f"{s * 1000:.0f}" for s in seconds)
    return f"{statistics.median(seconds) * 1000:7.1f} ms (median; runs {runs})"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--suppliers", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        await sqlite_runs(Path(tmp), args.items, args.suppliers, args.runs)
    if not args.no_postgres:
        await postgres_runs(args.items, args.suppliers, args.runs)


if __name__ == "__main__":
    asyncio.run(main())
