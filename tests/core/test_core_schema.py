"""The schema as data: property kinds, validation, normalisation and run-time extension."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from custom_components.careon.core import ValidationError
from custom_components.careon.core.fields import (
    Field,
    normalise_number,
    to_iso,
    validate_fields,
    validate_value,
)
from custom_components.careon.core.schema import (
    build_schema,
    default_schema,
    schema_with_extensions,
)

SEOUL = ZoneInfo("Asia/Seoul")


def _error(call: Any, *args: Any, **kwargs: Any) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        call(*args, **kwargs)
    return info.value


# --- the default schema ---------------------------------------------------------------------


def test_default_schema_has_every_type_of_the_product_spec() -> None:
    """PRODUCT.md §1's table, with its links and their targets."""
    schema = default_schema()
    assert set(schema.types) == {
        "Store",
        "Zone",
        "Product",
        "InventoryItem",
        "Supplier",
        "PurchaseOrder",
        "Order",
        "Payment",
        "Customer",
        "Staff",
        "Equipment",
        "MaintenanceTask",
        "Alarm",
    }
    product = schema.object_type("Product")
    assert product.links["requires"].targets == ("InventoryItem",)
    assert product.links["requires"].properties["qty"].required
    assert product.properties["price"].kind == "money"
    assert product.properties["available"].managed_by == "update_availability"
    assert (
        schema.object_type("Order").managed_by
        == "place_order, cancel_order, refund_order, sync_order, sync_payment"
    )
    assert schema.link_type("Order", "contains").on_target_delete == "restrict"
    assert schema.link_type("MaintenanceTask", "assigned_to").targets == ("Staff", "Supplier")
    assert schema.object_type("Supplier").personal_properties == {"phone", "email"}
    into_product = {(source, link.name) for source, link in schema.link_types_into("Product")}
    assert into_product == {("Order", "contains")}
    described = schema.to_dict()
    assert described["Order"]["links"]["contains"] == {
        "target": ["Product"],
        "on_target_delete": "restrict",
    }
    assert described["InventoryItem"]["properties"]["on_hand"] == {
        "kind": "number",
        "default": 0,
        "managed_by": "adjust_inventory",
    }
    assert described["Supplier"]["properties"]["phone"] == {"kind": "string", "personal": True}
    assert described["Zone"]["properties"]["kind"]["required"] is True
    assert default_schema() is schema  # built once


def test_unknown_type_and_link_lookups_name_what_is_missing() -> None:
    schema = default_schema()
    err = _error(schema.object_type, "Table")
    assert err.translation_key == "unknown_object_type"
    assert err.placeholders["object_type"] == "Table"
    err = _error(schema.link_type, "Product", "contains")
    assert err.translation_key == "unknown_link_type"
    assert err.placeholders == {
        "link_type": "contains",
        "object_type": "Product",
        "field": "link_type",
    }


# --- property kinds ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "value", "expected"),
    [
        (Field(kind="string"), "  라떼 ", "라떼"),
        (Field(kind="money"), 4500, 4500),
        (Field(kind="money"), "4,500", 4500),
        (Field(kind="money"), 4500.0, 4500),
        (Field(kind="integer"), " 12 ", 12),
        (Field(kind="number"), 0.1 + 0.2, 0.3),
        (Field(kind="number"), 2.0, 2),
        (Field(kind="number"), "1,250.5", 1250.5),
        (Field(kind="number"), 7, 7),
        (Field(kind="boolean"), False, False),
        (Field(kind="list"), ("a", "b"), ["a", "b"]),
        (Field(kind="mapping"), {"a": 1}, {"a": 1}),
        (Field(kind="string", choices=("here", "togo")), "togo", "togo"),
        (Field(kind="integer", min=0, max=10), 10, 10),
        (Field(kind="datetime"), "2025-03-01T09:30:00Z", "2025-03-01T09:30:00.000000+00:00"),
        (Field(kind="datetime"), "2025-03-01T18:30:00+09:00", "2025-03-01T09:30:00.000000+00:00"),
        # a time without an offset is the store's local time (Asia/Seoul here)
        (Field(kind="datetime"), "2025-03-01T18:30:00", "2025-03-01T09:30:00.000000+00:00"),
        (Field(kind="datetime"), datetime(2025, 3, 1, 18, 30), "2025-03-01T09:30:00.000000+00:00"),
        (
            Field(kind="datetime"),
            datetime(2025, 3, 1, 9, 30, tzinfo=UTC),
            "2025-03-01T09:30:00.000000+00:00",
        ),
    ],
)
def test_every_kind_validates_and_normalises(spec: Field, value: Any, expected: Any) -> None:
    result = validate_value("p", spec, value, tz=SEOUL)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("spec", "value", "key", "placeholders"),
    [
        (Field(kind="string"), 5, "invalid_type", {"expected": "text"}),
        (Field(kind="string"), "   ", "invalid_type", {"expected": "text"}),
        (Field(kind="money"), 4500.5, "invalid_type", {"expected": "whole number"}),
        (Field(kind="money"), "4천원", "invalid_type", {"expected": "whole number"}),
        (Field(kind="integer"), True, "invalid_type", {"expected": "whole number"}),
        (Field(kind="integer"), [1], "invalid_type", {"expected": "whole number"}),
        (Field(kind="number"), "many", "invalid_type", {"expected": "number"}),
        (Field(kind="number"), True, "invalid_type", {"expected": "number"}),
        (Field(kind="number"), float("nan"), "invalid_type", {"expected": "number"}),
        (Field(kind="number"), [1.5], "invalid_type", {"expected": "number"}),
        (Field(kind="boolean"), "yes", "invalid_type", {"expected": "true/false"}),
        (
            Field(kind="datetime"),
            "next tuesday",
            "invalid_type",
            {"expected": "ISO 8601 date and time"},
        ),
        (
            Field(kind="datetime"),
            1700000000,
            "invalid_type",
            {"expected": "ISO 8601 date and time"},
        ),
        (Field(kind="list"), "a,b", "invalid_type", {"expected": "list"}),
        (Field(kind="mapping"), ["a"], "invalid_type", {"expected": "mapping"}),
        (
            Field(kind="records", fields={"a": Field(kind="string")}),
            {"a": "x"},
            "invalid_type",
            {"expected": "list"},
        ),
        (
            Field(kind="string", choices=("here", "togo")),
            "there",
            "invalid_choice",
            {"value": "there", "choices": "here, togo"},
        ),
        (Field(kind="money", min=0), -1, "out_of_range", {"value": "-1", "limit": ">= 0"}),
        (Field(kind="number", max=2.5), 3, "out_of_range", {"value": "3", "limit": "<= 2.5"}),
        (Field(kind="records", fields={}, min_items=1), [], "empty_list", {}),
    ],
)
def test_bad_values_are_refused_naming_the_field(
    spec: Field, value: Any, key: str, placeholders: dict[str, str]
) -> None:
    err = _error(validate_value, "properties.p", spec, value, tz=SEOUL)
    assert err.translation_key == key
    assert err.field == "properties.p"
    assert placeholders.items() <= err.placeholders.items()


def test_naive_datetime_without_a_store_timezone_uses_the_machine_zone() -> None:
    naive = datetime(2025, 3, 1, 12, 0)
    assert validate_value("p", Field(kind="datetime"), naive) == to_iso(naive.astimezone())


def test_records_validate_each_item_with_its_index() -> None:
    spec = Field(
        kind="records",
        fields={
            "item": Field(kind="string", required=True),
            "qty": Field(kind="number", min=0, default=1),
        },
    )
    assert validate_value("lines", spec, [{"item": "a"}, {"item": "b", "qty": "2"}]) == [
        {"item": "a", "qty": 1},
        {"item": "b", "qty": 2},
    ]
    err = _error(validate_value, "lines", spec, [{"item": "a"}, {"qty": 1}])
    assert (err.translation_key, err.field) == ("missing_field", "lines[1].item")
    err = _error(validate_value, "lines", spec, [{"item": "a", "qty": -1}])
    assert (err.translation_key, err.field) == ("out_of_range", "lines[0].qty")
    err = _error(validate_value, "lines", spec, ["a"])
    assert (err.translation_key, err.field) == ("invalid_type", "lines[0]")


def test_validate_fields_unknown_missing_defaults_and_partial_updates() -> None:
    specs = default_schema().object_type("Product").properties
    assert validate_fields(specs, {"price": 5000}, prefix="properties.") == {
        "price": 5000,
        "available": True,
    }
    err = _error(validate_fields, specs, {"price": 5000, "colour": "red"}, prefix="properties.")
    assert (err.translation_key, err.field) == ("unknown_field", "properties.colour")
    err = _error(validate_fields, specs, {"category": "커피"}, prefix="properties.")
    assert (err.translation_key, err.field) == ("missing_field", "properties.price")
    err = _error(validate_fields, specs, None, prefix="properties.")
    assert (err.translation_key, err.field) == ("missing_field", "properties.price")
    err = _error(validate_fields, specs, ["price"], prefix="properties.")
    assert (err.translation_key, err.field) == ("invalid_type", "properties")
    err = _error(validate_fields, specs, "price")
    assert err.field == "data"
    # partial: no defaults, None means "remove", a required property cannot be removed
    assert validate_fields(specs, {"cost": None, "category": "음료"}, partial=True) == {
        "cost": None,
        "category": "음료",
    }
    err = _error(validate_fields, specs, {"price": None}, partial=True, prefix="properties.")
    assert (err.translation_key, err.field) == ("missing_field", "properties.price")


def test_normalise_number_and_iso_form() -> None:
    assert normalise_number(17600.000000001) == 17600
    assert normalise_number(0.1 + 0.2) == 0.3
    kst = timezone(timedelta(hours=9))
    assert to_iso(datetime(2025, 1, 1, 9, tzinfo=kst)) == "2025-01-01T00:00:00.000000+00:00"


# --- schema definitions -----------------------------------------------------------------------


def test_field_from_dict_refuses_bad_definitions() -> None:
    err = _error(Field.from_dict, "properties.seats", {"kind": "colour"})
    assert (err.translation_key, err.field) == ("invalid_choice", "properties.seats.kind")
    assert "records" not in err.placeholders["choices"]
    err = _error(Field.from_dict, "properties.seats", {"kind": "records"})
    assert err.translation_key == "invalid_choice"
    err = _error(Field.from_dict, "properties.seats", {"kind": "integer", "unit": "ea"})
    assert (err.translation_key, err.field) == ("unknown_field", "properties.seats.unit")
    field = Field.from_dict(
        "p",
        {
            "kind": "string",
            "choices": ["a", "b"],
            "required": True,
            "personal": True,
            "default": "a",
        },
    )
    assert field.choices == ("a", "b")
    assert field.to_dict() == {
        "kind": "string",
        "default": "a",
        "required": True,
        "choices": ["a", "b"],
        "personal": True,
    }


# Definitions that used to be stored and then broke their type for good (every later object of
# it raised TypeError), or raised AttributeError/TypeError themselves: each is refused, naming
# the attribute.
BAD_DEFINITIONS = [
    ({"kind": "integer", "min": "5"}, "invalid_type", "p.min"),
    ({"kind": "money", "max": [1]}, "invalid_type", "p.max"),
    ({"kind": "number", "min": float("nan")}, "invalid_type", "p.min"),
    ({"kind": "integer", "min": True}, "invalid_type", "p.min"),
    ({"kind": "integer", "min": 5, "max": 1}, "out_of_range", "p.max"),
    ({"kind": "string", "min": 1}, "unknown_field", "p.min"),
    ({"kind": "integer", "choices": ["1"]}, "unknown_field", "p.choices"),
    ({"kind": "string", "choices": "ab"}, "invalid_type", "p.choices"),
    ({"kind": "string", "choices": ["a", 1]}, "invalid_type", "p.choices"),
    ({"kind": "string", "choices": []}, "invalid_type", "p.choices"),
    ({"kind": "string", "required": "yes"}, "invalid_type", "p.required"),
    ({"kind": "string", "personal": 1}, "invalid_type", "p.personal"),
    ({"kind": "string", "managed_by": 3}, "invalid_type", "p.managed_by"),
    ({"kind": "integer", "default": "many"}, "invalid_type", "p.default"),
    ({"kind": "integer", "min": 1, "default": 0}, "out_of_range", "p.default"),
    ({"kind": "string", "choices": ["a"], "default": "b"}, "invalid_choice", "p.default"),
    ("integer", "invalid_type", "p"),
    (["kind", "integer"], "invalid_type", "p"),
    ({}, "invalid_choice", "p.kind"),
]


@pytest.mark.parametrize(("definition", "key", "field"), BAD_DEFINITIONS)
def test_a_definition_that_cannot_work_is_refused(definition: Any, key: str, field: str) -> None:
    err = _error(Field.from_dict, "p", definition)
    assert (err.translation_key, err.field) == (key, field)


def test_a_stored_definition_that_cannot_work_is_repaired() -> None:
    """A definition an older CareOn stored is loaded with what cannot work left out, named."""
    repaired: list[str] = []
    field = Field.from_dict(
        "p", {"kind": "integer", "min": "5", "max": 10, "unit": "ea"}, repaired=repaired
    )
    assert (field.kind, field.min, field.max) == ("integer", None, 10)
    assert repaired == ["p.min", "p.unit"]
    # a kind this version does not know (a newer CareOn's) is no repair's to guess
    err = _error(Field.from_dict, "p", {"kind": "seat"}, repaired=[])
    assert (err.translation_key, err.field) == ("invalid_choice", "p.kind")


def test_schema_extend_adds_types_properties_and_links() -> None:
    schema = default_schema().extend(
        {
            "object_type": "Table",
            "properties": {"seats": {"kind": "integer", "min": 1}},
            "links": {"in_zone": {"target": "Zone"}, "merged_with": {"target": ["Table"]}},
        }
    )
    table = schema.object_type("Table")
    assert table.properties["seats"].min == 1
    assert table.links["in_zone"].targets == ("Zone",)
    assert table.links["merged_with"].targets == ("Table",)
    assert "Table" not in default_schema().types  # the default stays as shipped
    more = schema.extend(
        {
            "object_type": "Product",
            "properties": {"calories": {"kind": "integer"}},
            "links": {
                "served_on": {
                    "target": "Table",
                    "on_target_delete": "restrict",
                    "properties": {"n": {"kind": "integer"}},
                }
            },
        }
    )
    product = more.object_type("Product")
    assert {"price", "calories"} <= set(product.properties)
    assert product.links["served_on"].properties["n"].kind == "integer"
    assert product.managed_by is None
    assert (
        more.object_type("Order").managed_by
        == "place_order, cancel_order, refund_order, sync_order, sync_payment"
    )


@pytest.mark.parametrize(
    ("definition", "key", "field"),
    [
        (
            {"object_type": "Product", "properties": {"price": {"kind": "integer"}}},
            "schema_conflict",
            "price",
        ),
        (
            {"object_type": "Product", "links": {"requires": {"target": "InventoryItem"}}},
            "schema_conflict",
            "requires",
        ),
        ({"object_type": "2tables"}, "invalid_type", "object_type"),
        (
            {"object_type": "Table", "properties": {"seat count": {"kind": "integer"}}},
            "invalid_type",
            "properties.seat count",
        ),
        (
            {"object_type": "Table", "links": {"in-zone": {"target": "Zone"}}},
            "invalid_type",
            "links.in-zone",
        ),
        (
            {"object_type": "Table", "links": {"in_zone": {}}},
            "missing_field",
            "links.in_zone.target",
        ),
        (
            {"object_type": "Table", "links": {"in_zone": {"target": "Room"}}},
            "unknown_object_type",
            "links.in_zone.target",
        ),
        (
            {
                "object_type": "Table",
                "links": {"in_zone": {"target": "Zone", "on_target_delete": "nullify"}},
            },
            "invalid_choice",
            "links.in_zone.on_target_delete",
        ),
        (
            {"object_type": "Table", "properties": {"seats": {"kind": "seats"}}},
            "invalid_choice",
            "properties.seats.kind",
        ),
    ],
)
def test_schema_extend_refuses(definition: dict[str, Any], key: str, field: str) -> None:
    err = _error(default_schema().extend, definition)
    assert err.translation_key == key
    assert err.field == field
    if key == "schema_conflict":
        assert err.placeholders["object_type"] == definition["object_type"]


def test_build_schema_links_may_point_forward_and_extensions_apply_in_order() -> None:
    schema = build_schema(
        {
            "types": {
                "A": {"links": {"to_b": {"target": "B"}}},
                "B": {"properties": {"x": {"kind": "integer"}}},
            }
        }
    )
    assert schema.link_type("A", "to_b").targets == ("B",)
    assert schema.object_type("A").properties == {}
    extended = schema_with_extensions(
        [
            {"object_type": "Table", "properties": {"seats": {"kind": "integer"}}},
            {"object_type": "Table", "links": {"in_zone": {"target": "Zone"}}},
        ]
    )
    assert set(extended.object_type("Table").links) == {"in_zone"}
    assert schema_with_extensions([]) is default_schema()


def test_every_choice_of_the_default_schema_is_text() -> None:
    """YAML reads a bare off, on, yes or no as a boolean: the equipment's "off" was the choice
    "False" until the schema's definitions were checked whole."""
    status = default_schema().object_type("Equipment").properties["status"]
    assert status.choices == ("ok", "maintenance_due", "broken", "off")
