"""Every value is bounded before it reaches the database: the inputs that used to escape the
translated errors (integers beyond 64 bits, dates at year 1 or 9999, texts with a NUL or a lone
surrogate, names longer than their column, mappings nested hundreds deep) are refused alike on
SQLite and PostgreSQL, naming the parameter, and nothing is written."""

from __future__ import annotations

from typing import Any

import pytest

from custom_components.careon.core import ActionEngine, ValidationError
from custom_components.careon.core.fields import MAX_DEPTH, MAX_MAGNITUDE


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"open": "08:00"}
    for _ in range(depth):
        value = {"inner": value}
    return value


LATTE = "product.latte_hot"
# (action, parameters, reason, the error's key, the parameter it names)
REFUSED: list[tuple[str, dict[str, Any], str | None, str, str]] = [
    (
        "place_order",
        {"lines": [{"product": LATTE, "qty": 2e19}]},
        None,
        "out_of_range",
        "lines[0].qty",
    ),
    (
        "place_order",
        {"lines": [{"product": LATTE, "qty": 10**400}]},
        None,
        "out_of_range",
        "lines[0].qty",
    ),
    (
        "place_order",
        {"lines": [{"product": LATTE, "qty": 1}], "total": MAX_MAGNITUDE + 1},
        None,
        "out_of_range",
        "total",
    ),
    (
        "create_object",
        {"object_type": "Zone", "name": "홀" * 201, "properties": {"kind": "dining"}},
        None,
        "out_of_range",
        "name",
    ),
    (
        "create_object",
        {"object_type": "Zone", "key": "k" * 130, "name": "홀", "properties": {"kind": "dining"}},
        None,
        "out_of_range",
        "id",
    ),
    (
        "create_object",
        {"object_type": "Zone", "name": "홀\x00", "properties": {"kind": "dining"}},
        None,
        "invalid_type",
        "name",
    ),
    (
        "create_object",
        {"object_type": "Zone", "name": "홀\ud800", "properties": {"kind": "dining"}},
        None,
        "invalid_type",
        "name",
    ),
    (
        "create_object",
        {"object_type": "Zone", "name": "홀", "properties": {"kind": "dining", "capacity": 10**30}},
        None,
        "out_of_range",
        "properties.capacity",
    ),
    (
        "update_object",
        {"object_id": "store.store", "properties": {"opening_hours": _nested(300)}},
        None,
        "out_of_range",
        "properties",
    ),
    (
        "update_object",
        {"object_id": "store.store", "properties": {"opening_hours": {"mon": float("nan")}}},
        None,
        "invalid_type",
        "properties.opening_hours.mon",
    ),
    (
        "schedule_maintenance",
        {"equipment": "equipment.grinder", "name": "세척", "due": "0001-01-01T00:00:00"},
        None,
        "out_of_range",
        "due",
    ),
    (
        "schedule_maintenance",
        {"equipment": "equipment.grinder", "name": "세척", "due": "9999-12-31T23:59:59"},
        None,
        "out_of_range",
        "due",
    ),
    (
        "reconcile",
        {"start": "0001-01-01T00:00:00", "end": "2025-03-01T00:00:00"},
        None,
        "out_of_range",
        "start",
    ),
    ("place_order", {"lines": [{"product": LATTE}]}, "왜" * 501, "out_of_range", "reason"),
]


@pytest.mark.parametrize(
    ("action", "params", "reason", "key", "field"),
    REFUSED,
    ids=[f"{row[0]}-{row[4]}-{index}" for index, row in enumerate(REFUSED)],
)
async def test_out_of_bounds_is_refused_alike(
    cafe: ActionEngine,
    dump,
    act,
    action: str,
    params: dict[str, Any],
    reason: str | None,
    key: str,
    field: str,
) -> None:
    before = await dump(cafe)
    with pytest.raises(ValidationError) as info:
        await act(cafe, action, why=reason, **params)
    assert (info.value.translation_key, info.value.field) == (key, field)
    assert await dump(cafe) == before


async def test_values_at_the_bounds_are_taken(cafe: ActionEngine, act, get) -> None:
    """The bounds leave room for every real value: a name of 200 characters, a mapping nested
    nearly MAX_DEPTH deep (the parameter holding it counts), 2199's dates."""
    created = await act(
        cafe,
        "create_object",
        object_type="Zone",
        name="홀" * 200,
        properties={"kind": "dining", "capacity": MAX_MAGNITUDE},
    )
    zone = await get(cafe, created.result["object_id"])
    assert zone.name == "홀" * 200
    await act(
        cafe,
        "update_object",
        object_id="store.store",
        properties={"opening_hours": _nested(MAX_DEPTH - 3)},
    )
    await act(
        cafe,
        "schedule_maintenance",
        equipment="equipment.grinder",
        name="세척",
        due="2199-12-31T00:00:00",
    )
