"""CareOn's assistant tools from outside Home Assistant, through Home Assistant's MCP Server.

A store owner connects an MCP client (Claude Desktop, any other) to Home Assistant's own
``mcp_server`` integration, which serves the "CareOn store" LLM API. Here a real client of the
``mcp`` package (tests/e2e/mcp_client.py, run with the Python of the Home Assistant under test)
connects over what that Home Assistant serves (SSE on 2025.4, Streamable HTTP on newer releases)
with a barista's long-lived token (a Home Assistant user who is not an administrator), lists the
tools, reads the store, and sells a coffee: refused without ``confirm``, done once with it, the
audit row naming the barista.

The ``mcp`` fixture (conftest.py) sets the MCP Server up after the morning has been played;
these tests run after the store day's checks (the sale would change their counts) and before
the log check.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.llm_tools import ALL_TOOLS

from .conftest import STAFF, STORE_NAME, McpAccess, Run

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(600)]

# A hot americano at the counter, named as the model would read it from the menu (Korean).
AMERICANO = "아메리카노 (HOT)"
SALE = {"lines": [{"product": AMERICANO, "qty": 1}], "reason": "Paid in cash at the counter"}
EFFECT = f"record a sale of 1 x {AMERICANO} for 4,500 won"


def _text(result: dict[str, Any]) -> str:
    """The one text content of a tool result."""
    (content,) = result["content"]
    assert content["type"] == "text", result
    text: str = content["text"]
    return text


def _data(result: dict[str, Any]) -> dict[str, Any]:
    """A successful tool result's JSON."""
    assert not result.get("isError"), result
    data: dict[str, Any] = json.loads(_text(result))
    return data


async def _store_counts(run: Run) -> dict[str, Any]:
    """What a sale would change: the orders, the beans on the shelf."""
    items = {item["id"]: item for item in await run.query(object_type="InventoryItem")}
    return {
        "orders": {order["id"] for order in await run.query(object_type="Order")},
        "beans": items["inventory_item.espresso_beans"]["properties"]["on_hand"],
    }


async def test_mcp_lists_careon_tools(run: Run, mcp: McpAccess) -> None:
    """The client sees CareOn's tools by name with their argument schemas, and its prompt."""
    answer = await mcp.session(
        {"op": "list_tools"},
        {"op": "list_prompts"},
        {"op": "get_prompt", "name": "CareOn store"},
    )
    run.stages["MCP client"] = f"mcp {answer['mcp']} over {answer['transport']}"
    assert answer["server"]["name"] == "home-assistant", answer["server"]
    tools_result, prompts, prompt = answer["results"]
    tools = {tool["name"]: tool for tool in tools_result["tools"]}
    assert set(tools) == set(ALL_TOOLS)  # the server serves only that API
    assert all(tool["description"] for tool in tools.values())
    assert "how the store is doing" in tools["store_status"]["description"]

    place_order = tools["place_order"]["inputSchema"]
    assert place_order["type"] == "object"
    properties = place_order["properties"]
    assert properties["confirm"]["type"] == "boolean"
    assert properties["reason"]["type"] == "string"
    assert properties["lines"]["type"] == "array"
    line = properties["lines"]["items"]
    assert line["properties"]["product"]["type"] == "string"
    assert line["properties"]["qty"]["type"] == "integer"
    assert set(properties["channel"]["enum"]) == {"here", "togo", "delivery", "pickup"}
    assert tools["stock"]["inputSchema"]["properties"]["only_low"]["type"] == "boolean"
    # a tool over one store takes no store argument
    assert "store" not in tools["store_status"]["inputSchema"]["properties"]

    assert [p["name"] for p in prompts["prompts"]] == ["CareOn store"]
    (message,) = prompt["messages"]
    text = message["content"]["text"]
    assert f'"{STORE_NAME}"' in text
    assert "Never set confirm true on your own" in text


async def test_mcp_read_tool_answers_from_the_store(run: Run, mcp: McpAccess) -> None:
    """store_status and stock answer what the store holds, read through other paths too."""
    answer = await mcp.session(
        {"op": "call_tool", "name": "store_status", "arguments": {}},
        {"op": "call_tool", "name": "stock", "arguments": {"only_low": True}},
    )
    status, stock = (_data(result) for result in answer["results"])
    assert status["store"] == STORE_NAME
    assert status["currency"] == "KRW"
    orders = await run.query(object_type="Order")
    assert status["orders_today"] == len(orders)
    assert status["revenue_today"] == sum(order["properties"]["total"] for order in orders)
    assert (
        str(status["orders_today"]) == (await run.client.state(run.entity("orders_today")))["state"]
    )
    assert (
        float((await run.client.state(run.entity("revenue_today")))["state"])
        == status["revenue_today"]
    )
    # the sandwich: sold out, off the menu, on the purchase order approved from the phone
    assert [item["id"] for item in status["low_stock"]] == ["inventory_item.sandwich"]
    assert [p["id"] for p in status["unavailable_products"]] == ["product.sandwich"]
    (purchase_order,) = await run.query(object_type="PurchaseOrder")
    assert [po["id"] for po in status["purchase_orders"]] == [purchase_order["id"]]
    assert status["purchase_orders"][0]["status"] == "ordered"
    assert [(item["id"], item["on_hand"]) for item in stock["items"]] == [
        ("inventory_item.sandwich", 0)
    ]


async def test_mcp_act_tool_refused_without_confirm(run: Run, mcp: McpAccess) -> None:
    """place_order without confirm (or with it false) says what it would do and does nothing."""
    before, last_audit = await _store_counts(run), await mcp.last_audit_id()
    answer = await mcp.session(
        {"op": "call_tool", "name": "place_order", "arguments": SALE},
        {"op": "call_tool", "name": "place_order", "arguments": {**SALE, "confirm": False}},
    )
    for result in answer["results"]:
        assert result["isError"] is True, result
        text = _text(result)
        assert "place_order was not run" in text, text
        assert EFFECT in text, text
        assert "Nothing was changed" in text, text
        assert "confirm set to true" in text, text
    assert await _store_counts(run) == before
    written = [row for row in await mcp.audit(after=last_audit) if row["source"] == "assistant"]
    assert written == []


async def test_mcp_act_tool_confirmed_runs_once(run: Run, mcp: McpAccess) -> None:
    """With confirm true the sale is recorded once, audited as the barista's, via the MCP Server."""
    before, last_audit = await _store_counts(run), await mcp.last_audit_id()
    result = _data(await mcp.call("place_order", {**SALE, "confirm": True}))
    assert result["success"] is True
    assert result["action"] == "place_order"
    assert result["replayed"] is False
    order_id = result["result"]["order_id"]
    assert result["result"]["total"] == 4500

    after = await _store_counts(run)
    assert after["orders"] == before["orders"] | {order_id}
    assert after["beans"] == pytest.approx(before["beans"] - 18)  # the americano's recipe
    (order,) = await run.query(object_type="Order", object_ids=[order_id])
    assert order["properties"]["source"] == "assistant"

    # exactly one row, the barista's through the MCP Server
    (row,) = [row for row in await mcp.audit(after=last_audit) if row["source"] == "assistant"]
    assert row["action"] == "place_order"
    assert row["actor"] == f"assistant:mcp_server/user:{mcp.user_id}"
    assert row["reason"] == SALE["reason"]
    assert row["result"]["order_id"] == order_id
    users = {user["id"]: user for user in await run.ws.command({"type": "config/auth/list"})}
    barista = users[mcp.user_id]
    assert barista["name"] == STAFF["name"]
    assert not barista["is_owner"]
    assert "system-admin" not in barista["group_ids"]
    # the wall tablet counts the sale
    await run.states.wait_for(
        run.entity("orders_today"), str(len(after["orders"])).__eq__, within=30
    )


async def test_mcp_admin_tool_refused_for_staff(run: Run, mcp: McpAccess) -> None:
    """The token's user is who acts: approving a purchase order is the owner's, not a barista's."""
    (purchase_order,) = await run.query(object_type="PurchaseOrder")
    last_audit = await mcp.last_audit_id()
    result = await mcp.call(
        "approve_purchase_order", {"purchase_order": purchase_order["id"], "confirm": True}
    )
    assert result["isError"] is True, result
    assert "only a Home Assistant administrator may do this" in _text(result)
    assert [row for row in await mcp.audit(after=last_audit) if row["source"] == "assistant"] == []
    (unchanged,) = await run.query(object_type="PurchaseOrder")
    assert unchanged["properties"] == purchase_order["properties"]
