"""Equipment runtime: running hours counted from each equipment's Home Assistant power sensor.

An Equipment with a ``power_entity`` runs while that entity's state is above its
``power_threshold_w`` (a switch or plug without metering: while it is on). The time it runs is
written to the store with the ``record_runtime`` action when it stops, every 15 minutes while it
runs, and when the entry unloads or Home Assistant stops, so the hours live in the ontology and
survive restarts. The store's engine does the rest (totals, announcing maintenance due).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from homeassistant.const import STATE_ON
from homeassistant.core import (
    CALLBACK_TYPE,
    Event,
    EventStateChangedData,
    HomeAssistant,
    State,
    callback,
)
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers.event import async_track_state_change_event, async_track_time_interval
from homeassistant.util import dt as dt_util

from .const import LOGGER, RUNTIME_FLUSH_INTERVAL, SOURCE_SENSOR
from .coordinator import CareOnConfigEntry, CareOnDataUpdateCoordinator
from .core import StoreObject
from .helpers import async_execute

# Shorter runs wait for the next flush: no audit row for a blip.
MIN_RECORDED_HOURS = 1 / 3600


@dataclass(frozen=True, kw_only=True, slots=True)
class PowerBinding:
    """Which entity tells that an equipment runs, and from which reading on."""

    power_entity: str
    threshold: float

    @classmethod
    def of(cls, equipment: StoreObject) -> PowerBinding | None:
        """The binding an Equipment object asks for (None: it has no power entity)."""
        if not (entity_id := equipment.get("power_entity")):
            return None
        threshold = equipment.get("power_threshold_w", 0)
        return cls(
            power_entity=str(entity_id),
            threshold=float(threshold) if isinstance(threshold, int | float) else 0.0,
        )

    def is_running(self, state: State | None) -> bool:
        """Whether a state of the power entity means the equipment runs."""
        if state is None:
            return False
        if state.state == STATE_ON:
            return True
        try:
            return float(state.state) > self.threshold
        except ValueError:  # unavailable, unknown, off
            return False


@dataclass(kw_only=True)
class _Tracked:
    """One equipment being watched."""

    equipment_id: str
    binding: PowerBinding
    unsubscribe: CALLBACK_TYPE
    running_since: datetime | None = None
    # hours counted but not written yet (too short, or the store could not be reached)
    pending_hours: float = 0.0

    def take_hours(self, now: datetime, *, running: bool) -> float:
        """The hours to write up to ``now``; counting goes on from ``now`` while running."""
        hours = self.pending_hours
        if self.running_since is not None:
            hours += max((now - self.running_since).total_seconds(), 0) / 3600
        self.pending_hours = 0.0
        self.running_since = now if running else None
        return hours


class EquipmentRuntimeTracker:
    """Counts the running hours of every Equipment bound to a power sensor."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: CareOnConfigEntry,
        coordinator: CareOnDataUpdateCoordinator,
    ) -> None:
        """Watch nothing yet (see ``async_start``)."""
        self.hass = hass
        self.entry = entry
        self.coordinator = coordinator
        self._tracked: dict[str, _Tracked] = {}
        self._writes: set[asyncio.Task[None]] = set()
        self._unsubscribe: list[CALLBACK_TYPE] = []

    @callback
    def async_start(self) -> None:
        """Follow the store's equipment and start counting."""
        self._unsubscribe = [
            self.coordinator.async_add_listener(self._async_sync),
            async_track_time_interval(
                self.hass,
                self._async_flush_running,
                RUNTIME_FLUSH_INTERVAL,
                name="CareOn equipment runtime",
            ),
        ]
        self._async_sync()

    async def async_stop(self) -> None:
        """Write the hours counted so far and stop watching (unload, Home Assistant stops)."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        now = dt_util.utcnow()
        writes = []
        for tracked in self._tracked.values():
            tracked.unsubscribe()
            hours = tracked.take_hours(now, running=False)
            if hours >= MIN_RECORDED_HOURS:
                writes.append(self._async_record(tracked.equipment_id, hours))
        self._tracked.clear()
        if self._writes:
            await asyncio.wait(self._writes)
        await asyncio.gather(*writes)

    @callback
    def _async_sync(self) -> None:
        """Bind new equipment, rebind changed ones and let go of removed ones."""
        snapshot = self.coordinator.data
        now = dt_util.utcnow()
        wanted = {
            equipment_id: binding
            for equipment_id, equipment in snapshot.equipment.items()
            if (binding := PowerBinding.of(equipment)) is not None
        }
        for equipment_id, tracked in list(self._tracked.items()):
            if wanted.get(equipment_id) == tracked.binding:
                continue
            tracked.unsubscribe()
            del self._tracked[equipment_id]
            if equipment_id in snapshot.equipment:
                # rebound or unbound: the hours so far ran under the old binding
                self._async_write(equipment_id, tracked.take_hours(now, running=False))
        for equipment_id, binding in wanted.items():
            if equipment_id not in self._tracked:
                self._async_bind(equipment_id, binding, now)

    @callback
    def _async_bind(self, equipment_id: str, binding: PowerBinding, now: datetime) -> None:
        @callback
        def _async_power_changed(event: Event[EventStateChangedData]) -> None:
            self._async_power_changed(equipment_id, event.data["new_state"])

        running = binding.is_running(self.hass.states.get(binding.power_entity))
        self._tracked[equipment_id] = _Tracked(
            equipment_id=equipment_id,
            binding=binding,
            unsubscribe=async_track_state_change_event(
                self.hass, binding.power_entity, _async_power_changed
            ),
            running_since=now if running else None,
        )
        LOGGER.debug(
            "Counting the runtime of %s from %s (running: %s)",
            equipment_id,
            binding.power_entity,
            running,
        )

    @callback
    def _async_power_changed(self, equipment_id: str, state: State | None) -> None:
        if (tracked := self._tracked.get(equipment_id)) is None:
            return
        running = tracked.binding.is_running(state)
        if running and tracked.running_since is None:
            tracked.running_since = dt_util.utcnow()
        elif not running and tracked.running_since is not None:
            self._async_write(equipment_id, tracked.take_hours(dt_util.utcnow(), running=False))

    @callback
    def _async_flush_running(self, now: datetime) -> None:
        """Every 15 minutes: write the hours of the equipment running now."""
        for equipment_id, tracked in self._tracked.items():
            if tracked.running_since is not None:
                self._async_write(equipment_id, tracked.take_hours(now, running=True))

    @callback
    def _async_write(self, equipment_id: str, hours: float) -> None:
        if hours < MIN_RECORDED_HOURS:
            if (tracked := self._tracked.get(equipment_id)) is not None:
                tracked.pending_hours += hours
            return
        self._async_track(self._async_record(equipment_id, hours))

    @callback
    def _async_track(self, coro: Coroutine[Any, Any, None]) -> None:
        task = self.entry.async_create_task(self.hass, coro, "careon record runtime")
        if not task.done():
            self._writes.add(task)
            task.add_done_callback(self._writes.discard)

    async def _async_record(self, equipment_id: str, hours: float) -> None:
        """Write running hours to the store; keep them for the next write if that fails."""
        try:
            await async_execute(
                self.coordinator.engine,
                "record_runtime",
                {"equipment": equipment_id, "hours": hours},
                context=None,
                source=SOURCE_SENSOR,
            )
        except ServiceValidationError as err:
            # the store refuses them (the equipment is gone): nothing to retry
            LOGGER.warning(
                "Could not record %.3f running hours of %s: %s", hours, equipment_id, err
            )
        except HomeAssistantError as err:
            if (tracked := self._tracked.get(equipment_id)) is None:
                LOGGER.warning("Lost %.3f running hours of %s: %s", hours, equipment_id, err)
                return
            LOGGER.debug("Recording the runtime of %s failed, will retry: %s", equipment_id, err)
            tracked.pending_hours += hours
