"""Config flow for CareOn: where the store's database lives, the store's basics, and the
vendors it talks to (config subentries: Toss Place, NICE Payments)."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any, ClassVar
import zoneinfo

from homeassistant.components import webhook
from homeassistant.config_entries import (
    ConfigEntry,
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentry,
    ConfigSubentryFlow,
    OptionsFlow,
    SubentryFlowResult,
)
from homeassistant.const import CONF_NAME, CONF_PASSWORD
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.network import NoURLAvailableError
from homeassistant.helpers.selector import (
    BooleanSelector,
    EntitySelector,
    EntitySelectorConfig,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
from homeassistant.util import dt as dt_util, slugify
from sqlalchemy.engine import URL
import voluptuous as vol

from .connectors.const import (
    CLIENT_BACKOFF,
    CLIENT_RETRIES,
    CONF_ACCESS_KEY,
    CONF_CLIENT_KEY,
    CONF_MERCHANT_ID,
    CONF_MODE,
    CONF_SECRET_KEY,
    CONF_SUBENTRY_ID,
    CONF_WEBHOOK_ID,
    CONF_WEBHOOK_SECRET,
    CONNECTOR_NAMES,
    CONNECTOR_NICE_PAYMENTS,
    CONNECTOR_TOSS_PLACE,
    NICE_MODE_SANDBOX,
    NICE_MODES,
)
from .const import (
    CONF_DATABASE,
    CONF_DATABASE_URL,
    CONF_DAY_START_HOUR,
    CONF_LOAD_DEMO,
    CONF_TIMEZONE,
    CONF_VISITOR_SENSORS,
    DATABASE_POSTGRESQL,
    DATABASE_SQLITE,
    DEFAULT_DAY_START_HOUR,
    DOMAIN,
    LOGGER,
    POSTGRESQL_DEFAULT_PORT,
)
from .coordinator import CareOnConfigEntry
from .core import ActionEngine, StoreAuthError, StoreUnavailableError, ValidationError
from .core.connectors import nice, toss_place
from .core.database import normalise_url, redact_url, sqlite_url
from .core.demo import seed_demo_store

# What a redacted URL shows instead of the password; typed back unchanged, it keeps it.
REDACTED_PASSWORD = "***"
_PASSWORD_SELECTOR = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))


class CannotConnect(Exception):
    """The database did not answer, or could not be used."""


class InvalidAuth(Exception):
    """The database server refused the user name or password."""


class InvalidUrl(Exception):
    """Not a PostgreSQL URL."""


class DatabaseNotEmpty(Exception):
    """The demo cafe goes only into a database without a store."""


def _postgresql_url(text: str) -> URL:
    """Parse what the user typed; accept PostgreSQL URLs only."""
    try:
        url = normalise_url(text)
    except StoreUnavailableError as err:
        raise InvalidUrl from err
    if url.get_backend_name() != DATABASE_POSTGRESQL or not url.host or not url.database:
        raise InvalidUrl
    return url


def _postgresql_unique_id(url: URL) -> str:
    """One store per database: host, port and database name."""
    return f"{url.host}:{url.port or POSTGRESQL_DEFAULT_PORT}/{url.database}"


async def _async_available_timezones(hass: HomeAssistant) -> list[str]:
    return sorted(await hass.async_add_executor_job(zoneinfo.available_timezones))


async def _async_valid_timezone(timezone: str) -> bool:
    return await dt_util.async_get_time_zone(timezone) is not None


def _timezone_selector(timezones: list[str]) -> SelectSelector:
    return SelectSelector(
        SelectSelectorConfig(
            options=timezones, mode=SelectSelectorMode.DROPDOWN, custom_value=True, sort=False
        )
    )


async def _async_open(url: str, timezone: str) -> ActionEngine:
    """Open the database (creating or upgrading its tables); raise the flow's errors."""
    try:
        return await ActionEngine.open(
            url,
            timezone=await dt_util.async_get_time_zone(timezone) or dt_util.get_default_time_zone(),
        )
    except StoreAuthError as err:
        LOGGER.debug("The CareOn database %s refused the login: %s", redact_url(url), err)
        raise InvalidAuth from err
    except StoreUnavailableError as err:
        LOGGER.debug("Cannot open the CareOn database %s: %s", redact_url(url), err)
        raise CannotConnect from err


async def _async_database_error(attempt: Awaitable[Any]) -> str | None:
    """Run a database attempt of a flow step; the form's error key when it fails."""
    try:
        await attempt
    except InvalidAuth:
        return "invalid_auth"
    except CannotConnect:
        return "cannot_connect"
    except DatabaseNotEmpty:
        return "database_not_empty"
    except Exception:
        LOGGER.exception("Unexpected error while trying the CareOn database")
        return "unknown"
    return None


async def _async_check_login(url: str, timezone: str) -> None:
    """Open and close the database: the login works."""
    engine = await _async_open(url, timezone)
    await engine.close()


async def async_prepare_store(
    hass: HomeAssistant,
    url: str,
    *,
    name: str,
    timezone: str,
    load_demo: bool = False,
) -> None:
    """Open the database (creating or upgrading its tables), set the store up, close it.

    Raises ``InvalidAuth``, ``CannotConnect`` or ``DatabaseNotEmpty``.
    """
    engine = await _async_open(url, timezone)
    try:
        if load_demo:
            await seed_demo_store(engine)
        else:
            await engine.execute(
                "create_object",
                {
                    "object_type": "Store",
                    "key": "store",
                    "name": name,
                    "properties": {"timezone": timezone},
                },
                actor="homeassistant",
                source="setup",
                idempotency_key="setup:store",
            )
    except ValidationError as err:
        if load_demo:
            raise DatabaseNotEmpty from err
        # The database already holds a store (it was set up before): keep it as it is.
        LOGGER.debug("Keeping the store already in %s: %s", redact_url(url), err)
    except StoreUnavailableError as err:
        raise CannotConnect from err
    finally:
        await engine.close()


class CareOnConfigFlow(ConfigFlow, domain=DOMAIN):
    """Set up a CareOn store."""

    VERSION = 1
    MINOR_VERSION = 1

    def __init__(self) -> None:
        """Initialize the flow."""
        self._user_input: dict[str, Any] = {}
        self._reauth_subentry_id = ""

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: CareOnConfigEntry) -> CareOnOptionsFlow:
        """Get the options flow."""
        return CareOnOptionsFlow()

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the store's name, time zone and database."""
        errors: dict[str, str] = {}
        if user_input is not None:
            if not await _async_valid_timezone(user_input[CONF_TIMEZONE]):
                errors[CONF_TIMEZONE] = "invalid_timezone"
            else:
                self._user_input = user_input
                if user_input[CONF_DATABASE] == DATABASE_POSTGRESQL:
                    return await self.async_step_postgresql()
                name = user_input[CONF_NAME]
                path = self.hass.config.path(f"careon_{slugify(name) or 'store'}.db")
                await self.async_set_unique_id(path)
                self._abort_if_unique_id_configured()
                url = sqlite_url(path)
                error = await _async_database_error(
                    async_prepare_store(
                        self.hass,
                        url,
                        name=name,
                        timezone=user_input[CONF_TIMEZONE],
                        load_demo=user_input[CONF_LOAD_DEMO],
                    )
                )
                if error is None:
                    return self._async_create_entry(url)
                errors["base"] = error

        schema = vol.Schema(
            {
                vol.Required(CONF_NAME): TextSelector(),
                vol.Required(CONF_TIMEZONE, default=self.hass.config.time_zone): _timezone_selector(
                    await _async_available_timezones(self.hass)
                ),
                vol.Required(CONF_DATABASE, default=DATABASE_SQLITE): SelectSelector(
                    SelectSelectorConfig(
                        options=[DATABASE_SQLITE, DATABASE_POSTGRESQL],
                        mode=SelectSelectorMode.LIST,
                        translation_key=CONF_DATABASE,
                    )
                ),
                vol.Required(CONF_LOAD_DEMO, default=False): BooleanSelector(),
            }
        )
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(schema, user_input),
            errors=errors,
        )

    async def async_step_postgresql(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the PostgreSQL URL, and try it."""
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                url = _postgresql_url(user_input[CONF_DATABASE_URL])
            except InvalidUrl:
                errors[CONF_DATABASE_URL] = "invalid_url"
            else:
                await self.async_set_unique_id(_postgresql_unique_id(url))
                self._abort_if_unique_id_configured()
                text = url.render_as_string(hide_password=False)
                error = await _async_database_error(
                    async_prepare_store(
                        self.hass,
                        text,
                        name=self._user_input[CONF_NAME],
                        timezone=self._user_input[CONF_TIMEZONE],
                        load_demo=self._user_input[CONF_LOAD_DEMO],
                    )
                )
                if error is None:
                    return self._async_create_entry(text)
                errors["base"] = error

        return self.async_show_form(
            step_id="postgresql",
            data_schema=self.add_suggested_values_to_schema(
                vol.Schema(
                    {
                        vol.Required(CONF_DATABASE_URL): TextSelector(
                            TextSelectorConfig(type=TextSelectorType.URL)
                        )
                    }
                ),
                user_input,
            ),
            errors=errors,
        )

    def _async_create_entry(self, url: str) -> ConfigFlowResult:
        return self.async_create_entry(
            title=self._user_input[CONF_NAME],
            data={
                CONF_NAME: self._user_input[CONF_NAME],
                CONF_TIMEZONE: self._user_input[CONF_TIMEZONE],
                CONF_DATABASE: self._user_input[CONF_DATABASE],
                CONF_DATABASE_URL: url,
            },
            options={CONF_DAY_START_HOUR: DEFAULT_DAY_START_HOUR},
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the time zone, or where the PostgreSQL database is; tried again."""
        entry = self._get_reconfigure_entry()
        postgresql = entry.data[CONF_DATABASE] == DATABASE_POSTGRESQL
        errors: dict[str, str] = {}
        if user_input is not None:
            url = entry.data[CONF_DATABASE_URL]
            unique_id = entry.unique_id
            if not await _async_valid_timezone(user_input[CONF_TIMEZONE]):
                errors[CONF_TIMEZONE] = "invalid_timezone"
            elif postgresql:
                try:
                    parsed = _postgresql_url(user_input[CONF_DATABASE_URL])
                except InvalidUrl:
                    errors[CONF_DATABASE_URL] = "invalid_url"
                else:
                    if parsed.password == REDACTED_PASSWORD:
                        parsed = parsed.set(password=normalise_url(url).password)
                    url = parsed.render_as_string(hide_password=False)
                    unique_id = _postgresql_unique_id(parsed)
                    if unique_id != entry.unique_id:
                        await self.async_set_unique_id(unique_id)
                        self._abort_if_unique_id_configured()
            if not errors:
                error = await _async_database_error(
                    async_prepare_store(
                        self.hass, url, name=entry.title, timezone=user_input[CONF_TIMEZONE]
                    )
                )
                if error is None:
                    return self.async_update_reload_and_abort(
                        entry,
                        unique_id=unique_id,
                        data_updates={
                            CONF_TIMEZONE: user_input[CONF_TIMEZONE],
                            CONF_DATABASE_URL: url,
                        },
                    )
                errors["base"] = error

        fields: dict[vol.Marker, Any] = {
            vol.Required(CONF_TIMEZONE): _timezone_selector(
                await _async_available_timezones(self.hass)
            )
        }
        suggested: dict[str, Any] = {CONF_TIMEZONE: entry.data[CONF_TIMEZONE]}
        if postgresql:
            fields[vol.Required(CONF_DATABASE_URL)] = TextSelector(
                TextSelectorConfig(type=TextSelectorType.URL)
            )
            suggested[CONF_DATABASE_URL] = redact_url(entry.data[CONF_DATABASE_URL])
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                vol.Schema(fields), user_input or suggested
            ),
            description_placeholders={"store": entry.title},
            errors=errors,
        )

    @classmethod
    @callback
    def async_get_supported_subentry_types(
        cls, config_entry: ConfigEntry
    ) -> dict[str, type[ConfigSubentryFlow]]:
        """The vendors a store can talk to: one POS and one payment gateway."""
        return {
            CONNECTOR_TOSS_PLACE: TossPlaceSubentryFlow,
            CONNECTOR_NICE_PAYMENTS: NicePaymentsSubentryFlow,
        }

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """The PostgreSQL server refused the stored password, or a vendor refused a
        connector's keys (the connector names its subentry): ask for the new ones."""
        if (subentry_id := entry_data.get(CONF_SUBENTRY_ID)) is not None:
            self._reauth_subentry_id = str(subentry_id)
            return await self.async_step_reauth_connector()
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_connector(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the keys of the connector the vendor refused, try them, save and reload."""
        entry = self._get_reauth_entry()
        subentry = entry.subentries.get(self._reauth_subentry_id)
        if subentry is None:
            return self.async_abort(reason="connector_not_found")
        key_field = (
            CONF_ACCESS_KEY if subentry.subentry_type == CONNECTOR_TOSS_PLACE else CONF_CLIENT_KEY
        )
        errors: dict[str, str] = {}
        if user_input is not None:
            data = {**subentry.data, **user_input}
            error, _title = await _async_try_connector(self.hass, subentry.subentry_type, data)
            if error is None:
                changed = self.hass.config_entries.async_update_subentry(entry, subentry, data=data)
                # a changed subentry reloads the loaded entry through its update listener
                if not changed or entry.state is not ConfigEntryState.LOADED:
                    self.hass.config_entries.async_schedule_reload(entry.entry_id)
                return self.async_abort(reason="reauth_successful")
            errors["base"] = error

        return self.async_show_form(
            step_id="reauth_connector",
            data_schema=self.add_suggested_values_to_schema(
                vol.Schema(
                    {
                        vol.Required(key_field): TextSelector(),
                        vol.Required(CONF_SECRET_KEY): _PASSWORD_SELECTOR,
                    }
                ),
                user_input or {key_field: subentry.data.get(key_field)},
            ),
            description_placeholders={
                "store": entry.title,
                "connector": CONNECTOR_NAMES[subentry.subentry_type],
            },
            errors=errors,
        )

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the PostgreSQL password, try it, and keep the rest of the URL."""
        entry = self._get_reauth_entry()
        current = normalise_url(entry.data[CONF_DATABASE_URL])
        errors: dict[str, str] = {}
        if user_input is not None:
            url = current.set(password=user_input[CONF_PASSWORD]).render_as_string(
                hide_password=False
            )
            error = await _async_database_error(_async_check_login(url, entry.data[CONF_TIMEZONE]))
            if error is None:
                return self.async_update_reload_and_abort(
                    entry, data_updates={CONF_DATABASE_URL: url}
                )
            errors["base"] = error

        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=vol.Schema(
                {
                    vol.Required(CONF_PASSWORD): TextSelector(
                        TextSelectorConfig(type=TextSelectorType.PASSWORD)
                    )
                }
            ),
            description_placeholders={"store": entry.title, "username": current.username or ""},
            errors=errors,
        )


class CareOnOptionsFlow(OptionsFlow):
    """How the store's business day is counted, and which sensors count its visitors."""

    async def async_step_init(
        self, user_input: Mapping[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Manage the options."""
        if user_input is not None:
            options: dict[str, Any] = {CONF_DAY_START_HOUR: int(user_input[CONF_DAY_START_HOUR])}
            # none chosen: the forecast finds CareOn Vision's visitor sensors by itself
            if sensors := user_input.get(CONF_VISITOR_SENSORS):
                options[CONF_VISITOR_SENSORS] = list(sensors)
            return self.async_create_entry(data=options)
        schema = vol.Schema(
            {
                vol.Required(CONF_DAY_START_HOUR): NumberSelector(
                    NumberSelectorConfig(min=0, max=23, step=1, mode=NumberSelectorMode.BOX)
                ),
                vol.Optional(CONF_VISITOR_SENSORS): EntitySelector(
                    EntitySelectorConfig(domain="sensor", multiple=True)
                ),
            }
        )
        current = self.config_entry.options
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(
                schema,
                {
                    CONF_DAY_START_HOUR: current.get(CONF_DAY_START_HOUR, DEFAULT_DAY_START_HOUR),
                    CONF_VISITOR_SENSORS: current.get(CONF_VISITOR_SENSORS, []),
                },
            ),
        )


# --- Connectors (config subentries) ---------------------------------------------------------


async def _async_try_toss_place(hass: HomeAssistant, data: Mapping[str, Any]) -> str:
    """Ask Toss Place for the merchant with these keys; the connector's title."""
    client = toss_place.TossPlaceClient(
        async_get_clientsession(hass),
        access_key=data[CONF_ACCESS_KEY],
        secret_key=data[CONF_SECRET_KEY],
        merchant_id=data[CONF_MERCHANT_ID],
        base_url=toss_place.TOSS_PLACE_API_URL,
        retries=CLIENT_RETRIES,
        backoff=CLIENT_BACKOFF,
    )
    merchant = await client.merchant()
    name = merchant.get("name") if isinstance(merchant, Mapping) else None
    return f"Toss Place {name}" if name else f"Toss Place {data[CONF_MERCHANT_ID]}"


async def _async_try_nice(hass: HomeAssistant, data: Mapping[str, Any]) -> str:
    """Check the NICE keys against the chosen server; the connector's title."""
    mode = data[CONF_MODE]
    client = nice.NiceClient(
        async_get_clientsession(hass),
        client_key=data[CONF_CLIENT_KEY],
        secret_key=data[CONF_SECRET_KEY],
        mode=mode,
        base_url=nice.NICE_HOSTS[mode],
        retries=CLIENT_RETRIES,
    )
    await client.check_credentials()
    return "NICE Payments" if mode != NICE_MODE_SANDBOX else "NICE Payments (sandbox)"


async def _async_try_connector(
    hass: HomeAssistant, connector: str, data: Mapping[str, Any]
) -> tuple[str | None, str]:
    """Try a connector's keys against its vendor: (the form's error key or None, title)."""
    try:
        if connector == CONNECTOR_TOSS_PLACE:
            return None, await _async_try_toss_place(hass, data)
        return None, await _async_try_nice(hass, data)
    except (toss_place.TossPlaceAuthError, nice.NiceAuthError):
        return "invalid_auth", ""
    except (toss_place.TossPlaceConnectionError, nice.NiceConnectionError):
        return "cannot_connect", ""
    except (toss_place.TossPlaceFormatError, nice.NiceFormatError):
        LOGGER.exception("%s answered something unreadable", CONNECTOR_NAMES[connector])
        return "unknown", ""
    except (toss_place.TossPlaceError, nice.NiceError) as err:
        # the vendor answered, but not with the account (a merchant the app is not installed at)
        LOGGER.debug("%s refused the connector's account: %s", CONNECTOR_NAMES[connector], err)
        return "invalid_account", ""
    except Exception:
        LOGGER.exception("Unexpected error while trying %s", CONNECTOR_NAMES[connector])
        return "unknown", ""


def webhook_url(hass: HomeAssistant, webhook_id: str) -> str:
    """Where the vendor delivers its webhooks (the path alone when no URL is configured)."""
    try:
        return webhook.async_generate_url(hass, webhook_id)
    except NoURLAvailableError:
        return webhook.async_generate_path(webhook_id)


def _connector_in_use(hass: HomeAssistant, connector: str, unique_id: str) -> bool:
    """Whether a store already uses this vendor account (one account feeds one store)."""
    return any(
        subentry.subentry_type == connector and subentry.unique_id == unique_id
        for entry in hass.config_entries.async_entries(DOMAIN)
        for subentry in entry.subentries.values()
    )


class _ConnectorSubentryFlow(ConfigSubentryFlow):
    """Add or reconfigure one vendor connector: try its keys, then show its webhook URL."""

    connector: ClassVar[str]
    # the form's fields, and the one naming the vendor account (the subentry's unique id)
    fields: ClassVar[dict[vol.Marker, Any]]
    account_field: ClassVar[str]

    def __init__(self) -> None:
        """Initialize the flow."""
        self._data: dict[str, Any] = {}
        self._title = ""

    def _unique_id(self, data: Mapping[str, Any]) -> str:
        return str(data[self.account_field])

    def _clean(self, user_input: Mapping[str, Any]) -> dict[str, Any]:
        """What the user typed, without surrounding blanks."""
        return {
            key: value.strip() if isinstance(value, str) else value
            for key, value in user_input.items()
        }

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Ask for the vendor keys and try them."""
        entry = self._get_entry()
        if any(sub.subentry_type == self.connector for sub in entry.subentries.values()):
            return self.async_abort(reason="single_connector")
        errors: dict[str, str] = {}
        if user_input is not None:
            data = self._clean(user_input)
            if _connector_in_use(self.hass, self.connector, self._unique_id(data)):
                return self.async_abort(reason="already_configured")
            error, title = await _async_try_connector(self.hass, self.connector, data)
            if error is None:
                self._data = {**data, CONF_WEBHOOK_ID: webhook.async_generate_id()}
                self._title = title
                return await self.async_step_webhook()
            errors["base"] = error
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(vol.Schema(self.fields), user_input),
            errors=errors,
        )

    async def async_step_webhook(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Show the webhook URL to register with the vendor; saving adds the connector."""
        if user_input is not None:
            return self.async_create_entry(
                title=self._title, data=self._data, unique_id=self._unique_id(self._data)
            )
        return self.async_show_form(
            step_id="webhook",
            data_schema=vol.Schema({}),
            description_placeholders={
                "webhook_url": webhook_url(self.hass, self._data[CONF_WEBHOOK_ID])
            },
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Change the keys (tried again); the form shows the webhook URL."""
        entry = self._get_entry()
        subentry: ConfigSubentry = self._get_reconfigure_subentry()
        errors: dict[str, str] = {}
        if user_input is not None:
            data = {**subentry.data, **self._clean(user_input)}
            unique_id = self._unique_id(data)
            if unique_id != subentry.unique_id and _connector_in_use(
                self.hass, self.connector, unique_id
            ):
                return self.async_abort(reason="already_configured")
            error, title = await _async_try_connector(self.hass, self.connector, data)
            if error is None:
                # the update listener reloads the store with the new keys
                return self.async_update_and_abort(
                    entry, subentry, data=data, title=title, unique_id=unique_id
                )
            errors["base"] = error
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                vol.Schema(self.fields), user_input or dict(subentry.data)
            ),
            description_placeholders={
                "webhook_url": webhook_url(self.hass, subentry.data[CONF_WEBHOOK_ID])
            },
            errors=errors,
        )


class TossPlaceSubentryFlow(_ConnectorSubentryFlow):
    """Toss Place: the POS's open API keys, the merchant and the webhook secret."""

    connector = CONNECTOR_TOSS_PLACE
    fields: ClassVar[dict[vol.Marker, Any]] = {
        vol.Required(CONF_ACCESS_KEY): TextSelector(),
        vol.Required(CONF_SECRET_KEY): _PASSWORD_SELECTOR,
        vol.Required(CONF_MERCHANT_ID): TextSelector(),
        vol.Required(CONF_WEBHOOK_SECRET): _PASSWORD_SELECTOR,
    }
    account_field = CONF_MERCHANT_ID


class NicePaymentsSubentryFlow(_ConnectorSubentryFlow):
    """NICE Payments: the online payment gateway's client key, secret key and server."""

    connector = CONNECTOR_NICE_PAYMENTS
    fields: ClassVar[dict[vol.Marker, Any]] = {
        vol.Required(CONF_CLIENT_KEY): TextSelector(),
        vol.Required(CONF_SECRET_KEY): _PASSWORD_SELECTOR,
        vol.Required(CONF_MODE, default=NICE_MODE_SANDBOX): SelectSelector(
            SelectSelectorConfig(
                options=list(NICE_MODES),
                mode=SelectSelectorMode.LIST,
                translation_key="nice_mode",
            )
        ),
    }
    account_field = CONF_CLIENT_KEY
