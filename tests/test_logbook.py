"""Tests of how CareOn's events read in the logbook."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

from homeassistant.components.logbook.const import LOGBOOK_ENTRY_MESSAGE, LOGBOOK_ENTRY_NAME
from homeassistant.core import Event, HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.careon.const import DOMAIN
from custom_components.careon.logbook import async_describe_events

from .conftest import async_call_careon

Describe = Callable[[Event], dict[str, str]]
Act = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def describers(hass: HomeAssistant) -> dict[str, Describe]:
    """What CareOn registers with the logbook, by event type."""
    found: dict[str, Describe] = {}

    def register(domain: str, event_type: str, describe: Describe) -> None:
        assert domain == DOMAIN
        found[event_type] = describe

    async_describe_events(hass, register)
    return found


@pytest.fixture
async def events(
    hass: HomeAssistant, init_integration: MockConfigEntry, describers: dict[str, Describe]
) -> dict[str, list[Event]]:
    """CareOn's events after the store is set up, by event type."""
    return {event_type: async_capture_events(hass, event_type) for event_type in describers}


@pytest.fixture
def act(hass: HomeAssistant, init_integration: MockConfigEntry) -> Act:
    """Run an action on the store and let the entities catch up."""
    return partial(async_call_careon, hass, init_integration)


def _message(describers: dict[str, Describe], event_type: str, **data: Any) -> str:
    entry = describers[event_type](Event(event_type, data))
    return entry[LOGBOOK_ENTRY_MESSAGE]


async def test_messages_from_actions(
    describers: dict[str, Describe], events: dict[str, list[Event]], act: Act
) -> None:
    """Real events of real actions read well, under the store's name."""
    order = await act(
        "place_order", lines=[{"product": "product.croissant", "qty": 8}], number="A-17"
    )
    await act("cancel_order", order=order["order_id"], reason="customer left")
    order = await act("place_order", lines=[{"product": "product.croissant"}], number="A-18")
    await act("refund_order", order=order["order_id"], restock=False)
    await act("receive_stock", lines=[{"item": "inventory_item.milk", "qty": 1000}])
    await act(
        "adjust_inventory", item="inventory_item.cheesecake", mode="count", qty=0, reason="dropped"
    )
    await act("update_availability", product="product.latte_hot", available=False)
    await act("update_availability", product="product.latte_hot", available=True)

    def describe(event_type: str, index: int = 0) -> dict[str, str]:
        return describers[event_type](events[event_type][index])

    assert describe("careon_order_placed") == {
        LOGBOOK_ENTRY_NAME: "CareOn Cafe",
        LOGBOOK_ENTRY_MESSAGE: "order A-17 placed: 8 item(s), 30,400 KRW (here, from service)",
    }
    assert describe("careon_order_cancelled")[LOGBOOK_ENTRY_MESSAGE] == (
        "order A-17 cancelled, stock restored (customer left)"
    )
    assert describe("careon_order_refunded")[LOGBOOK_ENTRY_MESSAGE] == "order A-18 refunded"
    assert describe("careon_stock_low")[LOGBOOK_ENTRY_MESSAGE] == (
        "크루아상 is running low: 4 ea left (reorder point 4)"
    )
    assert describe("careon_stock_received")[LOGBOOK_ENTRY_MESSAGE] == (
        "stock received: 우유 +1,000"
    )
    assert describe("careon_inventory_adjusted")[LOGBOOK_ENTRY_MESSAGE] == (
        "치즈케이크 count: 8 → 0 (dropped)"
    )
    messages = [
        describers["careon_product_availability_changed"](event)[LOGBOOK_ENTRY_MESSAGE]
        for event in events["careon_product_availability_changed"]
    ]
    assert messages == [
        "뉴욕 치즈케이크 is off sale: out of 치즈케이크",
        "카페라떼 (HOT) is off sale (switched off by hand)",
        "카페라떼 (HOT) is on sale again (switched on)",
    ]
    assert describe("careon_action")[LOGBOOK_ENTRY_MESSAGE] == (
        "place_order by homeassistant (from service)"
    )


def test_messages_of_other_sources(describers: dict[str, Describe]) -> None:
    """POS shortfalls and restocked products, and events of an entry that is gone."""
    data: Mapping[str, Any] = {
        "entry_id": "gone",
        "number": "P-9",
        "items": [{"name": "크루아상", "missing": 3}, {"name": "우유", "missing": 1200.5}],
    }
    event = Event("careon_stock_shortfall", data)
    assert describers["careon_stock_shortfall"](event) == {
        LOGBOOK_ENTRY_NAME: "CareOn",
        LOGBOOK_ENTRY_MESSAGE: "order P-9 needed more than was in stock: 크루아상 -3, 우유 -1,200.5",
    }
    assert (
        _message(
            describers,
            "careon_product_availability_changed",
            name="버터 크루아상",
            available=True,
            reason="restocked",
        )
        == "버터 크루아상 is on sale again (restocked)"
    )
    assert _message(
        describers, "careon_order_placed", number="1", total="free", lines=[], channel="here"
    ).startswith("order 1 placed: 0 item(s), free KRW")


async def test_messages_of_operations(
    describers: dict[str, Describe], events: dict[str, list[Event]], act: Act
) -> None:
    """Purchase orders, stock outs, maintenance and alarms read well."""

    def messages(event_type: str) -> list[str]:
        return [
            describers[event_type](event)[LOGBOOK_ENTRY_MESSAGE] for event in events[event_type]
        ]

    await act("adjust_inventory", item="inventory_item.cheesecake", mode="count", qty=0)
    await act("adjust_inventory", item="inventory_item.ice", mode="count", qty=1000)
    [order] = (await act("auto_reorder"))["purchase_orders"]
    await act("approve_purchase_order", purchase_order=order["purchase_order_id"])
    await act(
        "receive_purchase_order",
        purchase_order=order["purchase_order_id"],
        lines=[{"item": "inventory_item.cheesecake", "qty": 4}],
    )
    await act("receive_purchase_order", purchase_order=order["purchase_order_id"])
    manual = await act(
        "create_purchase_order",
        supplier="supplier.dairy",
        lines=[{"item": "inventory_item.milk", "qty": 6000}],
        approve=True,
    )
    await act("cancel_purchase_order", purchase_order=manual["purchase_order_id"])

    await act("record_runtime", equipment="equipment.espresso_machine", hours=600.04)
    [task] = [
        event.data["task_id"]
        for event in events["careon_maintenance_due"]
        if event.data["reason"] == "usage"
    ]
    await act("complete_maintenance", task=task)
    one_off = await act(
        "schedule_maintenance",
        equipment="equipment.oven",
        name="배기 필터 점검",
        due="2030-01-01T00:00:00+09:00",
    )
    await act("cancel_maintenance", task=one_off["tasks"][0]["task_id"])

    alarm = await act(
        "raise_alarm",
        kind="cold_chain",
        subject="equipment.display_fridge",
        value=7.5,
        limit=5,
        unit="°C",
    )
    await act("acknowledge_alarm", alarm=alarm["alarm_id"])
    await act("escalate_alarm", alarm=alarm["alarm_id"], notified=["김사장"], severity="critical")
    await act("resolve_alarm", alarm=alarm["alarm_id"])
    await act("raise_alarm", kind="power", message="차단기 내려감")

    bakery = f"동네베이커리 {order['name'].rsplit(' ', 1)[1]}"
    dairy = manual["name"]
    assert messages("careon_stock_out") == [
        "치즈케이크 is out of stock (0 ea): 뉴욕 치즈케이크 off sale"
    ]
    assert messages("careon_reorder_needs_supplier") == ["cannot reorder without a supplier: 얼음"]
    assert messages("careon_purchase_order_created") == [
        f"purchase order {bakery} drafted (reorder): 1 item(s), 29,000 KRW",
        f"purchase order {dairy} placed (by hand): 1 item(s), 18,000 KRW",
    ]
    assert messages("careon_purchase_order_approved") == [
        f"purchase order {bakery} approved: ordered from 동네베이커리 by message",
        f"purchase order {dairy} approved: ordered from 서울우유 대리점 by phone",
    ]
    assert messages("careon_purchase_order_received") == [
        f"purchase order {bakery} partly received; to come: 치즈케이크 6 ea",
        f"purchase order {bakery} received in full",
    ]
    assert messages("careon_purchase_order_cancelled") == [f"purchase order {dairy} cancelled"]
    assert messages("careon_maintenance_due") == [
        "에스프레소 머신: 그룹 가스켓 교체 is due after 600 h of running"
    ]
    assert messages("careon_maintenance_completed") == ["에스프레소 머신: 그룹 가스켓 교체 done"]
    assert messages("careon_maintenance_cancelled") == ["컨벡션 오븐: 배기 필터 점검 cancelled"]
    assert messages("careon_alarm") == [
        "warning cold_chain alarm on 쇼케이스 냉장고 raised: 7.5°C (limit 5°C)",
        "warning cold_chain alarm on 쇼케이스 냉장고 acknowledged",
        "critical cold_chain alarm on 쇼케이스 냉장고 escalated to level 1, told 김사장",
        "critical cold_chain alarm on 쇼케이스 냉장고 resolved",
        "warning power alarm raised: 차단기 내려감",
    ]
    assert describers["careon_alarm"](events["careon_alarm"][0])[LOGBOOK_ENTRY_NAME] == (
        "CareOn Cafe"
    )


def test_messages_of_time_maintenance(describers: dict[str, Describe]) -> None:
    """A task due by the calendar, one without equipment, a stock out with nothing off sale."""
    assert (
        _message(
            describers,
            "careon_maintenance_due",
            name="제빙기 살균 세척",
            equipment="제빙기",
            reason="time",
            due="2025-05-01T00:00:00+00:00",
        )
        == "제빙기: 제빙기 살균 세척 is due"
    )
    assert (
        _message(describers, "careon_maintenance_due", name="간판 교체", reason="manual")
        == "간판 교체 is due"
    )
    assert (
        _message(
            describers, "careon_stock_out", name="종이 빨대", on_hand=-2, unit="ea", products=[]
        )
        == "종이 빨대 is out of stock (-2 ea)"
    )


async def test_messages_of_card_sales(
    hass: HomeAssistant,
    describers: dict[str, Describe],
    events: dict[str, list[Event]],
    act: Act,
    tmp_path: Path,
) -> None:
    """A card-sales import and a reconciliation read well."""
    hass.config.allowlist_external_dirs = {str(tmp_path)}
    path = tmp_path / "card_sales.csv"
    path.write_bytes(
        "\n".join(
            [
                "승인일시,승인번호,승인금액,승인구분,카드사",
                "2025-04-20 12:03:00,00012345,5000,승인,신한카드",
                "2025-04-20 12:03:00,00012345,5000,승인,신한카드",
                "2025-04-20 13:00:00,00012346,12500,승인,KB국민카드",
                "2025-04-20 18:00:00,00012346,12500,취소,KB국민카드",
                "합계,,30000,,",
            ]
        ).encode("cp949")
    )
    await act("import_card_sales", file=str(path))
    await act(
        "place_order",
        lines=[{"product": "product.latte_hot"}],
        placed_at="2025-04-20T12:00:00+09:00",
    )
    await act("reconcile", date="2025-04-20")

    def describe(event_type: str) -> str:
        [event] = events[event_type]
        return describers[event_type](event)[LOGBOOK_ENTRY_MESSAGE]

    assert describe("careon_card_sales_imported") == (
        "card sales imported from card_sales.csv: 3 new, 1 already imported, 1 row(s) skipped; "
        "approved 17,500 KRW, cancelled 12,500 KRW"
    )
    assert describe("careon_reconciled") == (
        "payments reconciled: 1 matched (1 by amount), 1 payment(s) without an order, "
        "0 order(s) without a payment"
    )


def test_messages_of_connectors(describers: dict[str, Describe]) -> None:
    """POS orders, unmapped POS items and payments from the vendors read well."""
    assert (
        _message(
            describers,
            "careon_order_completed",
            order_id="order.1",
            number="A-001",
            total=9500,
            source="toss_place",
        )
        == "order A-001 completed: 9,500 KRW (from toss_place)"
    )
    assert (
        _message(
            describers,
            "careon_pos_item_unmapped",
            product_id="product.x",
            title="흑임자 라떼",
            code="BLK-01",
            source="toss_place",
        )
        == "POS item 흑임자 라떼 (code BLK-01) matched no product: added as a new product to map "
        "or keep (from toss_place)"
    )
    assert (
        _message(
            describers,
            "careon_payment_recorded",
            payment_id="payment.1",
            amount=4500,
            method="easy_pay",
            status="approved",
            order_id=None,
            source="nice_payments",
        )
        == "easy pay payment of 4,500 KRW approved (from nice_payments), no order matched yet"
    )
    assert (
        _message(
            describers,
            "careon_payment_recorded",
            payment_id="payment.2",
            amount=9500,
            method="card",
            status="approved",
            order_id="order.1",
            source="toss_place",
        )
        == "card payment of 9,500 KRW approved (from toss_place)"
    )
    assert (
        _message(
            describers,
            "careon_payment_cancelled",
            payment_id="payment.2",
            amount=9500,
            order_id="order.1",
            refunded=True,
        )
        == "payment of 9,500 KRW cancelled, order refunded"
    )
    assert (
        _message(
            describers,
            "careon_reconciled",
            matched={"reference": 2, "approval_no": 0, "amount": 1},
            unmatched_payments=0,
            orders_without_payment=3,
        )
        == "payments reconciled: 3 matched (2 by reference, 1 by amount), "
        "0 payment(s) without an order, 3 order(s) without a payment"
    )


async def test_messages_of_a_pos_sale(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    describers: dict[str, Describe],
    events: dict[str, list[Event]],
    act: Act,
) -> None:
    """A POS order with an item no product matches, its payment, its refund and the item
    settled read well (real events of the connectors' actions)."""
    engine = init_integration.runtime_data.engine

    async def sync(action: str, engine_source: str, **params: Any) -> None:
        await engine.execute(action, params, actor="connector:toss_place", source=engine_source)

    order = {
        "source": "toss_place",
        "external_id": "620000000000000001",
        "number": "A-001",
        "placed_at": "2025-04-20T12:00:00+09:00",
        "total": 9500,
        "lines": [
            {"title": "흑임자 라떼", "code": "BLK-01", "unit_price": 5700},
            {"title": "버터 크루아상", "unit_price": 3800},
        ],
    }
    await sync("sync_order", "pos", state="open", **order)
    await sync(
        "sync_payment",
        "payment",
        source="toss_place",
        external_id="640000000000000001",
        order_ref="620000000000000001",
        method="card",
        status="approved",
        amount=9500,
    )
    await sync(
        "sync_order", "pos", state="completed", completed_at="2025-04-20T12:05:00+09:00", **order
    )
    await sync(
        "sync_payment",
        "payment",
        source="toss_place",
        external_id="640000000000000001",
        order_ref="620000000000000001",
        method="card",
        status="cancelled",
        amount=9500,
        cancelled_amount=9500,
    )
    [unmapped] = events["careon_pos_item_unmapped"]
    await act("resolve_unmapped_product", product=unmapped.data["product_id"])

    def describe(event_type: str) -> list[str]:
        return [
            describers[event_type](event)[LOGBOOK_ENTRY_MESSAGE] for event in events[event_type]
        ]

    assert describe("careon_pos_item_unmapped") == [
        "POS item 흑임자 라떼 (code BLK-01) matched no product: added as a new product to map "
        "or keep (from toss_place)"
    ]
    assert describe("careon_payment_recorded") == [
        "card payment of 9,500 KRW approved (from toss_place)"
    ]
    assert describe("careon_order_completed") == ["order A-001 completed: 9,500 KRW (from pos)"]
    assert describe("careon_payment_cancelled") == [
        "payment of 9,500 KRW cancelled, order refunded"
    ]
    assert describe("careon_unmapped_product_resolved") == [
        "POS item 흑임자 라떼 kept as a new product"
    ]
