"""The end-to-end run: the whole suite as one thing, on real processes on 127.0.0.1.

One session builds a store day and the tests read it back through Home Assistant's APIs:

1. Mosquitto (with a password) and a real ``hass`` from a temporary configuration folder holding
   ``custom_components/careon``, the blueprints and the wall dashboard; the owner onboarded and
   logged in through Home Assistant's own onboarding and token endpoints.
2. Through the config-flow REST API: CareOn on the embedded database with the demo cafe, Home
   Assistant's MQTT integration on that broker, and the Toss Place connector (its keys tried
   against the fake vendor, its webhook URL read from the form as the owner would).
3. The owner's phone: a Companion-app registration (``/api/mobile_app/registrations``) that
   receives notifications on the local push channel and taps buttons by firing
   ``mobile_app_notification_action`` through its webhook, as the app does. The reorder
   blueprint instantiated through the automation editor's API, sending to that phone.
4. The vision add-on's CLI reading an RTSP stream of ``vtest.avi`` (GStreamer's RTSP server) and
   publishing to the broker.
5. A fake Toss Place server delivering signed webhooks for a morning of orders (tests/e2e/morning.py).
6. For test_mcp.py (fixture ``mcp``): Home Assistant's MCP Server set up through the config-flow
   REST API to serve the "CareOn store" LLM API, and a member of staff (a non-admin Home
   Assistant user) with a long-lived token for an MCP client (tests/e2e/mcp_client.py).

Run it with ``scripts/test e2e``. It does not load pytest-homeassistant-custom-component (its
fixtures patch Home Assistant in-process; here Home Assistant is a separate process). What it
leaves for people to look at goes to tests/e2e/artifacts/: the dashboard's screenshot, the logs of
hass, the vision CLI and Mosquitto, and ``stages.json`` with the time of each stage.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
import contextlib
from dataclasses import dataclass, field
from datetime import datetime
import importlib.util
import json
import os
from pathlib import Path
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
import pytest_asyncio
import yaml

from tests.fakes.toss_place import FakeTossPlace

from .hass import (
    HassClient,
    HassError,
    HassProcess,
    HassWebSocket,
    hass_python,
    http_settings_store,
)
from .morning import MORNING, PAYMENT_METHODS, order_times

E2E = Path(__file__).resolve().parent
ROOT = E2E.parents[1]
VISION = ROOT / "vision_addon"
ARTIFACTS = E2E / "artifacts"
TIMEZONE = "Asia/Seoul"
KOREA = ZoneInfo(TIMEZONE)

STORE_NAME = "CareOn Cafe"  # entity ids: sensor.careon_cafe_…
STORE_PREFIX = "careon_cafe"
CAMERA = "entrance"
PHONE_NAME = "Owner phone"  # notify.mobile_app_owner_phone
NOTIFY_ACTION = "notify.mobile_app_owner_phone"
OWNER = {"name": "Kim Owner", "username": "owner", "password": "e2e-owner-pw-8472"}
MQTT_USER = "homeassistant"
MQTT_PASSWORD = "e2e-mqtt-pw-5530"
TOSS = {
    "access_key": "e2e-access-key",
    "secret_key": "e2e-secret-key",
    "merchant_id": "7001",
    "webhook_secret": "e2e-webhook-secret",
}
SSD_MODEL = Path(
    os.environ.get(
        "CAREON_TEST_MODEL",
        ROOT / "vision_addon" / "tests" / "data" / "models" / "pedestrian_ssdlite.onnx",
    )
)
VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
VISION_PYTHON = ROOT / ".venv-vision" / "bin" / "python"
DASHBOARD_PATH = "/careon-wall/0"
DASHBOARD_KO_PATH = "/careon-wall-ko/0"
DASHBOARD_CARDS = (
    "Revenue today",
    "Orders today",
    "Visitors in",
    "Present now",
    "Low stock",
    "Open orders",
    "Active alarms",
)


def _load(name: str, path: Path) -> ModuleType:
    """A helper module of the vision add-on's tests (its folder is not a package here)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


mosquitto = _load("careon_e2e_mosquitto", VISION / "tests" / "mosquitto.py")
rtsp_server = _load("careon_e2e_rtsp_server", VISION / "tests" / "rtsp_server.py")


def vtest_annotation() -> dict[str, Any]:
    """The hand-checked crossings of vtest.avi (vision_addon/tests/data/vtest_crossings.yaml)."""
    path = VISION / "tests" / "data" / "vtest_crossings.yaml"
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


class StateLog:
    """Every state_changed event Home Assistant sends, kept per entity with its arrival time."""

    def __init__(self) -> None:
        self.history: dict[str, list[tuple[float, str, Mapping[str, Any]]]] = {}
        self._changed = asyncio.Condition()

    def on_event(self, event: Mapping[str, Any]) -> None:
        data = event["data"]
        new = data.get("new_state")
        if new is None:
            return
        self.history.setdefault(data["entity_id"], []).append(
            (time.monotonic(), new["state"], new.get("attributes", {}))
        )
        asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def last(self, entity_id: str) -> str | None:
        history = self.history.get(entity_id)
        return history[-1][1] if history else None

    def numbers(self, entity_id: str) -> list[float]:
        """The numeric states the entity has had, in order (unavailable/unknown left out)."""
        values = []
        for _, state, _ in self.history.get(entity_id, []):
            with contextlib.suppress(ValueError):
                values.append(float(state))
        return values

    async def wait_for(
        self, entity_id: str, predicate: Callable[[str], bool], within: float
    ) -> float:
        """Wait until the entity's latest state satisfies PREDICATE; when it did (monotonic)."""
        deadline = time.monotonic() + within
        async with self._changed:
            while True:
                history = self.history.get(entity_id)
                if history and predicate(history[-1][1]):
                    return history[-1][0]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"{entity_id}: no state satisfying the condition in {within} s "
                        f"(last: {self.last(entity_id)})"
                    )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), remaining)


@dataclass
class Phone:
    """The owner's phone: local push notifications in, button taps out (as the Companion app)."""

    client: HassClient
    webhook_id: str
    received: list[tuple[float, Mapping[str, Any]]] = field(default_factory=list)
    tapped: list[tuple[float, str]] = field(default_factory=list)

    def on_notification(self, event: Mapping[str, Any]) -> None:
        self.received.append((time.monotonic(), event))
        for action in event.get("data", {}).get("actions", []):
            if action["action"].startswith("CAREON_APPROVE_"):
                asyncio.get_running_loop().create_task(self.tap(action["action"]))

    async def tap(self, action: str) -> None:
        """The owner taps a button: the app fires mobile_app_notification_action."""
        await asyncio.sleep(0.5)
        self.tapped.append((time.monotonic(), action))
        async with self.client.session.post(
            f"{self.client.url}/api/webhook/{self.webhook_id}",
            json={
                "type": "fire_event",
                "data": {
                    "event_type": "mobile_app_notification_action",
                    "event_data": {"action": action},
                },
            },
        ) as response:
            assert response.status == 200, await response.text()


@dataclass
class Run:
    """What the session built, for the tests to read back."""

    client: HassClient
    ws: HassWebSocket
    states: StateLog
    phone: Phone
    toss: FakeTossPlace
    entry_id: str
    config_dir: Path
    vision_log: Path
    vision_process: asyncio.subprocess.Process
    vision_started: float
    stages: dict[str, Any] = field(default_factory=dict)
    webhook_latencies: list[float] = field(default_factory=list)
    order_sent: list[float] = field(default_factory=list)  # when each order's first webhook went
    deliveries: int = 0
    orders: list[dict[str, Any]] = field(default_factory=list)

    def entity(self, key: str, domain: str = "sensor") -> str:
        return f"{domain}.{STORE_PREFIX}_{key}"

    def vision_entity(self, key: str, domain: str = "sensor") -> str:
        return f"{domain}.careon_vision_{CAMERA}_{key}"

    async def query(self, **data: Any) -> list[dict[str, Any]]:
        response = await self.client.call(
            "careon", "query", {"config_entry_id": self.entry_id, **data}
        )
        objects: list[dict[str, Any]] = response["objects"]
        return objects


def http_settings(port: int) -> dict[str, Any]:
    """Home Assistant's HTTP server on 127.0.0.1 only, on a port of the test's own."""
    return {"server_host": ["127.0.0.1"], "server_port": port}


def _write_config(
    config_dir: Path, port: int, toss_url: str, http_store: dict[str, Any] | None
) -> None:
    """A configuration folder as an owner who installed CareOn from HACS would have; the HTTP
    server settings in ``http_store`` where this Home Assistant keeps them there, else in YAML."""
    (config_dir / "custom_components").mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(
        ROOT / "custom_components" / "careon",
        config_dir / "custom_components" / "careon",
        ignore=ignore,
    )
    shutil.copytree(
        E2E / "custom_components" / "careon_e2e_vendors",
        config_dir / "custom_components" / "careon_e2e_vendors",
        ignore=ignore,
    )
    shutil.copytree(
        ROOT / "blueprints" / "automation" / "careon",
        config_dir / "blueprints" / "automation" / "careon",
    )
    shutil.copytree(ROOT / "dashboards", config_dir / "dashboards")
    (config_dir / "automations.yaml").write_text("[]\n", encoding="utf-8")
    configuration = {
        "homeassistant": {
            "name": "CareOn end-to-end",
            "country": "KR",
            "currency": "KRW",
            "language": "en",
            "time_zone": TIMEZONE,
            "unit_system": "metric",
            "latitude": 37.5446,
            "longitude": 127.0557,
            "elevation": 20,
            "internal_url": f"http://127.0.0.1:{port}",
        },
        **({} if http_store else {"http": http_settings(port)}),
        "frontend": {},
        "config": {},
        "mobile_app": {},
        "logger": {
            "default": "warning",
            "logs": {
                "custom_components.careon": "info",
                "homeassistant.components.automation": "info",
                "homeassistant.components.mqtt": "info",
            },
        },
        "lovelace": {
            "mode": "storage",
            "dashboards": {
                "careon-wall": {
                    "mode": "yaml",
                    "filename": "dashboards/careon_wall.yaml",
                    "title": "CareOn",
                    "icon": "mdi:storefront-outline",
                    "show_in_sidebar": True,
                },
                "careon-wall-ko": {
                    "mode": "yaml",
                    "filename": "dashboards/careon_wall.ko.yaml",
                    "title": "CareOn (한국어)",
                    "icon": "mdi:storefront-outline",
                    "show_in_sidebar": True,
                },
            },
        },
        "careon_e2e_vendors": {"toss_place_url": toss_url},
    }
    text = yaml.safe_dump(configuration, allow_unicode=True, sort_keys=False)
    text += "automation: !include automations.yaml\n"
    (config_dir / "configuration.yaml").write_text(text, encoding="utf-8")
    # Onboarding without the steps that reach for the internet: only the user is left to create
    # (TESTING.md).
    storage = config_dir / ".storage"
    storage.mkdir()
    if http_store:
        (storage / "http").write_text(json.dumps(http_store), encoding="utf-8")
    (storage / "onboarding").write_text(
        json.dumps(
            {
                "version": 4,
                "minor_version": 1,
                "key": "onboarding",
                "data": {"done": ["core_config", "analytics", "integration"]},
            }
        ),
        encoding="utf-8",
    )


def _vision_config(directory: Path, broker_port: int, camera_url: str) -> Path:
    line = vtest_annotation()["line"]
    data = {
        "timezone": TIMEZONE,
        "data_dir": str(directory / "vision_data"),
        "publish_interval_s": 1.0,
        "lost_after_s": 2.0,
        "mqtt": {
            "host": "127.0.0.1",
            "port": broker_port,
            "username": MQTT_USER,
            "password": MQTT_PASSWORD,
            "client_id": "careon_vision_e2e",
            "keepalive": 10,
        },
        "detector": {"backend": "ssd_onnx", "model": str(SSD_MODEL), "confidence": 0.4},
        "cameras": [
            {
                "id": CAMERA,
                "name": "Entrance",
                "url": camera_url,
                "fps": 10,
                "buffer_frames": 4,
                "lines": [
                    {"name": "Door", "id": "door", "start": line["start"], "end": line["end"]}
                ],
                "zones": [
                    {
                        "name": "Queue",
                        "id": "queue",
                        "polygon": "0,0.3; 0.55,0.3; 0.55,0.62; 0,0.55",
                    },
                    {
                        "name": "Seating",
                        "id": "seating",
                        "polygon": "0,0.6; 0.55,0.66; 0.55,1; 0,1",
                    },
                ],
                "heatmap": {"publish_interval_s": 5},
            }
        ],
    }
    path = directory / "careon_vision.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


class Stages:
    """Wall time of each stage, in seconds, in the order they ran."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.times: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def stage(self, name: str) -> AsyncIterator[None]:
        start = time.monotonic()
        try:
            yield
        finally:
            self.times[name] = round(time.monotonic() - start, 2)


async def _deliver_morning(run: Run, webhook_url: str) -> None:
    """The till's morning: each order's webhooks as the vendor sends them, one order at a time.

    For every order, the time from its first webhook to the moment Home Assistant shows it in
    "Orders today" is the webhook-to-state latency.
    """
    toss = run.toss
    session = run.client.session
    now = datetime.now(KOREA)
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    orders_today = run.entity("orders_today")
    first_delivery: tuple[dict[str, str], bytes] | None = None
    for index, (lines, placed_at) in enumerate(
        zip(MORNING, order_times(now, day_start), strict=True)
    ):
        order = toss.add_order(
            list(lines),
            state="COMPLETED",
            pay=PAYMENT_METHODS[index % len(PAYMENT_METHODS)],
            dining_option="TAKE_OUT" if index % 3 else "HERE",
            at=placed_at,
        )
        run.orders.append(order)
        sent = time.monotonic()
        run.order_sent.append(sent)
        for headers, body in toss.take_deliveries():
            first_delivery = first_delivery or (headers, body)
            async with session.post(webhook_url, data=body, headers=headers) as response:
                assert response.status == 200, f"webhook refused: {await response.text()}"
            run.deliveries += 1
        count = str(index + 1)
        shown = await run.states.wait_for(orders_today, count.__eq__, within=30)
        run.webhook_latencies.append(shown - sent)
    # The vendor retries a delivery it thinks was lost: same webhook id, new delivery id.
    assert first_delivery is not None
    webhook = next(hook for hook in toss.sent if hook.body == first_delivery[1])
    async with session.post(webhook_url, data=webhook.body, headers=toss.sign(webhook)) as response:
        assert response.status == 200
    run.deliveries += 1


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def run() -> AsyncIterator[Run]:
    """Bring the whole suite up, play the morning, and keep it running for the tests."""
    for tool, hint in (
        (VISION_PYTHON, "scripts/setup builds the vision environment"),
        (
            SSD_MODEL,
            "the pedestrian model lives in vision_addon/tests/data/models (or set CAREON_TEST_MODEL)",
        ),
        (VTEST, "install Debian's opencv-doc (scripts/setup)"),
        (E2E / "node_modules" / "playwright-core", "scripts/setup installs playwright-core"),
        (Path("/usr/bin/chromium"), "install Debian's chromium (scripts/setup)"),
    ):
        if not Path(tool).exists():
            pytest.fail(f"{tool} is missing: {hint}")
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    stages = Stages()
    workdir = Path(tempfile.mkdtemp(prefix="careon_e2e_"))
    config_dir = workdir / "config"
    port: int = rtsp_server.free_port()
    cleanups: list[Callable[[], Any]] = []
    session = aiohttp.ClientSession()
    hass = HassProcess(config_dir, port, ARTIFACTS / "home-assistant.out")
    toss = FakeTossPlace(
        access_key=TOSS["access_key"],
        secret_key=TOSS["secret_key"],
        merchant_id=TOSS["merchant_id"],
        webhook_secret=TOSS["webhook_secret"],
        burst=100,
        refill_per_s=20.0,
    )
    vision_log = ARTIFACTS / "vision.log"
    vision: asyncio.subprocess.Process | None = None
    ws: HassWebSocket | None = None
    try:
        async with stages.stage("servers (Mosquitto, RTSP, fake Toss Place)"):
            broker = mosquitto.start_mosquitto(
                workdir / "mosquitto", username=MQTT_USER, password=MQTT_PASSWORD
            )
            cleanups.append(broker.stop)
            rtsp = rtsp_server.RtspServer(VTEST, mount=CAMERA)
            await asyncio.to_thread(rtsp.start)
            cleanups.append(rtsp.stop)
            toss_url = await toss.start()
            http_store = await http_settings_store(http_settings(port))
            _write_config(config_dir, port, toss_url, http_store)

        async with stages.stage("hass start"):
            await hass.start(session)
            client = HassClient(hass.url, session)
            # The owner first: the onboarding view answers while the integrations still load.
            await client.onboard(language="en", **OWNER)
            deadline = time.monotonic() + 120
            while (config := await client.request("GET", "/api/config"))["state"] != "RUNNING":
                assert time.monotonic() < deadline, f"hass never got RUNNING:\n{hass.tail()}"
                await asyncio.sleep(0.25)
            # which Home Assistant ran (scripts/test runs this on two; hass.py's hass_python)
            stages.times["home assistant"] = config["version"]

        async with stages.stage("setup"):
            ws = await client.websocket()
            states = StateLog()
            await ws.subscribe(
                {"type": "subscribe_events", "event_type": "state_changed"}, states.on_event
            )
            long_lived = await ws.command(
                {"type": "auth/long_lived_access_token", "client_name": "CareOn e2e", "lifespan": 1}
            )
            assert isinstance(long_lived, str)
            client.token = long_lived  # the API from here on, as an integration's script would

            created = await client.flow(
                "/api/config/config_entries/flow",
                {"handler": "careon", "show_advanced_options": False},
                {"name": STORE_NAME, "timezone": TIMEZONE, "database": "sqlite", "load_demo": True},
            )
            assert created["type"] == "create_entry", created
            entry_id = created["result"]["entry_id"]

            mqtt_entry = await client.flow(
                "/api/config/config_entries/flow",
                {"handler": "mqtt", "show_advanced_options": False},
                {
                    "broker": "127.0.0.1",
                    "port": broker.port,
                    "username": MQTT_USER,
                    "password": MQTT_PASSWORD,
                },
            )
            assert mqtt_entry["type"] == "create_entry", mqtt_entry

            base = "/api/config/config_entries/subentries/flow"
            form = await client.request("POST", base, {"handler": [entry_id, "toss_place"]})
            form = await client.request("POST", f"{base}/{form['flow_id']}", TOSS)
            assert form["type"] == "form", form
            assert form["step_id"] == "webhook", form  # the keys worked against the vendor
            webhook_url = form["description_placeholders"]["webhook_url"]
            assert webhook_url.startswith(f"{hass.url}/api/webhook/"), webhook_url
            created = await client.request("POST", f"{base}/{form['flow_id']}", {})
            assert created["type"] == "create_entry", created

            registration = await client.request(
                "POST",
                "/api/mobile_app/registrations",
                {
                    "app_id": "io.homeassistant.companion.android",
                    "app_name": "Home Assistant",
                    "app_version": "2025.4.0",
                    "device_name": PHONE_NAME,
                    "manufacturer": "Samsung",
                    "model": "Galaxy S24",
                    "os_name": "Android",
                    "os_version": "14",
                    "supports_encryption": False,
                    "app_data": {"push_websocket_channel": True},
                },
                expect=201,
            )
            phone = Phone(client, registration["webhook_id"])
            await ws.subscribe(
                {
                    "type": "mobile_app/push_notification_channel",
                    "webhook_id": registration["webhook_id"],
                },
                phone.on_notification,
            )
            deadline = time.monotonic() + 30
            while "mobile_app_owner_phone" not in await _notify_services(client):
                assert time.monotonic() < deadline, "notify.mobile_app_owner_phone never appeared"
                await asyncio.sleep(0.25)

            await client.request(
                "POST",
                "/api/config/automation/config/careon_reorder",
                {
                    "id": "careon_reorder",
                    "alias": "CareOn reorder",
                    "description": "Low stock → purchase order → the owner approves on the phone",
                    "use_blueprint": {
                        "path": "careon/auto_reorder.yaml",
                        "input": {
                            "store": entry_id,
                            "owner_notify": NOTIFY_ACTION,
                            "language": "en",
                        },
                    },
                },
            )
            await states.wait_for("automation.careon_reorder", lambda s: s == "on", within=30)
            # adding the Toss Place connector reloads the store: wait for it to be back
            await states.wait_for(
                f"sensor.{STORE_PREFIX}_orders_today", lambda s: s == "0", within=30
            )

        vision_config = _vision_config(workdir, broker.port, rtsp.url)
        vision_started = time.monotonic()
        with vision_log.open("ab") as log:
            vision = await asyncio.create_subprocess_exec(
                str(VISION_PYTHON),
                "-m",
                "careon_vision",
                "--config",
                str(vision_config),
                cwd=VISION,
                env={**os.environ, "YOLO_OFFLINE": "1", "YOLO_AUTOINSTALL": "False"},
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )
        run = Run(
            client=client,
            ws=ws,
            states=states,
            phone=phone,
            toss=toss,
            entry_id=entry_id,
            config_dir=config_dir,
            vision_log=vision_log,
            vision_process=vision,
            vision_started=vision_started,
            stages=stages.times,
        )

        async with stages.stage("morning of orders (webhooks)"):
            await _deliver_morning(run, webhook_url)
        async with stages.stage("purchase order approved on the phone"):
            await _wait_purchase_order_ordered(run)

        yield run
    finally:
        stages.times["total"] = round(time.monotonic() - stages.started, 2)
        with contextlib.suppress(Exception):
            if ws is not None:
                await ws.close()
        if vision is not None and vision.returncode is None:
            vision.terminate()
            try:
                await asyncio.wait_for(vision.wait(), 20)
            except TimeoutError:
                vision.kill()
                await vision.wait()
        status = await hass.stop()
        stages.times["hass exit status"] = status
        await toss.close()
        for cleanup in reversed(cleanups):
            with contextlib.suppress(Exception):
                await asyncio.to_thread(cleanup)
        await session.close()
        hass_log = config_dir / "home-assistant.log"
        if hass_log.exists():
            shutil.copy(hass_log, ARTIFACTS / "home-assistant.log")
        with contextlib.suppress(OSError):
            shutil.copy(workdir / "mosquitto" / "mosquitto.log", ARTIFACTS / "mosquitto.log")
        (ARTIFACTS / "stages.json").write_text(
            json.dumps(stages.times, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        if not os.environ.get("CAREON_E2E_KEEP"):
            shutil.rmtree(workdir, ignore_errors=True)


# --- Home Assistant's MCP Server (test_mcp.py) ---------------------------------------------------

STAFF = {"name": "Lee Barista", "username": "barista", "password": "e2e-barista-pw-6194"}
MCP_CLIENT = E2E / "mcp_client.py"
# Home Assistant 2025.4 serves MCP over SSE only; newer releases serve Streamable HTTP at
# /api/mcp (and keep the SSE endpoint for older clients).
MCP_SSE_PATH = "/mcp_server/sse"
MCP_STREAMABLE_PATH = "/api/mcp"
LLM_API_FIELD = "llm_hass_api"  # mcp_server's config (2025.4) or options (newer) flow field


@dataclass
class McpAccess:
    """The MCP Server serving the CareOn store, and a member of staff's way in with a client."""

    run: Run
    url: str  # the endpoint an MCP client connects to
    transport: str  # "sse" or "streamable-http" (mcp_client.py)
    token: str  # the staff member's long-lived access token
    user_id: str  # the staff member's Home Assistant user id

    async def session(self, *steps: Mapping[str, Any]) -> dict[str, Any]:
        """One MCP session of mcp_client.py, run with Home Assistant's Python (its ``mcp``)."""
        process = await asyncio.create_subprocess_exec(
            *hass_python(),
            str(MCP_CLIENT),
            self.url,
            self.transport,
            cwd=E2E,
            env={**os.environ, "CAREON_MCP_TOKEN": self.token},
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(
            process.communicate(json.dumps(list(steps)).encode()), 120
        )
        if process.returncode != 0:
            raise HassError(
                f"mcp_client.py exited with {process.returncode}:\n{stderr.decode(errors='replace')}"
            )
        answer: dict[str, Any] = json.loads(stdout)
        return answer

    async def call(self, tool: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """A session that calls one tool; the tool's result (``isError``, ``content``)."""
        answer = await self.session({"op": "call_tool", "name": tool, "arguments": arguments})
        result: dict[str, Any] = answer["results"][0]
        return result

    async def audit(self, after: int = 0) -> list[dict[str, Any]]:
        """The store's audit rows with an id above AFTER, read from its SQLite file."""
        (database,) = self.run.config_dir.glob("careon_*.db")

        def read() -> list[dict[str, Any]]:
            with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
                db.row_factory = sqlite3.Row
                rows = db.execute(
                    "SELECT id, action, actor, source, reason, parameters, result"
                    " FROM careon_audit WHERE id > ? ORDER BY id",
                    (after,),
                )
                return [
                    {
                        **dict(row),
                        "parameters": json.loads(row["parameters"]),
                        "result": json.loads(row["result"]),
                    }
                    for row in rows
                ]

        return await asyncio.to_thread(read)

    async def last_audit_id(self) -> int:
        rows = await self.audit()
        return rows[-1]["id"] if rows else 0


async def _log_in(client: HassClient, username: str, password: str) -> HassClient:
    """A user logged in through Home Assistant's login flow, as the frontend does."""
    session, client_id = client.session, client.client_id
    async with session.post(
        f"{client.url}/auth/login_flow",
        json={
            "client_id": client_id,
            "handler": ["homeassistant", None],
            "redirect_uri": client_id,
        },
    ) as response:
        flow = await response.json()
    async with session.post(
        f"{client.url}/auth/login_flow/{flow['flow_id']}",
        json={"client_id": client_id, "username": username, "password": password},
    ) as response:
        result = await response.json()
    if result.get("type") != "create_entry":
        raise HassError(f"{username} could not log in: {result}")
    async with session.post(
        f"{client.url}/auth/token",
        data={"grant_type": "authorization_code", "code": result["result"], "client_id": client_id},
    ) as response:
        if response.status != 200:
            raise HassError(f"no token for {username}: {await response.text()}")
        tokens = await response.json()
    user = HassClient(client.url, session)
    user.tokens, user.token = tokens, tokens["access_token"]
    return user


def _api_choices(form: Mapping[str, Any]) -> dict[str, str]:
    """The LLM APIs the MCP Server's form offers: id -> the name the owner sees."""
    (field_,) = (item for item in form["data_schema"] if item["name"] == LLM_API_FIELD)
    return {option["value"]: option["label"] for option in field_["selector"]["select"]["options"]}


async def _add_mcp_server(client: HassClient) -> None:
    """Home Assistant's MCP Server serving the CareOn store API, set up as the owner would.

    Home Assistant 2025.4's config flow asks for the LLM API. Newer releases create the entry
    serving every API to administrators, and their options choose the API (here only CareOn's)
    and whether non-administrators may use the main URL (here yes: staff use it).
    """
    base = "/api/config/config_entries/flow"
    form = await client.request("POST", base, {"handler": "mcp_server"})
    assert form["type"] == "form", form
    if any(item["name"] == LLM_API_FIELD for item in form["data_schema"]):
        assert _api_choices(form)["careon"] == "CareOn store", form
        created = await client.request(
            "POST", f"{base}/{form['flow_id']}", {LLM_API_FIELD: "careon"}
        )
        assert created["type"] == "create_entry", created
        return
    created = await client.request("POST", f"{base}/{form['flow_id']}", {})
    assert created["type"] == "create_entry", created
    options = await client.flow(
        "/api/config/config_entries/options/flow",
        {"handler": created["result"]["entry_id"]},
        {
            "all_llm_apis": False,
            LLM_API_FIELD: ["careon"],
            "require_admin": False,
            "read_only": False,
        },
    )
    assert options["type"] == "create_entry", options


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def mcp(run: Run) -> McpAccess:
    """The MCP Server on the store's Home Assistant, and a barista's long-lived token for it."""
    started = time.monotonic()
    created = await run.ws.command(
        {"type": "config/auth/create", "name": STAFF["name"], "group_ids": ["system-users"]}
    )
    user_id: str = created["user"]["id"]
    await run.ws.command(
        {
            "type": "config/auth_provider/homeassistant/create",
            "user_id": user_id,
            "username": STAFF["username"],
            "password": STAFF["password"],
        }
    )
    staff = await _log_in(run.client, STAFF["username"], STAFF["password"])
    staff_ws = await staff.websocket()
    try:
        token = await staff_ws.command(
            {"type": "auth/long_lived_access_token", "client_name": "MCP client", "lifespan": 1}
        )
    finally:
        await staff_ws.close()
    await _add_mcp_server(run.client)
    # What this Home Assistant serves: the Streamable HTTP endpoint answers only POST (405),
    # Home Assistant 2025.4 has none (404).
    async with run.client.session.get(
        f"{run.client.url}{MCP_STREAMABLE_PATH}", headers={"Authorization": f"Bearer {token}"}
    ) as response:
        probe = response.status
    if probe == 405:
        url, transport = f"{run.client.url}{MCP_STREAMABLE_PATH}", "streamable-http"
    elif probe == 404:
        url, transport = f"{run.client.url}{MCP_SSE_PATH}", "sse"
    else:
        raise HassError(f"GET {MCP_STREAMABLE_PATH} answered {probe}")
    run.stages["MCP Server set up (staff user, token, entry) (s)"] = round(
        time.monotonic() - started, 2
    )
    run.stages["MCP transport"] = transport
    return McpAccess(run=run, url=url, transport=transport, token=token, user_id=user_id)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The MCP tests sell a coffee: they run after the store day's checks, which count the
    morning's sales, and before the log check, which reads all that hass logged."""

    def order(item: pytest.Item) -> int:
        if item.path.name == "test_mcp.py":
            return 1
        return 2 if item.name == "test_home_assistant_log_clean" else 0

    items.sort(key=order)  # stable: each group keeps its order


async def _notify_services(client: HassClient) -> set[str]:
    services = await client.request("GET", "/api/services")
    return {
        name for domain in services if domain["domain"] == "notify" for name in domain["services"]
    }


async def _wait_purchase_order_ordered(run: Run, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while True:
        orders = await run.query(object_type="PurchaseOrder")
        if any(order["properties"].get("status") == "ordered" for order in orders):
            return
        if time.monotonic() > deadline:
            raise HassError(f"no purchase order was approved: {orders}")
        await asyncio.sleep(0.5)


def latency_summary(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "n": len(ordered),
        "median_ms": round(statistics.median(ordered) * 1000, 1),
        "p90_ms": round(ordered[int(0.9 * (len(ordered) - 1))] * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the stage times at the end of the run (CI's log keeps them)."""
    path = ARTIFACTS / "stages.json"
    if path.exists():
        terminalreporter.section("CareOn end-to-end stages (seconds)")
        for name, value in json.loads(path.read_text(encoding="utf-8")).items():
            terminalreporter.write_line(f"{name}: {value}")
