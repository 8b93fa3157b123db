"""Tests of CareOn's automation blueprints, run by Home Assistant's own blueprint machinery.

Each blueprint is loaded and validated by HA's blueprint loader and instantiated with
``use_blueprint`` in a real automation. The tests drive the triggers for real (orders and stock
moves through CareOn's services, ``mobile_app_notification_action`` events, sensor states, time
passing) and assert the effect in the store, read through the engine. Only the edge is faked: the
phones are notify actions that record what they were sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from datetime import timedelta
import logging
from pathlib import Path
import shutil
import time
from typing import Any, Final

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components import persistent_notification
from homeassistant.components.automation import DOMAIN as AUTOMATION_DOMAIN
from homeassistant.components.automation.helpers import async_get_blueprints
from homeassistant.components.blueprint import Blueprint
from homeassistant.const import (
    ATTR_ENTITY_ID,
    ENTITY_MATCH_ALL,
    SERVICE_TURN_OFF,
    STATE_ON,
)
from homeassistant.core import (
    DOMAIN as HOMEASSISTANT_DOMAIN,
    HomeAssistant,
    ServiceCall,
    callback,
)
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.careon.const import DOMAIN

from .conftest import ENTRY_ID, TIMEZONE, async_call_careon, get_state

BLUEPRINT_SOURCE = Path(__file__).parent.parent / "blueprints" / "automation" / "careon"
BLUEPRINTS = ("auto_reorder", "sold_out", "maintenance", "cold_chain_alarm")
OWNER_PHONE = "mobile_app_owner"
STAFF_PHONE = "mobile_app_counter"

# A clock freezegun leaves alone (it replaces the time functions it finds in modules, even a
# module's own reference to the real one).
REAL_CLOCK: Final = {"monotonic": time.monotonic}

# where a failing automation run or a template problem is logged
WATCHED_LOGGERS = (
    "homeassistant.components.automation",
    "homeassistant.helpers.script",
    "homeassistant.helpers.template",
    "homeassistant.helpers.event",
    "homeassistant.components.homeassistant.triggers",
)

NOW = "2025-04-21 01:00:00+00:00"  # a Monday, 10:00 in Seoul


@pytest.fixture(autouse=True)
def blueprint_folder(hass: HomeAssistant, tmp_path: Path) -> Path:
    """A configuration folder holding CareOn's blueprints, as a user who imported them has."""
    config_dir = tmp_path / "config"
    folder = config_dir / "blueprints" / "automation" / "careon"
    shutil.copytree(BLUEPRINT_SOURCE, folder)  # the README comes along, as it would
    hass.config.config_dir = str(config_dir)
    return folder


class Phone:
    """A notify action standing in for a phone: it keeps what it was sent."""

    def __init__(self, hass: HomeAssistant, service: str) -> None:
        """Register the notify action."""
        self.sent: list[dict[str, Any]] = []
        hass.services.async_register("notify", service, self._async_receive)

    @callback
    def _async_receive(self, call: ServiceCall) -> None:
        self.sent.append(dict(call.data))

    def actions(self, message: Mapping[str, Any]) -> list[str]:
        """The action ids of an actionable notification."""
        return [action["action"] for action in message.get("data", {}).get("actions", [])]


@pytest.fixture
def now(freezer: FrozenDateTimeFactory) -> FrozenDateTimeFactory:
    """Time stands still at NOW (request it before the store, so the store starts then)."""
    freezer.move_to(NOW)
    return freezer


@pytest.fixture
async def shown(hass: HomeAssistant) -> dict[str, Mapping[str, Any]]:
    """The persistent notifications Home Assistant shows now, by id."""
    assert await async_setup_component(hass, persistent_notification.DOMAIN, {})
    notifications: dict[str, Mapping[str, Any]] = {}

    @callback
    def _async_update(
        update_type: persistent_notification.UpdateType,
        changed: dict[str, persistent_notification.Notification],
    ) -> None:
        if update_type is persistent_notification.UpdateType.REMOVED:
            for notification_id in changed:
                notifications.pop(notification_id, None)
        else:
            notifications.update(changed)

    persistent_notification.async_register_callback(hass, _async_update)
    return notifications


@pytest.fixture
def owner(hass: HomeAssistant) -> Phone:
    """The owner's phone."""
    return Phone(hass, OWNER_PHONE)


@pytest.fixture
def staff(hass: HomeAssistant) -> Phone:
    """The counter's phone (the staff)."""
    return Phone(hass, STAFF_PHONE)


type UseBlueprint = Callable[[str, dict[str, Any]], Awaitable[str]]


@pytest.fixture
async def use_blueprint(
    hass: HomeAssistant, init_integration: MockConfigEntry, caplog: pytest.LogCaptureFixture
) -> AsyncGenerator[UseBlueprint]:
    """Set up an automation from a CareOn blueprint in the demo cafe; stopped afterwards.

    The automation is stopped before the store is unloaded: a run still waiting (for a
    button, a temperature, time) would otherwise keep ``async_block_till_done`` waiting.
    """
    # the homeassistant.turn_on/turn_off actions (always there outside tests)
    assert await async_setup_component(hass, HOMEASSISTANT_DOMAIN, {})
    configs: list[dict[str, Any]] = []

    async def _use(name: str, inputs: dict[str, Any]) -> str:
        assert not configs, "one automation per test"
        configs.append(
            {
                "id": name,
                "alias": name,
                "use_blueprint": {"path": f"careon/{name}.yaml", "input": inputs},
            }
        )
        assert await async_setup_component(hass, AUTOMATION_DOMAIN, {AUTOMATION_DOMAIN: configs})
        await hass.async_block_till_done()
        entity_id = f"automation.{name}"
        assert get_state(hass, entity_id).state == STATE_ON
        return entity_id

    yield _use
    if configs:
        await hass.services.async_call(
            AUTOMATION_DOMAIN,
            SERVICE_TURN_OFF,
            {ATTR_ENTITY_ID: ENTITY_MATCH_ALL, "stop_actions": True},
            blocking=True,
        )
    # no run failed, no template stumbled
    assert not [
        record.getMessage()
        for record in caplog.get_records("call")
        if record.levelno >= logging.WARNING and record.name.startswith(WATCHED_LOGGERS)
    ]


async def _call(
    hass: HomeAssistant, entry: MockConfigEntry, service: str, **data: Any
) -> dict[str, Any]:
    """Call a CareOn action. (Not settled: async_block_till_done would wait for the
    automation runs that are waiting.)"""
    return await async_call_careon(hass, entry, service, settle=False, **data)


async def _until(predicate: Callable[[], bool | Awaitable[bool]], what: str) -> None:
    """Run the event loop until ``predicate`` holds.

    ``hass.async_block_till_done`` would wait for the automation runs that wait for a
    notification button or a temperature, so the tests wait for what they expect instead.
    """
    clock = REAL_CLOCK["monotonic"]
    deadline = clock() + 30
    while True:
        holds = predicate()
        if holds if isinstance(holds, bool) else await holds:
            return
        assert clock() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0)


async def _spin(rounds: int = 100) -> None:
    """Let the event loop run a few rounds (work that needs no database)."""
    for _ in range(rounds):
        await asyncio.sleep(0)


async def _idle(hass: HomeAssistant, automation: str) -> None:
    """Wait until an automation has no run left (running or queued)."""
    await _spin()
    # "current": the runs in progress (script.ATTR_CUR up to 2025.x, an enum member since)
    await _until(
        lambda: get_state(hass, automation).attributes.get("current", 0) == 0, f"{automation} idle"
    )


def _listening(hass: HomeAssistant, event_type: str) -> int:
    """How many listeners (automations, waits) an event type has."""
    return hass.bus.async_listeners().get(event_type, 0)


async def _object(entry: MockConfigEntry, object_id: str) -> dict[str, Any]:
    """An object as the store has it now."""
    engine = entry.runtime_data.engine
    async with engine.reader() as ontology:
        obj = await ontology.get(object_id)
    assert obj is not None, object_id
    return obj.as_dict()


async def _objects(entry: MockConfigEntry, object_type: str) -> list[dict[str, Any]]:
    """Every object of a type, as the store has them now."""
    engine = entry.runtime_data.engine
    async with engine.reader() as ontology:
        return [obj.as_dict() for obj in await ontology.by_type(object_type)]


async def _linked(entry: MockConfigEntry, object_id: str, link_type: str) -> list[str]:
    """The ids an object links to."""
    engine = entry.runtime_data.engine
    async with engine.reader() as ontology:
        return [target.id for _, target in await ontology.linked([object_id], link_type)]


async def _tick(hass: HomeAssistant, freezer: FrozenDateTimeFactory, delta: timedelta) -> None:
    """Let time pass: timers (waits, timeouts, ``for``) due by then fire."""
    freezer.tick(delta)
    async_fire_time_changed(hass, dt_util.utcnow())
    await _spin()


async def test_blueprints_load(hass: HomeAssistant, blueprint_folder: Path) -> None:
    """Home Assistant's loader validates every blueprint; each input is described."""
    results = await async_get_blueprints(hass).async_get_blueprints()
    assert set(results) == {f"careon/{name}.yaml" for name in BLUEPRINTS}
    for path, blueprint in results.items():
        assert isinstance(blueprint, Blueprint), (path, blueprint)
        assert blueprint.validate() is None
        metadata = blueprint.metadata
        assert metadata["domain"] == AUTOMATION_DOMAIN
        assert metadata["description"]
        assert metadata["homeassistant"]["min_version"] == "2024.10.0"
        assert metadata["source_url"].endswith(f"/blueprints/automation/{path}")
        assert blueprint.inputs["store"]["selector"] == {"config_entry": {"integration": DOMAIN}}
        for key, spec in blueprint.inputs.items():
            assert spec["name"], (path, key)
            assert spec["description"], (path, key)
            assert spec["selector"], (path, key)


def _asks(phone: Phone) -> list[dict[str, Any]]:
    """The actionable notifications a phone got."""
    return [message for message in phone.sent if phone.actions(message)]


def _tagged(phone: Phone, tag: str) -> list[dict[str, Any]]:
    """What a phone got under one tag (a later one replaces an earlier one on the phone)."""
    return [message for message in phone.sent if message.get("data", {}).get("tag") == tag]


async def _reorder(hass: HomeAssistant, entry: MockConfigEntry) -> dict[str, dict[str, Any]]:
    """Sell cheesecakes and sandwiches (the bakery's) and count the milk (the dairy's) low.

    Returns the purchase orders drafted, by supplier id, once the owner was asked about each.
    """
    await _call(
        hass,
        entry,
        "place_order",
        lines=[
            {"product": "product.cheesecake", "qty": 5},
            {"product": "product.sandwich", "qty": 4},
        ],
    )
    await _call(hass, entry, "adjust_inventory", item="inventory_item.milk", mode="count", qty=5000)
    # each ask waits for Approve, Skip, or the order being decided elsewhere (two listeners)
    await _until(lambda: _listening(hass, "mobile_app_notification_action") == 4, "two asks")
    orders = await _objects(entry, "PurchaseOrder")
    assert len(orders) == 2  # the second stock_low found the bakery's items on order
    by_supplier = {(await _linked(entry, order["id"], "for"))[0]: order for order in orders}
    assert set(by_supplier) == {"supplier.bakery", "supplier.dairy"}
    return by_supplier


async def test_auto_reorder_approve_and_skip(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    use_blueprint: UseBlueprint,
    owner: Phone,
) -> None:
    """Low stock drafts one order per supplier; the owner approves one and skips the other."""
    entry = init_integration
    await use_blueprint(
        "auto_reorder", {"store": entry.entry_id, "owner_notify": f"notify.{OWNER_PHONE}"}
    )
    orders = await _reorder(hass, entry)
    bakery, dairy = orders["supplier.bakery"]["id"], orders["supplier.dairy"]["id"]
    assert {order["properties"]["status"] for order in orders.values()} == {"draft"}

    asks = {message["data"]["tag"]: message for message in _asks(owner)}
    assert set(asks) == {f"careon_{bakery}", f"careon_{dairy}"}
    ask = asks[f"careon_{bakery}"]
    assert ask["title"] == "Purchase order to approve: 동네베이커리"
    assert ask["message"] == "- 치즈케이크 7 ea\n- 햄치즈 샌드위치 6 ea\nTotal ₩40,100"
    assert owner.actions(ask) == [f"CAREON_APPROVE_{bakery}", f"CAREON_SKIP_{bakery}"]
    assert [action["title"] for action in ask["data"]["actions"]] == ["Approve", "Skip"]
    assert owner.actions(asks[f"careon_{dairy}"]) == [
        f"CAREON_APPROVE_{dairy}",
        f"CAREON_SKIP_{dairy}",
    ]
    assert asks[f"careon_{dairy}"]["message"] == "- 우유 19000 ml\nTotal ₩57,000"

    hass.bus.async_fire("mobile_app_notification_action", {"action": f"CAREON_APPROVE_{bakery}"})
    hass.bus.async_fire("mobile_app_notification_action", {"action": f"CAREON_SKIP_{dairy}"})
    await _until(lambda: len(owner.sent) == 4, "the confirmations")

    ordered = await _object(entry, bakery)
    assert ordered["properties"]["status"] == "ordered"
    assert ordered["properties"]["approved_at"]
    assert (await _object(entry, dairy))["properties"]["status"] == "cancelled"

    (confirmation,) = _tagged(owner, f"careon_{bakery}")[1:]
    assert confirmation["title"] == "Ordered: 동네베이커리"
    # the text to send the supplier
    assert confirmation["message"].splitlines()[1:] == [
        "- 치즈케이크 7 ea",
        "- 햄치즈 샌드위치 6 ea",
    ]
    assert "actions" not in confirmation["data"]
    (skipped,) = _tagged(owner, f"careon_{dairy}")[1:]
    assert skipped["title"] == "Order skipped: 서울우유 대리점"
    assert _listening(hass, "mobile_app_notification_action") == 0


@pytest.mark.parametrize(
    ("on_timeout", "status", "title"),
    [
        ("approve", "ordered", "Ordered: 동네베이커리"),
        ("cancel", "cancelled", "Order skipped: 동네베이커리"),
        ("leave", "draft", "Order waiting: 동네베이커리"),
    ],
)
async def test_auto_reorder_timeout(
    now: FrozenDateTimeFactory,
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    use_blueprint: UseBlueprint,
    owner: Phone,
    on_timeout: str,
    status: str,
    title: str,
) -> None:
    """Nobody answers: the order is approved, cancelled or left as a draft, as chosen."""
    entry = init_integration
    await use_blueprint(
        "auto_reorder",
        {
            "store": entry.entry_id,
            "owner_notify": f"notify.{OWNER_PHONE}",
            "answer_timeout": {"hours": 2, "minutes": 0, "seconds": 0},
            "on_timeout": on_timeout,
        },
    )
    orders = await _reorder(hass, entry)
    bakery = orders["supplier.bakery"]["id"]

    await _tick(hass, now, timedelta(hours=1, minutes=59))
    assert len(owner.sent) == 2  # still waiting
    await _tick(hass, now, timedelta(minutes=2))
    await _until(lambda: len(owner.sent) == 4, "what became of the orders")

    assert (await _object(entry, bakery))["properties"]["status"] == status
    (outcome,) = _tagged(owner, f"careon_{bakery}")[1:]
    assert outcome["title"] == title
    assert outcome["message"].startswith("No answer in time") or on_timeout == "leave"


async def test_auto_reorder_decided_elsewhere(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    use_blueprint: UseBlueprint,
    owner: Phone,
) -> None:
    """An order received or cancelled elsewhere (the Purchase orders list) takes its buttons
    off the phone; a low item without a supplier is reported (in Korean, here)."""
    entry = init_integration
    await use_blueprint(
        "auto_reorder",
        {"store": entry.entry_id, "owner_notify": f"notify.{OWNER_PHONE}", "language": "ko"},
    )
    orders = await _reorder(hass, entry)
    bakery, dairy = orders["supplier.bakery"]["id"], orders["supplier.dairy"]["id"]
    ask = _tagged(owner, f"careon_{bakery}")[0]
    assert ask["title"] == "발주 승인 요청: 동네베이커리"
    assert ask["message"].endswith("합계 ₩40,100")
    assert [action["title"] for action in ask["data"]["actions"]] == ["승인", "건너뛰기"]

    # the bakery's delivery arrives unannounced and is checked off; the milk order is deleted
    await _call(hass, entry, "receive_purchase_order", purchase_order=bakery)
    await _call(hass, entry, "cancel_purchase_order", purchase_order=dairy)
    await _until(lambda: len(owner.sent) == 4, "the buttons taken down")
    for order_id in (bakery, dairy):
        assert _tagged(owner, f"careon_{order_id}")[1] == {
            "message": "clear_notification",
            "data": {"tag": f"careon_{order_id}"},
        }
    assert (await _object(entry, bakery))["properties"]["status"] == "received"
    assert (await _object(entry, dairy))["properties"]["status"] == "cancelled"
    # a late tap changes nothing
    hass.bus.async_fire("mobile_app_notification_action", {"action": f"CAREON_SKIP_{bakery}"})
    await _spin()
    assert (await _object(entry, bakery))["properties"]["status"] == "received"

    # the ice maker's ice has no supplier; the milk skipped above is low still, so it is
    # drafted (and asked about) again
    await _call(hass, entry, "adjust_inventory", item="inventory_item.ice", mode="count", qty=3000)
    await _until(lambda: len(owner.sent) == 6, "the missing supplier reported")
    (report,) = _tagged(owner, "careon_low_inventory_item.ice")
    assert report["title"] == "재고 부족 · 공급처 없음"
    assert report["message"].startswith("얼음 재고가 3000 g")
    drafts = [
        order
        for order in await _objects(entry, "PurchaseOrder")
        if order["properties"]["status"] == "draft"
    ]
    assert [order["name"].split(" ")[0] for order in drafts] == ["서울우유"]
    assert len(_tagged(owner, f"careon_{drafts[0]['id']}")) == 1


def _switch(hass: HomeAssistant, product_id: str) -> str:
    """The entity id of a product's "On sale" switch."""
    entity_id = er.async_get(hass).async_get_entity_id(
        "switch", DOMAIN, f"{ENTRY_ID}_{product_id}_availability"
    )
    assert entity_id is not None
    return entity_id


async def _available(entry: MockConfigEntry, product_id: str) -> bool:
    """Whether the store has a product on sale."""
    return bool((await _object(entry, product_id))["properties"].get("available", True))


async def _unavailable(entry: MockConfigEntry, product_id: str) -> bool:
    return not await _available(entry, product_id)


async def test_sold_out_and_back(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    use_blueprint: UseBlueprint,
    staff: Phone,
) -> None:
    """The last cheesecake sold: staff told, the dessert set switched off too; the bakery's
    delivery brings both back."""
    entry = init_integration
    dessert_set = _switch(hass, "product.sandwich")  # stands in for a set menu
    automation = await use_blueprint(
        "sold_out",
        {
            "store": entry.entry_id,
            "staff_notify": f"notify.{STAFF_PHONE}",
            "extra_entities": [dessert_set],
        },
    )

    await _call(hass, entry, "place_order", lines=[{"product": "product.cheesecake", "qty": 8}])
    await _idle(hass, automation)
    (sold_out,) = staff.sent
    assert sold_out["title"] == "Sold out: 치즈케이크"
    assert sold_out["message"] == "치즈케이크 ran out (0 ea).\nNot available now: 뉴욕 치즈케이크"
    assert sold_out["data"]["tag"] == "careon_out_inventory_item.cheesecake"
    assert not await _available(entry, "product.cheesecake")  # CareOn's own doing
    assert not await _available(entry, "product.sandwich")  # the blueprint's

    order = await _call(
        hass,
        entry,
        "create_purchase_order",
        supplier="supplier.bakery",
        lines=[{"item": "inventory_item.cheesecake", "qty": 10}],
        approve=True,
    )
    await _call(hass, entry, "receive_purchase_order", purchase_order=order["purchase_order_id"])
    await _idle(hass, automation)
    assert await _available(entry, "product.cheesecake")
    assert await _available(entry, "product.sandwich")
    # switching the set back on by hand is nothing to announce
    assert [(message["title"], message["message"]) for message in staff.sent[1:]] == [
        ("Back on sale: 뉴욕 치즈케이크", "뉴욕 치즈케이크 is available again.")
    ]


async def test_sold_out_watched_items(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    use_blueprint: UseBlueprint,
    staff: Phone,
) -> None:
    """Only the watched items count; the extras stay off until none of them is out."""
    entry = init_integration
    dessert_set = _switch(hass, "product.sandwich")
    automation = await use_blueprint(
        "sold_out",
        {
            "store": entry.entry_id,
            "staff_notify": f"notify.{STAFF_PHONE}",
            "items": ["치즈케이크", "inventory_item.croissant"],
            "extra_entities": [dessert_set],
            "language": "ko",
        },
    )

    async def adjust(item: str, qty: int) -> None:
        await _call(
            hass, entry, "adjust_inventory", item=f"inventory_item.{item}", mode="count", qty=qty
        )
        await _idle(hass, automation)

    # the milk runs out: not watched
    await adjust("milk", 0)
    assert not await _available(entry, "product.latte_hot")
    assert staff.sent == []
    assert await _available(entry, "product.sandwich")

    # both watched items run out (a stock count)
    await adjust("cheesecake", 0)
    await adjust("croissant", 0)
    assert [message["title"] for message in staff.sent] == ["품절: 치즈케이크", "품절: 크루아상"]
    assert (
        staff.sent[1]["message"] == "크루아상 재고가 떨어졌습니다 (0 ea).\n판매 중지: 버터 크루아상"
    )
    assert not await _available(entry, "product.sandwich")

    # the cheesecakes come back, the croissants are still out: the set stays off
    await adjust("cheesecake", 5)
    assert [message["title"] for message in staff.sent[2:]] == ["판매 재개: 뉴욕 치즈케이크"]
    assert not await _available(entry, "product.sandwich")
    # the milk comes back: not watched, not announced
    await adjust("milk", 9000)
    assert await _available(entry, "product.latte_hot")
    assert len(staff.sent) == 3
    assert not await _available(entry, "product.sandwich")

    await _call(
        hass, entry, "receive_stock", lines=[{"item": "inventory_item.croissant", "qty": 10}]
    )
    await _idle(hass, automation)
    assert await _available(entry, "product.sandwich")
    assert [message["title"] for message in staff.sent[3:]] == ["판매 재개: 버터 크루아상"]


async def _open_tasks(entry: MockConfigEntry) -> dict[str, dict[str, Any]]:
    """The store's open maintenance tasks, by name."""
    return {
        task["name"]: task
        for task in await _objects(entry, "MaintenanceTask")
        if task["properties"]["status"] == "open"
    }


async def test_maintenance_done_button(
    now: FrozenDateTimeFactory,
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    use_blueprint: UseBlueprint,
    owner: Phone,
    shown: dict[str, Mapping[str, Any]],
) -> None:
    """600 running hours: the gasket task is due, the reminder's Done completes it, the
    reminders come down."""
    entry = init_integration
    await use_blueprint("maintenance", {"store": entry.entry_id, "notify": f"notify.{OWNER_PHONE}"})
    await _call(hass, entry, "record_runtime", equipment="equipment.espresso_machine", hours=600)
    await _until(lambda: _listening(hass, "mobile_app_notification_action") == 1, "the reminder")

    task = (await _open_tasks(entry))["그룹 가스켓 교체"]
    assert task["properties"]["due_announced_at"]
    tag = f"careon_{task['id']}"
    (reminder,) = owner.sent
    assert reminder["title"] == "Maintenance due: 에스프레소 머신"
    assert reminder["message"] == "그룹 가스켓 교체 (after 600 running hours)"
    assert reminder["data"]["tag"] == tag
    assert owner.actions(reminder) == [f"CAREON_MAINTENANCE_DONE_{task['id']}"]
    assert shown[tag]["title"] == "Maintenance due: 에스프레소 머신"

    hass.bus.async_fire(
        "mobile_app_notification_action", {"action": f"CAREON_MAINTENANCE_DONE_{task['id']}"}
    )
    await _until(lambda: len(owner.sent) == 2, "the reminder cleared")
    assert owner.sent[1] == {"message": "clear_notification", "data": {"tag": tag}}
    assert tag not in shown

    done = await _object(entry, task["id"])
    assert done["properties"]["status"] == "done"
    assert done["properties"]["completed_at"]
    espresso = await _object(entry, "equipment.espresso_machine")
    assert espresso["properties"]["runtime_hours"] == 0
    assert espresso["properties"]["status"] == "ok"
    # the plan's next gasket change is open, not yet due
    following = (await _open_tasks(entry))["그룹 가스켓 교체"]
    assert following["id"] != task["id"]
    assert "due_announced_at" not in following["properties"]


async def _reminder_cleared(hass: HomeAssistant, owner: Phone, task_id: str, *, sent: int) -> None:
    """The ``sent``-th message to the owner takes the task's reminder down, and the Done
    button no longer waits."""
    await _until(lambda: len(owner.sent) == sent, "the reminder cleared")
    assert owner.sent[sent - 1] == {
        "message": "clear_notification",
        "data": {"tag": f"careon_{task_id}"},
    }
    await _until(lambda: _listening(hass, "mobile_app_notification_action") == 0, "no wait")


async def test_maintenance_done_elsewhere_and_digest(
    now: FrozenDateTimeFactory,
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    use_blueprint: UseBlueprint,
    owner: Phone,
    shown: dict[str, Mapping[str, Any]],
) -> None:
    """A task done from the to-do list takes its reminders down; the daily digest lists what
    is due today and overdue (in Korean, here)."""
    await hass.config.async_update(time_zone=TIMEZONE)
    entry = init_integration
    await use_blueprint(
        "maintenance",
        {
            "store": entry.entry_id,
            "notify": f"notify.{OWNER_PHONE}",
            "persistent": False,
            "daily_digest": True,
            "digest_time": "11:00:00",
            "language": "ko",
        },
    )
    yesterday = dt_util.now() - timedelta(days=1)
    for name, equipment, due in (
        ("필터 교체", "equipment.ice_maker", yesterday),
        ("도어 패킹 점검", "equipment.display_fridge", dt_util.now() + timedelta(hours=5)),
        ("오븐 램프 교체", "equipment.oven", dt_util.now() + timedelta(days=3)),
    ):
        await _call(
            hass, entry, "schedule_maintenance", equipment=equipment, name=name, due=due.isoformat()
        )
    # the overdue one is announced at once
    await _until(lambda: _listening(hass, "mobile_app_notification_action") == 1, "a reminder")
    overdue = (await _open_tasks(entry))["필터 교체"]
    (reminder,) = owner.sent
    assert reminder["title"] == "정비 필요: 제빙기"
    assert [action["title"] for action in reminder["data"]["actions"]] == ["완료"]
    assert shown == {}  # no persistent notification asked for

    await _tick(hass, now, timedelta(hours=1, minutes=1))  # 11:01 in Seoul
    await _until(lambda: len(owner.sent) == 2, "the digest")
    digest = owner.sent[1]
    assert digest["title"] == "오늘의 정비: 2"
    assert digest["message"].splitlines() == [
        f"- 제빙기: 필터 교체 · {yesterday.date().isoformat()} (지남)",
        f"- 쇼케이스 냉장고: 도어 패킹 점검 · {dt_util.now().date().isoformat()}",
    ]
    assert digest["data"]["tag"] == "careon_maintenance_digest"

    # done from the Maintenance to-do list (or anywhere): the Done button is gone
    await _call(hass, entry, "complete_maintenance", task=overdue["id"])
    await _reminder_cleared(hass, owner, overdue["id"], sent=3)
    assert (await _object(entry, overdue["id"]))["properties"]["status"] == "done"

    # cancelled from the list: its reminder comes down too
    await _call(
        hass,
        entry,
        "schedule_maintenance",
        equipment="equipment.oven",
        name="배기 필터 점검",
        due=yesterday.isoformat(),
    )
    await _until(lambda: len(owner.sent) == 4, "a second reminder")
    cancelled = (await _open_tasks(entry))["배기 필터 점검"]
    await _call(hass, entry, "cancel_maintenance", task=cancelled["id"])
    await _reminder_cleared(hass, owner, cancelled["id"], sent=5)
    assert (await _object(entry, cancelled["id"]))["properties"]["status"] == "cancelled"


FRIDGE_SENSOR = "sensor.display_fridge_temperature"


async def _fridge(hass: HomeAssistant, celsius: float) -> None:
    """The display fridge's thermometer reads ``celsius`` (and whoever listens has heard)."""
    hass.states.async_set(
        FRIDGE_SENSOR,
        str(celsius),
        {
            "unit_of_measurement": "°C",
            "device_class": "temperature",
            "friendly_name": "쇼케이스 냉장고 온도",
        },
    )
    await _spin()


async def _alarms(entry: MockConfigEntry) -> list[dict[str, Any]]:
    return await _objects(entry, "Alarm")


@pytest.fixture
def backup_cooling(hass: HomeAssistant) -> list[ServiceCall]:
    """The automatic response: a (recorded) backup fan."""
    calls: list[ServiceCall] = []
    hass.services.async_register("test", "backup_cooling", calls.append)
    return calls


async def _cold_chain(
    hass: HomeAssistant, entry: MockConfigEntry, use_blueprint: UseBlueprint, **inputs: Any
) -> None:
    await _fridge(hass, 3.0)
    await use_blueprint(
        "cold_chain_alarm",
        {
            "store": entry.entry_id,
            "temperature_sensor": FRIDGE_SENSOR,
            "equipment": "equipment.display_fridge",
            "owner_notify": f"notify.{OWNER_PHONE}",
            "automatic_response": [{"action": "test.backup_cooling", "data": {"fan": "high"}}],
            **inputs,
        },
    )


async def test_cold_chain_recovers(
    now: FrozenDateTimeFactory,
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    use_blueprint: UseBlueprint,
    owner: Phone,
    backup_cooling: list[ServiceCall],
) -> None:
    """Too warm for 15 minutes: alarm raised, backup fan on; cool again for 5 minutes within
    the window: alarm resolved."""
    entry = init_integration
    await _cold_chain(hass, entry, use_blueprint)

    await _fridge(hass, 7.5)
    await _tick(hass, now, timedelta(minutes=14))
    assert await _alarms(entry) == []
    await _tick(hass, now, timedelta(minutes=1, seconds=1))
    await _until(lambda: len(backup_cooling) == 1, "the automatic response")
    (alarm,) = await _alarms(entry)
    assert alarm["properties"] | {"raised_at": None} == {
        "kind": "cold_chain",
        "severity": "warning",
        "status": "active",
        "escalation_level": 0,
        "notified": [],
        "raised_at": None,
        "message": "쇼케이스 냉장고 온도: 7.5 °C > 5 °C",
        "entity": FRIDGE_SENSOR,
        "value": 7.5,
        "limit": 5,
        "unit": "°C",
    }
    assert await _linked(entry, alarm["id"], "about") == ["equipment.display_fridge"]
    assert backup_cooling[0].data == {"fan": "high"}
    (warning,) = owner.sent
    assert warning["title"] == "Cold chain warning: 쇼케이스 냉장고 온도"
    assert warning["data"] == {"tag": f"careon_{alarm['id']}", "group": "careon_alarms"}

    await _fridge(hass, 4.0)
    await _tick(hass, now, timedelta(minutes=4))
    assert (await _object(entry, alarm["id"]))["properties"]["status"] == "active"
    await _tick(hass, now, timedelta(minutes=1, seconds=1))
    await _until(lambda: len(owner.sent) == 2, "the recovery told")

    resolved = await _object(entry, alarm["id"])
    assert resolved["properties"]["status"] == "resolved"
    assert resolved["properties"]["resolution"] == "Recovered: 4.0 °C"
    assert resolved["properties"]["escalation_level"] == 0
    assert owner.sent[1]["title"] == "Cold chain recovered: 쇼케이스 냉장고 온도"
    assert owner.sent[1]["message"] == "쇼케이스 냉장고 온도 is back to 4.0 °C."
    assert not [
        task
        for task in (await _open_tasks(entry)).values()
        if task["properties"]["reason"] == "alarm"
    ]


async def test_cold_chain_escalates(
    now: FrozenDateTimeFactory,
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    use_blueprint: UseBlueprint,
    owner: Phone,
    backup_cooling: list[ServiceCall],
) -> None:
    """No recovery within the window (a brief dip does not count): escalated to critical, the
    owner alerted critically, a task for the technician; resolved when it finally recovers."""
    entry = init_integration
    technician = await _call(
        hass, entry, "create_object", object_type="Supplier", name="냉동공조 AS", key="fridge_as"
    )
    await _cold_chain(hass, entry, use_blueprint, technician=technician["object_id"])

    await _fridge(hass, 9.0)
    await _tick(hass, now, timedelta(minutes=15, seconds=1))
    await _until(lambda: len(owner.sent) == 1, "the alarm")
    (alarm,) = await _alarms(entry)
    await _spin()

    await _tick(hass, now, timedelta(minutes=10))
    await _fridge(hass, 4.5)  # the backup fan helps a little...
    await _tick(hass, now, timedelta(minutes=2))
    await _fridge(hass, 6.5)  # ...not enough
    await _tick(hass, now, timedelta(minutes=17))
    assert (await _object(entry, alarm["id"]))["properties"]["escalation_level"] == 0
    await _tick(hass, now, timedelta(minutes=2))
    await _until(lambda: len(owner.sent) == 2, "the critical alert")

    escalated = (await _object(entry, alarm["id"]))["properties"]
    assert escalated["status"] == "active"
    assert escalated["severity"] == "critical"
    assert escalated["escalation_level"] == 1
    assert [(entry_["level"], entry_["who"]) for entry_ in escalated["notified"]] == [(1, "owner")]
    (task,) = [
        task
        for task in (await _open_tasks(entry)).values()
        if task["properties"]["reason"] == "alarm"
    ]
    assert task["name"] == "Check the cooling (cold-chain alarm)"
    assert task["properties"]["alarm"] == alarm["id"]
    assert await _linked(entry, task["id"], "for") == ["equipment.display_fridge"]
    assert await _linked(entry, task["id"], "assigned_to") == [technician["object_id"]]

    critical = owner.sent[1]
    assert critical["title"] == "Cold chain critical: 쇼케이스 냉장고 온도"
    assert "Check the cooling (cold-chain alarm)" in critical["message"]
    assert critical["data"] == {
        "tag": f"careon_{alarm['id']}",
        "group": "careon_alarms",
        "ttl": 0,
        "priority": "high",
        "channel": "alarm_stream",
        "push": {
            "interruption-level": "critical",
            "sound": {"name": "default", "critical": 1, "volume": 1.0},
        },
    }
    assert len(backup_cooling) == 1

    # the technician fixes it: resolved once it stays cool
    await _fridge(hass, 3.5)
    await _tick(hass, now, timedelta(minutes=5, seconds=1))
    await _until(lambda: len(owner.sent) == 3, "the recovery told")
    resolved = (await _object(entry, alarm["id"]))["properties"]
    assert resolved["status"] == "resolved"
    assert resolved["resolution"] == "Recovered after the escalation: 3.5 °C"


async def test_cold_chain_sensor_only(
    now: FrozenDateTimeFactory,
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    use_blueprint: UseBlueprint,
    owner: Phone,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """No equipment, no technician, a failing automatic response: the alarm is about the
    sensor, the escalation still happens and its task is unassigned (in Korean, here)."""

    def _fan_offline(call: ServiceCall) -> None:
        raise HomeAssistantError("the backup fan is offline")

    hass.services.async_register("test", "backup_cooling", _fan_offline)
    entry = init_integration
    await _cold_chain(
        hass,
        entry,
        use_blueprint,
        equipment="",
        recover_within={"hours": 0, "minutes": 10, "seconds": 0},
        language="ko",
    )
    await _fridge(hass, 9.0)
    await _tick(hass, now, timedelta(minutes=15, seconds=1))
    await _until(lambda: len(owner.sent) == 1, "the alarm")
    (alarm,) = await _alarms(entry)
    assert alarm["name"] == f"{FRIDGE_SENSOR} · cold_chain"
    assert alarm["properties"]["entity"] == FRIDGE_SENSOR
    assert await _linked(entry, alarm["id"], "about") == []
    assert owner.sent[0]["title"] == "냉장 온도 경고: 쇼케이스 냉장고 온도"
    await _spin()  # the (failing) response, then the wait for recovery

    await _tick(hass, now, timedelta(minutes=10))
    await _until(lambda: len(owner.sent) == 2, "the critical alert")
    escalated = (await _object(entry, alarm["id"]))["properties"]
    assert (escalated["severity"], escalated["escalation_level"]) == ("critical", 1)
    (task,) = [
        task
        for task in (await _open_tasks(entry)).values()
        if task["properties"]["reason"] == "alarm"
    ]
    assert task["name"] == "냉장 온도 이상 점검"
    assert await _linked(entry, task["id"], "for") == []
    assert await _linked(entry, task["id"], "assigned_to") == []
    assert owner.sent[1]["title"] == "냉장 온도 위험: 쇼케이스 냉장고 온도"
    assert owner.sent[1]["data"]["push"]["sound"]["critical"] == 1

    # the failed automatic response was logged, and nothing else went wrong
    failed = [
        record
        for record in caplog.records
        if record.levelno >= logging.WARNING and "the backup fan is offline" in record.getMessage()
    ]
    assert failed
    for record in failed:
        caplog.records.remove(record)
