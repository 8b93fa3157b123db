"""Backups hold the store's writes and leave the SQLite file complete on its own."""

from __future__ import annotations

import asyncio
from pathlib import Path
import shutil
import sqlite3

from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.careon.backup import async_post_backup, async_pre_backup
from custom_components.careon.const import DOMAIN
from custom_components.careon.core import StoreUnavailableError


async def test_backup_holds_writes_and_checkpoints(
    hass: HomeAssistant, init_integration: MockConfigEntry, store_path: Path
) -> None:
    """During a backup no action commits, and the database file alone holds every sale."""
    engine = init_integration.runtime_data.engine
    await hass.services.async_call(
        DOMAIN,
        "place_order",
        {"config_entry_id": init_integration.entry_id, "lines": [{"product": "product.latte_hot"}]},
        blocking=True,
        return_response=True,
    )
    await async_pre_backup(hass)
    wal = Path(f"{store_path}-wal")
    assert not wal.exists() or wal.stat().st_size == 0  # everything is in the main file
    # a copy of the main file alone, as a backup takes it, has the sale
    with sqlite3.connect(f"file:{store_path}?mode=ro", uri=True) as copy:
        orders = copy.execute(
            "SELECT count(*) FROM careon_objects WHERE type = 'Order'"
        ).fetchone()[0]
    assert orders == 1

    sale = asyncio.ensure_future(
        engine.execute(
            "place_order",
            {"lines": [{"product": "product.croissant"}]},
            actor="test",
            source="service",
        )
    )
    await asyncio.sleep(0.2)
    assert not sale.done()  # waits for the backup
    async with engine.reader() as ontology:  # reads go on
        assert len(await ontology.by_type("Order")) == 1

    await async_post_backup(hass)
    result = await asyncio.wait_for(sale, 10)
    assert not result.replayed
    async with engine.reader() as ontology:
        assert len(await ontology.by_type("Order")) == 2
    await async_post_backup(hass)  # a second release is harmless


async def test_backup_with_no_store_loaded(hass: HomeAssistant) -> None:
    """Nothing to hold: the hooks just return."""
    await async_pre_backup(hass)
    await async_post_backup(hass)


async def test_a_backup_that_cannot_hold_a_store_lets_go(
    hass: HomeAssistant, init_integration: MockConfigEntry, demo_store: Path, tmp_path: Path
) -> None:
    """When a store's database cannot be checkpointed, the backup is refused and no action
    stays blocked."""
    engine = init_integration.runtime_data.engine
    # the next connection opens the file anew (setup's maintenance check left a writer open)
    await engine._drop_writer()
    await engine.engine.dispose()
    saved = tmp_path / "saved.db"
    shutil.move(demo_store, saved)
    demo_store.mkdir()  # SQLite cannot open a directory
    with pytest.raises(StoreUnavailableError):
        await async_pre_backup(hass)
    demo_store.rmdir()
    shutil.move(saved, demo_store)
    await engine.engine.dispose()
    result = await asyncio.wait_for(
        engine.execute(
            "place_order",
            {"lines": [{"product": "product.croissant"}]},
            actor="test",
            source="service",
        ),
        10,
    )
    assert result.result["status"] == "paid"


async def test_a_failed_backup_leaves_an_action_s_lock_alone(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Home Assistant runs the post-backup step even after the pre-backup step failed: that
    step must not free the write lock of an action in flight, or two actions would write at
    once."""
    engine = init_integration.runtime_data.engine
    inside = asyncio.Event()
    go_on = asyncio.Event()

    async def slow_commit(_: object) -> None:
        inside.set()
        await go_on.wait()

    engine.before_commit.append(slow_commit)
    first = asyncio.ensure_future(
        engine.execute(
            "place_order", {"lines": [{"product": "product.latte_hot"}]}, actor="t", source="t"
        )
    )
    await asyncio.wait_for(inside.wait(), 10)
    engine.before_commit.remove(slow_commit)

    await async_post_backup(hass)  # no pre-backup held anything
    second = asyncio.ensure_future(
        engine.execute(
            "place_order", {"lines": [{"product": "product.croissant"}]}, actor="t", source="t"
        )
    )
    await asyncio.sleep(0.2)
    assert not second.done()  # still waits for the first action's lock

    go_on.set()
    assert (await asyncio.wait_for(first, 10)).result["status"] == "paid"
    assert (await asyncio.wait_for(second, 10)).result["status"] == "paid"
    async with engine.reader() as ontology:
        assert len(await ontology.by_type("Order")) == 2
