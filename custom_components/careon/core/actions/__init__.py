"""Every action type CareOn knows, by name."""

from __future__ import annotations

from ..engine import ActionType
from .alarms import ALARM_ACTIONS
from .card_sales import CARD_SALES_ACTIONS
from .inventory import INVENTORY_ACTIONS
from .maintenance import MAINTENANCE_ACTIONS
from .orders import ORDER_ACTIONS
from .purchasing import PURCHASING_ACTIONS
from .reconcile import RECONCILE_ACTIONS
from .sales import SALES_ACTIONS
from .setup import SETUP_ACTIONS

ACTIONS: dict[str, ActionType] = {
    action.name: action
    for action in (
        *ORDER_ACTIONS,
        *INVENTORY_ACTIONS,
        *PURCHASING_ACTIONS,
        *SETUP_ACTIONS,
        *MAINTENANCE_ACTIONS,
        *ALARM_ACTIONS,
        *CARD_SALES_ACTIONS,
        *RECONCILE_ACTIONS,
        *SALES_ACTIONS,
    )
}
