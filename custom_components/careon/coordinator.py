"""The data update coordinator of a CareOn store."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HassJob, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.debounce import Debouncer
from homeassistant.helpers.event import async_call_later
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .const import (
    CONF_DATABASE_URL,
    CONF_DAY_START_HOUR,
    DEFAULT_DAY_START_HOUR,
    DOMAIN,
    ISSUE_DATABASE_UNREACHABLE,
    LOGGER,
    REFRESH_COOLDOWN,
    SCAN_INTERVAL,
)
from .core import (
    ActionEngine,
    StoreAuthError,
    StoreSnapshot,
    StoreUnavailableError,
    store_snapshot,
)
from .core.database import redact_url
from .core.queries import day_bounds

if TYPE_CHECKING:
    from .connectors import CareOnConnectors
    from .forecast import CareOnForecastCoordinator
    from .maintenance import MaintenanceScheduler
    from .runtime import EquipmentRuntimeTracker


# How often one refresh reads again when actions keep committing during its reads (the refresh
# after it reads the rest).
MAX_REREADS = 3
# While the database cannot be reached, the store is read again after these many seconds (then
# every last one) instead of after the 5-minute scan: the entities come back soon after it does.
RETRY_INTERVALS: tuple[float, ...] = (2, 5, 10, 20)


@dataclass(kw_only=True)
class CareOnRuntimeData:
    """What a loaded CareOn entry holds."""

    engine: ActionEngine
    coordinator: CareOnDataUpdateCoordinator
    runtime: EquipmentRuntimeTracker
    maintenance: MaintenanceScheduler
    # the vendors the store talks to (config subentries)
    connectors: CareOnConnectors
    # the traffic forecast and the staff it suggests, read every hour
    forecast: CareOnForecastCoordinator


type CareOnConfigEntry = ConfigEntry[CareOnRuntimeData]


class CareOnDataUpdateCoordinator(DataUpdateCoordinator[StoreSnapshot]):
    """Reads the store after every committed action and every few minutes."""

    config_entry: CareOnConfigEntry

    def __init__(self, hass: HomeAssistant, entry: CareOnConfigEntry, engine: ActionEngine) -> None:
        """Initialize the coordinator."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{DOMAIN}_{entry.entry_id}",
            update_interval=SCAN_INTERVAL,
            request_refresh_debouncer=Debouncer(
                hass, LOGGER, cooldown=REFRESH_COOLDOWN, immediate=True
            ),
        )
        self.engine = engine
        self.day_start_hour: int = int(
            entry.options.get(CONF_DAY_START_HOUR, DEFAULT_DAY_START_HOUR)
        )
        self.business_day_start: datetime | None = None
        # Committed actions so far, and how many of them the data shown was read after.
        self._commits = 0
        self._commits_read = 0
        # One read at a time, so that a read never overwrites a later one's data.
        self._read_lock = asyncio.Lock()
        # Refreshing after commits: one refresh running or due at a time, at most one started
        # per cooldown.
        self._change_refresh_running = False
        self._change_refresh_due: CALLBACK_TYPE | None = None
        self._next_change_refresh = 0.0
        self._failures = 0
        self._closed = False

    @callback
    def async_store_changed(self, *, refresh: bool = True) -> None:
        """An action committed: read the store again (bursts fold into one refresh a
        cooldown)."""
        self._commits += 1
        if refresh:
            self._async_schedule_change_refresh()

    @callback
    def _async_schedule_change_refresh(self) -> None:
        """Refresh now, or when the cooldown since the last refresh ends.

        Home Assistant's debouncer drops a request that arrives while its refresh runs, which
        loses a commit landing after that refresh's read; here a refresh that ends with commits
        it did not read schedules the next one itself.
        """
        if self._closed or self._change_refresh_running or self._change_refresh_due:
            return
        delay = self._next_change_refresh - self.hass.loop.time()
        if delay > 0:
            self._change_refresh_due = async_call_later(
                self.hass,
                delay,
                HassJob(self._async_change_refresh_due, cancel_on_shutdown=True),
            )
        else:
            self._async_start_change_refresh()

    @callback
    def _async_change_refresh_due(self, _now: datetime) -> None:
        self._change_refresh_due = None
        self._async_start_change_refresh()

    @callback
    def _async_start_change_refresh(self) -> None:
        self._change_refresh_running = True
        self._next_change_refresh = self.hass.loop.time() + REFRESH_COOLDOWN
        self.config_entry.async_create_task(
            self.hass, self._async_change_refresh(), name=f"{self.name} change refresh"
        )

    async def _async_change_refresh(self) -> None:
        try:
            await self.async_refresh()
        finally:
            self._change_refresh_running = False
        # Commits that landed after the read began (during it, after it, while the listeners
        # ran) are read by the next refresh. A failed read is retried on RETRY_INTERVALS.
        if self.last_update_success and self._commits != self._commits_read:
            self._async_schedule_change_refresh()

    async def _async_update_data(self) -> StoreSnapshot:
        """Read products, stock and today's sales in one transaction."""
        async with self._read_lock:
            if self._closed and self.data is not None:
                # Queued behind a read when the entry was unloaded: the database is closed
                # on purpose, which is no reason for a repair issue.
                return self.data
            for _ in range(MAX_REREADS):
                commits = self._commits
                snapshot = await self._async_read()
                if self._commits == commits:
                    break
                # An action committed during the read: read again rather than hand the
                # listeners (the maintenance timer among them) a state older than it.
            self._commits_read = commits
            return snapshot

    async def _async_read(self) -> StoreSnapshot:
        now = dt_util.utcnow()
        try:
            async with self.engine.reader() as ontology:
                snapshot = await store_snapshot(
                    ontology,
                    tz=self.engine.timezone,
                    now=now,
                    day_start_hour=self.day_start_hour,
                )
        except StoreAuthError as err:
            # The password changed on the server: Home Assistant starts a reauth flow.
            async_delete_database_issue(self.hass, self.config_entry)
            raise ConfigEntryAuthFailed(
                translation_domain=DOMAIN,
                translation_key=err.translation_key,
                translation_placeholders=err.placeholders,
            ) from err
        except StoreUnavailableError as err:
            async_create_database_issue(self.hass, self.config_entry, err)
            # read again soon, and back off while the database stays away
            self.update_interval = timedelta(
                seconds=RETRY_INTERVALS[min(self._failures, len(RETRY_INTERVALS) - 1)]
            )
            self._failures += 1
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key=err.translation_key,
                translation_placeholders=err.placeholders,
            ) from err
        async_delete_database_issue(self.hass, self.config_entry)
        self._failures = 0
        self.update_interval = SCAN_INTERVAL
        self.business_day_start = dt_util.parse_datetime(
            day_bounds(now, self.engine.timezone, self.day_start_hour)[0]
        )
        return snapshot

    async def async_close(self) -> None:
        """Stop refreshing and close the database (after the work in flight)."""
        self._closed = True
        if self._change_refresh_due is not None:
            self._change_refresh_due()
            self._change_refresh_due = None
        await self.async_shutdown()
        await self.engine.close()


def _issue_id(entry: ConfigEntry) -> str:
    return f"{ISSUE_DATABASE_UNREACHABLE}_{entry.entry_id}"


def async_create_database_issue(
    hass: HomeAssistant, entry: ConfigEntry, err: StoreUnavailableError
) -> None:
    """Tell the owner (Settings > Repairs) that the store's database cannot be reached."""
    ir.async_create_issue(
        hass,
        DOMAIN,
        _issue_id(entry),
        is_fixable=False,
        is_persistent=False,
        severity=ir.IssueSeverity.ERROR,
        translation_key=ISSUE_DATABASE_UNREACHABLE,
        translation_placeholders={
            "store": entry.title,
            "database": redact_url(entry.data[CONF_DATABASE_URL]),
            "error": err.placeholders.get("error", str(err)),
        },
    )


def async_delete_database_issue(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """The database answers again: clear the repair issue."""
    ir.async_delete_issue(hass, DOMAIN, _issue_id(entry))
