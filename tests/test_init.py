"""Tests of setting CareOn up, announcing actions, and unloading it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
import json
from pathlib import Path
import shutil
import sqlite3
import threading
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import EVENT_HOMEASSISTANT_STOP, STATE_UNAVAILABLE
from homeassistant.core import Context, HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
)

from custom_components.careon.const import (
    CONF_DAY_START_HOUR,
    CONF_TIMEZONE,
    DOMAIN,
    ISSUE_DATABASE_UNREACHABLE,
    SCAN_INTERVAL,
)
from custom_components.careon.core import ActionEngine, StoreUnavailableError
from custom_components.careon.forecast import CareOnForecastCoordinator
from tests.postgres import PASSWORD, PASSWORD_ROLE, PostgresServer

from .conftest import (
    ENTRY_ID,
    async_settle,
    get_state,
    is_sqlite_connection_thread,
    postgresql_entry,
)

ISSUE_ID = f"{ISSUE_DATABASE_UNREACHABLE}_{ENTRY_ID}"
REVENUE = "sensor.careon_cafe_revenue_today"


def _state_of(entry: MockConfigEntry) -> ConfigEntryState:
    """The entry's state, read afresh (keeps type checkers from narrowing it)."""
    return entry.state


def _sqlite_threads() -> list[threading.Thread]:
    """aiosqlite runs each connection in a thread of its own."""
    return [thread for thread in threading.enumerate() if is_sqlite_connection_thread(thread)]


def _is_careon(thing: object) -> bool:
    """Whether ``thing`` (a callback, a bound method's object, a job) is CareOn's."""
    for candidate in (thing, getattr(thing, "__self__", None), getattr(thing, "target", None)):
        if candidate is None:
            continue
        module = getattr(candidate, "__module__", None) or type(candidate).__module__
        if module.startswith("custom_components.careon"):
            return True
        if (owner := getattr(candidate, "__self__", None)) is not None and type(
            owner
        ).__module__.startswith("custom_components.careon"):
            return True
    return False


def _careon_timers(hass: HomeAssistant) -> list[asyncio.TimerHandle]:
    """The event loop's pending timers that call into CareOn."""
    return [
        handle
        for handle in hass.loop._scheduled  # type: ignore[attr-defined]
        if not handle.cancelled()
        and any(
            _is_careon(thing)
            for thing in (handle._callback, *(handle._args or ()))  # type: ignore[attr-defined]
        )
    ]


def _careon_listeners(hass: HomeAssistant) -> list[str]:
    """The event types on which a CareOn callback listens (one-time listeners unwrapped)."""
    found = []
    for event_type, listeners in hass.bus._listeners.items():  # type: ignore[attr-defined]
        for job, *_ in listeners:
            target = job.target
            once = getattr(target, "listener_job", None)  # hass.bus.async_listen_once
            if _is_careon(target) or (once is not None and _is_careon(once.target)):
                found.append(str(event_type))
    return found


async def test_load_unload(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """The entry loads; unloading closes the database (no connection thread is left)."""
    assert init_integration.state is ConfigEntryState.LOADED
    assert get_state(hass, REVENUE).state == "0"
    threads = _sqlite_threads()
    assert threads  # the store's open connections
    assert _careon_timers(hass)  # the 5-minute poll, the forecast's hour, ...
    assert EVENT_HOMEASSISTANT_STOP in _careon_listeners(hass)
    assert await hass.config_entries.async_unload(init_integration.entry_id)
    await hass.async_block_till_done()
    assert _careon_timers(hass) == []
    assert _careon_listeners(hass) == []
    assert _state_of(init_integration) is ConfigEntryState.NOT_LOADED
    assert get_state(hass, REVENUE).state == STATE_UNAVAILABLE
    for thread in threads:
        thread.join(timeout=5)
        assert not thread.is_alive()


async def test_stop_closes_database(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """Home Assistant stopping lets go of the database."""
    engine = init_integration.runtime_data.engine
    assert engine.engine.pool.checkedin() == 1
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await hass.async_block_till_done()
    assert engine.engine.pool.checkedin() == 0


@pytest.mark.parametrize(
    "failing",
    [
        (lambda hass: hass.config_entries, "async_forward_entry_setups"),
        (lambda hass: CareOnForecastCoordinator, "async_start"),
    ],
    ids=["forwarding the platforms", "the last schedule"],
)
async def test_unexpected_setup_error_undoes_the_setup(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    demo_store: Path,
    failing: tuple[Callable[[HomeAssistant], object], str],
) -> None:
    """A setup that fails after the store was read (an unexpected error, for which Home
    Assistant runs no unload callbacks and unloads no platform) undoes what it did: the
    database closed, nothing polled or listened to, no entity left; a reload then works."""
    opened: list[ActionEngine] = []
    real_open = ActionEngine.open

    async def open_engine(*args: Any, **kwargs: Any) -> ActionEngine:
        opened.append(engine := await real_open(*args, **kwargs))
        return engine

    owner, name = failing
    mock_config_entry.add_to_hass(hass)
    with (
        patch.object(ActionEngine, "open", open_engine),
        patch.object(owner(hass), name, side_effect=RuntimeError("something broke")),
    ):
        assert not await hass.config_entries.async_setup(mock_config_entry.entry_id)
        await hass.async_block_till_done()
    assert _state_of(mock_config_entry) is ConfigEntryState.SETUP_ERROR
    [engine] = opened
    assert engine.engine.pool.checkedin() == 0
    with pytest.raises(StoreUnavailableError):
        await engine.ping()  # closed: it refuses all work
    # nothing of CareOn's left scheduled or listening: no 5-minute poll, no forecast hour, no
    # stop listener, no options listener, and no entity
    assert _careon_timers(hass) == []
    assert _careon_listeners(hass) == []
    assert not mock_config_entry.update_listeners
    assert not [
        state
        for state in hass.states.async_all()
        if state.entity_id.startswith(("sensor.careon_", "switch.careon_", "todo.careon_"))
        and state.state != STATE_UNAVAILABLE
    ]

    # fixed: the owner reloads the entry, and it loads
    assert await hass.config_entries.async_reload(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert _state_of(mock_config_entry) is ConfigEntryState.LOADED
    assert get_state(hass, REVENUE).state == "0"


async def test_database_unreachable(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    demo_store: Path,
    tmp_path: Path,
    issue_registry: ir.IssueRegistry,
) -> None:
    """An unreachable database: setup is retried and a repair issue raised, then cleared."""
    saved = tmp_path / "saved.db"
    demo_store.rename(saved)
    demo_store.mkdir()  # SQLite cannot open a directory
    mock_config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()

    assert mock_config_entry.state is ConfigEntryState.SETUP_RETRY
    issue = issue_registry.async_get_issue(DOMAIN, ISSUE_ID)
    assert issue is not None
    assert issue.translation_key == ISSUE_DATABASE_UNREACHABLE
    assert issue.severity is ir.IssueSeverity.ERROR
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["store"] == "CareOn Cafe"
    assert issue.translation_placeholders["database"].endswith("careon_test.db")
    assert "unable to open database file" in issue.translation_placeholders["error"]

    demo_store.rmdir()
    saved.rename(demo_store)
    await hass.config_entries.async_reload(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert _state_of(mock_config_entry) is ConfigEntryState.LOADED
    assert issue_registry.async_get_issue(DOMAIN, ISSUE_ID) is None
    assert await hass.config_entries.async_unload(mock_config_entry.entry_id)


async def test_entities_return_soon_after_the_database(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    demo_store: Path,
    tmp_path: Path,
    issue_registry: ir.IssueRegistry,
) -> None:
    """The database going away makes the entities unavailable and raises the repair issue.
    While it is away it is tried again after 2, 5, 10 and then every 20 seconds (not only at
    the 5-minute scan): the entities are back, and the issue gone, within 20 s of its return."""
    coordinator = init_integration.runtime_data.coordinator
    engine = init_integration.runtime_data.engine
    saved = tmp_path / "saved.db"
    # Drop the pooled connections, as a server restart would. (Not engine.close(): a closed
    # engine refuses all further work for good, and the store could never come back.)
    await engine._drop_writer()
    await engine.engine.dispose()
    shutil.move(demo_store, saved)
    demo_store.mkdir()

    await coordinator.async_refresh()
    await hass.async_block_till_done()
    waits = [coordinator.update_interval]
    now = dt_util.utcnow()
    for _ in range(4):
        wait = coordinator.update_interval
        assert wait is not None
        now += wait
        async_fire_time_changed(hass, now)
        await hass.async_block_till_done(wait_background_tasks=True)
        waits.append(coordinator.update_interval)
        assert get_state(hass, REVENUE).state == STATE_UNAVAILABLE
        assert issue_registry.async_get_issue(DOMAIN, ISSUE_ID) is not None
    assert [w.total_seconds() for w in waits if w is not None] == [2, 5, 10, 20, 20]

    demo_store.rmdir()
    shutil.move(saved, demo_store)
    async_fire_time_changed(hass, now + timedelta(seconds=20))
    await hass.async_block_till_done(wait_background_tasks=True)
    assert get_state(hass, REVENUE).state == "0"
    assert issue_registry.async_get_issue(DOMAIN, ISSUE_ID) is None
    assert coordinator.update_interval == SCAN_INTERVAL


async def test_events_after_commit(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """Every committed action fires careon_action and one event per domain event, with the
    caller's context, and refreshes the entities."""
    actions = async_capture_events(hass, "careon_action")
    placed = async_capture_events(hass, "careon_order_placed")
    low = async_capture_events(hass, "careon_stock_low")
    availability = async_capture_events(hass, "careon_product_availability_changed")
    context = Context(user_id="user-1")

    response = await hass.services.async_call(
        DOMAIN,
        "place_order",
        {
            "config_entry_id": init_integration.entry_id,
            "lines": [{"product": "product.croissant", "qty": 8}],
            "idempotency_key": "pos-1",
        },
        blocking=True,
        return_response=True,
        context=context,
    )
    await hass.async_block_till_done()

    assert len(actions) == 1
    assert actions[0].context is context
    assert actions[0].data == {
        "entry_id": init_integration.entry_id,
        "action": "place_order",
        "audit_id": actions[0].data["audit_id"],
        "actor": "user:user-1",
        "source": "service",
        "idempotency_key": "pos-1",
        "result": {key: value for key, value in response.items() if key != "replayed"},
    }
    assert response["replayed"] is False
    assert len(placed) == 1
    assert placed[0].data["entry_id"] == init_integration.entry_id
    assert placed[0].data["total"] == 8 * 3800
    assert placed[0].data["lines"] == [{"name": "버터 크루아상", "qty": 8, "options": []}]
    assert low[0].data["item_id"] == "inventory_item.croissant"
    assert low[0].data["on_hand"] == 4
    assert availability == []
    assert get_state(hass, REVENUE).state == str(8 * 3800)
    assert get_state(hass, "sensor.careon_cafe_orders_today").state == "1"
    assert get_state(hass, "sensor.careon_cafe_keuruasang_stock").state == "4"

    # The same idempotency key again: the first result, no change, no event.
    replay = await hass.services.async_call(
        DOMAIN,
        "place_order",
        {
            "config_entry_id": init_integration.entry_id,
            "lines": [{"product": "product.croissant", "qty": 8}],
            "idempotency_key": "pos-1",
        },
        blocking=True,
        return_response=True,
    )
    await hass.async_block_till_done()
    assert replay == {**response, "replayed": True}
    assert len(actions) == 1


async def test_events_without_user(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """Without a user, Home Assistant itself is the actor."""
    actions = async_capture_events(hass, "careon_action")
    await hass.services.async_call(
        DOMAIN,
        "update_availability",
        {
            "config_entry_id": init_integration.entry_id,
            "product": "product.croissant",
            "available": False,
        },
        blocking=True,
    )
    assert actions[0].data["actor"] == "homeassistant"


async def test_options_update_reloads(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """A new business-day start reloads the entry; other changes do not."""
    coordinator = init_integration.runtime_data.coordinator
    hass.config_entries.async_update_entry(
        init_integration, data={**init_integration.data, CONF_TIMEZONE: "Asia/Seoul"}
    )
    await hass.async_block_till_done()
    assert init_integration.runtime_data.coordinator is coordinator

    hass.config_entries.async_update_entry(init_integration, options={CONF_DAY_START_HOUR: 5})
    await hass.async_block_till_done()
    assert init_integration.state is ConfigEntryState.LOADED
    assert init_integration.runtime_data.coordinator is not coordinator
    assert init_integration.runtime_data.coordinator.day_start_hour == 5


@pytest.mark.parametrize("hour", [0, 5])
async def test_business_day(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    demo_store: Path,
    freezer: FrozenDateTimeFactory,
    hour: int,
) -> None:
    """Sales count for the business day; it starts at the configured hour (Seoul time)."""
    freezer.move_to("2025-04-20 18:30:00+00:00")  # 03:30 on the 21st in Seoul
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(mock_config_entry, options={CONF_DAY_START_HOUR: hour})
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    for placed_at in ("2025-04-20T23:00:00+09:00", "2025-04-21T01:00:00+09:00"):
        await hass.services.async_call(
            DOMAIN,
            "place_order",
            {
                "config_entry_id": mock_config_entry.entry_id,
                "lines": [{"product": "product.americano_hot"}],
                "placed_at": placed_at,
            },
            blocking=True,
        )
    await async_settle(hass)
    state = get_state(hass, REVENUE)
    expected_start = "2025-04-20T15:00:00+00:00" if hour == 0 else "2025-04-19T20:00:00+00:00"
    assert state.attributes["last_reset"] == expected_start
    # 23:00 on the 20th belongs to the 20th's business day only when the day starts at 5
    assert state.state == ("4500" if hour == 0 else "9000")
    assert await hass.config_entries.async_unload(mock_config_entry.entry_id)


async def test_first_refresh_fails(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, demo_store: Path
) -> None:
    """A store that cannot be read at setup is retried, and its database is closed."""
    now = dt_util.utcnow().isoformat(timespec="microseconds")
    with sqlite3.connect(demo_store) as conn:
        conn.execute(
            "INSERT INTO careon_objects VALUES (?, 'Order', 'bad', ?, 1, ?, ?)",
            (
                "order.bad",
                json.dumps({"status": "paid", "total": "a lot", "placed_at": now}),
                now[:26],
                now[:26],
            ),
        )
    conn.close()
    mock_config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert mock_config_entry.state is ConfigEntryState.SETUP_RETRY


async def test_password_changed_while_running(
    hass: HomeAssistant,
    postgres_server: PostgresServer,
    postgres_password_url: str,
    issue_registry: ir.IssueRegistry,
) -> None:
    """The server starts refusing the password of a loaded store: a reauth flow asks for it
    (no "unreachable" repair issue), and the entities are unavailable meanwhile."""
    entry = postgresql_entry(postgres_password_url)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED

    postgres_server.psql(f"ALTER ROLE {PASSWORD_ROLE} PASSWORD 'changed'")
    postgres_server.psql(
        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{PASSWORD_ROLE}'"
    )
    coordinator = entry.runtime_data.coordinator
    await coordinator.async_refresh()
    await hass.async_block_till_done()

    assert not coordinator.last_update_success
    assert get_state(hass, REVENUE).state == STATE_UNAVAILABLE
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [(flow["context"]["source"], flow["context"]["entry_id"]) for flow in flows] == [
        (SOURCE_REAUTH, entry.entry_id)
    ]
    assert (
        issue_registry.async_get_issue(DOMAIN, f"{ISSUE_DATABASE_UNREACHABLE}_{entry.entry_id}")
        is None
    )

    postgres_server.require_password(PASSWORD_ROLE, PASSWORD)
    await coordinator.async_refresh()
    assert coordinator.last_update_success
    assert await hass.config_entries.async_unload(entry.entry_id)
