"""An MCP client of Home Assistant's MCP Server, as a store owner's assistant app would be.

tests/e2e/test_mcp.py runs this script with the Python of the Home Assistant under test: that
environment has the ``mcp`` package (PyPI) in the version that Home Assistant's ``mcp_server``
pins (1.5 on Home Assistant 2025.4.4, 2.3 on 2026.11), so client and server speak the same
protocol revision, as a client built against that release would.

    CAREON_MCP_TOKEN=<long-lived access token> python mcp_client.py URL TRANSPORT < steps.json

URL is the endpoint: ``.../mcp_server/sse`` for TRANSPORT ``sse`` (the only one of Home Assistant
2025.4), ``.../api/mcp`` for ``streamable-http`` (newer releases). The token goes in an
``Authorization: Bearer`` header, never on the command line. steps.json is a JSON list of
operations run in order in ONE MCP session:

    {"op": "list_tools"}
    {"op": "list_prompts"}
    {"op": "get_prompt", "name": "CareOn store"}
    {"op": "call_tool", "name": "store_status", "arguments": {}}

It prints one JSON object: ``mcp`` (the package's version), ``transport``, ``server`` (the name
and version the server announced, where the library exposes them) and ``results``, each step's
result as it travels on the wire (camelCase: ``inputSchema``, ``isError``). A tool that fails is
a result with ``isError`` true, not a failure of this script; a failure to connect or a protocol
error is (traceback on stderr, exit status 1).
"""

from __future__ import annotations

import argparse
import asyncio
from importlib.metadata import version
import json
import os
import sys
from typing import Any

TOKEN_VARIABLE = "CAREON_MCP_TOKEN"
TRANSPORTS = ("sse", "streamable-http")
SESSION_TIMEOUT = 90  # seconds for the whole session


def _wire(result: Any) -> dict[str, Any]:
    """A result model as JSON on the wire (aliases: camelCase)."""
    data: dict[str, Any] = result.model_dump(mode="json", by_alias=True, exclude_none=True)
    return data


async def _step(client: Any, step: dict[str, Any]) -> dict[str, Any]:
    """One operation on a session (mcp 1.x ClientSession or 2.x Client: same method names)."""
    op = step["op"]
    if op == "list_tools":
        return _wire(await client.list_tools())
    if op == "list_prompts":
        return _wire(await client.list_prompts())
    if op == "get_prompt":
        return _wire(await client.get_prompt(step["name"]))
    if op == "call_tool":
        return _wire(await client.call_tool(step["name"], step.get("arguments", {})))
    raise ValueError(f"unknown step {step!r}")


async def _session_v1(url: str, headers: dict[str, str], steps: list[dict[str, Any]]) -> Any:
    """mcp 1.x: the SSE transport and a ClientSession with its initialize handshake."""
    from mcp import ClientSession  # noqa: PLC0415
    from mcp.client.sse import sse_client  # noqa: PLC0415

    async with (
        sse_client(url, headers=headers) as (read, write),
        ClientSession(read, write) as session,
    ):
        initialized = await session.initialize()
        server = _wire(initialized.serverInfo)
        return server, [await _step(session, step) for step in steps]


async def _session_v2(
    url: str, transport: str, headers: dict[str, str], steps: list[dict[str, Any]]
) -> Any:
    """mcp 2.x: the high-level Client over Streamable HTTP (or SSE), negotiating as it does."""
    import httpx2  # noqa: PLC0415
    from mcp import Client  # noqa: PLC0415
    from mcp.client.sse import sse_client  # noqa: PLC0415
    from mcp.client.streamable_http import streamable_http_client  # noqa: PLC0415

    async with httpx2.AsyncClient(
        headers=headers, timeout=httpx2.Timeout(30, read=SESSION_TIMEOUT)
    ) as http:
        connection = (
            streamable_http_client(url, http_client=http)
            if transport == "streamable-http"
            else sse_client(url, headers=headers)
        )
        async with Client(connection) as client:
            results = [await _step(client, step) for step in steps]
            info = client.server_info
            server = _wire(info) if info is not None else {}
            server["protocolVersion"] = client.protocol_version
            return server, results


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("url")
    parser.add_argument("transport", choices=TRANSPORTS)
    args = parser.parse_args()
    token = os.environ[TOKEN_VARIABLE]
    steps: list[dict[str, Any]] = json.load(sys.stdin)
    headers = {"Authorization": f"Bearer {token}"}
    mcp_version = version("mcp")
    async with asyncio.timeout(SESSION_TIMEOUT):
        if int(mcp_version.split(".")[0]) < 2:
            if args.transport != "sse":
                parser.error(f"mcp {mcp_version} speaks only the sse transport to Home Assistant")
            server, results = await _session_v1(args.url, headers, steps)
        else:
            server, results = await _session_v2(args.url, args.transport, headers, steps)
    json.dump(
        {"mcp": mcp_version, "transport": args.transport, "server": server, "results": results},
        sys.stdout,
        ensure_ascii=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
