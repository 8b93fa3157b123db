"""Fixtures for the tests of CareOn's plain-Python core, run against real databases.

Every store test runs twice: on an SQLite file in the test's temporary directory and on a
fresh database of the session's real PostgreSQL server (tests/postgres.py). The demo cafe is
seeded once per backend into a template (a file copied, or a PostgreSQL template database), so
that a test starting from the whole cafe does not pay for 52 actions.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
import itertools
from pathlib import Path
import shutil
from typing import Any

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from custom_components.careon.core import ActionEngine, ActionResult
from custom_components.careon.core.database import sqlite_url
from custom_components.careon.core.demo import seed_demo_store

BACKENDS = ["sqlite", "postgresql"]
TIMEZONE = "Asia/Seoul"
ACTOR = "tester"
_NUMBERS = itertools.count(1)


def pytest_configure(config: pytest.Config) -> None:
    """Load the PostgreSQL harness unless the top-level conftest has already."""
    if not config.pluginmanager.has_plugin("tests.postgres"):
        config.pluginmanager.import_plugin("tests.postgres")


class Database:
    """Where one test's store lives: its backend and URL, and how to make more of them."""

    def __init__(self, backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
        """Bind to the test (its temporary directory, the session's PostgreSQL server)."""
        self.backend = backend
        self._request = request
        self._tmp_path = tmp_path
        self._dropped: list[str] = []
        self.server: Any = None
        if backend == "postgresql":
            self.server = request.getfixturevalue("postgres_server")
            request.getfixturevalue("socket_enabled")

    def new_url(self, template: str | None = None) -> str:
        """A new, empty database (or a copy of ``template``), dropped after the test."""
        number = next(_NUMBERS)
        if self.backend == "sqlite":
            path = self._tmp_path / f"store{number}.db"
            if template is not None:
                shutil.copyfile(template, path)
            return sqlite_url(path)
        name = f"core_{number}"
        if template is None:
            url: str = self.server.create_database(name)
        else:
            self.server.psql(f"CREATE DATABASE {name} TEMPLATE {template}")
            url = self.server.url_for(name)
        self._dropped.append(name)
        return url

    def cleanup(self) -> None:
        """Drop the PostgreSQL databases this test made."""
        for name in self._dropped:
            self.server.drop_database(name)


_TEMPLATES: dict[str, str] = {}


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """The backend of this run of the test (SQLite file or PostgreSQL database)."""
    db = Database(request.param, request, tmp_path)
    yield db
    db.cleanup()


@pytest.fixture
def db_url(database: Database) -> str:
    """A fresh, empty database."""
    return database.new_url()


@pytest.fixture
async def open_engine() -> AsyncIterator[Callable[..., Awaitable[ActionEngine]]]:
    """Open more engines in a test; every one is closed at teardown."""
    engines: list[ActionEngine] = []

    async def _open(url: str, **kwargs: Any) -> ActionEngine:
        kwargs.setdefault("timezone", TIMEZONE)
        engine = await ActionEngine.open(url, **kwargs)
        engines.append(engine)
        return engine

    yield _open
    for engine in engines:
        await engine.close()


@pytest.fixture
async def engine(db_url: str, open_engine: Callable[..., Awaitable[ActionEngine]]) -> ActionEngine:
    """An action engine on an empty store (the store's timezone is Asia/Seoul)."""
    return await open_engine(db_url)


async def _demo_template(database: Database, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The demo cafe seeded once per backend; return what ``new_url`` copies."""
    if database.backend in _TEMPLATES:
        return _TEMPLATES[database.backend]
    if database.backend == "sqlite":
        path = tmp_path_factory.mktemp("demo") / "demo.db"
        url, template = sqlite_url(path), str(path)
    else:
        template = "core_demo_template"
        url = database.server.create_database(template)
    seeded = await ActionEngine.open(url, timezone=TIMEZONE)
    try:
        await seed_demo_store(seeded)
    finally:
        await seeded.close()
    _TEMPLATES[database.backend] = template
    return template


@pytest.fixture
async def cafe_url_on(
    request: pytest.FixtureRequest, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Callable[[str], Awaitable[str]]]:
    """``await cafe_url_on("postgresql")``: a demo cafe on that backend, whichever this test
    runs on (for a test that compares the two)."""
    made: list[Database] = []

    async def _make(backend: str) -> str:
        made.append(database := Database(backend, request, tmp_path))
        return database.new_url(await _demo_template(database, tmp_path_factory))

    yield _make
    for database in made:
        database.cleanup()


@pytest.fixture
async def cafe_url(database: Database, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database holding the whole demo cafe (demo_cafe.yaml), and nothing else."""
    return database.new_url(await _demo_template(database, tmp_path_factory))


@pytest.fixture
async def cafe(cafe_url: str, open_engine: Callable[..., Awaitable[ActionEngine]]) -> ActionEngine:
    """An action engine on the demo cafe."""
    return await open_engine(cafe_url)


# --- helpers, handed to tests as fixtures --------------------------------------------------


async def run(
    engine: ActionEngine,
    action: str,
    /,
    *,
    via: str = "service",
    idempotency_key: str | None = None,
    why: str | None = None,
    **params: Any,
) -> ActionResult:
    """Execute one action as the test user; ``via`` is the source, ``why`` the reason."""
    return await engine.execute(
        action, params, actor=ACTOR, source=via, idempotency_key=idempotency_key, reason=why
    )


@pytest.fixture
def act() -> Callable[..., Awaitable[ActionResult]]:
    """``await act(engine, "place_order", lines=[...], via="pos")``."""
    return run


async def dump_tables(engine: AsyncEngine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in primary-key order, as the driver returns it."""
    async with engine.connect() as conn:
        names = sorted(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
        dump = {}
        for name in names:
            rows = await conn.execute(text(f"SELECT * FROM {name} ORDER BY 1"))
            dump[name] = [tuple(row) for row in rows]
    return dump


@pytest.fixture
def dump() -> Callable[[ActionEngine], Awaitable[dict[str, list[tuple[Any, ...]]]]]:
    """``await dump(engine)``: every row of every table of the engine's database."""

    async def _dump(engine: ActionEngine) -> dict[str, list[tuple[Any, ...]]]:
        return await dump_tables(engine.engine)

    return _dump


async def get_object(engine: ActionEngine, object_id: str) -> Any:
    """One object as stored now (None when there is none)."""
    async with engine.reader() as ontology:
        return await ontology.get(object_id)


@pytest.fixture
def get() -> Callable[[ActionEngine, str], Awaitable[Any]]:
    """``await get(engine, "product.latte_hot")``: the object as stored now."""
    return get_object


@pytest.fixture
def on_hand(get: Callable[[ActionEngine, str], Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """``await on_hand(engine, "milk")``: the stock level of an inventory item (by key)."""

    async def _on_hand(engine: ActionEngine, key: str) -> Any:
        return (await get(engine, f"inventory_item.{key}")).get("on_hand")

    return _on_hand
