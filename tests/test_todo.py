"""Tests of CareOn's to-do lists: purchase orders to receive and maintenance to do."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.todo import DOMAIN as TODO_DOMAIN
from homeassistant.const import ATTR_ENTITY_ID, Platform
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    MockUser,
    async_capture_events,
    async_fire_time_changed,
    snapshot_platform,
)
from syrupy.assertion import SnapshotAssertion

from custom_components.careon.core import StoreObject

from .conftest import TIMEZONE, async_run_action, async_settle, async_setup_platform, get_state

PURCHASE_ORDERS = "todo.careon_cafe_purchase_orders"
MAINTENANCE = "todo.careon_cafe_maintenance"
SEOUL = ZoneInfo(TIMEZONE)


async def _object(entry: MockConfigEntry, object_id: str) -> StoreObject:
    async with entry.runtime_data.engine.reader() as ontology:
        obj = await ontology.get(object_id)
    assert obj is not None, object_id
    return obj


async def _by_type(entry: MockConfigEntry, object_type: str) -> list[StoreObject]:
    async with entry.runtime_data.engine.reader() as ontology:
        return await ontology.by_type(object_type)


async def _items(hass: HomeAssistant, entity_id: str) -> list[dict[str, Any]]:
    """The list's items, as the todo.get_items action returns them."""
    response = await hass.services.async_call(
        TODO_DOMAIN,
        "get_items",
        {},
        target={ATTR_ENTITY_ID: entity_id},
        blocking=True,
        return_response=True,
    )
    items: list[dict[str, Any]] = response[entity_id]["items"]  # type: ignore[index, assignment]
    return items


async def _todo(
    hass: HomeAssistant,
    service: str,
    entity_id: str,
    data: dict[str, Any],
    context: Context | None = None,
) -> None:
    await hass.services.async_call(
        TODO_DOMAIN,
        service,
        data,
        target={ATTR_ENTITY_ID: entity_id},
        blocking=True,
        context=context,
    )
    await async_settle(hass)


def _as_sent(item: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """What the frontend sends to update an item (``updateItem`` in its src/data/todo.ts): the
    whole item as shown, with the changes (a new status when it is ticked, edits made in its
    dialog)."""
    shown = item | changes
    data = {"item": shown["uid"], "rename": shown["summary"], "status": shown["status"]}
    if shown.get("description") is not None:
        data["description"] = shown["description"]
    if (due := shown.get("due")) is not None:
        data["due_datetime" if "T" in due else "due_date"] = due
    return data


async def _run_low(entry: MockConfigEntry, hass: HomeAssistant) -> dict[str, Any]:
    """Beans run low; auto_reorder orders them from the roastery."""
    for item, qty in (("inventory_item.espresso_beans", 1000), ("inventory_item.decaf_beans", 400)):
        await async_run_action(hass, entry, "adjust_inventory", item=item, mode="count", qty=qty)
    result = await async_run_action(hass, entry, "auto_reorder")
    (purchase_order,) = result["purchase_orders"]
    return purchase_order  # type: ignore[no-any-return]


@pytest.mark.usefixtures("entity_registry_enabled_by_default", "demo_store")
async def test_todo_lists(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Two lists: purchase orders (none yet) and maintenance (the plans' tasks)."""
    freezer.move_to("2025-04-20 03:00:00+00:00")
    await async_setup_platform(hass, mock_config_entry, Platform.TODO)
    await async_settle(hass)
    await snapshot_platform(hass, entity_registry, snapshot, mock_config_entry.entry_id)
    assert await hass.config_entries.async_unload(mock_config_entry.entry_id)


async def test_check_purchase_order_receives_it(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    hass_admin_user: MockUser,
) -> None:
    """An open order needs action; checking it receives it as the user and stock goes up."""
    ordered = await _run_low(init_integration, hass)
    assert get_state(hass, PURCHASE_ORDERS).state == "1"
    expected_at = dt_util.parse_datetime(ordered["expected_at"])
    assert expected_at == dt_util.utcnow() + timedelta(days=2)
    assert await _items(hass, PURCHASE_ORDERS) == [
        {
            "uid": ordered["purchase_order_id"],
            "summary": "성수로스터리 · 디카페인 원두, 에스프레소 원두",
            "status": "needs_action",
            "due": expected_at.astimezone(SEOUL).isoformat(),
            "description": "디카페인 원두 2000 g\n에스프레소 원두 7000 g",
        }
    ]

    (shown,) = await _items(hass, PURCHASE_ORDERS)
    actions = async_capture_events(hass, "careon_action")
    await _todo(
        hass,
        "update_item",
        PURCHASE_ORDERS,
        _as_sent(shown, status="completed"),
        context=Context(user_id=hass_admin_user.id),
    )
    assert [(e.data["action"], e.data["actor"], e.data["source"]) for e in actions] == [
        ("receive_purchase_order", f"user:{hass_admin_user.id}", "entity")
    ]
    purchase_order = await _object(init_integration, ordered["purchase_order_id"])
    assert purchase_order.get("status") == "received"
    assert (await _object(init_integration, "inventory_item.espresso_beans")).get("on_hand") == 8000
    assert (await _object(init_integration, "inventory_item.decaf_beans")).get("on_hand") == 2400
    assert get_state(hass, PURCHASE_ORDERS).state == "0"
    (item,) = await _items(hass, PURCHASE_ORDERS)
    assert item["status"] == "completed"

    # what was received stays received
    with pytest.raises(ServiceValidationError) as err:
        await _todo(hass, "update_item", PURCHASE_ORDERS, _as_sent(item, status="needs_action"))
    assert err.value.translation_key == "purchase_order_status_invalid"
    assert err.value.translation_placeholders["status"] == "received"

    # received orders show for a week
    freezer.tick(timedelta(days=7, minutes=1))
    async_fire_time_changed(hass)
    await async_settle(hass)
    assert await _items(hass, PURCHASE_ORDERS) == []


async def test_partial_delivery(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """A partly delivered order shows what came; checking it receives the rest."""
    created = await async_run_action(
        hass,
        init_integration,
        "create_purchase_order",
        supplier="supplier.bakery",
        lines=[
            {"item": "inventory_item.croissant", "qty": 10},
            {"item": "inventory_item.cheesecake", "qty": 4},
        ],
    )
    po_id = created["purchase_order_id"]
    await async_run_action(
        hass,
        init_integration,
        "receive_purchase_order",
        purchase_order=po_id,
        lines=[{"item": "inventory_item.croissant", "qty": 5}],
    )
    (item,) = await _items(hass, PURCHASE_ORDERS)
    assert item["summary"] == "동네베이커리 · 크루아상, 치즈케이크"
    assert item["status"] == "needs_action"
    assert item["description"] == "크루아상 5/10 ea\n치즈케이크 4 ea"
    assert item["due"]  # the bakery's lead time

    # the frontend sends the item back as it is shown, with the new status
    await _todo(hass, "update_item", PURCHASE_ORDERS, _as_sent(item, status="completed"))
    purchase_order = await _object(init_integration, po_id)
    assert purchase_order.get("status") == "received"
    assert [line["received"] for line in purchase_order.get("lines")] == [10, 4]
    assert (await _object(init_integration, "inventory_item.croissant")).get("on_hand") == 22
    assert (await _object(init_integration, "inventory_item.cheesecake")).get("on_hand") == 12


async def test_purchase_order_summary_names_its_items(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """An order is summed up by its supplier and, in the store's words, its first items."""
    await async_run_action(
        hass,
        init_integration,
        "create_purchase_order",
        supplier="supplier.bakery",
        lines=[
            {"item": f"inventory_item.{key}", "qty": 2}
            for key in ("croissant", "cheesecake", "sandwich", "hot_cup")
        ],
    )
    (item,) = await _items(hass, PURCHASE_ORDERS)
    assert item["summary"] == "동네베이커리 · 크루아상, 치즈케이크, 햄치즈 샌드위치, …"


async def test_delete_purchase_order_cancels_it(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Deleting an order cancels it; it leaves the list."""
    ordered = await _run_low(init_integration, hass)
    await _todo(hass, "remove_item", PURCHASE_ORDERS, {"item": [ordered["purchase_order_id"]]})
    purchase_order = await _object(init_integration, ordered["purchase_order_id"])
    assert purchase_order.get("status") == "cancelled"
    assert await _items(hass, PURCHASE_ORDERS) == []
    assert get_state(hass, "sensor.careon_cafe_open_purchase_orders").state == "0"


async def test_clearing_a_received_order_keeps_it_in_the_store(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """ "Clear checked items" takes a received order off the list; the store keeps it."""
    ordered = await _run_low(init_integration, hass)
    po_id = ordered["purchase_order_id"]
    (item,) = await _items(hass, PURCHASE_ORDERS)
    await _todo(hass, "update_item", PURCHASE_ORDERS, _as_sent(item, status="completed"))
    assert [item["status"] for item in await _items(hass, PURCHASE_ORDERS)] == ["completed"]
    await _todo(hass, "remove_completed_items", PURCHASE_ORDERS, {})
    assert await _items(hass, PURCHASE_ORDERS) == []
    assert (await _object(init_integration, po_id)).get("status") == "received"


async def test_purchase_order_errors(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """What the list cannot do, and what the store refuses, comes back translated."""
    ordered = await _run_low(init_integration, hass)
    po_id = ordered["purchase_order_id"]
    for change in (
        {"rename": "Beans"},
        {"description": "more beans"},
        {"due_datetime": "2030-01-01 10:00:00"},
    ):
        with pytest.raises(ServiceValidationError) as err:
            await _todo(hass, "update_item", PURCHASE_ORDERS, {"item": po_id, **change})
        assert err.value.translation_key == "managed_property"
    assert (await _object(init_integration, po_id)).get("status") == "draft"

    # someone cancels the order before the list hears of it
    (item,) = await _items(hass, PURCHASE_ORDERS)
    engine = init_integration.runtime_data.engine
    await engine.execute("cancel_purchase_order", {"purchase_order": po_id}, actor="t", source="t")
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            TODO_DOMAIN,
            "update_item",
            _as_sent(item, status="completed"),
            target={ATTR_ENTITY_ID: PURCHASE_ORDERS},
            blocking=True,
        )
    assert err.value.translation_key == "purchase_order_status_invalid"
    await async_settle(hass)


async def test_maintenance_list(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, init_integration: MockConfigEntry
) -> None:
    """The plans' open tasks need action, due first first; usage tasks have no date."""
    await async_settle(hass)  # the plans' tasks opened at setup
    items = await _items(hass, MAINTENANCE)
    assert get_state(hass, MAINTENANCE).state == "7"
    assert [item["summary"] for item in items] == [
        "에스프레소 머신 · 백플러시 및 샤워스크린 세척",
        "그라인더 · 버 청소",
        "제빙기 · 제빙기 살균 세척",
        "컨벡션 오븐 · 내부 세척",
        "쇼케이스 냉장고 · 응축기 먼지 청소",
        "주방 냉장고 · 응축기 먼지 청소",
        "에스프레소 머신 · 그룹 가스켓 교체",
    ]
    assert {item["status"] for item in items} == {"needs_action"}
    now = dt_util.utcnow()
    assert items[0]["due"] == (now + timedelta(days=7)).astimezone(SEOUL).isoformat()
    assert "due" not in items[-1]


async def test_check_task_completes_it(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    hass_admin_user: MockUser,
) -> None:
    """Checking a task completes it (with notes when they changed); the plan's next opens."""
    freezer.tick(timedelta(days=8))
    async_fire_time_changed(hass)
    await async_settle(hass)
    backflush = (await _items(hass, MAINTENANCE))[0]
    assert backflush["summary"] == "에스프레소 머신 · 백플러시 및 샤워스크린 세척"

    assert "description" not in backflush
    await _todo(
        hass,
        "update_item",
        MAINTENANCE,
        _as_sent(backflush, status="completed", description="가스켓 상태 양호"),
        context=Context(user_id=hass_admin_user.id),
    )
    task = await _object(init_integration, backflush["uid"])
    assert task.get("status") == "done"
    assert task.get("completed_by") == f"user:{hass_admin_user.id}"
    assert task.get("notes") == "가스켓 상태 양호"
    machine = await _object(init_integration, "equipment.espresso_machine")
    assert machine.get("last_maintenance") == task.get("completed_at")

    items = await _items(hass, MAINTENANCE)
    done = [item for item in items if item["status"] == "completed"]
    assert [(item["uid"], item["description"]) for item in done] == [
        (backflush["uid"], "가스켓 상태 양호")
    ]
    following = [item for item in items if item["summary"] == backflush["summary"]]
    assert len(following) == 2
    next_due = (dt_util.utcnow() + timedelta(days=7)).astimezone(SEOUL).isoformat()
    assert [item["due"] for item in following if item["status"] == "needs_action"] == [next_due]

    # done stays done
    (shown,) = done
    with pytest.raises(ServiceValidationError) as err:
        await _todo(hass, "update_item", MAINTENANCE, _as_sent(shown, status="needs_action"))
    assert err.value.translation_key == "maintenance_task_status_invalid"


async def test_check_task_with_edits_only_completes_it(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """A task ticked in its dialog together with other edits is only completed, in one action:
    a due moved into the past is not announced first, the name stays; the notes are kept."""
    await async_settle(hass)
    grinder = next(
        item for item in await _items(hass, MAINTENANCE) if item["summary"] == "그라인더 · 버 청소"
    )
    before = await _object(init_integration, grinder["uid"])
    yesterday = (dt_util.utcnow() - timedelta(days=1)).astimezone(SEOUL).isoformat()
    actions = async_capture_events(hass, "careon_action")
    due = async_capture_events(hass, "careon_maintenance_due")
    await _todo(
        hass,
        "update_item",
        MAINTENANCE,
        _as_sent(
            grinder,
            status="completed",
            summary="그라인더 · 버 분해 청소",
            due=yesterday,
            description="솔 사용",
        ),
    )
    assert [event.data["action"] for event in actions] == ["complete_maintenance"]
    assert due == []
    task = await _object(init_integration, grinder["uid"])
    assert task.get("status") == "done"
    assert task.get("notes") == "솔 사용"
    assert task.name == before.name
    assert task.get("due") == before.get("due")
    assert not task.get("due_announced_at")


async def test_add_task(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, init_integration: MockConfigEntry
) -> None:
    """A new item is a one-off task: for the equipment its summary starts with, due at the
    start of its day in the store, or by the end of the store's day without a day."""
    # 01:00 in the store: still the day before in UTC
    tomorrow = dt_util.utcnow().astimezone(SEOUL).date() + timedelta(days=1)
    freezer.move_to(datetime.combine(tomorrow, time(1), SEOUL))
    async_fire_time_changed(hass)
    await async_settle(hass)
    due = async_capture_events(hass, "careon_maintenance_due")
    await _todo(
        hass,
        "add_item",
        MAINTENANCE,
        {"item": "제빙기 · 필터 교체", "due_date": "2030-04-25", "description": "필터 2개"},
    )
    await _todo(hass, "add_item", MAINTENANCE, {"item": "창문 청소"})

    tasks = {task.name: task for task in await _by_type(init_integration, "MaintenanceTask")}
    filter_task = tasks["필터 교체"]
    assert filter_task.get("reason") == "manual"
    assert filter_task.get("due") == "2030-04-24T15:00:00.000000+00:00"
    assert filter_task.get("notes") == "필터 2개"
    async with init_integration.runtime_data.engine.reader() as ontology:
        links = await ontology.links_from([filter_task.id], "for")
    assert [link.target_id for link in links] == ["equipment.ice_maker"]
    windows = tasks["창문 청소"]
    assert windows.get("reason") == "manual"
    # the store's next midnight, not now: nothing is due yet
    store_midnight = datetime.combine(tomorrow + timedelta(days=1), time(), SEOUL)
    assert windows.get("due") == store_midnight.astimezone(dt_util.UTC).isoformat(
        timespec="microseconds"
    )
    assert not windows.get("due_announced_at")
    assert due == []

    items = {item["summary"]: item for item in await _items(hass, MAINTENANCE)}
    assert items["제빙기 · 필터 교체"]["due"] == "2030-04-25T00:00:00+09:00"
    assert items["제빙기 · 필터 교체"]["description"] == "필터 2개"
    assert items["창문 청소"]["status"] == "needs_action"
    assert items["창문 청소"]["due"] == store_midnight.isoformat()


async def test_edit_task(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """A new summary, due time or description edits the task."""
    await async_settle(hass)
    grinder = next(
        item for item in await _items(hass, MAINTENANCE) if item["summary"] == "그라인더 · 버 청소"
    )
    await _todo(
        hass,
        "update_item",
        MAINTENANCE,
        {
            "item": grinder["uid"],
            "rename": "그라인더 · 버 분해 청소",
            "due_datetime": "2030-05-01 09:30:00+09:00",
            "description": "솔 사용",
        },
    )
    task = await _object(init_integration, grinder["uid"])
    assert task.name == "버 분해 청소"
    assert task.get("due") == "2030-05-01T00:30:00.000000+00:00"
    assert task.get("notes") == "솔 사용"
    item = next(item for item in await _items(hass, MAINTENANCE) if item["uid"] == task.id)
    assert item["summary"] == "그라인더 · 버 분해 청소"
    assert item["due"] == "2030-05-01T09:30:00+09:00"

    # the same day again changes nothing; a date moves it to the start of that day
    await _todo(hass, "update_item", MAINTENANCE, {"item": task.id, "due_date": "2030-05-01"})
    assert (await _object(init_integration, task.id)).version == task.version
    await _todo(hass, "update_item", MAINTENANCE, {"item": task.id, "due_date": "2030-05-03"})
    assert (await _object(init_integration, task.id)).get("due") == (
        "2030-05-02T15:00:00.000000+00:00"
    )

    with pytest.raises(ServiceValidationError) as err:
        await _todo(hass, "update_item", MAINTENANCE, {"item": task.id, "due_datetime": None})
    assert err.value.translation_key == "missing_field"


async def test_delete_task_cancels_it(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Deleting cancels: a one-off task goes; a plan's task is replaced by the next one."""
    await _todo(hass, "add_item", MAINTENANCE, {"item": "창문 청소", "due_date": "2030-01-01"})
    items = {item["summary"]: item for item in await _items(hass, MAINTENANCE)}
    windows = items["창문 청소"]["uid"]
    oven = items["컨벡션 오븐 · 내부 세척"]["uid"]

    await _todo(hass, "remove_item", MAINTENANCE, {"item": [windows, oven]})
    assert (await _object(init_integration, windows)).get("status") == "cancelled"
    assert (await _object(init_integration, oven)).get("status") == "cancelled"
    items = {item["uid"]: item for item in await _items(hass, MAINTENANCE)}
    assert windows not in items
    assert oven not in items
    assert [item["summary"] for item in items.values()].count("컨벡션 오븐 · 내부 세척") == 1

    # a task done is history: clearing it takes it off the list, and it stays done
    (done,) = [uid for uid in items if items[uid]["summary"] == "그라인더 · 버 청소"]
    await _todo(hass, "update_item", MAINTENANCE, _as_sent(items[done], status="completed"))
    assert done in {item["uid"] for item in await _items(hass, MAINTENANCE)}
    await _todo(hass, "remove_completed_items", MAINTENANCE, {})
    assert done not in {item["uid"] for item in await _items(hass, MAINTENANCE)}
    assert (await _object(init_integration, done)).get("status") == "done"
