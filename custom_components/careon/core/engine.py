"""The action engine: every change of state is a typed action, validated and applied atomically.

One action runs in one database transaction together with its audit row. Listeners hear about
it only after the commit. An idempotency key makes a retried action return its first result and
change nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
import contextlib
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
import logging
import time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.exc import (
    DBAPIError,
    IntegrityError,
    SQLAlchemyError,
    StatementError,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .database import (
    WRITER_LOCK_KEY,
    WRITER_OPTION,
    is_auth_failure,
    is_lock_timeout,
    open_database,
    refused_value,
    store_error,
)
from .errors import CareOnError, ConflictError, StoreUnavailableError, ValidationError
from .fields import Field, check_text, validate_fields
from .ontology import Ontology, StaleObjectError, utcnow
from .schema import Schema, schema_with_extensions
from .tables import audit_table, meta_table

_LOGGER = logging.getLogger(__name__)

SCHEMA_EXTENSIONS_KEY = "schema_extensions"
# the audit row's columns (tables.py)
MAX_REASON = 500
MAX_IDEMPOTENCY_KEY = 200
_INSERT_AUDIT = audit_table.insert()
_WRITER_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
MAX_ATTEMPTS = 5
# An action held up by another writer's lock (another process on the same SQLite file) is tried
# again, waiting a little longer each time, until this many seconds after it began.
ACTION_DEADLINE = 30.0
LOCK_BACKOFF = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0)
# Parameters with a list longer than this are checked in a worker thread.
BULK_ITEMS = 1000
# Sources whose orders are facts that already happened in the store (PRODUCT.md §2).
SOURCE_POS = "pos"
FACT_SOURCES = frozenset({SOURCE_POS, "payment"})


@dataclass(frozen=True, kw_only=True, slots=True)
class DomainEvent:
    """Something an action made happen, announced after the commit."""

    type: str
    data: Mapping[str, Any]


@dataclass(frozen=True, kw_only=True, slots=True)
class ActionResult:
    """What a committed (or replayed) action did."""

    action: str
    audit_id: int
    actor: str
    source: str
    idempotency_key: str | None
    result: Mapping[str, Any]
    occurred_at: datetime
    replayed: bool = False
    events: tuple[DomainEvent, ...] = ()
    created: frozenset[str] = frozenset()
    updated: frozenset[str] = frozenset()
    deleted: frozenset[str] = frozenset()


@dataclass(kw_only=True)
class ActionContext:
    """What an action's body sees: the transaction, the schema, who acts and the clock."""

    ontology: Ontology
    schema: Schema
    timezone: tzinfo
    actor: str
    source: str
    reason: str | None = None
    events: list[DomainEvent] = field(default_factory=list)
    schema_definitions: list[Mapping[str, Any]] = field(default_factory=list)

    @property
    def now(self) -> datetime:
        """The action's one timestamp, aware UTC."""
        return self.ontology.now.replace(tzinfo=UTC)

    @property
    def is_fact(self) -> bool:
        """True when the action records something that already happened (a POS sale)."""
        return self.source in FACT_SOURCES

    def emit(self, event_type: str, **data: Any) -> None:
        """Queue an event for after the commit."""
        self.events.append(DomainEvent(type=event_type, data=data))

    def extend_schema(self, definition: Mapping[str, Any]) -> None:
        """Extend the store's schema; it is stored with the action and used once committed."""
        self.schema = self.schema.extend(definition)
        self.schema_definitions.append(definition)


ActionBody = Callable[[ActionContext, dict[str, Any]], Awaitable[dict[str, Any]]]


@dataclass(frozen=True, kw_only=True)
class ActionType:
    """A typed action: parameters, and a body that checks criteria then applies effects."""

    name: str
    params: Mapping[str, Field]
    apply: ActionBody
    # What the audit row keeps of the parameters (personal data masked, core/privacy.py): a
    # new mapping, the body still gets them whole. Replays compare what the audit keeps.
    redact: Callable[[dict[str, Any]], dict[str, Any]] | None = None

    def audited(self, params: dict[str, Any]) -> dict[str, Any]:
        """The parameters as the audit row keeps them."""
        return params if self.redact is None else self.redact(params)


Listener = Callable[[ActionResult], None]
CommitHook = Callable[[ActionContext], Awaitable[None]]


class ActionEngine:
    """Runs actions against one store's database."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        actions: Mapping[str, ActionType],
        schema: Schema,
        timezone: tzinfo,
    ) -> None:
        """Use an open, migrated engine (see ``open``)."""
        self.engine = engine
        self.actions = actions
        self.schema = schema
        self.timezone = timezone
        self._write_lock = asyncio.Lock()
        # Reads and actions in flight: closing waits for them, since disposing of the pool under
        # a checked-out connection would leave that connection (and its thread) open for good.
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False
        # Actions run one at a time on one long-lived connection: checking a connection out
        # of the pool for every action costs more than most actions' statements.
        self._writer: AsyncConnection | None = None
        self._committing = False
        # True while a backup holds the write lock: only then may release_writes let it go
        # (otherwise it could free the lock of an action in flight).
        self._held_for_backup = False
        self._listeners: list[Listener] = []
        # Run inside the transaction after an action's effects and before its commit; raising
        # aborts the action and leaves the database as it was.
        self.before_commit: list[CommitHook] = []

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        timezone: tzinfo | str = "UTC",
        actions: Mapping[str, ActionType] | None = None,
    ) -> ActionEngine:
        """Open (and migrate) the database at ``url`` and load the store's schema."""
        if actions is None:
            from .actions import ACTIONS  # noqa: PLC0415 - actions import this module

            actions = ACTIONS
        engine = await open_database(url)
        try:
            async with engine.connect() as conn:
                extensions = await conn.scalar(
                    select(meta_table.c.value).where(meta_table.c.key == SCHEMA_EXTENSIONS_KEY)
                )
            # The default schema is a file: read it off the event loop.
            schema = await asyncio.to_thread(schema_with_extensions, list(extensions or []))
        except (SQLAlchemyError, CareOnError) as err:
            # unreachable, or a stored schema extension this version cannot read
            await engine.dispose()
            raise StoreUnavailableError(err) from err
        tz = ZoneInfo(timezone) if isinstance(timezone, str) else timezone
        return cls(engine, actions=actions, schema=schema, timezone=tz)

    async def close(self) -> None:
        """Refuse new work, let the work in flight finish, and close every connection."""
        self._closed = True
        await self._idle.wait()
        async with self._write_lock:
            await self._drop_writer()
        await self.engine.dispose()

    @asynccontextmanager
    async def _work(self) -> AsyncIterator[None]:
        """Count one read or action in flight; refuse it once the engine is closed."""
        if self._closed:
            raise StoreUnavailableError("the store's database is closed")
        self._in_flight += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._in_flight -= 1
            if not self._in_flight:
                self._idle.set()

    async def hold_writes(self) -> None:
        """Pause actions for a file backup: let the one in flight finish, then move every
        committed change from SQLite's write-ahead log into the database file itself.

        Actions wait until ``release_writes``; reads go on.
        """
        await self._write_lock.acquire()
        try:
            if self.engine.dialect.name == "sqlite":
                async with self.engine.connect() as conn:
                    raw = await conn.get_raw_connection()
                    if (driver := raw.driver_connection) is not None:
                        cursor = await driver.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                        await cursor.close()
        except BaseException as err:
            self._write_lock.release()
            if isinstance(err, DBAPIError | OSError):
                raise StoreUnavailableError(err) from err
            raise
        self._held_for_backup = True

    def release_writes(self) -> None:
        """Let actions run again after ``hold_writes``; nothing to do when no backup holds
        the writes (a failed or missing ``hold_writes``)."""
        if self._held_for_backup:
            self._held_for_backup = False
            self._write_lock.release()

    async def _writer_connection(self) -> AsyncConnection:
        if self._writer is None or self._writer.closed or self._writer.invalidated:
            await self._drop_writer()
            connection = await self.engine.connect()
            self._writer = await connection.execution_options(**{WRITER_OPTION: True})
        return self._writer

    async def _drop_writer(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            try:
                await writer.close()
            except (DBAPIError, OSError):
                _LOGGER.debug("Closing a broken CareOn database connection failed")

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` after each committed action; return an unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[Ontology]:
        """A read-only view of the store in one consistent transaction."""
        async with self._work():
            try:
                async with self.engine.connect() as conn:
                    if conn.dialect.name == "postgresql":
                        # one snapshot for every statement of the read (SQLite's BEGIN gives one)
                        await conn.execution_options(isolation_level="REPEATABLE READ")
                    async with conn.begin():
                        yield Ontology(conn)
            except Exception as err:
                # asyncpg's own error for a refused login (a new connection) comes unwrapped
                if isinstance(err, DBAPIError | OSError) or is_auth_failure(err):
                    raise store_error(err) from err
                raise

    async def ping(self) -> None:
        """Fail with ``StoreUnavailableError`` when the database does not answer."""
        async with self.reader() as ontology:
            await ontology.get("")

    async def execute(
        self,
        action: str,
        params: Mapping[str, Any] | None = None,
        *,
        actor: str,
        source: str,
        idempotency_key: str | None = None,
        reason: str | None = None,
    ) -> ActionResult:
        """Validate and apply one action atomically; return what it did.

        Raises ``ValidationError`` (bad input, failed criteria, or an idempotency key reused
        for another request; nothing changed), ``ConflictError`` (a stale expected version),
        ``StoreUnavailableError``/``StoreAuthError`` (the database), or ``CareOnError``
        ``concurrent_update`` (outside writers kept changing the objects; nothing changed).
        """
        action_type = self.actions.get(action)
        if action_type is None:
            raise ValidationError("unknown_action", action=action, field="action")
        clean = await self._validate(action_type, params)
        # what the audit row's columns hold (tables.py)
        if reason is not None:
            check_text("reason", reason, MAX_REASON)
        if idempotency_key is not None:
            check_text("idempotency_key", idempotency_key, MAX_IDEMPOTENCY_KEY)
        async with self._work(), self._write_lock:
            result = await self._run(
                action_type,
                clean,
                actor=actor,
                source=source,
                idempotency_key=idempotency_key,
                reason=reason,
            )
        if not result.replayed:
            for listener in list(self._listeners):
                try:
                    listener(result)
                except Exception:
                    _LOGGER.exception("A CareOn action listener failed")
        return result

    async def _validate(
        self, action_type: ActionType, params: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        """Check and normalise the parameters; a bulk call's (a card-sales file of 100,000
        rows takes seconds) off the event loop, so the caller's loop keeps answering."""
        params = params or {}
        if any(isinstance(value, list) and len(value) > BULK_ITEMS for value in params.values()):
            return await asyncio.to_thread(
                validate_fields, action_type.params, params, tz=self.timezone
            )
        return validate_fields(action_type.params, params, tz=self.timezone)

    async def replayed(
        self, action: str, params: Mapping[str, Any] | None, key: str
    ) -> ActionResult | None:
        """The first result of an action already applied under ``key``, or ``None`` when the
        key is new: a caller expecting duplicates (a connector's backfill) skips a known
        version without running it. Runs nothing and tells no listener.

        Raises ``ValidationError`` like ``execute``: bad parameters, or
        ``idempotency_conflict`` for a key used for another action or other parameters.
        """
        action_type = self.actions.get(action)
        if action_type is None:
            raise ValidationError("unknown_action", action=action, field="action")
        clean = await self._validate(action_type, params)
        async with self._work():
            try:
                return await self._replay(action_type.name, action_type.audited(clean), key)
            except Exception as err:
                if isinstance(err, DBAPIError | OSError) or is_auth_failure(err):
                    raise store_error(err) from err
                raise

    async def _run(
        self,
        action_type: ActionType,
        params: dict[str, Any],
        *,
        actor: str,
        source: str,
        idempotency_key: str | None,
        reason: str | None,
    ) -> ActionResult:
        reconnected = False
        deadline = time.monotonic() + ACTION_DEADLINE
        locked = 0
        attempt = 0
        while attempt < MAX_ATTEMPTS:
            attempt += 1
            try:
                return await self._attempt(
                    action_type,
                    params,
                    actor=actor,
                    source=source,
                    idempotency_key=idempotency_key,
                    reason=reason,
                )
            except StaleObjectError as err:
                # Another writer (another process on PostgreSQL) got there first: re-read and
                # re-check the criteria.
                _LOGGER.debug("Retrying %s after a concurrent change of %s", action_type.name, err)
            except (IntegrityError, ValidationError, ConflictError) as err:
                # A replayed key is found only when the action fails: the unique key on the
                # audit row refuses the second commit, or the first run changed the state the
                # criteria check. Either way the first result is the answer.
                if idempotency_key is not None:
                    replay = await self._replay(
                        action_type.name, action_type.audited(params), idempotency_key
                    )
                    if replay is not None:
                        return replay
                if isinstance(err, IntegrityError):
                    raise StoreUnavailableError(err) from err
                raise
            except (StatementError, OverflowError) as err:
                if isinstance(err, DBAPIError) and is_lock_timeout(err) and not self._committing:
                    # another writer holds the file: nothing was written; wait, try again
                    pause = LOCK_BACKOFF[min(locked, len(LOCK_BACKOFF) - 1)]
                    if time.monotonic() + pause > deadline:
                        raise CareOnError("concurrent_update", action=action_type.name) from err
                    locked += 1
                    attempt -= 1  # waiting for a lock is not a collision
                    _LOGGER.debug(
                        "%s waits %s s for another writer's lock", action_type.name, pause
                    )
                    await asyncio.sleep(pause)
                    continue
                if not refused_value(err):
                    if isinstance(err, DBAPIError):
                        reconnected = await self._after_driver_error(err, reconnected)
                        continue
                    raise
                # a value the driver or the JSON encoder refuses (a number beyond 64 bits, a
                # text the database cannot hold): the request's, rolled back, and nothing to
                # do with the database being reachable
                raise ValidationError("value_not_storable", action=action_type.name) from err
            except OSError as err:
                reconnected = await self._after_driver_error(err, reconnected)
            except Exception as err:
                # asyncpg's own error for a refused login (a new connection) comes unwrapped
                if not is_auth_failure(err):
                    raise
                await self._drop_writer()
                raise store_error(err) from err
        # not the caller's doing: the store was too busy to apply it (try again)
        raise CareOnError("concurrent_update", action=action_type.name)

    async def _after_driver_error(self, err: DBAPIError | OSError, reconnected: bool) -> bool:
        """After the driver failed in an action: let go of the writer's connection. When the
        database dropped it (a restart) before the commit was sent, nothing was written: True
        to try once more on a new connection (once). Otherwise raise the store's error."""
        committing, self._committing = self._committing, False
        await self._drop_writer()
        if (
            isinstance(err, DBAPIError)
            and err.connection_invalidated
            and not committing
            and not reconnected
        ):
            return True
        raise store_error(err) from err

    async def _attempt(
        self,
        action_type: ActionType,
        params: dict[str, Any],
        *,
        actor: str,
        source: str,
        idempotency_key: str | None,
        reason: str | None,
    ) -> ActionResult:
        self._committing = False
        conn = await self._writer_connection()
        transaction = await conn.begin()
        try:
            if conn.dialect.name == "postgresql":
                await conn.execute(_WRITER_LOCK, {"key": WRITER_LOCK_KEY})
            ontology = Ontology(conn, now=utcnow())
            ctx = ActionContext(
                ontology=ontology,
                schema=self.schema,
                timezone=self.timezone,
                actor=actor,
                source=source,
                reason=reason,
            )
            body = await action_type.apply(ctx, params)
            inserted = await conn.execute(
                _INSERT_AUDIT,
                {
                    "action": action_type.name,
                    "parameters": action_type.audited(params),
                    "actor": actor,
                    "source": source,
                    "idempotency_key": idempotency_key,
                    "result": body,
                    "reason": reason,
                    "created_at": ontology.now,
                },
            )
            if ctx.schema_definitions:
                await self._store_extensions(conn, ctx.schema_definitions)
            for hook in self.before_commit:
                await hook(ctx)
        except BaseException:
            # a broken connection cannot roll back: the original error is the one to raise
            with contextlib.suppress(DBAPIError, OSError):
                await transaction.rollback()
            raise
        # From here on the outcome is unknown if the connection breaks: never retried blindly.
        self._committing = True
        await transaction.commit()
        self._committing = False
        # committed
        self.schema = ctx.schema
        changes = ontology.changes
        return ActionResult(
            action=action_type.name,
            audit_id=int(inserted.inserted_primary_key[0]),
            actor=actor,
            source=source,
            idempotency_key=idempotency_key,
            result=body,
            occurred_at=ctx.now,
            events=tuple(ctx.events),
            created=frozenset(changes.created),
            updated=frozenset(changes.updated - changes.created - changes.deleted),
            deleted=frozenset(changes.deleted),
        )

    async def _replay(
        self, action: str, params: Mapping[str, Any], key: str
    ) -> ActionResult | None:
        """The first result for a key, if there is one; a key reused for another request
        (another action or other parameters: a different sale) is refused, never answered
        with the first one's result."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(select(audit_table).where(audit_table.c.idempotency_key == key))
            ).first()
        if row is None:
            return None
        if row.action != action or row.parameters != params:
            raise ValidationError(
                "idempotency_conflict", key=key, action=row.action, field="idempotency_key"
            )
        return ActionResult(
            action=row.action,
            audit_id=row.id,
            actor=row.actor,
            source=row.source,
            idempotency_key=key,
            result=row.result,
            replayed=True,
            occurred_at=row.created_at.replace(tzinfo=UTC),
        )

    async def _store_extensions(
        self, conn: AsyncConnection, definitions: list[Mapping[str, Any]]
    ) -> None:
        current = await conn.scalar(
            select(meta_table.c.value).where(meta_table.c.key == SCHEMA_EXTENSIONS_KEY)
        )
        extensions = [*list(current or []), *definitions]
        if current is None:
            await conn.execute(
                meta_table.insert().values(key=SCHEMA_EXTENSIONS_KEY, value=extensions)
            )
        else:
            await conn.execute(
                meta_table.update()
                .where(meta_table.c.key == SCHEMA_EXTENSIONS_KEY)
                .values(value=extensions)
            )
