"""Alarms as objects: raised by a rule or a person, acknowledged, resolved or escalated.

One unresolved alarm per kind and subject (or entity, when it is about no object): raising it
again returns the one already there. Every change is announced as an ``alarm`` event whose
``phase`` says what happened (raised, acknowledged, resolved, escalated).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ..engine import ActionContext, ActionType
from ..errors import ValidationError
from ..fields import Field, to_iso
from ..ontology import Link, StoreObject, new_object_id, object_from_row
from ..queries import ALARM_UNRESOLVED
from ..tables import objects_table
from .common import OBJECT_ID, OPTIONAL_OBJECT_ID
from .maintenance import (
    ALARM as ALARM_REASON,
    ASSIGNEES,
    EQUIPMENT,
    OPEN,
    PendingWrites,
    assign,
    create_task,
    open_tasks,
)

ALARM = "Alarm"
ABOUT = "about"
SUBJECTS = ("Equipment", "Zone", "InventoryItem")
SEVERITIES = ("info", "warning", "critical")
ACTIVE, ACKNOWLEDGED, RESOLVED = "active", "acknowledged", "resolved"
ALARM_EVENT = "alarm"


async def _subject_of(ctx: ActionContext, alarm: StoreObject) -> StoreObject | None:
    linked = await ctx.ontology.linked([alarm.id], ABOUT)
    return linked[0][1] if linked else None


def _emit(
    ctx: ActionContext,
    alarm_id: str,
    name: str,
    props: dict[str, Any],
    subject: StoreObject | None,
    phase: str,
    **extra: Any,
) -> None:
    ctx.emit(
        ALARM_EVENT,
        alarm_id=alarm_id,
        name=name,
        phase=phase,
        kind=props.get("kind"),
        severity=props.get("severity"),
        status=props.get("status"),
        subject_id=subject.id if subject is not None else None,
        subject=subject.name if subject is not None else None,
        entity=props.get("entity"),
        value=props.get("value"),
        limit=props.get("limit"),
        unit=props.get("unit"),
        message=props.get("message"),
        escalation_level=props.get("escalation_level", 0),
        **extra,
    )


def _summary(alarm_id: str, name: str, props: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "alarm_id": alarm_id,
        "name": name,
        "kind": props.get("kind"),
        "severity": props.get("severity"),
        "status": props.get("status"),
        "escalation_level": props.get("escalation_level", 0),
        **extra,
    }


async def _alarm(ctx: ActionContext, alarm_id: str, allowed: tuple[str, ...]) -> StoreObject:
    alarm = await ctx.ontology.require("alarm", alarm_id, ALARM)
    status = alarm.get("status")
    if status not in allowed:
        raise ValidationError(
            "alarm_status_invalid",
            field="alarm",
            alarm=alarm.name,
            status=status,
            allowed=", ".join(allowed),
        )
    return alarm


async def raise_alarm(ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
    """Raise an alarm, unless the same one (kind and subject, or entity) is still unresolved."""
    ontology = ctx.ontology
    kind = params["kind"]
    subject = None
    if params.get("subject"):
        subject = await ontology.require("subject", params["subject"], SUBJECTS)
    entity = params.get("entity")
    rows = await ontology.conn.execute(
        select(objects_table).where(
            objects_table.c.type == ALARM,
            objects_table.c.properties["kind"].as_string() == kind,
            objects_table.c.properties["status"].as_string().in_(ALARM_UNRESOLVED),
        )
    )
    unresolved = sorted((object_from_row(row) for row in rows), key=lambda a: a.created_at)
    about = {
        link.source_id: link.target_id
        for link in await ontology.links_from([a.id for a in unresolved], ABOUT)
    }
    for alarm in unresolved:
        same = (
            about.get(alarm.id) == subject.id
            if subject is not None
            else alarm.id not in about and alarm.get("entity") == entity
        )
        if same:
            return _summary(alarm.id, alarm.name, dict(alarm.properties), existing=True)

    props: dict[str, Any] = {
        "kind": kind,
        "severity": params["severity"],
        "status": ACTIVE,
        "escalation_level": 0,
        "notified": [],
        "raised_at": to_iso(ctx.now),
    }
    for key in ("message", "entity", "value", "limit", "unit"):
        if params.get(key) is not None:
            props[key] = params[key]
    label = subject.name if subject is not None else entity
    name = f"{label} · {kind}" if label else kind
    alarm_id = new_object_id(ALARM)
    await ontology.create(ALARM, name, props, object_id=alarm_id)
    if subject is not None:
        await ontology.add_links(
            [Link(source_id=alarm_id, link_type=ABOUT, target_id=subject.id, properties={})]
        )
    _emit(ctx, alarm_id, name, props, subject, "raised")
    return _summary(alarm_id, name, props, existing=False)


async def acknowledge_alarm(ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
    """Someone has seen the alarm and is on it (acknowledging twice changes nothing)."""
    alarm = await _alarm(ctx, params["alarm"], ALARM_UNRESOLVED)
    props = dict(alarm.properties)
    if props["status"] == ACKNOWLEDGED:
        return _summary(alarm.id, alarm.name, props, changed=False)
    props.update(status=ACKNOWLEDGED, acknowledged_at=to_iso(ctx.now), acknowledged_by=ctx.actor)
    await ctx.ontology.update(alarm, props)
    _emit(ctx, alarm.id, alarm.name, props, await _subject_of(ctx, alarm), ACKNOWLEDGED)
    return _summary(alarm.id, alarm.name, props, changed=True)


async def resolve_alarm(ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
    """The condition is over (or dealt with)."""
    alarm = await _alarm(ctx, params["alarm"], ALARM_UNRESOLVED)
    props = dict(alarm.properties)
    previous = props["status"]
    props.update(status=RESOLVED, resolved_at=to_iso(ctx.now), resolved_by=ctx.actor)
    if params.get("resolution") is not None:
        props["resolution"] = params["resolution"]
    await ctx.ontology.update(alarm, props)
    _emit(
        ctx,
        alarm.id,
        alarm.name,
        props,
        await _subject_of(ctx, alarm),
        RESOLVED,
        resolution=props.get("resolution"),
    )
    return _summary(alarm.id, alarm.name, props, previous_status=previous)


async def escalate_alarm(ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
    """Tell more people (one level up), raise the severity, and optionally open a
    maintenance task for a technician, in one transaction."""
    ontology = ctx.ontology
    alarm = await _alarm(ctx, params["alarm"], ALARM_UNRESOLVED)
    notified = params["notified"]
    for index, who in enumerate(notified):
        if not isinstance(who, str) or not who.strip():
            raise ValidationError("invalid_type", field=f"notified[{index}]", expected="text")
    task_name = params.get("maintenance_task")
    assignee = None
    if params.get("assigned_to"):
        if task_name is None:
            raise ValidationError("missing_field", field="maintenance_task")
        assignee = await ontology.require("assigned_to", params["assigned_to"], ASSIGNEES)
    subject = await _subject_of(ctx, alarm)

    writes = PendingWrites()
    props = writes.props(alarm)
    level = props.get("escalation_level", 0) + 1
    now = to_iso(ctx.now)
    entries = [{"level": level, "who": who.strip(), "at": now} for who in notified]
    props["escalation_level"] = level
    props["notified"] = [*props.get("notified", []), *entries]
    severity = params.get("severity")
    if severity is not None and SEVERITIES.index(severity) > SEVERITIES.index(props["severity"]):
        props["severity"] = severity

    task_id = None
    if task_name is not None:
        equipment = subject if subject is not None and subject.type == EQUIPMENT else None
        # one open task per alarm: a second escalation reuses (and may reassign) it
        existing = next(
            (
                task
                for task, _ in await open_tasks(ontology, [equipment.id] if equipment else None)
                if task.get("alarm") == alarm.id
            ),
            None,
        )
        if existing is not None:
            task_id = existing.id
            if assignee is not None:
                await assign(ctx, task_id, assignee.id)
        else:
            task_props: dict[str, Any] = {
                "reason": ALARM_REASON,
                "status": OPEN,
                "due": now,
                "alarm": alarm.id,
                "notes": props.get("message"),
            }
            eq_props = writes.props(equipment) if equipment is not None else None
            task_id, _ = await create_task(
                ctx,
                task_name,
                task_props,
                equipment,
                eq_props,
                assignee_id=assignee.id if assignee else None,
            )
    await writes.flush(ontology)
    _emit(
        ctx,
        alarm.id,
        alarm.name,
        props,
        subject,
        "escalated",
        notified=[entry["who"] for entry in entries],
        task_id=task_id,
    )
    return _summary(alarm.id, alarm.name, props, notified=entries, task_id=task_id)


ALARM_PARAM = {"alarm": OBJECT_ID}

ALARM_ACTIONS = (
    ActionType(
        name="raise_alarm",
        params={
            "kind": Field(kind="string", required=True),
            "severity": Field(kind="string", default="warning", choices=SEVERITIES),
            "message": Field(kind="string"),
            "subject": OPTIONAL_OBJECT_ID,
            "entity": Field(kind="string"),
            "value": Field(kind="number"),
            "limit": Field(kind="number"),
            "unit": Field(kind="string"),
        },
        apply=raise_alarm,
    ),
    ActionType(name="acknowledge_alarm", params=ALARM_PARAM, apply=acknowledge_alarm),
    ActionType(
        name="resolve_alarm",
        params={**ALARM_PARAM, "resolution": Field(kind="string")},
        apply=resolve_alarm,
    ),
    ActionType(
        name="escalate_alarm",
        params={
            **ALARM_PARAM,
            "notified": Field(kind="list", required=True),
            "severity": Field(kind="string", choices=SEVERITIES),
            "maintenance_task": Field(kind="string"),
            "assigned_to": OPTIONAL_OBJECT_ID,
        },
        apply=escalate_alarm,
    ),
)
