"""CareOn's store logic in plain Python: ontology, storage and the action engine.

Nothing here imports Home Assistant; the integration around it adapts it to entities,
services and events.
"""

from .actions.maintenance import next_maintenance_check
from .engine import (
    SOURCE_POS,
    ActionContext,
    ActionEngine,
    ActionResult,
    ActionType,
    DomainEvent,
)
from .errors import (
    ERROR_KEYS,
    CareOnError,
    ConflictError,
    StoreAuthError,
    StoreUnavailableError,
    ValidationError,
)
from .forecast import HourlyForecast, forecast_hourly, seasonal_naive
from .ontology import Link, StoreObject
from .queries import StoreSnapshot, hourly_orders, query_objects, store_snapshot
from .staffing import StaffHour, StaffingSettings, StaffPlan, staff_plan, staffing_settings

__all__ = [
    "ERROR_KEYS",
    "SOURCE_POS",
    "ActionContext",
    "ActionEngine",
    "ActionResult",
    "ActionType",
    "CareOnError",
    "ConflictError",
    "DomainEvent",
    "HourlyForecast",
    "Link",
    "StaffHour",
    "StaffPlan",
    "StaffingSettings",
    "StoreAuthError",
    "StoreObject",
    "StoreSnapshot",
    "StoreUnavailableError",
    "ValidationError",
    "forecast_hourly",
    "hourly_orders",
    "next_maintenance_check",
    "query_objects",
    "seasonal_naive",
    "staff_plan",
    "staffing_settings",
    "store_snapshot",
]
