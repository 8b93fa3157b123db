"""Benchmark: Toss Place webhooks through a real Home Assistant, at a steady 50 requests/s.

    .venv/bin/python benchmarks/webhook_latency.py [--requests 500] [--rate 50] [--rounds 4]

Home Assistant is started in this process the way its bootstrap does (core, registries, config
entries; HTTP on 127.0.0.1; no frontend) in a temporary configuration folder, the store is set up with the real config flow (the
demo cafe in SQLite) and a Toss Place connector with the real subentry flow against
FakeTossPlace. Each request is a signed ``order.order.created.v1`` of a new, completed two-line sale,
sent open-loop at the given rate. Measured per order:

- committed: from sending the webhook to its 200 (answered only once ``sync_order`` committed);
- entity: from sending it until the "orders today" sensor counts it (entities refresh after
  commits, bursts folded into one refresh every 0.5 s).

Baseline in the same run, same store and rate: the same ``sync_order`` (same parameters, same
idempotency key form) called directly on the action engine, without HTTP or the webhook
handler; its entity latency goes through the same refresh.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
import statistics
import sys
import tempfile
import time
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from homeassistant import bootstrap, loader  # noqa: E402
from homeassistant.config_entries import SOURCE_USER, ConfigEntries  # noqa: E402
from homeassistant.const import EVENT_STATE_CHANGED  # noqa: E402
from homeassistant.core import Event, EventStateChangedData, HomeAssistant  # noqa: E402
from homeassistant.core_config import async_process_ha_core_config  # noqa: E402
from homeassistant.setup import async_setup_component  # noqa: E402

from custom_components.careon.connectors.const import (  # noqa: E402
    ACTOR_TOSS_PLACE,
    CONF_WEBHOOK_ID,
    CONNECTOR_TOSS_PLACE,
    SOURCE_ORDER,
)
from custom_components.careon.core.connectors import toss_place  # noqa: E402
from tests.fakes.toss_place import EVENT_ORDER_CREATED, FakeTossPlace, Webhook  # noqa: E402

DOMAIN = "careon"
LINES = ["americano_ice", ("latte_hot", 2)]
WARMUP = 20


@dataclass
class Run:
    """Send times, commit times and commit order of one side."""

    sent: list[float] = field(default_factory=list)
    committed: list[float] = field(default_factory=list)
    errors: int = 0


def _percentiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p99 * 1000


async def _start_hass(config_dir: Path, port: int) -> HomeAssistant:
    """Home Assistant's own start-up, cut to what the benchmark needs: the core, the
    registries and config entries, HTTP on 127.0.0.1 (no frontend, no discovery)."""
    config: dict[str, Any] = {
        "homeassistant": {"time_zone": "Asia/Seoul", "country": "KR", "currency": "KRW"},
        "http": {"server_host": "127.0.0.1", "server_port": port},
    }
    hass = HomeAssistant(str(config_dir))
    loader.async_setup(hass)
    hass.config.skip_pip = True
    hass.config_entries = ConfigEntries(hass, config)
    # custom_components/careon of this repository (on sys.path)
    await loader.async_get_custom_components(hass)
    await bootstrap.async_load_base_functionality(hass)
    for domain in bootstrap.CORE_INTEGRATIONS:
        assert await async_setup_component(hass, domain, config)
    await async_process_ha_core_config(hass, config["homeassistant"])
    assert await async_setup_component(hass, "http", config)
    await hass.async_start()
    return hass


async def _setup_store(hass: HomeAssistant, fake: FakeTossPlace) -> tuple[Any, str]:
    """The demo cafe through the config flow, and a Toss Place connector through its
    subentry flow; the entry and the connector's webhook id."""
    result: Any = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {"name": "Bench Cafe", "timezone": "Asia/Seoul", "database": "sqlite", "load_demo": True},
    )
    entry = result["result"]
    await hass.async_block_till_done()
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, CONNECTOR_TOSS_PLACE), context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {
            "access_key": fake.access_key,
            "secret_key": fake.secret_key,
            "merchant_id": fake.merchant_id,
            "webhook_secret": fake.webhook_secret,
        },
    )
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], {})
    await hass.async_block_till_done(wait_background_tasks=True)
    (subentry,) = entry.subentries.values()
    return entry, subentry.data[CONF_WEBHOOK_ID]


async def _open_loop(
    count: int, rate: float, send: Callable[[int], Awaitable[bool]], run: Run
) -> None:
    """Start request i at start + i / rate, whatever the earlier ones are doing."""
    run.sent = [0.0] * count
    run.committed = [0.0] * count
    start = time.perf_counter() + 0.05

    async def one(index: int) -> None:
        await asyncio.sleep(max(0.0, start + index / rate - time.perf_counter()))
        run.sent[index] = time.perf_counter()
        ok = await send(index)
        run.committed[index] = time.perf_counter()
        if not ok:
            run.errors += 1

    await asyncio.gather(*(one(i) for i in range(count)))


class Counted:
    """When the "orders today" sensor reached each count."""

    def __init__(self, hass: HomeAssistant, entity_id: str) -> None:
        """Listen to the sensor."""
        self.reached: list[tuple[float, int]] = []

        def _changed(event: Event[EventStateChangedData]) -> None:
            state = event.data["new_state"]
            if event.data["entity_id"] == entity_id and state is not None:
                try:
                    self.reached.append((time.perf_counter(), int(state.state)))
                except ValueError:
                    return

        self.unsub = hass.bus.async_listen(EVENT_STATE_CHANGED, _changed)

    def entity_latencies(self, run: Run, base: int) -> list[float]:
        """For each order, sent → the sensor counted it (the k-th commit is count base+k)."""
        latencies = []
        for k, index in enumerate(sorted(range(len(run.sent)), key=lambda i: run.committed[i])):
            shown = next(t for t, count in self.reached if count >= base + k + 1)
            latencies.append(max(shown, run.committed[index]) - run.sent[index])
        return latencies


async def _settle(hass: HomeAssistant) -> None:
    await asyncio.sleep(1.0)
    await hass.async_block_till_done()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--port", type=int, default=18123)
    args = parser.parse_args()
    results: dict[str, list[tuple[Run, list[float]]]] = {"direct": [], "webhook": []}

    with tempfile.TemporaryDirectory() as tmp:
        async with FakeTossPlace() as fake:
            toss_place.TOSS_PLACE_API_URL = fake.url
            hass = await _start_hass(Path(tmp), args.port)
            try:
                entry, webhook_id = await _setup_store(hass, fake)
                engine = entry.runtime_data.engine
                entity_id = "sensor.bench_cafe_orders_today"
                counted = Counted(hass, entity_id)

                # completed sales (the orders today count them), each in one created event
                fake.emit_webhooks = False
                total = WARMUP + args.requests
                baseline_orders = [fake.add_order(LINES, state="COMPLETED") for _ in range(total)]
                webhooks: list[Webhook] = [
                    fake.order_webhook(
                        fake.add_order(LINES, state="COMPLETED")["id"], EVENT_ORDER_CREATED
                    )
                    for _ in range(total)
                ]

                async def direct(index: int) -> bool:
                    order = baseline_orders[index]
                    await engine.execute(
                        "sync_order",
                        toss_place.order_params(order),
                        actor=ACTOR_TOSS_PLACE,
                        source=SOURCE_ORDER,
                        idempotency_key=toss_place.order_key(order),
                    )
                    return True

                url = f"http://127.0.0.1:{args.port}/api/webhook/{webhook_id}"
                async with aiohttp.ClientSession() as session:

                    async def post(index: int) -> bool:
                        webhook = webhooks[index]
                        async with session.post(
                            url, headers=fake.sign(webhook), data=webhook.body
                        ) as response:
                            await response.read()
                            return response.status == 200

                    # warm both paths (connections, statement caches), not measured
                    for index in range(WARMUP):
                        await post(index)
                        await direct(index)
                    await _settle(hass)

                    # alternating rounds: both sides see the same store size and machine load
                    per_round = args.requests // args.rounds
                    for number in range(args.rounds):
                        first = WARMUP + number * per_round
                        for side, send in (("direct", direct), ("webhook", post)):
                            base = int(hass.states.get(entity_id).state)  # type: ignore[union-attr]
                            run = Run()
                            await _open_loop(
                                per_round, args.rate, lambda i, s=send, f=first: s(f + i), run
                            )
                            await _settle(hass)
                            results[side].append((run, counted.entity_latencies(run, base)))
                counted.unsub()
                final = int(hass.states.get(entity_id).state)  # type: ignore[union-attr]
            finally:
                await hass.async_stop()

    per_side = (args.requests // args.rounds) * args.rounds
    print(
        f"Toss Place order.order.created.v1 (a completed 2-line sale) at {args.rate:.0f} "
        f"requests/s, {per_side} orders per side in {args.rounds} alternating rounds; real "
        "Home Assistant (HTTP on 127.0.0.1), SQLite store"
    )
    medians = {}
    for side, name in (("direct", "direct sync_order (baseline)"), ("webhook", "webhook via HTTP")):
        commit = [
            c - s for run, _ in results[side] for s, c in zip(run.sent, run.committed, strict=True)
        ]
        entity = [latency for _, latencies in results[side] for latency in latencies]
        errors = sum(run.errors for run, _ in results[side])
        c50, c99 = _percentiles(commit)
        e50, e99 = _percentiles(entity)
        medians[side] = c50
        print(
            f"  {name:30s}: committed p50 {c50:7.2f} ms  p99 {c99:7.2f} ms | entity updated "
            f"p50 {e50:6.1f} ms  p99 {e99:6.1f} ms | errors {errors}"
        )
    print(
        f"  webhook / direct, committed p50: {medians['webhook'] / medians['direct']:.2f}x "
        f"({medians['webhook'] - medians['direct']:+.2f} ms)"
    )
    print(f"  orders today at the end: {final} (expected {2 * (WARMUP + per_side)})")


if __name__ == "__main__":
    asyncio.run(main())
