"""The demo cafe: seeded through the same actions a store owner uses, and from the command line."""

from __future__ import annotations

from collections import Counter
import copy
import os
from pathlib import Path
import subprocess
import sys
from typing import Any

import pytest

from custom_components.careon.core import ActionEngine
from custom_components.careon.core.demo import _main, load_demo_data, seed_demo_store

ROOT = Path(__file__).parents[2]

TYPES = {
    "store": "Store",
    "zones": "Zone",
    "suppliers": "Supplier",
    "equipment": "Equipment",
    "inventory": "InventoryItem",
    "products": "Product",
    "staff": "Staff",
}


DEMO_DATA = load_demo_data()  # at import, not in the tests' event loop


def _expected_counts() -> tuple[Counter[str], Counter[str]]:
    data = DEMO_DATA
    objects = Counter({TYPES[key]: 1 if key == "store" else len(data[key]) for key in TYPES})
    links = Counter(
        {
            "located_in": len(data["equipment"]),
            "supplied_by": sum(1 for item in data["inventory"] if item.get("supplier")),
            "requires": sum(len(p["recipe"]) for p in data["products"]),
            "prepared_with": sum(len(p["prepared_with"]) for p in data["products"]),
            "assigned_to": sum(1 for person in data["staff"] if person.get("zone")),
        }
    )
    return objects, links


async def _counts(engine: ActionEngine) -> tuple[Counter[str], Counter[str]]:
    objects: Counter[str] = Counter()
    async with engine.reader() as ontology:
        for type_name in engine.schema.types:
            objects[type_name] += len(await ontology.by_type(type_name))
        ids = [o.id for t in engine.schema.types for o in await ontology.by_type(t)]
        links = Counter(link.link_type for link in await ontology.links_from(ids))
    return +objects, links


async def test_seeding_creates_the_whole_cafe_once(engine: ActionEngine, dump) -> None:
    objects, links = _expected_counts()
    assert objects == Counter(
        {
            "Store": 1,
            "Zone": 6,
            "Supplier": 5,
            "Equipment": 6,
            "InventoryItem": 17,
            "Product": 13,
            "Staff": 4,
        }
    )
    assert await seed_demo_store(engine) == 52
    assert await _counts(engine) == (objects, links)
    async with engine.reader() as ontology:
        store = (await ontology.by_type("Store"))[0]
        beans = await ontology.get("inventory_item.espresso_beans")
        ice = await ontology.get("inventory_item.ice")
        machine = await ontology.get("equipment.espresso_machine")
        fridge = await ontology.get("equipment.display_fridge")
        latte = await ontology.get("product.latte_hot")
    assert (store.id, store.name, store.get("timezone"), store.get("currency")) == (
        "store.store",
        "케어온 카페 성수점",
        "Asia/Seoul",
        "KRW",
    )
    # the staff suggestion's rate comes from the demo's traffic block
    assert store.get("orders_per_staff_hour") == 18
    assert store.get("min_staff") is None
    assert beans.properties == {
        "unit": "g",
        "on_hand": 6000,
        "reorder_point": 2000,
        "par_level": 8000,
        "pack_size": 1000,
        "unit_cost": 28,
    }
    assert "supplied_by" not in {link.link_type for link in await _links(engine, ice.id)}
    assert machine.get("maintenance_interval_days") == 7
    assert machine.get("maintenance_runtime_hours") == 600
    assert machine.get("power_threshold_w") == 150
    assert fridge.get("cold_chain") == {
        "max_c": 5.0,
        "alarm_after_minutes": 15,
        "recover_within_minutes": 30,
    }
    assert (latte.get("price"), latte.get("available")) == (5000, True)

    before = await dump(engine)
    assert await seed_demo_store(engine) == 0  # every request replays its key
    assert await dump(engine) == before


async def _links(engine: ActionEngine, object_id: str) -> list[Any]:
    async with engine.reader() as ontology:
        return await ontology.links_from([object_id])


async def test_demo_data_can_be_trimmed_for_a_test(engine: ActionEngine) -> None:
    data = copy.deepcopy(DEMO_DATA)
    small = {
        "store": {"name": "작은 가게", "timezone": "Asia/Seoul"},
        "zones": data["zones"][:1],
        "inventory": [dict(data["inventory"][-1])],  # ice: no supplier
        "products": [
            {
                "key": "water",
                "name": "얼음물",
                "category": "음료",
                "price": 0,
                "recipe": {"ice": 200},
            }
        ],
    }
    assert await seed_demo_store(engine, small) == 4
    objects, links = await _counts(engine)
    assert objects == Counter({"Store": 1, "Zone": 1, "InventoryItem": 1, "Product": 1})
    assert links == Counter({"requires": 1})


async def test_the_demo_main_seeds_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], open_engine
) -> None:
    path = tmp_path / "sub" / "demo.db"
    await _main(str(path))
    assert capsys.readouterr().out == "Demo cafe ready: 52 objects created\n"
    await _main(f"sqlite:///{path}")
    assert capsys.readouterr().out == "Demo cafe ready: 0 objects created\n"
    engine = await open_engine(f"sqlite:///{path}")
    assert (await _counts(engine))[0]["Product"] == 13


def test_the_demo_command_line(database: Any, tmp_path: Path) -> None:
    target = str(tmp_path / "cli.db") if database.backend == "sqlite" else database.new_url()
    command = [sys.executable, "-m", "custom_components.careon.core.demo", target]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
    }
    first = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert first.returncode == 0, first.stderr
    assert first.stdout == "Demo cafe ready: 52 objects created\n"
    if database.backend == "sqlite":
        again = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
        )
        assert again.stdout == "Demo cafe ready: 0 objects created\n"
    bad = subprocess.run(
        [*command[:-1], "mysql://nowhere/db"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert bad.returncode != 0
    assert "database_unavailable" in bad.stderr
