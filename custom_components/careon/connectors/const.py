"""Names shared by the connectors' config flows and their Home Assistant glue."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

# Subentry types; also the connector ids (the `source` of vendor ids in the store)
CONNECTOR_TOSS_PLACE: Final = "toss_place"
CONNECTOR_NICE_PAYMENTS: Final = "nice_payments"

# Subentry data
CONF_ACCESS_KEY: Final = "access_key"
CONF_SECRET_KEY: Final = "secret_key"
CONF_MERCHANT_ID: Final = "merchant_id"
CONF_WEBHOOK_SECRET: Final = "webhook_secret"
CONF_WEBHOOK_ID: Final = "webhook_id"
CONF_CLIENT_KEY: Final = "client_key"
CONF_MODE: Final = "mode"
# Reauthentication of a connector: the subentry whose keys the vendor refused
CONF_SUBENTRY_ID: Final = "subentry_id"

NICE_MODE_SANDBOX: Final = "sandbox"
NICE_MODE_PRODUCTION: Final = "production"
NICE_MODES: Final = (NICE_MODE_SANDBOX, NICE_MODE_PRODUCTION)

# Who acts in the store's audit log, and the engine's sources
ACTOR_TOSS_PLACE: Final = f"connector:{CONNECTOR_TOSS_PLACE}"
ACTOR_NICE_PAYMENTS: Final = f"connector:{CONNECTOR_NICE_PAYMENTS}"
SOURCE_ORDER: Final = "pos"  # a POS sale happened: recorded even when stock is short
SOURCE_PAYMENT: Final = "payment"

# Toss Place orders are polled this often (webhooks may be lost while Home Assistant is down);
# each round reads again from a little before the previous one ended.
BACKFILL_INTERVAL: Final = timedelta(minutes=10)
BACKFILL_OVERLAP: Final = timedelta(minutes=15)
# How far back the first round of a new connector reads
BACKFILL_FIRST_WINDOW: Final = timedelta(days=1)
CURSOR_STORAGE_VERSION: Final = 1

# Vendor requests: tried again at most this often after a network or server error, waiting
# 0.5 s, then 1 s (a webhook's answer, or a form, waits for them)
CLIENT_RETRIES: Final = 2
CLIENT_BACKOFF: Final = 0.5

# Webhook deliveries remembered to answer a retried one without work
WEBHOOK_DEDUPE_SIZE: Final = 2048
# The largest webhook body read (a Toss Place order of a hundred lines is about 60 KiB); a larger
# one is answered 413 unread
WEBHOOK_MAX_BYTES: Final = 1024 * 1024
WEBHOOK_READ_CHUNK: Final = 64 * 1024

ISSUE_UNMAPPED_PRODUCT: Final = "unmapped_product"

# Vendor names shown in titles and messages (brand names: not translated)
CONNECTOR_NAMES: Final = {
    CONNECTOR_TOSS_PLACE: "Toss Place",
    CONNECTOR_NICE_PAYMENTS: "NICE Payments",
}
