"""Tests of how CareOn's events read in the logbook."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from homeassistant.components.logbook.const import LOGBOOK_ENTRY_MESSAGE, LOGBOOK_ENTRY_NAME
from homeassistant.core import Event, HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.careon.const import DOMAIN
from custom_components.careon.logbook import async_describe_events

from .conftest import async_settle

Describe = Callable[[Event], dict[str, str]]


@pytest.fixture
def describers(hass: HomeAssistant) -> dict[str, Describe]:
    """What CareOn registers with the logbook, by event type."""
    found: dict[str, Describe] = {}

    def register(domain: str, event_type: str, describe: Describe) -> None:
        assert domain == DOMAIN
        found[event_type] = describe

    async_describe_events(hass, register)
    return found


def _message(describers: dict[str, Describe], event_type: str, **data: Any) -> str:
    entry = describers[event_type](Event(event_type, data))
    return entry[LOGBOOK_ENTRY_MESSAGE]


async def test_messages_from_actions(
    hass: HomeAssistant, init_integration: MockConfigEntry, describers: dict[str, Describe]
) -> None:
    """Real events of real actions read well, under the store's name."""
    events = {event_type: async_capture_events(hass, event_type) for event_type in describers}
    entry_id = init_integration.entry_id

    async def act(action: str, **data: Any) -> dict[str, Any]:
        response = await hass.services.async_call(
            DOMAIN,
            action,
            {"config_entry_id": entry_id, **data},
            blocking=True,
            return_response=True,
        )
        await async_settle(hass)
        assert response is not None
        return dict(response)

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
