"""The SQL tables, as SQLAlchemy 2.0 typed mappings.

Objects and links are generic (the schema is data); property values live in one JSON column.
Times are stored as naive UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    ColumnElement,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
    literal_column,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

JsonType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    """Declarative base of CareOn's tables."""


class MetaRow(Base):
    """Key/value facts about the database itself (schema version, schema extensions)."""

    __tablename__ = "careon_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JsonType)


class ObjectRow(Base):
    """One object of the ontology."""

    __tablename__ = "careon_objects"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    type: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(200))
    properties: Mapped[dict[str, Any]] = mapped_column(JsonType)
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime())
    updated_at: Mapped[datetime] = mapped_column(DateTime())


class LinkRow(Base):
    """A typed, directed link between two objects, with its own properties."""

    __tablename__ = "careon_links"
    __table_args__ = (
        UniqueConstraint("source_id", "link_type", "target_id", name="uq_careon_links"),
        Index("ix_careon_links_target", "target_id", "link_type"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("careon_objects.id", ondelete="CASCADE"))
    link_type: Mapped[str] = mapped_column(String(64))
    target_id: Mapped[str] = mapped_column(ForeignKey("careon_objects.id", ondelete="CASCADE"))
    properties: Mapped[dict[str, Any]] = mapped_column(JsonType)
    created_at: Mapped[datetime] = mapped_column(DateTime())


class AuditRow(Base):
    """One committed action: what, with which parameters, by whom, from where, with what result."""

    __tablename__ = "careon_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    parameters: Mapped[dict[str, Any]] = mapped_column(JsonType)
    actor: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    result: Mapped[dict[str, Any]] = mapped_column(JsonType)
    reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime(), index=True)


class ExternalRefRow(Base):
    """Which ontology object a vendor's id stands for: a POS order, a payment, an imported
    card-sales row. The primary key makes one vendor id one object, so a sale delivered twice
    (webhook and backfill, or a retried import) is found, never counted again."""

    __tablename__ = "careon_external_refs"
    __table_args__ = (Index("ix_careon_external_refs_object", "object_id"),)

    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    object_id: Mapped[str] = mapped_column(ForeignKey("careon_objects.id", ondelete="CASCADE"))


# A property as SQL per dialect. The same expression builds an index (migrations 3 and 4) and
# filters by the property, so the database can use one for the other: a query must use
# `indexed_property`, not SQLAlchemy's JSON operators, whose SQL differs.
_PROPERTY_SQL = {
    "sqlite": "json_extract(properties, '$.{name}')",
    "postgresql": "(properties ->> '{name}')",
}
# Properties with an index on (type, property): when an order was placed (version 3); which
# order a payment names, an object's vendor id, when a payment was approved and a customer's
# phone hash (version 4).
INDEXED_PROPERTIES = ("placed_at", "order_ref", "external_id", "approved_at", "phone_hash")


def property_sql(dialect: str, name: str) -> str:
    """The SQL text of an indexed property (see INDEXED_PROPERTIES)."""
    if name not in INDEXED_PROPERTIES:
        raise ValueError(f"{name} has no index")
    return _PROPERTY_SQL[dialect].format(name=name)


def indexed_property(dialect: str, name: str) -> ColumnElement[str]:
    """An indexed property, as a column expression that can use its index."""
    column: ColumnElement[str] = literal_column(property_sql(dialect, name))
    return column


ORDER_PLACED_AT_SQL = {dialect: property_sql(dialect, "placed_at") for dialect in _PROPERTY_SQL}

meta_table = cast(Table, MetaRow.__table__)
objects_table = cast(Table, ObjectRow.__table__)
links_table = cast(Table, LinkRow.__table__)
audit_table = cast(Table, AuditRow.__table__)
external_refs_table = cast(Table, ExternalRefRow.__table__)
