"""Equipment maintenance on the demo cafe: plans and their tasks, runtime hours, due
announcements (each exactly once), completion and cancellation, and the next check time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from custom_components.careon.core import (
    ERROR_KEYS,
    ActionEngine,
    StoreObject,
    ValidationError,
    next_maintenance_check,
)
from custom_components.careon.core.fields import to_iso

ESPRESSO = "equipment.espresso_machine"
GRINDER = "equipment.grinder"
OVEN = "equipment.oven"
BACKFLUSH = "백플러시 및 샤워스크린 세척"
GASKET = "그룹 가스켓 교체"
START = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)


class Clock:
    """The engine's clock (naive UTC, as ``ontology.utcnow``), moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now.astimezone(UTC).replace(tzinfo=None)

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Every action from here on runs at ``clock.now``."""
    fixed = Clock(START)
    monkeypatch.setattr("custom_components.careon.core.engine.utcnow", fixed)
    return fixed


async def _refused(act: Any, engine: ActionEngine, action: str, **params: Any) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        await act(engine, action, **params)
    assert info.value.translation_key in ERROR_KEYS
    return info.value


async def _tasks(engine: ActionEngine) -> list[tuple[StoreObject, str | None]]:
    """Every MaintenanceTask with the equipment it is for."""
    async with engine.reader() as ontology:
        tasks = await ontology.by_type("MaintenanceTask")
        links = await ontology.links_from([t.id for t in tasks], "for")
    equipment_of = {link.source_id: link.target_id for link in links}
    return [(task, equipment_of.get(task.id)) for task in tasks]


async def _open(engine: ActionEngine, equipment: str, reason: str) -> list[StoreObject]:
    return [
        task
        for task, eq in await _tasks(engine)
        if eq == equipment and task.get("reason") == reason and task.get("status") == "open"
    ]


async def _next_check(engine: ActionEngine, now: datetime) -> datetime | None:
    async with engine.reader() as ontology:
        equipment = await ontology.by_type("Equipment")
    return next_maintenance_check(equipment, await _tasks(engine), now)


def _due_events(result: Any) -> list[dict[str, Any]]:
    return [dict(e.data) for e in result.events if e.type == "maintenance_due"]


async def test_check_maintenance_opens_each_plan_task_once(
    cafe: ActionEngine, act, get, clock: Clock
) -> None:
    now = clock.now
    # plans without tasks: the check has work at once
    assert await _next_check(cafe, now) == now
    result = await act(cafe, "check_maintenance", via="schedule")
    created = {(t["equipment_id"], t["reason"]): t for t in result.result["created"]}
    assert sorted(created) == sorted(
        [
            (ESPRESSO, "time"),
            (ESPRESSO, "usage"),
            (GRINDER, "time"),
            ("equipment.ice_maker", "time"),
            ("equipment.display_fridge", "time"),
            ("equipment.walk_in_fridge", "time"),
            (OVEN, "time"),
        ]
    )
    backflush = created[ESPRESSO, "time"]
    assert backflush == {
        "task_id": backflush["task_id"],
        "name": BACKFLUSH,
        "reason": "time",
        "status": "open",
        "equipment_id": ESPRESSO,
        "due": to_iso(now + timedelta(days=7)),
        "due_runtime_hours": None,
    }
    assert created[ESPRESSO, "usage"]["name"] == GASKET
    assert created[ESPRESSO, "usage"]["due_runtime_hours"] == 600
    assert created[ESPRESSO, "usage"]["due"] is None
    assert created[OVEN, "time"]["due"] == to_iso(now + timedelta(days=30))
    assert result.result["due"] == []
    assert result.events == ()
    task = await get(cafe, backflush["task_id"])
    assert task.name == BACKFLUSH
    assert dict(task.properties) == {
        "reason": "time",
        "status": "open",
        "due": to_iso(now + timedelta(days=7)),
    }

    # a second check finds every plan covered: nothing new, never two open tasks
    again = await act(cafe, "check_maintenance", via="schedule")
    assert again.result == {"created": [], "due": []}
    assert again.created == frozenset()
    assert again.updated == frozenset()
    assert len(await _tasks(cafe)) == 7
    assert await _next_check(cafe, now) == now + timedelta(days=7)


async def test_time_tasks_are_announced_due_exactly_once(
    cafe: ActionEngine, act, get, clock: Clock
) -> None:
    await act(cafe, "check_maintenance")
    backflush = (await _open(cafe, ESPRESSO, "time"))[0]
    due = clock.now + timedelta(days=7)
    clock.advance(days=7)
    assert await _next_check(cafe, clock.now) == clock.now  # due and not announced

    result = await act(cafe, "check_maintenance", via="schedule")
    assert [(t["task_id"], t["reason"]) for t in result.result["due"]] == [(backflush.id, "time")]
    assert _due_events(result) == [
        {
            "task_id": backflush.id,
            "name": BACKFLUSH,
            "equipment_id": ESPRESSO,
            "equipment": "에스프레소 머신",
            "reason": "time",
            "due": to_iso(due),
            "due_runtime_hours": None,
            "runtime_hours": 0,
        }
    ]
    assert (await get(cafe, backflush.id)).get("due_announced_at") == to_iso(clock.now)
    assert (await get(cafe, ESPRESSO)).get("status") == "maintenance_due"
    assert (await get(cafe, GRINDER)).get("status") == "ok"
    # announced: the next check waits for the grinder, 14 days after the start
    assert await _next_check(cafe, clock.now) == START + timedelta(days=14)

    clock.advance(days=1)
    again = await act(cafe, "check_maintenance", via="schedule")
    assert again.result == {"created": [], "due": []}
    assert again.events == ()

    clock.advance(days=6)  # day 14: the grinder, and never the espresso machine again
    later = await act(cafe, "check_maintenance", via="schedule")
    assert [(e["equipment_id"], e["name"]) for e in _due_events(later)] == [(GRINDER, "버 청소")]


async def test_runtime_crossing_announces_once(cafe: ActionEngine, act, get, clock: Clock) -> None:
    await act(cafe, "check_maintenance")
    gasket = (await _open(cafe, ESPRESSO, "usage"))[0]
    for _ in range(5):
        result = await act(cafe, "record_runtime", via="sensor", equipment=ESPRESSO, hours=100)
        assert result.events == ()
    assert await _next_check(cafe, clock.now) == clock.now + timedelta(days=7)

    crossing = await act(cafe, "record_runtime", via="sensor", equipment=ESPRESSO, hours=150)
    assert crossing.result == {
        "equipment_id": ESPRESSO,
        "runtime_hours": 650,
        "total_runtime_hours": 650,
        "due": [
            {
                "task_id": gasket.id,
                "name": GASKET,
                "reason": "usage",
                "status": "open",
                "equipment_id": ESPRESSO,
                "due": None,
                "due_runtime_hours": 600,
            }
        ],
    }
    assert _due_events(crossing) == [
        {
            "task_id": gasket.id,
            "name": GASKET,
            "equipment_id": ESPRESSO,
            "equipment": "에스프레소 머신",
            "reason": "usage",
            "due": None,
            "due_runtime_hours": 600,
            "runtime_hours": 650,
        }
    ]
    for _ in range(20):
        result = await act(cafe, "record_runtime", via="sensor", equipment=ESPRESSO, hours=0.1)
        assert result.events == ()
        assert result.result["due"] == []
    assert (await act(cafe, "check_maintenance")).events == ()
    machine = await get(cafe, ESPRESSO)
    assert (machine.get("runtime_hours"), machine.get("total_runtime_hours")) == (652, 652)
    assert machine.get("status") == "maintenance_due"

    # the gasket is changed: runtime counts from zero, the total goes on, the next task opens
    clock.advance(hours=2)
    done = await act(cafe, "complete_maintenance", task=gasket.id)
    following = done.result["next_task"]
    assert done.result == {
        "task_id": gasket.id,
        "name": GASKET,
        "status": "done",
        "reason": "usage",
        "equipment_id": ESPRESSO,
        "next_task": {
            "task_id": following["task_id"],
            "name": GASKET,
            "reason": "usage",
            "status": "open",
            "equipment_id": ESPRESSO,
            "due": None,
            "due_runtime_hours": 600,
        },
    }
    assert [(e.type, dict(e.data)) for e in done.events] == [
        (
            "maintenance_completed",
            {
                "task_id": gasket.id,
                "name": GASKET,
                "equipment_id": ESPRESSO,
                "equipment": "에스프레소 머신",
                "reason": "usage",
            },
        )
    ]
    machine = await get(cafe, ESPRESSO)
    assert machine.get("runtime_hours") == 0
    assert machine.get("total_runtime_hours") == 652
    assert machine.get("last_maintenance") == to_iso(clock.now)
    assert machine.get("status") == "ok"
    task = await get(cafe, gasket.id)
    assert (task.get("status"), task.get("completed_at"), task.get("completed_by")) == (
        "done",
        to_iso(clock.now),
        "tester",
    )
    assert [t.id for t in await _open(cafe, ESPRESSO, "usage")] == [following["task_id"]]

    # the next crossing is announced again, once
    result = await act(cafe, "record_runtime", equipment=ESPRESSO, hours=599.9)
    assert result.events == ()
    result = await act(cafe, "record_runtime", equipment=ESPRESSO, hours=0.1)
    assert [e["task_id"] for e in _due_events(result)] == [following["task_id"]]
    assert result.result["runtime_hours"] == 600


async def test_record_runtime_opens_the_usage_task_itself(
    cafe: ActionEngine, act, get, clock: Clock
) -> None:
    # no check has run yet: the first hours open the plan's task, and announce it when due
    first = await act(cafe, "record_runtime", equipment=ESPRESSO, hours=0.1)
    assert first.events == ()
    assert len(await _open(cafe, ESPRESSO, "usage")) == 1
    second = await act(cafe, "record_runtime", equipment=ESPRESSO, hours=0.2)
    assert second.result["runtime_hours"] == 0.3  # no binary noise
    assert len(await _open(cafe, ESPRESSO, "usage")) == 1

    result = await act(cafe, "record_runtime", equipment=GRINDER, hours=1000)
    assert result.result["due"] == []  # the grinder has no runtime plan
    assert await _open(cafe, GRINDER, "usage") == []
    grinder = await get(cafe, GRINDER)
    assert (grinder.get("runtime_hours"), grinder.get("total_runtime_hours")) == (1000, 1000)


async def test_complete_a_time_task_sets_last_maintenance_and_the_next_due(
    cafe: ActionEngine, act, get, clock: Clock
) -> None:
    await act(cafe, "check_maintenance")
    await act(cafe, "record_runtime", equipment=ESPRESSO, hours=700)  # usage announced
    clock.advance(days=8)
    await act(cafe, "check_maintenance")  # time announced
    backflush = (await _open(cafe, ESPRESSO, "time"))[0]
    gasket = (await _open(cafe, ESPRESSO, "usage"))[0]

    done = await act(cafe, "complete_maintenance", task=backflush.id, notes="샤워스크린 교체함")
    assert done.result["next_task"]["due"] == to_iso(clock.now + timedelta(days=7))
    task = await get(cafe, backflush.id)
    assert task.get("notes") == "샤워스크린 교체함"
    machine = await get(cafe, ESPRESSO)
    assert machine.get("last_maintenance") == to_iso(clock.now)
    assert machine.get("runtime_hours") == 700  # a time task leaves the hours alone
    assert machine.get("status") == "maintenance_due"  # the gasket is still due

    await act(cafe, "complete_maintenance", task=gasket.id)
    assert (await get(cafe, ESPRESSO)).get("status") == "ok"

    err = await _refused(act, cafe, "complete_maintenance", task=backflush.id)
    assert (err.translation_key, err.field) == ("maintenance_task_status_invalid", "task")
    assert err.placeholders == {
        "field": "task",
        "task": BACKFLUSH,
        "status": "done",
        "allowed": "open",
    }

    # a plan scheduled after maintenance counts from the last maintenance
    clock.advance(days=1)
    result = await act(cafe, "schedule_maintenance", equipment=ESPRESSO, interval_days=3)
    assert result.result["tasks"][0]["due"] == to_iso(clock.now + timedelta(days=2))


async def test_cancel_replaces_a_plan_task_with_the_next(
    cafe: ActionEngine, act, get, clock: Clock
) -> None:
    start = clock.now
    await act(cafe, "check_maintenance")
    backflush = (await _open(cafe, ESPRESSO, "time"))[0]
    skipped = await act(cafe, "cancel_maintenance", task=backflush.id)
    assert skipped.result["status"] == "cancelled"
    assert skipped.result["next_task"]["due"] == to_iso(start + timedelta(days=14))
    assert (await get(cafe, backflush.id)).get("status") == "cancelled"
    assert [(e.type, dict(e.data)) for e in skipped.events] == [
        (
            "maintenance_cancelled",
            {
                "task_id": backflush.id,
                "name": backflush.name,
                "equipment_id": ESPRESSO,
                "equipment": "에스프레소 머신",
                "reason": "time",
                "next_task_id": skipped.result["next_task"]["task_id"],
            },
        )
    ]

    # an overdue one: the next occurrence still ahead
    clock.advance(days=30)
    await act(cafe, "check_maintenance")
    assert (await get(cafe, ESPRESSO)).get("status") == "maintenance_due"
    overdue = (await _open(cafe, ESPRESSO, "time"))[0]
    result = await act(cafe, "cancel_maintenance", task=overdue.id)
    assert result.result["next_task"]["due"] == to_iso(start + timedelta(days=35))
    assert (await get(cafe, ESPRESSO)).get("status") == "ok"
    assert len(await _open(cafe, ESPRESSO, "time")) == 1

    # usage: the next threshold above the hours run, which are not reset
    await act(cafe, "record_runtime", equipment=ESPRESSO, hours=650)
    gasket = (await _open(cafe, ESPRESSO, "usage"))[0]
    result = await act(cafe, "cancel_maintenance", task=gasket.id)
    assert result.result["next_task"]["due_runtime_hours"] == 1200
    machine = await get(cafe, ESPRESSO)
    assert (machine.get("runtime_hours"), machine.get("status")) == (650, "ok")
    assert machine.get("last_maintenance") is None

    err = await _refused(act, cafe, "cancel_maintenance", task=gasket.id)
    assert (err.translation_key, err.field) == ("maintenance_task_status_invalid", "task")


async def test_schedule_maintenance_sets_the_plan_and_updates_its_task(
    cafe: ActionEngine, act, get, clock: Clock
) -> None:
    now = clock.now
    result = await act(
        cafe,
        "schedule_maintenance",
        equipment=GRINDER,
        interval_days=10,
        name="버 분해 청소",
        assigned_to="staff.barista1",
        notes="주 1회 이상 권장",
    )
    task_id = result.result["tasks"][0]["task_id"]
    assert result.result == {
        "equipment_id": GRINDER,
        "tasks": [
            {
                "task_id": task_id,
                "name": "버 분해 청소",
                "reason": "time",
                "status": "open",
                "equipment_id": GRINDER,
                "due": to_iso(now + timedelta(days=10)),
                "due_runtime_hours": None,
            }
        ],
    }
    grinder = await get(cafe, GRINDER)
    assert grinder.get("maintenance_interval_days") == 10
    assert grinder.get("maintenance_task") == "버 분해 청소"
    task = await get(cafe, task_id)
    assert task.get("notes") == "주 1회 이상 권장"
    async with cafe.reader() as ontology:
        assert [link.target_id for link in await ontology.links_from([task_id], "assigned_to")] == [
            "staff.barista1"
        ]

    # the same plan again: the open task is updated, never a second one
    result = await act(
        cafe, "schedule_maintenance", equipment=GRINDER, interval_days=5, assigned_to="staff.owner"
    )
    assert [(t["task_id"], t["name"], t["due"]) for t in result.result["tasks"]] == [
        (task_id, "버 분해 청소", to_iso(now + timedelta(days=5)))
    ]
    async with cafe.reader() as ontology:
        assert [link.target_id for link in await ontology.links_from([task_id], "assigned_to")] == [
            "staff.owner"
        ]
    await act(cafe, "check_maintenance")
    assert [t.id for t in await _open(cafe, GRINDER, "time")] == [task_id]

    # a runtime plan beside it
    result = await act(
        cafe, "schedule_maintenance", equipment=GRINDER, runtime_hours=200, name="버 교체"
    )
    [usage] = result.result["tasks"]
    assert (usage["reason"], usage["name"], usage["due_runtime_hours"]) == ("usage", "버 교체", 200)
    grinder = await get(cafe, GRINDER)
    assert (
        grinder.get("maintenance_runtime_hours"),
        grinder.get("maintenance_runtime_task"),
        grinder.get("maintenance_task"),
    ) == (200, "버 교체", "버 분해 청소")

    # a first due date in the past: announced at once; saved again unchanged: still overdue
    # (never announced twice); moved ahead again: due again later
    past = now - timedelta(hours=1)
    result = await act(
        cafe, "schedule_maintenance", equipment=GRINDER, interval_days=5, due=to_iso(past)
    )
    assert [(e["task_id"], e["due"]) for e in _due_events(result)] == [(task_id, to_iso(past))]
    assert (await get(cafe, GRINDER)).get("status") == "maintenance_due"
    result = await act(cafe, "schedule_maintenance", equipment=GRINDER, interval_days=5)
    assert result.events == ()
    assert result.result["tasks"][0]["due"] == to_iso(past)
    assert (await get(cafe, task_id)).get("due_announced_at") == to_iso(now)
    assert (await get(cafe, GRINDER)).get("status") == "maintenance_due"
    result = await act(
        cafe,
        "schedule_maintenance",
        equipment=GRINDER,
        interval_days=5,
        due=to_iso(now + timedelta(days=5)),
    )
    assert result.events == ()
    assert (await get(cafe, task_id)).get("due_announced_at") is None
    assert (await get(cafe, GRINDER)).get("status") == "ok"
    assert await _next_check(cafe, now) == now + timedelta(days=5)

    # the threshold lowered under the hours already run: announced at once
    await act(cafe, "record_runtime", equipment=GRINDER, hours=150)
    result = await act(cafe, "schedule_maintenance", equipment=GRINDER, runtime_hours=100)
    assert [(e["task_id"], e["runtime_hours"]) for e in _due_events(result)] == [
        (usage["task_id"], 150)
    ]


async def test_saving_a_plan_again_keeps_its_overdue_task(
    cafe: ActionEngine, act, get, clock: Clock
) -> None:
    """Re-saving a time plan (to rename it, say) never pushes an overdue task back: the same
    interval keeps the due and its announcement, a changed one moves it from the same origin,
    a due moved by hand or by a skip survives."""
    start = clock.now
    await act(cafe, "check_maintenance")
    [burr] = await _open(cafe, GRINDER, "time")
    assert burr.get("due") == to_iso(start + timedelta(days=14))
    clock.advance(days=15)
    announced = await act(cafe, "check_maintenance")
    assert burr.id in [e["task_id"] for e in _due_events(announced)]
    announced_at = to_iso(clock.now)

    clock.advance(hours=5)  # the owner renames the plan later that day
    renamed = await act(
        cafe, "schedule_maintenance", equipment=GRINDER, interval_days=14, name="버 분해 청소"
    )
    assert renamed.events == ()
    assert [(t["task_id"], t["name"], t["due"]) for t in renamed.result["tasks"]] == [
        (burr.id, "버 분해 청소", to_iso(start + timedelta(days=14)))
    ]
    task = await get(cafe, burr.id)
    assert task.name == "버 분해 청소"
    assert (task.get("due"), task.get("due_announced_at")) == (
        to_iso(start + timedelta(days=14)),
        announced_at,
    )
    assert (await get(cafe, GRINDER)).get("status") == "maintenance_due"
    assert (await act(cafe, "check_maintenance")).events == ()  # never announced twice

    # a longer interval counts from the same origin: due on day 20, not yet; a shorter one:
    # day 10, overdue again (a new due date, announced in its turn)
    longer = await act(cafe, "schedule_maintenance", equipment=GRINDER, interval_days=20)
    assert longer.result["tasks"][0]["due"] == to_iso(start + timedelta(days=20))
    assert longer.events == ()
    assert (await get(cafe, burr.id)).get("due_announced_at") is None
    assert (await get(cafe, GRINDER)).get("status") == "ok"
    shorter = await act(cafe, "schedule_maintenance", equipment=GRINDER, interval_days=10)
    assert [e["due"] for e in _due_events(shorter)] == [to_iso(start + timedelta(days=10))]
    assert (await get(cafe, GRINDER)).get("status") == "maintenance_due"

    # moved by hand to the day after tomorrow: saving the same plan keeps the new date
    moved_to = clock.now + timedelta(days=2)
    await act(cafe, "update_maintenance_task", task=burr.id, due=to_iso(moved_to))
    again = await act(cafe, "schedule_maintenance", equipment=GRINDER, interval_days=10)
    assert again.result["tasks"][0]["due"] == to_iso(moved_to)
    assert (await get(cafe, GRINDER)).get("status") == "ok"

    # skipped: the next occurrence survives a re-save as well
    skipped = await act(cafe, "cancel_maintenance", task=burr.id)
    following = skipped.result["next_task"]
    assert following["due"] == to_iso(moved_to + timedelta(days=10))
    clock.advance(days=1)
    again = await act(cafe, "schedule_maintenance", equipment=GRINDER, interval_days=10)
    assert [(t["task_id"], t["due"]) for t in again.result["tasks"]] == [
        (following["task_id"], to_iso(moved_to + timedelta(days=10)))
    ]
    assert [t.id for t in await _open(cafe, GRINDER, "time")] == [following["task_id"]]

    # the same for hours run: a skipped threshold is not brought back by a re-save
    await act(cafe, "record_runtime", equipment=ESPRESSO, hours=650)
    [gasket] = await _open(cafe, ESPRESSO, "usage")
    skipped = await act(cafe, "cancel_maintenance", task=gasket.id)
    assert skipped.result["next_task"]["due_runtime_hours"] == 1200
    again = await act(cafe, "schedule_maintenance", equipment=ESPRESSO, runtime_hours=600)
    assert again.events == ()
    assert again.result["tasks"][0]["due_runtime_hours"] == 1200
    next_gasket = await get(cafe, skipped.result["next_task"]["task_id"])
    assert (next_gasket.get("due_runtime_hours"), next_gasket.get("due_announced_at")) == (
        1200,
        None,
    )
    lower = await act(cafe, "schedule_maintenance", equipment=ESPRESSO, runtime_hours=500)
    assert lower.result["tasks"][0]["due_runtime_hours"] == 1100


async def test_one_off_tasks(cafe: ActionEngine, act, get, clock: Clock) -> None:
    tomorrow = clock.now + timedelta(days=1)
    visit = await act(
        cafe,
        "schedule_maintenance",
        equipment=ESPRESSO,
        name="머신 정기 점검 방문",
        due=to_iso(tomorrow),
        assigned_to="supplier.beans",
    )
    [task] = visit.result["tasks"]
    assert (task["reason"], task["equipment_id"], task["due"]) == (
        "manual",
        ESPRESSO,
        to_iso(tomorrow),
    )
    # a one-off leaves the plan alone
    machine = await get(cafe, ESPRESSO)
    assert machine.get("maintenance_interval_days") == 7
    assert machine.get("maintenance_task") == BACKFLUSH

    # without equipment; a time without an offset is the store's (Asia/Seoul)
    drill = await act(cafe, "schedule_maintenance", name="소화기 점검", due="2099-03-10T09:00:00")
    assert drill.result["equipment_id"] is None
    [drill_task] = drill.result["tasks"]
    assert drill_task["due"] == "2099-03-10T00:00:00.000000+00:00"
    assert drill_task["equipment_id"] is None
    assert await _next_check(cafe, clock.now) == clock.now  # the plans still lack their tasks
    await act(cafe, "check_maintenance")
    assert await _next_check(cafe, clock.now) == tomorrow

    # edited from the todo list: name, notes, due (into the past: announced at once)
    edited = await act(
        cafe,
        "update_maintenance_task",
        task=drill_task["task_id"],
        name="소화기 압력 점검",
        notes="게이지 확인",
    )
    assert (edited.result["name"], edited.events) == ("소화기 압력 점검", ())
    moved = await act(
        cafe,
        "update_maintenance_task",
        task=drill_task["task_id"],
        due=to_iso(clock.now - timedelta(minutes=5)),
    )
    assert _due_events(moved) == [
        {
            "task_id": drill_task["task_id"],
            "name": "소화기 압력 점검",
            "equipment_id": None,
            "equipment": None,
            "reason": "manual",
            "due": to_iso(clock.now - timedelta(minutes=5)),
            "due_runtime_hours": None,
            "runtime_hours": None,
        }
    ]
    stored = await get(cafe, drill_task["task_id"])
    assert (stored.name, stored.get("notes")) == ("소화기 압력 점검", "게이지 확인")

    # the visit comes due with time: announced once by the check
    clock.advance(days=1)
    result = await act(cafe, "check_maintenance")
    assert [e["task_id"] for e in _due_events(result)] == [task["task_id"]]
    assert (await act(cafe, "check_maintenance")).events == ()
    done = await act(cafe, "complete_maintenance", task=task["task_id"])
    assert done.result["next_task"] is None
    machine = await get(cafe, ESPRESSO)
    assert (machine.get("last_maintenance"), machine.get("status")) == (to_iso(clock.now), "ok")
    assert len(await _open(cafe, ESPRESSO, "time")) == 1  # the plan's own task is untouched

    err = await _refused(act, cafe, "update_maintenance_task", task=task["task_id"], name="x")
    assert (err.translation_key, err.field) == ("maintenance_task_status_invalid", "task")


REFUSALS: list[tuple[str, dict[str, Any], str, str]] = [
    ("schedule_maintenance", {}, "maintenance_plan_missing", "interval_days"),
    ("schedule_maintenance", {"equipment": GRINDER}, "maintenance_plan_missing", "interval_days"),
    ("schedule_maintenance", {"interval_days": 7}, "missing_field", "equipment"),
    ("schedule_maintenance", {"due": "2099-01-01T00:00:00"}, "missing_field", "name"),
    (
        "schedule_maintenance",
        {"equipment": "product.latte_hot", "interval_days": 7},
        "wrong_object_type",
        "equipment",
    ),
    (
        "schedule_maintenance",
        {"equipment": "equipment.nope", "interval_days": 7},
        "object_not_found",
        "equipment",
    ),
    (
        "schedule_maintenance",
        {"equipment": GRINDER, "interval_days": 0},
        "out_of_range",
        "interval_days",
    ),
    (
        "schedule_maintenance",
        {"equipment": GRINDER, "runtime_hours": 0},
        "out_of_range",
        "runtime_hours",
    ),
    (
        "schedule_maintenance",
        {"equipment": GRINDER, "interval_days": 7, "assigned_to": "zone.counter"},
        "wrong_object_type",
        "assigned_to",
    ),
    ("schedule_maintenance", {"name": "x", "due": "soon"}, "invalid_type", "due"),
    ("record_runtime", {"equipment": GRINDER, "hours": 0}, "out_of_range", "hours"),
    ("record_runtime", {"equipment": GRINDER, "hours": -2}, "out_of_range", "hours"),
    ("record_runtime", {"equipment": GRINDER}, "missing_field", "hours"),
    ("record_runtime", {"equipment": "zone.counter", "hours": 1}, "wrong_object_type", "equipment"),
    ("complete_maintenance", {"task": "maintenance_task.nope"}, "object_not_found", "task"),
    ("complete_maintenance", {"task": GRINDER}, "wrong_object_type", "task"),
    ("complete_maintenance", {"task": "<done>"}, "maintenance_task_status_invalid", "task"),
    ("cancel_maintenance", {"task": "<done>"}, "maintenance_task_status_invalid", "task"),
    ("update_maintenance_task", {"task": "<done>"}, "maintenance_task_status_invalid", "task"),
    ("update_maintenance_task", {"task": "<open>", "due": "x"}, "invalid_type", "due"),
    ("check_maintenance", {"equipment": GRINDER}, "unknown_field", "equipment"),
]


async def test_invalid_input_is_refused_and_writes_nothing(
    cafe: ActionEngine, act, dump, clock: Clock
) -> None:
    await act(cafe, "check_maintenance")
    done = (await _open(cafe, GRINDER, "time"))[0]
    await act(cafe, "complete_maintenance", task=done.id)
    still_open = (await _open(cafe, GRINDER, "time"))[0]
    marks = {"<done>": done.id, "<open>": still_open.id}
    before = await dump(cafe)
    for action, raw, key, field in REFUSALS:
        params = {k: marks.get(v, v) if isinstance(v, str) else v for k, v in raw.items()}
        err = await _refused(act, cafe, action, **params)
        assert (action, err.translation_key, err.field) == (action, key, field)
    assert await dump(cafe) == before


def _object(object_id: str, object_type: str, **properties: Any) -> StoreObject:
    return StoreObject(
        id=object_id,
        type=object_type,
        name=object_id,
        properties=properties,
        version=1,
        created_at=START,
        updated_at=START,
    )


def test_next_maintenance_check() -> None:
    now = START
    soon, later = now + timedelta(hours=3), now + timedelta(days=2)
    fridge = _object("equipment.f", "Equipment", maintenance_interval_days=90)
    plug = _object("equipment.p", "Equipment", maintenance_runtime_hours=10, runtime_hours=4)

    def task(key: str, **props: Any) -> StoreObject:
        return _object(f"maintenance_task.{key}", "MaintenanceTask", **{"status": "open", **props})

    clean = task("clean", reason="time", due=to_iso(later))
    filters = task("filters", reason="usage", due_runtime_hours=10)
    pairs = [(clean, fridge.id), (filters, plug.id)]

    assert next_maintenance_check([], [], now) is None
    assert next_maintenance_check([fridge], [], now) == now  # a plan without its task
    assert next_maintenance_check([fridge, plug], pairs, now) == later
    visit = task("visit", reason="manual", due=to_iso(soon))
    assert next_maintenance_check([fridge, plug], [*pairs, (visit, None)], now) == soon
    # a closed task is no task: the plan lacks its open one again
    closed = task("old", reason="time", due=to_iso(soon), status="done")
    assert next_maintenance_check([fridge], [(closed, fridge.id)], now) == now
    # due: time passed, or the hours run
    assert next_maintenance_check([fridge, plug], pairs, later) == later
    ran = _object("equipment.p", "Equipment", maintenance_runtime_hours=10, runtime_hours=10)
    assert next_maintenance_check([fridge, ran], pairs, now) == now
    # announced tasks wait for whoever does them
    announced = task("clean", reason="time", due=to_iso(now), due_announced_at=to_iso(now))
    assert next_maintenance_check([fridge], [(announced, fridge.id)], later) is None
