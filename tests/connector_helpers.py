"""Helpers for the tests of CareOn's connectors: the stores they write, and their webhooks."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
import sqlite3
from typing import Any

from aiohttp.test_utils import TestClient
from homeassistant.config_entries import ConfigEntry, ConfigEntryState, ConfigSubentryData
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.careon.connectors.const import (
    CONF_ACCESS_KEY,
    CONF_CLIENT_KEY,
    CONF_MERCHANT_ID,
    CONF_MODE,
    CONF_SECRET_KEY,
    CONF_WEBHOOK_ID,
    CONF_WEBHOOK_SECRET,
    CONNECTOR_NICE_PAYMENTS,
    CONNECTOR_TOSS_PLACE,
)
from custom_components.careon.core.connectors import nice, toss_place
from custom_components.careon.core.tables import (
    audit_table,
    external_refs_table,
    links_table,
    meta_table,
    objects_table,
)
from tests.fakes.nice import FakeNice
from tests.fakes.toss_place import FakeTossPlace

TOSS_WEBHOOK_ID = "toss0place0webhook0id"
NICE_WEBHOOK_ID = "nice0payments0webhook0id"
REVENUE = "sensor.careon_cafe_revenue_today"
ORDERS = "sensor.careon_cafe_orders_today"
TABLES = (
    objects_table.name,
    links_table.name,
    audit_table.name,
    external_refs_table.name,
    meta_table.name,
)


def toss_subentry(fake: FakeTossPlace, webhook_id: str = TOSS_WEBHOOK_ID) -> ConfigSubentryData:
    """A Toss Place connector for the fake merchant."""
    return ConfigSubentryData(
        data={
            CONF_ACCESS_KEY: fake.access_key,
            CONF_SECRET_KEY: fake.secret_key,
            CONF_MERCHANT_ID: fake.merchant_id,
            CONF_WEBHOOK_SECRET: fake.webhook_secret,
            CONF_WEBHOOK_ID: webhook_id,
        },
        subentry_type=CONNECTOR_TOSS_PLACE,
        title="Toss Place",
        unique_id=fake.merchant_id,
    )


def nice_subentry(fake: FakeNice, webhook_id: str = NICE_WEBHOOK_ID) -> ConfigSubentryData:
    """A NICE Payments connector (sandbox) for the fake merchant."""
    return ConfigSubentryData(
        data={
            CONF_CLIENT_KEY: fake.client_key,
            CONF_SECRET_KEY: fake.secret_key,
            CONF_MODE: "sandbox",
            CONF_WEBHOOK_ID: webhook_id,
        },
        subentry_type=CONNECTOR_NICE_PAYMENTS,
        title="NICE Payments (sandbox)",
        unique_id=fake.client_key,
    )


def subentry_id(entry: ConfigEntry, subentry_type: str) -> str:
    """The id of the entry's one subentry of a type."""
    (found,) = [
        s.subentry_id for s in entry.subentries.values() if s.subentry_type == subentry_type
    ]
    return found


async def async_post(
    client: TestClient, webhook_id: str, headers: Mapping[str, str], body: bytes
) -> tuple[int, str]:
    """Deliver one webhook through Home Assistant's HTTP server: (status, body)."""
    response = await client.post(f"/api/webhook/{webhook_id}", headers=dict(headers), data=body)
    return response.status, await response.text()


def _dump(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {
            table: sorted(db.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
            for table in TABLES
        }
    finally:
        db.close()


async def async_dump(hass: HomeAssistant, path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row the store holds (to tell that a refused delivery wrote nothing)."""
    return await hass.async_add_executor_job(_dump, path)


async def async_sales(entry: ConfigEntry, source: str) -> dict[str, Any]:
    """What a connector's orders and payments became in the store, by vendor id."""
    engine = entry.runtime_data.engine
    async with engine.reader() as ontology:
        objects = {
            obj.id: obj
            for object_type in ("Order", "Payment")
            for obj in await ontology.by_type(object_type)
        }
        refs = [
            (object_id, kind, external_id)
            for object_id, ref_source, kind, external_id in await ontology.external_ids_of(objects)
            if ref_source == source
        ]
        stock = {item.id: item.get("on_hand") for item in await ontology.by_type("InventoryItem")}
    orders = {e: objects[o].get("status") for o, kind, e in refs if kind == "order"}
    return {
        "orders": orders,
        "order_statuses": Counter(orders.values()),
        "order_refs": len(orders),
        "payments": {e: objects[o].get("status") for o, kind, e in refs if kind == "payment"},
        "stock": stock,
    }


def vendor_sales(fake: FakeTossPlace) -> dict[str, Any]:
    """What the fake merchant sold, as the store should show it."""
    states = {"REQUESTED": "open", "OPENED": "open", "COMPLETED": "completed"}
    orders: dict[str, str] = {}
    for order_id, order in fake.orders.items():
        paid = any(
            p["orderId"] == order_id and p["state"] == "APPROVED" for p in fake.payments.values()
        )
        state = order["orderState"]
        if state == "CANCELLED":
            orders[order_id] = "cancelled"
        else:
            orders[order_id] = "paid" if paid and states[state] == "open" else states[state]
    payment_states = {
        "APPROVED": "approved",
        "CANCELLED": "cancelled",
        "PARTIAL_CANCELLED": "partial_cancelled",
    }
    return {
        "orders": orders,
        "payments": {pid: payment_states[p["state"]] for pid, p in fake.payments.items()},
    }


async def async_setup_store(hass: HomeAssistant, entry: MockConfigEntry) -> MockConfigEntry:
    """Add and set up ``entry``; its first polling round (if any) done."""
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    return entry


@asynccontextmanager
async def loaded_store(
    hass: HomeAssistant, entry: MockConfigEntry
) -> AsyncIterator[MockConfigEntry]:
    """``entry`` set up as by ``async_setup_store``; unloaded afterwards if still loaded."""
    entry = await async_setup_store(hass, entry)
    yield entry
    if entry.state is ConfigEntryState.LOADED:
        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()


@asynccontextmanager
async def serve_toss_place(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeTossPlace]:
    """The Toss Place merchant, served on 127.0.0.1; the connector's base URL points at it."""
    async with FakeTossPlace() as server:
        monkeypatch.setattr(toss_place, "TOSS_PLACE_API_URL", server.url)
        yield server


@asynccontextmanager
async def serve_nice(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeNice]:
    """NICE Payments, served on 127.0.0.1; the sandbox host points at it."""
    async with FakeNice() as server:
        monkeypatch.setitem(nice.NICE_HOSTS, "sandbox", server.url)
        yield server
