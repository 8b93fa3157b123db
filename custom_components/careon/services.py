"""CareOn's actions as Home Assistant services, the query service, and the services around
the vendors: importing a card-sales file, reconciling payments with orders and looking a
payment up at NICE Payments."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta, tzinfo
import errno
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, ServiceCall, SupportsResponse, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.typing import VolDictType
import voluptuous as vol

from .connectors.const import CONNECTOR_NAMES, CONNECTOR_NICE_PAYMENTS
from .const import DOMAIN, SOURCE_SERVICE
from .coordinator import CareOnConfigEntry
from .core import SOURCE_POS, CareOnError, ValidationError, query_objects
from .core.actions.card_sales import CARD_IMPORT
from .core.connectors.card_sales import CardSalesFile, read_card_sales
from .forecast import (
    ATTR_MIN_STAFF,
    ATTR_ORDERS_PER_STAFF_HOUR,
    async_staff_plan,
    staff_plan_service_args,
)
from .helpers import (
    as_date,
    async_check_admin,
    async_execute,
    async_is_admin,
    translate_error,
)

if TYPE_CHECKING:
    from .connectors.nice import NiceConnector

ATTR_CONFIG_ENTRY_ID: Final = "config_entry_id"
ATTR_REASON: Final = "reason"
ATTR_IDEMPOTENCY_KEY: Final = "idempotency_key"
ATTR_FROM_POS: Final = "from_pos"

SERVICE_QUERY: Final = "query"
SERVICE_IMPORT_CARD_SALES: Final = "import_card_sales"
SERVICE_RECONCILE: Final = "reconcile"
SERVICE_FETCH_NICE_PAYMENT: Final = "fetch_nice_payment"
SERVICE_ADJUST_STAFFING: Final = "adjust_staffing"
# Who may call what: the admin rule is helpers.async_check_admin's (ADMIN_PARAMS).

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
    # POS items that matched no product
    "resolve_unmapped_product": {vol.Optional("product"): TEXT, vol.Optional("map_to"): TEXT},
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

ATTR_FILE: Final = "file"
ATTR_DATE: Final = "date"
ATTR_START: Final = "start"
ATTR_END: Final = "end"
ATTR_WINDOW_MINUTES: Final = "window_minutes"
ATTR_TID: Final = "tid"
ATTR_ORDER_ID: Final = "order_id"
ATTR_ORDER_DATE: Final = "order_date"

# services that do more than run the action they are named after: service -> its fields
STORE_SERVICES: Mapping[str, VolDictType] = {
    # read a card-sales export (CSV or Excel) and import its rows
    SERVICE_IMPORT_CARD_SALES: {**ACTION_FIELDS, vol.Optional(ATTR_FILE): TEXT},
    # match payments to orders over a business day (or any period)
    SERVICE_RECONCILE: {
        **ACTION_FIELDS,
        vol.Optional(ATTR_DATE): ANY_VALUE,
        vol.Optional(ATTR_START): ANY_VALUE,
        vol.Optional(ATTR_END): ANY_VALUE,
        vol.Optional(ATTR_WINDOW_MINUTES): ANY_VALUE,
    },
    # ask NICE Payments for one payment and record it
    SERVICE_FETCH_NICE_PAYMENT: {
        **BASE_FIELDS,
        vol.Optional(ATTR_TID): TEXT,
        vol.Optional(ATTR_ORDER_ID): TEXT,
        vol.Optional(ATTR_ORDER_DATE): ANY_VALUE,
    },
}

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


async def _async_check_admin(call: ServiceCall) -> None:
    """Setup, approving purchases and maintenance plans are for administrators."""
    await async_check_admin(call.hass, call.context, call.service, call.data)


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
    personal = await async_is_admin(call.hass, call.context)
    try:
        async with engine.reader() as ontology:
            objects = await query_objects(ontology, engine.schema, _params(call), personal=personal)
    except CareOnError as err:
        raise translate_error(err) from err
    return {"objects": objects}


def _read_card_sales_file(
    hass: HomeAssistant, path: str, file: str, timezone: tzinfo
) -> CardSalesFile:
    """Read and parse a card-sales file Home Assistant may read (in the executor)."""
    file = _shown_path(file)
    if "\0" in path:  # no file's path holds a NUL; the operating system refuses it outright
        raise ValidationError("file_not_allowed", file=file, field=ATTR_FILE)
    try:
        allowed = hass.config.is_allowed_path(path)
    except OSError as err:  # a name too long to resolve names no file
        raise ValidationError("file_not_found", file=file, field=ATTR_FILE) from err
    if not allowed:
        raise ValidationError("file_not_allowed", file=file, field=ATTR_FILE)
    try:
        data = Path(path).read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as err:
        raise ValidationError("file_not_found", file=file, field=ATTR_FILE) from err
    except OSError as err:
        if err.errno == errno.ENAMETOOLONG:  # where resolving it above did not fail already
            raise ValidationError("file_not_found", file=file, field=ATTR_FILE) from err
        raise ValidationError(
            "card_sales_unreadable",
            file=file,
            error=err.strerror or type(err).__name__,
            field=ATTR_FILE,
        ) from err
    return read_card_sales(data, Path(path).name, tz=timezone)


def _shown_path(file: str, longest: int = 200) -> str:
    """A path as an error message shows it: its end, where the file's name is, when long."""
    return file if len(file) <= longest else f"…{file[-longest:]}"


async def _async_import_card_sales(call: ServiceCall) -> dict[str, Any]:
    """Import a card-sales export: every new sale becomes a Payment, duplicates are counted."""
    await _async_check_admin(call)
    hass = call.hass
    entry = _async_get_entry(hass, call.data[ATTR_CONFIG_ENTRY_ID])
    engine = entry.runtime_data.engine
    if not (file := call.data.get(ATTR_FILE)):
        raise translate_error(ValidationError("missing_field", field=ATTR_FILE))
    # a relative path is relative to Home Assistant's configuration folder
    path = file if Path(file).is_absolute() else hass.config.path(file)
    try:
        card_sales = await hass.async_add_executor_job(
            _read_card_sales_file, hass, path, file, engine.timezone
        )
    except CareOnError as err:
        raise translate_error(err) from err
    result = await async_execute(
        engine,
        SERVICE_IMPORT_CARD_SALES,
        {"file_name": Path(path).name, "skipped": card_sales.skipped, "rows": card_sales.rows},
        context=call.context,
        source=CARD_IMPORT,
        idempotency_key=call.data.get(ATTR_IDEMPOTENCY_KEY),
        reason=call.data.get(ATTR_REASON),
    )
    return {**result.result, "replayed": result.replayed}


def _business_day(day: date, timezone: tzinfo, day_start_hour: int) -> tuple[datetime, datetime]:
    """The store's business day ``day``: from its opening hour to the next day's."""
    start = datetime.combine(day, time(hour=day_start_hour), tzinfo=timezone)
    return start, datetime.combine(day + timedelta(days=1), time(hour=day_start_hour), timezone)


async def _async_reconcile(call: ServiceCall) -> dict[str, Any]:
    """Match the period's payments to orders; respond with what is left and the settlement."""
    entry = _async_get_entry(call.hass, call.data[ATTR_CONFIG_ENTRY_ID])
    engine = entry.runtime_data.engine
    day_start_hour = entry.runtime_data.coordinator.day_start_hour
    params: dict[str, Any] = {"day_start_hour": day_start_hour}
    if (window := call.data.get(ATTR_WINDOW_MINUTES)) is not None:
        params[ATTR_WINDOW_MINUTES] = window
    # the business day (today's by default), or a period: start and end replace the day's
    # bounds (without a day, one bound alone spans the 24 hours from or to it)
    if (day := as_date(call.data.get(ATTR_DATE), ATTR_DATE)) is not None:
        params[ATTR_START], params[ATTR_END] = _business_day(day, engine.timezone, day_start_hour)
    for bound in (ATTR_START, ATTR_END):
        if (value := call.data.get(bound)) is not None:
            params[bound] = value
    result = await async_execute(
        engine,
        SERVICE_RECONCILE,
        params,
        context=call.context,
        source=SOURCE_SERVICE,
        idempotency_key=call.data.get(ATTR_IDEMPOTENCY_KEY),
        reason=call.data.get(ATTR_REASON),
    )
    return {**result.result, "replayed": result.replayed}


def _nice_connector(entry: CareOnConfigEntry) -> NiceConnector:
    if (connector := entry.runtime_data.connectors.nice_payments) is None:
        raise translate_error(
            ValidationError(
                "connector_not_configured", connector=CONNECTOR_NAMES[CONNECTOR_NICE_PAYMENTS]
            )
        )
    return connector


async def _async_fetch_nice_payment(call: ServiceCall) -> dict[str, Any]:
    """Ask NICE Payments for a payment (by tid, or by order id and date) and record it."""
    entry = _async_get_entry(call.hass, call.data[ATTR_CONFIG_ENTRY_ID])
    connector = _nice_connector(entry)
    if tid := call.data.get(ATTR_TID):
        lookup: dict[str, str] = {"tid": tid}
    elif not (order_id := call.data.get(ATTR_ORDER_ID)):
        raise translate_error(ValidationError("missing_field", field=ATTR_TID))
    elif (order_date := as_date(call.data.get(ATTR_ORDER_DATE), ATTR_ORDER_DATE)) is None:
        raise translate_error(ValidationError("missing_field", field=ATTR_ORDER_DATE))
    else:
        lookup = {"order_id": order_id, "order_date": order_date.isoformat()}
    try:
        return await connector.async_fetch_payment(**lookup)
    except CareOnError as err:
        raise translate_error(err) from err


# a staff plan: the day (tomorrow by default) and the assumptions to try instead of the store's
ADJUST_STAFFING_SCHEMA = vol.Schema(
    {
        **BASE_FIELDS,
        vol.Optional(ATTR_DATE): ANY_VALUE,
        vol.Optional(ATTR_ORDERS_PER_STAFF_HOUR): ANY_VALUE,
        vol.Optional(ATTR_MIN_STAFF): ANY_VALUE,
    }
)


async def _async_adjust_staffing(call: ServiceCall) -> dict[str, Any]:
    """The staff per hour of a day from the traffic forecast. A suggestion: nothing changes."""
    entry = _async_get_entry(call.hass, call.data[ATTR_CONFIG_ENTRY_ID])
    plan = await async_staff_plan(call.hass, entry, **staff_plan_service_args(call.data))
    return plan.as_dict()


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
    for service, handler in (
        (SERVICE_IMPORT_CARD_SALES, _async_import_card_sales),
        (SERVICE_RECONCILE, _async_reconcile),
        (SERVICE_FETCH_NICE_PAYMENT, _async_fetch_nice_payment),
    ):
        hass.services.async_register(
            DOMAIN,
            service,
            handler,
            schema=vol.Schema(STORE_SERVICES[service]),
            supports_response=SupportsResponse.OPTIONAL,
        )
    hass.services.async_register(
        DOMAIN,
        SERVICE_QUERY,
        _async_query,
        schema=QUERY_SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_ADJUST_STAFFING,
        _async_adjust_staffing,
        schema=ADJUST_STAFFING_SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )
