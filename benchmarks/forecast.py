"""Benchmark: the traffic forecast and tomorrow's staff plan from 90 days of hourly history.

    .venv/bin/python benchmarks/forecast.py [--days 90] [--runs 20] [--seed 1] [--no-sql]

The history is generated: the demo cafe's traffic shape (demo_cafe.yaml ``traffic``: orders per
weekday hour, the weekend factor, the opening hours) with Poisson noise, seeded. Timed, as the
median of ``--runs`` runs: ``forecast_hourly`` for the next 48 hours plus ``staff_plan`` for
tomorrow (what the coordinator does every hour), and the seasonal-naive baseline for the same
48 hours in the same run; the ratio is model / baseline. Accuracy: both forecast the last
(held-out) week from the weeks before it, MAPE and WAPE against what was generated. With SQL
(the default), ``hourly_orders`` reads the same 90 days as orders from an SQLite store (the
orders written straight into the table, about 15,000 of them).
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
import random
import statistics
import sys
import tempfile
import time as clock
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from custom_components.careon.core import ActionEngine
from custom_components.careon.core.database import sqlite_url
from custom_components.careon.core.demo import load_demo_data, poisson, traffic_rate
from custom_components.careon.core.fields import to_iso
from custom_components.careon.core.forecast import (
    HOURS_PER_WEEK,
    forecast_hourly,
    mape,
    seasonal_naive,
    wape,
)
from custom_components.careon.core.ontology import Ontology
from custom_components.careon.core.queries import hourly_orders
from custom_components.careon.core.staffing import staff_plan

DATA = load_demo_data()
TZ = ZoneInfo(DATA["store"]["timezone"])
TRAFFIC = DATA["traffic"]
HOUR = timedelta(hours=1)


def generate(days: int, seed: int, end: datetime) -> dict[datetime, float]:
    """``days`` of hourly order counts ending at ``end`` (UTC hour -> count)."""
    rng = random.Random(seed)
    first = end - days * 24 * HOUR
    return {
        first + i * HOUR: float(
            poisson(rng, traffic_rate(TRAFFIC, (first + i * HOUR).astimezone(TZ)))
        )
        for i in range(days * 24)
    }


def median_ms(function: Callable[[], Any], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = clock.perf_counter()
        function()
        times.append((clock.perf_counter() - started) * 1000)
    return statistics.median(times)


async def time_sql(history: dict[datetime, float], runs: int) -> tuple[int, float]:
    """Write the history as orders into an SQLite store; time ``hourly_orders`` over it."""
    with tempfile.TemporaryDirectory() as tmp:
        engine = await ActionEngine.open(sqlite_url(Path(tmp) / "store.db"), timezone=str(TZ))
        try:
            rows: list[tuple[str, str, str, dict[str, Any]]] = []
            for hour, count in history.items():
                for n in range(int(count)):
                    placed = to_iso(hour + timedelta(seconds=3600 * n / max(count, 1)))
                    properties = {"status": "paid", "total": 5000, "placed_at": placed}
                    rows.append(("Order", f"order.b{len(rows)}", f"#{len(rows)}", properties))
            async with engine.engine.begin() as conn:
                await Ontology(conn).create_many(rows)
            start, end = min(history), max(history) + HOUR
            times = []
            for _ in range(runs):
                started = clock.perf_counter()
                async with engine.reader() as ontology:
                    counts = await hourly_orders(ontology, start=start, end=end)
                times.append((clock.perf_counter() - started) * 1000)
            assert counts == {hour: int(count) for hour, count in history.items()}
            return len(rows), statistics.median(times)
        finally:
            await engine.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-sql", action="store_true")
    args = parser.parse_args()

    # now: a Wednesday at 14:20 in Seoul; the history ends with the hour before
    now = datetime(2025, 4, 9, 14, 20, tzinfo=TZ)
    origin = now.astimezone(UTC).replace(minute=0)
    history = generate(args.days, args.seed, origin)
    tomorrow = (now + timedelta(days=1)).date()
    horizon = 48
    settings: dict[str, Any] = {
        "opening_hours": DATA["store"]["opening_hours"],
        "orders_per_staff_hour": float(TRAFFIC["orders_per_staff_hour"]),
        "min_staff": 1,
        "staff_available": len(DATA["staff"]),
    }

    def model() -> None:
        orders = forecast_hourly(history, origin=now, horizon_hours=horizon, tz=TZ)
        staff_plan(tomorrow, tz=TZ, orders=orders, visitors=None, **settings)

    def baseline() -> None:
        seasonal_naive(history, origin=now, horizon_hours=horizon, tz=TZ)

    model_ms = median_ms(model, args.runs)
    naive_ms = median_ms(baseline, args.runs)
    forecast_ms = median_ms(
        lambda: forecast_hourly(history, origin=now, horizon_hours=horizon, tz=TZ), args.runs
    )

    # accuracy on the last week, held out
    held_out = origin - HOURS_PER_WEEK * HOUR
    train = {hour: value for hour, value in history.items() if hour < held_out}
    actual = [history[held_out + i * HOUR] for i in range(HOURS_PER_WEEK)]
    predicted = forecast_hourly(train, origin=held_out, horizon_hours=HOURS_PER_WEEK, tz=TZ)
    naive = seasonal_naive(train, origin=held_out, horizon_hours=HOURS_PER_WEEK, tz=TZ)

    orders = forecast_hourly(history, origin=now, horizon_hours=horizon, tz=TZ)
    plan = staff_plan(tomorrow, tz=TZ, orders=orders, visitors=None, **settings)
    print(f"history: {args.days} days, {len(history)} hours, {sum(history.values()):.0f} orders")
    print(
        f"forecast_hourly ({horizon} h) + staff_plan (tomorrow): {model_ms:.2f} ms "
        f"(forecast alone {forecast_ms:.2f} ms), median of {args.runs}"
    )
    print(
        f"seasonal_naive ({horizon} h): {naive_ms:.2f} ms; model / baseline {model_ms / naive_ms:.1f}x"
    )
    print(
        f"held-out week: model MAPE {mape(actual, predicted.values):.1f} % "
        f"WAPE {wape(actual, predicted.values):.1f} % ({predicted.method}); "
        f"seasonal-naive MAPE {mape(actual, naive.values):.1f} % "
        f"WAPE {wape(actual, naive.values):.1f} %"
    )
    peak = plan.peak
    print(
        f"tomorrow ({tomorrow}): {plan.expected_orders:.0f} orders expected, "
        f"{plan.total_staff_hours} staff-hours at {settings['orders_per_staff_hour']:g} orders "
        f"per staff-hour, peak {peak.start.time().isoformat('minutes') if peak else '-'} "
        f"({peak.staff if peak else 0} staff), {len(plan.short_hours)} hours short of "
        f"{settings['staff_available']} staff"
    )
    if not args.no_sql:
        count, sql_ms = asyncio.run(time_sql(history, max(3, args.runs // 4)))
        print(f"hourly_orders over {args.days} days on SQLite ({count} orders): {sql_ms:.1f} ms")


if __name__ == "__main__":
    main()
