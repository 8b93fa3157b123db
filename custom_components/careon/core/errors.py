"""Errors the store raises, each carrying a translation key and placeholders.

The Home Assistant layer turns them into translated ``ServiceValidationError`` or
``HomeAssistantError``; every key listed in ``ERROR_KEYS`` has an entry in
``strings.json`` under ``exceptions``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

# translation key -> the placeholders its message uses (kept in step with strings.json). An
# error may carry a `field` placeholder beyond these: the parameter it is about, for callers.
ERROR_KEYS: Mapping[str, tuple[str, ...]] = {
    "missing_field": ("field",),
    "unknown_field": ("field",),
    "invalid_type": ("field", "expected"),
    "out_of_range": ("field", "value", "limit"),
    "query_too_large": ("limit",),
    "personal_property": ("field",),
    "value_not_storable": ("action",),
    "invalid_choice": ("field", "value", "choices"),
    "empty_list": ("field",),
    "unknown_action": ("action",),
    "unknown_object_type": ("object_type",),
    "unknown_link_type": ("link_type", "object_type"),
    "wrong_link_target": ("field", "link_type", "expected", "actual"),
    "object_not_found": ("field", "object_id"),
    "wrong_object_type": ("field", "object_id", "expected", "actual"),
    "duplicate_object": ("object_id",),
    "link_not_found": ("source", "link_type", "target"),
    "object_in_use": ("object_id", "link_type", "count"),
    "managed_property": ("field", "action"),
    "stale_version": ("object_id", "expected", "actual"),
    "schema_conflict": ("object_type", "field"),
    "product_unavailable": ("field", "product"),
    "insufficient_stock": ("field", "item", "needed", "on_hand"),
    "order_status_invalid": ("order", "status", "allowed"),
    "purchase_order_status_invalid": ("purchase_order", "status", "allowed"),
    "item_not_on_purchase_order": ("field", "item", "purchase_order"),
    "item_on_order": ("field", "item", "purchase_order"),
    "maintenance_plan_missing": ("field",),
    "maintenance_task_status_invalid": ("task", "status", "allowed"),
    "alarm_status_invalid": ("alarm", "status", "allowed"),
    "card_sales_unreadable": ("file", "error"),
    "card_sales_missing_column": ("file", "column"),
    "card_sales_invalid_value": ("row", "column", "value", "expected"),
    "card_sales_no_rows": ("file",),
    "file_not_found": ("file",),
    "file_not_allowed": ("file",),
    "product_not_unmapped": ("product",),
    "connector_not_configured": ("connector",),
    "vendor_request_failed": ("connector", "error"),
    "vendor_auth_failed": ("connector",),
    "invalid_period": ("start", "end"),
    "idempotency_conflict": ("key", "action"),
    "database_unavailable": ("error",),
    "database_auth_failed": ("error",),
    "concurrent_update": ("action",),
}


class CareOnError(Exception):
    """Base error: a translation key plus the values its message names."""

    def __init__(self, translation_key: str, **placeholders: Any) -> None:
        """Store the key and stringified placeholders; build an English message for logs."""
        self.translation_key = translation_key
        self.placeholders: dict[str, str] = {k: str(v) for k, v in placeholders.items()}
        details = ", ".join(f"{k}={v}" for k, v in self.placeholders.items())
        super().__init__(f"{translation_key}: {details}" if details else translation_key)


class ValidationError(CareOnError):
    """The caller's input or the store's current state rejects the action."""

    @property
    def field(self) -> str | None:
        """The parameter the error is about, when there is one."""
        return self.placeholders.get("field")


class ConflictError(CareOnError):
    """Someone else changed the object first (optimistic concurrency)."""


class StoreUnavailableError(CareOnError):
    """The database cannot be reached."""

    KEY: ClassVar[str] = "database_unavailable"

    def __init__(self, error: BaseException | str) -> None:
        """Keep the underlying reason readable without leaking credentials."""
        super().__init__(self.KEY, error=_describe(error))


class StoreAuthError(StoreUnavailableError):
    """The database server refused the credentials (a wrong or changed password)."""

    KEY: ClassVar[str] = "database_auth_failed"


def _describe(error: BaseException | str) -> str:
    if isinstance(error, str):
        return error
    text = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
