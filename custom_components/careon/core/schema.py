"""The store's schema as data: object types, their properties and their links.

The default cafe schema ships as ``default_schema.yaml``; a store extends it at run time
(``define_type``) and the extensions are stored in the database beside the objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
import logging
from pathlib import Path
import re
from typing import Any

import yaml

from .errors import ValidationError
from .fields import Field

_LOGGER = logging.getLogger(__name__)

DEFAULT_SCHEMA_FILE = Path(__file__).with_name("default_schema.yaml")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")


@dataclass(frozen=True, kw_only=True)
class LinkType:
    """A named, directed relation from one object type to others."""

    name: str
    targets: tuple[str, ...]
    properties: Mapping[str, Field] = field(default_factory=dict)
    # "cascade": deleting the target drops the link; "restrict": the target cannot be deleted
    on_target_delete: str = "cascade"


@dataclass(frozen=True, kw_only=True)
class ObjectType:
    """An object type: typed properties and outgoing links."""

    name: str
    properties: Mapping[str, Field]
    links: Mapping[str, LinkType] = field(default_factory=dict)
    # the only actions that create or change objects of this type (None: the setup actions may)
    managed_by: str | None = None

    @property
    def personal_properties(self) -> frozenset[str]:
        """Properties that hold personal data."""
        return frozenset(n for n, f in self.properties.items() if f.personal)


@dataclass(frozen=True)
class Schema:
    """All object types of one store."""

    types: Mapping[str, ObjectType]

    def object_type(self, name: str, *, field_name: str = "object_type") -> ObjectType:
        """Look a type up, or fail naming it."""
        try:
            return self.types[name]
        except KeyError:
            raise ValidationError(
                "unknown_object_type", object_type=name, field=field_name
            ) from None

    def link_type(self, source_type: str, link_name: str) -> LinkType:
        """Look a link up on its source type, or fail naming both."""
        try:
            return self.object_type(source_type).links[link_name]
        except KeyError:
            raise ValidationError(
                "unknown_link_type", link_type=link_name, object_type=source_type, field="link_type"
            ) from None

    def link_types_into(self, target_type: str) -> list[tuple[str, LinkType]]:
        """Every (source type, link type) that can point at ``target_type``."""
        return [
            (type_name, link)
            for type_name, object_type in self.types.items()
            for link in object_type.links.values()
            if target_type in link.targets
        ]

    def extend(self, definition: Mapping[str, Any], *, repaired: list[str] | None = None) -> Schema:
        """Return a schema with a new type, or new properties and links on an existing one.

        Existing properties and links are never redefined: stored values stay valid. Every
        attribute of a new property is checked (``Field.from_dict``; ``repaired`` as there).
        """
        type_name = definition["object_type"]
        if not _NAME.match(type_name):
            raise ValidationError(
                "invalid_type", field="object_type", expected="a name of letters, digits and _"
            )
        current = self.types.get(type_name)
        properties = dict(current.properties) if current else {}
        links = dict(current.links) if current else {}
        for prop_name, raw in _mapping(definition.get("properties"), "properties").items():
            if prop_name in properties:
                raise ValidationError("schema_conflict", object_type=type_name, field=prop_name)
            _check_name(f"properties.{prop_name}", prop_name)
            properties[prop_name] = Field.from_dict(
                f"properties.{prop_name}", raw, repaired=repaired
            )
        new_types = dict(self.types)
        for link_name, raw in _mapping(definition.get("links"), "links").items():
            if link_name in links:
                raise ValidationError("schema_conflict", object_type=type_name, field=link_name)
            _check_name(f"links.{link_name}", link_name)
            links[link_name] = _link_from_dict(
                link_name, raw, known={*new_types, type_name}, repaired=repaired
            )
        new_types[type_name] = ObjectType(
            name=type_name,
            properties=properties,
            links=links,
            managed_by=current.managed_by if current else None,
        )
        return Schema(new_types)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description (diagnostics, the query service)."""
        return {
            name: {
                "properties": {p: f.to_dict() for p, f in t.properties.items()},
                "links": {
                    link.name: {
                        "target": list(link.targets),
                        "on_target_delete": link.on_target_delete,
                    }
                    for link in t.links.values()
                },
            }
            for name, t in self.types.items()
        }


def _check_name(path: str, name: str) -> None:
    if not _NAME.match(name):
        raise ValidationError(
            "invalid_type", field=path, expected="a name of letters, digits and _"
        )


def _link_from_dict(
    name: str, raw: Any, *, known: set[str], repaired: list[str] | None = None
) -> LinkType:
    if not isinstance(raw, Mapping):
        raise ValidationError("invalid_type", field=f"links.{name}", expected="mapping")
    targets = raw.get("target")
    if isinstance(targets, str):
        targets = [targets]
    if not targets or not isinstance(targets, list):
        raise ValidationError("missing_field", field=f"links.{name}.target")
    for target in targets:
        if target not in known:
            raise ValidationError(
                "unknown_object_type", object_type=target, field=f"links.{name}.target"
            )
    on_delete = raw.get("on_target_delete", "cascade")
    if on_delete not in ("cascade", "restrict"):
        raise ValidationError(
            "invalid_choice",
            field=f"links.{name}.on_target_delete",
            value=on_delete,
            choices="cascade, restrict",
        )
    return LinkType(
        name=name,
        targets=tuple(targets),
        properties={
            p: Field.from_dict(f"links.{name}.properties.{p}", spec, repaired=repaired)
            for p, spec in _mapping(raw.get("properties"), f"links.{name}.properties").items()
        },
        on_target_delete=on_delete,
    )


def build_schema(raw: Mapping[str, Any]) -> Schema:
    """Build a schema from its YAML form (two passes, so links may point forward)."""
    raw_types: Mapping[str, Any] = raw["types"]
    names = set(raw_types)
    types = {
        name: ObjectType(
            name=name,
            properties={
                p: Field.from_dict(f"{name}.{p}", spec)
                for p, spec in (body.get("properties") or {}).items()
            },
            links={
                link: _link_from_dict(link, spec or {}, known=names)
                for link, spec in (body.get("links") or {}).items()
            },
            managed_by=body.get("managed_by"),
        )
        for name, body in raw_types.items()
    }
    return Schema(types)


@cache
def default_schema() -> Schema:
    """The schema CareOn ships with."""
    with DEFAULT_SCHEMA_FILE.open(encoding="utf-8") as handle:
        return build_schema(yaml.safe_load(handle))


def schema_with_extensions(extensions: list[Mapping[str, Any]]) -> Schema:
    """The default schema with a store's stored extensions applied in order.

    An extension stored before its definitions were checked whole may hold an attribute that
    cannot work (``min: "5"``, which made every later object of the type fail): it is repaired
    as it loads, that attribute left out and logged, so that the type works again.
    """
    schema = default_schema()
    for definition in extensions:
        repaired: list[str] = []
        schema = schema.extend(definition, repaired=repaired)
        if repaired:
            _LOGGER.warning(
                "The stored definition of %s had attributes that cannot work; left out: %s",
                definition.get("object_type"),
                ", ".join(repaired),
            )
    return schema


def _mapping(value: Any, path: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError("invalid_type", field=path, expected="mapping")
    return value
