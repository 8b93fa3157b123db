"""Publishing to Home Assistant over MQTT (paho-mqtt 2.x, callback API version 2).

:class:`MqttPublisher` owns one paho client running its network loop in its own thread:

- the add-on's availability topic ``<base>/status`` is its retained last will (``offline``);
- on every (re)connection it publishes ``online``, subscribes to Home Assistant's birth topic
  ``<prefix>/status``, publishes the discovery configs of every camera and re-publishes the last
  state, heatmap and stream availability of every camera (all retained), so a broker restart
  loses nothing: the state is cumulative and the newest one is sent again;
- when Home Assistant announces ``online`` the discovery configs are sent again;
- while the broker is unreachable paho retries with exponential backoff (1 s doubling to 30 s);
  publications made meanwhile only update the cached last value of their topic (memory stays
  bounded) and go out on reconnection;
- retained discovery configs of entities that no longer exist (a removed line or zone) are cleared
  with an empty retained payload.

Every public method is thread-safe. The broker password is never logged.
"""

from __future__ import annotations

from collections.abc import Mapping
import json
import logging
import math
import threading
from typing import Any, Final

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from careon_vision.config import AppConfig, CameraConfig
from careon_vision.discovery import (
    PAYLOAD_OFFLINE,
    PAYLOAD_ONLINE,
    CameraTopics,
    bridge_availability_topic,
    camera_topics,
    discovery_messages,
    discovery_subscription,
    ha_status_topic,
)

_LOGGER = logging.getLogger(__name__)

QOS: Final = 1
RECONNECT_MIN_DELAY_S: Final = 1
RECONNECT_MAX_DELAY_S: Final = 30
STOP_PUBLISH_TIMEOUT_S: Final = 5.0


def encode_json(payload: Mapping[str, Any]) -> bytes:
    """``payload`` as compact UTF-8 JSON; NaN and infinities (invalid JSON) become ``null``."""
    return json.dumps(
        _finite(payload), ensure_ascii=False, separators=(",", ":"), allow_nan=False
    ).encode()


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


class _Camera:
    """What the publisher keeps per camera: its topics, discovery and last published values."""

    def __init__(self, config: AppConfig, camera: CameraConfig) -> None:
        self.id = camera.id
        self.topics: CameraTopics = camera_topics(config, camera)
        self.discovery: list[tuple[str, bytes]] = [
            (topic, encode_json(payload)) for topic, payload in discovery_messages(config, camera)
        ]
        self.discovery_filter = discovery_subscription(config, camera)
        self.state: bytes | None = None
        self.heatmap: bytes | None = None
        # Until the pipeline says its stream delivers frames, the camera is unavailable (this also
        # replaces a stale retained "online" of a previous run).
        self.available = False


class MqttPublisher:
    """Publishes CareOn Vision's discovery, states, heatmaps and availability to an MQTT broker."""

    def __init__(self, config: AppConfig) -> None:
        self._config = config
        mqtt_config = config.mqtt
        self._status_topic = bridge_availability_topic(config)
        self._ha_status_topic = ha_status_topic(config)
        self._lock = threading.RLock()
        self._cameras: dict[str, _Camera] = {}
        self._connected = threading.Event()
        self._started = False
        self._stopped = False
        self._unreachable_logged = False
        self._last_refusal: str | None = None

        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=mqtt_config.client_id,
            protocol=mqtt.MQTTv311,
            clean_session=True,
        )
        client.enable_logger(logging.getLogger(f"{__name__}.paho"))
        if mqtt_config.username is not None:
            password = mqtt_config.password
            client.username_pw_set(
                mqtt_config.username, password.get_secret_value() if password else None
            )
        if mqtt_config.tls:
            client.tls_set()
        client.will_set(self._status_topic, PAYLOAD_OFFLINE, qos=QOS, retain=True)
        client.reconnect_delay_set(RECONNECT_MIN_DELAY_S, RECONNECT_MAX_DELAY_S)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self._client = client

    def __repr__(self) -> str:
        mqtt_config = self._config.mqtt
        return (
            f"MqttPublisher({mqtt_config.host}:{mqtt_config.port}, "
            f"user={mqtt_config.username!r}, connected={self.connected})"
        )

    # -- public API ---------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether the broker accepted the connection (and it has not dropped since)."""
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a connection; whether connected."""
        return self._connected.wait(timeout)

    def add_camera(self, camera: CameraConfig) -> None:
        """Publish ``camera``'s device (now if connected, else on connection)."""
        with self._lock:
            if camera.id in self._cameras:
                raise ValueError(f"camera {camera.id!r} was already added")
            entry = _Camera(self._config, camera)
            self._cameras[camera.id] = entry
            if self.connected:
                self._announce_camera(entry)

    def start(self) -> None:
        """Connect in the background; paho keeps reconnecting until :meth:`stop`."""
        with self._lock:
            if self._started:
                raise RuntimeError("the MQTT publisher was already started")
            self._started = True
        mqtt_config = self._config.mqtt
        _LOGGER.info(
            "Connecting to the MQTT broker %s:%s%s",
            mqtt_config.host,
            mqtt_config.port,
            f" as {mqtt_config.username}" if mqtt_config.username else "",
        )
        self._client.connect_async(
            mqtt_config.host, mqtt_config.port, keepalive=mqtt_config.keepalive
        )
        self._client.loop_start()

    def stop(self) -> None:
        """Publish ``offline`` (retained), disconnect cleanly and stop the network thread."""
        with self._lock:
            if not self._started or self._stopped:
                return
            self._stopped = True
            was_connected = self.connected
            info = self._publish(self._status_topic, PAYLOAD_OFFLINE) if was_connected else None
        if info is not None:
            try:
                info.wait_for_publish(STOP_PUBLISH_TIMEOUT_S)
            except (RuntimeError, ValueError) as err:
                _LOGGER.warning("Could not publish offline before disconnecting: %s", err)
        # paho 2.2's network thread logs a spurious ERROR ("Client is not connected") when it
        # wakes once more after a clean disconnect: nothing is wrong, so keep it out of the log.
        self._client.disable_logger()
        self._client.disconnect()
        self._client.loop_stop()
        self._connected.clear()
        _LOGGER.info("Disconnected from the MQTT broker")

    def publish_state(self, camera_id: str, payload: Mapping[str, Any]) -> None:
        """Publish ``camera_id``'s state as JSON (retained); re-sent on every reconnection."""
        data = encode_json(payload)
        with self._lock:
            camera = self._camera(camera_id)
            camera.state = data
            if self.connected:
                self._publish(camera.topics.state, data)

    def publish_heatmap(self, camera_id: str, png: bytes) -> None:
        """Publish ``camera_id``'s heatmap PNG (retained); re-sent on every reconnection."""
        with self._lock:
            camera = self._camera(camera_id)
            camera.heatmap = bytes(png)
            if self.connected:
                self._publish(camera.topics.heatmap, camera.heatmap)

    def set_camera_available(self, camera_id: str, available: bool) -> None:
        """Publish whether ``camera_id``'s stream delivers frames (retained online/offline)."""
        with self._lock:
            camera = self._camera(camera_id)
            changed = camera.available != available
            camera.available = available
            if self.connected:
                self._publish(camera.topics.availability, _availability(available))
        if changed:
            _LOGGER.info("Camera %s is %s", camera_id, _availability(available))

    # -- internals ----------------------------------------------------------------------------

    def _camera(self, camera_id: str) -> _Camera:
        try:
            return self._cameras[camera_id]
        except KeyError:
            raise KeyError(f"unknown camera {camera_id!r}: call add_camera() first") from None

    def _publish(self, topic: str, payload: bytes | str) -> mqtt.MQTTMessageInfo:
        info = self._client.publish(topic, payload, qos=QOS, retain=True)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            _LOGGER.warning("Publishing to %s failed: %s", topic, mqtt.error_string(info.rc))
        return info

    def _announce_camera(self, camera: _Camera) -> None:
        """Discovery, then the last known values of ``camera`` (lock held, connected)."""
        self._client.subscribe(camera.discovery_filter, qos=QOS)
        for topic, payload in camera.discovery:
            self._publish(topic, payload)
        self._publish(camera.topics.availability, _availability(camera.available))
        if camera.state is not None:
            self._publish(camera.topics.state, camera.state)
        if camera.heatmap is not None:
            self._publish(camera.topics.heatmap, camera.heatmap)

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        mqtt_config = self._config.mqtt
        if reason_code.is_failure:
            refusal = str(reason_code)
            if refusal != self._last_refusal:
                self._last_refusal = refusal
                _LOGGER.error(
                    "The MQTT broker %s:%s refused the connection%s: %s (retrying)",
                    mqtt_config.host,
                    mqtt_config.port,
                    f" of user {mqtt_config.username}" if mqtt_config.username else "",
                    refusal,
                )
            return
        with self._lock:
            if self._stopped:
                return
            # Messages paho still holds from before the disconnection are older than the cached
            # values published below: drop them so that they cannot overwrite the newer ones.
            client.drop_out_messages()
            self._connected.set()
            self._publish(self._status_topic, PAYLOAD_ONLINE)
            client.subscribe(self._ha_status_topic, qos=QOS)
            for camera in self._cameras.values():
                self._announce_camera(camera)
        self._unreachable_logged = False
        self._last_refusal = None
        _LOGGER.info(
            "Connected to the MQTT broker %s:%s; discovery published for %d camera(s)",
            mqtt_config.host,
            mqtt_config.port,
            len(self._cameras),
        )

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        mqtt_config = self._config.mqtt
        log = _LOGGER.debug if self._unreachable_logged else _LOGGER.warning
        self._unreachable_logged = True
        log(
            "The MQTT broker %s:%s is unreachable; retrying with backoff (at most every %d s)",
            mqtt_config.host,
            mqtt_config.port,
            RECONNECT_MAX_DELAY_S,
        )

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        with self._lock:
            was_connected = self.connected
            self._connected.clear()
            stopping = self._stopped
        if was_connected and not stopping:
            _LOGGER.warning(
                "Lost the MQTT connection (%s); reconnecting, the last values are re-published",
                reason_code,
            )

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if message.topic == self._ha_status_topic:
            if message.payload == PAYLOAD_ONLINE.encode():
                _LOGGER.info("Home Assistant is online: publishing discovery again")
                with self._lock:
                    if self.connected and not self._stopped:
                        for camera in self._cameras.values():
                            for topic, payload in camera.discovery:
                                self._publish(topic, payload)
            return
        if not message.payload:
            return
        with self._lock:
            if not self.connected or self._stopped:
                return
            for camera in self._cameras.values():
                if mqtt.topic_matches_sub(camera.discovery_filter, message.topic):
                    current = {topic for topic, _ in camera.discovery}
                    if message.topic not in current:
                        _LOGGER.info(
                            "Removing the entity of %s (no longer configured)", message.topic
                        )
                        self._publish(message.topic, b"")
                    return


def _availability(available: bool) -> str:
    return PAYLOAD_ONLINE if available else PAYLOAD_OFFLINE
