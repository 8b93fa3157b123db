"""Describe CareOn's events in the logbook."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from homeassistant.components.logbook.const import LOGBOOK_ENTRY_MESSAGE, LOGBOOK_ENTRY_NAME
from homeassistant.core import Event, HomeAssistant, callback

from .const import DOMAIN, EVENT_ACTION, EVENT_PREFIX

DescribeEvent = Callable[[str, str, Callable[[Event], dict[str, str]]], None]


def _amount(value: Any) -> str:
    """12000 -> '12,000'; anything else as it is."""
    return f"{value:,}" if isinstance(value, int | float) else str(value)


def _items(items: Iterable[Mapping[str, Any]], key: str, sign: str = "") -> str:
    return ", ".join(f"{item.get('name')} {sign}{_amount(item.get(key))}" for item in items)


def _order_placed(data: Mapping[str, Any]) -> str:
    count = sum(int(line.get("qty", 1)) for line in data.get("lines", []))
    return (
        f"order {data.get('number')} placed: {count} item(s), "
        f"{_amount(data.get('total'))} KRW ({data.get('channel')}, from {data.get('source')})"
    )


def _order_closed(verb: str) -> Callable[[Mapping[str, Any]], str]:
    def describe(data: Mapping[str, Any]) -> str:
        message = f"order {data.get('number')} {verb}"
        if data.get("restocked"):
            message += ", stock restored"
        if data.get("reason"):
            message += f" ({data['reason']})"
        return message

    return describe


def _stock_low(data: Mapping[str, Any]) -> str:
    return (
        f"{data.get('name')} is running low: {_amount(data.get('on_hand'))} {data.get('unit')} "
        f"left (reorder point {_amount(data.get('reorder_point'))})"
    )


def _stock_shortfall(data: Mapping[str, Any]) -> str:
    return (
        f"order {data.get('number')} needed more than was in stock: "
        f"{_items(data.get('items', []), 'missing', '-')}"
    )


def _stock_received(data: Mapping[str, Any]) -> str:
    return f"stock received: {_items(data.get('items', []), 'received', '+')}"


def _inventory_adjusted(data: Mapping[str, Any]) -> str:
    message = (
        f"{data.get('name')} {data.get('mode')}: {_amount(data.get('on_hand_before'))} → "
        f"{_amount(data.get('on_hand'))}"
    )
    if data.get("reason"):
        message += f" ({data['reason']})"
    return message


def _availability_changed(data: Mapping[str, Any]) -> str:
    if data.get("available"):
        reason = "restocked" if data.get("reason") == "restocked" else "switched on"
        return f"{data.get('name')} is on sale again ({reason})"
    if data.get("missing"):
        return f"{data.get('name')} is off sale: out of {', '.join(data['missing'])}"
    return f"{data.get('name')} is off sale (switched off by hand)"


def _action(data: Mapping[str, Any]) -> str:
    return f"{data.get('action')} by {data.get('actor')} (from {data.get('source')})"


DESCRIPTIONS: Mapping[str, Callable[[Mapping[str, Any]], str]] = {
    EVENT_ACTION: _action,
    f"{EVENT_PREFIX}order_placed": _order_placed,
    f"{EVENT_PREFIX}order_cancelled": _order_closed("cancelled"),
    f"{EVENT_PREFIX}order_refunded": _order_closed("refunded"),
    f"{EVENT_PREFIX}stock_low": _stock_low,
    f"{EVENT_PREFIX}stock_shortfall": _stock_shortfall,
    f"{EVENT_PREFIX}stock_received": _stock_received,
    f"{EVENT_PREFIX}inventory_adjusted": _inventory_adjusted,
    f"{EVENT_PREFIX}product_availability_changed": _availability_changed,
}


@callback
def async_describe_events(hass: HomeAssistant, async_describe_event: DescribeEvent) -> None:
    """Describe CareOn's events."""

    def _describe(
        message_fn: Callable[[Mapping[str, Any]], str],
    ) -> Callable[[Event], dict[str, str]]:
        @callback
        def describe(event: Event) -> dict[str, str]:
            entry = hass.config_entries.async_get_entry(event.data.get("entry_id", ""))
            return {
                LOGBOOK_ENTRY_NAME: entry.title if entry else "CareOn",
                LOGBOOK_ENTRY_MESSAGE: message_fn(event.data),
            }

        return describe

    for event_type, message_fn in DESCRIPTIONS.items():
        async_describe_event(DOMAIN, event_type, _describe(message_fn))
