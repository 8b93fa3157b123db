"""A real Home Assistant process and a client of its REST and WebSocket APIs.

``HassProcess`` writes nothing itself: the caller prepares the configuration folder. It starts
``python -m homeassistant -c <folder> --skip-pip`` (every requirement is in the pinned test
environment, so Home Assistant never installs anything at run time) and stops it with SIGTERM, as
a supervisor would. ``HassClient`` talks to it the way the frontend and the Companion app do.

Which Home Assistant: ``python`` is this test process's own interpreter (the oldest supported
Home Assistant, .venv), unless ``CAREON_HASS_PYTHON`` names another, as a command line split the
way a shell would: scripts/test sets it to
``<checkout>/scripts/in-current-ha <checkout>/.venv-current/bin/python`` for the current Home
Assistant (Python 3.14, possibly chrooted into a Debian root). That command must end up as the
process it starts (exec), so that SIGTERM reaches Home Assistant itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
import contextlib
import itertools
import json
import os
from pathlib import Path
import shlex
import signal
import sys
import time
from typing import Any

import aiohttp

CLIENT_ID_PATH = "/"  # the frontend's client id is the instance's own URL
HASS_PYTHON_VARIABLE = "CAREON_HASS_PYTHON"


def hass_python() -> list[str]:
    """The command that runs ``-m homeassistant``: ``CAREON_HASS_PYTHON``, else this Python."""
    return shlex.split(os.environ.get(HASS_PYTHON_VARIABLE, "")) or [sys.executable]


# Home Assistant 2026.x keeps its HTTP server settings in .storage/http: a YAML ``http:`` section is
# deprecated there and is migrated once as an unconfirmed trial that every page then asks a person
# to confirm. Older releases read only the YAML. The probe asks the Home Assistant that will run for
# its own store document (its schema fills in the defaults), or prints nothing where there is none.
_HTTP_STORE_PROBE = """
import datetime, importlib.util, json, sys
if importlib.util.find_spec("homeassistant.components.http.config") is None:
    raise SystemExit(0)
from homeassistant.components.http import config
stable = dict(
    config.HTTP_STORAGE_SCHEMA(json.loads(sys.argv[1])),
    created_at=datetime.datetime.now(datetime.UTC).isoformat(),
    error=None,
    error_message=None,
)
data = {"stable": stable, "pending": None, "yaml_migration_done": True}
print(json.dumps({
    "version": config.STORAGE_VERSION,
    "minor_version": config.STORAGE_MINOR_VERSION,
    "key": config.STORAGE_KEY,
    "data": data,
}))
"""


async def http_settings_store(settings: Mapping[str, Any]) -> dict[str, Any] | None:
    """The .storage document that gives the Home Assistant of ``hass_python`` these HTTP server
    settings as confirmed ones, or None where that Home Assistant reads them from YAML."""
    process = await asyncio.create_subprocess_exec(
        *hass_python(),
        "-c",
        _HTTP_STORE_PROBE,
        json.dumps(settings),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        raise HassError(f"the HTTP settings probe failed:\n{err.decode(errors='replace')}")
    document: dict[str, Any] | None = json.loads(out) if out.strip() else None
    return document


class HassError(AssertionError):
    """Home Assistant answered something a working instance would not."""


def _as_the_frontend_sends(form: Mapping[str, Any], step: Mapping[str, Any]) -> dict[str, Any]:
    """A form step's data as the frontend submits it: a section (an "expandable" field, such as
    MQTT's "other_settings" in Home Assistant 2026.x) that the step leaves out comes as an
    object of its fields' initial values, the way the frontend's form fills it in."""
    data = dict(step)
    for field in form.get("data_schema") or []:
        if field.get("type") == "expandable" and field["name"] not in data:
            data[field["name"]] = {
                inner["name"]: value
                for inner in field.get("schema", [])
                if (value := _initial_value(inner)) is not None
            }
    return data


def _initial_value(field: Mapping[str, Any]) -> Any:
    """A form field's value before anyone touches it, as the frontend computes it: its default
    or suggested value; for a required field without either, off for a switch and the first
    option of a list."""
    if "default" in field:
        return field["default"]
    if (suggested := (field.get("description") or {}).get("suggested_value")) is not None:
        return suggested
    if not field.get("required"):
        return None
    selector = field.get("selector") or {}
    if "boolean" in selector:
        return False
    if options := (selector.get("select") or {}).get("options"):
        first = options[0]
        return first["value"] if isinstance(first, Mapping) else first
    return None


class HassProcess:
    """``hass -c CONFIG_DIR`` on 127.0.0.1:PORT, its output kept in LOG_PATH."""

    def __init__(self, config_dir: Path, port: int, log_path: Path) -> None:
        self.config_dir = config_dir
        self.port = port
        self.log_path = log_path
        self.url = f"http://127.0.0.1:{port}"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self, session: aiohttp.ClientSession, within: float = 180) -> float:
        """Start Home Assistant and wait until it is RUNNING; the seconds it took."""
        started = time.monotonic()
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                *hass_python(),
                "-m",
                "homeassistant",
                "--config",
                str(self.config_dir),
                "--skip-pip",
                "--log-no-color",
                # Not the checkout: its custom_components/ would shadow the configuration's.
                cwd=self.config_dir,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        deadline = started + within
        # The onboarding view answers without a user as soon as HTTP is up; the core is RUNNING
        # once every integration of the configuration has been set up.
        while True:
            if self.process.returncode is not None:
                raise HassError(f"hass exited with {self.process.returncode}:\n{self.tail()}")
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(
                    f"{self.url}/api/onboarding", timeout=aiohttp.ClientTimeout(total=5)
                ) as response:
                    if response.status == 200:
                        return time.monotonic() - started
            if time.monotonic() > deadline:
                raise HassError(f"hass did not answer within {within} s:\n{self.tail()}")
            await asyncio.sleep(0.25)

    async def stop(self, within: float = 60) -> int | None:
        """SIGTERM, then SIGKILL if it does not stop in time; its exit status."""
        process, self.process = self.process, None
        if process is None or process.returncode is not None:
            return None if process is None else process.returncode
        process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(process.wait(), within)
        except TimeoutError:
            process.kill()
            return await process.wait()

    def tail(self, lines: int = 60) -> str:
        """The end of Home Assistant's output."""
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


class HassWebSocket:
    """An authenticated WebSocket connection: commands, and events kept as they arrive."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        self._results: dict[int, asyncio.Future[Any]] = {}
        self._listeners: dict[int, Callable[[Mapping[str, Any]], None]] = {}
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self._ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                break
            data = json.loads(message.data)
            for item in data if isinstance(data, list) else [data]:
                if item.get("type") == "result" and (future := self._results.pop(item["id"], None)):
                    if item["success"]:
                        future.set_result(item.get("result"))
                    else:
                        future.set_exception(HassError(f"{item['error']}"))
                elif item.get("type") == "event" and (listener := self._listeners.get(item["id"])):
                    listener(item["event"])
        for future in self._results.values():
            future.set_exception(HassError("the WebSocket closed"))

    async def command(self, message: Mapping[str, Any], within: float = 30) -> Any:
        """Send a command and return its result (raises HassError on an error result)."""
        message_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._results[message_id] = future
        await self._ws.send_json({**message, "id": message_id})
        return await asyncio.wait_for(future, within)

    async def subscribe(
        self, message: Mapping[str, Any], listener: Callable[[Mapping[str, Any]], None]
    ) -> int:
        """A subscription command (subscribe_events, a push channel, …); events go to LISTENER."""
        message_id = next(self._ids)
        self._listeners[message_id] = listener
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._results[message_id] = future
        await self._ws.send_json({**message, "id": message_id})
        await asyncio.wait_for(future, 30)
        return message_id

    async def close(self) -> None:
        await self._ws.close()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


class HassClient:
    """Home Assistant's REST and WebSocket APIs with a user's token."""

    def __init__(self, url: str, session: aiohttp.ClientSession) -> None:
        self.url = url
        self.session = session
        self.token = ""
        self.tokens: dict[str, Any] = {}

    @property
    def client_id(self) -> str:
        return f"{self.url}{CLIENT_ID_PATH}"

    async def onboard(self, *, name: str, username: str, password: str, language: str) -> None:
        """Create the owner through onboarding and log in with the authorization code."""
        async with self.session.post(
            f"{self.url}/api/onboarding/users",
            json={
                "client_id": self.client_id,
                "name": name,
                "username": username,
                "password": password,
                "language": language,
            },
        ) as response:
            if response.status != 200:
                raise HassError(f"onboarding refused the owner: {await response.text()}")
            code = (await response.json())["auth_code"]
        async with self.session.post(
            f"{self.url}/auth/token",
            data={"grant_type": "authorization_code", "code": code, "client_id": self.client_id},
        ) as response:
            if response.status != 200:
                raise HassError(f"no token for the auth code: {await response.text()}")
            self.tokens = await response.json()
        self.token = self.tokens["access_token"]

    async def request(
        self,
        method: str,
        path: str,
        payload: Any = None,
        *,
        expect: int = 200,
        token: str | None = None,
    ) -> Any:
        """A REST call; the decoded JSON answer (HassError on another status)."""
        async with self.session.request(
            method,
            f"{self.url}{path}",
            json=payload,
            headers={"Authorization": f"Bearer {token or self.token}"},
        ) as response:
            text = await response.text()
            if response.status != expect:
                raise HassError(f"{method} {path} -> {response.status}: {text}")
            return json.loads(text) if text else None

    async def state(self, entity_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.request("GET", f"/api/states/{entity_id}")
        return result

    async def states(self) -> dict[str, dict[str, Any]]:
        return {state["entity_id"]: state for state in await self.request("GET", "/api/states")}

    async def call(self, domain: str, service: str, data: Mapping[str, Any]) -> Any:
        """A service call with its response (``?return_response``)."""
        result = await self.request(
            "POST", f"/api/services/{domain}/{service}?return_response", dict(data)
        )
        return result["service_response"]

    async def flow(
        self, base: str, start: Mapping[str, Any], *steps: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Run a config, options or subentry flow through REST: start it, submit each step."""
        result: dict[str, Any] = await self.request("POST", base, dict(start))
        for step in steps:
            if result["type"] != "form":
                raise HassError(f"{base}: expected a form, got {result}")
            if result.get("errors"):
                raise HassError(f"{base}: the form shows errors: {result}")
            result = await self.request(
                "POST", f"{base}/{result['flow_id']}", _as_the_frontend_sends(result, step)
            )
        return result

    async def websocket(self) -> HassWebSocket:
        ws = await self.session.ws_connect(f"{self.url}/api/websocket", max_msg_size=0)
        hello = await ws.receive_json()
        if hello["type"] != "auth_required":
            raise HassError(f"unexpected greeting {hello}")
        await ws.send_json({"type": "auth", "access_token": self.token})
        answer = await ws.receive_json()
        if answer["type"] != "auth_ok":
            raise HassError(f"WebSocket authentication failed: {answer}")
        return HassWebSocket(ws)
