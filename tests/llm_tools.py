"""The tools of CareOn's store API for assistants, as the tests expect them, in the order the API
lists them: tests/test_llm_api.py (inside Home Assistant) and tests/e2e/test_mcp.py (through Home
Assistant's MCP Server) check the same list."""

READ_TOOLS = [
    "store_status",
    "stock",
    "purchase_orders",
    "maintenance_due",
    "zone_occupancy",
    "query",
]
ACT_TOOLS = [
    "place_order",
    "adjust_stock",
    "create_purchase_order",
    "approve_purchase_order",
    "cancel_purchase_order",
    "set_availability",
    "schedule_maintenance",
    "acknowledge_alarm",
]
PLAN_TOOLS = ["staff_plan"]
ALL_TOOLS = READ_TOOLS + ACT_TOOLS + PLAN_TOOLS
# The act tools that do nothing until the person confirms (the tool's `confirm` argument)
CONFIRMED_TOOLS = {
    "place_order",
    "create_purchase_order",
    "approve_purchase_order",
    "cancel_purchase_order",
    "acknowledge_alarm",
}
