"""The demo cafe (demo_cafe.yaml), set up through the same actions a store owner uses.

Run ``python -m custom_components.careon.core.demo <database URL or file>`` to seed a database.
Every object is created with an idempotency key, so seeding twice changes nothing.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Mapping
from datetime import datetime
import math
from pathlib import Path
import random
from typing import Any

import yaml

from .database import sqlite_url
from .engine import ActionEngine

DEMO_FILE = Path(__file__).with_name("demo_cafe.yaml")
ACTOR = "careon"
SOURCE = "demo"


def load_demo_data(path: Path = DEMO_FILE) -> dict[str, Any]:
    """The demo cafe as data."""
    with path.open(encoding="utf-8") as handle:
        data: dict[str, Any] = yaml.safe_load(handle)
    return data


def traffic_rate(traffic: Mapping[str, Any], local: datetime) -> float:
    """The demo's expected orders in the local hour starting at ``local``: the weekday shape
    (``traffic.orders_per_hour_weekday``), times ``weekend_factor`` on Saturday and Sunday, when
    the cafe opens at 10 (weekdays 08-21, weekend 10-21). Generated histories (the forecast's
    tests and benchmark) follow it."""
    rate = float(traffic["orders_per_hour_weekday"].get(f"{local.hour:02d}", 0))
    if local.weekday() >= 5:
        return rate * traffic["weekend_factor"] if local.hour >= 10 else 0.0
    return rate


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw around ``lam`` (Knuth's method: fine for the rates of one cafe hour)."""
    if lam <= 0:
        return 0
    limit, count, product = math.exp(-lam), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def _setup_requests(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``create_object`` parameters for the whole store, in dependency order."""
    store = data["store"]
    links: list[dict[str, Any]]
    requests: list[dict[str, Any]] = [
        {
            "object_type": "Store",
            "key": "store",
            "name": store["name"],
            "properties": {
                "timezone": store["timezone"],
                "currency": store.get("currency", "KRW"),
                "opening_hours": store.get("opening_hours", {}),
                **(
                    {"orders_per_staff_hour": data["traffic"]["orders_per_staff_hour"]}
                    if "orders_per_staff_hour" in data.get("traffic", {})
                    else {}
                ),
            },
        }
    ]
    for zone in data.get("zones", []):
        requests.append(
            {
                "object_type": "Zone",
                "key": zone["key"],
                "name": zone["name"],
                "properties": {"kind": zone["kind"], "capacity": zone["capacity"]},
            }
        )
    for supplier in data.get("suppliers", []):
        props = {
            k: supplier[k]
            for k in ("phone", "email", "order_method", "lead_time_days")
            if supplier.get(k) is not None
        }
        requests.append(
            {
                "object_type": "Supplier",
                "key": supplier["key"],
                "name": supplier["name"],
                "properties": props,
            }
        )
    for equipment in data.get("equipment", []):
        maintenance = equipment.get("maintenance", {})
        props = {"kind": equipment["kind"]}
        for source_key, prop in (
            ("interval_days", "maintenance_interval_days"),
            ("task", "maintenance_task"),
            ("runtime_hours", "maintenance_runtime_hours"),
            ("runtime_task", "maintenance_runtime_task"),
        ):
            if maintenance.get(source_key) is not None:
                props[prop] = maintenance[source_key]
        for key in ("power_threshold_w", "cold_chain"):
            if equipment.get(key) is not None:
                props[key] = equipment[key]
        requests.append(
            {
                "object_type": "Equipment",
                "key": equipment["key"],
                "name": equipment["name"],
                "properties": props,
                "links": [{"link_type": "located_in", "target": f"zone.{equipment['zone']}"}],
            }
        )
    for item in data.get("inventory", []):
        props = {
            k: item[k]
            for k in ("unit", "on_hand", "reorder_point", "par_level", "pack_size", "unit_cost")
            if item.get(k) is not None
        }
        links = (
            [{"link_type": "supplied_by", "target": f"supplier.{item['supplier']}"}]
            if item.get("supplier")
            else []
        )
        requests.append(
            {
                "object_type": "InventoryItem",
                "key": item["key"],
                "name": item["name"],
                "properties": props,
                "links": links,
            }
        )
    for product in data.get("products", []):
        links = [
            {"link_type": "requires", "target": f"inventory_item.{key}", "properties": {"qty": qty}}
            for key, qty in product.get("recipe", {}).items()
        ]
        links += [
            {"link_type": "prepared_with", "target": f"equipment.{key}"}
            for key in product.get("prepared_with", [])
        ]
        requests.append(
            {
                "object_type": "Product",
                "key": product["key"],
                "name": product["name"],
                "properties": {"category": product["category"], "price": product["price"]},
                "links": links,
            }
        )
    for person in data.get("staff", []):
        links = (
            [{"link_type": "assigned_to", "target": f"zone.{person['zone']}"}]
            if person.get("zone")
            else []
        )
        requests.append(
            {
                "object_type": "Staff",
                "key": person["key"],
                "name": person["name"],
                "properties": {"role": person["role"], "hourly_rate": person["hourly_rate"]},
                "links": links,
            }
        )
    return requests


async def seed_demo_store(engine: ActionEngine, data: Mapping[str, Any] | None = None) -> int:
    """Create the demo cafe; return how many objects were new."""
    created = 0
    if data is None:
        data = await asyncio.to_thread(load_demo_data)  # a file: off the event loop
    for request in _setup_requests(data):
        key = f"demo:{request['object_type']}:{request['key']}"
        result = await engine.execute(
            "create_object", request, actor=ACTOR, source=SOURCE, idempotency_key=key
        )
        created += not result.replayed
    return created


async def _main(target: str) -> None:
    url = target if "://" in target else sqlite_url(Path(target).resolve())
    data = await asyncio.to_thread(load_demo_data)  # a file: off the event loop
    engine = await ActionEngine.open(url, timezone=data["store"]["timezone"])
    try:
        created = await seed_demo_store(engine, data)
    finally:
        await engine.close()
    print(f"Demo cafe ready: {created} objects created")  # noqa: T201 - a command-line tool


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("database", help="a database URL, or the path of a SQLite file")
    asyncio.run(_main(parser.parse_args().database))
