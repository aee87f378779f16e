"""Mosquitto, the MQTT broker notifications are published to, from the distribution's package (like PostgreSQL).

Local only: it listens on the MQTT_URL address (loopback by default) and lets local clients in without a
password, as the local Kafka does; retained messages persist in the stack folder across restarts.
"""

from __future__ import annotations

import os
import pwd
import shutil
from pathlib import Path

from anomaly_core.settings import MqttSettings
from devstack import health
from devstack.errors import StackError
from devstack.process import Launch
from devstack.service import Endpoint, Service, endpoint_of_url

MOSQUITTO_CANDIDATES = ("/usr/sbin/mosquitto", "/usr/bin/mosquitto")


class Mosquitto(Service):
    name = "mosquitto"
    title = "Mosquitto (MQTT)"
    env_var = "MQTT_URL"

    @property
    def url(self) -> str:
        return MqttSettings().url

    @property
    def endpoint(self) -> Endpoint:
        return endpoint_of_url(self.url, 1883)

    @property
    def binary(self) -> str | None:
        found = shutil.which("mosquitto")
        return found or next((p for p in MOSQUITTO_CANDIDATES if Path(p).is_file()), None)

    def check_tools(self) -> None:
        if self.binary is None:
            raise StackError(
                "Mosquitto not found: `mosquitto` is not installed",
                "run scripts/bootstrap-system.sh (apt-get install mosquitto)",
            )

    def installed(self) -> bool:
        return self.binary is not None

    def install(self) -> None:
        self.check_tools()

    @property
    def config_path(self) -> Path:
        return self.data_dir / "mosquitto.conf"

    def prepare(self) -> None:
        (self.data_dir / "data").mkdir(parents=True, exist_ok=True)
        lines = [
            f"listener {self.endpoint.port} {self.endpoint.connect_host}",
            "allow_anonymous true",
            "persistence true",
            f"persistence_location {self.data_dir / 'data'}/",
            "log_dest stdout",
            "log_type error",
            "log_type warning",
            "log_type notice",
        ]
        if os.geteuid() == 0:
            # As root Mosquitto would switch to its own user, who cannot write to this stack folder.
            lines.append(f"user {pwd.getpwuid(os.geteuid()).pw_name}")
        self.config_path.write_text("\n".join(lines) + "\n")

    def launch(self) -> Launch:
        binary = self.binary
        if binary is None:
            self.check_tools()
        return Launch([str(binary), "-c", str(self.config_path)], self.base_env(), self.data_dir)

    def probe(self, *, deep: bool, timeout_s: float) -> str:
        health.mqtt_round_trip(self.endpoint.connect_host, self.endpoint.port, timeout_s, deep=deep)
        return "publish/subscribe ok" if deep else "connect ok"
