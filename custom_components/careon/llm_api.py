"""The "CareOn store" LLM API: the store's ontology and actions as tools for Home Assistant's
conversation agents.

Registered once (``async_setup``), it sits next to Assist in every conversation agent's "Control
Home Assistant" choices. An instance holds tools over the loaded CareOn stores: with more than
one, every tool takes a required ``store`` argument (the store's name or config entry id).

Read tools read the store afresh (never the entities' cached snapshot). Act tools run the action
engine's actions through ``helpers.async_execute``, like a service call: the same admin rule
(``helpers.async_check_admin``), the audit row's actor ``assistant:<platform>/user:<user id>``
and source ``assistant``, the tool's optional ``reason``. Tools that spend money or cannot be
undone take ``confirm``; without ``confirm: true`` they change nothing and answer with a
translated error that says what the call would do and to ask the user first.

Object arguments accept an id (``product.latte_hot``), a key (``latte_hot``) or the exact name
(case-insensitive); an unknown one is a translated error listing a few that exist. Errors are
Home Assistant errors whose English text (``str(err)``) is what the model reads back.

Tools are classes listed in ``TOOLS``; a tool is added by appending its class.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextvars import ContextVar
from datetime import datetime
from typing import Any, ClassVar, Final

from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError, Unauthorized
from homeassistant.helpers import llm
from homeassistant.helpers.typing import VolDictType
from homeassistant.util import dt as dt_util
from homeassistant.util.json import JsonObjectType
import voluptuous as vol

from .const import DOMAIN, LLM_API_ID, SOURCE_ASSISTANT
from .coordinator import CareOnConfigEntry
from .core import CareOnError, StoreObject, query_objects, store_snapshot
from .core.actions.inventory import ADJUST_MODES
from .core.actions.maintenance import is_due
from .core.actions.orders import CHANNELS
from .core.actions.stock import is_low
from .core.ontology import Ontology, new_object_id
from .core.queries import MAX_FOLLOW_HOPS, MAX_QUERY_OBJECTS, PURCHASE_ORDER_OPEN, StoreSnapshot
from .forecast import (
    ATTR_MIN_STAFF,
    ATTR_ORDERS_PER_STAFF_HOUR,
    async_staff_plan,
    staff_plan_service_args,
)
from .helpers import async_check_admin, async_execute, async_is_admin, translate_error
from .vision import KEY_OCCUPANCY, KEY_VISITORS_IN, KEY_VISITORS_OUT, vision_entities

API_NAME: Final = "CareOn store"
ACTOR_PREFIX: Final = "assistant"

ATTR_STORE: Final = "store"
ATTR_CONFIRM: Final = "confirm"
ATTR_REASON: Final = "reason"

# Errors of this module: translation key -> placeholders (strings.json "exceptions")
LLM_ERROR_KEYS: Final[Mapping[str, tuple[str, ...]]] = {
    "confirmation_required": ("tool", "effect"),
    "admin_required": ("tool",),
    "no_store": (),
    "store_required": ("stores",),
    "store_not_found": ("store", "stores"),
    "assistant_object_not_found": ("field", "object_type", "value", "choices"),
    "assistant_object_ambiguous": ("field", "value", "choices"),
}
# How many objects an unknown-name error suggests
SUGGESTIONS: Final = 8
# The id of the tool call being run (one task per call): an agent that sends the same call
# again gets the first result, never a second sale.
TOOL_CALL_ID: ContextVar[str | None] = ContextVar("careon_tool_call_id", default=None)

STORE_FIELD: Final = vol.Required(
    ATTR_STORE,
    description="Which store: its name or config entry id (see the system prompt).",
)
REASON_FIELD: Final = vol.Optional(
    ATTR_REASON,
    description="Why, in the user's words; kept in the store's audit log.",
)
CONFIRM_FIELD: Final = vol.Optional(
    ATTR_CONFIRM,
    description=(
        "Must be true to do it. First call without it (or false): nothing changes and the "
        "error says what the call would do. Tell the user, get their yes, then call again "
        "with confirm true."
    ),
)

PROMPT_TEMPLATE: Final = """You can read and run the CareOn store (a cafe's point of sale, \
stock, purchasing, maintenance and alarms) with the CareOn tools.
{stores}
Money is in KRW, integer won (5000 means 5,000 won). Times are ISO 8601; without an offset they \
are the store's local time.
Objects have ids like product.latte_hot, inventory_item.milk, supplier.dairy, equipment.oven, \
zone.hall; purchase orders, alarms and maintenance tasks have ids with a random suffix. Get ids \
from the read tools (store_status, stock, purchase_orders, maintenance_due, zone_occupancy, \
query). Where a tool takes an object it also accepts its key (latte_hot) or its exact name.
Tools that spend money or cannot be undone (place_order, create_purchase_order with approve, \
approve_purchase_order, cancel_purchase_order, acknowledge_alarm) change nothing unless called \
with confirm true: call them without it, tell the user what the error says the call would do, \
and only after the user agrees call again with confirm true. Never set confirm true on your own.
When a tool answers with an error, read error_text: it names the argument to fix."""


# Home Assistant 2026.x wants a tool's answer as an llm.ToolResult (a bare JSON object is
# deprecated there); 2025.x has no ToolResult and takes the object.
_TOOL_RESULT: Final[Any] = getattr(llm, "ToolResult", None)


def _tool_result(data: JsonObjectType) -> Any:
    """A tool's answer, in the form the running Home Assistant takes."""
    return data if _TOOL_RESULT is None else _TOOL_RESULT(data=data)


def _error(key: str, *, validation: bool = True, **placeholders: Any) -> HomeAssistantError:
    """A translated error of this module (``validation``: the caller's to fix)."""
    error_class = ServiceValidationError if validation else HomeAssistantError
    return error_class(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders={name: str(value) for name, value in placeholders.items()},
    )


def assistant_actor(llm_context: llm.LLMContext) -> str:
    """Who acts: the assistant (the conversation platform) acting for the HA user."""
    actor = f"{ACTOR_PREFIX}:{llm_context.platform}"
    if llm_context.context is not None and llm_context.context.user_id:
        actor += f"/user:{llm_context.context.user_id}"
    return actor


def _loaded_stores(hass: HomeAssistant) -> list[CareOnConfigEntry]:
    entries: list[CareOnConfigEntry] = hass.config_entries.async_loaded_entries(DOMAIN)
    return sorted(entries, key=lambda entry: (entry.title.casefold(), entry.entry_id))


def _store_list(entries: Iterable[CareOnConfigEntry]) -> str:
    return ", ".join(f'"{entry.title}" ({entry.entry_id})' for entry in entries)


def _store_entry(hass: HomeAssistant, store: str | None) -> CareOnConfigEntry:
    """The loaded store a tool call is for."""
    entries = _loaded_stores(hass)
    if not entries:
        raise _error("no_store", validation=False)
    if store is None:
        if len(entries) == 1:
            return entries[0]
        raise _error("store_required", stores=_store_list(entries))
    wanted = store.strip().casefold()
    for entry in entries:
        if wanted in (entry.entry_id.casefold(), entry.title.casefold()):
            return entry
    raise _error("store_not_found", store=store, stores=_store_list(entries))


def _won(amount: Any) -> str:
    return f"{round(amount or 0):,} won"


def _number(value: Any) -> Any:
    """A number as the model should read it (2.0 -> 2)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class Resolver:
    """Turns what a model calls an object (id, key or name) into its id, in one read."""

    def __init__(self, ontology: Ontology) -> None:
        """Resolve against the objects ``ontology`` sees."""
        self.ontology = ontology
        self._by_type: dict[str, list[StoreObject]] = {}

    async def objects(self, object_type: str) -> list[StoreObject]:
        """Every object of a type (read once)."""
        if object_type not in self._by_type:
            self._by_type[object_type] = await self.ontology.by_type(object_type)
        return self._by_type[object_type]

    async def resolve(self, field: str, object_type: str, value: str) -> StoreObject:
        """The object of ``object_type`` that ``value`` names, or a translated error."""
        wanted = value.strip()
        candidates = await self.objects(object_type)
        by_id = {obj.id: obj for obj in candidates}
        prefix = new_object_id(object_type, "_").removesuffix("_")
        if (found := by_id.get(wanted) or by_id.get(f"{prefix}{wanted}")) is not None:
            return found
        folded = wanted.casefold()
        named = [
            obj
            for obj in candidates
            if folded in (obj.name.casefold(), obj.id.casefold(), obj.id[len(prefix) :].casefold())
        ]
        if len(named) == 1:
            return named[0]
        if named:
            raise _error(
                "assistant_object_ambiguous",
                field=field,
                value=value,
                choices=self._describe(named),
            )
        similar = [
            obj for obj in candidates if folded and folded in f"{obj.id} {obj.name}".casefold()
        ]
        raise _error(
            "assistant_object_not_found",
            field=field,
            object_type=object_type,
            value=value,
            choices=self._describe(similar or candidates) or "none",
        )

    @staticmethod
    def _describe(objects: Sequence[StoreObject]) -> str:
        shown = ", ".join(f"{obj.name} ({obj.id})" for obj in objects[:SUGGESTIONS])
        more = len(objects) - SUGGESTIONS
        return f"{shown} (and {more} more)" if more > 0 else shown


class CareOnTool(llm.Tool):
    """A tool over one loaded CareOn store."""

    fields: ClassVar[VolDictType] = {}
    # the integration that provides the tool (Home Assistant 2026.x asks every tool)
    integration = DOMAIN

    def __init__(self, *, multi_store: bool) -> None:
        """Take the ``store`` argument when more than one store is loaded."""
        schema: VolDictType = {STORE_FIELD: str} if multi_store else {}
        self.parameters = vol.Schema({**schema, **self.fields})

    async def async_call(
        self, hass: HomeAssistant, tool_input: llm.ToolInput, llm_context: llm.LLMContext
    ) -> Any:
        """Check the arguments against the tool's schema, find the store, run the tool; its
        answer as the running Home Assistant takes it (_tool_result)."""
        # APIInstance does not validate the arguments: a vol.Invalid reaches the model as is
        args: dict[str, Any] = self.parameters(tool_input.tool_args)
        entry = _store_entry(hass, args.pop(ATTR_STORE, None))
        token = TOOL_CALL_ID.set(tool_input.id)
        try:
            return _tool_result(await self.async_run(hass, entry, args, llm_context))
        except CareOnError as err:
            raise translate_error(err) from err
        finally:
            TOOL_CALL_ID.reset(token)

    async def async_run(
        self,
        hass: HomeAssistant,
        entry: CareOnConfigEntry,
        args: dict[str, Any],
        llm_context: llm.LLMContext,
    ) -> dict[str, Any]:
        """Do what the tool does."""
        raise NotImplementedError


# --- reading -------------------------------------------------------------------------------


async def _snapshot(entry: CareOnConfigEntry, now: datetime) -> StoreSnapshot:
    engine = entry.runtime_data.engine
    async with engine.reader() as ontology:
        return await store_snapshot(
            ontology,
            tz=engine.timezone,
            now=now,
            day_start_hour=entry.runtime_data.coordinator.day_start_hour,
        )


def _item_row(item: StoreObject) -> dict[str, Any]:
    return {
        "id": item.id,
        "name": item.name,
        "on_hand": _number(item.get("on_hand", 0)),
        "unit": item.get("unit"),
        "reorder_point": _number(item.get("reorder_point")),
        "par_level": _number(item.get("par_level")),
        "low": is_low(item),
    }


def _purchase_order_row(snapshot: StoreSnapshot, po: StoreObject) -> dict[str, Any]:
    supplier = snapshot.purchase_order_supplier.get(po.id)
    return {
        "id": po.id,
        "name": po.name,
        "status": po.get("status"),
        "supplier": None if supplier is None else {"id": supplier.id, "name": supplier.name},
        "lines": [
            {
                "item": line.get("item"),
                "name": line.get("name"),
                "qty": _number(line.get("qty")),
                "received": _number(line.get("received", 0)),
                "unit": line.get("unit"),
                "unit_cost": line.get("unit_cost"),
            }
            for line in po.get("lines", [])
        ],
        "total_cost": po.get("total_cost"),
        "expected_at": po.get("expected_at"),
        "approved_at": po.get("approved_at"),
    }


def _task_row(snapshot: StoreSnapshot, task: StoreObject, now: datetime) -> dict[str, Any]:
    equipment = snapshot.task_equipment.get(task.id)
    runtime = equipment.get("runtime_hours", 0) if equipment is not None else None
    return {
        "id": task.id,
        "name": task.name,
        "reason": task.get("reason"),
        "equipment": None if equipment is None else {"id": equipment.id, "name": equipment.name},
        "due": task.get("due"),
        "due_runtime_hours": _number(task.get("due_runtime_hours")),
        "equipment_runtime_hours": _number(runtime),
        "due_now": bool(task.get("due_announced_at")) or is_due(task.properties, runtime, now),
    }


def _alarm_row(snapshot: StoreSnapshot, alarm: StoreObject) -> dict[str, Any]:
    subject = snapshot.alarm_subject.get(alarm.id)
    return {
        "id": alarm.id,
        "name": alarm.name,
        "kind": alarm.get("kind"),
        "severity": alarm.get("severity"),
        "status": alarm.get("status"),
        "subject": None if subject is None else {"id": subject.id, "name": subject.name},
        "message": alarm.get("message"),
        "raised_at": alarm.get("raised_at"),
    }


class StoreStatusTool(CareOnTool):
    """Today at a glance."""

    name = "store_status"
    description = (
        "The store today, read now: orders and revenue of the business day (won), average "
        "ticket, card payments not yet matched to an order, items low on stock, open purchase "
        "orders, unresolved alarms, maintenance due and products off the menu. Call it first "
        "for any question about how the store is doing."
    )

    async def async_run(
        self,
        hass: HomeAssistant,
        entry: CareOnConfigEntry,
        args: dict[str, Any],
        llm_context: llm.LLMContext,
    ) -> dict[str, Any]:
        """Read the store's snapshot."""
        now = dt_util.utcnow()
        snapshot = await _snapshot(entry, now)
        tz = entry.runtime_data.engine.timezone
        low = snapshot.low_stock
        open_orders = snapshot.open_purchase_orders
        tasks = [_task_row(snapshot, task, now) for task in snapshot.open_tasks()]
        return {
            "store": entry.title,
            "now": now.astimezone(tz).isoformat(timespec="minutes"),
            "currency": "KRW",
            "orders_today": snapshot.orders_today,
            "revenue_today": snapshot.revenue_today,
            "average_ticket": snapshot.average_ticket,
            "unreconciled_payments": snapshot.unreconciled_payments,
            "low_stock_count": len(low),
            "low_stock": [_item_row(item) for item in low],
            "open_purchase_orders": len(open_orders),
            "purchase_orders": [
                {
                    "id": po.id,
                    "name": po.name,
                    "status": po.get("status"),
                    "total_cost": po.get("total_cost"),
                }
                for po in open_orders
            ],
            "active_alarms": [_alarm_row(snapshot, alarm) for alarm in snapshot.alarms.values()],
            "maintenance_due": [task for task in tasks if task["due_now"]],
            "unavailable_products": [
                {
                    "id": product.id,
                    "name": product.name,
                    "reason": product.get("availability_reason"),
                }
                for product in snapshot.products.values()
                if not product.get("available", True)
            ],
            # the forecast's suggestion for the coming hour (None before its first read)
            "recommended_staff_next_hour": (
                forecast.next_hour.as_dict()
                if (forecast := entry.runtime_data.forecast.data) is not None
                else None
            ),
        }


class StockTool(CareOnTool):
    """Stock levels."""

    name = "stock"
    description = (
        "Every inventory item: on hand, unit (g, ml, ea...), reorder point, par level and "
        "whether it is low (at or under its reorder point). Use the ids with adjust_stock and "
        "create_purchase_order."
    )
    fields: ClassVar[VolDictType] = {
        vol.Optional("only_low", default=False, description="Only the items that are low."): bool,
    }

    async def async_run(
        self,
        hass: HomeAssistant,
        entry: CareOnConfigEntry,
        args: dict[str, Any],
        llm_context: llm.LLMContext,
    ) -> dict[str, Any]:
        """Read the inventory."""
        snapshot = await _snapshot(entry, dt_util.utcnow())
        items = sorted(snapshot.inventory.values(), key=lambda item: (item.name, item.id))
        rows = [_item_row(item) for item in items]
        if args["only_low"]:
            rows = [row for row in rows if row["low"]]
        return {"items": rows}


class PurchaseOrdersTool(CareOnTool):
    """Purchase orders."""

    name = "purchase_orders"
    description = (
        "Purchase orders still waiting for delivery (draft, requested, ordered, partially "
        "received): supplier, lines (qty, received, unit cost in won), total cost in won, "
        "expected delivery. A draft is not sent until approved (approve_purchase_order)."
    )
    fields: ClassVar[VolDictType] = {
        vol.Optional(
            "include_recent",
            default=False,
            description="Also those received or cancelled in the last seven days.",
        ): bool,
    }

    async def async_run(
        self,
        hass: HomeAssistant,
        entry: CareOnConfigEntry,
        args: dict[str, Any],
        llm_context: llm.LLMContext,
    ) -> dict[str, Any]:
        """Read the purchase orders."""
        snapshot = await _snapshot(entry, dt_util.utcnow())
        orders = [
            po
            for po in snapshot.purchase_orders.values()
            if args["include_recent"] or po.get("status") in PURCHASE_ORDER_OPEN
        ]
        orders.sort(key=lambda po: (po.name, po.id))
        return {"purchase_orders": [_purchase_order_row(snapshot, po) for po in orders]}


class MaintenanceDueTool(CareOnTool):
    """Open maintenance tasks."""

    name = "maintenance_due"
    description = (
        "Open maintenance tasks: what to do, for which equipment, due date or runtime hours, "
        "and due_now (due already). To add one use schedule_maintenance."
    )

    async def async_run(
        self,
        hass: HomeAssistant,
        entry: CareOnConfigEntry,
        args: dict[str, Any],
        llm_context: llm.LLMContext,
    ) -> dict[str, Any]:
        """Read the open tasks."""
        now = dt_util.utcnow()
        snapshot = await _snapshot(entry, now)
        rows = [_task_row(snapshot, task, now) for task in snapshot.open_tasks()]
        rows.sort(key=lambda row: (not row["due_now"], row["due"] or "~", row["name"]))
        return {"tasks": rows}


def _state_number(hass: HomeAssistant, entity_id: str) -> float | int | None:
    state = hass.states.get(entity_id)
    if state is None or state.state in (STATE_UNKNOWN, STATE_UNAVAILABLE):
        return None
    try:
        value: float | int | None = _number(float(state.state))
    except ValueError:
        return None
    return value


class ZoneOccupancyTool(CareOnTool):
    """Zones and what the cameras see."""

    name = "zone_occupancy"
    description = (
        "The store's zones (capacity) and what the CareOn Vision cameras count now: people in "
        "view per camera and per zone, average dwell in a zone (seconds), visitors in and out "
        "today. Values are null where no camera covers it or a camera is offline."
    )

    async def async_run(
        self,
        hass: HomeAssistant,
        entry: CareOnConfigEntry,
        args: dict[str, Any],
        llm_context: llm.LLMContext,
    ) -> dict[str, Any]:
        """Read the zones and the vision entities' states."""
        async with entry.runtime_data.engine.reader() as ontology:
            zones = await ontology.by_type("Zone")
        cameras: dict[str, dict[str, Any]] = {}
        # vision zone key -> measure (occupancy, dwell) -> the cameras' values
        seen: dict[str, dict[str, list[float]]] = {}
        for entity in vision_entities(hass):
            camera = cameras.setdefault(
                entity.camera,
                {
                    "camera": entity.camera,
                    "people_now": None,
                    "visitors_in_today": None,
                    "visitors_out_today": None,
                    "zones": {},
                },
            )
            value = _state_number(hass, entity.entity_id)
            if entity.key == KEY_OCCUPANCY:
                camera["people_now"] = value
            elif entity.key == KEY_VISITORS_IN:
                camera["visitors_in_today"] = value
            elif entity.key == KEY_VISITORS_OUT:
                camera["visitors_out_today"] = value
            elif entity.key.startswith("zone_") and entity.key.endswith(("_occupancy", "_dwell")):
                zone_key, _, measure = entity.key.removeprefix("zone_").rpartition("_")
                field = "people_now" if measure == "occupancy" else "average_dwell_s"
                camera["zones"].setdefault(zone_key, {})[field] = value
                if value is not None:
                    seen.setdefault(zone_key, {}).setdefault(measure, []).append(value)
        rows = []
        for zone in zones:
            key = zone.id.removeprefix("zone.")
            people = seen.get(key, {}).get("occupancy", [])
            dwell = seen.get(key, {}).get("dwell", [])
            rows.append(
                {
                    "id": zone.id,
                    "name": zone.name,
                    "kind": zone.get("kind"),
                    "capacity": zone.get("capacity"),
                    "people_now": _number(sum(people)) if people else None,
                    "average_dwell_s": round(sum(dwell) / len(dwell), 1) if dwell else None,
                }
            )
        return {"zones": rows, "cameras": list(cameras.values())}


class QueryTool(CareOnTool):
    """The ontology query."""

    name = "query"
    description = (
        "Query the store's objects by type with filters and link traversal. object_type: "
        "Product, InventoryItem, Supplier, PurchaseOrder, Order, Payment, Equipment, "
        "MaintenanceTask, Alarm, Zone, Staff, Customer, Store. filters: {property: value} or "
        "{property: {op: value}} with op eq, ne, lt, lte, gt, gte, in, contains (e.g. "
        '{"price": {"gte": 5000}}). follow: link types to attach, dotted for several hops '
        '("requires.supplied_by": a product\'s ingredients and their suppliers), a leading ~ '
        'goes backwards ("~contains": the orders containing a product); at most '
        f"{MAX_FOLLOW_HOPS} hops, and at most {MAX_QUERY_OBJECTS} objects in all."
    )
    fields: ClassVar[VolDictType] = {
        vol.Optional("object_type", description="The type of the objects."): str,
        vol.Optional("object_ids", description="Only these ids."): [str],
        vol.Optional("filters", description="Property conditions."): dict,
        vol.Optional("follow", description="Link types to attach."): [str],
        vol.Optional(
            "limit", default=50, description="At most this many objects (1 to 200)."
        ): vol.All(int, vol.Range(min=1, max=200)),
    }

    async def async_run(
        self,
        hass: HomeAssistant,
        entry: CareOnConfigEntry,
        args: dict[str, Any],
        llm_context: llm.LLMContext,
    ) -> dict[str, Any]:
        """Run the query (personal data only for an administrator)."""
        engine = entry.runtime_data.engine
        personal = await async_is_admin(hass, llm_context.context)
        async with engine.reader() as ontology:
            objects = await query_objects(ontology, engine.schema, args, personal=personal)
        return {"objects": objects, "count": len(objects)}


# --- acting --------------------------------------------------------------------------------


class ActionTool(CareOnTool):
    """A tool that runs one of the engine's actions."""

    action: ClassVar[str]
    # spends money or cannot be undone: needs ``confirm: true`` (see ``needs_confirmation``)
    confirm: ClassVar[bool] = False

    def __init__(self, *, multi_store: bool) -> None:
        """The action's fields, the reason, and the confirmation where one is needed."""
        super().__init__(multi_store=multi_store)
        extra: VolDictType = {REASON_FIELD: str}
        if self.confirm:
            extra[CONFIRM_FIELD] = bool
        self.parameters = self.parameters.extend(extra)

    def needs_confirmation(self, args: Mapping[str, Any]) -> bool:
        """Whether this call spends money or cannot be undone."""
        return self.confirm

    async def async_params(self, resolver: Resolver, args: dict[str, Any]) -> dict[str, Any]:
        """The action's parameters, object names resolved to ids."""
        return args

    async def async_effect(self, resolver: Resolver, params: dict[str, Any]) -> str:
        """What the call would do, for the confirmation request."""
        raise NotImplementedError

    async def async_run(
        self,
        hass: HomeAssistant,
        entry: CareOnConfigEntry,
        args: dict[str, Any],
        llm_context: llm.LLMContext,
    ) -> dict[str, Any]:
        """Check who asks, resolve the objects, ask for a confirmation, run the action."""
        reason = args.pop(ATTR_REASON, None)
        confirmed = args.pop(ATTR_CONFIRM, False)
        try:
            await async_check_admin(hass, llm_context.context, self.action, args)
        except Unauthorized as err:
            raise _error("admin_required", validation=False, tool=self.name) from err
        engine = entry.runtime_data.engine
        async with engine.reader() as ontology:
            resolver = Resolver(ontology)
            params = await self.async_params(resolver, args)
            effect = (
                await self.async_effect(resolver, params)
                if self.needs_confirmation(params) and confirmed is not True
                else None
            )
        if effect is not None:
            raise _error("confirmation_required", tool=self.name, effect=effect)
        result = await async_execute(
            engine,
            self.action,
            params,
            context=llm_context.context,
            source=SOURCE_ASSISTANT,
            actor=assistant_actor(llm_context),
            idempotency_key=(
                f"{ACTOR_PREFIX}:{call_id}" if (call_id := TOOL_CALL_ID.get()) else None
            ),
            reason=reason,
        )
        return {
            "success": True,
            "action": self.action,
            "result": dict(result.result),
            "replayed": result.replayed,
        }


async def _resolve_lines(
    resolver: Resolver, lines: list[dict[str, Any]], key: str, object_type: str
) -> list[dict[str, Any]]:
    return [
        {
            **line,
            key: (await resolver.resolve(f"lines[{index}].{key}", object_type, line[key])).id,
        }
        for index, line in enumerate(lines)
    ]


class PlaceOrderTool(ActionTool):
    """Record a sale."""

    name = "place_order"
    action = "place_order"
    confirm = True
    description = (
        "Record a sale (an order paid at the counter): deducts the products' recipes from "
        "stock; refused for a product off the menu or without enough stock. Prices come from "
        "the products (won). Needs confirm true (it records revenue and takes stock)."
    )
    fields: ClassVar[VolDictType] = {
        vol.Required("lines", description="What was sold."): [
            {
                vol.Required("product", description="Product id, key or exact name."): str,
                vol.Optional("qty", default=1, description="How many."): vol.All(
                    int, vol.Range(min=1)
                ),
            }
        ],
        vol.Optional("channel", default="here", description="Where it is consumed."): vol.In(
            list(CHANNELS)
        ),
        vol.Optional("note", description="A note on the order."): str,
    }

    async def async_params(self, resolver: Resolver, args: dict[str, Any]) -> dict[str, Any]:
        """Products by id."""
        return {
            **args,
            "lines": await _resolve_lines(resolver, args["lines"], "product", "Product"),
        }

    async def async_effect(self, resolver: Resolver, params: dict[str, Any]) -> str:
        """The lines and the total."""
        products = {obj.id: obj for obj in await resolver.objects("Product")}
        parts = []
        total = 0
        for line in params["lines"]:
            product = products[line["product"]]
            total += product.get("price", 0) * line["qty"]
            parts.append(f"{line['qty']} x {product.name}")
        return (
            f"record a sale of {', '.join(parts)} for {_won(total)} and deduct its "
            "ingredients from stock"
        )


class AdjustStockTool(ActionTool):
    """Correct the stock."""

    name = "adjust_stock"
    action = "adjust_inventory"
    description = (
        "Change an inventory item's on-hand level, in the item's unit (see the stock tool). "
        "mode count: qty is the level counted now; waste or spoilage: qty (> 0) was thrown "
        "away; correction: qty is added (negative to subtract)."
    )
    fields: ClassVar[VolDictType] = {
        vol.Required("item", description="Inventory item id, key or exact name."): str,
        vol.Required("mode", description="count, waste, spoilage or correction."): vol.In(
            list(ADJUST_MODES)
        ),
        vol.Required("qty", description="Quantity in the item's unit."): vol.Coerce(float),
    }

    async def async_params(self, resolver: Resolver, args: dict[str, Any]) -> dict[str, Any]:
        """The item by id."""
        item = await resolver.resolve("item", "InventoryItem", args["item"])
        return {**args, "item": item.id, "qty": _number(args["qty"])}


class CreatePurchaseOrderTool(ActionTool):
    """Order from a supplier."""

    name = "create_purchase_order"
    action = "create_purchase_order"
    confirm = True
    description = (
        "Draft a purchase order to one supplier (lines of inventory items and quantities in "
        "the item's unit; unit cost in won defaults to the item's). A draft spends nothing; "
        "approve true also approves it (sends it: spends money, needs confirm true and an "
        "administrator). Refused for an item already on an open order."
    )
    fields: ClassVar[VolDictType] = {
        vol.Required("supplier", description="Supplier id, key or exact name."): str,
        vol.Required("lines", description="What to order."): [
            {
                vol.Required("item", description="Inventory item id, key or exact name."): str,
                vol.Required("qty", description="Quantity in the item's unit."): vol.Coerce(float),
                vol.Optional("unit_cost", description="Won per unit."): int,
            }
        ],
        vol.Optional("expected_at", description="Expected delivery, ISO 8601."): str,
        vol.Optional("note", description="A note for the supplier."): str,
        vol.Optional(
            "approve", default=False, description="Approve (send) it now: spends money."
        ): bool,
    }

    def needs_confirmation(self, args: Mapping[str, Any]) -> bool:
        """Only an approved order spends."""
        return bool(args.get("approve"))

    async def async_params(self, resolver: Resolver, args: dict[str, Any]) -> dict[str, Any]:
        """Supplier and items by id."""
        supplier = await resolver.resolve("supplier", "Supplier", args["supplier"])
        lines = await _resolve_lines(resolver, args["lines"], "item", "InventoryItem")
        for line in lines:
            line["qty"] = _number(line["qty"])
        return {**args, "supplier": supplier.id, "lines": lines}

    async def async_effect(self, resolver: Resolver, params: dict[str, Any]) -> str:
        """The supplier and the total."""
        suppliers = {obj.id: obj for obj in await resolver.objects("Supplier")}
        items = {obj.id: obj for obj in await resolver.objects("InventoryItem")}
        total = sum(
            line["qty"] * (line.get("unit_cost", items[line["item"]].get("unit_cost")) or 0)
            for line in params["lines"]
        )
        return (
            f"send a purchase order to {suppliers[params['supplier']].name} for {_won(total)} "
            "(approved: the money is committed)"
        )


async def _purchase_order_effect(resolver: Resolver, po_id: str, verb: str) -> str:
    po = next(obj for obj in await resolver.objects("PurchaseOrder") if obj.id == po_id)
    linked = await resolver.ontology.linked([po.id], "for")
    supplier = linked[0][1].name if linked else "no supplier"
    return f"{verb} purchase order {po.name} to {supplier} for {_won(po.get('total_cost'))}"


class PurchaseOrderTool(ActionTool):
    """An action on one purchase order, confirmed with its supplier and total."""

    confirm = True
    # what the confirmation request says the call would do to the order
    verb: ClassVar[str]
    fields: ClassVar[VolDictType] = {
        vol.Required("purchase_order", description="Purchase order id or exact name."): str,
    }

    async def async_params(self, resolver: Resolver, args: dict[str, Any]) -> dict[str, Any]:
        """The purchase order by id."""
        po = await resolver.resolve("purchase_order", "PurchaseOrder", args["purchase_order"])
        return {"purchase_order": po.id}

    async def async_effect(self, resolver: Resolver, params: dict[str, Any]) -> str:
        """The order, its supplier and total."""
        return await _purchase_order_effect(resolver, params["purchase_order"], self.verb)


class ApprovePurchaseOrderTool(PurchaseOrderTool):
    """Approve a purchase order."""

    name = "approve_purchase_order"
    action = "approve_purchase_order"
    verb = "approve (send and pay)"
    description = (
        "Approve a draft or requested purchase order: it is sent to the supplier and the "
        "money is committed. Needs confirm true and an administrator. Ids from purchase_orders."
    )


class CancelPurchaseOrderTool(PurchaseOrderTool):
    """Cancel a purchase order."""

    name = "cancel_purchase_order"
    action = "cancel_purchase_order"
    verb = "cancel for good"
    description = (
        "Cancel an open purchase order that nothing was received for yet. It cannot be "
        "undone (a new order would be needed): needs confirm true."
    )


class SetAvailabilityTool(ActionTool):
    """Take a product off the menu or put it back."""

    name = "set_availability"
    action = "update_availability"
    description = (
        "Take a product off the menu (available false) or put it back (true). Switched off "
        "by hand, it stays off when stock comes back."
    )
    fields: ClassVar[VolDictType] = {
        vol.Required("product", description="Product id, key or exact name."): str,
        vol.Required("available", description="On the menu or not."): bool,
    }

    async def async_params(self, resolver: Resolver, args: dict[str, Any]) -> dict[str, Any]:
        """The product by id."""
        product = await resolver.resolve("product", "Product", args["product"])
        return {**args, "product": product.id}


class ScheduleMaintenanceTool(ActionTool):
    """Plan maintenance."""

    name = "schedule_maintenance"
    action = "schedule_maintenance"
    description = (
        "Add a one-off maintenance task (name and due date, equipment optional), or set an "
        "equipment's plan: every interval_days and/or every runtime_hours of running (a plan "
        "needs an administrator)."
    )
    fields: ClassVar[VolDictType] = {
        vol.Optional("equipment", description="Equipment id, key or exact name."): str,
        vol.Optional("name", description="What to do."): str,
        vol.Optional("due", description="When, ISO 8601 date or date-time."): str,
        vol.Optional("interval_days", description="Plan: every this many days."): vol.All(
            int, vol.Range(min=1)
        ),
        vol.Optional(
            "runtime_hours", description="Plan: every this many running hours."
        ): vol.Coerce(float),
        vol.Optional("notes", description="Notes for whoever does it."): str,
    }

    async def async_params(self, resolver: Resolver, args: dict[str, Any]) -> dict[str, Any]:
        """The equipment by id."""
        if "equipment" not in args:
            return args
        equipment = await resolver.resolve("equipment", "Equipment", args["equipment"])
        return {**args, "equipment": equipment.id}


class AcknowledgeAlarmTool(ActionTool):
    """Acknowledge an alarm."""

    name = "acknowledge_alarm"
    action = "acknowledge_alarm"
    confirm = True
    description = (
        "Acknowledge an active alarm: someone is on it and its escalation stops. It cannot "
        "be undone: needs confirm true. Ids from store_status (active_alarms)."
    )
    fields: ClassVar[VolDictType] = {
        vol.Required("alarm", description="Alarm id or exact name."): str,
    }

    async def async_params(self, resolver: Resolver, args: dict[str, Any]) -> dict[str, Any]:
        """The alarm by id."""
        alarm = await resolver.resolve("alarm", "Alarm", args["alarm"])
        return {"alarm": alarm.id}

    async def async_effect(self, resolver: Resolver, params: dict[str, Any]) -> str:
        """The alarm."""
        alarm = next(obj for obj in await resolver.objects("Alarm") if obj.id == params["alarm"])
        return (
            f"acknowledge the {alarm.get('severity')} alarm {alarm.name} "
            f"({alarm.get('status')}); its escalation stops"
        )


class StaffPlanTool(CareOnTool):
    """The staff plan of a day, from the traffic forecast."""

    name = "staff_plan"
    description = (
        "Suggested staff per hour for one day (tomorrow unless date is given; today up to 14 "
        "days ahead), from the forecast of orders and visitors per hour (weekday x hour pattern "
        "and recent trend of the store's history). Each hour: expected_orders, "
        "expected_visitors, staff (0 while closed); also the total staff-hours, the peak hour and "
        "the hours needing more staff than the store has (short_hours). It is a suggestion: "
        "it changes no schedule. orders_per_staff_hour and min_staff replace the store's "
        "settings for this answer only (what if)."
    )
    fields: ClassVar[VolDictType] = {
        vol.Optional("date", description="The day, YYYY-MM-DD (default tomorrow)."): str,
        vol.Optional(
            ATTR_ORDERS_PER_STAFF_HOUR,
            description="Orders one person handles in an hour (default: the store's setting).",
        ): vol.Coerce(float),
        vol.Optional(
            ATTR_MIN_STAFF, description="Staff while open, at least (default: the store's)."
        ): int,
    }

    async def async_run(
        self,
        hass: HomeAssistant,
        entry: CareOnConfigEntry,
        args: dict[str, Any],
        llm_context: llm.LLMContext,
    ) -> dict[str, Any]:
        """Compute the plan (reads only)."""
        plan = await async_staff_plan(hass, entry, **staff_plan_service_args(args))
        return plan.as_dict()


# The tools every instance offers, in this order; a new tool is a class appended here.
TOOLS: list[type[CareOnTool]] = [
    StoreStatusTool,
    StockTool,
    PurchaseOrdersTool,
    MaintenanceDueTool,
    ZoneOccupancyTool,
    QueryTool,
    PlaceOrderTool,
    AdjustStockTool,
    CreatePurchaseOrderTool,
    ApprovePurchaseOrderTool,
    CancelPurchaseOrderTool,
    SetAvailabilityTool,
    ScheduleMaintenanceTool,
    AcknowledgeAlarmTool,
    StaffPlanTool,
]


def _prompt(entries: Sequence[CareOnConfigEntry]) -> str:
    if not entries:
        return "No CareOn store is loaded: the CareOn tools are not available."
    lines = [
        f'- "{entry.title}" (config entry {entry.entry_id}), time zone '
        f"{entry.runtime_data.engine.timezone}, currency KRW"
        for entry in entries
    ]
    if len(entries) == 1:
        stores = "The store:\n" + lines[0]
    else:
        stores = (
            "The stores (every CareOn tool takes a store argument: the store's name or config "
            "entry id):\n" + "\n".join(lines)
        )
    return PROMPT_TEMPLATE.format(stores=stores)


class CareOnAPI(llm.API):
    """The CareOn store as tools for conversation agents."""

    def __init__(self, hass: HomeAssistant) -> None:
        """One API for every store."""
        super().__init__(hass=hass, id=LLM_API_ID, name=API_NAME)

    async def async_get_api_instance(self, llm_context: llm.LLMContext) -> llm.APIInstance:
        """Tools over the stores loaded now."""
        entries = _loaded_stores(self.hass)
        multi_store = len(entries) > 1
        tools: list[llm.Tool] = [tool(multi_store=multi_store) for tool in TOOLS] if entries else []
        return llm.APIInstance(
            api=self, api_prompt=_prompt(entries), llm_context=llm_context, tools=tools
        )


@callback
def async_register_llm_api(hass: HomeAssistant) -> None:
    """Offer the CareOn store to conversation agents (once, at the integration's setup)."""
    llm.async_register_api(hass, CareOnAPI(hass))
