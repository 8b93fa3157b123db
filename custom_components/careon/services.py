"""CareOn's actions as Home Assistant services, and the query service."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from homeassistant.auth.permissions.const import POLICY_CONTROL
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, ServiceCall, SupportsResponse, callback
from homeassistant.exceptions import ServiceValidationError, Unauthorized
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.typing import VolDictType
import voluptuous as vol

from .const import DOMAIN, SOURCE_SERVICE
from .coordinator import CareOnConfigEntry
from .core import SOURCE_POS, CareOnError, query_objects
from .helpers import async_execute, translate_error

ATTR_CONFIG_ENTRY_ID: Final = "config_entry_id"
ATTR_REASON: Final = "reason"
ATTR_IDEMPOTENCY_KEY: Final = "idempotency_key"
ATTR_FROM_POS: Final = "from_pos"

SERVICE_QUERY: Final = "query"
SETUP_SERVICES: Final = frozenset(
    {"create_object", "update_object", "delete_object", "set_link", "remove_link", "define_type"}
)
# Spending the store's money and changing its maintenance plan are the owner's decisions too:
# a staff account may draft, receive and cancel orders and do the maintenance, but approving an
# order (or drafting it already approved) and setting an equipment's plan take an administrator.
# The values are the parameters that make a call an owner's decision (empty: every call).
ADMIN_PARAMS: Final[Mapping[str, frozenset[str]]] = {
    **{service: frozenset() for service in SETUP_SERVICES},
    "approve_purchase_order": frozenset(),
    "auto_reorder": frozenset({"approve"}),
    "create_purchase_order": frozenset({"approve"}),
    "schedule_maintenance": frozenset({"interval_days", "runtime_hours"}),
}

# The schemas give calls their shape (lists of mappings, text, booleans). Whether a value is
# present, known and in range is the engine's to say: its errors are translated and name the
# field, so nothing here is stricter than the engine.
ANY_VALUE: Final = object
TEXT: Final = cv.string
MAPPING: Final = dict
LIST_OF_MAPPINGS: Final = vol.All(cv.ensure_list, [dict])
LIST_OF_TEXT: Final = vol.All(cv.ensure_list, [cv.string])

BASE_FIELDS: VolDictType = {vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string}
ACTION_FIELDS: VolDictType = {
    **BASE_FIELDS,
    vol.Optional(ATTR_REASON): cv.string,
    vol.Optional(ATTR_IDEMPOTENCY_KEY): cv.string,
}

# action (service) name -> its parameters
ACTION_PARAMS: Mapping[str, VolDictType] = {
    "place_order": {
        vol.Optional("lines"): LIST_OF_MAPPINGS,
        vol.Optional("channel"): TEXT,
        vol.Optional("status"): TEXT,
        vol.Optional("number"): TEXT,
        vol.Optional("total"): ANY_VALUE,
        vol.Optional("placed_at"): ANY_VALUE,
        vol.Optional("external_id"): TEXT,
        vol.Optional("note"): TEXT,
        vol.Optional("zone"): TEXT,
        vol.Optional("staff"): TEXT,
        vol.Optional("customer"): TEXT,
        vol.Optional(ATTR_FROM_POS): cv.boolean,
    },
    "cancel_order": {vol.Optional("order"): TEXT, vol.Optional("restock"): cv.boolean},
    "refund_order": {vol.Optional("order"): TEXT, vol.Optional("restock"): cv.boolean},
    "receive_stock": {
        vol.Optional("lines"): LIST_OF_MAPPINGS,
        vol.Optional("purchase_order"): TEXT,
    },
    "adjust_inventory": {
        vol.Optional("item"): TEXT,
        vol.Optional("mode"): TEXT,
        vol.Optional("qty"): ANY_VALUE,
    },
    "update_availability": {
        vol.Optional("product"): TEXT,
        vol.Optional("available"): cv.boolean,
    },
    "create_object": {
        vol.Optional("object_type"): TEXT,
        vol.Optional("name"): TEXT,
        vol.Optional("key"): TEXT,
        vol.Optional("properties"): MAPPING,
        vol.Optional("links"): LIST_OF_MAPPINGS,
    },
    "update_object": {
        vol.Optional("object_id"): TEXT,
        vol.Optional("name"): TEXT,
        vol.Optional("properties"): MAPPING,
        vol.Optional("expected_version"): ANY_VALUE,
    },
    "delete_object": {
        vol.Optional("object_id"): TEXT,
        vol.Optional("expected_version"): ANY_VALUE,
    },
    "set_link": {
        vol.Optional("source"): TEXT,
        vol.Optional("link_type"): TEXT,
        vol.Optional("target"): TEXT,
        vol.Optional("properties"): MAPPING,
    },
    "remove_link": {
        vol.Optional("source"): TEXT,
        vol.Optional("link_type"): TEXT,
        vol.Optional("target"): TEXT,
    },
    "define_type": {
        vol.Optional("object_type"): TEXT,
        vol.Optional("properties"): MAPPING,
        vol.Optional("links"): MAPPING,
    },
    # purchasing
    "auto_reorder": {
        vol.Optional("items"): LIST_OF_TEXT,
        vol.Optional("approve"): cv.boolean,
    },
    "create_purchase_order": {
        vol.Optional("supplier"): TEXT,
        vol.Optional("lines"): LIST_OF_MAPPINGS,
        vol.Optional("expected_at"): ANY_VALUE,
        vol.Optional("note"): TEXT,
        vol.Optional("approve"): cv.boolean,
    },
    "approve_purchase_order": {vol.Optional("purchase_order"): TEXT},
    "cancel_purchase_order": {vol.Optional("purchase_order"): TEXT},
    "receive_purchase_order": {
        vol.Optional("purchase_order"): TEXT,
        vol.Optional("lines"): LIST_OF_MAPPINGS,
    },
    # maintenance
    "schedule_maintenance": {
        vol.Optional("equipment"): TEXT,
        vol.Optional("name"): TEXT,
        vol.Optional("interval_days"): ANY_VALUE,
        vol.Optional("runtime_hours"): ANY_VALUE,
        vol.Optional("due"): ANY_VALUE,
        vol.Optional("assigned_to"): TEXT,
        vol.Optional("notes"): TEXT,
    },
    "update_maintenance_task": {
        vol.Optional("task"): TEXT,
        vol.Optional("name"): TEXT,
        vol.Optional("due"): ANY_VALUE,
        vol.Optional("notes"): TEXT,
    },
    "complete_maintenance": {vol.Optional("task"): TEXT, vol.Optional("notes"): TEXT},
    "cancel_maintenance": {vol.Optional("task"): TEXT},
    "record_runtime": {vol.Optional("equipment"): TEXT, vol.Optional("hours"): ANY_VALUE},
    "check_maintenance": {},
    # alarms
    "raise_alarm": {
        vol.Optional("kind"): TEXT,
        vol.Optional("severity"): TEXT,
        vol.Optional("message"): TEXT,
        vol.Optional("subject"): TEXT,
        vol.Optional("entity"): TEXT,
        vol.Optional("value"): ANY_VALUE,
        vol.Optional("limit"): ANY_VALUE,
        vol.Optional("unit"): TEXT,
    },
    "acknowledge_alarm": {vol.Optional("alarm"): TEXT},
    "resolve_alarm": {vol.Optional("alarm"): TEXT, vol.Optional("resolution"): TEXT},
    "escalate_alarm": {
        vol.Optional("alarm"): TEXT,
        vol.Optional("notified"): LIST_OF_TEXT,
        vol.Optional("severity"): TEXT,
        vol.Optional("maintenance_task"): TEXT,
        vol.Optional("assigned_to"): TEXT,
    },
}

QUERY_SCHEMA = vol.Schema(
    {
        **BASE_FIELDS,
        vol.Optional("object_type"): TEXT,
        vol.Optional("object_ids"): LIST_OF_TEXT,
        vol.Optional("filters"): MAPPING,
        vol.Optional("follow"): LIST_OF_TEXT,
        vol.Optional("limit"): ANY_VALUE,
    },
    # unknown fields reach the engine, which names them in a translated error
    extra=vol.ALLOW_EXTRA,
)

_NOT_PARAMS = frozenset({ATTR_CONFIG_ENTRY_ID, ATTR_REASON, ATTR_IDEMPOTENCY_KEY, ATTR_FROM_POS})


def _async_get_entry(hass: HomeAssistant, entry_id: str) -> CareOnConfigEntry:
    """The loaded CareOn entry a call names, or a translated error."""
    entry: CareOnConfigEntry | None = hass.config_entries.async_get_entry(entry_id)
    if entry is None or entry.domain != DOMAIN:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="entry_not_found",
            translation_placeholders={"entry_id": entry_id},
        )
    if entry.state is not ConfigEntryState.LOADED:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="entry_not_loaded",
            translation_placeholders={"store": entry.title},
        )
    return entry


def _params(call: ServiceCall) -> dict[str, Any]:
    return {key: value for key, value in call.data.items() if key not in _NOT_PARAMS}


def _needs_admin(call: ServiceCall) -> bool:
    """Whether a call changes the store's setup, spends its money or sets a plan."""
    if (params := ADMIN_PARAMS.get(call.service)) is None:
        return False
    return not params or any(
        (value := call.data.get(param)) is not None and value is not False for param in params
    )


async def _async_check_admin(call: ServiceCall) -> None:
    """Setup, approving purchases and maintenance plans are for administrators."""
    if call.context.user_id is None or not _needs_admin(call):
        return  # automations and scripts act for the administrator who wrote them
    user = await call.hass.auth.async_get_user(call.context.user_id)
    if user is None or not user.is_admin:
        raise Unauthorized(context=call.context, permission=POLICY_CONTROL)


async def _async_run_action(call: ServiceCall) -> dict[str, Any]:
    """Run the action the service is named after; respond with what it did."""
    await _async_check_admin(call)
    entry = _async_get_entry(call.hass, call.data[ATTR_CONFIG_ENTRY_ID])
    result = await async_execute(
        entry.runtime_data.engine,
        call.service,
        _params(call),
        context=call.context,
        # a sale that already happened at the till is recorded even when stock is short
        source=SOURCE_POS if call.data.get(ATTR_FROM_POS) else SOURCE_SERVICE,
        idempotency_key=call.data.get(ATTR_IDEMPOTENCY_KEY),
        reason=call.data.get(ATTR_REASON),
    )
    return {**result.result, "replayed": result.replayed}


async def _async_query(call: ServiceCall) -> dict[str, Any]:
    """Objects by type, filter and link traversal."""
    entry = _async_get_entry(call.hass, call.data[ATTR_CONFIG_ENTRY_ID])
    engine = entry.runtime_data.engine
    try:
        async with engine.reader() as ontology:
            objects = await query_objects(ontology, engine.schema, _params(call))
    except CareOnError as err:
        raise translate_error(err) from err
    return {"objects": objects}


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register CareOn's services."""
    for action, fields in ACTION_PARAMS.items():
        hass.services.async_register(
            DOMAIN,
            action,
            _async_run_action,
            schema=vol.Schema({**ACTION_FIELDS, **fields}, extra=vol.ALLOW_EXTRA),
            supports_response=SupportsResponse.OPTIONAL,
        )
    hass.services.async_register(
        DOMAIN,
        SERVICE_QUERY,
        _async_query,
        schema=QUERY_SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )
