"""Every committed action reaches the entities within one refresh cooldown, wherever it lands
relative to a refresh that is already running."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any
from unittest.mock import patch

from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.careon import coordinator as coordinator_module
from custom_components.careon.const import DOMAIN, REFRESH_COOLDOWN
from custom_components.careon.core import StoreSnapshot

from .conftest import get_state

ORDERS = "sensor.careon_cafe_orders_today"


async def _sell(entry: MockConfigEntry) -> None:
    await entry.runtime_data.engine.execute(
        "place_order",
        {"lines": [{"product": "product.americano_hot"}]},
        actor="test",
        source="test",
    )


async def _one_cooldown(hass: HomeAssistant) -> None:
    """Let what is running finish, then let exactly one cooldown pass."""
    await hass.async_block_till_done()
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=REFRESH_COOLDOWN))
    await hass.async_block_till_done()


async def _orders_shown_after_commit_at(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    arm: Callable[[Callable[[], Awaitable[None]]], Any],
) -> str:
    """Sell once (which refreshes); ``arm`` makes that refresh sell once more at one point of
    its course. The number of orders shown one cooldown later."""
    done = False

    async def sell_once_more() -> None:
        nonlocal done
        if not done:
            done = True
            await _sell(entry)

    with arm(sell_once_more):
        await _sell(entry)
        await _one_cooldown(hass)
    assert done
    return get_state(hass, ORDERS).state


@pytest.mark.usefixtures("init_integration")
async def test_commit_before_a_refresh(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Two sales in a row, the second while the first's refresh is about to start."""
    await _sell(init_integration)
    await _sell(init_integration)
    await _one_cooldown(hass)
    assert get_state(hass, ORDERS).state == "2"


def _selling_after(owner: Any, name: str) -> Callable[[Callable[[], Awaitable[None]]], Any]:
    """An arm for _orders_shown_after_commit_at: OWNER.NAME patched so that the sale commits
    right after the real one has returned, before its caller goes on."""
    real = getattr(owner, name)

    def arm(sell: Callable[[], Awaitable[None]]) -> Any:
        async def then_sell(*args: Any, **kwargs: Any) -> StoreSnapshot:
            snapshot: StoreSnapshot = await real(*args, **kwargs)
            await sell()
            return snapshot

        return patch.object(owner, name, then_sell)

    return arm


async def test_commit_during_the_read(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """A sale commits while the refresh reads the store."""
    arm = _selling_after(coordinator_module, "store_snapshot")
    assert await _orders_shown_after_commit_at(hass, init_integration, arm) == "2"


async def test_commit_after_the_read(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """A sale commits after the refresh has read the store, before the refresh is over: Home
    Assistant's debouncer drops the refresh that sale asks for (one is running)."""
    coordinator = init_integration.runtime_data.coordinator
    arm = _selling_after(coordinator, "_async_update_data")
    assert await _orders_shown_after_commit_at(hass, init_integration, arm) == "2"


async def test_commit_while_the_listeners_run(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """A sale starts while the entities take the new data, and commits right after."""
    coordinator = init_integration.runtime_data.coordinator

    def arm(sell: Callable[[], Awaitable[None]]) -> Any:
        def listener() -> None:
            hass.async_create_task(sell())

        remove = coordinator.async_add_listener(listener)

        class Armed:
            def __enter__(self) -> None:
                return None

            def __exit__(self, *exc: object) -> None:
                remove()

        return Armed()

    assert await _orders_shown_after_commit_at(hass, init_integration, arm) == "2"


async def test_a_burst_folds_into_few_refreshes(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Twenty sales in a row: all shown after one cooldown, and read at most once a cooldown
    (plus the first read, at once), not once a sale."""
    coordinator = init_integration.runtime_data.coordinator
    real = coordinator._async_update_data
    reads = 0

    async def counted() -> StoreSnapshot:
        nonlocal reads
        reads += 1
        return await real()

    started = hass.loop.time()
    with patch.object(coordinator, "_async_update_data", counted):
        for _ in range(20):
            await _sell(init_integration)
        selling = hass.loop.time() - started
        await _one_cooldown(hass)
    assert get_state(hass, ORDERS).state == "20"
    assert 1 <= reads <= 2 + int(selling / REFRESH_COOLDOWN)


async def test_a_read_queued_at_unload_raises_no_repair(
    hass: HomeAssistant, init_integration: MockConfigEntry, issue_registry: ir.IssueRegistry
) -> None:
    """A refresh waiting for the read in flight when the entry unloads finds the database
    closed on purpose: no "database unreachable" repair, no error, the last data kept."""
    coordinator = init_integration.runtime_data.coordinator
    async with coordinator._read_lock:  # a read in flight
        refresh = hass.async_create_task(coordinator.async_refresh())
        await asyncio.sleep(0)  # the refresh now waits for the lock
        closing = hass.async_create_task(coordinator.async_close())
        await asyncio.sleep(0)
    await closing
    await refresh
    assert not [issue for issue in issue_registry.issues.values() if issue.domain == DOMAIN]
    assert coordinator.last_update_success
    assert get_state(hass, ORDERS).state == "0"
