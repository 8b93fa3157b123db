"""Webhook bodies are bounded: a delivery over the limit is answered 413 before it is read
whole, by both connectors, with or without a Content-Length; nothing is recorded, and nothing
logged names the webhook id (the secret part of the webhook's URL)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
import logging
from pathlib import Path

from aiohttp.test_utils import TestClient
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.careon.connectors.const import WEBHOOK_MAX_BYTES

from .conftest import store_entry
from .connector_helpers import (
    NICE_WEBHOOK_ID,
    TOSS_WEBHOOK_ID,
    async_dump,
    loaded_store,
    nice_subentry,
    serve_nice,
    serve_toss_place,
    toss_subentry,
)

pytestmark = pytest.mark.usefixtures("socket_enabled")


@pytest.fixture
async def entry(
    hass: HomeAssistant, demo_store: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncGenerator[MockConfigEntry]:
    """The demo cafe with both connectors, loaded."""
    async with (
        serve_toss_place(monkeypatch) as toss,
        serve_nice(monkeypatch) as nice,
        loaded_store(
            hass, store_entry(demo_store, [toss_subentry(toss), nice_subentry(nice)])
        ) as entry,
    ):
        yield entry


@pytest.fixture
async def client(hass_client_no_auth: ClientSessionGenerator) -> TestClient:
    """An HTTP client of Home Assistant's server (webhooks take no login)."""
    return await hass_client_no_auth()


async def _chunks(size: int) -> AsyncIterator[bytes]:
    """A body sent chunked, with no Content-Length."""
    sent = 0
    while sent < size:
        chunk = b"{" * min(64 * 1024, size - sent)
        sent += len(chunk)
        yield chunk


@pytest.mark.parametrize("webhook_id", [TOSS_WEBHOOK_ID, NICE_WEBHOOK_ID], ids=["toss", "nice"])
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_body_over_the_limit_is_refused(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    client: TestClient,
    demo_store: Path,
    caplog: pytest.LogCaptureFixture,
    webhook_id: str,
    chunked: bool,
) -> None:
    before = await async_dump(hass, demo_store)
    size = WEBHOOK_MAX_BYTES + 1
    response = await client.post(
        f"/api/webhook/{webhook_id}",
        data=_chunks(size) if chunked else b"{" * size,
        headers={"Content-Type": "application/json"},
    )
    assert response.status == 413
    assert await response.text() == "body too large"
    assert await async_dump(hass, demo_store) == before
    # no warning or error names it (the bug: an unread body reached Home Assistant's webhook
    # handler, which logs the id at ERROR)
    assert not [
        record
        for record in caplog.records
        if record.levelno >= logging.WARNING and webhook_id in record.getMessage()
    ]
    # a body at the limit is read (and refused for its signature, not its size)
    response = await client.post(
        f"/api/webhook/{webhook_id}",
        data=b" " * WEBHOOK_MAX_BYTES,
        headers={"Content-Type": "application/json"},
    )
    assert response.status in (400, 401)
