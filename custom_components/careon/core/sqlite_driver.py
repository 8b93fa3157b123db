"""aiosqlite for SQLAlchemy with one thread trip per statement.

SQLAlchemy's aiosqlite adapter makes three or four trips to aiosqlite's worker thread for
every statement (open a cursor, execute, fetch, close); each trip costs tens of microseconds
of thread hand-off, which dominates a small action. This adapter runs the whole statement in
one trip, and sends a transaction's BEGIN along with its first statement. It relies on
aiosqlite's ``Connection._execute`` and on the slots of SQLAlchemy's adapted cursor (aiosqlite is
pinned in the manifest; tests/core/test_core_database.py checks that the Home Assistant versions
CareOn supports, with their SQLAlchemy, get this adapter).
"""

from __future__ import annotations

from collections import deque
import sqlite3
from threading import Thread
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    AsyncAdapt_aiosqlite_ss_cursor,
)
from sqlalchemy.util import await_only

StatementResult = tuple[Any, list[Any], int | None, int]


def _run_statement(
    connection: aiosqlite.Connection,
    operation: str,
    parameters: Any,
    many: bool,
    begin: str | None,
) -> StatementResult:
    """Runs in aiosqlite's thread: (begin,) execute, fetch everything, close the cursor."""
    raw: sqlite3.Connection = connection._conn
    cursor = raw.cursor()
    try:
        if begin is not None:
            cursor.execute(begin)
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, rows, cursor.lastrowid, cursor.rowcount
    finally:
        cursor.close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """A buffered cursor whose statements each take one trip to the worker thread."""

    __slots__ = ()

    def _run(self, operation: str, parameters: Any, *, many: bool) -> None:
        connection = self._connection
        adapted: OneTripConnection = self._adapt_connection
        begin, adapted.begin_pending = adapted.begin_pending, None
        try:
            description, rows, lastrowid, rowcount = self.await_(
                connection._execute(_run_statement, connection, operation, parameters, many, begin)
            )
        except Exception as error:
            self._adapt_connection._handle_exception(error)
        if description:
            self.description = description
            self.lastrowid = self.rowcount = -1
            self._rows = deque(rows)
        else:
            self.description = None
            self.lastrowid = lastrowid
            self.rowcount = rowcount

    def execute(self, operation: str, parameters: Any = None) -> None:
        """Execute one statement."""
        self._run(operation, parameters, many=False)

    def executemany(self, operation: str, seq_of_parameters: Any) -> None:
        """Execute one statement for many parameter sets."""
        self._run(operation, seq_of_parameters, many=True)


class StreamingCursor(AsyncAdapt_aiosqlite_ss_cursor):
    """SQLAlchemy's server-side cursor (``stream``), after sending a pending BEGIN: the
    streamed statement belongs to its transaction."""

    __slots__ = ()

    def execute(self, operation: str, parameters: Any = None) -> None:
        """Begin the transaction if it is pending, then execute as SQLAlchemy does."""
        adapted: OneTripConnection = self._adapt_connection
        if (begin := adapted.begin_pending) is not None:
            adapted.begin_pending = None
            connection = self._connection
            self.await_(connection._execute(_run_statement, connection, begin, None, False, None))
        super().execute(operation, parameters)  # type: ignore[no-untyped-call]


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    """An adapted connection that hands out one-trip cursors."""

    __slots__ = ("begin_pending",)

    def __init__(self, dbapi: Any, connection: aiosqlite.Connection) -> None:
        """Wrap an open aiosqlite connection."""
        super().__init__(dbapi, connection)  # type: ignore[no-untyped-call]
        # set when SQLAlchemy begins a transaction: the BEGIN statement that then travels with
        # the transaction's first statement
        self.begin_pending: str | None = None

    def commit(self) -> None:
        """Commit (nothing to do when no statement ran since BEGIN was asked for)."""
        self.begin_pending = None
        super().commit()  # type: ignore[no-untyped-call]

    def rollback(self) -> None:
        """Roll back (nothing to do when no statement ran since BEGIN was asked for)."""
        self.begin_pending = None
        super().rollback()  # type: ignore[no-untyped-call]

    def cursor(self, server_side: bool = False) -> Any:
        """A one-trip cursor (server-side cursors keep SQLAlchemy's own)."""
        if server_side:
            return StreamingCursor(self)  # type: ignore[no-untyped-call]
        return OneTripCursor(self)  # type: ignore[no-untyped-call]


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """The DBAPI module SQLAlchemy's aiosqlite dialect uses, with one-trip connections."""

    def connect(self, *args: Any, **kwargs: Any) -> OneTripConnection:
        """Open an aiosqlite connection (a daemon thread) and adapt it."""
        kwargs.pop("async_fallback", None)
        connection = aiosqlite.connect(*args, **kwargs)
        # A daemon, as SQLAlchemy's own adapter makes it: a store left open never holds up the
        # interpreter's exit. Before aiosqlite 0.22 the connection is its worker thread; from
        # 0.22 on it holds one.
        thread = (
            connection if isinstance(connection, Thread) else getattr(connection, "_thread", None)
        )
        if isinstance(thread, Thread):
            thread.daemon = True
        return OneTripConnection(self, await_only(connection))


# What this adapter relies on in SQLAlchemy's adapter and in aiosqlite (both private): a
# Home Assistant release with other versions falls back to SQLAlchemy's own adapter.
SUPPORTED = {"_adapt_connection", "_connection", "_rows", "await_"} <= set(
    AsyncAdapt_aiosqlite_cursor.__slots__
) and callable(getattr(aiosqlite.Connection, "_execute", None))


def one_trip_dbapi() -> OneTripDBAPI | None:
    """The module to pass as ``create_async_engine(..., module=...)``; None when the installed
    SQLAlchemy or aiosqlite is not the kind this adapter was written for."""
    if not SUPPORTED:
        return None
    return OneTripDBAPI(aiosqlite, sqlite3)  # type: ignore[no-untyped-call]
