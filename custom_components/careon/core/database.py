"""Opening the store's database: engines, connection settings and versioned migrations."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
import logging
from pathlib import Path
import secrets
from typing import Any

from asyncpg.exceptions import InvalidAuthorizationSpecificationError
import orjson
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    event,
    select,
    text,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from .errors import StoreAuthError, StoreUnavailableError
from .postgres_tls import postgres_tls
from .sqlite_driver import OneTripConnection, one_trip_dbapi
from .tables import ORDER_PLACED_AT_SQL, meta_table, property_sql

_LOGGER = logging.getLogger(__name__)

SCHEMA_VERSION_KEY = "schema_version"
# meta key of the store's secret for keyed hashes of personal data (core/privacy.py)
PRIVACY_KEY = "privacy_key"
# An execution option that marks the connection actions are written on.
WRITER_OPTION = "careon_writer"
# PostgreSQL advisory lock key of a CareOn database ("careon" in ASCII): held by the writing
# transaction, so that actions from several processes queue instead of colliding.
WRITER_LOCK_KEY = 0x636172656F6E
# The SQLSTATEs of a refused login: invalid_password (a wrong password, or an unknown role the
# server will not name) and invalid_authorization_specification (no pg_hba.conf line lets the
# role in, or the role does not exist).
AUTH_SQLSTATES = frozenset({"28P01", "28000"})
SQLITE_DRIVER = "sqlite+aiosqlite"
POSTGRES_DRIVER = "postgresql+asyncpg"


def sqlite_url(path: str | Path) -> str:
    """The URL of the embedded database file."""
    return f"{SQLITE_DRIVER}:///{Path(path)}"


def normalise_url(url: str) -> URL:
    """Accept what people paste (postgres://, postgresql://) and pick our async drivers."""
    try:
        parsed = make_url(url.strip())
    except ArgumentError as err:
        raise StoreUnavailableError(f"not a database URL: {err}") from None
    backend = parsed.get_backend_name()
    if backend in ("postgres", "postgresql"):
        return parsed.set(drivername=POSTGRES_DRIVER)
    if backend == "sqlite":
        return parsed.set(drivername=SQLITE_DRIVER)
    raise StoreUnavailableError(f"unsupported database {backend!r}: use SQLite or PostgreSQL")


def is_auth_failure(error: BaseException) -> bool:
    """Whether the database server refused our credentials.

    asyncpg raises its own exceptions while it logs in (SQLAlchemy passes them on unwrapped,
    also when the pool opens a new connection); SQLAlchemy wraps those raised on an open
    connection (``DBAPIError.orig``). Both carry the SQLSTATE as ``sqlstate``.
    """
    return any(getattr(cause, "sqlstate", None) in AUTH_SQLSTATES for cause in _causes(error))


def _causes(error: BaseException) -> Iterator[BaseException]:
    """The error, what it wraps (``orig``) and what caused it, each once."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = getattr(current, "orig", None) or current.__cause__


def refused_value(error: BaseException) -> bool:
    """Whether the driver refused a value of the request rather than failing itself: a data
    exception (SQLSTATE class 22: a text too long, a number out of range, a NUL), or a
    parameter it could not encode (a number beyond 64 bits, a value JSON cannot write)."""
    return any(
        str(getattr(cause, "sqlstate", None) or "").startswith("22")
        or isinstance(cause, OverflowError | ValueError | TypeError)
        or type(cause).__name__ == "DataError"
        for cause in _causes(error)
    )


def store_error(error: BaseException) -> StoreUnavailableError:
    """The store's error for a failed database call: ``StoreAuthError`` for a refused login."""
    return (StoreAuthError if is_auth_failure(error) else StoreUnavailableError)(error)


def redact_url(url: str | URL) -> str:
    """The URL with its password hidden, for logs and diagnostics."""
    parsed = url if isinstance(url, URL) else make_url(url)
    return parsed.render_as_string(hide_password=True)


# --- migrations -------------------------------------------------------------------------------
# Each migration takes the database from version N-1 to N. They describe the tables as they
# were at that version, so that an old database upgrades the same way on every install.

Migration = Callable[[AsyncConnection], Awaitable[None]]


async def _v1_initial(conn: AsyncConnection) -> None:
    metadata = MetaData()
    Table(
        "careon_objects",
        metadata,
        Column("id", String(128), primary_key=True),
        Column("type", String(64), nullable=False, index=True),
        Column("name", String(200), nullable=False),
        Column("properties", JSON, nullable=False),
        Column("version", Integer, nullable=False),
        Column("created_at", DateTime(), nullable=False),
        Column("updated_at", DateTime(), nullable=False),
    )
    Table(
        "careon_links",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column(
            "source_id",
            String(128),
            ForeignKey("careon_objects.id", ondelete="CASCADE"),
            nullable=False,
        ),
        Column("link_type", String(64), nullable=False),
        Column(
            "target_id",
            String(128),
            ForeignKey("careon_objects.id", ondelete="CASCADE"),
            nullable=False,
        ),
        Column("properties", JSON, nullable=False),
        Column("created_at", DateTime(), nullable=False),
        UniqueConstraint("source_id", "link_type", "target_id", name="uq_careon_links"),
    )
    Table(
        "careon_audit",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("action", String(64), nullable=False, index=True),
        Column("parameters", JSON, nullable=False),
        Column("actor", String(200), nullable=False),
        Column("source", String(64), nullable=False),
        Column("idempotency_key", String(200), unique=True),
        Column("result", JSON, nullable=False),
        Column("created_at", DateTime(), nullable=False, index=True),
    )
    await conn.run_sync(metadata.create_all)
    if conn.dialect.name == "postgresql":
        # JSONB compares and indexes better than JSON on PostgreSQL.
        for table in ("careon_objects", "careon_links"):
            await conn.execute(
                text(
                    f"ALTER TABLE {table} ALTER COLUMN properties TYPE JSONB USING properties::jsonb"
                )
            )
        for column in ("parameters", "result"):
            await conn.execute(
                text(
                    f"ALTER TABLE careon_audit ALTER COLUMN {column} TYPE JSONB USING {column}::jsonb"
                )
            )


async def _v2_audit_reason_and_reverse_links(conn: AsyncConnection) -> None:
    # Version 2: the audit row records why (a reason), and links are found from their target
    # quickly (which orders contain a product, which products need an item).
    await conn.execute(text("ALTER TABLE careon_audit ADD COLUMN reason VARCHAR(500)"))
    await conn.execute(
        text("CREATE INDEX ix_careon_links_target ON careon_links (target_id, link_type)")
    )


async def _v3_orders_by_day(conn: AsyncConnection) -> None:
    # Version 3: a day's orders are found through an index on when they were placed, not by
    # reading every order the store ever took.
    # (type, placed_at): the type narrows to orders and the time to the day, so the planner
    # prefers it to the index on type alone
    placed_at = ORDER_PLACED_AT_SQL[conn.dialect.name]
    await conn.execute(
        text(f"CREATE INDEX ix_careon_orders_placed_at ON careon_objects (type, {placed_at})")
    )


async def _v4_external_refs_and_privacy_key(conn: AsyncConnection) -> None:
    # Version 4: vendors' ids of orders, payments and imported card sales point at their
    # objects (connectors upsert through it), and the store gets the secret key that customers'
    # phone numbers are hashed with (kept in the database, so a hash means the same everywhere
    # the store's data goes).
    metadata = MetaData()
    # the referenced table, as far as the foreign key needs it (it exists already)
    Table("careon_objects", metadata, Column("id", String(128), primary_key=True))
    refs = Table(
        "careon_external_refs",
        metadata,
        Column("source", String(64), primary_key=True),
        Column("kind", String(32), primary_key=True),
        Column("external_id", String(200), primary_key=True),
        Column(
            "object_id",
            String(128),
            ForeignKey("careon_objects.id", ondelete="CASCADE"),
            nullable=False,
        ),
        Index("ix_careon_external_refs_object", "object_id"),
    )
    await conn.run_sync(lambda sync_conn: refs.create(sync_conn))
    # connectors find objects by these without reading every payment, order or customer
    for name in ("order_ref", "external_id", "approved_at", "phone_hash"):
        expression = property_sql(conn.dialect.name, name)
        await conn.execute(
            text(f"CREATE INDEX ix_careon_objects_{name} ON careon_objects (type, {expression})")
        )
    await conn.execute(meta_table.insert().values(key=PRIVACY_KEY, value=secrets.token_hex(32)))


MIGRATIONS: tuple[Migration, ...] = (
    _v1_initial,
    _v2_audit_reason_and_reverse_links,
    _v3_orders_by_day,
    _v4_external_refs_and_privacy_key,
)
LATEST_VERSION = len(MIGRATIONS)


async def schema_version(conn: AsyncConnection) -> int:
    """The version of an existing database (0 when it is empty)."""
    has_meta = await conn.run_sync(
        lambda sync_conn: sync_conn.dialect.has_table(sync_conn, "careon_meta")
    )
    if not has_meta:
        return 0
    value = await conn.scalar(
        select(meta_table.c.value).where(meta_table.c.key == SCHEMA_VERSION_KEY)
    )
    return int(value or 0)


async def migrate(conn: AsyncConnection, *, target: int = LATEST_VERSION) -> int:
    """Bring the database up to ``target``; return the version it was at before."""
    current = await schema_version(conn)
    if current > LATEST_VERSION:
        raise StoreUnavailableError(
            f"database schema version {current} is newer than this CareOn ({LATEST_VERSION})"
        )
    if current == 0:
        await conn.run_sync(lambda sync_conn: meta_table.create(sync_conn, checkfirst=True))
        await conn.execute(meta_table.insert().values(key=SCHEMA_VERSION_KEY, value=0))
    for version in range(current + 1, target + 1):
        _LOGGER.info("Migrating the CareOn database to version %s", version)
        await MIGRATIONS[version - 1](conn)
        await conn.execute(
            meta_table.update().where(meta_table.c.key == SCHEMA_VERSION_KEY).values(value=version)
        )
    return current


# How long SQLite itself waits for another writer's lock before it gives up ("database is
# locked"); the engine then tries again with a backoff, within the action's deadline.
SQLITE_BUSY_TIMEOUT_MS = 5000


def is_lock_timeout(error: BaseException) -> bool:
    """Whether SQLite gave up waiting for another writer (SQLITE_BUSY): transient, worth
    trying again, unlike the database being gone."""
    return any(
        "database is locked" in str(cause) or "database table is locked" in str(cause)
        for cause in _causes(error)
    )


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide where transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # WAL lets readers run beside the writer; FULL makes every committed sale survive a
        # power cut (NORMAL could lose the last transactions).
        for pragma in (
            "journal_mode=WAL",
            "synchronous=FULL",
            "foreign_keys=ON",
            f"busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # The writer takes SQLite's write lock up front (another process writing the same file
        # waits for it, up to busy_timeout); readers take a snapshot.
        begin = "BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITER_OPTION) else "BEGIN"
        adapted = conn.connection.dbapi_connection
        if isinstance(adapted, OneTripConnection):
            adapted.begin_pending = begin  # sent with the transaction's first statement
        else:  # SQLAlchemy's own adapter (see sqlite_driver.SUPPORTED)
            conn.exec_driver_sql(begin)


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _json_loads(value: Any) -> Any:
    # SQLite hands a JSON scalar back as a number (the column's numeric affinity)
    return orjson.loads(value) if isinstance(value, str | bytes) else value


# Every action reads and writes a dozen JSON documents: orjson (a Home Assistant dependency)
# does it several times faster than the standard library.
JSON_CODEC: dict[str, Any] = {"json_serializer": _json_dumps, "json_deserializer": _json_loads}


def create_engine(url: str | URL) -> AsyncEngine:
    """An async engine for SQLite (aiosqlite) or PostgreSQL (asyncpg)."""
    parsed = normalise_url(url) if isinstance(url, str) else url
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        dbapi = one_trip_dbapi()
        engine = (
            create_async_engine(parsed, **JSON_CODEC)
            if dbapi is None
            else create_async_engine(parsed, module=dbapi, **JSON_CODEC)
        )
        _configure_sqlite(engine)
        return engine
    parsed, tls = postgres_tls(parsed)
    engine = create_async_engine(
        parsed,
        **JSON_CODEC,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=5,
        # a ready-made context (or False): asyncpg builds none in the event loop
        connect_args={"timeout": 10, "command_timeout": 30, "ssl": tls.context or False},
    )
    if tls.context is not None and tls.plain_if_refused:

        @event.listens_for(engine.sync_engine, "do_connect")
        def _connect(dialect: Any, _record: Any, cargs: list[Any], cparams: dict[str, Any]) -> Any:
            # sslmode prefer/allow: a server that has no TLS, or whose pg_hba.conf admits
            # this client only without it, is talked to in plain text (as libpq does)
            try:
                return dialect.connect(*cargs, **cparams)
            except (ConnectionError, InvalidAuthorizationSpecificationError):
                return dialect.connect(*cargs, **{**cparams, "ssl": False})

    return engine


async def open_database(url: str) -> AsyncEngine:
    """Connect, migrate to the latest version, and return the engine.

    Raises ``StoreAuthError`` when the server refuses the credentials, and
    ``StoreUnavailableError`` when the database cannot be reached or upgraded.
    """
    try:
        # off the event loop: it may create the SQLite file's folder
        engine = await asyncio.to_thread(create_engine, url)
    except OSError as err:  # the SQLite file's folder cannot be made
        raise StoreUnavailableError(err) from err
    try:
        async with engine.begin() as conn:
            await migrate(conn)
    except BaseException as err:
        await engine.dispose()
        # asyncpg's own errors (a wrong password, a database that does not exist) carry a
        # SQLSTATE and reach us unwrapped while it logs in
        if isinstance(err, SQLAlchemyError | OSError | TimeoutError) or hasattr(err, "sqlstate"):
            raise store_error(err) from err
        raise
    return engine
