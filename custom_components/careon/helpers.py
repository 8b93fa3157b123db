"""Glue between Home Assistant and the store's action engine."""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

from homeassistant.core import Context
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError

from .const import ACTOR_HOMEASSISTANT, DOMAIN
from .core import ActionEngine, ActionResult, CareOnError, ConflictError, ValidationError

# The Home Assistant context of the action being executed, so that the events announcing it
# (fired from the engine's listener, in the same task) carry the user who asked for it.
ACTION_CONTEXT: ContextVar[Context | None] = ContextVar("careon_action_context", default=None)


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
) -> ActionResult:
    """Run one action for a Home Assistant caller; raise translated errors."""
    token = ACTION_CONTEXT.set(context)
    try:
        return await engine.execute(
            action,
            params,
            actor=actor_for(context),
            source=source,
            idempotency_key=idempotency_key,
            reason=reason,
        )
    except CareOnError as err:
        raise translate_error(err) from err
    finally:
        ACTION_CONTEXT.reset(token)
