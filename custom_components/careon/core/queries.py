"""Reading the store: the query service (objects by type, filter and link traversal) and the
snapshot the entities show."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    exists,
    func,
    literal_column,
    null,
    or_,
    select,
)

from .errors import ValidationError
from .fields import Field, to_iso, validate_fields
from .ontology import Ontology, StoreObject, object_from_row
from .schema import Schema
from .tables import ORDER_PLACED_AT_SQL, links_table, objects_table

SALE_STATUSES = ("paid", "completed")
# payments that are money received: they should pay an order (a `pays` link)
PAYMENT_RECEIVED = ("approved", "partial_cancelled")
# Purchase orders still waiting for (the rest of) their delivery
PURCHASE_ORDER_OPEN = ("draft", "requested", "ordered", "partially_received")
MAINTENANCE_TASK_OPEN = ("open",)
ALARM_UNRESOLVED = ("active", "acknowledged")
# How long received or cancelled purchase orders and finished tasks stay in the snapshot
RECENT = timedelta(days=7)
# Always read whole
SNAPSHOT_TYPES = ("Store", "Product", "InventoryItem", "Equipment")
FILTER_OPS = frozenset({"eq", "ne", "lt", "lte", "gt", "gte", "in", "contains"})
QUERY_PARAMS = {
    "object_type": Field(kind="string"),
    "object_ids": Field(kind="list"),
    "filters": Field(kind="mapping"),
    "follow": Field(kind="list"),
    "limit": Field(kind="integer", default=100, min=1, max=1000),
}
# `follow`: at most this many hops in a path, and this many objects in one answer, the objects
# reached along links included (one object reached along two paths counts twice: it is there
# twice). Each hop can multiply the answer; without a cap three hops from a product over its
# orders' lines give hundreds of megabytes.
MAX_FOLLOW_HOPS = 3
MAX_QUERY_OBJECTS = 2000


@dataclass(frozen=True, kw_only=True)
class StoreSnapshot:
    """What the store's entities show, read in one transaction."""

    store: StoreObject | None
    products: Mapping[str, StoreObject]
    inventory: Mapping[str, StoreObject]
    orders_today: int
    revenue_today: int
    equipment: Mapping[str, StoreObject]
    # open ones, and those received or cancelled in the last seven days
    purchase_orders: Mapping[str, StoreObject]
    # open ones, and those done or cancelled in the last seven days
    maintenance_tasks: Mapping[str, StoreObject]
    # unresolved ones
    alarms: Mapping[str, StoreObject]
    # purchase order id -> its Supplier
    purchase_order_supplier: Mapping[str, StoreObject]
    # maintenance task id -> its Equipment
    task_equipment: Mapping[str, StoreObject]
    # alarm id -> what it is about (Equipment, Zone or InventoryItem)
    alarm_subject: Mapping[str, StoreObject]
    # approved (or partly cancelled) payments no order is linked to yet (see reconcile)
    unreconciled_payments: int

    @property
    def average_ticket(self) -> int | None:
        """Revenue per order today (None before the first order)."""
        return round(self.revenue_today / self.orders_today) if self.orders_today else None

    @property
    def low_stock(self) -> list[StoreObject]:
        """Items at or under their reorder point."""
        from .actions.stock import is_low  # noqa: PLC0415 - actions import the engine

        return [item for item in self.inventory.values() if is_low(item)]

    @property
    def open_purchase_orders(self) -> list[StoreObject]:
        """Purchase orders waiting for (the rest of) their delivery."""
        return [
            po for po in self.purchase_orders.values() if po.get("status") in PURCHASE_ORDER_OPEN
        ]

    def open_tasks(self, equipment_id: str | None = None) -> list[StoreObject]:
        """Open maintenance tasks (of one equipment when given)."""
        return [
            task
            for task in self.maintenance_tasks.values()
            if task.get("status") in MAINTENANCE_TASK_OPEN
            and (
                equipment_id is None
                or (
                    (equipment := self.task_equipment.get(task.id)) is not None
                    and equipment.id == equipment_id
                )
            )
        ]

    def next_maintenance(self, equipment_id: str) -> StoreObject | None:
        """The open task of an equipment that is due first (by date)."""
        dated = [task for task in self.open_tasks(equipment_id) if task.get("due")]
        if not dated:
            return None
        return min(dated, key=lambda task: (parse_iso(task.get("due")), task.name))

    def due_tasks(self, equipment: StoreObject, now: datetime) -> list[StoreObject]:
        """The open tasks of an equipment that are due: announced, past their date, or past
        their runtime hours."""
        from .actions.maintenance import is_due  # noqa: PLC0415 - actions import the engine

        runtime = equipment.get("runtime_hours", 0)
        return [
            task
            for task in self.open_tasks(equipment.id)
            if task.get("due_announced_at") or is_due(task.properties, runtime, now)
        ]


def parse_iso(value: str) -> datetime:
    """A stored datetime (ISO 8601, UTC)."""
    return datetime.fromisoformat(value)


def day_bounds(now: datetime, tz: tzinfo, day_start_hour: int = 0) -> tuple[str, str]:
    """The store's business day around ``now``, as stored (UTC ISO) strings.

    A bar open until 2 a.m. starts its business day at, say, 5: sales at 1 a.m. count for
    the day before.
    """
    local = now.astimezone(tz) - timedelta(hours=day_start_hour)
    start = datetime.combine(local.date(), time(hour=day_start_hour), tzinfo=tz)
    return to_iso(start), to_iso(start + timedelta(days=1))


async def store_snapshot(
    ontology: Ontology, *, tz: tzinfo, now: datetime, day_start_hour: int = 0
) -> StoreSnapshot:
    """Products, stock, equipment, the business day's sales and the work in progress:
    purchase orders, maintenance tasks and alarms."""
    objects = objects_table.c
    status = objects.properties["status"].as_string()
    # updated_at is naive UTC, as stored
    recent = now.astimezone(UTC).replace(tzinfo=None) - RECENT
    rows = await ontology.conn.execute(
        select(objects_table).where(
            or_(
                objects.type.in_(SNAPSHOT_TYPES),
                and_(
                    objects.type == "PurchaseOrder",
                    or_(status.in_(PURCHASE_ORDER_OPEN), objects.updated_at >= recent),
                ),
                and_(
                    objects.type == "MaintenanceTask",
                    or_(status.in_(MAINTENANCE_TASK_OPEN), objects.updated_at >= recent),
                ),
                and_(objects.type == "Alarm", status.in_(ALARM_UNRESOLVED)),
            )
        )
    )
    by_type: dict[str, dict[str, StoreObject]] = {
        object_type: {}
        for object_type in (*SNAPSHOT_TYPES, "PurchaseOrder", "MaintenanceTask", "Alarm")
    }
    for row in rows:
        by_type[row.type][row.id] = object_from_row(row)
    # what the work in progress is for: one query per link type
    linked: dict[str, dict[str, StoreObject]] = {}
    for link_type, sources in (
        ("for", [*by_type["PurchaseOrder"], *by_type["MaintenanceTask"]]),
        ("about", list(by_type["Alarm"])),
    ):
        targets = linked.setdefault(link_type, {})
        for link, target in await ontology.linked(sources, link_type):
            targets.setdefault(link.source_id, target)
    start, end = day_bounds(now, tz, day_start_hour)
    placed_at: ColumnElement[str] = literal_column(ORDER_PLACED_AT_SQL[ontology.conn.dialect.name])
    # the day's orders and the count of unreconciled payments, in one round trip
    day_orders = select(
        literal_column("'order'").label("row_kind"),
        objects.properties["status"].as_string().label("status"),
        objects.properties["total"].as_integer().label("total"),
    ).where(objects.type == "Order", placed_at >= start, placed_at < end)
    unreconciled: Select[Any] = select(
        literal_column("'unreconciled'"),
        null(),
        func.count(),
    ).where(
        objects.type == "Payment",
        objects.properties["status"].as_string().in_(PAYMENT_RECEIVED),
        ~exists().where(links_table.c.source_id == objects.id, links_table.c.link_type == "pays"),
    )
    rows = await ontology.conn.execute(day_orders.union_all(unreconciled))
    count = revenue = unreconciled_payments = 0
    for row_kind, status, total in rows:
        if row_kind == "unreconciled":
            unreconciled_payments = int(total or 0)
        elif status in SALE_STATUSES:
            count += 1
            revenue += total or 0
    store = next(iter(by_type["Store"].values()), None)
    return StoreSnapshot(
        store=store,
        products=by_type["Product"],
        inventory=by_type["InventoryItem"],
        orders_today=count,
        revenue_today=revenue,
        equipment=by_type["Equipment"],
        purchase_orders=by_type["PurchaseOrder"],
        maintenance_tasks=by_type["MaintenanceTask"],
        alarms=by_type["Alarm"],
        purchase_order_supplier={
            po_id: supplier
            for po_id, supplier in linked["for"].items()
            if po_id in by_type["PurchaseOrder"]
        },
        task_equipment={
            task_id: equipment
            for task_id, equipment in linked["for"].items()
            if task_id in by_type["MaintenanceTask"]
        },
        alarm_subject=linked["about"],
        unreconciled_payments=unreconciled_payments,
    )


async def hourly_orders(
    ontology: Ontology, *, start: datetime, end: datetime
) -> dict[datetime, int]:
    """Orders placed in ``[start, end)`` per UTC hour (aware UTC hour starts; every hour of the
    period is present, 0 when it had none). Cancelled orders were no demand and are left out;
    refunded ones were. One grouped query: the database counts, nothing is loaded per order."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be aware datetimes")
    first = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    counts: dict[datetime, int] = {}
    hour = first
    while hour < end:
        counts[hour] = 0
        hour += timedelta(hours=1)
    if not counts:
        return counts
    objects = objects_table.c
    placed_at: ColumnElement[str] = literal_column(ORDER_PLACED_AT_SQL[ontology.conn.dialect.name])
    # stored as to_iso text (UTC, "YYYY-MM-DDTHH:..."): the first 13 characters are the hour
    bucket = func.substr(placed_at, 1, 13)
    rows = await ontology.conn.execute(
        select(bucket, func.count())
        .where(
            objects.type == "Order",
            placed_at >= to_iso(start),
            placed_at < to_iso(end),
            objects.properties["status"].as_string() != "cancelled",
        )
        .group_by(bucket)
    )
    for text, count in rows:
        hour = datetime.fromisoformat(f"{text}:00+00:00")
        counts[hour] = counts.get(hour, 0) + int(count)
    return counts


async def query_objects(
    ontology: Ontology, schema: Schema, params: Mapping[str, Any], *, personal: bool = True
) -> list[dict[str, Any]]:
    """Objects by type and/or id, filtered on properties, with linked objects attached.

    ``follow`` names outgoing link types, dotted for several hops (``requires.supplied_by``);
    a leading ``~`` follows a link backwards (``~contains``: the orders that contain a product).
    Without ``personal`` (a caller who is no administrator) the schema's personal properties
    (wages, phone numbers, notes) are left out of every object, linked ones included, and a
    filter on one is refused: comparing it would tell its value.
    """
    clean = validate_fields(QUERY_PARAMS, params)
    object_type = clean.get("object_type")
    if object_type is None and not clean.get("object_ids"):
        raise ValidationError("missing_field", field="object_type")
    if object_type is not None:
        schema.object_type(object_type)
    filters = _parse_filters(clean.get("filters") or {}, schema, object_type)
    if not personal:
        _refuse_personal_filters(filters, schema, object_type)
    follow = _parse_follow(clean.get("follow") or [], schema, object_type)
    if clean.get("object_ids"):
        found = await ontology.get_many(str(i) for i in clean["object_ids"])
        objects = sorted(found.values(), key=lambda o: (o.name, o.id))
        if object_type is not None:
            objects = [o for o in objects if o.type == object_type]
    else:
        objects = await ontology.by_type(object_type or "")
    matched = [
        o for o in objects if all(_matches(o, name, op, value) for name, op, value in filters)
    ]
    matched = matched[: clean["limit"]]
    result = [o.as_dict() for o in matched]
    budget = _Budget(MAX_QUERY_OBJECTS)
    budget.take(len(result))
    await _attach_links(ontology, result, follow, budget)
    if not personal:
        _drop_personal(result, schema)
    return result


def _refuse_personal_filters(
    filters: Sequence[tuple[str, str, Any]], schema: Schema, object_type: str | None
) -> None:
    types = [schema.types[object_type]] if object_type else list(schema.types.values())
    for name, _, _ in filters:
        if any(name in object_type.personal_properties for object_type in types):
            raise ValidationError("personal_property", field=f"filters.{name}")


def _drop_personal(objects: list[dict[str, Any]], schema: Schema) -> None:
    """Leave the personal properties out of these objects and of those linked to them."""
    for obj in objects:
        if (object_type := schema.types.get(obj["type"])) is not None:
            hidden = object_type.personal_properties
            obj["properties"] = {
                name: value for name, value in obj["properties"].items() if name not in hidden
            }
        for linked in obj.get("links", {}).values():
            _drop_personal(linked, schema)


@dataclass
class _Budget:
    """How many more objects the answer may hold."""

    left: int

    def take(self, count: int) -> None:
        if count > self.left:
            raise ValidationError("query_too_large", field="follow", limit=MAX_QUERY_OBJECTS)
        self.left -= count


def _parse_filters(
    raw: Mapping[str, Any], schema: Schema, object_type: str | None
) -> list[tuple[str, str, Any]]:
    known = set(schema.types[object_type].properties) if object_type else None
    parsed = []
    for name, condition in raw.items():
        if name not in ("name", "id") and known is not None and name not in known:
            raise ValidationError("unknown_field", field=f"filters.{name}")
        if isinstance(condition, Mapping):
            for op, value in condition.items():
                if op not in FILTER_OPS:
                    raise ValidationError(
                        "invalid_choice",
                        field=f"filters.{name}",
                        value=op,
                        choices=", ".join(sorted(FILTER_OPS)),
                    )
                parsed.append((name, op, value))
        else:
            parsed.append((name, "eq", condition))
    return parsed


def _matches(obj: StoreObject, name: str, op: str, expected: Any) -> bool:
    actual = getattr(obj, name) if name in ("name", "id") else obj.properties.get(name)
    try:
        match op:
            case "eq":
                return bool(actual == expected)
            case "ne":
                return bool(actual != expected)
            case "in":
                return actual in expected
            case "contains":
                return expected in actual if actual is not None else False
            case _:
                if actual is None:
                    return False
                return bool(
                    {
                        "lt": actual < expected,
                        "lte": actual <= expected,
                        "gt": actual > expected,
                        "gte": actual >= expected,
                    }[op]
                )
    except TypeError:
        return False


def _parse_follow(paths: Sequence[Any], schema: Schema, object_type: str | None) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path in paths:
        if not isinstance(path, str) or not path:
            raise ValidationError("invalid_type", field="follow", expected="link type names")
        steps = path.split(".")
        if len(steps) > MAX_FOLLOW_HOPS:
            raise ValidationError(
                "out_of_range",
                field="follow",
                value=f"{path} ({len(steps)})",
                limit=f"<= {MAX_FOLLOW_HOPS}",
            )
        node = tree
        for step in steps:
            link_name = step.removeprefix("~")
            if not any(link_name in t.links for t in schema.types.values()):
                raise ValidationError(
                    "unknown_link_type",
                    link_type=link_name,
                    object_type=object_type or "*",
                    field="follow",
                )
            node = node.setdefault(step, {})
    return tree


async def _attach_links(
    ontology: Ontology, objects: list[dict[str, Any]], tree: Mapping[str, Any], budget: _Budget
) -> None:
    """Attach the links of TREE's steps to OBJECTS, reading no more than BUDGET allows."""
    if not tree or not objects:
        return
    # One object can be reached along several paths (two products need the same beans):
    # every copy of it gets its links.
    by_id: dict[str, list[dict[str, Any]]] = {}
    for obj in objects:
        by_id.setdefault(obj["id"], []).append(obj)
    for step, subtree in tree.items():
        attached: list[dict[str, Any]] = []
        for obj in objects:
            obj.setdefault("links", {})[step] = []
        # one link more than the budget: enough to know it is exceeded, never the whole table
        read = budget.left + 1
        if step.startswith("~"):
            links = await ontology.links_to(by_id, step[1:], limit=read)
            budget.take(len(links))
            sources = await ontology.get_many(link.source_id for link in links)
            pairs = [(link.target_id, link.properties, sources[link.source_id]) for link in links]
        else:
            linked = await ontology.linked(by_id, step, limit=read)
            budget.take(len(linked))
            pairs = [(link.source_id, link.properties, target) for link, target in linked]
        for owner_id, link_properties, other in pairs:
            copies = by_id[owner_id]
            budget.take(len(copies) - 1)  # the first copy was counted with its link
            for owner in copies:
                entry = {**other.as_dict(), "link": dict(link_properties)}
                owner["links"][step].append(entry)
                attached.append(entry)
        await _attach_links(ontology, attached, subtree, budget)
