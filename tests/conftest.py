"""Fixtures for the tests of CareOn's Home Assistant layer.

Stores are real SQLite files in the test's temporary directory; the demo cafe is seeded once per
session into a template file that each test copies. PostgreSQL tests use the real server of
tests/postgres.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Generator, Mapping
import copy
from datetime import timedelta
import http.client
import logging
from pathlib import Path
import shutil
import threading
import time
from typing import Any
from unittest.mock import PropertyMock, patch

import aiosqlite
from homeassistant import block_async_io
from homeassistant.config_entries import ConfigEntry, ConfigEntryState, ConfigSubentryData
from homeassistant.const import CONF_NAME, Platform
from homeassistant.core import Context, HomeAssistant, State
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util, loop as ha_loop
from homeassistant.util.read_only_dict import ReadOnlyDict
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.syrupy import (
    HomeAssistantSnapshotExtension,
    HomeAssistantSnapshotSerializer,
)
from sqlalchemy.engine import make_url
from syrupy.assertion import SnapshotAssertion
from syrupy.types import SerializableData

from custom_components.careon.const import (
    CONF_DATABASE,
    CONF_DATABASE_URL,
    CONF_DAY_START_HOUR,
    CONF_TIMEZONE,
    DATABASE_POSTGRESQL,
    DATABASE_SQLITE,
    DOMAIN,
    REFRESH_COOLDOWN,
)
from custom_components.careon.core import ActionEngine
from custom_components.careon.core.database import sqlite_url
from custom_components.careon.core.demo import load_demo_data, seed_demo_store
from custom_components.careon.core.schema import default_schema

pytest_plugins = ["tests.postgres"]
# The end-to-end run has its own pytest stage (`scripts/test e2e`): Home Assistant is a separate
# process there, and this suite's plugin would patch the wrong one.
collect_ignore = ["e2e"]

STORE_NAME = "CareOn Cafe"
TIMEZONE = "Asia/Seoul"
# the demo cafe, read at import (tests run in an event loop that must not read files)
DEMO_DATA = load_demo_data()
ENTRY_ID = "01JCAREON0TEST0ENTRY000000"


class _BlockingCallsByCareOn(logging.Filter):
    """Keeps the detector's reports of CareOn's blocking calls made while an event loop runs,
    and drops its reports of the test harness's own (the detector takes every call on the
    loop's thread for one in the loop, also a sync test's or a fixture's)."""

    def __init__(self) -> None:
        super().__init__()
        self.reports: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "Detected blocking call" not in message:
            return True
        if "integration 'careon'" not in message:
            return False
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return False
        self.reports.append(message)
        return True


@pytest.fixture(autouse=True)
def blocking_call_detector(
    disable_block_async_io: None, monkeypatch: pytest.MonkeyPatch
) -> Generator[None]:
    """Home Assistant's own detector of blocking calls in the event loop is on in every test
    (as in a running Home Assistant); a test fails when CareOn's code makes one.

    The two calls the detector refuses outright (``time.sleep``, ``http.client``; CareOn uses
    neither) stay unwatched, since the detector would refuse them in the test harness's own
    code too (starting PostgreSQL); the others are reported, and checked here.
    """
    # in tests Home Assistant leaves the TLS calls unwatched (its own tests make them)
    monkeypatch.setattr(block_async_io, "_IN_TESTS", False)
    # The detector reports a place once per process, later only at debug level: a place an
    # earlier test reached outside an event loop (dropped below) must be reported again.
    monkeypatch.setattr(ha_loop, "_PREVIOUSLY_REPORTED", set())
    sleep, putrequest = time.sleep, http.client.HTTPConnection.putrequest
    block_async_io.enable()
    time.sleep, http.client.HTTPConnection.putrequest = sleep, putrequest  # type: ignore[method-assign]
    reports = _BlockingCallsByCareOn()
    detector_log = logging.getLogger("homeassistant.util.loop")
    detector_log.addFilter(reports)
    try:
        yield
    finally:
        detector_log.removeFilter(reports)
    assert reports.reports == []


def get_state(hass: HomeAssistant, entity_id: str) -> State:
    """The state of an entity that must exist."""
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return state


async def async_settle(hass: HomeAssistant) -> None:
    """Let the entities catch up with every committed action (refreshes are debounced).

    Twice: a refresh still finishing when the first cooldown fires starts a second cooldown (a
    busy CI machine once left the second order of a burst unshown after one round).
    """
    for _ in range(2):
        await hass.async_block_till_done(wait_background_tasks=True)
        async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=REFRESH_COOLDOWN))
        await hass.async_block_till_done(wait_background_tasks=True)


async def async_setup_platform(hass: HomeAssistant, entry: ConfigEntry, platform: Platform) -> None:
    """Set up ``entry`` with only ``platform``'s entities (for a snapshot of that platform)."""
    entry.add_to_hass(hass)
    with patch("custom_components.careon.PLATFORMS", [platform]):
        await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()


async def async_call_careon(
    hass: HomeAssistant,
    entry: ConfigEntry,
    service: str,
    *,
    context: Context | None = None,
    settle: bool = True,
    **data: Any,
) -> dict[str, Any]:
    """Call a CareOn action on ``entry``'s store (as ``context``'s user), let the entities
    catch up unless ``settle`` is False, return the answer."""
    response = await hass.services.async_call(
        DOMAIN,
        service,
        {"config_entry_id": entry.entry_id, **data},
        blocking=True,
        context=context,
        return_response=True,
    )
    if settle:
        await async_settle(hass)
    assert response is not None
    return dict(response)


async def async_run_action(
    hass: HomeAssistant, entry: ConfigEntry, action: str, **params: Any
) -> dict[str, Any]:
    """Run an action on ``entry``'s engine directly (as a test, not a user), let the entities
    catch up, return its result."""
    result = await entry.runtime_data.engine.execute(action, params, actor="test", source="test")
    await async_settle(hass)
    return dict(result.result)


def postgresql_entry(url: str) -> MockConfigEntry:
    """A CareOn entry (not yet added) for the PostgreSQL database at ``url``."""
    parsed = make_url(url)
    return MockConfigEntry(
        domain=DOMAIN,
        title=STORE_NAME,
        unique_id=f"{parsed.host}:{parsed.port}/{parsed.database}",
        data={
            CONF_NAME: STORE_NAME,
            CONF_TIMEZONE: TIMEZONE,
            CONF_DATABASE: DATABASE_POSTGRESQL,
            CONF_DATABASE_URL: url,
        },
        options={CONF_DAY_START_HOUR: 0},
    )


def with_password(url: str, password: str) -> str:
    """``url`` logging in with another password."""
    return make_url(url).set(password=password).render_as_string(hide_password=False)


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load custom_components/careon."""


@pytest.fixture(autouse=True)
def wait_for_closed_connections() -> Generator[None]:
    """Give aiosqlite's connection threads a moment to end once their engine is closed.

    A closed (or failed) aiosqlite connection stops its thread asynchronously; the harness's
    check for lingering threads must not race it. A connection never closed still fails it.
    """
    yield
    for thread in threading.enumerate():
        if is_sqlite_connection_thread(thread):
            thread.join(timeout=2)


def is_sqlite_connection_thread(thread: threading.Thread) -> bool:
    """Whether ``thread`` is an aiosqlite connection's worker: before aiosqlite 0.22 the
    connection is the thread, from 0.22 on it starts one running ``_connection_worker_thread``
    (which names the thread after it)."""
    return isinstance(thread, aiosqlite.Connection) or thread.name.endswith(
        "(_connection_worker_thread)"
    )


# Entity registry fields that only some supported Home Assistant versions have (2026.x: how the
# entity id was derived); no CareOn behaviour shows in them.
_VERSION_SPECIFIC_ENTRY_FIELDS = ("compat_name", "object_id_base", "suggested_object_id")


class CareOnSnapshotSerializer(HomeAssistantSnapshotSerializer):
    """Home Assistant's serializer, writing what every supported Home Assistant version has in
    one form, so one snapshot holds on the oldest and the current Home Assistant:

    - registry entries without the fields only newer versions have;
    - aliases as a set of the aliases set (2026.x lists them with ``None`` standing for the
      entity's own name; 2025.x has a set);
    - attribute and capability names as strings (2026.x uses StrEnum members as keys).
    """

    @classmethod
    def _serializable_entity_registry_entry(cls, data: er.RegistryEntry) -> SerializableData:
        serialized = super()._serializable_entity_registry_entry(data)
        assert isinstance(serialized, dict)
        for field in _VERSION_SPECIFIC_ENTRY_FIELDS:
            serialized.pop(field, None)
        serialized["aliases"] = {alias for alias in serialized["aliases"] if alias is not None}
        if isinstance(capabilities := serialized.get("capabilities"), Mapping):
            serialized["capabilities"] = {str(key): value for key, value in capabilities.items()}
        return serialized

    @classmethod
    def _serializable_state(cls, data: State) -> SerializableData:
        serialized = super()._serializable_state(data)
        assert isinstance(serialized, dict)
        serialized["attributes"] = ReadOnlyDict(
            {str(key): value for key, value in serialized["attributes"].items()}
        )
        return serialized


class CareOnSnapshotExtension(HomeAssistantSnapshotExtension):
    """Home Assistant's snapshot extension with CareOnSnapshotSerializer."""

    serializer_class = CareOnSnapshotSerializer


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Snapshots with Home Assistant's serializer (registry entries, states), in the form every
    supported Home Assistant version gives (CareOnSnapshotSerializer)."""
    return snapshot.use_extension(CareOnSnapshotExtension)


@pytest.fixture
def entity_registry_enabled_by_default() -> Generator[None]:
    """Create every entity enabled (pytest-homeassistant-custom-component lacks this)."""
    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
        new_callable=PropertyMock,
        return_value=True,
    ):
        yield


async def _seed(path: Path) -> None:
    engine = await ActionEngine.open(sqlite_url(path), timezone=TIMEZONE)
    try:
        await seed_demo_store(engine, copy.deepcopy(DEMO_DATA))
    finally:
        await engine.close()


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo cafe in an SQLite file, seeded once for the session (outside any test)."""
    path = tmp_path_factory.mktemp("careon-template") / "demo.db"
    default_schema()
    asyncio.run(_seed(path))
    return path


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    """Where this test's store lives (an SQLite file)."""
    return tmp_path / "careon_test.db"


@pytest.fixture
def demo_store(store_path: Path, demo_template: Path) -> Path:
    """This test's store: a copy of the demo cafe."""
    shutil.copyfile(demo_template, store_path)
    return store_path


def store_entry(
    path: Path,
    subentries: list[ConfigSubentryData] | None = None,
    *,
    entry_id: str = ENTRY_ID,
    title: str = STORE_NAME,
    day_start_hour: int = 0,
) -> MockConfigEntry:
    """A CareOn entry for the SQLite store at ``path`` (with connectors, if any)."""
    return MockConfigEntry(
        domain=DOMAIN,
        title=title,
        unique_id=str(path),
        entry_id=entry_id,
        data={
            CONF_NAME: title,
            CONF_TIMEZONE: TIMEZONE,
            CONF_DATABASE: DATABASE_SQLITE,
            CONF_DATABASE_URL: sqlite_url(path),
        },
        options={CONF_DAY_START_HOUR: day_start_hour},
        subentries_data=subentries,
    )


@pytest.fixture
def mock_config_entry(store_path: Path) -> MockConfigEntry:
    """A CareOn entry for the SQLite store of this test."""
    return store_entry(store_path)


@pytest.fixture
async def init_integration(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, demo_store: Path
) -> AsyncGenerator[MockConfigEntry]:
    """The demo cafe, set up in Home Assistant; unloaded (database closed) afterwards."""
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    yield mock_config_entry
    if mock_config_entry.state is ConfigEntryState.LOADED:
        assert await hass.config_entries.async_unload(mock_config_entry.entry_id)
        await hass.async_block_till_done()
