"""Tests of CareOn's config, options and reconfigure flows."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import SOURCE_REAUTH, SOURCE_USER, ConfigEntryState
from homeassistant.const import CONF_NAME, CONF_PASSWORD
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from sqlalchemy.engine import make_url

from custom_components.careon.const import (
    CONF_DATABASE,
    CONF_DATABASE_URL,
    CONF_DAY_START_HOUR,
    CONF_LOAD_DEMO,
    CONF_TIMEZONE,
    DATABASE_POSTGRESQL,
    DATABASE_SQLITE,
    DOMAIN,
)
from custom_components.careon.core import ActionEngine
from custom_components.careon.core.database import sqlite_url
from tests.postgres import PASSWORD, PASSWORD_ROLE

from .conftest import STORE_NAME, TIMEZONE, postgresql_entry, with_password

pytestmark = pytest.mark.usefixtures("config_dir")

# Nothing listens on port 1 of this machine.
CLOSED_PORT_URL = "postgresql://careon:secret@127.0.0.1:1/careon"


def _unexpected_failure() -> Any:
    """Opening the database fails in a way no flow expects (a bug, say). Not through a blocked
    socket: the test harness counts a socket a test tried to open as a failure (newer
    pytest-homeassistant-custom-component releases check it at teardown)."""
    return patch(
        "custom_components.careon.config_flow.ActionEngine.open",
        side_effect=RuntimeError("unexpected"),
    )


@pytest.fixture
def config_dir(hass: HomeAssistant, tmp_path: Path) -> Path:
    """Keep the SQLite files the flow creates in the test's directory."""
    hass.config.config_dir = str(tmp_path)
    return tmp_path


async def _objects(url: str, object_type: str) -> list[str]:
    engine = await ActionEngine.open(url, timezone=TIMEZONE)
    try:
        async with engine.reader() as ontology:
            return [obj.name for obj in await ontology.by_type(object_type)]
    finally:
        await engine.close()


def _user_input(**changes: object) -> dict[str, object]:
    return {
        CONF_NAME: STORE_NAME,
        CONF_TIMEZONE: TIMEZONE,
        CONF_DATABASE: DATABASE_SQLITE,
        CONF_LOAD_DEMO: False,
        **changes,
    }


async def test_user_sqlite(hass: HomeAssistant, config_dir: Path) -> None:
    """The default: an SQLite file in the configuration folder, the store created in it."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == {}

    result = await hass.config_entries.flow.async_configure(result["flow_id"], _user_input())
    await hass.async_block_till_done()

    path = config_dir / "careon_careon_cafe.db"
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == STORE_NAME
    assert result["data"] == {
        CONF_NAME: STORE_NAME,
        CONF_TIMEZONE: TIMEZONE,
        CONF_DATABASE: DATABASE_SQLITE,
        CONF_DATABASE_URL: sqlite_url(path),
    }
    assert result["options"] == {CONF_DAY_START_HOUR: 0}
    assert result["result"].unique_id == str(path)
    assert await _objects(sqlite_url(path), "Store") == [STORE_NAME]
    assert await _objects(sqlite_url(path), "Product") == []


async def test_user_sqlite_demo(hass: HomeAssistant, config_dir: Path) -> None:
    """The demo cafe is seeded before the entry is created."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _user_input(**{CONF_NAME: "성수점", CONF_LOAD_DEMO: True})
    )
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.CREATE_ENTRY
    url = result["data"][CONF_DATABASE_URL]
    assert url.endswith(".db")
    assert len(await _objects(url, "Product")) == 13
    assert await _objects(url, "Store") == ["케어온 카페 성수점"]


async def test_user_demo_into_existing_store(hass: HomeAssistant, config_dir: Path) -> None:
    """The demo cafe goes only into an empty database; the flow can go on without it."""
    path = config_dir / "careon_careon_cafe.db"
    engine = await ActionEngine.open(sqlite_url(path), timezone=TIMEZONE)
    await engine.execute(
        "create_object",
        {
            "object_type": "Store",
            "key": "store",
            "name": "Old",
            "properties": {"timezone": TIMEZONE},
        },
        actor="test",
        source="test",
    )
    await engine.close()

    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _user_input(**{CONF_LOAD_DEMO: True})
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "database_not_empty"}

    # Without the demo, the store already in the database is kept.
    result = await hass.config_entries.flow.async_configure(result["flow_id"], _user_input())
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert await _objects(sqlite_url(path), "Store") == ["Old"]


async def test_user_invalid_timezone(hass: HomeAssistant) -> None:
    """A time zone that does not exist is refused."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _user_input(**{CONF_TIMEZONE: "Asia/Atlantis"})
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_TIMEZONE: "invalid_timezone"}

    result = await hass.config_entries.flow.async_configure(result["flow_id"], _user_input())
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_user_sqlite_cannot_connect(hass: HomeAssistant, config_dir: Path) -> None:
    """An SQLite file that cannot be opened is reported."""
    path = config_dir / "careon_careon_cafe.db"
    path.mkdir()
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], _user_input())
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}

    path.rmdir()
    result = await hass.config_entries.flow.async_configure(result["flow_id"], _user_input())
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_user_sqlite_already_configured(hass: HomeAssistant, config_dir: Path) -> None:
    """One entry per SQLite file."""
    MockConfigEntry(domain=DOMAIN, unique_id=str(config_dir / "careon_careon_cafe.db")).add_to_hass(
        hass
    )
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], _user_input())
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def _postgresql_step(hass: HomeAssistant, **changes: object) -> str:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _user_input(**{CONF_DATABASE: DATABASE_POSTGRESQL, **changes})
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "postgresql"
    assert result["errors"] == {}
    return str(result["flow_id"])


async def test_user_postgresql(hass: HomeAssistant, postgres_url: str) -> None:
    """A PostgreSQL database is tried (tables created, store set up) before it is saved."""
    flow_id = await _postgresql_step(hass, **{CONF_LOAD_DEMO: True})
    # People paste postgres:// or postgresql:// URLs; the driver is ours to pick.
    typed = postgres_url.replace("postgresql+asyncpg://", "postgres://")
    result = await hass.config_entries.flow.async_configure(flow_id, {CONF_DATABASE_URL: typed})
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_DATABASE] == DATABASE_POSTGRESQL
    assert result["data"][CONF_DATABASE_URL] == postgres_url
    url = make_url(postgres_url)
    assert result["result"].unique_id == f"127.0.0.1:{url.port}/{url.database}"
    assert len(await _objects(postgres_url, "Product")) == 13


async def test_user_postgresql_demo_not_empty(hass: HomeAssistant, postgres_url: str) -> None:
    """The demo cafe is not loaded into a PostgreSQL database that holds a store."""
    engine = await ActionEngine.open(postgres_url, timezone=TIMEZONE)
    await engine.execute(
        "create_object",
        {
            "object_type": "Store",
            "key": "store",
            "name": "Old",
            "properties": {"timezone": TIMEZONE},
        },
        actor="test",
        source="test",
    )
    await engine.close()
    flow_id = await _postgresql_step(hass, **{CONF_LOAD_DEMO: True})
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_DATABASE_URL: postgres_url}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "database_not_empty"}


@pytest.mark.parametrize(
    "typed",
    [
        "not a url",
        "mysql://careon@127.0.0.1/careon",
        "sqlite:////tmp/careon.db",
        "postgresql://",
    ],
)
async def test_user_postgresql_invalid_url(
    hass: HomeAssistant, postgres_url: str, typed: str
) -> None:
    """Only PostgreSQL URLs with a host and a database are accepted."""
    flow_id = await _postgresql_step(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, {CONF_DATABASE_URL: typed})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_DATABASE_URL: "invalid_url"}

    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_DATABASE_URL: postgres_url}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_user_postgresql_cannot_connect(hass: HomeAssistant, postgres_url: str) -> None:
    """A server that does not answer is reported; the flow goes on once it is right."""
    flow_id = await _postgresql_step(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_DATABASE_URL: CLOSED_PORT_URL}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}

    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_DATABASE_URL: postgres_url}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_user_postgresql_invalid_auth(
    hass: HomeAssistant, postgres_password_url: str
) -> None:
    """A password the server refuses is reported as such, not as an unreachable server."""
    flow_id = await _postgresql_step(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_DATABASE_URL: with_password(postgres_password_url, "wrong")}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_auth"}

    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_DATABASE_URL: postgres_password_url}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert make_url(result["data"][CONF_DATABASE_URL]).password == PASSWORD


async def test_user_postgresql_unknown_error(hass: HomeAssistant) -> None:
    """An unexpected failure is reported as unknown."""
    flow_id = await _postgresql_step(hass)
    with _unexpected_failure():
        result = await hass.config_entries.flow.async_configure(
            flow_id, {CONF_DATABASE_URL: CLOSED_PORT_URL}
        )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "unknown"}


async def test_user_postgresql_already_configured(hass: HomeAssistant) -> None:
    """One entry per PostgreSQL database (host, port and name); nothing is tried."""
    MockConfigEntry(domain=DOMAIN, unique_id="db.local:5432/careon").add_to_hass(hass)
    flow_id = await _postgresql_step(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_DATABASE_URL: "postgresql://careon:secret@db.local/careon"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_options_flow(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """The business day's start hour is an option."""
    result = await hass.config_entries.options.async_init(init_integration.entry_id)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "init"

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_DAY_START_HOUR: 5.0}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert init_integration.options == {CONF_DAY_START_HOUR: 5}
    assert init_integration.runtime_data.coordinator.day_start_hour == 5


async def test_reconfigure_sqlite(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """An SQLite store can change its time zone; the database is tried again."""
    result = await init_integration.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"
    assert CONF_DATABASE_URL not in result["data_schema"].schema

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TIMEZONE: "Asia/Tokyo"}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert init_integration.data[CONF_TIMEZONE] == "Asia/Tokyo"
    assert str(init_integration.runtime_data.engine.timezone) == "Asia/Tokyo"


async def test_reconfigure_sqlite_errors(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, store_path: Path
) -> None:
    """A bad time zone or an unreadable file keeps the form open."""
    mock_config_entry.add_to_hass(hass)
    store_path.mkdir()
    result = await mock_config_entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TIMEZONE: "Mars/Olympus"}
    )
    assert result["errors"] == {CONF_TIMEZONE: "invalid_timezone"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TIMEZONE: "Asia/Tokyo"}
    )
    assert result["errors"] == {"base": "cannot_connect"}

    store_path.rmdir()
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TIMEZONE: "Asia/Tokyo"}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert await hass.config_entries.async_unload(mock_config_entry.entry_id)


async def test_reconfigure_postgresql(
    hass: HomeAssistant, postgres_url: str, postgres_server: object
) -> None:
    """A PostgreSQL store can move; the URL is tried, and a redacted password is kept."""
    old = make_url(postgres_url).set(password="secret")
    entry = postgresql_entry(old.render_as_string(hide_password=False))
    entry.add_to_hass(hass)
    second = postgres_server.create_database("careon_moved")  # type: ignore[attr-defined]
    try:
        result = await entry.start_reconfigure_flow(hass)
        assert result["type"] is FlowResultType.FORM
        # The form shows the URL with its password hidden.
        suggested = {
            str(key): key.description["suggested_value"] for key in result["data_schema"].schema
        }
        assert suggested[CONF_DATABASE_URL] == old.render_as_string(hide_password=True)

        for typed, error in (
            ("mysql://x@y/z", {CONF_DATABASE_URL: "invalid_url"}),
            (CLOSED_PORT_URL, {"base": "cannot_connect"}),
        ):
            result = await hass.config_entries.flow.async_configure(
                result["flow_id"], {CONF_TIMEZONE: TIMEZONE, CONF_DATABASE_URL: typed}
            )
            assert result["errors"] == error

        moved = make_url(second).set(password="***").render_as_string(hide_password=False)
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_TIMEZONE: "Asia/Tokyo", CONF_DATABASE_URL: moved}
        )
        await hass.async_block_till_done()
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "reconfigure_successful"
        new = make_url(entry.data[CONF_DATABASE_URL])
        assert new.database == "careon_moved"
        assert new.password == "secret"
        assert entry.unique_id == f"127.0.0.1:{new.port}/careon_moved"
        assert entry.data[CONF_TIMEZONE] == "Asia/Tokyo"
        assert await hass.config_entries.async_unload(entry.entry_id)
    finally:
        postgres_server.drop_database("careon_moved")  # type: ignore[attr-defined]


async def test_reconfigure_postgresql_already_configured(
    hass: HomeAssistant, postgres_url: str
) -> None:
    """A store cannot move onto the database of another store."""
    entry = postgresql_entry(postgres_url)
    entry.add_to_hass(hass)
    MockConfigEntry(domain=DOMAIN, unique_id="db.local:5432/other").add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_TIMEZONE: TIMEZONE, CONF_DATABASE_URL: "postgresql://u:p@db.local/other"},
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_reconfigure_unknown_error(hass: HomeAssistant) -> None:
    """An unexpected failure while trying the database is reported as unknown."""
    entry = postgresql_entry("postgresql+asyncpg://careon:secret@127.0.0.1:1/careon")
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    with _unexpected_failure():
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_TIMEZONE: TIMEZONE, CONF_DATABASE_URL: CLOSED_PORT_URL}
        )
    assert result["errors"] == {"base": "unknown"}


async def test_reconfigure_postgresql_invalid_auth(
    hass: HomeAssistant, postgres_password_url: str
) -> None:
    """A refused password keeps the form open; the kept (redacted) password still works."""
    entry = postgresql_entry(postgres_password_url)
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            CONF_TIMEZONE: TIMEZONE,
            CONF_DATABASE_URL: with_password(postgres_password_url, "wrong"),
        },
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_auth"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_TIMEZONE: TIMEZONE, CONF_DATABASE_URL: with_password(postgres_password_url, "***")},
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_DATABASE_URL] == postgres_password_url
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_reauth(hass: HomeAssistant, postgres_password_url: str) -> None:
    """A refused password fails setup and starts reauth; the new password is tried, saved in
    the URL, and the store loads."""
    entry = postgresql_entry(with_password(postgres_password_url, "old"))
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_ERROR

    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert len(flows) == 1
    assert flows[0]["context"]["source"] == SOURCE_REAUTH
    assert flows[0]["context"]["entry_id"] == entry.entry_id
    assert flows[0]["step_id"] == "reauth_confirm"
    result = await hass.config_entries.flow.async_configure(flows[0]["flow_id"])
    assert result["type"] is FlowResultType.FORM
    placeholders = result["description_placeholders"]
    assert (placeholders["store"], placeholders["username"]) == (STORE_NAME, PASSWORD_ROLE)

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PASSWORD: "still wrong"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_auth"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PASSWORD: PASSWORD}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert entry.data[CONF_DATABASE_URL] == postgres_password_url
    assert entry.state is ConfigEntryState.LOADED
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_reauth_cannot_connect(hass: HomeAssistant, socket_enabled: None) -> None:
    """A server that does not answer is reported."""
    entry = postgresql_entry("postgresql+asyncpg://careon:old@127.0.0.1:1/careon")
    entry.add_to_hass(hass)
    result = await entry.start_reauth_flow(hass)
    assert result["step_id"] == "reauth_confirm"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PASSWORD: "new"}
    )
    assert result["errors"] == {"base": "cannot_connect"}
    assert entry.data[CONF_DATABASE_URL].endswith(":old@127.0.0.1:1/careon")


async def test_reauth_unknown_error(hass: HomeAssistant) -> None:
    """An unexpected failure is reported as unknown."""
    entry = postgresql_entry("postgresql+asyncpg://careon:old@127.0.0.1:1/careon")
    entry.add_to_hass(hass)
    result = await entry.start_reauth_flow(hass)
    with _unexpected_failure():
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_PASSWORD: "new"}
        )
    assert result["errors"] == {"base": "unknown"}
