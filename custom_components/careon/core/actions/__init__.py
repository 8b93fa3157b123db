"""Every action type CareOn knows, by name."""

from __future__ import annotations

from ..engine import ActionType
from .inventory import INVENTORY_ACTIONS
from .orders import ORDER_ACTIONS
from .setup import SETUP_ACTIONS

ACTIONS: dict[str, ActionType] = {
    action.name: action for action in (*ORDER_ACTIONS, *INVENTORY_ACTIONS, *SETUP_ACTIONS)
}
