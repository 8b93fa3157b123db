"""To-do lists of a CareOn store: the purchase orders to receive and the maintenance to do.

Each item is an object of the store (its uid is the object's id); checking, adding, editing
and deleting items run the store's actions as the Home Assistant user.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import date, datetime, time, timedelta
from typing import Any

from homeassistant.components.todo import TodoItem, TodoListEntity
from homeassistant.components.todo.const import TodoItemStatus, TodoListEntityFeature
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import dt as dt_util

from .const import SOURCE_ENTITY
from .coordinator import CareOnConfigEntry
from .core import StoreObject, ValidationError
from .core.fields import to_iso
from .core.queries import MAINTENANCE_TASK_OPEN, PURCHASE_ORDER_OPEN, parse_iso
from .entity import CareOnEntity
from .helpers import async_execute, translate_error

# One action at a time from this platform (the engine serializes writes anyway).
PARALLEL_UPDATES = 1

# Between the supplier or equipment and the rest of a summary
SEPARATOR = " · "
# A purchase order's summary names this many of its items, then "…"
SUMMARY_ITEMS = 3

PURCHASE_ORDERS = EntityDescription(key="purchase_orders", translation_key="purchase_orders")
MAINTENANCE = EntityDescription(key="maintenance", translation_key="maintenance")


async def async_setup_entry(
    hass: HomeAssistant,
    entry: CareOnConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up the store's two to-do lists."""
    coordinator = entry.runtime_data.coordinator
    async_add_entities(
        [
            CareOnPurchaseOrderTodoListEntity(coordinator, PURCHASE_ORDERS),
            CareOnMaintenanceTodoListEntity(coordinator, MAINTENANCE),
        ]
    )


def _number(value: Any) -> str:
    """A quantity as people write it: 3000, 0.5."""
    number = float(value or 0)
    return str(int(number)) if number.is_integer() else f"{number:.3f}".rstrip("0")


def _in_order(
    waiting: list[tuple[str, TodoItem]], finished: list[tuple[str, TodoItem]]
) -> dict[str, TodoItem]:
    """Items by uid: those waiting by their (stored, UTC) time, then by summary; then the
    finished ones, last finished first."""
    waiting.sort(key=lambda pair: (pair[0], pair[1].summary or "", pair[1].uid or ""))
    finished.sort(key=lambda pair: (pair[0], pair[1].uid or ""), reverse=True)
    return {str(item.uid): item for _, item in (*waiting, *finished)}


def _edit_refused(field: str, actions: str) -> HomeAssistantError:
    """The error for an edit the list cannot make."""
    return translate_error(ValidationError("managed_property", field=field, action=actions))


class CareOnTodoListEntity(CareOnEntity, TodoListEntity):
    """A to-do list of the store whose items are objects."""

    # Finished items (received orders, tasks done) are history the store keeps: deleting one
    # ("clear checked items") takes it off this list, not out of the store. They leave the
    # snapshot after a week anyway, so remembering them until a restart is enough.
    _dismissed: set[str]

    async def async_added_to_hass(self) -> None:
        """Start with nothing dismissed."""
        self._dismissed = set()
        await super().async_added_to_hass()

    @property
    def todo_items(self) -> list[TodoItem]:
        """The items, from the last snapshot."""
        return [item for uid, item in self._items().items() if uid not in self._dismissed]

    def _finished(self, uids: list[str]) -> list[str]:
        """Dismiss the finished items among ``uids``; return the others."""
        items = self._items()
        finished = {
            uid
            for uid in uids
            if (item := items.get(uid)) and item.status == TodoItemStatus.COMPLETED
        }
        if finished:
            self._dismissed |= finished
            self.async_write_ha_state()
        return [uid for uid in uids if uid not in finished]

    def _items(self) -> dict[str, TodoItem]:
        """The items by uid (object id), in the order they show."""
        raise NotImplementedError

    def _items_of(
        self,
        objects: Iterable[StoreObject],
        open_statuses: Collection[str],
        waiting_by: str,
        finished_status: str,
        finished_by: str,
    ) -> dict[str, TodoItem]:
        """The open ``objects`` by their ``waiting_by`` time (none: last), then those in
        ``finished_status`` by their ``finished_by`` time, as ordered by `_in_order`."""
        waiting = [
            (obj.get(waiting_by) or "~", self._item(obj, TodoItemStatus.NEEDS_ACTION))
            for obj in objects
            if obj.get("status") in open_statuses
        ]
        finished = [
            (obj.get(finished_by) or "", self._item(obj, TodoItemStatus.COMPLETED))
            for obj in objects
            if obj.get("status") == finished_status
        ]
        return _in_order(waiting, finished)

    def _item(self, obj: StoreObject, status: TodoItemStatus) -> TodoItem:
        """The item showing ``obj``."""
        raise NotImplementedError

    def _current(self, uid: str | None) -> TodoItem:
        """The item as shown now; an object that is gone is named."""
        if uid is None or (item := self._items().get(uid)) is None:
            raise translate_error(
                ValidationError("object_not_found", field="item", object_id=str(uid))
            )
        return item

    def _local(self, value: str | None) -> datetime | None:
        """A stored datetime in the store's time zone."""
        if not value:
            return None
        return parse_iso(value).astimezone(self.coordinator.engine.timezone)

    async def _async_run(self, action: str, params: Mapping[str, Any]) -> None:
        """Run an action as the user behind the call (the entities follow its commit)."""
        await async_execute(
            self.coordinator.engine,
            action,
            params,
            context=self._context,
            source=SOURCE_ENTITY,
        )


class CareOnPurchaseOrderTodoListEntity(CareOnTodoListEntity):
    """Open purchase orders to receive (checking one receives it) and those received lately."""

    _attr_supported_features = (
        TodoListEntityFeature.UPDATE_TODO_ITEM
        | TodoListEntityFeature.DELETE_TODO_ITEM
        # what the items show; the frontend sends them back with every check
        | TodoListEntityFeature.SET_DUE_DATETIME_ON_ITEM
        | TodoListEntityFeature.SET_DESCRIPTION_ON_ITEM
    )
    _actions = "receive_purchase_order, cancel_purchase_order"

    def _items(self) -> dict[str, TodoItem]:
        # expected first first; received last first
        return self._items_of(
            self.coordinator.data.purchase_orders.values(),
            PURCHASE_ORDER_OPEN,
            "expected_at",
            "received",
            "received_at",
        )

    def _item(self, po: StoreObject, status: TodoItemStatus) -> TodoItem:
        supplier = self.coordinator.data.purchase_order_supplier.get(po.id)
        lines: list[Mapping[str, Any]] = po.get("lines", [])
        return TodoItem(
            uid=po.id,
            summary=f"{supplier.name}{self._items_named(lines)}" if supplier else po.name,
            status=status,
            due=self._local(po.get("expected_at")),
            description="\n".join(self._line(line) for line in lines) or None,
        )

    @staticmethod
    def _items_named(lines: list[Mapping[str, Any]]) -> str:
        """What an order is for, in the store's own words: `` · 우유, 오트밀크`` (the first
        few items, then "…"); nothing for an order without named lines."""
        names = [str(name) for line in lines if (name := line.get("name"))]
        if not names:
            return ""
        shown = ", ".join(names[:SUMMARY_ITEMS])
        return f"{SEPARATOR}{shown}, …" if len(names) > SUMMARY_ITEMS else f"{SEPARATOR}{shown}"

    @staticmethod
    def _line(line: Mapping[str, Any]) -> str:
        """One line: what, how much (what arrived of it so far), in which unit."""
        qty = _number(line.get("qty"))
        if line.get("received"):
            qty = f"{_number(line['received'])}/{qty}"
        return " ".join(str(part) for part in (line.get("name"), qty, line.get("unit")) if part)

    async def async_update_todo_item(self, item: TodoItem) -> None:
        """Checking an order receives what is still missing of it; nothing else changes."""
        current = self._current(item.uid)
        for field in ("summary", "description", "due"):
            if getattr(item, field) != getattr(current, field):
                raise _edit_refused(field, self._actions)
        if item.status == current.status:
            return
        if item.status == TodoItemStatus.COMPLETED:
            await self._async_run("receive_purchase_order", {"purchase_order": current.uid})
            return
        po = self.coordinator.data.purchase_orders[str(current.uid)]
        raise translate_error(
            ValidationError(
                "purchase_order_status_invalid",
                purchase_order=po.name,
                status=po.get("status"),
                allowed=", ".join(PURCHASE_ORDER_OPEN),
            )
        )

    async def async_delete_todo_items(self, uids: list[str]) -> None:
        """Deleting an open order cancels it; a received one only leaves the list."""
        for uid in self._finished(uids):
            await self._async_run("cancel_purchase_order", {"purchase_order": uid})


class CareOnMaintenanceTodoListEntity(CareOnTodoListEntity):
    """Open maintenance tasks (checking one completes it) and those done lately."""

    _attr_supported_features = (
        TodoListEntityFeature.CREATE_TODO_ITEM
        | TodoListEntityFeature.UPDATE_TODO_ITEM
        | TodoListEntityFeature.DELETE_TODO_ITEM
        | TodoListEntityFeature.SET_DUE_DATE_ON_ITEM
        | TodoListEntityFeature.SET_DUE_DATETIME_ON_ITEM
        | TodoListEntityFeature.SET_DESCRIPTION_ON_ITEM
    )

    def _items(self) -> dict[str, TodoItem]:
        # due first first (then those waiting for runtime hours); done last first
        return self._items_of(
            self.coordinator.data.maintenance_tasks.values(),
            MAINTENANCE_TASK_OPEN,
            "due",
            "done",
            "completed_at",
        )

    def _item(self, task: StoreObject, status: TodoItemStatus) -> TodoItem:
        equipment = self.coordinator.data.task_equipment.get(task.id)
        return TodoItem(
            uid=task.id,
            summary=f"{equipment.name}{SEPARATOR}{task.name}" if equipment else task.name,
            status=status,
            due=self._local(task.get("due")),
            description=task.get("notes") or None,
        )

    def _due(self, due: date | datetime | None) -> datetime:
        """When a task is due: a day means from its start (store time); no day means by the
        end of the store's day (its next midnight), not at once."""
        timezone = self.coordinator.engine.timezone
        if due is None:
            today = dt_util.utcnow().astimezone(timezone).date()
            return datetime.combine(today + timedelta(days=1), time(), tzinfo=timezone)
        if isinstance(due, datetime):
            return due
        return datetime.combine(due, time(), tzinfo=timezone)

    def _equipment_and_name(self, summary: str) -> tuple[str | None, str]:
        """A summary that starts with an equipment's name (``제빙기 · 필터 교체``) is for it."""
        best: tuple[str | None, str] = (None, summary.strip())
        longest = 0
        for equipment in self.coordinator.data.equipment.values():
            prefix = f"{equipment.name}{SEPARATOR}"
            if summary.startswith(prefix) and len(prefix) > longest:
                rest = summary[len(prefix) :].strip()
                if rest:
                    best, longest = (equipment.id, rest), len(prefix)
        return best

    async def async_create_todo_item(self, item: TodoItem) -> None:
        """A new item is a one-off task, for the equipment its summary starts with."""
        equipment_id, name = self._equipment_and_name(item.summary or "")
        params: dict[str, Any] = {"name": name, "due": to_iso(self._due(item.due))}
        if equipment_id is not None:
            params["equipment"] = equipment_id
        if item.description:
            params["notes"] = item.description
        await self._async_run("schedule_maintenance", params)

    async def async_update_todo_item(self, item: TodoItem) -> None:
        """Checking a task completes it (with the description as its notes when that
        changed); a new summary, due or description edits an open task."""
        current = self._current(item.uid)
        task = self.coordinator.data.maintenance_tasks[str(current.uid)]
        if item.status != current.status and item.status == TodoItemStatus.NEEDS_ACTION:
            # a task once done stays done
            raise translate_error(
                ValidationError(
                    "maintenance_task_status_invalid",
                    task=task.name,
                    status=task.get("status"),
                    allowed=", ".join(MAINTENANCE_TASK_OPEN),
                )
            )
        # the description is the task's notes ("" clears them)
        notes = None
        if (item.description or None) != current.description:
            notes = item.description or ""
        if item.status != current.status:
            # Done in one action, so in one transaction. The frontend sends the whole item
            # back when it is ticked; a new name or due for a task being done is not applied
            # (a due in the past would only announce it due before it is done).
            await self._async_run(
                "complete_maintenance",
                {"task": task.id} | ({} if notes is None else {"notes": notes}),
            )
            return
        params: dict[str, Any] = {} if notes is None else {"notes": notes}
        if item.summary != current.summary and item.summary:
            equipment = self.coordinator.data.task_equipment.get(task.id)
            prefix = f"{equipment.name}{SEPARATOR}" if equipment else None
            name = item.summary.removeprefix(prefix).strip() if prefix else item.summary.strip()
            if name and name != task.name:
                params["name"] = name
        if self._due_changed(item.due, current.due):
            if item.due is None:
                raise translate_error(ValidationError("missing_field", field="due"))
            params["due"] = to_iso(self._due(item.due))
        if params:
            await self._async_run("update_maintenance_task", {"task": task.id, **params})

    def _due_changed(self, new: date | datetime | None, old: date | datetime | None) -> bool:
        if isinstance(new, datetime) or new is None or not isinstance(old, datetime):
            return new != old
        # a day for a task due at some time of that day: no change
        return new != old.astimezone(self.coordinator.engine.timezone).date()

    async def async_delete_todo_items(self, uids: list[str]) -> None:
        """Deleting an open task cancels it (a planned one is replaced by the plan's next);
        a task done only leaves the list."""
        for uid in self._finished(uids):
            await self._async_run("cancel_maintenance", {"task": uid})
