"""Apache Kafka as one KRaft process (broker + controller), jars resolved by Maven from Maven Central."""

from __future__ import annotations

import base64
import subprocess
import uuid
from pathlib import Path

from devstack import cache, health, tools
from devstack.errors import StackError
from devstack.paths import CHECKOUT_ROOT
from devstack.process import Launch
from devstack.service import Endpoint, Service, endpoint_of_servers

# The newest release that confluent-kafka and faust-streaming's aiokafka (>=0.13) both work against;
# see docs/stack.md for the test matrix. devstack/kafka/pom.xml resolves the jars for this version.
KAFKA_VERSION = "4.4.0"
POM = CHECKOUT_ROOT / "devstack" / "kafka" / "pom.xml"

_LOG4J2 = """\
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = out
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
# The per-request and state-change chatter of a dev broker drowns the lines that matter.
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
"""


def random_cluster_id() -> str:
    # Kafka's own format (base64url of 16 random bytes); ids starting with '-' confuse its CLI parser.
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


def server_properties(endpoint: Endpoint, controller_port: int, log_dir: Path) -> str:
    host = endpoint.connect_host
    lines = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{host}:{controller_port}",
        "listeners": f"PLAINTEXT://{host}:{endpoint.port},CONTROLLER://{host}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{host}:{endpoint.port}",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(log_dir),
        # Topics come from `anomaly topics create` (the catalog), never from a typo in a producer.
        "auto.create.topics.enable": "false",
        "num.partitions": "1",
        "offsets.topic.replication.factor": "1",
        # 50 offset partitions (the default) cost start-up time and file handles on a laptop.
        "offsets.topic.num.partitions": "6",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "6",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "log.retention.check.interval.ms": "60000",
    }
    return "".join(f"{key}={value}\n" for key, value in lines.items())


class Kafka(Service):
    name = "kafka"
    title = "Kafka"
    env_var = "KAFKA_BOOTSTRAP_SERVERS"

    @property
    def endpoint(self) -> Endpoint:
        return endpoint_of_servers(self.ctx.kafka.bootstrap_servers)

    def ports(self) -> list[int]:
        return [self.endpoint.port, self.ctx.stack.kafka_controller_port]

    @property
    def home(self) -> Path:
        return self.ctx.paths.cache / f"kafka-{KAFKA_VERSION}"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "data"

    def check_tools(self) -> None:
        tools.require_java(self.ctx.stack.java)
        if not self.installed():
            tools.require_maven(self.ctx.stack.maven)

    def check_data(self) -> None:
        meta = self.log_dir / "meta.properties"
        if self.log_dir.exists() and any(self.log_dir.iterdir()):
            text = meta.read_text(errors="replace") if meta.is_file() else ""
            if "cluster.id=" not in text:
                raise StackError(
                    f"Kafka data folder {self.log_dir} is corrupt: it has files but no valid meta.properties",
                    f"remove {self.data_dir} to start with an empty broker (its topics are lost)",
                )

    def installed(self) -> bool:
        return cache.is_cached(self.home)

    def install(self) -> None:
        mvn = tools.require_maven(self.ctx.stack.maven)
        log = self.ctx.paths.cache / "logs" / f"kafka-{KAFKA_VERSION}-mvn.log"

        def build(tmp: Path) -> None:
            properties = {"kafka.version": KAFKA_VERSION, "outputDirectory": str(tmp / "libs")}
            what = f"resolving Kafka {KAFKA_VERSION} jars with Maven"
            cache.run_maven(mvn, POM, "dependency:copy-dependencies", properties, what=what, log=log)

        cache.ensure(self.home, build)

    def prepare(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        props = self.data_dir / "server.properties"
        props.write_text(server_properties(self.endpoint, self.ctx.stack.kafka_controller_port, self.log_dir))
        (self.data_dir / "log4j2.properties").write_text(_LOG4J2)
        if (self.log_dir / "meta.properties").exists():
            return
        argv = [
            tools.require_java(self.ctx.stack.java),
            "-cp",
            str(self.home / "libs" / "*"),
            "kafka.tools.StorageTool",
            "format",
            "-t",
            random_cluster_id(),
            "-c",
            str(props),
        ]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
        if result.returncode != 0:
            raise StackError(
                f"formatting Kafka storage failed: {(result.stdout + result.stderr).strip()[-800:]}",
                f"remove {self.data_dir} and run `anomaly stack up` again",
            )

    def launch(self) -> Launch:
        heap = self.ctx.stack.kafka_heap
        argv = [
            tools.require_java(self.ctx.stack.java),
            f"-Xmx{heap}",
            "-Xms128m",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.data_dir / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self.data_dir}",
            "-cp",
            str(self.home / "libs" / "*"),
            "kafka.Kafka",
            str(self.data_dir / "server.properties"),
        ]
        return Launch(argv, self.base_env(), self.data_dir)

    def probe(self, *, deep: bool, timeout_s: float) -> str:
        conf = self.ctx.kafka.client_config()
        if deep:
            health.kafka_round_trip(
                conf, timeout_s, replication=1 if not self.external else self.ctx.kafka.replication_factor
            )
            return "produce+consume round trip ok"
        brokers = health.kafka_metadata(conf, timeout_s)
        return f"metadata ok ({brokers} broker{'s' if brokers > 1 else ''})"
