"""A real Mosquitto broker for the tests, and a subscriber that collects what arrives.

``start_mosquitto(tmp_path)`` runs Debian's ``/usr/sbin/mosquitto`` on 127.0.0.1 on a free port,
with its own configuration, password file (when credentials are given), log and persistence
directory in ``tmp_path``: retained messages survive :meth:`Broker.restart` (same port), as they
do on a real installation. :class:`Collector` is a paho subscriber running its own network thread
that records every message it receives and lets a test wait for one.

Both are context managers; a test that starts one stops it (fixtures use ``with``/``finally``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
import getpass
from pathlib import Path
import socket
import subprocess
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

MOSQUITTO = Path("/usr/sbin/mosquitto")
MOSQUITTO_PASSWD = Path("/usr/bin/mosquitto_passwd")
HOST = "127.0.0.1"
START_TIMEOUT_S = 10.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class Broker:
    """A Mosquitto process on 127.0.0.1; ``stop()``/``restart()`` keep its port and retained data."""

    def __init__(
        self,
        directory: Path,
        *,
        port: int | None = None,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        if not MOSQUITTO.is_file():
            raise RuntimeError(f"{MOSQUITTO} not found: install Debian's mosquitto (scripts/setup)")
        self.host = HOST
        self.port = port or free_port()
        self.username = username
        self.password = password
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.persistence_dir = directory / "persistence"
        self.persistence_dir.mkdir(exist_ok=True)
        self.log_path = directory / "mosquitto.log"
        self.config_path = directory / "mosquitto.conf"
        lines = [
            f"listener {self.port} {HOST}",
            "persistence true",
            f"persistence_location {self.persistence_dir}/",
            f"log_dest file {self.log_path}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
            # Started as root, Mosquitto would switch to the "mosquitto" user and lose access to
            # the test's directory: keep the current user.
            f"user {getpass.getuser()}",
        ]
        if username is not None:
            password_file = directory / "passwords"
            subprocess.run(
                [str(MOSQUITTO_PASSWD), "-c", "-b", str(password_file), username, password or ""],
                check=True,
                capture_output=True,
                timeout=30,
            )
            password_file.chmod(0o600)
            lines += ["allow_anonymous false", f"password_file {password_file}"]
        else:
            lines.append("allow_anonymous true")
        self.config_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Broker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start Mosquitto and wait until it accepts connections."""
        if self.running:
            return
        self._process = subprocess.Popen(
            [str(MOSQUITTO), "-c", str(self.config_path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self._process.poll() is not None:
                stderr = (
                    self._process.stderr.read().decode(errors="replace")
                    if self._process.stderr
                    else ""
                )
                self._process = None
                raise RuntimeError(f"mosquitto exited at start: {stderr}{self.log()}")
            try:
                with socket.create_connection((HOST, self.port), timeout=0.5):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(
                        f"mosquitto did not listen on {HOST}:{self.port} in {START_TIMEOUT_S} s"
                    ) from None
                time.sleep(0.05)

    def stop(self) -> None:
        """Stop Mosquitto (SIGTERM: it saves its retained messages), killing it if it hangs."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        if process.stderr is not None:
            process.stderr.close()

    def restart(self) -> None:
        """Stop and start again on the same port (retained messages persist)."""
        self.stop()
        self.start()

    def log(self) -> str:
        """Mosquitto's log so far (for assertion messages)."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""


def start_mosquitto(
    tmp_path: Path,
    *,
    port: int | None = None,
    username: str | None = None,
    password: str | None = None,
) -> Broker:
    """Start a Mosquitto broker whose files live in ``tmp_path / "mosquitto"``."""
    broker = Broker(tmp_path / "mosquitto", port=port, username=username, password=password)
    broker.start()
    return broker


@dataclass(frozen=True)
class Message:
    """A message a :class:`Collector` received."""

    topic: str
    payload: bytes
    retain: bool
    received: float

    @property
    def text(self) -> str:
        return self.payload.decode()


class Collector:
    """A subscriber (own paho network thread) recording every message on ``topics``.

    It reconnects by itself (a broker restart) and subscribes again on every connection.
    """

    def __init__(
        self,
        host: str,
        port: int,
        topics: Iterable[str] = ("#",),
        *,
        username: str | None = None,
        password: str | None = None,
        client_id: str = "",
    ) -> None:
        self.topics = list(topics)
        self.messages: list[Message] = []
        self._condition = threading.Condition()
        self._connected = threading.Event()
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        if username is not None:
            self._client.username_pw_set(username, password)
        self._client.reconnect_delay_set(1, 2)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.connect_async(host, port, keepalive=10)
        self._client.loop_start()

    def __enter__(self) -> Collector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def wait_connected(self, timeout: float = 10.0) -> bool:
        return self._connected.wait(timeout)

    def publish(self, topic: str, payload: bytes | str, *, retain: bool = False) -> None:
        """Publish (QoS 1) and wait until the broker acknowledged it."""
        self._client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(10)

    def mark(self) -> int:
        """The number of messages received so far: pass it as ``since`` to wait for new ones."""
        with self._condition:
            return len(self.messages)

    def received(self, topic: str, *, since: int = 0) -> list[Message]:
        with self._condition:
            return [m for m in self.messages[since:] if m.topic == topic]

    def last(self, topic: str) -> Message | None:
        found = self.received(topic)
        return found[-1] if found else None

    def wait_for(
        self,
        topic: str,
        predicate: Callable[[Message], bool] | None = None,
        timeout: float = 10.0,
        *,
        since: int = 0,
    ) -> Message:
        """The first message on ``topic`` (from index ``since``) that satisfies ``predicate``."""
        deadline = time.monotonic() + timeout
        with self._condition:
            index = since
            while True:
                for message in self.messages[index:]:
                    if message.topic == topic and (predicate is None or predicate(message)):
                        return message
                index = max(index, len(self.messages))
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [m.text[:80] for m in self.messages[since:] if m.topic == topic]
                    raise AssertionError(
                        f"no matching message on {topic!r} within {timeout} s; got {seen}"
                    )
                self._condition.wait(remaining)

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any
    ) -> None:
        if reason_code.is_failure:
            return
        for topic in self.topics:
            client.subscribe(topic, qos=1)
        self._connected.set()

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any
    ) -> None:
        self._connected.clear()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self._condition:
            self.messages.append(
                Message(message.topic, bytes(message.payload), bool(message.retain), time.time())
            )
            self._condition.notify_all()
