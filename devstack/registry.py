"""Apicurio Registry (Confluent-compatible API under /apis/ccompat/v7), from its Maven Central distribution.

Storage: the distribution's embedded H2 database, pointed at a file in the stack folder, so schemas and
compatibility settings survive `stack down`/`up`. (The PostgreSQL storage variant of Apicurio is a
separate artifact that the reachable Maven repository does not serve; see docs/stack.md.)
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from devstack import cache, health, tools
from devstack.errors import StackError
from devstack.paths import CHECKOUT_ROOT
from devstack.process import Launch
from devstack.service import Endpoint, Service, endpoint_of_url

APICURIO_VERSION = "2.6.13.Final"
CCOMPAT_PATH = "/apis/ccompat/v7"
POM = CHECKOUT_ROOT / "devstack" / "registry" / "pom.xml"
_RUNNER = f"apicurio-registry-app-{APICURIO_VERSION}-runner.jar"
_H2_MAGIC = b"H:2,"


class SchemaRegistry(Service):
    name = "schema_registry"
    title = "Schema registry"
    env_var = "SCHEMA_REGISTRY_URL"

    @property
    def url(self) -> str:
        return self.ctx.kafka.schema_registry_url.rstrip("/")

    @property
    def endpoint(self) -> Endpoint:
        return endpoint_of_url(self.url, 80)

    @property
    def home(self) -> Path:
        return self.ctx.paths.cache / f"apicurio-registry-{APICURIO_VERSION}"

    @property
    def database(self) -> Path:
        return self.data_dir / "registry"

    def check_tools(self) -> None:
        tools.require_java(self.ctx.stack.java)
        if not self.installed():
            tools.require_maven(self.ctx.stack.maven)
        path = urlsplit(self.url).path.rstrip("/")
        if path != CCOMPAT_PATH:
            raise StackError(
                f"SCHEMA_REGISTRY_URL={self.url} points at a local registry but not at its "
                f"Confluent-compatible API ({CCOMPAT_PATH})",
                f"set SCHEMA_REGISTRY_URL=http://127.0.0.1:{self.endpoint.port}{CCOMPAT_PATH}",
            )

    def check_data(self) -> None:
        db_file = self.database.with_suffix(".mv.db")
        if db_file.exists():
            with db_file.open("rb") as fh:
                if not fh.read(len(_H2_MAGIC)) == _H2_MAGIC:
                    raise StackError(
                        f"schema registry database {db_file} is corrupt (not an H2 file)",
                        f"remove {self.data_dir} to start with an empty registry (schemas are lost; "
                        "services re-register theirs on start)",
                    )

    def installed(self) -> bool:
        return cache.is_cached(self.home)

    def install(self) -> None:
        mvn = tools.require_maven(self.ctx.stack.maven)
        log = self.ctx.paths.cache / "logs" / f"apicurio-{APICURIO_VERSION}-mvn.log"

        def build(tmp: Path) -> None:
            properties = {
                "apicurio.version": APICURIO_VERSION,
                "outputDirectory": str(tmp / "dist"),
                "markersDirectory": str(tmp / "markers"),
            }
            what = f"fetching Apicurio Registry {APICURIO_VERSION} with Maven"
            cache.run_maven(mvn, POM, "dependency:unpack", properties, what=what, log=log)
            if not (tmp / "dist" / _RUNNER).is_file():
                raise StackError(f"the Apicurio distribution has no {_RUNNER}", f"see {log}")

        cache.ensure(self.home, build)

    def prepare(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)

    def launch(self) -> Launch:
        argv = [
            tools.require_java(self.ctx.stack.java),
            f"-Xmx{self.ctx.stack.registry_heap}",
            "-XX:+UseSerialGC",
            "-Djava.awt.headless=true",
            f"-Dquarkus.http.host={self.endpoint.connect_host}",
            f"-Dquarkus.http.port={self.endpoint.port}",
            # A file database instead of the distribution's in-memory default: schemas must outlive a restart.
            f"-Dquarkus.datasource.jdbc.url=jdbc:h2:file:{self.database}",
            # The distribution opens 20 connections up front, sized for a server, not a laptop.
            "-Dquarkus.datasource.jdbc.initial-size=2",
            "-Dquarkus.datasource.jdbc.min-size=2",
            "-Dquarkus.datasource.jdbc.max-size=20",
            "-jar",
            str(self.home / "dist" / _RUNNER),
        ]
        return Launch(argv, self.base_env(), self.data_dir)

    def probe(self, *, deep: bool, timeout_s: float) -> str:
        count = health.registry_subjects(self.url, timeout_s)
        return f"GET /subjects ok ({count} subject{'s' if count != 1 else ''})"
