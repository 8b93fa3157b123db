"""The maintenance scheduler: runs the store's ``check_maintenance`` when there is work for it.

After every refresh of the store it asks the core when the next check is due (now, when a
planned task is missing or an open task has come due and is not announced yet; else the earliest
due time) and sets one timer for then. The check opens the missing tasks and announces the due
ones; the refresh that follows sets the next timer.
"""

from __future__ import annotations

from datetime import datetime

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.util import dt as dt_util

from .const import LOGGER, MAINTENANCE_CHECK_MIN_GAP, SOURCE_SCHEDULE
from .coordinator import CareOnConfigEntry, CareOnDataUpdateCoordinator
from .core import ActionResult
from .core.actions.maintenance import next_maintenance_check
from .helpers import async_execute


class MaintenanceScheduler:
    """Keeps one timer set for the store's next maintenance check."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: CareOnConfigEntry,
        coordinator: CareOnDataUpdateCoordinator,
    ) -> None:
        """Schedule nothing yet (see ``async_start``)."""
        self.hass = hass
        self.entry = entry
        self.coordinator = coordinator
        self.next_check: datetime | None = None
        # when the last check found nothing to do (or failed): the next waits a minute
        self._idle_check: datetime | None = None
        self._checking = False
        self._cancel_timer: CALLBACK_TYPE | None = None
        self._unsubscribe: CALLBACK_TYPE | None = None

    async def async_check_if_pending(self) -> bool:
        """At setup: run the check when something is pending (a plan without its task, a task
        that came due while Home Assistant was off); True when it ran."""
        now = dt_util.utcnow()
        if (when := self._next_check(now)) is None or when > now:
            return False
        self._checking = True
        await self._async_check()
        return True

    @callback
    def async_start(self) -> None:
        """Schedule the next check, now and after every refresh."""
        self._unsubscribe = self.coordinator.async_add_listener(self._async_schedule)
        self._async_schedule()

    @callback
    def async_stop(self) -> None:
        """Stop scheduling (unload, Home Assistant stops)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._async_cancel_timer()

    @callback
    def _async_cancel_timer(self) -> None:
        if self._cancel_timer is not None:
            self._cancel_timer()
            self._cancel_timer = None
        self.next_check = None

    def _next_check(self, now: datetime) -> datetime | None:
        """When the store's state (as last read) asks for the next check."""
        snapshot = self.coordinator.data
        when = next_maintenance_check(
            snapshot.equipment.values(),
            (
                (
                    task,
                    equipment.id if (equipment := snapshot.task_equipment.get(task.id)) else None,
                )
                for task in snapshot.maintenance_tasks.values()
            ),
            now,
        )
        if when is not None and self._idle_check is not None:
            # the store says there is work right after a check that found none: not more
            # than once a minute, whatever the store says
            when = max(when, self._idle_check + MAINTENANCE_CHECK_MIN_GAP)
        return when

    @callback
    def _async_schedule(self) -> None:
        """Set the timer for the next check the store's state asks for."""
        if (
            self._unsubscribe is None  # stopped
            or not self.coordinator.last_update_success
            or self._checking
        ):
            return  # keep the timer as it is; the refresh after the check schedules again
        self._async_cancel_timer()
        now = dt_util.utcnow()
        if (when := self._next_check(now)) is None:
            return
        self.next_check = when
        if when <= now:
            self._async_start_check(now)
        else:
            self._cancel_timer = async_track_point_in_utc_time(
                self.hass, self._async_start_check, when
            )

    @callback
    def _async_start_check(self, now: datetime) -> None:
        self._cancel_timer = None
        self.next_check = None
        self._checking = True
        self.entry.async_create_task(self.hass, self._async_check(), "careon maintenance check")

    async def _async_check(self) -> None:
        """Run check_maintenance; the refresh its commit causes schedules the next one."""
        self._idle_check = dt_util.utcnow()
        result: ActionResult | None = None
        try:
            result = await async_execute(
                self.coordinator.engine,
                "check_maintenance",
                {},
                context=None,
                source=SOURCE_SCHEDULE,
            )
        except HomeAssistantError as err:
            LOGGER.warning("The maintenance check failed: %s", err)
        finally:
            self._checking = False
        if result is None:
            # no commit, no refresh: try again (a minute later at the earliest)
            self._async_schedule()
        elif result.result.get("created") or result.result.get("due"):
            self._idle_check = None
