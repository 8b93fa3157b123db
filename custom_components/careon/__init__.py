"""The CareOn integration: a small cafe's store as a live model in Home Assistant."""

from __future__ import annotations

from dataclasses import dataclass, field
import logging

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EVENT_HOMEASSISTANT_STOP, Platform
from homeassistant.core import CALLBACK_TYPE, Event, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.typing import ConfigType
from homeassistant.util import dt as dt_util

from .connectors import CareOnConnectors, async_remove_connector_data
from .connectors.const import CONNECTOR_TOSS_PLACE
from .const import (
    CONF_DATABASE_URL,
    CONF_DAY_START_HOUR,
    CONF_TIMEZONE,
    DEFAULT_DAY_START_HOUR,
    DOMAIN,
    EVENT_ACTION,
    EVENT_PREFIX,
)
from .coordinator import (
    CareOnConfigEntry,
    CareOnDataUpdateCoordinator,
    CareOnRuntimeData,
    async_create_database_issue,
    async_delete_database_issue,
)
from .core import ActionEngine, ActionResult, StoreAuthError, StoreUnavailableError
from .forecast import CareOnForecastCoordinator
from .helpers import ACTION_CONTEXT, SETUP_ACTIONS
from .llm_api import async_register_llm_api
from .maintenance import MaintenanceScheduler
from .repairs import async_delete_unmapped_issues, async_sync_unmapped_issues
from .runtime import EquipmentRuntimeTracker
from .services import async_setup_services

__all__ = ["CareOnConfigEntry", "CareOnRuntimeData"]

_LOGGER = logging.getLogger(__name__)

PLATFORMS: list[Platform] = [
    Platform.BINARY_SENSOR,
    Platform.SENSOR,
    Platform.SWITCH,
    Platform.TODO,
]

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register CareOn's actions (services) and the "CareOn store" LLM API, once for every
    store."""
    async_setup_services(hass)
    async_register_llm_api(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: CareOnConfigEntry) -> bool:
    """Open the store's database and set up its entities."""
    timezone = (
        await dt_util.async_get_time_zone(entry.data[CONF_TIMEZONE])
        or dt_util.get_default_time_zone()
    )
    try:
        engine = await ActionEngine.open(entry.data[CONF_DATABASE_URL], timezone=timezone)
    except StoreAuthError as err:
        # The server answers but refuses the password: a reauth flow asks for the new one.
        async_delete_database_issue(hass, entry)
        raise ConfigEntryAuthFailed(
            translation_domain=DOMAIN,
            translation_key=err.translation_key,
            translation_placeholders=err.placeholders,
        ) from err
    except StoreUnavailableError as err:
        async_create_database_issue(hass, entry, err)
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key=err.translation_key,
            translation_placeholders=err.placeholders,
        ) from err
    async_delete_database_issue(hass, entry)

    coordinator = CareOnDataUpdateCoordinator(hass, entry, engine)
    progress = _SetupProgress()
    try:
        await _async_setup_store(hass, entry, coordinator, progress)
    except BaseException:
        # Home Assistant runs no unload callbacks after an unexpected error and unloads no
        # platform: undo here whatever setup had done, then close the database.
        await _async_undo_setup(hass, entry, progress)
        await coordinator.async_close()
        raise
    # Set up: from now on Home Assistant's unload undoes it.
    for unsubscribe in progress.unsubscribe:
        entry.async_on_unload(unsubscribe)
    return True


@dataclass(slots=True)
class _SetupProgress:
    """How far the entry's setup got: what a failure has to undo."""

    unsubscribe: list[CALLBACK_TYPE] = field(default_factory=list)
    schedules: bool = False
    platforms: bool = False


async def _async_undo_setup(
    hass: HomeAssistant, entry: CareOnConfigEntry, progress: _SetupProgress
) -> None:
    """Undo a setup that failed part way; an error while undoing is logged, not raised, so
    that the database is closed and the setup's own error is the one reported."""
    for unsubscribe in reversed(progress.unsubscribe):
        unsubscribe()
    try:
        if progress.schedules:
            await _async_stop_schedules(entry)
        if progress.platforms:
            await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    except Exception:
        _LOGGER.exception("Undoing the failed setup of %s", entry.title)


async def _async_setup_store(
    hass: HomeAssistant,
    entry: CareOnConfigEntry,
    coordinator: CareOnDataUpdateCoordinator,
    progress: _SetupProgress,
) -> None:
    """Read the store, then start its entities, schedules and connectors; PROGRESS records
    each step as it is taken."""
    engine = coordinator.engine
    await coordinator.async_config_entry_first_refresh()
    runtime = EquipmentRuntimeTracker(hass, entry, coordinator)
    maintenance = MaintenanceScheduler(hass, entry, coordinator)
    connectors = CareOnConnectors.from_entry(hass, entry, engine)
    forecast = CareOnForecastCoordinator(hass, entry, engine)
    entry.runtime_data = CareOnRuntimeData(
        engine=engine,
        coordinator=coordinator,
        runtime=runtime,
        maintenance=maintenance,
        connectors=connectors,
        forecast=forecast,
    )

    @callback
    def _async_announce(result: ActionResult) -> None:
        """Announce a committed action on the event bus, then refresh the entities."""
        context = ACTION_CONTEXT.get()
        hass.bus.async_fire(
            EVENT_ACTION,
            {
                "entry_id": entry.entry_id,
                "action": result.action,
                "audit_id": result.audit_id,
                "actor": result.actor,
                "source": result.source,
                "idempotency_key": result.idempotency_key,
                "result": dict(result.result),
            },
            context=context,
        )
        for event in result.events:
            hass.bus.async_fire(
                f"{EVENT_PREFIX}{event.type}",
                {**event.data, "entry_id": entry.entry_id},
                context=context,
            )
        coordinator.async_store_changed(refresh=entry.state is ConfigEntryState.LOADED)
        if result.action in SETUP_ACTIONS and entry.state is ConfigEntryState.LOADED:
            # the staffing settings (the Store, its staff) may have changed: plan again
            entry.async_create_task(hass, forecast.async_request_refresh())

    async def _async_close(_: Event) -> None:
        """Home Assistant stops: write the running hours, then let go of the database."""
        await _async_stop_schedules(entry)
        await coordinator.async_close()

    progress.unsubscribe += [
        engine.subscribe(_async_announce),
        hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, _async_close),
        entry.add_update_listener(_async_update_listener),
    ]

    @callback
    def _async_sync_issues() -> None:
        """POS items no product matched are repair issues, as long as they are unmapped."""
        if coordinator.data is not None:
            async_sync_unmapped_issues(hass, entry, coordinator.data)

    _async_sync_issues()
    progress.unsubscribe.append(coordinator.async_add_listener(_async_sync_issues))

    # tasks that came due while Home Assistant was off are announced before entities appear
    if await maintenance.async_check_if_pending():
        await coordinator.async_refresh()
    # the traffic forecast: a history that cannot be read leaves the entry loaded (the
    # recommended-staff sensor is unavailable until the next hour's refresh reads it)
    await forecast.async_refresh()
    progress.platforms = True  # some may be set up even when forwarding fails
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    progress.schedules = True  # each stops cleanly whether it started or not
    # count equipment runtime and keep the next maintenance check scheduled
    runtime.async_start()
    maintenance.async_start()
    # vendors' webhooks, and polling for what they missed while Home Assistant was down
    connectors.async_start()
    # the forecast is read again at the top of every hour
    forecast.async_start()


async def async_unload_entry(hass: HomeAssistant, entry: CareOnConfigEntry) -> bool:
    """Unload the entities and close the database."""
    if unload_ok := await hass.config_entries.async_unload_platforms(entry, PLATFORMS):
        await _async_stop_schedules(entry)
        await entry.runtime_data.coordinator.async_close()
    return unload_ok


async def async_remove_entry(hass: HomeAssistant, entry: CareOnConfigEntry) -> None:
    """The store is removed: forget its repair issues and its connectors' polling state."""
    async_delete_unmapped_issues(hass, entry.entry_id)
    await async_remove_connector_data(
        hass,
        entry.entry_id,
        [
            subentry_id
            for subentry_id, subentry in entry.subentries.items()
            if subentry.subentry_type == CONNECTOR_TOSS_PLACE
        ],
    )


async def _async_stop_schedules(entry: CareOnConfigEntry) -> None:
    """Stop the connectors and the maintenance timer, and write the equipment hours
    counted so far."""
    await entry.runtime_data.connectors.async_stop()
    entry.runtime_data.maintenance.async_stop()
    entry.runtime_data.forecast.async_stop()
    await entry.runtime_data.runtime.async_stop()


async def _async_update_listener(hass: HomeAssistant, entry: CareOnConfigEntry) -> None:
    """Reload when the options or the connectors (subentries) change; reconfiguring the
    store reloads by itself."""
    day_start_hour = entry.options.get(CONF_DAY_START_HOUR, DEFAULT_DAY_START_HOUR)
    if (
        entry.runtime_data.connectors.changed(entry)
        or day_start_hour != entry.runtime_data.coordinator.day_start_hour
    ):
        hass.config_entries.async_schedule_reload(entry.entry_id)
    else:
        # the visitor sensors may have changed: forecast again
        await entry.runtime_data.forecast.async_request_refresh()
