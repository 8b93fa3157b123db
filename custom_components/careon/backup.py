"""Backups: no action commits while Home Assistant copies a store's SQLite file."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant

from .const import DOMAIN, LOGGER
from .coordinator import CareOnConfigEntry


def _loaded_entries(hass: HomeAssistant) -> list[CareOnConfigEntry]:
    return [
        entry
        for entry in hass.config_entries.async_entries(DOMAIN)
        if entry.state is ConfigEntryState.LOADED
    ]


async def async_pre_backup(hass: HomeAssistant) -> None:
    """Hold every store's writes and fold the write-ahead log into the database file."""
    held: list[CareOnConfigEntry] = []
    try:
        for entry in _loaded_entries(hass):
            await entry.runtime_data.engine.hold_writes()
            held.append(entry)
    except BaseException:
        for entry in held:
            entry.runtime_data.engine.release_writes()
        raise
    LOGGER.debug("CareOn writes held for a backup (%s stores)", len(held))


async def async_post_backup(hass: HomeAssistant) -> None:
    """Let the stores' actions run again (also a store unloaded meanwhile: its engine waits
    for the writes it holds before it closes)."""
    for entry in hass.config_entries.async_entries(DOMAIN):
        if (runtime_data := getattr(entry, "runtime_data", None)) is not None:
            runtime_data.engine.release_writes()
