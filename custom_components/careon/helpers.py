"""Glue between Home Assistant and the store's action engine."""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from datetime import date, datetime
from typing import Any, Final

from homeassistant.auth.permissions.const import POLICY_CONTROL
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError, Unauthorized
from homeassistant.util import dt as dt_util

from .const import ACTOR_HOMEASSISTANT, DOMAIN
from .core import ActionEngine, ActionResult, CareOnError, ConflictError, ValidationError
from .core.fields import EARLIEST_YEAR, LATEST_YEAR

# The Home Assistant context of the action being executed, so that the events announcing it
# (fired from the engine's listener, in the same task) carry the user who asked for it.
ACTION_CONTEXT: ContextVar[Context | None] = ContextVar("careon_action_context", default=None)

# Actions that change the store's setup (the services of the same name)
SETUP_ACTIONS: Final = frozenset(
    {"create_object", "update_object", "delete_object", "set_link", "remove_link", "define_type"}
)
# Spending the store's money and changing its maintenance plan are the owner's decisions too:
# a staff account may draft, receive and cancel orders and do the maintenance, but approving an
# order (or drafting it already approved) and setting an equipment's plan take an administrator.
# The values are the parameters that make a call an owner's decision (empty: every call).
ADMIN_PARAMS: Final[Mapping[str, frozenset[str]]] = {
    **{action: frozenset() for action in SETUP_ACTIONS},
    "approve_purchase_order": frozenset(),
    # what the store sold and what products it has come from the owner's books
    "import_card_sales": frozenset(),
    "resolve_unmapped_product": frozenset(),
    "auto_reorder": frozenset({"approve"}),
    "create_purchase_order": frozenset({"approve"}),
    "schedule_maintenance": frozenset({"interval_days", "runtime_hours"}),
}


def needs_admin(action: str, params: Mapping[str, Any]) -> bool:
    """Whether a call changes the store's setup, spends its money or sets a plan."""
    if (names := ADMIN_PARAMS.get(action)) is None:
        return False
    return not names or any(
        (value := params.get(name)) is not None and value is not False for name in names
    )


async def async_check_admin(
    hass: HomeAssistant, context: Context | None, action: str, params: Mapping[str, Any]
) -> None:
    """Setup, approving purchases and maintenance plans are for administrators: raise
    ``Unauthorized`` when a non-admin user asks for one (services and assistants alike)."""
    if context is None or context.user_id is None or not needs_admin(action, params):
        return  # automations and scripts act for the administrator who wrote them
    user = await hass.auth.async_get_user(context.user_id)
    if user is None or not user.is_admin:
        raise Unauthorized(context=context, permission=POLICY_CONTROL)


async def async_is_admin(hass: HomeAssistant, context: Context | None) -> bool:
    """Whether the caller may read personal data: an administrator, or Home Assistant itself
    (an automation or a script acts for the administrator who wrote it)."""
    if context is None or context.user_id is None:
        return True
    user = await hass.auth.async_get_user(context.user_id)
    return user is not None and user.is_admin


def actor_for(context: Context | None) -> str:
    """Who acts: the Home Assistant user behind a call, else Home Assistant itself."""
    if context is not None and context.user_id:
        return f"user:{context.user_id}"
    return ACTOR_HOMEASSISTANT


def translate_error(err: CareOnError) -> HomeAssistantError:
    """The translated Home Assistant error for a store error.

    Bad input, failed criteria and stale versions are the caller's to fix
    (``ServiceValidationError``); an unreachable or busy database is not.
    """
    error_class = (
        ServiceValidationError
        if isinstance(err, ValidationError | ConflictError)
        else HomeAssistantError
    )
    return error_class(
        translation_domain=DOMAIN,
        translation_key=err.translation_key,
        translation_placeholders=err.placeholders,
    )


async def async_execute(
    engine: ActionEngine,
    action: str,
    params: Mapping[str, Any],
    *,
    context: Context | None,
    source: str,
    idempotency_key: str | None = None,
    reason: str | None = None,
    actor: str | None = None,
) -> ActionResult:
    """Run one action for a Home Assistant caller (``actor``: who acts, by default the
    context's user); raise translated errors."""
    token = ACTION_CONTEXT.set(context)
    try:
        return await engine.execute(
            action,
            params,
            actor=actor or actor_for(context),
            source=source,
            idempotency_key=idempotency_key,
            reason=reason,
        )
    except CareOnError as err:
        raise translate_error(err) from err
    finally:
        ACTION_CONTEXT.reset(token)


def as_date(value: Any, field: str) -> date | None:
    """A day given as a date or as text (2025-04-20), else a translated error."""
    day = value
    if isinstance(value, str):
        day = dt_util.parse_date(value.strip())
    if value is None:
        return None
    if not isinstance(day, date) or isinstance(day, datetime):
        raise translate_error(
            ValidationError("invalid_type", field=field, expected="a date (YYYY-MM-DD)")
        )
    # as the store's fields bound a date and time: year 1 or 9999 leaves the calendar in a
    # time zone
    if not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
        raise translate_error(
            ValidationError(
                "out_of_range",
                field=field,
                value=day.isoformat(),
                limit=f"{EARLIEST_YEAR}-{LATEST_YEAR}",
            )
        )
    return day
