"""MqttPublisher against a real Mosquitto: discovery, states, heatmaps, availability, faults.

Every test runs its own broker (tests/mosquitto.py) on 127.0.0.1 and checks what a subscriber
really receives: retained discovery configs, the JSON state and PNG bytes, the add-on's and the
cameras' availability (including the last will when the process is killed), Home Assistant's
birth message, a broker restart (nothing counted is lost) and authentication.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
import json
import logging
import os
from pathlib import Path
import select
import signal
import subprocess
import sys
import threading
import time
from typing import Any

import pytest

from careon_vision.config import AppConfig, config_from_mapping
from careon_vision.discovery import (
    bridge_availability_topic,
    camera_topics,
    discovery_messages,
    discovery_topics,
)
from careon_vision.mqtt import MqttPublisher
from tests.mosquitto import Broker, Collector, Message, start_mosquitto

pytestmark = pytest.mark.mqtt

VISION_ADDON = Path(__file__).resolve().parents[1]
STATUS = "careon_vision/status"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
SECRET = "s3cret-Pa55word"


def _state(in_today: int, out_today: int = 0) -> dict[str, Any]:
    return {
        "date": "2026-11-22",
        "updated": "2026-11-22T10:00:00+09:00",
        "in_today": in_today,
        "out_today": out_today,
        "lines": {
            "door": {
                "name": "Door",
                "in": in_today,
                "out": out_today,
                "in_name": "In",
                "out_name": "Out",
            },
            "side": {"name": "Side", "in": 0, "out": 0, "in_name": "In", "out_name": "Out"},
        },
        "occupancy": 1,
        "zones": {
            "counter": {
                "name": "Counter",
                "occupancy": 1,
                "dwell_average_s": 12.5,
                "dwell_median_s": 10.0,
                "visits": 4,
            },
        },
        "hourly": {"10": in_today},
        "peak_hour": "10",
        "fps": 9.8,
        "inference_ms": 14.2,
        "dropped_frames": 0,
    }


def make_config(
    broker: Broker,
    *,
    zones: tuple[str, ...] = ("Counter", "Window"),
    **mqtt: Any,
) -> AppConfig:
    polygons = ["0.1,0.1; 0.5,0.1; 0.5,0.5", "0.6,0.1; 0.9,0.1; 0.9,0.5"]
    return config_from_mapping(
        {
            "cameras": [
                {
                    "id": "entrance",
                    "name": "Entrance",
                    "url": "rtsp://viewer:camsecret@127.0.0.1:8554/entrance",
                    "lines": [
                        {"name": "Door", "start": "0.1,0.6", "end": "0.9,0.6"},
                        {"name": "Side", "start": "0.1,0.2", "end": "0.1,0.9"},
                    ],
                    "zones": [
                        {"name": name, "polygon": polygon}
                        for name, polygon in zip(zones, polygons, strict=False)
                    ],
                },
                {
                    "id": "hall",
                    "name": "Hall",
                    "url": "rtsp://127.0.0.1:8554/hall",
                    "lines": [{"name": "Stairs", "start": "0.2,0.5", "end": "0.8,0.5"}],
                },
            ],
            "mqtt": {"host": broker.host, "port": broker.port, "keepalive": 5, **mqtt},
        }
    )


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    with start_mosquitto(tmp_path) as running:
        yield running


@pytest.fixture
def publishers() -> Iterator[Callable[[AppConfig], MqttPublisher]]:
    """Start publishers (every camera added); all are stopped at teardown."""
    started: list[MqttPublisher] = []

    def start(config: AppConfig) -> MqttPublisher:
        publisher = MqttPublisher(config)
        for camera in config.cameras:
            publisher.add_camera(camera)
        started.append(publisher)
        publisher.start()
        return publisher

    try:
        yield start
    finally:
        for publisher in started:
            publisher.stop()


@pytest.fixture
def collectors(broker: Broker) -> Iterator[Callable[..., Collector]]:
    """Connected subscribers on the test's broker; all are closed at teardown."""
    opened: list[Collector] = []

    def open_collector(topics: tuple[str, ...] = ("#",), **kwargs: Any) -> Collector:
        collector = Collector(broker.host, broker.port, topics, **kwargs)
        opened.append(collector)
        assert collector.wait_connected(10), broker.log()
        return collector

    try:
        yield open_collector
    finally:
        for collector in opened:
            collector.close()


def _json(message: Message) -> Any:
    return json.loads(message.payload)


def _wait_until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.05)


def test_discovery_retained_on_the_right_topics(
    broker: Broker, publishers: Any, collectors: Any
) -> None:
    """Every discovery config arrives retained with its payload; online and camera availability."""
    config = make_config(broker)
    publisher = publishers(config)
    assert publisher.wait_connected(10), broker.log()
    expected = {
        topic: payload
        for camera in config.cameras
        for topic, payload in discovery_messages(config, camera)
    }
    # Once a first subscriber has seen everything, the broker holds it: a subscriber arriving
    # afterwards receives the broker's retained copies.
    probe = collectors()
    for topic in [*expected, "careon_vision/hall/availability"]:
        probe.wait_for(topic)
    collector = collectors()
    assert len(expected) == 15 + 7  # entrance: 2 lines, 2 zones; hall: 1 line
    for topic, payload in expected.items():
        message = collector.wait_for(topic)
        assert message.retain, topic
        assert _json(message) == payload
    assert set(expected) == discovery_topics(config)
    door_in = _json(
        collector.wait_for("homeassistant/sensor/careon_vision_entrance/line_door_in/config")
    )
    assert door_in["unique_id"] == "careon_vision_entrance_line_door_in"
    assert door_in["state_topic"] == "careon_vision/entrance/state"
    assert door_in["availability_mode"] == "all"
    assert [a["topic"] for a in door_in["availability"]] == [
        STATUS,
        "careon_vision/entrance/availability",
    ]
    heatmap = _json(collector.wait_for("homeassistant/image/careon_vision_hall/heatmap/config"))
    assert heatmap["image_topic"] == "careon_vision/hall/heatmap"
    assert heatmap["content_type"] == "image/png"
    assert heatmap["device"]["identifiers"] == ["careon_vision_hall"]

    assert bridge_availability_topic(config) == STATUS
    assert collector.wait_for(STATUS).text == "online"
    assert collector.wait_for(STATUS).retain
    # No stream yet: the cameras are unavailable until the pipeline says frames flow.
    entrance = camera_topics(config, config.cameras[0])
    assert collector.wait_for(entrance.availability).text == "offline"
    mark = collector.mark()
    publisher.set_camera_available("entrance", True)
    assert collector.wait_for(entrance.availability, since=mark).text == "online"
    publisher.set_camera_available("entrance", False)
    assert collector.wait_for(entrance.availability, lambda m: m.text == "offline", since=mark)
    # Nothing else is published: no state before the pipeline's first one.
    assert collector.received(entrance.state) == []


def test_state_and_heatmap_arrive(broker: Broker, publishers: Any, collectors: Any) -> None:
    """The state is compact JSON (NaN becomes null), the heatmap the exact PNG bytes; retained."""
    config = make_config(broker)
    publisher = publishers(config)
    collector = collectors()
    assert publisher.wait_connected(10)
    topics = camera_topics(config, config.cameras[0])
    state = _state(3, 2) | {"fps": float("nan")}
    publisher.publish_state("entrance", state)
    publisher.publish_heatmap("entrance", PNG)
    received = _json(collector.wait_for(topics.state))
    assert received == _state(3, 2) | {"fps": None}
    assert collector.wait_for(topics.heatmap).payload == PNG
    # Retained: a subscriber arriving later gets both.
    late = collectors((topics.state, topics.heatmap))
    assert late.wait_for(topics.state).retain
    assert late.wait_for(topics.heatmap).payload == PNG
    with pytest.raises(KeyError, match="unknown camera 'nowhere'"):
        publisher.publish_state("nowhere", state)


def test_clean_stop_publishes_offline(broker: Broker, collectors: Any) -> None:
    """stop() publishes a retained offline and disconnects (no last will needed)."""
    config = make_config(broker)
    publisher = MqttPublisher(config)
    publisher.add_camera(config.cameras[0])
    try:
        publisher.start()
        assert publisher.wait_connected(10)
        collector = collectors((STATUS,))
        assert collector.wait_for(STATUS).text == "online"
    finally:
        publisher.stop()
    assert not publisher.connected
    assert collector.wait_for(STATUS, lambda m: m.text == "offline").retain is False
    late = collectors((STATUS,))
    message = late.wait_for(STATUS)
    assert (message.text, message.retain) == ("offline", True)
    publisher.stop()  # a second stop is harmless


_CHILD = """
import json, os, sys, time
from careon_vision.config import config_from_mapping
from careon_vision.mqtt import MqttPublisher
config = config_from_mapping(json.loads(os.environ["CAREON_TEST_CONFIG"]))
publisher = MqttPublisher(config)
for camera in config.cameras:
    publisher.add_camera(camera)
publisher.start()
if not publisher.wait_connected(10):
    sys.exit("not connected")
publisher.set_camera_available("entrance", True)
publisher.publish_state("entrance", {"in_today": 5})
print("READY", flush=True)
time.sleep(60)
"""


def test_last_will_when_the_process_dies(broker: Broker, collectors: Any) -> None:
    """A SIGKILLed add-on cannot say goodbye: the broker publishes its retained last will."""
    config = make_config(broker)
    collector = collectors((STATUS, "careon_vision/entrance/state"))
    env = os.environ | {"CAREON_TEST_CONFIG": config.model_dump_json()}
    env["CAREON_TEST_CONFIG"] = json.dumps(
        json.loads(env["CAREON_TEST_CONFIG"]) | {"data_dir": str(broker.directory)}
    )
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD],
        cwd=VISION_ADDON,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert child.stdout is not None
        ready, _, _ = select.select([child.stdout], [], [], 30)
        line = child.stdout.readline().decode() if ready else ""
        assert line.strip() == "READY", (line, child.poll())
        assert collector.wait_for(STATUS, lambda m: m.text == "online")
        assert _json(collector.wait_for("careon_vision/entrance/state")) == {"in_today": 5}
        mark = collector.mark()
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        assert collector.wait_for(STATUS, lambda m: m.text == "offline", since=mark)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(10)
        for stream in (child.stdout, child.stderr):
            if stream is not None:
                stream.close()
    late = collectors((STATUS,))
    message = late.wait_for(STATUS)
    assert (message.text, message.retain) == ("offline", True)


def test_home_assistant_birth_resends_discovery(
    broker: Broker, publishers: Any, collectors: Any
) -> None:
    """Home Assistant's "homeassistant/status online" makes the add-on publish discovery again."""
    config = make_config(broker)
    publisher = publishers(config)
    assert publisher.wait_connected(10)
    collector = collectors(("homeassistant/#",))
    topics = sorted(discovery_topics(config))
    for topic in topics:
        collector.wait_for(topic)
    mark = collector.mark()
    collector.publish("homeassistant/status", "offline")
    collector.publish("homeassistant/status", "online")
    for topic in topics:
        message = collector.wait_for(topic, since=mark)
        assert not message.retain  # a live publication, not the broker's retained copy
    # HA going offline triggers nothing.
    assert len([m for m in collector.messages[mark:] if m.topic == topics[0]]) == 1


def test_broker_restart_loses_nothing(
    broker: Broker, publishers: Any, collectors: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The publisher reconnects by itself; online, discovery and the newest state come back."""
    caplog.set_level(logging.INFO, logger="careon_vision")
    config = make_config(broker)
    publisher = publishers(config)
    assert publisher.wait_connected(10)
    topics = camera_topics(config, config.cameras[0])
    publisher.set_camera_available("entrance", True)
    publisher.publish_state("entrance", _state(3))
    publisher.publish_heatmap("entrance", PNG)
    collector = collectors()
    assert _json(collector.wait_for(topics.state))["in_today"] == 3

    broker.stop()
    _wait_until(lambda: not publisher.connected, "the publisher noticed the broker is gone")
    # Counted while the broker is down: must not be lost.
    publisher.publish_state("entrance", _state(4))
    publisher.publish_state("entrance", _state(5, 1))
    broker.restart()
    mark = collector.mark()
    assert collector.wait_connected(15)
    # The retained data survived the restart (persistence), then the publisher re-published it.
    assert publisher.wait_connected(40), broker.log()
    assert collector.wait_for(STATUS, lambda m: m.text == "online", timeout=40, since=mark)
    newest = collector.wait_for(
        topics.state, lambda m: _json(m)["in_today"] == 5, timeout=40, since=mark
    )
    assert _json(newest) == _state(5, 1)
    assert collector.wait_for(topics.availability, lambda m: m.text == "online", since=mark)
    assert collector.wait_for(topics.heatmap, lambda m: m.payload == PNG, since=mark)
    for topic in discovery_topics(config):
        collector.wait_for(topic, since=mark)
    # No older state was replayed after the newest one.
    states = [_json(m)["in_today"] for m in collector.received(topics.state, since=mark)]
    assert states[-1] == 5
    assert 3 not in states[states.index(5) :]
    # What a subscriber arriving now gets: the newest state.
    late = collectors((topics.state,))
    assert _json(late.wait_for(topics.state))["in_today"] == 5
    messages = [r.getMessage() for r in caplog.records]
    assert any("Lost the MQTT connection" in m for m in messages), messages


def test_removed_zone_is_cleared(broker: Broker, publishers: Any, collectors: Any) -> None:
    """A zone removed from the options: its retained discovery config is replaced by an empty one."""
    before = make_config(broker)
    first = publishers(before)
    assert first.wait_connected(10)
    first.stop()
    removed = "homeassistant/sensor/careon_vision_entrance/zone_window_dwell/config"
    collector = collectors(("homeassistant/#",))
    assert collector.wait_for(removed).retain
    after = make_config(broker, zones=("Counter",))
    assert removed not in discovery_topics(after)
    second = publishers(after)
    assert second.wait_connected(10)
    assert collector.wait_for(removed, lambda m: m.payload == b"")
    late = collectors(("homeassistant/#",))
    kept = "homeassistant/sensor/careon_vision_entrance/zone_counter_dwell/config"
    late.wait_for(kept)
    assert late.received(removed) == []
    assert (
        late.received("homeassistant/sensor/careon_vision_entrance/zone_window_occupancy/config")
        == []
    )


def test_authentication(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Username/password from the config work; a wrong password is a clear error, never logged."""
    caplog.set_level(logging.DEBUG)
    with start_mosquitto(tmp_path, username="careon", password=SECRET) as broker:
        good = MqttPublisher(make_config(broker, username="careon", password=SECRET))
        bad = MqttPublisher(
            make_config(broker, username="careon", password="wrong-" + SECRET, client_id="other")
        )
        collector = Collector(
            broker.host, broker.port, (STATUS,), username="careon", password=SECRET
        )
        try:
            good.start()
            bad.start()
            assert good.wait_connected(10), broker.log()
            assert collector.wait_for(STATUS).text == "online"
            assert not bad.wait_connected(2)
            assert SECRET not in repr(bad)
        finally:
            collector.close()
            bad.stop()
            good.stop()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("refused the connection of user careon" in m for m in errors), errors
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert SECRET not in logged
    assert "camsecret" not in logged


def test_publishing_from_many_threads(broker: Broker, publishers: Any, collectors: Any) -> None:
    """Camera pipelines publish from their own threads: every message arrives intact."""
    config = make_config(broker)
    publisher = publishers(config)
    assert publisher.wait_connected(10)
    collector = collectors(("careon_vision/+/state",))
    per_thread = 50

    def pipeline(camera_id: str, offset: int) -> None:
        for count in range(per_thread):
            publisher.publish_state(camera_id, {"in_today": offset + count})

    threads = [
        threading.Thread(target=pipeline, args=(camera_id, offset))
        for camera_id, offset in (
            ("entrance", 0),
            ("hall", 1000),
            ("entrance", 2000),
            ("hall", 3000),
        )
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    _wait_until(lambda: collector.mark() >= 4 * per_thread, "every state arrived")
    received = sorted(json.loads(m.payload)["in_today"] for m in collector.messages)
    assert received == sorted(
        offset + count for offset in (0, 1000, 2000, 3000) for count in range(per_thread)
    )


def test_camera_added_after_start(broker: Broker, collectors: Any) -> None:
    """add_camera() on a connected publisher announces the camera at once; misuse is an error."""
    config = make_config(broker)
    publisher = MqttPublisher(config)
    publisher.add_camera(config.cameras[0])
    try:
        publisher.start()
        assert publisher.wait_connected(10)
        with pytest.raises(RuntimeError, match="already started"):
            publisher.start()
        collector = collectors(
            ("homeassistant/+/careon_vision_hall/+/config", "careon_vision/hall/#")
        )
        publisher.add_camera(config.cameras[1])
        for topic, payload in discovery_messages(config, config.cameras[1]):
            assert _json(collector.wait_for(topic)) == payload
        assert collector.wait_for("careon_vision/hall/availability").text == "offline"
        with pytest.raises(ValueError, match="already added"):
            publisher.add_camera(config.cameras[1])
    finally:
        publisher.stop()
