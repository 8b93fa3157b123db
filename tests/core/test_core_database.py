"""Opening the database: versioned migrations, URLs, and a database that is not there."""

from __future__ import annotations

import asyncio
from datetime import datetime
import os
from pathlib import Path
import socket
import subprocess
import threading
from typing import Any

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import make_url

from custom_components.careon.core import (
    ActionContext,
    ActionEngine,
    StoreAuthError,
    StoreUnavailableError,
    sqlite_driver,
)
from custom_components.careon.core.database import (
    LATEST_VERSION,
    PRIVACY_KEY,
    create_engine,
    migrate,
    normalise_url,
    open_database,
    redact_url,
    schema_version,
    sqlite_url,
)
from custom_components.careon.core.demo import seed_demo_store
from custom_components.careon.core.errors import CareOnError
from custom_components.careon.core.tables import (
    audit_table,
    links_table,
    meta_table,
    objects_table,
)
from tests.postgres import PASSWORD, PASSWORD_ROLE, PostgresServer, find_bindir

T0 = datetime(2025, 1, 2, 3, 4, 5, 678901)


async def test_a_version_1_database_is_upgraded_with_its_data(
    database: Any, db_url: str, open_engine, act, get
) -> None:
    raw = create_engine(db_url)
    try:
        async with raw.begin() as conn:
            assert await migrate(conn, target=1) == 0
            assert await schema_version(conn) == 1
            columns = {
                c["name"]
                for c in await conn.run_sync(lambda sync: inspect(sync).get_columns("careon_audit"))
            }
            assert "reason" not in columns
            # rows written the version-1 way: the audit row has no reason
            await conn.execute(
                objects_table.insert(),
                [
                    {
                        "id": "zone.hall",
                        "type": "Zone",
                        "name": "홀",
                        "properties": {"kind": "dining", "capacity": 12},
                        "version": 1,
                        "created_at": T0,
                        "updated_at": T0,
                    },
                    {
                        "id": "staff.kim",
                        "type": "Staff",
                        "name": "김",
                        "properties": {},
                        "version": 1,
                        "created_at": T0,
                        "updated_at": T0,
                    },
                ],
            )
            await conn.execute(
                links_table.insert(),
                {
                    "source_id": "staff.kim",
                    "link_type": "assigned_to",
                    "target_id": "zone.hall",
                    "properties": {},
                    "created_at": T0,
                },
            )
            await conn.execute(
                audit_table.insert(),
                {
                    "action": "create_object",
                    "parameters": {
                        "object_type": "Zone",
                        "key": "hall",
                        "name": "홀",
                        "properties": {"kind": "dining"},
                    },
                    "actor": "v1",
                    "source": "service",
                    "idempotency_key": "old-key",
                    "result": {"object_id": "zone.hall"},
                    "created_at": T0,
                },
            )
    finally:
        await raw.dispose()

    engine = await open_engine(db_url)
    async with engine.engine.connect() as conn:
        assert await schema_version(conn) == LATEST_VERSION == 4
        # version 4: vendor ids table and the store's privacy key
        assert await conn.run_sync(lambda sync: inspect(sync).has_table("careon_external_refs"))
        key = await conn.scalar(select(meta_table.c.value).where(meta_table.c.key == PRIVACY_KEY))
        assert isinstance(key, str)
        assert len(key) == 64
        # expression indexes: SQLAlchemy's inspector does not list them on SQLite
        index_names = (
            text("SELECT name FROM sqlite_master WHERE type = 'index'")
            if database.backend == "sqlite"
            else text("SELECT indexname FROM pg_indexes WHERE tablename = 'careon_objects'")
        )
        object_indexes = set((await conn.execute(index_names)).scalars())
        assert {
            "ix_careon_objects_order_ref",
            "ix_careon_objects_external_id",
            "ix_careon_objects_approved_at",
            "ix_careon_objects_phone_hash",
        } <= object_indexes
        audit = (await conn.execute(audit_table.select())).one()
        indexes = await conn.run_sync(lambda sync: inspect(sync).get_indexes("careon_links"))
        if database.backend == "postgresql":
            kinds = {
                c["name"]: c["type"]
                for c in await conn.run_sync(
                    lambda sync: inspect(sync).get_columns("careon_objects")
                )
            }
            assert isinstance(kinds["properties"], JSONB)
    assert (audit.actor, audit.idempotency_key, audit.reason, audit.created_at) == (
        "v1",
        "old-key",
        None,
        T0,
    )
    assert {"ix_careon_links_target"} <= {index["name"] for index in indexes}
    hall = await get(engine, "zone.hall")
    assert hall.properties == {"kind": "dining", "capacity": 12}
    assert hall.created_at.replace(tzinfo=None) == T0

    # the upgraded database works: a reason is recorded, old keys still replay
    result = await act(
        engine,
        "update_object",
        object_id="zone.hall",
        why="좌석 추가",
        properties={"capacity": 14},
        expected_version=1,
    )
    assert result.result["version"] == 2
    replay = await act(
        engine,
        "create_object",
        idempotency_key="old-key",
        object_type="Zone",
        key="hall",
        name="홀",
        properties={"kind": "dining"},
    )
    assert replay.replayed
    assert replay.result == {"object_id": "zone.hall"}
    async with engine.engine.connect() as conn:
        reasons = [
            row.reason
            for row in await conn.execute(audit_table.select().order_by(audit_table.c.id))
        ]
    assert reasons == [None, "좌석 추가"]
    async with engine.reader() as ontology:
        links = await ontology.links_to(["zone.hall"])
    assert [(link.source_id, link.link_type) for link in links] == [("staff.kim", "assigned_to")]

    # opening again migrates nothing
    again = await open_engine(db_url)
    async with again.engine.connect() as conn:
        assert await migrate(conn) == LATEST_VERSION


async def test_a_database_newer_than_the_code_is_refused(db_url: str, open_engine) -> None:
    engine = await open_engine(db_url)
    async with engine.engine.begin() as conn:
        await conn.execute(
            meta_table.update()
            .where(meta_table.c.key == "schema_version")
            .values(value=LATEST_VERSION + 1)
        )
    with pytest.raises(StoreUnavailableError) as info:
        await ActionEngine.open(db_url)
    assert info.value.translation_key == "database_unavailable"
    assert "newer than this CareOn" in info.value.placeholders["error"]


def test_urls_are_normalised_and_redacted() -> None:
    assert normalise_url("postgres://u:secret@db.local/careon").drivername == "postgresql+asyncpg"
    assert normalise_url(" postgresql://u@h/careon ").drivername == "postgresql+asyncpg"
    assert normalise_url("sqlite:////tmp/x.db").drivername == "sqlite+aiosqlite"
    assert sqlite_url(Path("/config/careon.db")) == "sqlite+aiosqlite:////config/careon.db"
    assert redact_url("postgresql+asyncpg://u:secret@h/careon") == (
        "postgresql+asyncpg://u:***@h/careon"
    )
    assert redact_url(normalise_url("postgres://u:secret@h/c")) == (
        "postgresql+asyncpg://u:***@h/c"
    )
    for bad, message in (
        ("mysql://u@h/db", "unsupported database 'mysql'"),
        ("not a url", "not a database URL"),
    ):
        with pytest.raises(StoreUnavailableError) as info:
            normalise_url(bad)
        assert message in info.value.placeholders["error"]


async def test_an_unsupported_or_malformed_url_does_not_open(tmp_path: Path) -> None:
    for url in ("mysql://u@h/db", "::"):
        with pytest.raises(StoreUnavailableError):
            await ActionEngine.open(url)


async def test_an_unusable_sqlite_path_is_store_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreUnavailableError):
        await ActionEngine.open(sqlite_url(blocker / "careon.db"))


async def test_a_closed_port_is_store_unavailable(socket_enabled: None) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # nothing listens there now
    with pytest.raises(StoreUnavailableError) as info:
        await ActionEngine.open(f"postgresql://postgres@127.0.0.1:{port}/careon")
    assert info.value.translation_key == "database_unavailable"
    assert info.value.placeholders["error"]
    assert isinstance(info.value, CareOnError)
    with pytest.raises(StoreUnavailableError):
        await open_database(f"postgres://postgres@127.0.0.1:{port}/careon")


def _with_login(url: str, **login: str | None) -> str:
    return make_url(url).set(**login).render_as_string(hide_password=False)


async def test_a_refused_login_is_store_auth_error(postgres_password_url: str, open_engine) -> None:
    """The server answers but refuses the credentials: StoreAuthError, not just unavailable."""
    with pytest.raises(StoreAuthError) as info:
        await open_database(_with_login(postgres_password_url, password="wrong"))
    assert info.value.translation_key == "database_auth_failed"
    assert "password authentication failed" in info.value.placeholders["error"]
    assert isinstance(info.value, StoreUnavailableError)
    # SQLSTATE 28000: a role the server does not know (it would log in without a password)
    with pytest.raises(StoreAuthError) as info:
        await ActionEngine.open(
            _with_login(postgres_password_url, username="nobody", password=None)
        )
    assert "nobody" in info.value.placeholders["error"]
    # the right password opens the store
    engine = await open_engine(postgres_password_url)
    await engine.ping()
    assert make_url(postgres_password_url).password == PASSWORD


async def test_a_password_changed_under_a_running_store(
    postgres_server: PostgresServer, postgres_password_url: str, open_engine, act, get
) -> None:
    """The password changes on the server: new connections are refused, with StoreAuthError."""
    engine = await open_engine(postgres_password_url)
    await _zone(engine, act)
    postgres_server.psql(f"ALTER ROLE {PASSWORD_ROLE} PASSWORD 'changed'")
    postgres_server.psql(
        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{PASSWORD_ROLE}'"
    )
    with pytest.raises(StoreAuthError):
        await engine.ping()
    with pytest.raises(StoreAuthError):
        await act(engine, "update_object", object_id="zone.hall", properties={"capacity": 3})
    # the old password is given back: the same engine works again
    postgres_server.require_password(PASSWORD_ROLE, PASSWORD)
    await act(engine, "update_object", object_id="zone.hall", properties={"capacity": 3})
    assert (await get(engine, "zone.hall")).get("capacity") == 3


def _pg_ctl(server: PostgresServer, *args: str) -> None:
    command = [str(find_bindir() / "pg_ctl"), f"--pgdata={server.data_dir}", *args]
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    subprocess.run(
        command,
        cwd=server.tmp_dir,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        check=True,
        timeout=60,
        start_new_session=True,
    )


def _stop(server: PostgresServer) -> None:
    _pg_ctl(server, "stop", "--mode=fast", "--wait")


def _start(server: PostgresServer) -> None:
    options = (
        f"-c listen_addresses=127.0.0.1 -c port={server.port} "
        f"-c unix_socket_directories={server.socket_dir} -c fsync=off"
    )
    _pg_ctl(server, "start", f"--log={server.log_file}", "--wait", f"--options={options}")


async def _restart(server: PostgresServer) -> None:
    """Restart the server from inside an action (a hook): in a thread, since the action runs
    in the event loop, which Home Assistant's blocking-call detector watches."""
    await asyncio.to_thread(_stop, server)
    await asyncio.to_thread(_start, server)


async def test_a_server_that_goes_away_and_comes_back(socket_enabled: None, act, get) -> None:
    """The database restarts under a running store: actions fail cleanly, then work again."""
    with PostgresServer("careon_restart") as server:
        engine = await ActionEngine.open(server.url)
        try:
            await act(
                engine,
                "create_object",
                object_type="Zone",
                key="hall",
                name="홀",
                properties={"kind": "dining"},
            )
            _stop(server)
            with pytest.raises(StoreUnavailableError):
                await act(
                    engine, "update_object", object_id="zone.hall", properties={"capacity": 3}
                )
            with pytest.raises(StoreUnavailableError):
                await act(
                    engine, "update_object", object_id="zone.hall", properties={"capacity": 3}
                )
            with pytest.raises(StoreUnavailableError):
                await engine.ping()
            _start(server)
            await act(engine, "update_object", object_id="zone.hall", properties={"capacity": 3})
            assert (await get(engine, "zone.hall")).get("capacity") == 3
            await engine.ping()
        finally:
            await engine.close()


async def test_the_first_action_after_a_restart_succeeds(socket_enabled: None, act) -> None:
    with PostgresServer("careon_restart2") as server:
        engine = await ActionEngine.open(server.url)
        try:
            await act(
                engine,
                "create_object",
                object_type="Zone",
                key="hall",
                name="홀",
                properties={"kind": "dining"},
            )
            _stop(server)
            _start(server)
            await engine.ping()  # readers come from the pool, which pings first
            await act(engine, "update_object", object_id="zone.hall", properties={"capacity": 3})
        finally:
            await engine.close()


async def test_engine_open_wraps_errors_reading_the_schema(db_url: str) -> None:
    """A database whose meta table is broken cannot be opened (and says so)."""
    raw = create_engine(db_url)
    try:
        async with raw.begin() as conn:
            await migrate(conn)
            await conn.execute(text("DROP TABLE careon_meta"))
            await conn.execute(
                text("CREATE TABLE careon_meta (key VARCHAR(64) PRIMARY KEY, other INTEGER)")
            )
    finally:
        await raw.dispose()
    with pytest.raises(StoreUnavailableError):
        await ActionEngine.open(db_url)


async def _zone(engine: ActionEngine, act) -> None:
    await act(
        engine,
        "create_object",
        object_type="Zone",
        key="hall",
        name="홀",
        properties={"kind": "dining"},
    )


async def _actions(engine: ActionEngine) -> list[str]:
    async with engine.engine.connect() as conn:
        rows = await conn.execute(select(audit_table.c.action).order_by(audit_table.c.id))
        return list(rows.scalars())


async def test_a_restart_in_the_middle_of_an_action_is_retried_once(
    socket_enabled: None, act, get
) -> None:
    """The connection is lost before the commit was sent: nothing was written, so the action
    runs once more on a new connection; lost twice, it gives up."""
    with PostgresServer("careon_restart3") as server:
        engine = await ActionEngine.open(server.url)
        try:
            await _zone(engine, act)
            calls: list[int] = []
            restarts = {1}

            async def restart_then_read(ctx: ActionContext) -> None:
                calls.append(len(calls) + 1)
                if len(calls) in restarts:
                    await _restart(server)
                await ctx.ontology.get("zone.hall")  # on a connection the restart dropped

            engine.before_commit.append(restart_then_read)
            await act(engine, "update_object", object_id="zone.hall", properties={"capacity": 3})
            assert calls == [1, 2]
            assert (await get(engine, "zone.hall")).get("capacity") == 3
            assert await _actions(engine) == ["create_object", "update_object"]

            calls.clear()
            restarts = {1, 2}
            with pytest.raises(StoreUnavailableError) as info:
                await act(
                    engine, "update_object", object_id="zone.hall", properties={"capacity": 4}
                )
            assert info.value.translation_key == "database_unavailable"
            assert calls == [1, 2]  # one retry, not more
            assert (await get(engine, "zone.hall")).get("capacity") == 3
            assert await _actions(engine) == ["create_object", "update_object"]

            engine.before_commit.clear()
            await act(engine, "update_object", object_id="zone.hall", properties={"capacity": 5})
            assert (await get(engine, "zone.hall")).get("capacity") == 5
        finally:
            await engine.close()


async def test_a_connection_lost_at_the_commit_is_never_retried(
    socket_enabled: None, act, get
) -> None:
    """Lost while committing, the action's outcome is unknown: it fails rather than risk
    running twice, and the next action works on a new connection."""
    with PostgresServer("careon_restart4") as server:
        engine = await ActionEngine.open(server.url)
        try:
            await _zone(engine, act)
            calls: list[int] = []

            async def restart_once(ctx: ActionContext) -> None:
                # no statement after the restart: the first to notice is the COMMIT
                calls.append(len(calls) + 1)
                if len(calls) == 1:
                    await _restart(server)  # the transaction is rolled back with the server

            engine.before_commit.append(restart_once)
            with pytest.raises(StoreUnavailableError):
                await act(
                    engine, "update_object", object_id="zone.hall", properties={"capacity": 3}
                )
            assert calls == [1]  # not run again
            engine.before_commit.clear()
            assert (await get(engine, "zone.hall")).get("capacity") is None
            assert await _actions(engine) == ["create_object"]
            await act(engine, "update_object", object_id="zone.hall", properties={"capacity": 3})
            assert (await get(engine, "zone.hall")).get("capacity") == 3
        finally:
            await engine.close()


async def test_streamed_results_use_the_drivers_own_cursors(cafe: ActionEngine) -> None:
    """A server-side cursor (SQLAlchemy's stream) works on both backends, SQLite's one-trip
    driver included (it hands such cursors to SQLAlchemy's own adapter)."""
    async with cafe.engine.connect() as conn:
        result = await conn.stream(
            select(objects_table.c.id).where(objects_table.c.type == "Product")
        )
        ids = [row.id async for row in result]
        raw = await conn.get_raw_connection()
        if conn.dialect.name == "sqlite":
            # the streamed statement ran inside the transaction SQLAlchemy began for it
            assert raw.driver_connection.in_transaction
            assert raw.dbapi_connection.begin_pending is None
    assert len(ids) == 13
    assert "product.latte_hot" in ids


async def test_a_database_that_does_not_exist_is_store_unavailable(
    postgres_server, socket_enabled: None
) -> None:
    """asyncpg's own login errors (SQLSTATE 3D000 here) become the store's error."""
    url = postgres_server.url_for("careon_no_such_database")
    with pytest.raises(StoreUnavailableError) as info:
        await ActionEngine.open(url)
    assert info.value.translation_key == "database_unavailable"


async def test_sqlalchemys_own_sqlite_adapter_is_the_fallback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the one-trip adapter does not fit the installed libraries, SQLAlchemy's own
    aiosqlite adapter runs the store the same way (writer lock, atomic actions)."""
    monkeypatch.setattr(sqlite_driver, "SUPPORTED", False)
    engine = await ActionEngine.open(sqlite_url(tmp_path / "fallback.db"))
    try:
        assert not isinstance(engine.engine.dialect.loaded_dbapi, sqlite_driver.OneTripDBAPI)
        await seed_demo_store(engine)
        sale = await engine.execute(
            "place_order", {"lines": [{"product": "product.latte_hot"}]}, actor="t", source="pos"
        )

        async def fault(_ctx: object) -> None:
            raise RuntimeError("fault")

        engine.before_commit.append(fault)
        with pytest.raises(RuntimeError):
            await engine.execute(
                "place_order",
                {"lines": [{"product": "product.latte_hot"}]},
                actor="t",
                source="pos",
            )
        async with engine.reader() as ontology:
            orders = await ontology.by_type("Order")
            milk = await ontology.get("inventory_item.milk")
        assert [order.id for order in orders] == [sale.result["order_id"]]
        assert milk is not None
        assert milk.get("on_hand") == 18000 - 200
    finally:
        await engine.close()


def test_the_one_trip_adapter_fits_the_installed_libraries() -> None:
    """The SQLAlchemy and aiosqlite this Home Assistant ships get the fast adapter: a quiet
    fallback to SQLAlchemy's own would slow every action down."""
    assert sqlite_driver.SUPPORTED
    assert sqlite_driver.one_trip_dbapi() is not None


async def test_sqlite_connection_threads_are_daemons(tmp_path: Path) -> None:
    """Each connection's worker thread is a daemon (aiosqlite before and after 0.22): a store
    left open never holds up the interpreter's exit."""
    before = set(threading.enumerate())
    engine = await ActionEngine.open(sqlite_url(tmp_path / "daemon.db"))
    try:
        async with engine.reader() as ontology:
            await ontology.get("")
        started = set(threading.enumerate()) - before
        assert started
        assert all(thread.daemon for thread in started)
    finally:
        await engine.close()
