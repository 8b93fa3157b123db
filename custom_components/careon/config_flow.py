"""Config flow for CareOn: where the store's database lives, and the store's basics."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any
import zoneinfo

from homeassistant.config_entries import ConfigFlow, ConfigFlowResult, OptionsFlow
from homeassistant.const import CONF_NAME, CONF_PASSWORD
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.selector import (
    BooleanSelector,
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

from .const import (
    CONF_DATABASE,
    CONF_DATABASE_URL,
    CONF_DAY_START_HOUR,
    CONF_LOAD_DEMO,
    CONF_TIMEZONE,
    DATABASE_POSTGRESQL,
    DATABASE_SQLITE,
    DEFAULT_DAY_START_HOUR,
    DOMAIN,
    LOGGER,
    POSTGRESQL_DEFAULT_PORT,
)
from .coordinator import CareOnConfigEntry
from .core import ActionEngine, StoreAuthError, StoreUnavailableError, ValidationError
from .core.database import normalise_url, redact_url, sqlite_url
from .core.demo import seed_demo_store

# What a redacted URL shows instead of the password; typed back unchanged, it keeps it.
REDACTED_PASSWORD = "***"


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

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """The PostgreSQL server refused the stored password: ask for the new one."""
        return await self.async_step_reauth_confirm()

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
    """How the store's business day is counted."""

    async def async_step_init(
        self, user_input: Mapping[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Manage the options."""
        if user_input is not None:
            return self.async_create_entry(
                data={CONF_DAY_START_HOUR: int(user_input[CONF_DAY_START_HOUR])}
            )
        schema = vol.Schema(
            {
                vol.Required(CONF_DAY_START_HOUR): NumberSelector(
                    NumberSelectorConfig(min=0, max=23, step=1, mode=NumberSelectorMode.BOX)
                )
            }
        )
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(
                schema,
                {
                    CONF_DAY_START_HOUR: self.config_entry.options.get(
                        CONF_DAY_START_HOUR, DEFAULT_DAY_START_HOUR
                    )
                },
            ),
        )
