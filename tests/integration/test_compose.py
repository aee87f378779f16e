"""`docker compose config` on infra/compose: the base stack and the production override.

No Docker engine is needed: `config` only parses, merges and interpolates. The compose CLI comes from
`make infra-tools` (infra/compose/scripts/compose-cli.sh); without it the checks skip loudly.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_DIR = ROOT / "infra" / "compose"
BASE = COMPOSE_DIR / "docker-compose.yml"
PROD = COMPOSE_DIR / "docker-compose.prod.yml"
SETTINGS = ROOT / "anomaly_core" / "settings.py"
NOTIFY_SETTINGS = ROOT / "notify" / "settings.py"
NOTIFY_EXAMPLE = COMPOSE_DIR / "notify.example.yaml"
CACHE = Path(os.environ.get("ANOMALY_CACHE_DIR", Path.home() / ".cache" / "anomaly"))

APP_COMMANDS = {
    "topics": ["topics", "create"],
    "producer": ["produce", "camera"],
    "pose": ["process", "pose"],
    "scene": ["process", "scene"],
    "audio": ["process", "audio"],
    "caption": ["process", "caption"],
    "fusion": ["fusion", "worker"],
    "projection": ["projection", "sink"],
    "api": ["api"],
}
MODEL_SERVICES = ("pose", "scene", "audio", "caption", "api")
# Names from the deployment doc that the runtime (not anomaly_core.settings) reads.
RUNTIME_ENV = {"OMP_NUM_THREADS", "MALLOC_ARENA_MAX", "HF_HOME", "CUDA_VISIBLE_DEVICES"}
PROD_SECRETS = {"POSTGRES_PASSWORD": "pg-secret", "MINIO_ROOT_USER": "anomaly", "MINIO_ROOT_PASSWORD": "minio-secret"}
RETENTION_ENV = (
    "VIDEO_RETENTION_DAYS",
    "AUDIO_CHUNK_RETENTION_HOURS",
    "EVIDENCE_RETENTION_DAYS",
    "ANOMALY_FRAME_LIMIT",
)
# The producer's motion gate: compose passes the settings' defaults (numbers, compared as such).
SAMPLING_ENV = ("FRAME_PROCESSING_RATE", "POSE_FRAME_RATE", "POSE_HOLD_SECONDS", "SCENE_MAX_INTERVAL_SECONDS")
GIB = 1024**3


def compose_cli() -> list[str] | None:
    built = CACHE / "bin" / "docker-compose"
    if built.is_file() and os.access(built, os.X_OK):
        return [str(built)]
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True, check=False).returncode == 0:
        return [docker, "compose"]
    return None


CLI = compose_cli()
needs_cli = pytest.mark.skipif(
    CLI is None,
    reason=(
        f"NOT RUN: docker compose config - no compose CLI ({CACHE}/bin/docker-compose or a docker compose "
        "plugin); run `make infra-tools`. Only the Dockerfile checks ran."
    ),
)


def compose_config(
    *files: Path, extra_env: dict[str, str] | None = None, profiles: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    # A clean environment and an empty env file: results never depend on the caller's shell or a local .env.
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"), **(extra_env or {})}
    args = [*(CLI or []), "--env-file", os.devnull]
    for f in files:
        args += ["-f", str(f)]
    for profile in profiles:
        args += ["--profile", profile]
    return subprocess.run([*args, "config", "--format", "json"], env=env, capture_output=True, text=True, check=False)


def services(*files: Path, extra_env: dict[str, str] | None = None, profiles: tuple[str, ...] = ()) -> dict[str, Any]:
    result = compose_config(*files, extra_env=extra_env, profiles=profiles)
    assert result.returncode == 0, result.stderr
    found: dict[str, Any] = json.loads(result.stdout)["services"]
    return found


def settings_env_names(*paths: Path) -> set[str]:
    return {name for path in (SETTINGS, *paths) for name in re.findall(r'alias="([A-Z0-9_]+)"', path.read_text())}


def example_refs() -> set[str]:
    """The ${NAME} references of the example routing file (notify.config resolves them from the environment)."""
    return set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", NOTIFY_EXAMPLE.read_text()))


def settings_default(env_name: str) -> str:
    match = re.search(rf'Field\(([\w.]+), alias="{env_name}"', SETTINGS.read_text())
    assert match, env_name
    return match.group(1)


def memory_bytes(value: str | int) -> int:
    # compose prints normalised sizes as byte counts (strings in JSON).
    return int(value)


@needs_cli
def test_base_stack_topology() -> None:
    svc = services(BASE)
    assert {"kafka", "registry", "postgres", "minio", "minio-init", *APP_COMMANDS} <= set(svc)
    assert svc["kafka"]["image"].startswith("apache/kafka:")
    assert svc["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert svc["registry"]["image"].startswith("apicurio/apicurio-registry:")
    assert svc["postgres"]["image"] == "postgres:15"
    assert {svc[name]["image"] for name in APP_COMMANDS} == {"anomaly-detection:latest"}
    for name, command in APP_COMMANDS.items():
        assert svc[name]["command"] == command, name
        assert svc[name]["build"]["dockerfile"] == "infra/compose/Dockerfile"


@needs_cli
def test_app_env_uses_settings_names_and_defaults() -> None:
    svc = services(BASE)
    known = settings_env_names() | RUNTIME_ENV
    for name in APP_COMMANDS:
        unknown = set(svc[name]["environment"]) - known
        assert not unknown, f"{name}: env names not in anomaly_core.settings: {sorted(unknown)}"
    env = svc["api"]["environment"]
    for key in RETENTION_ENV:
        assert env[key] == settings_default(key), key
    for key in SAMPLING_ENV:
        assert float(svc["producer"]["environment"][key]) == float(settings_default(key)), key
    start = re.search(r'Field\("(\w+)", alias="CONSUMER_START"\)', SETTINGS.read_text())
    assert start and env["CONSUMER_START"] == start.group(1)
    assert env["S3_FRAMES_BUCKET"] == "anomaly-frames"
    assert env["S3_AUDIO_BUCKET"] == "anomaly-audio"
    assert env["S3_EVIDENCE_BUCKET"] == "anomaly-evidence"
    assert env["SCHEMA_REGISTRY_URL"].endswith("/apis/ccompat/v7")


@needs_cli
def test_buckets_get_lifecycle_rules() -> None:
    init = services(BASE)["minio-init"]
    script = " ".join(init["command"])
    assert "mc ilm import" in script
    # `config` keeps the `$$` escapes of the shell variables.
    assert re.search(r"anomaly-frames:\$+VIDEO_RETENTION_DAYS", script)
    assert (init["environment"]["VIDEO_RETENTION_DAYS"], init["environment"]["AUDIO_RETENTION_DAYS"]) == ("7", "1")
    assert init["environment"]["EVIDENCE_RETENTION_DAYS"] == "90"


@needs_cli
def test_base_limits_match_deployment_doc() -> None:
    svc = services(BASE)
    for name in MODEL_SERVICES:
        res = svc[name]["deploy"]["resources"]
        assert float(res["limits"]["cpus"]) == 4.0, name
        assert memory_bytes(res["limits"]["memory"]) == 12 * GIB, name
        assert float(res["reservations"]["cpus"]) == 2.0, name
        assert memory_bytes(res["reservations"]["memory"]) == 8 * GIB, name


@needs_cli
def test_prod_override_matches_deployment_doc() -> None:
    svc = services(BASE, PROD, extra_env=PROD_SECRETS)
    for name in MODEL_SERVICES:
        deploy = svc[name]["deploy"]
        assert float(deploy["resources"]["limits"]["cpus"]) == 8.0, name
        assert memory_bytes(deploy["resources"]["limits"]["memory"]) == 16 * GIB, name
        assert float(deploy["resources"]["reservations"]["cpus"]) == 4.0, name
        assert memory_bytes(deploy["resources"]["reservations"]["memory"]) == 12 * GIB, name
        assert deploy["restart_policy"] == {"condition": "on-failure", "max_attempts": 3}, name
        mounts = {Path(v["source"]).name: v["target"] for v in svc[name]["volumes"] if v["type"] == "bind"}
        assert mounts == {"data": "/app/data", "models": "/app/models"}, name
        assert svc[name]["environment"]["FAST_MODE"] == "true"
        assert svc[name]["environment"]["MODEL_CACHE_DIR"] == "/app/models"
    assert "pg-secret" in svc["api"]["environment"]["DATABASE_URL"]


@needs_cli
def test_prod_refuses_development_passwords() -> None:
    result = compose_config(BASE, PROD)
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stderr or "MINIO_ROOT" in result.stderr


@needs_cli
def test_notify_worker_is_an_opt_in_service_beside_the_projection_sink() -> None:
    assert not {"notify", "mosquitto"} & set(services(BASE)), "notify and its broker start only with --profile notify"
    svc = services(BASE, profiles=("notify",))
    notify = svc["notify"]
    assert notify["command"] == ["notify", "worker"]
    assert notify["image"] == svc["projection"]["image"]
    assert notify["build"]["dockerfile"] == "infra/compose/Dockerfile"
    env = notify["environment"]
    (mount,) = notify["volumes"]
    assert (mount["type"], mount["read_only"], mount["target"]) == ("bind", True, env["NOTIFY_CONFIG"])
    assert Path(mount["source"]) == NOTIFY_EXAMPLE
    assert set(notify["depends_on"]) == {*svc["projection"]["depends_on"], "mosquitto"}
    assert notify["depends_on"]["mosquitto"]["condition"] == "service_healthy"
    assert f"127.0.0.1:{env['NOTIFY_METRICS_PORT']}/metrics" in " ".join(notify["healthcheck"]["test"])
    start = re.search(r'Field\("(\w+)", alias="NOTIFY_CONSUMER_START"', NOTIFY_SETTINGS.read_text())
    assert start and env["NOTIFY_CONSUMER_START"] == start.group(1)
    # Every secret the routing file refers to passes through from the shell, with no value of its own.
    refs = example_refs()
    assert refs and all(env[name] is None for name in refs), {name: env.get(name) for name in refs}
    own = set(env) - set(svc["projection"]["environment"])
    unknown = own - settings_env_names(NOTIFY_SETTINGS) - refs
    assert not unknown, f"notify: env names the worker does not read: {sorted(unknown)}"
    broker = svc["mosquitto"]
    assert re.fullmatch(r"eclipse-mosquitto:\d+\.\d+\.\d+", broker["image"]), broker["image"]
    (port,) = broker["ports"]
    mqtt_default = re.search(r'Field\("mqtt://([\d.]+):(\d+)", alias="MQTT_URL"\)', SETTINGS.read_text())
    assert mqtt_default and (port["host_ip"], port["published"], port["target"]) == (*mqtt_default.groups(), 1883)
    assert any(v["target"] == "/mosquitto/config/mosquitto.conf" and v["read_only"] for v in broker["volumes"])
    assert broker["healthcheck"]["test"][1] == "mosquitto_sub"


@needs_cli
def test_prod_notify_gets_the_light_production_limits() -> None:
    svc = services(BASE, PROD, extra_env=PROD_SECRETS, profiles=("notify",))
    deploy = svc["notify"]["deploy"]
    assert deploy == svc["projection"]["deploy"]
    assert float(deploy["resources"]["limits"]["cpus"]) == 2.0
    assert svc["notify"]["image"] == "anomaly-detection:production"
    assert "pg-secret" in svc["notify"]["environment"]["DATABASE_URL"]
    assert [v["target"] for v in svc["notify"]["volumes"]] == ["/etc/anomaly/notify.yaml"]


def test_example_routing_file_is_valid_and_holds_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    from notify.config import ConfigError, load_config

    refs = example_refs()
    for name in refs:
        monkeypatch.setenv(name, "https://hooks.example.com/a" if name.endswith("_URL") else "ops@example.com")
    config = load_config(NOTIFY_EXAMPLE)
    assert {t.kind for t in config.targets} == {"mqtt", "webhook", "email"}
    for secret_key in ("secret", "password"):
        values = re.findall(rf"^\s*{secret_key}:\s*(.+)$", NOTIFY_EXAMPLE.read_text(), re.M)
        assert values and all(re.fullmatch(r'"\$\{\w+\}"', v.strip()) for v in values), values
    monkeypatch.delenv("NOTIFY_SMTP_PASSWORD")
    with pytest.raises(ConfigError, match="NOTIFY_SMTP_PASSWORD"):
        load_config(NOTIFY_EXAMPLE)


def test_dockerfile_builds_one_image_with_the_anomaly_entrypoint() -> None:
    dockerfile = (COMPOSE_DIR / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", dockerfile, re.M)
    assert "pip install --no-deps -e ." in dockerfile
    assert 'ENTRYPOINT ["anomaly"]' in dockerfile
    assert re.search(r"^USER app$", dockerfile, re.M), "the image must not run as root"
