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
from .ontology import Link, StoreObject
from .queries import StoreSnapshot, query_objects, store_snapshot

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
    "Link",
    "StoreAuthError",
    "StoreObject",
    "StoreSnapshot",
    "StoreUnavailableError",
    "ValidationError",
    "next_maintenance_check",
    "query_objects",
    "store_snapshot",
]
