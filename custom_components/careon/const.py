"""Constants for the CareOn integration."""

from __future__ import annotations

from datetime import timedelta
import logging
from typing import Final

DOMAIN: Final = "careon"
LOGGER = logging.getLogger(__package__)

# Config entry data
CONF_TIMEZONE: Final = "timezone"
CONF_DATABASE: Final = "database"
CONF_DATABASE_URL: Final = "database_url"
CONF_LOAD_DEMO: Final = "load_demo"

DATABASE_SQLITE: Final = "sqlite"
DATABASE_POSTGRESQL: Final = "postgresql"
POSTGRESQL_DEFAULT_PORT: Final = 5432

# Config entry options
CONF_DAY_START_HOUR: Final = "day_start_hour"
DEFAULT_DAY_START_HOUR: Final = 0
# The sensors that count visitors (entity ids); none chosen: every CareOn Vision camera's
# "visitors in" sensor
CONF_VISITOR_SENSORS: Final = "visitor_sensors"

# How often the store is read when no action happened (the business day rolls over).
SCAN_INTERVAL: Final = timedelta(minutes=5)
# Actions in a burst (a POS sync, a stock count) refresh the entities once.
REFRESH_COOLDOWN: Final = 0.5

# Who acts when Home Assistant itself (no user) calls an action.
ACTOR_HOMEASSISTANT: Final = "homeassistant"
SOURCE_SERVICE: Final = "service"
SOURCE_ENTITY: Final = "entity"
# Running hours counted from an equipment's power sensor; the maintenance check run on time
SOURCE_SENSOR: Final = "sensor"
SOURCE_SCHEDULE: Final = "schedule"
# Tool calls of a conversation agent through the "CareOn store" LLM API (llm_api.py)
SOURCE_ASSISTANT: Final = "assistant"
LLM_API_ID: Final = "careon"

# While an equipment runs, its hours are written this often (and whenever it stops).
RUNTIME_FLUSH_INTERVAL: Final = timedelta(minutes=15)
# A maintenance check that found nothing to do is not repeated sooner than this.
MAINTENANCE_CHECK_MIN_GAP: Final = timedelta(minutes=1)

# The traffic forecast: read again at the top of every hour from this much history
FORECAST_HISTORY: Final = timedelta(days=91)
# How far ahead a staff plan may be asked for (days after today)
STAFF_PLAN_MAX_DAYS_AHEAD: Final = 14

EVENT_ACTION: Final = "careon_action"
EVENT_PREFIX: Final = "careon_"

ISSUE_DATABASE_UNREACHABLE: Final = "database_unreachable"

STORE_DEVICE_MANUFACTURER: Final = "CareOn"
STORE_DEVICE_MODEL: Final = "Store"
