"""Equipment care: maintenance plans and their tasks, runtime hours, and due announcements.

An Equipment carries its plan (every ``maintenance_interval_days``, every
``maintenance_runtime_hours`` of running); the plan has at most one open MaintenanceTask per
reason (time, usage). A task is announced due exactly once (``due_announced_at``), by the
action that finds it due: ``record_runtime`` when the hours cross the threshold,
``check_maintenance`` when time passes, or whichever action creates or moves a task that is
already due.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
import math
from typing import Any

from sqlalchemy import select

from ..engine import ActionContext, ActionType
from ..errors import ValidationError
from ..fields import Field, normalise_number, to_iso
from ..ontology import Link, Ontology, StoreObject, new_object_id, object_from_row
from ..tables import objects_table
from .common import OBJECT_ID, OPTIONAL_OBJECT_ID

EQUIPMENT = "Equipment"
TASK = "MaintenanceTask"
FOR = "for"
ASSIGNED_TO = "assigned_to"
ASSIGNEES = ("Staff", "Supplier")
OPEN, DONE, CANCELLED = "open", "done", "cancelled"
TIME, USAGE, ALARM, MANUAL = "time", "usage", "alarm", "manual"
STATUS_OK, STATUS_DUE = "ok", "maintenance_due"
MAINTENANCE_DUE = "maintenance_due"
MAINTENANCE_COMPLETED = "maintenance_completed"
MAINTENANCE_CANCELLED = "maintenance_cancelled"

# reason -> (the Equipment property holding the plan, the one naming its task)
PLANS: Mapping[str, tuple[str, str]] = {
    TIME: ("maintenance_interval_days", "maintenance_task"),
    USAGE: ("maintenance_runtime_hours", "maintenance_runtime_task"),
}


# --- pure helpers (also used by the Home Assistant layer) -----------------------------------


def parse_time(value: Any) -> datetime | None:
    """A stored (ISO, UTC) datetime, or None."""
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def is_due(task: Mapping[str, Any], runtime_hours: float | None, now: datetime) -> bool:
    """True when an open, not yet announced task is due: its time has come, or its
    equipment has run the hours it waits for."""
    if task.get("status", OPEN) != OPEN or task.get("due_announced_at"):
        return False
    due = parse_time(task.get("due"))
    if due is not None and due <= now:
        return True
    threshold = task.get("due_runtime_hours")
    return threshold is not None and runtime_hours is not None and runtime_hours >= threshold


def missing_plans(equipment: Mapping[str, Any], open_reasons: Iterable[str]) -> list[str]:
    """The reasons (time, usage) whose plan the equipment has but no open task for."""
    have = set(open_reasons)
    return [
        reason for reason, (plan, _) in PLANS.items() if equipment.get(plan) and reason not in have
    ]


def next_maintenance_check(
    equipment: Iterable[StoreObject],
    tasks: Iterable[tuple[StoreObject, str | None]],
    now: datetime,
) -> datetime | None:
    """When ``check_maintenance`` next has work: ``now`` when something is pending (a plan
    without its open task, a task due but not announced), else the earliest due of the open
    tasks not yet announced; None when nothing is scheduled.

    ``tasks`` pairs each MaintenanceTask with the id of the Equipment it is for (None when it
    is for none); tasks that are not open are ignored. ``now`` is an aware datetime.
    """
    machines = {eq.id: eq for eq in equipment}
    reasons: dict[str, set[str]] = {eq_id: set() for eq_id in machines}
    earliest: datetime | None = None
    for task, equipment_id in tasks:
        if task.get("status", OPEN) != OPEN:
            continue
        machine = machines.get(equipment_id) if equipment_id else None
        if machine is not None:
            reasons[machine.id].add(task.get("reason"))
        if task.get("due_announced_at"):
            continue
        runtime = machine.get("runtime_hours", 0) if machine is not None else None
        if is_due(task.properties, runtime, now):
            return now
        due = parse_time(task.get("due"))
        if due is not None and (earliest is None or due < earliest):
            earliest = due
    if any(missing_plans(eq.properties, reasons[eq.id]) for eq in machines.values()):
        return now
    return earliest


# --- writes -----------------------------------------------------------------------------------


@dataclass
class PendingWrites:
    """Property changes gathered during an action, written once per object at the end."""

    objects: dict[str, StoreObject] = field(default_factory=dict)
    properties: dict[str, dict[str, Any]] = field(default_factory=dict)

    def props(self, obj: StoreObject) -> dict[str, Any]:
        """The object's properties as they will be written (change them in place)."""
        if obj.id not in self.properties:
            self.objects[obj.id] = obj
            self.properties[obj.id] = dict(obj.properties)
        return self.properties[obj.id]

    def current(self, obj: StoreObject) -> Mapping[str, Any]:
        """The object's properties with the pending changes applied."""
        return self.properties.get(obj.id, obj.properties)

    async def flush(self, ontology: Ontology, *, names: Mapping[str, str] | None = None) -> None:
        """Write every changed object (a property set to None is removed)."""
        updates = []
        for object_id, props in self.properties.items():
            obj = self.objects[object_id]
            clean = {k: v for k, v in props.items() if v is not None}
            if clean != dict(obj.properties) or (names or {}).get(object_id, obj.name) != obj.name:
                updates.append((obj, clean))
        await ontology.update_many(updates, names=names)


async def open_tasks(
    ontology: Ontology, equipment_ids: Iterable[str] | None = None
) -> list[tuple[StoreObject, str | None]]:
    """Open MaintenanceTasks (of some equipment, or all) with the equipment each is for."""
    if equipment_ids is None:
        rows = await ontology.conn.execute(
            select(objects_table).where(
                objects_table.c.type == TASK,
                objects_table.c.properties["status"].as_string() == OPEN,
            )
        )
        tasks = [object_from_row(row) for row in rows]
    else:
        tasks = [
            task
            for task in await ontology.linking(equipment_ids, FOR)
            if task.type == TASK and task.get("status", OPEN) == OPEN
        ]
    equipment_of = {
        link.source_id: link.target_id
        for link in await ontology.links_from([task.id for task in tasks], FOR)
    }
    pairs = [(task, equipment_of.get(task.id)) for task in tasks]
    return sorted(pairs, key=lambda pair: (pair[1] or "", pair[0].created_at, pair[0].id))


def task_summary(
    task_id: str, name: str, props: Mapping[str, Any], equipment_id: str | None
) -> dict[str, Any]:
    """How results describe a task."""
    return {
        "task_id": task_id,
        "name": name,
        "reason": props.get("reason"),
        "status": props.get("status", OPEN),
        "equipment_id": equipment_id,
        "due": props.get("due"),
        "due_runtime_hours": props.get("due_runtime_hours"),
    }


def announce_if_due(
    ctx: ActionContext,
    task_id: str,
    name: str,
    props: dict[str, Any],
    equipment: StoreObject | None,
    equipment_props: dict[str, Any] | None,
) -> bool:
    """Announce a task due (once): mark it, flag its equipment, emit ``maintenance_due``."""
    runtime = equipment_props.get("runtime_hours", 0) if equipment_props is not None else None
    if not is_due(props, runtime, ctx.now):
        return False
    props["due_announced_at"] = to_iso(ctx.now)
    if equipment_props is not None and equipment_props.get("status", STATUS_OK) == STATUS_OK:
        # a broken or switched-off machine keeps that status
        equipment_props["status"] = STATUS_DUE
    ctx.emit(
        MAINTENANCE_DUE,
        task_id=task_id,
        name=name,
        equipment_id=equipment.id if equipment is not None else None,
        equipment=equipment.name if equipment is not None else None,
        reason=props.get("reason"),
        due=props.get("due"),
        due_runtime_hours=props.get("due_runtime_hours"),
        runtime_hours=runtime,
    )
    return True


def settle_status(equipment_props: dict[str, Any], tasks: Iterable[Mapping[str, Any]]) -> None:
    """Back to ok once none of the equipment's tasks (their properties, as they will be
    written) is open and announced due any more."""
    if equipment_props.get("status") != STATUS_DUE:
        return
    if not any(t.get("status", OPEN) == OPEN and t.get("due_announced_at") for t in tasks):
        equipment_props["status"] = STATUS_OK


def plan_task(
    reason: str, equipment_props: Mapping[str, Any], now: datetime, *, due: datetime | None = None
) -> dict[str, Any]:
    """The properties of a plan's next task: time: due an interval after the last
    maintenance (or now); usage: due at the plan's runtime hours."""
    if reason == TIME:
        if due is None:
            base = parse_time(equipment_props.get("last_maintenance")) or now
            due = base + timedelta(days=equipment_props["maintenance_interval_days"])
        return {"reason": TIME, "status": OPEN, "due": to_iso(due)}
    return {
        "reason": USAGE,
        "status": OPEN,
        "due_runtime_hours": equipment_props["maintenance_runtime_hours"],
    }


def _rebased(
    reason: str, task: Mapping[str, Any], previous: float | None, value: float
) -> dict[str, Any]:
    """Where a plan's open task stands once the plan is saved again (``value`` its new
    interval or runtime hours, ``previous`` the old one).

    The same plan keeps the task's due as it is (moved by hand or by a skip, announced or
    not); a changed plan moves it by the difference, from the same origin (old due - old
    interval + new interval). Nothing when the task has no due to keep or no old plan.
    """
    key = "due" if reason == TIME else "due_runtime_hours"
    if not previous or task.get(key) is None:
        return {}
    if value == previous:
        return {key: task[key]}
    if reason == TIME:
        old_due = parse_time(task.get("due"))
        if old_due is None:
            return {}
        return {"due": to_iso(old_due + timedelta(days=value - previous))}
    return {key: normalise_number(task[key] + value - previous)}


def plan_task_name(reason: str, equipment: StoreObject, equipment_props: Mapping[str, Any]) -> str:
    """What the plan's task is called (the equipment's name when the plan names none)."""
    name: str = equipment_props.get(PLANS[reason][1]) or equipment.name
    return name


async def create_task(
    ctx: ActionContext,
    name: str,
    props: dict[str, Any],
    equipment: StoreObject | None,
    equipment_props: dict[str, Any] | None,
    *,
    assignee_id: str | None = None,
) -> tuple[str, bool]:
    """Insert a new MaintenanceTask with its links, announced first when it is due already
    (so it is written announced); its id, and whether it was announced."""
    task_id = new_object_id(TASK)
    announced = announce_if_due(ctx, task_id, name, props, equipment, equipment_props)
    await ctx.ontology.create(
        TASK, name, {k: v for k, v in props.items() if v is not None}, object_id=task_id
    )
    links = []
    if equipment is not None:
        links.append(Link(source_id=task_id, link_type=FOR, target_id=equipment.id, properties={}))
    if assignee_id is not None:
        links.append(
            Link(source_id=task_id, link_type=ASSIGNED_TO, target_id=assignee_id, properties={})
        )
    await ctx.ontology.add_links(links)
    return task_id, announced


async def assign(ctx: ActionContext, task_id: str, assignee_id: str) -> None:
    """Make ``assignee_id`` the task's one assignee."""
    for link in await ctx.ontology.links_from([task_id], ASSIGNED_TO):
        if link.target_id != assignee_id:
            await ctx.ontology.remove_link(task_id, ASSIGNED_TO, link.target_id)
    await ctx.ontology.set_link(
        Link(source_id=task_id, link_type=ASSIGNED_TO, target_id=assignee_id, properties={})
    )


async def _assignee_of(ctx: ActionContext, task_id: str) -> str | None:
    links = await ctx.ontology.links_from([task_id], ASSIGNED_TO)
    return links[0].target_id if links else None


async def _open_task(ctx: ActionContext, task_id: str) -> StoreObject:
    task = await ctx.ontology.require("task", task_id, TASK)
    status = task.get("status", OPEN)
    if status != OPEN:
        raise ValidationError(
            "maintenance_task_status_invalid",
            field="task",
            task=task.name,
            status=status,
            allowed=OPEN,
        )
    return task


async def _equipment_of(ctx: ActionContext, task: StoreObject) -> StoreObject | None:
    linked = await ctx.ontology.linked([task.id], FOR)
    return next((obj for _, obj in linked if obj.type == EQUIPMENT), None)


def _positive(name: str, value: float | None) -> None:
    if value is not None and value <= 0:
        raise ValidationError("out_of_range", field=name, value=value, limit="> 0")


# --- actions ----------------------------------------------------------------------------------


async def schedule_maintenance(ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
    """Set an equipment's maintenance plan and make sure its open tasks exist, or add a
    one-off task.

    ``interval_days`` / ``runtime_hours`` set the plan (``name`` names its task); with
    ``interval_days``, ``due`` is the first due date instead of an interval from the last
    maintenance. ``due`` without ``interval_days`` adds a one-off (manual) task.

    Saving a plan again never loses its open task's place: the same interval (or hours)
    keeps the task's due and its announcement (an overdue task stays overdue), a changed
    one moves the due by the difference.
    """
    ontology = ctx.ontology
    interval, hours = params.get("interval_days"), params.get("runtime_hours")
    due = parse_time(params.get("due"))
    if interval is None and hours is None and due is None:
        raise ValidationError("maintenance_plan_missing", field="interval_days")
    _positive("runtime_hours", hours)
    equipment = None
    if params.get("equipment"):
        equipment = await ontology.require("equipment", params["equipment"], EQUIPMENT)
    elif interval is not None or hours is not None:
        raise ValidationError("missing_field", field="equipment")
    name: str | None = params.get("name")
    if equipment is None and name is None:
        raise ValidationError("missing_field", field="name")
    assignee = None
    if params.get("assigned_to"):
        assignee = await ontology.require("assigned_to", params["assigned_to"], ASSIGNEES)
    notes = params.get("notes")

    writes = PendingWrites()
    names: dict[str, str] = {}
    summaries = []
    created: list[dict[str, Any]] = []
    eq_props = writes.props(equipment) if equipment is not None else None
    existing = await open_tasks(ontology, [equipment.id]) if equipment is not None else []
    plan_values = {TIME: interval, USAGE: hours}
    for reason, value in plan_values.items():
        if value is None or equipment is None or eq_props is None:
            continue
        plan_prop, name_prop = PLANS[reason]
        previous = equipment.get(plan_prop)
        eq_props[plan_prop] = value
        if name is not None:
            eq_props[name_prop] = name
        task_name = plan_task_name(reason, equipment, eq_props)
        current = next((t for t, _ in existing if t.get("reason") == reason), None)
        planned = plan_task(reason, eq_props, ctx.now, due=due if reason == TIME else None)
        if current is not None and not (reason == TIME and due is not None):
            planned.update(_rebased(reason, current.properties, previous, value))
        if notes is not None:
            planned["notes"] = notes
        if current is None:
            task_id, _ = await create_task(
                ctx,
                task_name,
                planned,
                equipment,
                eq_props,
                assignee_id=assignee.id if assignee else None,
            )
            created.append(planned)
            summaries.append(task_summary(task_id, task_name, planned, equipment.id))
            continue
        props = writes.props(current)
        moved = any(props.get(key) != planned.get(key) for key in ("due", "due_runtime_hours"))
        props.update(planned)
        if moved:
            # announced for the old date or threshold: the new one is announced in its turn
            props["due_announced_at"] = None
        names[current.id] = task_name
        if assignee is not None:
            await assign(ctx, current.id, assignee.id)
        summaries.append(task_summary(current.id, task_name, props, equipment.id))
    if due is not None and interval is None:
        task_name = name or (equipment.name if equipment is not None else "")
        props = {"reason": MANUAL, "status": OPEN, "due": to_iso(due), "notes": notes}
        task_id, _ = await create_task(
            ctx,
            task_name,
            props,
            equipment,
            eq_props,
            assignee_id=assignee.id if assignee else None,
        )
        created.append(props)
        summaries.append(
            task_summary(task_id, task_name, props, equipment.id if equipment else None)
        )
    if equipment is not None and eq_props is not None:
        for task, _ in existing:
            if task.id in writes.properties:
                announce_if_due(
                    ctx,
                    task.id,
                    names.get(task.id, task.name),
                    writes.props(task),
                    equipment,
                    eq_props,
                )
        settle_status(eq_props, [*(writes.current(t) for t, _ in existing), *created])
    await writes.flush(ontology, names=names)
    return {"equipment_id": equipment.id if equipment else None, "tasks": summaries}


async def update_maintenance_task(ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
    """Rename an open task, move its due date or change its notes."""
    task = await _open_task(ctx, params["task"])
    writes = PendingWrites()
    props = writes.props(task)
    if params.get("notes") is not None:
        props["notes"] = params["notes"]
    due = parse_time(params.get("due"))
    if due is not None and to_iso(due) != props.get("due"):
        props["due"] = to_iso(due)
        props["due_announced_at"] = None
    name = params.get("name") or task.name
    equipment = await _equipment_of(ctx, task)
    if equipment is not None:
        eq_props = writes.props(equipment)
        announce_if_due(ctx, task.id, name, props, equipment, eq_props)
        others = [t for t, _ in await open_tasks(ctx.ontology, [equipment.id])]
        settle_status(eq_props, [props, *(writes.current(t) for t in others if t.id != task.id)])
    else:
        announce_if_due(ctx, task.id, name, props, None, None)
    await writes.flush(ctx.ontology, names={task.id: name})
    return task_summary(task.id, name, props, equipment.id if equipment else None)


async def _close_task(
    ctx: ActionContext, params: dict[str, Any], *, status: str
) -> tuple[StoreObject, StoreObject | None, dict[str, Any] | None]:
    """Close an open task; for a plan task, open the plan's next one.

    Returns the task, its equipment and the next task's summary.
    """
    ontology = ctx.ontology
    task = await _open_task(ctx, params["task"])
    writes = PendingWrites()
    props = writes.props(task)
    props["status"] = status
    if status == DONE:
        props["completed_at"] = to_iso(ctx.now)
        props["completed_by"] = ctx.actor
    if params.get("notes") is not None:
        props["notes"] = params["notes"]
    reason: str = props["reason"]
    equipment = await _equipment_of(ctx, task)
    following = None
    if equipment is not None:
        eq_props = writes.props(equipment)
        if status == DONE:
            eq_props["last_maintenance"] = to_iso(ctx.now)
            if reason == USAGE:
                eq_props["runtime_hours"] = 0
        others = [t for t, _ in await open_tasks(ontology, [equipment.id]) if t.id != task.id]
        states = [props, *(writes.current(t) for t in others)]
        if (
            reason in PLANS
            and eq_props.get(PLANS[reason][0])
            and not any(t.get("reason") == reason for t in others)
        ):
            planned = plan_task(reason, eq_props, ctx.now)
            if status == CANCELLED:
                planned.update(_skipped(reason, props, eq_props, ctx.now))
            task_name = plan_task_name(reason, equipment, eq_props)
            task_id, _ = await create_task(
                ctx,
                task_name,
                planned,
                equipment,
                eq_props,
                assignee_id=await _assignee_of(ctx, task.id),
            )
            following = task_summary(task_id, task_name, planned, equipment.id)
            states.append(planned)
        settle_status(eq_props, states)
    await writes.flush(ontology)
    return task, equipment, following


def _skipped(
    reason: str, task: Mapping[str, Any], equipment_props: Mapping[str, Any], now: datetime
) -> dict[str, Any]:
    """A cancelled plan task's successor: the plan's next occurrence after it still ahead."""
    if reason == TIME:
        interval = timedelta(days=equipment_props["maintenance_interval_days"])
        due = parse_time(task.get("due")) or now
        steps = 1 if due > now else math.floor((now - due) / interval) + 1
        return {"due": to_iso(due + steps * interval)}
    every = equipment_props["maintenance_runtime_hours"]
    runtime = equipment_props.get("runtime_hours", 0)
    at = task.get("due_runtime_hours", every)
    steps = 1 if at > runtime else math.floor((runtime - at) / every) + 1
    return {"due_runtime_hours": normalise_number(at + steps * every)}


async def complete_maintenance(ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
    """Mark a task done: the equipment's last maintenance is now (a usage task resets its
    runtime hours) and the plan's next task opens."""
    task, equipment, following = await _close_task(ctx, params, status=DONE)
    reason = task.get("reason")
    ctx.emit(
        MAINTENANCE_COMPLETED,
        task_id=task.id,
        name=task.name,
        equipment_id=equipment.id if equipment else None,
        equipment=equipment.name if equipment else None,
        reason=reason,
    )
    return {
        "task_id": task.id,
        "name": task.name,
        "status": DONE,
        "reason": reason,
        "equipment_id": equipment.id if equipment else None,
        "next_task": following,
    }


async def cancel_maintenance(ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
    """Cancel an open task; a plan task is replaced by the plan's next one."""
    task, equipment, following = await _close_task(ctx, params, status=CANCELLED)
    # reminders of this task (on phones, in notifications) can be taken down
    ctx.emit(
        MAINTENANCE_CANCELLED,
        task_id=task.id,
        name=task.name,
        equipment_id=equipment.id if equipment else None,
        equipment=equipment.name if equipment else None,
        reason=task.get("reason"),
        next_task_id=following["task_id"] if following else None,
    )
    return {
        "task_id": task.id,
        "name": task.name,
        "status": CANCELLED,
        "reason": task.get("reason"),
        "equipment_id": equipment.id if equipment else None,
        "next_task": following,
    }


async def record_runtime(ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
    """Add running hours; crossing the runtime plan's threshold announces its task due."""
    ontology = ctx.ontology
    hours = params["hours"]
    _positive("hours", hours)
    equipment = await ontology.require("equipment", params["equipment"], EQUIPMENT)
    writes = PendingWrites()
    eq_props = writes.props(equipment)
    runtime = eq_props.get("runtime_hours", 0)
    eq_props["runtime_hours"] = normalise_number(runtime + hours)
    eq_props["total_runtime_hours"] = normalise_number(
        eq_props.get("total_runtime_hours", runtime) + hours
    )
    tasks = [task for task, _ in await open_tasks(ontology, [equipment.id])]
    announced = []
    if USAGE in missing_plans(eq_props, (t.get("reason") for t in tasks)):
        planned = plan_task(USAGE, eq_props, ctx.now)
        task_name = plan_task_name(USAGE, equipment, eq_props)
        task_id, came_due = await create_task(ctx, task_name, planned, equipment, eq_props)
        if came_due:
            announced.append(task_summary(task_id, task_name, planned, equipment.id))
    for task in tasks:
        if task.get("due_runtime_hours") is None or not is_due(
            task.properties, eq_props["runtime_hours"], ctx.now
        ):
            continue
        props = writes.props(task)
        announce_if_due(ctx, task.id, task.name, props, equipment, eq_props)
        announced.append(task_summary(task.id, task.name, props, equipment.id))
    await writes.flush(ontology)
    return {
        "equipment_id": equipment.id,
        "runtime_hours": eq_props["runtime_hours"],
        "total_runtime_hours": eq_props["total_runtime_hours"],
        "due": announced,
    }


async def check_maintenance(ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
    """Open every plan's missing task and announce every task that has come due."""
    ontology = ctx.ontology
    machines = {eq.id: eq for eq in await ontology.by_type(EQUIPMENT)}
    tasks = await open_tasks(ontology)
    reasons: dict[str, list[str]] = {eq_id: [] for eq_id in machines}
    for task, equipment_id in tasks:
        if equipment_id in reasons:
            reasons[equipment_id].append(task.get("reason"))
    writes = PendingWrites()
    created, announced = [], []
    for equipment in machines.values():
        for reason in missing_plans(equipment.properties, reasons[equipment.id]):
            eq_props = writes.props(equipment)
            planned = plan_task(reason, eq_props, ctx.now)
            task_name = plan_task_name(reason, equipment, eq_props)
            task_id, came_due = await create_task(ctx, task_name, planned, equipment, eq_props)
            summary = task_summary(task_id, task_name, planned, equipment.id)
            if came_due:
                announced.append(summary)
            created.append(summary)
    for task, equipment_id in tasks:
        machine = machines.get(equipment_id) if equipment_id else None
        machine_props = writes.props(machine) if machine is not None else None
        runtime = machine_props.get("runtime_hours", 0) if machine_props is not None else None
        if not is_due(task.properties, runtime, ctx.now):
            continue
        props = writes.props(task)
        announce_if_due(ctx, task.id, task.name, props, machine, machine_props)
        announced.append(task_summary(task.id, task.name, props, equipment_id))
    await writes.flush(ontology)
    return {"created": created, "due": announced}


TASK_NAME = Field(kind="string")

MAINTENANCE_ACTIONS = (
    ActionType(
        name="schedule_maintenance",
        params={
            "equipment": OPTIONAL_OBJECT_ID,
            "name": TASK_NAME,
            "interval_days": Field(kind="integer", min=1),
            "runtime_hours": Field(kind="number"),
            "due": Field(kind="datetime"),
            "assigned_to": OPTIONAL_OBJECT_ID,
            "notes": Field(kind="string"),
        },
        apply=schedule_maintenance,
    ),
    ActionType(
        name="update_maintenance_task",
        params={
            "task": OBJECT_ID,
            "name": TASK_NAME,
            "due": Field(kind="datetime"),
            "notes": Field(kind="string"),
        },
        apply=update_maintenance_task,
    ),
    ActionType(
        name="complete_maintenance",
        params={"task": OBJECT_ID, "notes": Field(kind="string")},
        apply=complete_maintenance,
    ),
    ActionType(name="cancel_maintenance", params={"task": OBJECT_ID}, apply=cancel_maintenance),
    ActionType(
        name="record_runtime",
        params={"equipment": OBJECT_ID, "hours": Field(kind="number", required=True)},
        apply=record_runtime,
    ),
    ActionType(name="check_maintenance", params={}, apply=check_maintenance),
)
