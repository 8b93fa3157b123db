"""Equipment runtime: running hours counted from each equipment's Home Assistant power sensor.

An Equipment with a ``power_entity`` runs while that entity's state is above its
``power_threshold_w`` (a switch or plug without metering: while it is on). The time it runs is
written to the store with the ``record_runtime`` action when it stops, every 15 minutes while it
runs, and when the entry unloads or Home Assistant stops, so the hours live in the ontology and
survive restarts. The store's engine does the rest (totals, announcing maintenance due).

Each write carries an idempotency key naming the period it covers. A write whose answer never
came (the database failed, perhaps after committing) is sent again unchanged, so a write that did
commit is replayed by the engine instead of counted twice.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

from homeassistant.const import ATTR_UNIT_OF_MEASUREMENT, STATE_ON, UnitOfPower
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
from homeassistant.util.unit_conversion import PowerConverter

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
        """Whether a state of the power entity means the equipment runs.

        A reading is compared in watts (a sensor in kW or mW is converted; one without a unit
        reads watts); a reading in another unit is compared as it is.
        """
        if state is None:
            return False
        if state.state == STATE_ON:
            return True
        try:
            value = float(state.state)
        except ValueError:  # unavailable, unknown, off
            return False
        unit = state.attributes.get(ATTR_UNIT_OF_MEASUREMENT) or UnitOfPower.WATT
        if unit in PowerConverter.VALID_UNITS:
            value = PowerConverter.convert(value, unit, UnitOfPower.WATT)
        return value > self.threshold


def _stamp(moment: datetime) -> str:
    """A moment in a key: UTC, to the microsecond, compact (keys are at most 200 long)."""
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ")


@dataclass(frozen=True, kw_only=True, slots=True)
class _Write:
    """Running hours to write, under the key of the period they cover (sent again unchanged
    until the store answers)."""

    equipment_id: str
    hours: float
    key: str


@dataclass(kw_only=True)
class _Tracked:
    """One equipment being watched."""

    equipment_id: str
    binding: PowerBinding
    unsubscribe: CALLBACK_TYPE
    running_since: datetime | None = None
    # time counted but too short to write yet: how many hours, and since when
    pending_hours: float = 0.0
    pending_since: datetime | None = None

    def take(self, now: datetime, *, running: bool) -> _Write | None:
        """The write of the hours up to ``now`` (None: too few yet, they wait for the next);
        counting goes on from ``now`` while running."""
        since = self.pending_since or self.running_since
        hours = self.pending_hours
        if self.running_since is not None:
            hours += max((now - self.running_since).total_seconds(), 0) / 3600
        self.running_since = now if running else None
        if since is None or hours < MIN_RECORDED_HOURS:
            self.pending_hours = hours
            self.pending_since = since if hours > 0 else None
            return None
        self.pending_hours = 0.0
        self.pending_since = None
        return _Write(
            equipment_id=self.equipment_id,
            hours=hours,
            key=f"runtime:{self.equipment_id}:{_stamp(since)}:{_stamp(now)}",
        )


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
        # writes the store did not answer, by key: sent again every flush and when stopping
        self._unanswered: dict[str, _Write] = {}
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
        for tracked in self._tracked.values():
            tracked.unsubscribe()
        now = dt_util.utcnow()
        # the writes under way first: one that fails is sent again below
        if self._writes:
            await asyncio.wait(self._writes)
        writes = [
            write
            for tracked in self._tracked.values()
            if (write := tracked.take(now, running=False)) is not None
        ]
        self._tracked.clear()
        writes.extend(self._unanswered.pop(key) for key in list(self._unanswered))
        await asyncio.gather(*(self._async_record(write) for write in writes))
        for write in self._unanswered.values():
            LOGGER.warning(
                "Lost %.3f running hours of %s: the store did not answer",
                write.hours,
                write.equipment_id,
            )
        self._unanswered.clear()

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
                self._async_write(tracked.take(now, running=False))
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
            self._async_write(tracked.take(dt_util.utcnow(), running=False))

    @callback
    def _async_flush_running(self, now: datetime) -> None:
        """Every 15 minutes: send again the writes the store did not answer, and write the
        hours of the equipment running now."""
        for key in list(self._unanswered):
            self._async_write(self._unanswered.pop(key))
        for tracked in self._tracked.values():
            if tracked.running_since is not None:
                self._async_write(tracked.take(now, running=True))

    @callback
    def _async_write(self, write: _Write | None) -> None:
        if write is None:
            return
        task = self.entry.async_create_task(
            self.hass, self._async_record(write), "careon record runtime"
        )
        if not task.done():
            self._writes.add(task)
            task.add_done_callback(self._writes.discard)

    async def _async_record(self, write: _Write) -> None:
        """Write running hours to the store; keep the write to send again if that fails."""
        try:
            await async_execute(
                self.coordinator.engine,
                "record_runtime",
                {"equipment": write.equipment_id, "hours": write.hours},
                context=None,
                source=SOURCE_SENSOR,
                idempotency_key=write.key,
            )
        except ServiceValidationError as err:
            # the store refuses them (the equipment is gone): nothing to retry
            LOGGER.warning(
                "Could not record %.3f running hours of %s: %s",
                write.hours,
                write.equipment_id,
                err,
            )
        except HomeAssistantError as err:
            # perhaps committed, perhaps not: the same key again tells
            LOGGER.debug(
                "Recording the runtime of %s failed, will retry: %s", write.equipment_id, err
            )
            self._unanswered[write.key] = write
