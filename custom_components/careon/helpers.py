"""Glue between Home Assistant and the store's action engine."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

from homeassistant.core import Context
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError

from .const import ACTOR_HOMEASSISTANT, DOMAIN
from .core import ActionEngine, ActionResult, CareOnError, StoreUnavailableError

# The Home Assistant context of the action being executed, so that the events announcing it
# (fired from the engine's listener, in the same task) carry the user who asked for it.
ACTION_CONTEXT: ContextVar[Context | None] = ContextVar("careon_action_context", default=None)


class DatabaseActivity:
    """Counts the reads and actions in progress, so that the database closes after them.

    Closing the engine's pool while a connection is checked out would leave that connection
    (and, with SQLite, its thread) open for good.
    """

    def __init__(self) -> None:
        """Initialize: nothing in progress."""
        self._active = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @asynccontextmanager
    async def track(self) -> AsyncIterator[None]:
        """Count the work inside the block."""
        self._active += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._active -= 1
            if not self._active:
                self._idle.set()

    async def async_wait_idle(self) -> None:
        """Return once nothing is in progress."""
        await self._idle.wait()


def actor_for(context: Context | None) -> str:
    """Who acts: the Home Assistant user behind a call, else Home Assistant itself."""
    if context is not None and context.user_id:
        return f"user:{context.user_id}"
    return ACTOR_HOMEASSISTANT


def translate_error(err: CareOnError) -> HomeAssistantError:
    """The translated Home Assistant error for a store error.

    Bad input, failed criteria and stale versions are the caller's to fix
    (``ServiceValidationError``); an unreachable database is not.
    """
    error_class = (
        HomeAssistantError if isinstance(err, StoreUnavailableError) else ServiceValidationError
    )
    return error_class(
        translation_domain=DOMAIN,
        translation_key=err.translation_key,
        translation_placeholders=err.placeholders,
    )


async def async_execute(
    engine: ActionEngine,
    activity: DatabaseActivity,
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
        async with activity.track():
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
