"""The data update coordinator of a CareOn store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.debounce import Debouncer
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


# How often one refresh reads again when actions keep committing during its reads (the next
# refresh, asked for by those commits, picks up the rest).
MAX_REREADS = 3


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
        # Actions committed so far: a refresh that saw one land during its read reads again.
        self._commits = 0

    @callback
    def async_store_changed(self, *, refresh: bool = True) -> None:
        """An action committed: read the store again (bursts fold into one refresh)."""
        self._commits += 1
        if refresh:
            self.config_entry.async_create_task(self.hass, self.async_request_refresh())

    async def _async_update_data(self) -> StoreSnapshot:
        """Read products, stock and today's sales in one transaction."""
        for _ in range(MAX_REREADS):
            commits = self._commits
            snapshot = await self._async_read()
            if self._commits == commits:
                break
            # An action committed during the read, and the debouncer dropped the refresh it
            # asked for (one was running): read again rather than show the older state.
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
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key=err.translation_key,
                translation_placeholders=err.placeholders,
            ) from err
        async_delete_database_issue(self.hass, self.config_entry)
        self.business_day_start = dt_util.parse_datetime(
            day_bounds(now, self.engine.timezone, self.day_start_hour)[0]
        )
        return snapshot

    async def async_close(self) -> None:
        """Stop refreshing and close the database (after the work in flight)."""
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
