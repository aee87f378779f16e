"""MQTT: ``<prefix>/<camera>/events`` gets new/update/end messages, ``<prefix>/<camera>/state`` the retained last
state of the camera, so a client that subscribes later learns it at once."""

from __future__ import annotations

import threading
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt

from notify.config import MqttTarget
from notify.payloads import Notice, mqtt_event, mqtt_state, mqtt_topics
from notify.senders.base import SendError


class MqttSender:
    def __init__(self, target: MqttTarget) -> None:
        self.target = target
        self._client: mqtt.Client | None = None
        self._lock = threading.Lock()

    def _connected(self) -> mqtt.Client:
        if self._client is not None and self._client.is_connected():
            return self._client
        self.close()
        url = urlsplit(self.target.url)
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"anomaly-notify-{self.target.name}")
        if self.target.username:
            password = self.target.password.get_secret_value() if self.target.password else None
            client.username_pw_set(self.target.username, password)
        if url.scheme == "mqtts":
            client.tls_set()
        ready = threading.Event()
        client.on_connect = lambda *_args: ready.set()
        try:
            client.connect(url.hostname or "127.0.0.1", url.port or (8883 if url.scheme == "mqtts" else 1883))
        except OSError as exc:
            raise SendError(f"broker {url.netloc} unreachable: {exc}", transient=True) from exc
        client.loop_start()
        if not ready.wait(self.target.timeout_s) or not client.is_connected():
            client.loop_stop()
            raise SendError(f"broker {url.netloc} did not accept the connection", transient=True)
        self._client = client
        return client

    def send(self, notice: Notice) -> str:
        events, state = mqtt_topics(self.target.topic_prefix, notice.alert.camera_id)
        with self._lock:
            client = self._connected()
            infos = [
                client.publish(events, mqtt_event(notice), qos=self.target.qos),
                client.publish(state, mqtt_state(notice), qos=self.target.qos, retain=True),
            ]
            for info in infos:
                try:
                    info.wait_for_publish(self.target.timeout_s)
                except (RuntimeError, ValueError) as exc:
                    raise SendError(f"publish failed: {exc}", transient=True) from exc
                if not info.is_published():
                    raise SendError(f"publish not acknowledged within {self.target.timeout_s:g} s", transient=True)
        return f"published to {events} and {state}"

    def close(self) -> None:
        if self._client is not None:
            self._client.loop_stop()
            self._client.disconnect()
            self._client = None
