"""Setting a store up: objects and links created, changed and deleted; the schema extended."""

from __future__ import annotations

from typing import Any

from ..engine import ActionContext, ActionType
from ..errors import ValidationError
from ..fields import Field, validate_fields
from ..ontology import Link, StoreObject, check_version, new_object_id
from ..privacy import (
    hash_phone,
    is_masked,
    mask_phone,
    normalise_phone,
    redact_phone,
    store_privacy_key,
)
from ..schema import ObjectType
from .common import EXPECTED_VERSION, OBJECT_ID, PROPERTIES
from .stock import PRODUCT, REQUIRES, recompute_availability

CUSTOMER = "Customer"

NEW_LINK = {
    "link_type": Field(kind="string", required=True),
    "target": OBJECT_ID,
    "properties": PROPERTIES,
}


def _check_unmanaged(object_type: ObjectType, properties: dict[str, Any], *, prefix: str) -> None:
    for name in properties:
        managed_by = object_type.properties[name].managed_by
        if managed_by is not None:
            raise ValidationError("managed_property", field=f"{prefix}{name}", action=managed_by)


def _check_editable(ctx: ActionContext, obj: StoreObject, *, field: str) -> None:
    """Records of what happened (an order) change only through their own actions."""
    managed_by = ctx.schema.object_type(obj.type).managed_by
    if managed_by is not None:
        raise ValidationError("managed_property", field=field, action=managed_by)


async def _protect_phone(
    ctx: ActionContext,
    object_type: str,
    properties: dict[str, Any],
    current: StoreObject | None = None,
) -> dict[str, Any]:
    """A customer's phone number is kept masked, with a keyed hash to find the customer by
    (core/privacy.py). A number given already masked is kept as it is (its hash too, when it
    is the number the customer has: a form sending back what it showed); a removed or
    replaced-by-masked number takes its hash along."""
    if object_type != CUSTOMER or "phone" not in properties:
        return properties
    phone = properties["phone"]
    if phone is None:
        return {**properties, "phone_hash": None}
    if not normalise_phone(phone):
        # no digits: not a number anyone can be reached at
        return {**properties, "phone_hash": None}
    if is_masked(phone):
        if current is not None and current.get("phone") == phone:
            return properties
        return {**properties, "phone_hash": None}
    key = await store_privacy_key(ctx.ontology.conn)
    return {**properties, "phone": mask_phone(phone), "phone_hash": hash_phone(phone, key)}


def _redact_phone(params: dict[str, Any], *, object_type: str | None) -> dict[str, Any]:
    """The audit keeps a customer's phone number masked (an update does not say what it
    changes: any phone number it sets is masked there)."""
    properties = params.get("properties")
    if object_type not in (None, CUSTOMER) or not isinstance(properties, dict):
        return params
    phone = properties.get("phone")
    if not isinstance(phone, str):
        return params
    return {**params, "properties": {**properties, "phone": redact_phone(phone)}}


def _redact_create(params: dict[str, Any]) -> dict[str, Any]:
    return _redact_phone(params, object_type=params.get("object_type"))


def _redact_update(params: dict[str, Any]) -> dict[str, Any]:
    return _redact_phone(params, object_type=None)


async def _validated_link(
    ctx: ActionContext, source: StoreObject, raw: dict[str, Any], *, prefix: str = ""
) -> Link:
    """Check a link against the schema and its target against the database."""
    link_type = ctx.schema.link_type(source.type, raw["link_type"])
    target = await ctx.ontology.get(raw["target"])
    if target is None:
        raise ValidationError("object_not_found", field=f"{prefix}target", object_id=raw["target"])
    if target.type not in link_type.targets:
        raise ValidationError(
            "wrong_link_target",
            field=f"{prefix}target",
            link_type=link_type.name,
            expected=" / ".join(link_type.targets),
            actual=target.type,
        )
    properties = validate_fields(
        link_type.properties, raw.get("properties"), prefix=f"{prefix}properties.", tz=ctx.timezone
    )
    return Link(
        source_id=source.id, link_type=link_type.name, target_id=target.id, properties=properties
    )


async def create_object(ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
    """Create an object (and its outgoing links) of any type the schema knows."""
    object_type = ctx.schema.object_type(params["object_type"])
    if object_type.managed_by is not None:
        raise ValidationError(
            "managed_property", field="object_type", action=object_type.managed_by
        )
    properties = validate_fields(
        object_type.properties, params.get("properties"), prefix="properties.", tz=ctx.timezone
    )
    properties = {
        key: value
        for key, value in (await _protect_phone(ctx, object_type.name, properties)).items()
        if value is not None
    }
    object_id = new_object_id(object_type.name, params.get("key"))
    if await ctx.ontology.get(object_id) is not None:
        raise ValidationError("duplicate_object", object_id=object_id, field="key")
    obj = await ctx.ontology.create(
        object_type.name, params["name"], properties, object_id=object_id
    )
    # The same link listed twice is one link (the last properties win, as with set_link).
    unique: dict[tuple[str, str], Link] = {}
    for index, raw in enumerate(params.get("links") or []):
        link = await _validated_link(ctx, obj, raw, prefix=f"links[{index}].")
        unique[link.link_type, link.target_id] = link
    links = list(unique.values())
    await ctx.ontology.add_links(links)
    if obj.type == PRODUCT and any(link.link_type == REQUIRES for link in links):
        await recompute_availability(ctx, product_ids=[obj.id])
    ctx.emit("object_created", object_id=obj.id, object_type=obj.type, name=obj.name)
    return {"object_id": obj.id, "object_type": obj.type, "version": obj.version}


async def update_object(ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
    """Change an object's name or properties (a null value removes an optional property)."""
    obj = await ctx.ontology.require("object_id", params["object_id"], tuple(ctx.schema.types))
    _check_editable(ctx, obj, field="object_id")
    check_version(obj, params.get("expected_version"))
    object_type = ctx.schema.object_type(obj.type)
    changes = validate_fields(
        object_type.properties,
        params.get("properties"),
        prefix="properties.",
        partial=True,
        tz=ctx.timezone,
    )
    _check_unmanaged(object_type, changes, prefix="properties.")
    changes = await _protect_phone(ctx, obj.type, changes, obj)
    properties = {**obj.properties, **changes}
    properties = {k: v for k, v in properties.items() if v is not None}
    updated = await ctx.ontology.update(obj, properties, name=params.get("name"))
    ctx.emit(
        "object_updated",
        object_id=obj.id,
        object_type=obj.type,
        name=updated.name,
        changed=sorted(changes) + (["name"] if params.get("name") else []),
    )
    return {"object_id": obj.id, "version": updated.version}


async def delete_object(ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
    """Delete an object unless history (an order, a payment) still points at it."""
    ontology = ctx.ontology
    obj = await ontology.require("object_id", params["object_id"], tuple(ctx.schema.types))
    _check_editable(ctx, obj, field="object_id")
    check_version(obj, params.get("expected_version"))
    for _source_type, link_type in ctx.schema.link_types_into(obj.type):
        if link_type.on_target_delete == "restrict":
            count = await ontology.count_links_to(obj.id, link_type.name)
            if count:
                raise ValidationError(
                    "object_in_use",
                    object_id=obj.id,
                    link_type=link_type.name,
                    count=count,
                    field="object_id",
                )
    dependants = [p.id for p in await ontology.linking([obj.id], REQUIRES)]
    await ontology.delete(obj)
    await recompute_availability(ctx, product_ids=dependants)
    ctx.emit("object_deleted", object_id=obj.id, object_type=obj.type, name=obj.name)
    return {"object_id": obj.id, "object_type": obj.type}


async def set_link(ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
    """Create a link, or replace the properties of an existing one (upsert)."""
    source = await ctx.ontology.require("source", params["source"], tuple(ctx.schema.types))
    _check_editable(ctx, source, field="source")
    link = await _validated_link(ctx, source, params)
    created = await ctx.ontology.set_link(link)
    if link.link_type == REQUIRES:
        await recompute_availability(ctx, product_ids=[source.id])
    ctx.emit(
        "link_set",
        source=link.source_id,
        link_type=link.link_type,
        target=link.target_id,
        created=created,
    )
    return {
        "source": link.source_id,
        "link_type": link.link_type,
        "target": link.target_id,
        "created": created,
    }


async def remove_link(ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
    """Delete one link."""
    source, link_type, target = params["source"], params["link_type"], params["target"]
    if (obj := await ctx.ontology.get(source)) is not None:
        _check_editable(ctx, obj, field="source")
    if not await ctx.ontology.remove_link(source, link_type, target):
        raise ValidationError(
            "link_not_found", source=source, link_type=link_type, target=target, field="link_type"
        )
    if link_type == REQUIRES:
        await recompute_availability(ctx, product_ids=[source])
    ctx.emit("link_removed", source=source, link_type=link_type, target=target)
    return {"source": source, "link_type": link_type, "target": target}


async def define_type(ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
    """Add an object type, or new properties and links to an existing one."""
    definition = {
        key: params[key] for key in ("object_type", "properties", "links") if params.get(key)
    }
    ctx.extend_schema(definition)
    ctx.emit(
        "schema_extended",
        object_type=params["object_type"],
        properties=sorted(params.get("properties") or {}),
        links=sorted(params.get("links") or {}),
    )
    return {
        "object_type": params["object_type"],
        "schema": ctx.schema.to_dict()[params["object_type"]],
    }


SETUP_ACTIONS = (
    ActionType(
        name="create_object",
        params={
            "object_type": Field(kind="string", required=True),
            "name": Field(kind="string", required=True),
            "key": Field(kind="string"),
            "properties": PROPERTIES,
            "links": Field(kind="records", fields=NEW_LINK),
        },
        apply=create_object,
        redact=_redact_create,
    ),
    ActionType(
        name="update_object",
        params={
            "object_id": OBJECT_ID,
            "name": Field(kind="string"),
            "properties": PROPERTIES,
            "expected_version": EXPECTED_VERSION,
        },
        apply=update_object,
        redact=_redact_update,
    ),
    ActionType(
        name="delete_object",
        params={"object_id": OBJECT_ID, "expected_version": EXPECTED_VERSION},
        apply=delete_object,
    ),
    ActionType(
        name="set_link",
        params={
            "source": OBJECT_ID,
            "link_type": Field(kind="string", required=True),
            "target": OBJECT_ID,
            "properties": PROPERTIES,
        },
        apply=set_link,
    ),
    ActionType(
        name="remove_link",
        params={
            "source": OBJECT_ID,
            "link_type": Field(kind="string", required=True),
            "target": OBJECT_ID,
        },
        apply=remove_link,
    ),
    ActionType(
        name="define_type",
        params={
            "object_type": Field(kind="string", required=True),
            "properties": PROPERTIES,
            "links": PROPERTIES,
        },
        apply=define_type,
    ),
)
