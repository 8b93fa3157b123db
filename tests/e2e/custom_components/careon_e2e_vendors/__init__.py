"""Test-only: send CareOn's Toss Place API calls to the fake vendor of the end-to-end run.

The one thing the end-to-end harness changes inside the real Home Assistant process: the address
of the vendor's Open API (``https://open-api.tossplace.com`` in production), exactly what the
in-process tests monkeypatch. Everything else — the config flow trying the keys, the webhook
view, the backfill — is CareOn's own code talking HTTP to the fake on 127.0.0.1.
"""

from __future__ import annotations

from typing import Any

import voluptuous as vol

DOMAIN = "careon_e2e_vendors"
CONF_TOSS_PLACE_URL = "toss_place_url"

CONFIG_SCHEMA = vol.Schema(
    {DOMAIN: vol.Schema({vol.Required(CONF_TOSS_PLACE_URL): str})}, extra=vol.ALLOW_EXTRA
)


async def async_setup(hass: Any, config: dict[str, Any]) -> bool:
    """Point the Toss Place client at the fake vendor."""
    from custom_components.careon.core.connectors import toss_place  # noqa: PLC0415

    toss_place.TOSS_PLACE_API_URL = config[DOMAIN][CONF_TOSS_PLACE_URL]
    return True
