"""Objects and links, read and written inside one database transaction.

``Ontology`` is the unit of work an action runs in: it reads current state, writes changes
with optimistic version checks, and remembers what it touched for the action's result.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
import uuid

from sqlalchemy import Row, and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from .errors import ConflictError, ValidationError
from .fields import check_text
from .tables import external_refs_table, links_table, objects_table

# The columns' lengths (tables.py). A longer value is refused here, the same on SQLite (which
# would store it) and on PostgreSQL (which would refuse it as a data error).
MAX_ID = 128
MAX_NAME = 200
MAX_EXTERNAL_ID = 200


def _check_row(object_id: str, name: str | None) -> None:
    check_text("id", object_id, MAX_ID)
    if name is not None:
        check_text("name", name, MAX_NAME)


@dataclass(frozen=True, kw_only=True, slots=True)
class StoreObject:
    """An object as stored: identity, type, name, typed properties and version."""

    id: str
    type: str
    name: str
    properties: Mapping[str, Any]
    version: int
    created_at: datetime
    updated_at: datetime

    def get(self, key: str, default: Any = None) -> Any:
        """A property value, or ``default`` when it is not set."""
        value = self.properties.get(key)
        return default if value is None else value

    def as_dict(self) -> dict[str, Any]:
        """A JSON-able form (service responses, events, diagnostics)."""
        return {
            "id": self.id,
            "type": self.type,
            "name": self.name,
            "properties": dict(self.properties),
            "version": self.version,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class Link:
    """A directed, typed link and its properties."""

    source_id: str
    link_type: str
    target_id: str
    properties: Mapping[str, Any]


# Aliases are built once: building them per query costs more than the query.
_TARGET = objects_table.alias("target")
_RECIPE_LINK = links_table.alias("l")
_RECIPE_ITEM = objects_table.alias("i")
_OTHER_LINKS = links_table.alias("o")


def _build_recipe_query() -> Any:
    link, item, others = _RECIPE_LINK, _RECIPE_ITEM, _OTHER_LINKS
    max_need = (
        select(func.max(others.c.properties["qty"].as_float()))
        .where(others.c.target_id == item.c.id, others.c.link_type == bindparam("link_type"))
        .scalar_subquery()
    )
    item_columns = [column.label(f"i_{column.name}") for column in item.c]
    return (
        select(
            objects_table,
            link.c.properties.label("link_properties"),
            *item_columns,
            max_need.label("max_need"),
        )
        .select_from(
            objects_table.outerjoin(
                link,
                and_(
                    link.c.source_id == objects_table.c.id,
                    link.c.link_type == bindparam("link_type"),
                ),
            ).outerjoin(item, item.c.id == link.c.target_id)
        )
        .where(objects_table.c.id.in_(bindparam("ids", expanding=True)))
        .order_by(link.c.id)
    )


# Hot statements are built once: SQLAlchemy then computes their cache keys only once, too.
_SELECT_BY_IDS = select(objects_table).where(
    objects_table.c.id.in_(bindparam("ids", expanding=True))
)
_RECIPES = _build_recipe_query()
_INSERT_OBJECT = insert(objects_table)
_INSERT_LINKS = insert(links_table)
_INSERT_EXTERNAL = insert(external_refs_table)
_EXTERNAL_CHUNK = 500
_UPDATE_OBJECT = (
    update(objects_table)
    .where(
        and_(
            objects_table.c.id == bindparam("b_id"),
            objects_table.c.version == bindparam("b_version"),
        )
    )
    .values(
        properties=bindparam("properties"),
        name=bindparam("name"),
        version=bindparam("version"),
        updated_at=bindparam("updated_at"),
    )
)


class StaleObjectError(Exception):
    """An object changed between read and write; the engine retries the action."""


def utcnow() -> datetime:
    """Naive UTC, the form the tables store."""
    return datetime.now(UTC).replace(tzinfo=None)


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def object_from_row(row: Row[Any] | Mapping[Any, Any]) -> StoreObject:
    """Build a ``StoreObject`` from a row of ``careon_objects``."""
    data = row._mapping if isinstance(row, Row) else row
    return StoreObject(
        id=data["id"],
        type=data["type"],
        name=data["name"],
        properties=data["properties"] or {},
        version=data["version"],
        created_at=_aware(data["created_at"]),
        updated_at=_aware(data["updated_at"]),
    )


def new_object_id(object_type: str, key: str | None = None) -> str:
    """A stable id: ``product.latte`` from a key, else the type and a random suffix."""
    prefix = "".join(f"_{c.lower()}" if c.isupper() else c for c in object_type).lstrip("_")
    return f"{prefix}.{key if key else uuid.uuid4().hex}"


@dataclass(slots=True)
class Changes:
    """What one action touched, by object id."""

    created: set[str] = field(default_factory=set)
    updated: set[str] = field(default_factory=set)
    deleted: set[str] = field(default_factory=set)


class Ontology:
    """Reads and writes objects and links on one connection (one transaction)."""

    def __init__(self, conn: AsyncConnection, *, now: datetime | None = None) -> None:
        """Bind to a connection; ``now`` is the action's single timestamp (naive UTC)."""
        self.conn = conn
        self.now = now or utcnow()
        self.changes = Changes()
        # supports_sane_multi_rowcount: executemany reports how many rows it changed
        self._batch_updates = bool(conn.dialect.supports_sane_multi_rowcount)

    # --- reads ----------------------------------------------------------------------------

    async def get(self, object_id: str) -> StoreObject | None:
        """One object, or ``None``."""
        row = (
            await self.conn.execute(select(objects_table).where(objects_table.c.id == object_id))
        ).first()
        return object_from_row(row) if row else None

    async def get_many(self, object_ids: Iterable[str]) -> dict[str, StoreObject]:
        """Objects by id (missing ids are simply absent)."""
        ids = list(set(object_ids))
        if not ids:
            return {}
        rows = await self.conn.execute(_SELECT_BY_IDS, {"ids": ids})
        return {row.id: object_from_row(row) for row in rows}

    async def require(
        self, field_name: str, object_id: str, object_type: str | Sequence[str]
    ) -> StoreObject:
        """The object, or a validation error naming the field (missing or of another type)."""
        obj = await self.get(object_id)
        return self.check_type(field_name, object_id, obj, object_type)

    @staticmethod
    def check_type(
        field_name: str, object_id: str, obj: StoreObject | None, object_type: str | Sequence[str]
    ) -> StoreObject:
        """Fail naming the field unless ``obj`` exists and has one of the expected types."""
        expected = (object_type,) if isinstance(object_type, str) else tuple(object_type)
        if obj is None:
            raise ValidationError("object_not_found", field=field_name, object_id=object_id)
        if obj.type not in expected:
            raise ValidationError(
                "wrong_object_type",
                field=field_name,
                object_id=object_id,
                expected=" / ".join(expected),
                actual=obj.type,
            )
        return obj

    async def by_type(self, object_type: str) -> list[StoreObject]:
        """Every object of one type, by name."""
        rows = await self.conn.execute(
            select(objects_table)
            .where(objects_table.c.type == object_type)
            .order_by(objects_table.c.name, objects_table.c.id)
        )
        return [object_from_row(row) for row in rows]

    async def recent(self, object_type: str, limit: int) -> list[StoreObject]:
        """The ``limit`` objects of one type changed last, the newest first."""
        rows = await self.conn.execute(
            select(objects_table)
            .where(objects_table.c.type == object_type)
            .order_by(objects_table.c.updated_at.desc(), objects_table.c.id)
            .limit(limit)
        )
        return [object_from_row(row) for row in rows]

    async def count_by_type(self) -> dict[str, int]:
        """How many objects of each type the store holds."""
        rows = await self.conn.execute(
            select(objects_table.c.type, func.count()).group_by(objects_table.c.type)
        )
        return {object_type: int(count) for object_type, count in rows}

    async def links_from(
        self, source_ids: Iterable[str], link_type: str | None = None
    ) -> list[Link]:
        """Outgoing links of some objects."""
        return await self._links(links_table.c.source_id, source_ids, link_type)

    async def links_to(
        self, target_ids: Iterable[str], link_type: str | None = None, *, limit: int | None = None
    ) -> list[Link]:
        """Incoming links of some objects (the first ``limit`` of them, when given)."""
        return await self._links(links_table.c.target_id, target_ids, link_type, limit)

    async def _links(
        self, column: Any, ids: Iterable[str], link_type: str | None, limit: int | None = None
    ) -> list[Link]:
        id_list = list(set(ids))
        if not id_list:
            return []
        stmt = select(links_table).where(column.in_(id_list))
        if link_type is not None:
            stmt = stmt.where(links_table.c.link_type == link_type)
        rows = await self.conn.execute(stmt.order_by(links_table.c.id).limit(limit))
        return [
            Link(
                source_id=r.source_id,
                link_type=r.link_type,
                target_id=r.target_id,
                properties=r.properties or {},
            )
            for r in rows
        ]

    async def linked(
        self, source_ids: Iterable[str], link_type: str, *, limit: int | None = None
    ) -> list[tuple[Link, StoreObject]]:
        """Outgoing links of one type together with their targets, in one query (the first
        ``limit`` of them, when given)."""
        ids = list(set(source_ids))
        if not ids:
            return []
        target = _TARGET
        rows = await self.conn.execute(
            select(
                links_table.c.source_id,
                links_table.c.properties.label("link_properties"),
                *target.c,
            )
            .join(target, target.c.id == links_table.c.target_id)
            .where(links_table.c.source_id.in_(ids), links_table.c.link_type == link_type)
            .order_by(links_table.c.id)
            .limit(limit)
        )
        result = []
        for row in rows:
            obj = object_from_row(row._mapping)
            link = Link(
                source_id=row.source_id,
                link_type=link_type,
                target_id=obj.id,
                properties=row.link_properties or {},
            )
            result.append((link, obj))
        return result

    async def products_with_recipes(
        self, product_ids: Iterable[str], link_type: str
    ) -> tuple[dict[str, StoreObject], list[tuple[Link, StoreObject, float]]]:
        """Objects, their ``link_type`` links and targets, in one query.

        Each target comes with the largest ``qty`` any object asks of it through that link
        type, so a caller can tell whether a new stock level could make anything unmakeable.
        """
        ids = list(set(product_ids))
        if not ids:
            return {}, []
        item = _RECIPE_ITEM
        rows = await self.conn.execute(_RECIPES, {"ids": ids, "link_type": link_type})
        products: dict[str, StoreObject] = {}
        recipe = []
        for row in rows:
            data = row._mapping
            if data["id"] not in products:
                products[data["id"]] = object_from_row(data)
            if data["i_id"] is not None:
                target = object_from_row({c.name: data[f"i_{c.name}"] for c in item.c})
                recipe.append(
                    (
                        Link(
                            source_id=data["id"],
                            link_type=link_type,
                            target_id=target.id,
                            properties=data["link_properties"] or {},
                        ),
                        target,
                        float(data["max_need"] or 0),
                    )
                )
        return products, recipe

    async def linking(self, target_ids: Iterable[str], link_type: str) -> list[StoreObject]:
        """The distinct objects that link to any of ``target_ids`` with ``link_type``."""
        ids = list(set(target_ids))
        if not ids:
            return []
        sources = select(links_table.c.source_id).where(
            links_table.c.target_id.in_(ids), links_table.c.link_type == link_type
        )
        rows = await self.conn.execute(select(objects_table).where(objects_table.c.id.in_(sources)))
        return [object_from_row(row) for row in rows]

    async def count_links_to(self, target_id: str, link_type: str) -> int:
        """How many links of a type point at an object."""
        return int(
            await self.conn.scalar(
                select(func.count())
                .select_from(links_table)
                .where(links_table.c.target_id == target_id, links_table.c.link_type == link_type)
            )
            or 0
        )

    async def find_external(
        self, source: str, kind: str, external_ids: Iterable[str]
    ) -> dict[str, str]:
        """The objects some vendor ids stand for: external id -> object id (unknown ids absent)."""
        ids = list(set(external_ids))
        found: dict[str, str] = {}
        refs = external_refs_table.c
        # in chunks: a 100,000-row import must not become one statement with 100,000 parameters
        for start in range(0, len(ids), _EXTERNAL_CHUNK):
            rows = await self.conn.execute(
                select(refs.external_id, refs.object_id).where(
                    refs.source == source,
                    refs.kind == kind,
                    refs.external_id.in_(ids[start : start + _EXTERNAL_CHUNK]),
                )
            )
            found.update({row.external_id: row.object_id for row in rows})
        return found

    async def external_ids_of(self, object_ids: Iterable[str]) -> list[tuple[str, str, str, str]]:
        """(object id, source, kind, external id) of every vendor id some objects stand for."""
        ids = list(set(object_ids))
        if not ids:
            return []
        refs = external_refs_table.c
        rows = await self.conn.execute(
            select(refs.object_id, refs.source, refs.kind, refs.external_id).where(
                refs.object_id.in_(ids)
            )
        )
        return [(row.object_id, row.source, row.kind, row.external_id) for row in rows]

    # --- writes ---------------------------------------------------------------------------

    async def add_external(self, source: str, kind: str, refs: Mapping[str, str]) -> None:
        """Record which object each vendor id (external id -> object id) stands for.

        A vendor id already recorded fails the action (the database's primary key): callers
        look it up first with ``find_external``.
        """
        for key in refs:
            check_text("external_id", key, MAX_EXTERNAL_ID)
        if refs:
            await self.conn.execute(
                _INSERT_EXTERNAL,
                [
                    {"source": source, "kind": kind, "external_id": key, "object_id": object_id}
                    for key, object_id in refs.items()
                ],
            )

    async def create_many(self, objects: Sequence[tuple[str, str, str, Mapping[str, Any]]]) -> None:
        """Insert new objects, (object type, object id, name, properties) each, in one round trip."""
        if not objects:
            return
        for _, object_id, name, _ in objects:
            _check_row(object_id, name)
        await self.conn.execute(
            _INSERT_OBJECT,
            [
                {
                    "id": object_id,
                    "type": object_type,
                    "name": name,
                    "properties": dict(properties),
                    "version": 1,
                    "created_at": self.now,
                    "updated_at": self.now,
                }
                for object_type, object_id, name, properties in objects
            ],
        )
        self.changes.created.update(object_id for _, object_id, _, _ in objects)

    async def create(
        self, object_type: str, name: str, properties: Mapping[str, Any], *, object_id: str
    ) -> StoreObject:
        """Insert a new object (the caller has validated its properties)."""
        _check_row(object_id, name)
        values = {
            "id": object_id,
            "type": object_type,
            "name": name,
            "properties": dict(properties),
            "version": 1,
            "created_at": self.now,
            "updated_at": self.now,
        }
        await self.conn.execute(_INSERT_OBJECT, values)
        self.changes.created.add(object_id)
        return object_from_row(values)

    async def update(
        self,
        obj: StoreObject,
        properties: Mapping[str, Any],
        *,
        name: str | None = None,
    ) -> StoreObject:
        """Replace an object's properties (and name), checking nobody changed it meanwhile."""
        return (
            await self.update_many([(obj, properties)], names={obj.id: name} if name else None)
        )[0]

    async def update_many(
        self,
        updates: Sequence[tuple[StoreObject, Mapping[str, Any]]],
        *,
        names: Mapping[str, str | None] | None = None,
    ) -> list[StoreObject]:
        """Write several objects' new properties in one round trip where the driver allows."""
        if not updates:
            return []
        for name in (names or {}).values():
            if name:
                check_text("name", name, MAX_NAME)
        params: list[dict[str, Any]] = [
            {
                "b_id": obj.id,
                "b_version": obj.version,
                "properties": dict(props),
                "name": (names or {}).get(obj.id) or obj.name,
                "version": obj.version + 1,
                "updated_at": self.now,
            }
            for obj, props in updates
        ]
        stmt = _UPDATE_OBJECT
        if self._batch_updates or len(params) == 1:
            changed = (await self.conn.execute(stmt, params)).rowcount
        else:
            changed = 0
            for one in params:
                changed += (await self.conn.execute(stmt, one)).rowcount
        if changed != len(params):
            raise StaleObjectError(", ".join(obj.id for obj, _ in updates))
        result = []
        for (obj, _props), one in zip(updates, params, strict=True):
            self.changes.updated.add(obj.id)
            result.append(
                StoreObject(
                    id=obj.id,
                    type=obj.type,
                    name=one["name"],
                    properties=one["properties"],
                    version=one["version"],
                    created_at=obj.created_at,
                    updated_at=_aware(self.now),
                )
            )
        return result

    async def delete(self, obj: StoreObject) -> None:
        """Delete an object; its links go with it (ON DELETE CASCADE)."""
        # Some SQLite builds ignore foreign keys: drop links explicitly, too.
        await self.conn.execute(
            delete(links_table).where(
                or_(links_table.c.source_id == obj.id, links_table.c.target_id == obj.id)
            )
        )
        await self.conn.execute(
            delete(external_refs_table).where(external_refs_table.c.object_id == obj.id)
        )
        result = await self.conn.execute(
            delete(objects_table).where(
                objects_table.c.id == obj.id, objects_table.c.version == obj.version
            )
        )
        if result.rowcount != 1:
            raise StaleObjectError(obj.id)
        self.changes.deleted.add(obj.id)

    async def add_links(self, links: Sequence[Link]) -> None:
        """Insert new links in one round trip."""
        if not links:
            return
        await self.conn.execute(
            _INSERT_LINKS,
            [
                {
                    "source_id": link.source_id,
                    "link_type": link.link_type,
                    "target_id": link.target_id,
                    "properties": dict(link.properties),
                    "created_at": self.now,
                }
                for link in links
            ],
        )
        self.changes.updated.update(link.source_id for link in links)

    async def set_link(self, link: Link) -> bool:
        """Create a link or replace its properties; return True when it is new."""
        result = await self.conn.execute(
            update(links_table)
            .where(
                links_table.c.source_id == link.source_id,
                links_table.c.link_type == link.link_type,
                links_table.c.target_id == link.target_id,
            )
            .values(properties=dict(link.properties))
        )
        if result.rowcount:
            self.changes.updated.add(link.source_id)
            return False
        await self.add_links([link])
        return True

    async def remove_link(self, source_id: str, link_type: str, target_id: str) -> bool:
        """Delete one link; return False when there was none."""
        result = await self.conn.execute(
            delete(links_table).where(
                links_table.c.source_id == source_id,
                links_table.c.link_type == link_type,
                links_table.c.target_id == target_id,
            )
        )
        if result.rowcount:
            self.changes.updated.add(source_id)
        return bool(result.rowcount)


def check_version(obj: StoreObject, expected: int | None) -> None:
    """Fail when the caller's view of the object is out of date."""
    if expected is not None and expected != obj.version:
        raise ConflictError(
            "stale_version", object_id=obj.id, expected=expected, actual=obj.version
        )
