"""The SQL tables, as SQLAlchemy 2.0 typed mappings.

Objects and links are generic (the schema is data); property values live in one JSON column.
Times are stored as naive UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
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


# When an order was placed, as SQL per dialect: the same expression builds the index
# (migration 3) and filters the day's orders, so the database can use one for the other.
ORDER_PLACED_AT_SQL = {
    "sqlite": "json_extract(properties, '$.placed_at')",
    "postgresql": "(properties ->> 'placed_at')",
}

meta_table = cast(Table, MetaRow.__table__)
objects_table = cast(Table, ObjectRow.__table__)
links_table = cast(Table, LinkRow.__table__)
audit_table = cast(Table, AuditRow.__table__)
external_refs_table = cast(Table, ExternalRefRow.__table__)
