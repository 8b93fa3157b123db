"""Every error key the store knows is raised somewhere reachable, with the placeholders its
translated message needs (strings.json names exactly ERROR_KEYS' placeholders)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
import socket
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from custom_components.careon.core import (
    ERROR_KEYS,
    ActionContext,
    ActionEngine,
    ActionType,
    CareOnError,
    ConflictError,
    StoreAuthError,
    StoreUnavailableError,
    ValidationError,
    queries,
    query_objects,
)
from custom_components.careon.core.actions import ACTIONS
from custom_components.careon.core.connectors.card_sales import read_card_sales
from custom_components.careon.core.fields import Field
from custom_components.careon.core.schema import default_schema


async def _bump_then_write(ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
    """Change the item behind the ontology's back between its read and its write."""
    item = await ctx.ontology.require("item", params["item"], "InventoryItem")
    await ctx.ontology.conn.execute(
        text("UPDATE careon_objects SET version = version + 1 WHERE id = :id"), {"id": item.id}
    )
    await ctx.ontology.update(item, dict(item.properties))
    return {}


async def _write_beyond_64_bits(ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
    """A body whose write the driver refuses: a number no 64-bit column holds."""
    await ctx.ontology.conn.execute(text("SELECT :n"), {"n": 2**70})
    return {}


async def test_every_error_key_is_reachable(
    cafe_url: str,
    open_engine,
    act,
    postgres_password_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    racy = ActionType(
        name="racy", params={"item": Field(kind="string", required=True)}, apply=_bump_then_write
    )
    overflowing = ActionType(name="overflowing", params={}, apply=_write_beyond_64_bits)
    cafe: ActionEngine = await open_engine(
        cafe_url, actions={**ACTIONS, "racy": racy, "overflowing": overflowing}
    )
    order = (await act(cafe, "place_order", lines=[{"product": "product.croissant"}])).result
    await act(cafe, "cancel_order", order=order["order_id"])
    cancelled = (
        await act(
            cafe,
            "create_purchase_order",
            supplier="supplier.dairy",
            lines=[{"item": "inventory_item.milk", "qty": 1000}],
        )
    ).result["purchase_order_id"]
    await act(cafe, "cancel_purchase_order", purchase_order=cancelled)
    po = (
        await act(
            cafe,
            "create_purchase_order",
            supplier="supplier.dairy",
            lines=[{"item": "inventory_item.milk", "qty": 1000}],
        )
    ).result["purchase_order_id"]
    scheduled = await act(cafe, "schedule_maintenance", name="청소", due="2025-03-01T09:00:00")
    task = scheduled.result["tasks"][0]["task_id"]
    await act(cafe, "cancel_maintenance", task=task)
    alarm = (await act(cafe, "raise_alarm", kind="test")).result["alarm_id"]
    await act(cafe, "resolve_alarm", alarm=alarm)
    await act(cafe, "update_availability", product="product.cheesecake", available=False)
    await act(cafe, "place_order", idempotency_key="k", lines=[{"product": "product.sandwich"}])

    def call(action: str, **params: Any) -> Callable[[], Awaitable[Any]]:
        return lambda: act(cafe, action, **params)

    def create(**params: Any) -> Callable[[], Awaitable[Any]]:
        return call(
            "create_object",
            **{"object_type": "Zone", "name": "z", "properties": {"kind": "hall"}, **params},
        )

    async def closed_port() -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        await ActionEngine.open(f"postgresql://postgres@127.0.0.1:{port}/x")

    async def refused_login() -> None:
        wrong = make_url(postgres_password_url).set(password="wrong")
        await ActionEngine.open(wrong.render_as_string(hide_password=False))

    async def bad_schema() -> None:
        default_schema().extend(
            {"object_type": "Product", "properties": {"price": {"kind": "money"}}}
        )

    def query(*, personal: bool = True, **params: Any) -> Callable[[], Awaitable[Any]]:
        async def _query() -> None:
            async with cafe.reader() as ontology:
                await query_objects(ontology, cafe.schema, params, personal=personal)

        return _query

    monkeypatch.setattr(queries, "MAX_QUERY_OBJECTS", 5)

    def read_file(content: bytes) -> Callable[[], Awaitable[Any]]:
        async def _read() -> None:
            read_card_sales(content, "sales.csv")

        return _read

    triggers: dict[str, Callable[[], Awaitable[Any]]] = {
        "missing_field": call("create_object", object_type="Zone"),
        "unknown_field": create(colour="red"),
        "invalid_type": create(name=5),
        "out_of_range": call("adjust_inventory", item="inventory_item.milk", mode="waste", qty=0),
        "invalid_choice": create(),
        "empty_list": call("place_order", lines=[]),
        "unknown_action": call("teleport"),
        "unknown_object_type": create(object_type="Table"),
        "unknown_link_type": call(
            "set_link", source="zone.hall", link_type="near", target="zone.hall"
        ),
        "wrong_link_target": call(
            "set_link", source="staff.owner", link_type="assigned_to", target="supplier.dairy"
        ),
        "object_not_found": call("cancel_order", order="order.none"),
        "wrong_object_type": call("cancel_order", order="zone.hall"),
        "duplicate_object": create(key="hall", properties={"kind": "dining"}),
        "link_not_found": call(
            "remove_link", source="staff.owner", link_type="assigned_to", target="zone.hall"
        ),
        "object_in_use": call("delete_object", object_id="product.croissant"),
        "managed_property": call(
            "update_object", object_id="inventory_item.milk", properties={"on_hand": 1}
        ),
        "stale_version": call("update_object", object_id="zone.hall", expected_version=9),
        "schema_conflict": bad_schema,
        "product_unavailable": call("place_order", lines=[{"product": "product.cheesecake"}]),
        "insufficient_stock": call(
            "place_order", lines=[{"product": "product.sandwich", "qty": 99}]
        ),
        "order_status_invalid": call("refund_order", order=order["order_id"]),
        "purchase_order_status_invalid": call("receive_stock", purchase_order=cancelled),
        "item_not_on_purchase_order": call(
            "receive_purchase_order",
            purchase_order=po,
            lines=[{"item": "inventory_item.croissant", "qty": 1}],
        ),
        "item_on_order": call(
            "create_purchase_order",
            supplier="supplier.dairy",
            lines=[{"item": "inventory_item.milk", "qty": 1000}],
        ),
        "maintenance_plan_missing": call("schedule_maintenance", equipment="equipment.grinder"),
        "maintenance_task_status_invalid": call("complete_maintenance", task=task),
        "alarm_status_invalid": call("acknowledge_alarm", alarm=alarm),
        "invalid_period": call("reconcile", start="2025-03-02T00:00:00", end="2025-03-01T00:00:00"),
        "product_not_unmapped": call("resolve_unmapped_product", product="product.croissant"),
        "idempotency_conflict": call("cancel_order", idempotency_key="k", order=order["order_id"]),
        "database_unavailable": closed_port,
        "database_auth_failed": refused_login,
        "concurrent_update": call("racy", item="inventory_item.milk"),
        "card_sales_unreadable": read_file(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"),
        "card_sales_missing_column": read_file("승인일시,승인금액\n2025-03-01,100\n".encode()),
        "card_sales_invalid_value": read_file(
            "승인일시,승인번호,승인금액\n2025-03-01 09:00,1,백원\n".encode()
        ),
        "card_sales_no_rows": read_file("승인일시,승인번호,승인금액\n".encode()),
        "query_too_large": query(object_type="Product", follow=["requires"]),
        "value_not_storable": call("overflowing"),
        "personal_property": query(
            personal=False, object_type="Staff", filters={"hourly_rate": {"gt": 0}}
        ),
    }
    # raised by the Home Assistant layer (file paths, connector setup); their tests are in
    # tests/test_card_sales_service.py and tests/test_nice.py
    raised_by_home_assistant = {
        "file_not_found",
        "file_not_allowed",
        "connector_not_configured",
        "vendor_request_failed",
        "vendor_auth_failed",
    }
    assert set(triggers) == set(ERROR_KEYS) - raised_by_home_assistant
    classes = {
        "stale_version": ConflictError,
        "concurrent_update": CareOnError,
        "database_unavailable": StoreUnavailableError,
        "database_auth_failed": StoreAuthError,
    }
    for key, trigger in triggers.items():
        with pytest.raises(CareOnError) as info:
            await trigger()
        err = info.value
        assert err.translation_key == key
        # the message's placeholders are all there; the only extra is the field it is about
        needed, carried = set(ERROR_KEYS[key]), set(err.placeholders)
        assert needed <= carried, (key, carried)
        assert carried - needed <= {"field"}, (key, carried)
        assert type(err) is classes.get(key, ValidationError), key
        assert str(err).startswith(key)


def test_error_messages_and_fields() -> None:
    err = ValidationError("missing_field", field="lines")
    assert (str(err), err.field) == ("missing_field: field=lines", "lines")
    assert ValidationError("unknown_action", action="x").field is None
    assert str(CareOnError("concurrent_update")) == "concurrent_update"
    assert StoreUnavailableError("plain words").placeholders == {"error": "plain words"}
    refused = StoreAuthError("password authentication failed")
    assert (refused.translation_key, refused.placeholders) == (
        "database_auth_failed",
        {"error": "password authentication failed"},
    )
    assert isinstance(refused, StoreUnavailableError)
    assert StoreUnavailableError(OSError()).placeholders == {"error": "OSError"}
    wrapped = StoreUnavailableError(RuntimeError("first line\nsecond line with secrets"))
    assert wrapped.placeholders == {"error": "RuntimeError: first line"}
