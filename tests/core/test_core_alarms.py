"""Alarms on the demo cafe: raised once per kind and subject, acknowledged, resolved, and
escalated (severity, level, who was told, a technician's maintenance task) in one transaction."""

from __future__ import annotations

from typing import Any

import pytest

from custom_components.careon.core import ERROR_KEYS, ActionContext, ActionEngine, ValidationError
from custom_components.careon.core.fields import to_iso

FRIDGE = "equipment.display_fridge"
WALK_IN = "equipment.walk_in_fridge"
TEMPERATURE = "sensor.display_fridge_temperature"


async def _refused(act: Any, engine: ActionEngine, action: str, **params: Any) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        await act(engine, action, **params)
    assert info.value.translation_key in ERROR_KEYS
    return info.value


def _alarm_events(result: Any) -> list[dict[str, Any]]:
    return [dict(e.data) for e in result.events if e.type == "alarm"]


async def _raise_fridge_alarm(act: Any, engine: ActionEngine, **params: Any) -> Any:
    return await act(
        engine,
        "raise_alarm",
        via="automation",
        kind="cold_chain",
        subject=FRIDGE,
        entity=TEMPERATURE,
        value=8.2,
        limit=5,
        unit="°C",
        message="쇼케이스 냉장고 8.2°C (기준 5°C)",
        **params,
    )


async def test_raise_alarm_once_per_kind_and_subject(cafe: ActionEngine, act, get) -> None:
    raised = await _raise_fridge_alarm(act, cafe)
    alarm_id = raised.result["alarm_id"]
    assert raised.result == {
        "alarm_id": alarm_id,
        "name": "쇼케이스 냉장고 · cold_chain",
        "kind": "cold_chain",
        "severity": "warning",
        "status": "active",
        "escalation_level": 0,
        "existing": False,
    }
    assert _alarm_events(raised) == [
        {
            "alarm_id": alarm_id,
            "name": "쇼케이스 냉장고 · cold_chain",
            "phase": "raised",
            "kind": "cold_chain",
            "severity": "warning",
            "status": "active",
            "subject_id": FRIDGE,
            "subject": "쇼케이스 냉장고",
            "entity": TEMPERATURE,
            "value": 8.2,
            "limit": 5,
            "unit": "°C",
            "message": "쇼케이스 냉장고 8.2°C (기준 5°C)",
            "escalation_level": 0,
        }
    ]
    alarm = await get(cafe, alarm_id)
    assert alarm.type == "Alarm"
    assert dict(alarm.properties) == {
        "kind": "cold_chain",
        "severity": "warning",
        "status": "active",
        "escalation_level": 0,
        "notified": [],
        "raised_at": to_iso(raised.occurred_at),
        "message": "쇼케이스 냉장고 8.2°C (기준 5°C)",
        "entity": TEMPERATURE,
        "value": 8.2,
        "limit": 5,
        "unit": "°C",
    }
    async with cafe.reader() as ontology:
        assert [link.target_id for link in await ontology.links_from([alarm_id], "about")] == [
            FRIDGE
        ]

    # the same condition again (another reading): the alarm there is returned, unchanged
    again = await _raise_fridge_alarm(act, cafe, severity="critical")
    assert again.result == {**raised.result, "existing": True}
    assert again.events == ()
    assert again.created == again.updated == frozenset()
    assert (await get(cafe, alarm_id)).version == 1

    # another subject, another kind, an entity without a subject: each its own alarm
    other = await act(cafe, "raise_alarm", kind="cold_chain", subject=WALK_IN)
    assert other.result["existing"] is False
    door = await act(cafe, "raise_alarm", kind="door_open", subject=FRIDGE, severity="info")
    assert (door.result["existing"], door.result["severity"]) == (False, "info")
    power = await act(cafe, "raise_alarm", kind="power_loss", entity="sensor.oven_power")
    assert power.result["name"] == "sensor.oven_power · power_loss"
    assert (await act(cafe, "raise_alarm", kind="power_loss", entity="sensor.oven_power")).result[
        "alarm_id"
    ] == power.result["alarm_id"]
    plain = await act(cafe, "raise_alarm", kind="manual_check")
    assert plain.result["name"] == "manual_check"
    assert (await act(cafe, "raise_alarm", kind="manual_check")).result["existing"] is True
    new_entity = await act(cafe, "raise_alarm", kind="power_loss", entity="sensor.grinder_power")
    assert new_entity.result["alarm_id"] != power.result["alarm_id"]

    # acknowledged still counts as unresolved; once resolved a new alarm is raised
    await act(cafe, "acknowledge_alarm", alarm=alarm_id)
    assert (await _raise_fridge_alarm(act, cafe)).result["alarm_id"] == alarm_id
    await act(cafe, "resolve_alarm", alarm=alarm_id)
    fresh = await _raise_fridge_alarm(act, cafe)
    assert fresh.result["existing"] is False
    assert fresh.result["alarm_id"] != alarm_id


async def test_acknowledge_and_resolve(cafe: ActionEngine, act, get) -> None:
    alarm_id = (await _raise_fridge_alarm(act, cafe)).result["alarm_id"]
    acknowledged = await act(cafe, "acknowledge_alarm", alarm=alarm_id)
    assert acknowledged.result == {
        "alarm_id": alarm_id,
        "name": "쇼케이스 냉장고 · cold_chain",
        "kind": "cold_chain",
        "severity": "warning",
        "status": "acknowledged",
        "escalation_level": 0,
        "changed": True,
    }
    [event] = _alarm_events(acknowledged)
    assert (event["phase"], event["status"], event["subject_id"]) == (
        "acknowledged",
        "acknowledged",
        FRIDGE,
    )
    alarm = await get(cafe, alarm_id)
    assert (alarm.get("acknowledged_at"), alarm.get("acknowledged_by")) == (
        to_iso(acknowledged.occurred_at),
        "tester",
    )

    twice = await act(cafe, "acknowledge_alarm", alarm=alarm_id)
    assert (twice.result["changed"], twice.events, twice.updated) == (False, (), frozenset())
    assert (await get(cafe, alarm_id)).version == alarm.version

    resolved = await act(cafe, "resolve_alarm", alarm=alarm_id, resolution="문을 닫음")
    assert resolved.result["status"] == "resolved"
    assert resolved.result["previous_status"] == "acknowledged"
    [event] = _alarm_events(resolved)
    assert (event["phase"], event["status"], event["resolution"]) == (
        "resolved",
        "resolved",
        "문을 닫음",
    )
    alarm = await get(cafe, alarm_id)
    assert (alarm.get("resolved_at"), alarm.get("resolved_by"), alarm.get("resolution")) == (
        to_iso(resolved.occurred_at),
        "tester",
        "문을 닫음",
    )

    # an active alarm may be resolved directly
    other = (await act(cafe, "raise_alarm", kind="door_open", subject=FRIDGE)).result["alarm_id"]
    direct = await act(cafe, "resolve_alarm", alarm=other)
    assert direct.result["previous_status"] == "active"


async def test_escalate_alarm(cafe: ActionEngine, act, get) -> None:
    technician = await act(
        cafe,
        "create_object",
        object_type="Supplier",
        key="fridge_service",
        name="냉장고 AS센터",
        properties={"phone": "1588-0000"},
    )
    technician_id = technician.result["object_id"]
    alarm_id = (await _raise_fridge_alarm(act, cafe)).result["alarm_id"]

    escalated = await act(
        cafe,
        "escalate_alarm",
        via="automation",
        alarm=alarm_id,
        notified=["notify.mobile_app_owner"],
        severity="critical",
        maintenance_task="냉장고 냉각 점검",
        assigned_to=technician_id,
    )
    at = to_iso(escalated.occurred_at)
    task_id = escalated.result["task_id"]
    assert task_id.startswith("maintenance_task.")
    assert escalated.result == {
        "alarm_id": alarm_id,
        "name": "쇼케이스 냉장고 · cold_chain",
        "kind": "cold_chain",
        "severity": "critical",
        "status": "active",
        "escalation_level": 1,
        "notified": [{"level": 1, "who": "notify.mobile_app_owner", "at": at}],
        "task_id": task_id,
    }
    [event] = _alarm_events(escalated)
    assert event["phase"] == "escalated"
    assert (event["severity"], event["escalation_level"], event["task_id"]) == (
        "critical",
        1,
        task_id,
    )
    assert event["notified"] == ["notify.mobile_app_owner"]
    # the technician's task is due now: announced at once
    due = [dict(e.data) for e in escalated.events if e.type == "maintenance_due"]
    assert due == [
        {
            "task_id": task_id,
            "name": "냉장고 냉각 점검",
            "equipment_id": FRIDGE,
            "equipment": "쇼케이스 냉장고",
            "reason": "alarm",
            "due": at,
            "due_runtime_hours": None,
            "runtime_hours": 0,
        }
    ]
    assert escalated.created == {task_id}
    task = await get(cafe, task_id)
    assert task.name == "냉장고 냉각 점검"
    assert dict(task.properties) == {
        "reason": "alarm",
        "status": "open",
        "due": at,
        "alarm": alarm_id,
        "notes": "쇼케이스 냉장고 8.2°C (기준 5°C)",
        "due_announced_at": at,
    }
    async with cafe.reader() as ontology:
        links = await ontology.links_from([task_id])
    assert sorted((link.link_type, link.target_id) for link in links) == [
        ("assigned_to", technician_id),
        ("for", FRIDGE),
    ]
    assert (await get(cafe, FRIDGE)).get("status") == "maintenance_due"

    # one level up: more people told; the severity never drops; the same task, reassigned
    second = await act(
        cafe,
        "escalate_alarm",
        alarm=alarm_id,
        notified=["person.owner", "notify.mobile_app_manager"],
        severity="warning",
        maintenance_task="냉장고 냉각 점검",
        assigned_to="staff.owner",
    )
    assert (second.result["escalation_level"], second.result["severity"]) == (2, "critical")
    assert second.result["task_id"] == task_id
    assert [e.type for e in second.events] == ["alarm"]
    alarm = await get(cafe, alarm_id)
    assert [(n["level"], n["who"]) for n in alarm.get("notified")] == [
        (1, "notify.mobile_app_owner"),
        (2, "person.owner"),
        (2, "notify.mobile_app_manager"),
    ]
    async with cafe.reader() as ontology:
        links = await ontology.links_from([task_id], "assigned_to")
    assert [link.target_id for link in links] == ["staff.owner"]

    # acknowledged alarms escalate, too; without a task name no task
    await act(cafe, "acknowledge_alarm", alarm=alarm_id)
    third = await act(cafe, "escalate_alarm", alarm=alarm_id, notified=["notify.all"])
    assert (third.result["task_id"], third.result["status"]) == (None, "acknowledged")
    assert third.result["escalation_level"] == 3

    # the technician fixes it: the task is done, the fridge is fine, the alarm resolved
    await act(cafe, "complete_maintenance", task=task_id)
    fridge = await get(cafe, FRIDGE)
    assert fridge.get("status") == "ok"
    assert fridge.get("last_maintenance") is not None
    await act(cafe, "resolve_alarm", alarm=alarm_id)

    # an alarm about a zone: a task for no equipment
    zone_alarm = await act(cafe, "raise_alarm", kind="too_warm", subject="zone.kitchen")
    result = await act(
        cafe,
        "escalate_alarm",
        alarm=zone_alarm.result["alarm_id"],
        notified=["notify.mobile_app_owner"],
        maintenance_task="주방 환기 점검",
    )
    async with cafe.reader() as ontology:
        assert await ontology.links_from([result.result["task_id"]], "for") == []


async def test_escalation_is_one_transaction(cafe: ActionEngine, act, dump) -> None:
    alarm_id = (await _raise_fridge_alarm(act, cafe)).result["alarm_id"]
    before = await dump(cafe)

    async def fault(ctx: ActionContext) -> None:
        assert await ctx.ontology.get(alarm_id) is not None
        raise RuntimeError("injected fault after the effects")

    cafe.before_commit.append(fault)
    with pytest.raises(RuntimeError, match="injected fault"):
        await act(
            cafe,
            "escalate_alarm",
            alarm=alarm_id,
            notified=["notify.mobile_app_owner"],
            severity="critical",
            maintenance_task="냉장고 냉각 점검",
            assigned_to="staff.owner",
        )
    cafe.before_commit.remove(fault)
    assert await dump(cafe) == before  # neither the escalation nor the task


async def test_alarm_refusals_write_nothing(cafe: ActionEngine, act, dump) -> None:
    active = (await _raise_fridge_alarm(act, cafe)).result["alarm_id"]
    resolved = (await act(cafe, "raise_alarm", kind="door_open", subject=FRIDGE)).result["alarm_id"]
    await act(cafe, "resolve_alarm", alarm=resolved)
    before = await dump(cafe)
    refusals: list[tuple[str, dict[str, Any], str, str]] = [
        ("raise_alarm", {}, "missing_field", "kind"),
        ("raise_alarm", {"kind": "x", "severity": "loud"}, "invalid_choice", "severity"),
        (
            "raise_alarm",
            {"kind": "x", "subject": "product.latte_hot"},
            "wrong_object_type",
            "subject",
        ),
        ("raise_alarm", {"kind": "x", "subject": "zone.nope"}, "object_not_found", "subject"),
        ("raise_alarm", {"kind": "x", "value": "warm"}, "invalid_type", "value"),
        ("acknowledge_alarm", {"alarm": resolved}, "alarm_status_invalid", "alarm"),
        ("acknowledge_alarm", {"alarm": FRIDGE}, "wrong_object_type", "alarm"),
        ("resolve_alarm", {"alarm": resolved}, "alarm_status_invalid", "alarm"),
        ("resolve_alarm", {"alarm": "alarm.nope"}, "object_not_found", "alarm"),
        ("escalate_alarm", {"alarm": resolved, "notified": ["x"]}, "alarm_status_invalid", "alarm"),
        ("escalate_alarm", {"alarm": active}, "missing_field", "notified"),
        ("escalate_alarm", {"alarm": active, "notified": [""]}, "invalid_type", "notified[0]"),
        ("escalate_alarm", {"alarm": active, "notified": "x"}, "invalid_type", "notified"),
        (
            "escalate_alarm",
            {"alarm": active, "notified": ["x"], "severity": "extreme"},
            "invalid_choice",
            "severity",
        ),
        (
            "escalate_alarm",
            {"alarm": active, "notified": ["x"], "assigned_to": "staff.owner"},
            "missing_field",
            "maintenance_task",
        ),
        (
            "escalate_alarm",
            {
                "alarm": active,
                "notified": ["x"],
                "maintenance_task": "점검",
                "assigned_to": "zone.counter",
            },
            "wrong_object_type",
            "assigned_to",
        ),
    ]
    for action, params, key, field in refusals:
        err = await _refused(act, cafe, action, **params)
        assert (action, err.translation_key, err.field) == (action, key, field)
    err = await _refused(act, cafe, "resolve_alarm", alarm=resolved)
    assert err.placeholders == {
        "field": "alarm",
        "alarm": "쇼케이스 냉장고 · door_open",
        "status": "resolved",
        "allowed": "active, acknowledged",
    }
    assert await dump(cafe) == before
