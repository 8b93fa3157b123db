"""Setting a store up: create/update/delete objects, links, and the schema extended at run time."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from custom_components.careon.core import ActionEngine, ConflictError, ValidationError
from custom_components.careon.core.engine import SCHEMA_EXTENSIONS_KEY
from custom_components.careon.core.tables import meta_table


async def _refused(act: Any, engine: ActionEngine, action: str, **params: Any) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        await act(engine, action, **params)
    return info.value


async def test_create_object_with_links_and_key_derived_id(engine: ActionEngine, act, get) -> None:
    zone = await act(
        engine,
        "create_object",
        object_type="Zone",
        key="counter",
        name=" 카운터 ",
        properties={"kind": "counter", "capacity": "3"},
    )
    assert zone.result == {"object_id": "zone.counter", "object_type": "Zone", "version": 1}
    assert zone.created == {"zone.counter"}
    machine = await act(
        engine,
        "create_object",
        object_type="Equipment",
        key="espresso",
        name="에스프레소 머신",
        properties={"kind": "espresso"},
        links=[{"link_type": "located_in", "target": "zone.counter"}],
    )
    assert machine.result["object_id"] == "equipment.espresso"
    assert [(e.type, e.data["object_id"]) for e in machine.events] == [
        ("object_created", "equipment.espresso")
    ]
    stored = await get(engine, "equipment.espresso")
    assert stored.name == "에스프레소 머신"
    assert stored.properties == {"kind": "espresso", "status": "ok"}  # default applied
    assert stored.version == 1
    assert stored.created_at == stored.updated_at
    assert stored.created_at.tzinfo is not None
    assert (await get(engine, "zone.counter")).properties == {"kind": "counter", "capacity": 3}
    async with engine.reader() as ontology:
        links = await ontology.links_from(["equipment.espresso"])
    assert [(link.link_type, link.target_id, dict(link.properties)) for link in links] == [
        ("located_in", "zone.counter", {})
    ]
    # without a key: the type's prefix and a random suffix (CamelCase -> snake_case)
    item = await act(
        engine,
        "create_object",
        object_type="InventoryItem",
        name="우유",
        properties={"unit": "ml", "on_hand": 1000},
    )
    object_id = item.result["object_id"]
    assert object_id.startswith("inventory_item.")
    assert len(object_id.split(".", 1)[1]) == 32
    assert (await get(engine, object_id)).get("on_hand") == 1000


async def test_create_object_refusals(engine: ActionEngine, act, get, dump) -> None:
    await act(
        engine,
        "create_object",
        object_type="Zone",
        key="hall",
        name="홀",
        properties={"kind": "dining"},
    )
    await act(engine, "create_object", object_type="Supplier", key="dairy", name="우유 대리점")
    before = await dump(engine)

    err = await _refused(
        act,
        engine,
        "create_object",
        object_type="Zone",
        key="hall",
        name="홀2",
        properties={"kind": "dining"},
    )
    assert (err.translation_key, err.field) == ("duplicate_object", "key")
    assert err.placeholders["object_id"] == "zone.hall"

    err = await _refused(act, engine, "create_object", object_type="Table", name="T1")
    assert (err.translation_key, err.placeholders["object_type"]) == (
        "unknown_object_type",
        "Table",
    )

    err = await _refused(
        act, engine, "create_object", object_type="Zone", name="x", properties={"kind": "rooftop"}
    )
    assert (err.translation_key, err.field) == ("invalid_choice", "properties.kind")

    err = await _refused(
        act,
        engine,
        "create_object",
        object_type="Zone",
        name="x",
        properties={"kind": "dining", "seats": 4},
    )
    assert (err.translation_key, err.field) == ("unknown_field", "properties.seats")

    err = await _refused(act, engine, "create_object", object_type="Zone", name="x")
    assert (err.translation_key, err.field) == ("missing_field", "properties.kind")

    err = await _refused(act, engine, "create_object", object_type="Zone")
    assert (err.translation_key, err.field) == ("missing_field", "name")

    err = await _refused(
        act,
        engine,
        "create_object",
        object_type="Equipment",
        name="오븐",
        links=[{"link_type": "located_in", "target": "supplier.dairy"}],
    )
    assert (err.translation_key, err.field) == ("wrong_link_target", "links[0].target")
    assert err.placeholders["expected"] == "Zone"
    assert err.placeholders["actual"] == "Supplier"

    err = await _refused(
        act,
        engine,
        "create_object",
        object_type="Equipment",
        name="오븐",
        links=[
            {"link_type": "located_in", "target": "zone.hall"},
            {"link_type": "located_in", "target": "zone.roof"},
        ],
    )
    assert (err.translation_key, err.field) == ("object_not_found", "links[1].target")

    err = await _refused(
        act,
        engine,
        "create_object",
        object_type="Equipment",
        name="오븐",
        links=[{"link_type": "requires", "target": "zone.hall"}],
    )
    assert err.translation_key == "unknown_link_type"
    assert err.placeholders["link_type"] == "requires"
    assert err.placeholders["object_type"] == "Equipment"

    err = await _refused(
        act,
        engine,
        "create_object",
        object_type="Product",
        name="라떼",
        properties={"price": 5000},
        links=[{"link_type": "requires", "target": "supplier.dairy"}],
    )
    assert err.translation_key == "wrong_link_target"

    # orders are made by place_order only
    err = await _refused(
        act,
        engine,
        "create_object",
        object_type="Order",
        name="1",
        properties={"status": "paid", "total": 0, "lines": [], "placed_at": "2025-01-01T00:00:00Z"},
    )
    assert (err.translation_key, err.field) == ("managed_property", "object_type")
    assert (
        err.placeholders["action"]
        == "place_order, cancel_order, refund_order, sync_order, sync_payment"
    )

    # a link's own properties are validated too
    await act(
        engine,
        "create_object",
        object_type="InventoryItem",
        key="milk",
        name="우유",
        properties={"unit": "ml"},
    )
    before = await dump(engine)
    err = await _refused(
        act,
        engine,
        "create_object",
        object_type="Product",
        name="라떼",
        properties={"price": 5000},
        links=[{"link_type": "requires", "target": "inventory_item.milk"}],
    )
    assert (err.translation_key, err.field) == ("missing_field", "links[0].properties.qty")
    assert await dump(engine) == before  # a refused action leaves no trace


async def test_create_object_with_the_same_link_twice(engine: ActionEngine, act, get) -> None:
    """Listing one link twice is the caller's mistake, not an unreachable database."""
    await act(
        engine,
        "create_object",
        object_type="Zone",
        key="hall",
        name="홀",
        properties={"kind": "dining"},
    )
    result = await act(
        engine,
        "create_object",
        object_type="Staff",
        key="kim",
        name="김",
        links=[
            {"link_type": "assigned_to", "target": "zone.hall"},
            {"link_type": "assigned_to", "target": "zone.hall"},
        ],
    )
    async with engine.reader() as ontology:
        links = await ontology.links_from([result.result["object_id"]])
    assert [(link.link_type, link.target_id) for link in links] == [("assigned_to", "zone.hall")]


async def test_update_object_merges_removes_and_checks_versions(
    cafe: ActionEngine, act, get
) -> None:
    latte = await get(cafe, "product.latte_hot")
    result = await act(
        cafe,
        "update_object",
        object_id="product.latte_hot",
        name="라떼 HOT",
        expected_version=latte.version,
        properties={"price": "5,200", "allergens": ["우유"]},
    )
    assert result.result == {"object_id": "product.latte_hot", "version": latte.version + 1}
    assert result.updated == {"product.latte_hot"}
    assert [(e.type, e.data["changed"]) for e in result.events] == [
        ("object_updated", ["allergens", "price", "name"])
    ]
    after = await get(cafe, "product.latte_hot")
    assert after.name == "라떼 HOT"
    assert after.properties == {**latte.properties, "price": 5200, "allergens": ["우유"]}
    assert after.updated_at > latte.updated_at
    assert after.created_at == latte.created_at

    # null removes an optional property; the name stays when none is given
    await act(
        cafe,
        "update_object",
        object_id="product.latte_hot",
        properties={"allergens": None, "category": None},
    )
    after = await get(cafe, "product.latte_hot")
    assert not {"allergens", "category"} & set(after.properties)
    assert after.name == "라떼 HOT"

    with pytest.raises(ConflictError) as info:
        await act(
            cafe,
            "update_object",
            object_id="product.latte_hot",
            expected_version=1,
            properties={"price": 1},
        )
    assert info.value.translation_key == "stale_version"
    assert info.value.placeholders == {
        "object_id": "product.latte_hot",
        "expected": "1",
        "actual": str(after.version),
    }

    err = await _refused(
        act, cafe, "update_object", object_id="product.latte_hot", properties={"price": None}
    )
    assert (err.translation_key, err.field) == ("missing_field", "properties.price")
    err = await _refused(
        act, cafe, "update_object", object_id="product.latte_hot", properties={"available": False}
    )
    assert (err.translation_key, err.field) == ("managed_property", "properties.available")
    assert err.placeholders["action"] == "update_availability"
    err = await _refused(
        act, cafe, "update_object", object_id="inventory_item.milk", properties={"on_hand": 0}
    )
    assert err.placeholders["action"] == "adjust_inventory"
    err = await _refused(
        act, cafe, "update_object", object_id="product.nope", properties={"price": 1}
    )
    assert (err.translation_key, err.field) == ("object_not_found", "object_id")
    err = await _refused(
        act, cafe, "update_object", object_id="product.latte_hot", expected_version=0
    )
    assert (err.translation_key, err.field) == ("out_of_range", "expected_version")
    assert (await get(cafe, "product.latte_hot")).version == after.version


async def test_delete_object_cascades_links_and_keeps_history(cafe: ActionEngine, act, get) -> None:
    # an equipment: the links pointing at it and from it go with it
    result = await act(cafe, "delete_object", object_id="equipment.oven")
    assert result.result == {"object_id": "equipment.oven", "object_type": "Equipment"}
    assert result.deleted == {"equipment.oven"}
    assert result.events[-1].type == "object_deleted"
    assert await get(cafe, "equipment.oven") is None
    async with cafe.reader() as ontology:
        assert await ontology.links_to(["equipment.oven"]) == []
        assert await ontology.links_from(["equipment.oven"]) == []
        assert [
            link.target_id
            for link in await ontology.links_from(["product.croissant"], "prepared_with")
        ] == []

    # an inventory item a recipe needs: the products that needed it are recomputed
    sandwich = await get(cafe, "product.sandwich")
    result = await act(
        cafe, "delete_object", object_id="inventory_item.sandwich", expected_version=1
    )
    assert (await get(cafe, "product.sandwich")).version == sandwich.version
    assert result.deleted == {"inventory_item.sandwich"}

    # a product that was sold cannot be deleted (restrict), one never sold can
    await act(cafe, "place_order", lines=[{"product": "product.cheesecake"}])
    err = await _refused(act, cafe, "delete_object", object_id="product.cheesecake")
    assert err.translation_key == "object_in_use"
    assert err.placeholders == {
        "object_id": "product.cheesecake",
        "link_type": "contains",
        "count": "1",
        "field": "object_id",
    }
    assert await get(cafe, "product.cheesecake") is not None
    await act(cafe, "delete_object", object_id="product.sandwich")
    assert await get(cafe, "product.sandwich") is None

    with pytest.raises(ConflictError):
        await act(cafe, "delete_object", object_id="zone.hall", expected_version=7)
    err = await _refused(act, cafe, "delete_object", object_id="zone.rooftop")
    assert err.translation_key == "object_not_found"


async def test_links_upsert_remove_and_availability_follows_recipes(
    cafe: ActionEngine, act, get
) -> None:
    # a new item with no stock: adding it to a recipe makes the product unmakeable
    await act(
        cafe,
        "create_object",
        object_type="InventoryItem",
        key="cinnamon",
        name="시나몬",
        properties={"unit": "g", "on_hand": 0},
    )
    result = await act(
        cafe,
        "set_link",
        source="product.latte_hot",
        link_type="requires",
        target="inventory_item.cinnamon",
        properties={"qty": 1},
    )
    assert result.result == {
        "source": "product.latte_hot",
        "link_type": "requires",
        "target": "inventory_item.cinnamon",
        "created": True,
    }
    latte = await get(cafe, "product.latte_hot")
    assert latte.get("available") is False
    assert latte.get("availability_reason") == "stock_out"
    changed = [e for e in result.events if e.type == "product_availability_changed"]
    assert [dict(e.data) for e in changed] == [
        {
            "product_id": "product.latte_hot",
            "name": latte.name,
            "available": False,
            "reason": "stock_out",
            "missing": ["시나몬"],
        }
    ]

    # upsert: same link, new properties (qty 0 is makeable again)
    result = await act(
        cafe,
        "set_link",
        source="product.latte_hot",
        link_type="requires",
        target="inventory_item.cinnamon",
        properties={"qty": 0},
    )
    assert result.result["created"] is False
    assert (await get(cafe, "product.latte_hot")).get("available") is True
    async with cafe.reader() as ontology:
        links = await ontology.links_from(["product.latte_hot"], "requires")
    assert {link.target_id: link.properties["qty"] for link in links}[
        "inventory_item.cinnamon"
    ] == 0

    await act(
        cafe,
        "set_link",
        source="product.latte_hot",
        link_type="requires",
        target="inventory_item.cinnamon",
        properties={"qty": 2},
    )
    assert (await get(cafe, "product.latte_hot")).get("available") is False
    result = await act(
        cafe,
        "remove_link",
        source="product.latte_hot",
        link_type="requires",
        target="inventory_item.cinnamon",
    )
    assert result.result == {
        "source": "product.latte_hot",
        "link_type": "requires",
        "target": "inventory_item.cinnamon",
    }
    assert [e.type for e in result.events] == ["product_availability_changed", "link_removed"]
    latte = await get(cafe, "product.latte_hot")
    assert latte.get("available") is True
    assert "availability_reason" not in latte.properties

    # a product created with a recipe it cannot make starts unavailable
    result = await act(
        cafe,
        "create_object",
        object_type="Product",
        key="cinnamon_latte",
        name="시나몬 라떼",
        properties={"price": 5500},
        links=[
            {"link_type": "requires", "target": "inventory_item.cinnamon", "properties": {"qty": 1}}
        ],
    )
    assert (await get(cafe, "product.cinnamon_latte")).get("availability_reason") == "stock_out"
    # deleting the item it lacked makes it makeable (nothing is required any more)
    await act(cafe, "delete_object", object_id="inventory_item.cinnamon")
    assert (await get(cafe, "product.cinnamon_latte")).get("available") is True

    # other link types need no recompute
    result = await act(
        cafe, "set_link", source="staff.owner", link_type="assigned_to", target="zone.hall"
    )
    assert result.result["created"] is True
    await act(
        cafe, "remove_link", source="staff.owner", link_type="assigned_to", target="zone.hall"
    )

    err = await _refused(
        act, cafe, "remove_link", source="staff.owner", link_type="assigned_to", target="zone.hall"
    )
    assert err.translation_key == "link_not_found"
    assert err.placeholders == {
        "source": "staff.owner",
        "link_type": "assigned_to",
        "target": "zone.hall",
        "field": "link_type",
    }
    err = await _refused(
        act,
        cafe,
        "set_link",
        source="staff.owner",
        link_type="assigned_to",
        target="supplier.dairy",
    )
    assert (err.translation_key, err.field) == ("wrong_link_target", "target")
    err = await _refused(
        act, cafe, "set_link", source="staff.ghost", link_type="assigned_to", target="zone.hall"
    )
    assert (err.translation_key, err.field) == ("object_not_found", "source")
    err = await _refused(
        act, cafe, "set_link", source="staff.owner", link_type="owns", target="zone.hall"
    )
    assert err.translation_key == "unknown_link_type"


async def test_define_type_extends_the_schema_and_survives_reopening(
    db_url: str, open_engine, act, get
) -> None:
    engine = await open_engine(db_url)
    result = await act(
        engine,
        "define_type",
        object_type="Table",
        properties={"seats": {"kind": "integer", "min": 1, "required": True}},
        links={"in_zone": {"target": "Zone"}},
    )
    assert result.result["object_type"] == "Table"
    assert result.result["schema"] == {
        "properties": {"seats": {"kind": "integer", "min": 1, "required": True}},
        "links": {"in_zone": {"target": ["Zone"], "on_target_delete": "cascade"}},
    }
    assert [(e.type, dict(e.data)) for e in result.events] == [
        ("schema_extended", {"object_type": "Table", "properties": ["seats"], "links": ["in_zone"]})
    ]
    await act(
        engine,
        "define_type",
        object_type="Product",
        properties={"calories": {"kind": "integer", "min": 0}},
    )

    await act(
        engine,
        "create_object",
        object_type="Zone",
        key="hall",
        name="홀",
        properties={"kind": "dining"},
    )
    await act(
        engine,
        "create_object",
        object_type="Table",
        key="t1",
        name="1번 테이블",
        properties={"seats": "4"},
        links=[{"link_type": "in_zone", "target": "zone.hall"}],
    )
    assert (await get(engine, "table.t1")).properties == {"seats": 4}
    err = await _refused(
        act, engine, "create_object", object_type="Table", name="2번", properties={"seats": 0}
    )
    assert err.translation_key == "out_of_range"

    err = await _refused(
        act, engine, "define_type", object_type="Table", properties={"seats": {"kind": "number"}}
    )
    assert err.translation_key == "schema_conflict"
    assert err.placeholders == {"object_type": "Table", "field": "seats"}
    err = await _refused(
        act, engine, "define_type", object_type="Product", properties={"price": {"kind": "number"}}
    )
    assert err.translation_key == "schema_conflict"

    # a second engine on the same database loads the stored extensions
    again = await open_engine(db_url)
    assert again.schema.object_type("Table").properties["seats"].min == 1
    assert "calories" in again.schema.object_type("Product").properties
    assert again.schema.link_type("Table", "in_zone").targets == ("Zone",)
    await act(
        again,
        "create_object",
        object_type="Table",
        key="t2",
        name="2번 테이블",
        properties={"seats": 2},
    )
    await act(
        again,
        "define_type",
        object_type="Table",
        properties={"shape": {"kind": "string", "choices": ["round", "square"]}},
    )
    third = await open_engine(db_url)
    assert set(third.schema.object_type("Table").properties) == {"seats", "shape"}


async def test_orders_change_only_through_their_own_actions(cafe: ActionEngine, act, dump) -> None:
    """A recorded sale cannot be edited, relinked or deleted with the setup actions."""
    sale = await act(
        cafe, "place_order", lines=[{"product": "product.latte_hot"}], zone="zone.hall"
    )
    order_id = sale.result["order_id"]
    before = await dump(cafe)
    attempts = [
        ("update_object", {"object_id": order_id, "properties": {"total": 0}}, "object_id"),
        ("update_object", {"object_id": order_id, "name": "gone"}, "object_id"),
        ("delete_object", {"object_id": order_id}, "object_id"),
        (
            "set_link",
            {"source": order_id, "link_type": "served_at", "target": "zone.terrace"},
            "source",
        ),
        (
            "remove_link",
            {"source": order_id, "link_type": "served_at", "target": "zone.hall"},
            "source",
        ),
    ]
    for action, params, field in attempts:
        with pytest.raises(ValidationError) as info:
            await act(cafe, action, **params)
        assert info.value.translation_key == "managed_property"
        assert info.value.placeholders == {
            "field": field,
            "action": "place_order, cancel_order, refund_order, sync_order, sync_payment",
        }
    assert await dump(cafe) == before


async def test_a_definition_that_cannot_work_is_refused_and_a_stored_one_repaired(
    db_url: str, open_engine, act, get, dump, caplog: pytest.LogCaptureFixture
) -> None:
    """define_type refuses a property that would break its type (min "5" made every later
    create_object of the type raise TypeError, for good); one stored by an older CareOn is
    repaired when the store opens, and the type works again."""
    engine = await open_engine(db_url)
    before = await dump(engine)
    err = await _refused(
        act,
        engine,
        "define_type",
        object_type="Table",
        properties={"seats": {"kind": "integer", "min": "5"}},
    )
    assert (err.translation_key, err.field) == ("invalid_type", "properties.seats.min")
    for properties in ({"seats": "integer"}, ["seats"]):
        err = await _refused(act, engine, "define_type", object_type="Table", properties=properties)
        assert err.translation_key == "invalid_type"
    assert await dump(engine) == before

    # as an older CareOn stored it
    async with engine.engine.begin() as conn:
        await conn.execute(
            meta_table.insert().values(
                key=SCHEMA_EXTENSIONS_KEY,
                value=[
                    {
                        "object_type": "Table",
                        "properties": {"seats": {"kind": "integer", "min": "5", "max": 12}},
                    }
                ],
            )
        )
    caplog.set_level(logging.WARNING)
    again = await open_engine(db_url)
    assert "Table had attributes that cannot work; left out: properties.seats.min" in caplog.text
    seats = again.schema.object_type("Table").properties["seats"]
    assert (seats.min, seats.max) == (None, 12)
    await act(
        again, "create_object", object_type="Table", key="t1", name="1번", properties={"seats": 4}
    )
    assert (await get(again, "table.t1")).properties == {"seats": 4}
    err = await _refused(
        act, again, "create_object", object_type="Table", name="2번", properties={"seats": 20}
    )
    assert err.translation_key == "out_of_range"
