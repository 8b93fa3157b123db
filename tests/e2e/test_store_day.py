"""A morning at the demo cafe, read back through Home Assistant's REST and WebSocket APIs.

The session fixture ``run`` (conftest.py) starts everything and plays the morning; these tests
check what a store owner would: the sales, the stock, the purchase order approved from the phone,
the sold-out product, the camera's counts and the wall dashboard in a real browser. They run in
this order: the dashboard is rendered while the camera still streams, the camera's final counts
are read after its stream ended.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
import re
import time
from typing import Any

import pytest
import yaml

from .conftest import (
    ARTIFACTS,
    DASHBOARD_CARDS,
    DASHBOARD_KO_PATH,
    DASHBOARD_PATH,
    E2E,
    ROOT,
    Run,
    latency_summary,
    vtest_annotation,
)
from .morning import (
    LOW_AFTER_ORDER,
    MORNING,
    SOLD_OUT_AFTER_ORDER,
    expected_consumption,
    expected_revenue,
    expected_stock,
)

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(900)]

SANDWICH_SWITCH = "switch.careon_cafe_haemcijeu_saendeuwici_on_sale"
SANDWICH_LOW = "binary_sensor.careon_cafe_haemcijeu_saendeuwici_low_stock"


async def test_orders_and_revenue_recorded(run: Run) -> None:
    """Every order of the morning once (the vendor's retry included), with its payment."""
    assert (await run.client.state(run.entity("orders_today")))["state"] == str(len(MORNING))
    revenue = await run.client.state(run.entity("revenue_today"))
    assert float(revenue["state"]) == expected_revenue()
    assert revenue["attributes"]["unit_of_measurement"] == "KRW"
    ticket = await run.client.state(run.entity("average_ticket"))
    assert float(ticket["state"]) == pytest.approx(expected_revenue() / len(MORNING), abs=1)

    orders = await run.query(object_type="Order")
    assert len(orders) == len(MORNING)
    assert {order["properties"]["external_id"] for order in orders} == {
        order["id"] for order in run.toss.orders.values()
    }
    assert {order["properties"]["status"] for order in orders} == {"completed"}
    assert sum(order["properties"]["total"] for order in orders) == expected_revenue()
    payments = await run.query(object_type="Payment")
    assert len(payments) == len(MORNING)
    assert sum(payment["properties"]["amount"] for payment in payments) == expected_revenue()
    # Nothing left unmatched: every payment is linked to its order.
    assert (await run.client.state(run.entity("unreconciled_payments")))["state"] == "0"
    # 28 orders x 3 webhooks (created, payment approved, completed) + one retried delivery.
    assert run.deliveries == 3 * len(MORNING) + 1
    run.stages["webhook to state"] = latency_summary(run.webhook_latencies)


async def test_stock_down_by_the_recipes(run: Run) -> None:
    """Each inventory item went down by exactly what the recipes of the morning's sales take."""
    items = {item["id"]: item for item in await run.query(object_type="InventoryItem")}
    expected = expected_stock()
    assert expected_consumption()["espresso_beans"] > 0
    for key, on_hand in expected.items():
        item = items[f"inventory_item.{key}"]
        assert item["properties"]["on_hand"] == pytest.approx(on_hand), key
    # The sensors say the same.
    states = await run.client.states()
    milk = next(
        state
        for entity_id, state in states.items()
        if entity_id.startswith("sensor.careon_cafe_")
        and entity_id.endswith("_stock")
        and state["attributes"].get("friendly_name", "").endswith("우유 stock")
    )
    assert float(milk["state"]) == pytest.approx(expected["milk"])


async def test_low_stock_purchase_order_approved_on_the_phone(run: Run) -> None:
    """Sandwiches at their reorder point → a purchase order → Approve on the phone → ordered."""
    low = run.states.history[SANDWICH_LOW]
    assert [state for _, state, _ in low][-1] == "on"
    assert (await run.client.state(run.entity("low_stock_items")))["state"] == "1"

    orders = await run.query(object_type="PurchaseOrder")
    assert len(orders) == 1, orders  # one supplier, one order, never a second for the same item
    order = orders[0]["properties"]
    assert order["status"] == "ordered"
    assert order["origin"] == "auto_reorder"
    assert [(line["item"], line["qty"]) for line in order["lines"]] == [
        ("inventory_item.sandwich", 6)  # par 8 - 2 on hand, in packs of 2
    ]
    assert order["total_cost"] == 6 * 3300
    assert order["approved_at"]

    # The phone was asked, the owner tapped Approve, the confirmation came back.
    asked = [n for _, n in run.phone.received if n.get("data", {}).get("actions")]
    assert len(asked) == 1, run.phone.received
    approve = f"CAREON_APPROVE_{orders[0]['id']}"
    assert [a["action"] for a in asked[0]["data"]["actions"]] == [
        approve,
        f"CAREON_SKIP_{orders[0]['id']}",
    ]
    assert "햄치즈 샌드위치 6" in asked[0]["message"]
    assert [action for _, action in run.phone.tapped] == [approve]
    confirmations = [n for _, n in run.phone.received if n.get("title", "").startswith("Ordered")]
    assert len(confirmations) == 1, run.phone.received
    assert "햄치즈 샌드위치" in confirmations[0]["message"]
    assert (await run.client.state(run.entity("open_purchase_orders")))["state"] == "1"
    todo = await run.client.state("todo.careon_cafe_purchase_orders")
    assert todo["state"] == "1"
    # From the till's webhooks of the order that took the sandwich to its reorder point to the
    # notification on the phone: the event, the blueprint, auto_reorder, the push channel.
    first_ask = next(t for t, n in run.phone.received if n.get("data", {}).get("actions"))
    run.stages["low stock order to phone notification (s)"] = round(
        first_ask - run.order_sent[LOW_AFTER_ORDER - 1], 2
    )
    approved = next(t for t, n in run.phone.received if n.get("title", "").startswith("Ordered"))
    run.stages["Approve tapped to purchase order ordered (s)"] = round(
        approved - run.phone.tapped[0][0], 2
    )
    # The sandwich went off sale with the order that sold the last ones, not before.
    off = next(t for t, state, _ in run.states.history[SANDWICH_SWITCH] if state == "off")
    assert off > run.order_sent[SOLD_OUT_AFTER_ORDER - 1]


async def test_sold_out_product_unavailable(run: Run) -> None:
    """The sandwich ran out: it is off sale, the others stay on."""
    assert (await run.client.state(SANDWICH_SWITCH))["state"] == "off"
    products = {p["id"]: p for p in await run.query(object_type="Product")}
    assert products["product.sandwich"]["properties"]["available"] is False
    on_sale = [pid for pid, p in products.items() if p["properties"].get("available")]
    assert len(on_sale) == len(products) - 1
    items = {i["id"]: i for i in await run.query(object_type="InventoryItem")}
    assert items["inventory_item.sandwich"]["properties"]["on_hand"] == 0


async def test_vision_sensors_come_up(run: Run) -> None:
    """The camera's entities appear through MQTT discovery and show live numbers."""
    visitors_in = run.vision_entity("visitors_in")
    first = await run.states.wait_for(
        visitors_in, lambda state: state not in ("unavailable", "unknown"), within=90
    )
    run.stages["first vision state (s after CLI start)"] = round(first - run.vision_started, 2)
    states = await run.client.states()
    for key in ("visitors_in", "visitors_out", "occupancy", "zone_queue_occupancy", "fps"):
        assert run.vision_entity(key) in states, key
    assert run.vision_entity("heatmap", "image") in states
    assert states[visitors_in]["attributes"]["unit_of_measurement"] == "visitors"
    assert states[visitors_in]["attributes"]["state_class"] == "total_increasing"


def _entity_cards(dashboard: Path) -> dict[str, str]:
    """Entity id -> the name of its big-number (entity) card in a dashboard file."""
    found: dict[str, str] = {}

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == "entity" and "name" in node:
                found[node["entity"]] = node["name"]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(yaml.safe_load(dashboard.read_text(encoding="utf-8")))
    return found


async def _render(
    run: Run, path: str, language: str, names: list[str], screenshot: Path
) -> dict[str, Any]:
    """The dashboard at PATH rendered in Chromium, the frontend in LANGUAGE, and read back
    (dashboard.mjs)."""
    tokens = ARTIFACTS / "tokens.json"
    tokens.write_text(json.dumps(run.client.tokens), encoding="utf-8")
    try:
        process = await asyncio.create_subprocess_exec(
            "node",
            str(E2E / "dashboard.mjs"),
            run.client.url,
            path,
            language,
            str(tokens),
            str(screenshot),
            *names,
            cwd=E2E,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), 120)
    finally:
        tokens.unlink()
    assert process.returncode == 0, stderr.decode(errors="replace")
    page: dict[str, Any] = json.loads(stdout)
    assert page["ready"], page
    assert not page["consoleErrors"], page["consoleErrors"]
    assert screenshot.stat().st_size > 20_000
    screenshot.with_suffix(".json").write_text(
        json.dumps(page, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    return page


@pytest.mark.parametrize(
    ("path", "language", "dashboard_file", "screenshot"),
    [
        (DASHBOARD_PATH, "en", "careon_wall.yaml", "dashboard.png"),
        (DASHBOARD_KO_PATH, "ko", "careon_wall.ko.yaml", "dashboard_ko.png"),
    ],
    ids=["en", "ko"],
)
async def test_wall_dashboard_in_chromium(
    run: Run, path: str, language: str, dashboard_file: str, screenshot: str
) -> None:
    """The wall dashboard, rendered by Chromium as the tablet shows it; its numbers read back."""
    visitors_in = run.vision_entity("visitors_in")
    # Wait until someone has come in, so the picture has something to show.
    await run.states.wait_for(
        visitors_in, lambda state: state.isdigit() and int(state) >= 2, within=60
    )
    names = _entity_cards(ROOT / "dashboards" / dashboard_file)
    assert len(names) == len(DASHBOARD_CARDS)
    before = await run.client.states()
    started = time.monotonic()
    page = await _render(run, path, language, list(names.values()), ARTIFACTS / screenshot)
    after = await run.client.states()
    run.stages[f"dashboard {dashboard_file} rendered and read (s)"] = round(
        time.monotonic() - started, 2
    )
    cards = {card["name"]: card for card in page["cards"]}

    def number(entity_id: str) -> float:
        return float(re.sub(r"[^\d.\-]", "", cards[names[entity_id]]["value"]))

    assert number(run.entity("orders_today")) == len(MORNING)
    assert number(run.entity("revenue_today")) == expected_revenue()
    assert cards[names[run.entity("revenue_today")]]["unit"] == "₩"
    assert number(run.entity("low_stock_items")) == 1
    assert number(run.entity("open_purchase_orders")) == 1
    assert number(run.entity("active_alarms")) == 0
    # The camera keeps counting while the page loads: the page shows a value between the two
    # readings taken around it.
    entity = run.vision_entity("visitors_in")
    low, high = sorted((float(before[entity]["state"]), float(after[entity]["state"])))
    assert low <= number(entity) <= high, (cards, low, high)
    assert 0 <= number(run.vision_entity("occupancy")) <= 15  # people come and go
    # The lists: the sandwich in the low-stock list, the purchase order in the to-do card, the
    # camera's zones.
    assert "햄치즈 샌드위치" in " ".join(page["markdown"]), page["markdown"]
    assert "동네베이커리" in " ".join(page["todo"]), page["todo"]
    assert any("Queue" in text and "Seating" in text for text in page["markdown"])


async def test_vision_counts_plausible_after_the_stream(run: Run) -> None:
    """At the end of the video the counts match the hand-checked truth within the RTSP tolerance."""
    visitors_in = run.vision_entity("visitors_in")
    # The stream ends after the 795 frames (79.5 s at 10 fps): the camera goes unavailable.
    await run.states.wait_for(visitors_in, lambda state: state == "unavailable", within=150)
    truth = vtest_annotation()["totals"]  # right_to_left = in, left_to_right = out
    counted_in = run.states.numbers(visitors_in)
    counted_out = run.states.numbers(run.vision_entity("visitors_out"))
    assert counted_in == sorted(counted_in), "visitors in went down"
    assert counted_out == sorted(counted_out), "visitors out went down"
    run.stages["vision final counts (in/out; truth 11/7)"] = (
        f"{counted_in[-1]:.0f}/{counted_out[-1]:.0f}"
    )
    assert abs(counted_in[-1] - truth["right_to_left"]) <= 3, counted_in
    assert abs(counted_out[-1] - truth["left_to_right"]) <= 4, counted_out
    occupancy = run.states.numbers(run.vision_entity("occupancy"))
    assert max(occupancy) >= 3
    assert max(run.states.numbers(run.vision_entity("zone_queue_occupancy"))) >= 1
    # what was processed, never above the stream's 10 frames/s; the speed itself is
    # benchmarks/vision_pipeline.py's to measure (a loaded machine processes fewer)
    fps = sorted(run.states.numbers(run.vision_entity("fps")))
    assert 0 < fps[len(fps) // 2] <= 11, fps
    # The add-on itself stays online; only the camera's stream ended.
    assert run.vision_process.returncode is None
    log = Path(run.vision_log).read_text(errors="replace")
    assert "e2e-mqtt-pw" not in log


# What Home Assistant may warn about in this run: a custom integration is loaded, pip is skipped
# (everything is in the pinned environment).
EXPECTED_WARNINGS = (
    "We found a custom integration careon",
    "Skipping pip installation of required modules",
)


async def test_home_assistant_log_clean(run: Run) -> None:
    """The whole day ran without an error, a traceback or an unexpected warning in hass's log."""
    log = (run.config_dir / "home-assistant.log").read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in log, log[-5000:]
    problems = [
        line
        for line in log.splitlines()
        if any(f" {level} " in line for level in ("ERROR", "CRITICAL", "WARNING"))
        and not any(expected in line for expected in EXPECTED_WARNINGS)
    ]
    assert not problems, "\n".join(problems)
