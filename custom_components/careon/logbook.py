"""Describe CareOn's events in the logbook."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from homeassistant.components.logbook.const import LOGBOOK_ENTRY_MESSAGE, LOGBOOK_ENTRY_NAME
from homeassistant.core import Event, HomeAssistant, callback

from .const import DOMAIN, EVENT_ACTION, EVENT_PREFIX
from .core.fields import normalise_number

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


def _order_completed(data: Mapping[str, Any]) -> str:
    message = f"order {data.get('number')} completed: {_amount(data.get('total'))} KRW"
    if data.get("source"):
        message += f" (from {data['source']})"
    return message


def _pos_item_unmapped(data: Mapping[str, Any]) -> str:
    code = f" (code {data['code']})" if data.get("code") else ""
    return (
        f"POS item {data.get('title')}{code} matched no product: added as a new product "
        f"to map or keep (from {data.get('source')})"
    )


def _unmapped_product_resolved(data: Mapping[str, Any]) -> str:
    if data.get("mapped_to"):
        return f"POS item {data.get('name')} mapped to {data['mapped_to']}"
    return f"POS item {data.get('name')} kept as a new product"


def _payment_recorded(data: Mapping[str, Any]) -> str:
    method = str(data.get("method") or "").replace("_", " ")
    message = (
        f"{method} payment of {_amount(data.get('amount'))} KRW {data.get('status')} "
        f"(from {data.get('source')})"
    )
    if not data.get("order_id"):
        message += ", no order matched yet"
    return message.lstrip()


def _payment_cancelled(data: Mapping[str, Any]) -> str:
    message = f"payment of {_amount(data.get('amount'))} KRW cancelled"
    if data.get("refunded"):
        message += ", order refunded"
    return message


def _card_sales_imported(data: Mapping[str, Any]) -> str:
    message = f"card sales imported from {data.get('file_name')}: {data.get('imported')} new"
    if data.get("duplicates"):
        message += f", {data['duplicates']} already imported"
    if data.get("skipped"):
        message += f", {data['skipped']} row(s) skipped"
    message += f"; approved {_amount(data.get('approved_amount'))} KRW"
    if data.get("cancelled_amount"):
        message += f", cancelled {_amount(data['cancelled_amount'])} KRW"
    return message


def _reconciled(data: Mapping[str, Any]) -> str:
    matched: Mapping[str, Any] = data.get("matched") or {}
    rules = ", ".join(
        f"{count} by {rule.replace('_', ' ')}" for rule, count in matched.items() if count
    )
    total = sum(count for count in matched.values() if isinstance(count, int))
    return (
        f"payments reconciled: {total} matched{f' ({rules})' if rules else ''}, "
        f"{data.get('unmatched_payments')} payment(s) without an order, "
        f"{data.get('orders_without_payment')} order(s) without a payment"
    )


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


def _stock_out(data: Mapping[str, Any]) -> str:
    message = (
        f"{data.get('name')} is out of stock ({_amount(data.get('on_hand'))} {data.get('unit')})"
    )
    if products := data.get("products"):
        message += f": {', '.join(str(p.get('name')) for p in products)} off sale"
    return message


def _purchase_order_created(data: Mapping[str, Any]) -> str:
    verb = "placed" if data.get("status") == "ordered" else "drafted"
    origin = "reorder" if data.get("origin") == "auto_reorder" else "by hand"
    return (
        f"purchase order {data.get('name')} {verb} ({origin}): "
        f"{len(data.get('lines', []))} item(s), {_amount(data.get('total_cost'))} KRW"
    )


def _purchase_order_approved(data: Mapping[str, Any]) -> str:
    message = f"purchase order {data.get('name')} approved: ordered from {data.get('supplier')}"
    if data.get("order_method"):
        message += f" by {data['order_method']}"
    return message


def _purchase_order_cancelled(data: Mapping[str, Any]) -> str:
    return f"purchase order {data.get('name')} cancelled"


def _purchase_order_received(data: Mapping[str, Any]) -> str:
    if data.get("complete"):
        return f"purchase order {data.get('name')} received in full"
    outstanding = [
        f"{line.get('name')} {_amount(remaining)} {line.get('unit') or ''}".rstrip()
        for line in data.get("lines", [])
        if isinstance(line.get("qty"), int | float)
        and isinstance(line.get("received"), int | float)
        and (remaining := normalise_number(line["qty"] - line["received"])) > 0
    ]
    return f"purchase order {data.get('name')} partly received; to come: {', '.join(outstanding)}"


def _reorder_needs_supplier(data: Mapping[str, Any]) -> str:
    names = ", ".join(str(item.get("name")) for item in data.get("items", []))
    return f"cannot reorder without a supplier: {names}"


def _hours(value: Any) -> str:
    return (
        _amount(normalise_number(round(value, 1))) if isinstance(value, int | float) else str(value)
    )


def _maintenance_due(data: Mapping[str, Any]) -> str:
    subject = f"{data['equipment']}: " if data.get("equipment") else ""
    message = f"{subject}{data.get('name')} is due"
    if data.get("reason") == "usage":
        message += f" after {_hours(data.get('runtime_hours'))} h of running"
    return message


def _maintenance_completed(data: Mapping[str, Any]) -> str:
    subject = f"{data['equipment']}: " if data.get("equipment") else ""
    return f"{subject}{data.get('name')} done"


def _maintenance_cancelled(data: Mapping[str, Any]) -> str:
    subject = f"{data['equipment']}: " if data.get("equipment") else ""
    return f"{subject}{data.get('name')} cancelled"


def _alarm(data: Mapping[str, Any]) -> str:
    about = f" on {data['subject']}" if data.get("subject") else ""
    alarm = f"{data.get('severity')} {data.get('kind')} alarm{about}"
    match data.get("phase"):
        case "raised":
            message = f"{alarm} raised"
            if data.get("value") is not None and data.get("limit") is not None:
                unit = data.get("unit") or ""
                message += (
                    f": {_amount(data['value'])}{unit} (limit {_amount(data['limit'])}{unit})"
                )
            elif data.get("message"):
                message += f": {data['message']}"
            return message
        case "escalated":
            message = f"{alarm} escalated to level {data.get('escalation_level')}"
            if data.get("notified"):
                message += f", told {', '.join(data['notified'])}"
            return message
        case phase:
            return f"{alarm} {phase}"


def _action(data: Mapping[str, Any]) -> str:
    return f"{data.get('action')} by {data.get('actor')} (from {data.get('source')})"


DESCRIPTIONS: Mapping[str, Callable[[Mapping[str, Any]], str]] = {
    EVENT_ACTION: _action,
    f"{EVENT_PREFIX}order_placed": _order_placed,
    f"{EVENT_PREFIX}order_cancelled": _order_closed("cancelled"),
    f"{EVENT_PREFIX}order_refunded": _order_closed("refunded"),
    f"{EVENT_PREFIX}order_completed": _order_completed,
    f"{EVENT_PREFIX}pos_item_unmapped": _pos_item_unmapped,
    f"{EVENT_PREFIX}unmapped_product_resolved": _unmapped_product_resolved,
    f"{EVENT_PREFIX}payment_recorded": _payment_recorded,
    f"{EVENT_PREFIX}payment_cancelled": _payment_cancelled,
    f"{EVENT_PREFIX}card_sales_imported": _card_sales_imported,
    f"{EVENT_PREFIX}reconciled": _reconciled,
    f"{EVENT_PREFIX}stock_low": _stock_low,
    f"{EVENT_PREFIX}stock_shortfall": _stock_shortfall,
    f"{EVENT_PREFIX}stock_received": _stock_received,
    f"{EVENT_PREFIX}inventory_adjusted": _inventory_adjusted,
    f"{EVENT_PREFIX}product_availability_changed": _availability_changed,
    f"{EVENT_PREFIX}stock_out": _stock_out,
    f"{EVENT_PREFIX}purchase_order_created": _purchase_order_created,
    f"{EVENT_PREFIX}purchase_order_approved": _purchase_order_approved,
    f"{EVENT_PREFIX}purchase_order_cancelled": _purchase_order_cancelled,
    f"{EVENT_PREFIX}purchase_order_received": _purchase_order_received,
    f"{EVENT_PREFIX}reorder_needs_supplier": _reorder_needs_supplier,
    f"{EVENT_PREFIX}maintenance_due": _maintenance_due,
    f"{EVENT_PREFIX}maintenance_completed": _maintenance_completed,
    f"{EVENT_PREFIX}maintenance_cancelled": _maintenance_cancelled,
    f"{EVENT_PREFIX}alarm": _alarm,
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
