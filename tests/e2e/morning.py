"""A morning at the demo cafe, as the Toss Place till records it, and what it must do to the store.

The orders are fixed (not random) so that the run is the same every time and its effects can be
worked out from the demo cafe's recipes: 28 orders, 46 items; the ham-and-cheese sandwich (6 in
stock, reorder point 2) reaches its reorder point on the 20th order and runs out on the 24th, and
no other item reaches its reorder point.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from custom_components.careon.core.demo import load_demo_data

Order = list[tuple[str, int]]

MORNING: list[Order] = [
    [("americano_ice", 1)],
    [("latte_hot", 1), ("croissant", 1)],
    [("americano_hot", 2)],
    [("vanilla_latte", 1)],
    [("sandwich", 1), ("americano_ice", 1)],
    [("latte_ice", 2)],
    [("cold_brew", 1)],
    [("oat_latte", 1), ("croissant", 1)],
    [("americano_ice", 1)],
    [("sandwich", 1), ("latte_hot", 1)],
    [("matcha_latte", 1)],
    [("grapefruit_ade", 2)],
    [("americano_ice", 3)],
    [("cheesecake", 1), ("americano_hot", 1)],
    [("decaf_americano", 1)],
    [("sandwich", 1)],
    [("latte_ice", 1), ("croissant", 2)],
    [("vanilla_latte", 2)],
    [("americano_hot", 1)],
    [("sandwich", 1), ("cold_brew", 1)],  # the sandwich reaches its reorder point (2)
    [("americano_ice", 2), ("cheesecake", 1)],
    [("latte_hot", 1)],
    [("oat_latte", 1)],
    [("sandwich", 2), ("americano_ice", 2)],  # the last two sandwiches: sold out
    [("grapefruit_ade", 1)],
    [("americano_hot", 1), ("croissant", 1)],
    [("matcha_latte", 1), ("cheesecake", 1)],
    [("latte_ice", 1)],
]
# How the customers paid, in turn.
PAYMENT_METHODS = ("CARD", "CARD", "BARCODE", "CARD", "CASH")

LOW_AFTER_ORDER = 20  # 1-based: the order that takes the sandwich to its reorder point
SOLD_OUT_AFTER_ORDER = 24


def demo() -> dict[str, Any]:
    return load_demo_data()


def products() -> dict[str, Mapping[str, Any]]:
    return {product["key"]: product for product in demo()["products"]}


def expected_revenue() -> int:
    prices = products()
    return sum(prices[key]["price"] * qty for order in MORNING for key, qty in order)


def expected_consumption() -> Counter[str]:
    """Inventory key -> quantity the morning's recipes take out of stock."""
    recipes = products()
    used: Counter[str] = Counter()
    for order in MORNING:
        for key, qty in order:
            for item, per_unit in recipes[key]["recipe"].items():
                used[item] += per_unit * qty
    return used


def expected_stock() -> dict[str, float]:
    """Inventory key -> on hand after the morning."""
    used = expected_consumption()
    return {item["key"]: item["on_hand"] - used[item["key"]] for item in demo()["inventory"]}


def order_times(now: datetime, day_start: datetime) -> list[datetime]:
    """When each order was placed: spread over the last three hours of today, oldest first.

    Never before the business day's start, so every order counts for today whatever the hour the
    test runs at.
    """
    start = max(day_start + timedelta(minutes=1), now - timedelta(hours=3))
    end = now - timedelta(seconds=30)
    step = (end - start) / len(MORNING)
    return [start + step * index for index in range(len(MORNING))]
