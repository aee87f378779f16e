"""infra/helm/anomaly: `helm lint`, `helm template` with the dev and prod values, kubeconform against the
Kubernetes and KEDA schemas, and what the rendered manifests must say.

Nothing is downloaded here. helm, kubeconform and the schemas come from `make infra-test-tools`
(infra/helm/scripts/helm-tools.sh); without them the checks skip with a reason that says so.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from processors.registry import modalities

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "infra" / "helm" / "anomaly"
PROD_VALUES = CHART / "values-prod.yaml"
TOOLS_SCRIPT = ROOT / "infra" / "helm" / "scripts" / "helm-tools.sh"
COMPOSE = ROOT / "infra" / "compose" / "docker-compose.yml"
SETTINGS_FILES = (
    ROOT / "anomaly_core" / "settings.py",
    ROOT / "processors" / "settings.py",
    ROOT / "fusion_app" / "settings.py",
    ROOT / "api" / "settings.py",
    ROOT / "notify" / "settings.py",
)
# The notify worker is off by default; these values turn it on with one webhook (its secret from a Secret).
NOTIFY_VALUES: dict[str, Any] = {
    "notify": {
        "enabled": True,
        "config": {
            "link_template": "https://ops.example.com/anomalies/{anomaly_id}",
            "targets": [
                {
                    "name": "ops",
                    "kind": "webhook",
                    "url": "https://hooks.example.com/a",
                    "secret": "${OPS_HOOK_SECRET}",
                },
                {"name": "site-broker", "kind": "mqtt", "url": "mqtts://mqtt.example.com:8883"},
            ],
        },
        "secretEnv": {"OPS_HOOK_SECRET": {"existingSecret": "anomaly-notify", "key": "ops-hook-secret"}},
    }
}
RELEASE = "t"
PREFIX = f"{RELEASE}-anomaly"

CREDENTIAL_ENV = {
    "databasePassword": "PGPASSWORD",
    "s3AccessKey": "S3_ACCESS_KEY",
    "s3SecretKey": "S3_SECRET_KEY",
    "kafkaSaslPassword": "KAFKA_SASL_PASSWORD",
    "apiKeyPepper": "API_KEY_PEPPER",
    "jwtSecret": "JWT_SECRET",
}
# Production: every credential but the optional JWT secret names a Secret.
PROD_SECRETS = {
    f"credentials.{name}.existingSecret": f"anomaly-{name.lower()}" for name in CREDENTIAL_ENV if name != "jwtSecret"
}
# Environment names the runtime reads besides the settings classes (libpq, OpenMP, glibc, Hugging Face).
RUNTIME_ENV = {"PGPASSWORD", "OMP_NUM_THREADS", "MALLOC_ARENA_MAX", "HF_HOME"}
MODEL_SERVICES = ("pose", "scene", "audio", "caption", "api")
LIGHT_SERVICES = ("producer-cameras", "fusion", "projection")
# The deployment doc: its Kubernetes Deployment (dev) and its "Optimal Production Settings" (prod).
MODEL_RESOURCES = {
    "dev": {"requests": {"cpu": "2", "memory": "8Gi"}, "limits": {"cpu": "4", "memory": "16Gi"}},
    "prod": {"requests": {"cpu": "4", "memory": "12Gi"}, "limits": {"cpu": "8", "memory": "16Gi"}},
}
LIGHT_RESOURCES = {
    "dev": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "2Gi"}},
    "prod": {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": "2", "memory": "4Gi"}},
}


def tool_paths() -> dict[str, str] | None:
    probe = subprocess.run([str(TOOLS_SCRIPT), "--print-env"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        return None
    return dict(line.split("=", 1) for line in probe.stdout.splitlines() if "=" in line)


TOOLS = tool_paths()
pytestmark = pytest.mark.skipif(
    TOOLS is None,
    reason=(
        "NOT RUN: helm lint/template and kubeconform on infra/helm/anomaly - helm, kubeconform or the schemas "
        "are not in the cache; run `make infra-test-tools` (infra/helm/scripts/helm-tools.sh)."
    ),
)


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    assert TOOLS is not None
    # No kube config, no repositories: lint and template never talk to a cluster or the network.
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"), "KUBECONFIG": os.devnull}
    return subprocess.run([TOOLS["HELM"], *args], capture_output=True, text=True, env=env, check=False, timeout=60)


def values_args(prod: bool, sets: dict[str, str] | None, values: Path | None = None) -> list[str]:
    args = ["-f", str(PROD_VALUES)] if prod else []
    if values is not None:
        args += ["-f", str(values)]
    merged = {**(PROD_SECRETS if prod else {}), **(sets or {})}
    for key, value in merged.items():
        args += ["--set", f"{key}={value}"]
    return args


def template(
    prod: bool = False, sets: dict[str, str] | None = None, values: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return helm("template", RELEASE, str(CHART), *values_args(prod, sets, values))


def parse(manifests: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(manifests) if doc]


def render(prod: bool = False, sets: dict[str, str] | None = None, values: Path | None = None) -> list[dict[str, Any]]:
    result = template(prod, sets, values)
    assert result.returncode == 0, result.stderr
    return parse(result.stdout)


def fails(prod: bool = False, sets: dict[str, str] | None = None, values: Path | None = None) -> str:
    result = template(prod, sets, values)
    assert result.returncode != 0, "rendering should have been refused"
    return result.stderr


def of_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"].removeprefix(f"{PREFIX}-"): doc for doc in docs if doc["kind"] == kind}


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    return only


def env_of(deployment: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in container(deployment).get("env", [])}


def all_containers(docs: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for doc in docs:
        if doc["kind"] in ("Deployment", "Job"):
            yield from doc["spec"]["template"]["spec"]["containers"]


def settings_env_names() -> set[str]:
    return {name for path in SETTINGS_FILES for name in re.findall(r'alias="([A-Z0-9_]+)"', path.read_text())}


def compose_commands() -> dict[str, list[str]]:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    return {name: svc["command"] for name, svc in services.items() if "command" in svc}


def processor_group(name: str, prefix: str) -> str:
    """The consumer group processors/service.py gives processor ``name``."""
    source = (ROOT / "processors" / "service.py").read_text()
    match = re.search(r'group_id=f"\{prefix\}(\w+-)\{name\}"', source)
    assert match, "processors/service.py no longer spells its group id as expected"
    return f"{prefix}{match.group(1)}{name}"


@pytest.fixture(scope="module")
def dev() -> list[dict[str, Any]]:
    return render()


@pytest.fixture(scope="module")
def prod() -> list[dict[str, Any]]:
    return render(prod=True)


@pytest.mark.parametrize("prod_values", [False, True], ids=["dev", "prod"])
def test_helm_lint(prod_values: bool) -> None:
    result = helm("lint", "--strict", str(CHART), *values_args(prod_values, None))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout


def notify_values(tmp_path: Path, **changes: Any) -> Path:
    path = tmp_path / "notify-values.yaml"
    path.write_text(yaml.safe_dump({"notify": {**NOTIFY_VALUES["notify"], **changes}}))
    return path


@pytest.mark.parametrize(
    ("prod_values", "notify"), [(False, False), (True, False), (True, True)], ids=["dev", "prod", "prod-notify"]
)
def test_rendered_manifests_match_the_kubernetes_and_keda_schemas(
    prod_values: bool, notify: bool, tmp_path: Path
) -> None:
    assert TOOLS is not None
    rendered = tmp_path / "manifests.yaml"
    result = template(prod_values, values=notify_values(tmp_path) if notify else None)
    assert result.returncode == 0, result.stderr
    rendered.write_text(result.stdout)
    locations = [
        f"{TOOLS[key]}/{{{{ .ResourceKind }}}}{{{{ .KindSuffix }}}}.json" for key in ("K8S_SCHEMAS", "KEDA_SCHEMAS")
    ]
    args = [TOOLS["KUBECONFORM"], "-strict", "-verbose", "-output", "json"]
    args += ["-kubernetes-version", TOOLS["KUBERNETES_VERSION"]]
    for location in locations:
        args += ["-schema-location", location]
    check = subprocess.run([*args, str(rendered)], capture_output=True, text=True, check=False, timeout=120)
    report = json.loads(check.stdout)
    statuses = {(r["kind"], r["name"]): r["status"] for r in report["resources"]}
    bad = {(r["kind"], r["name"]): r["msg"] for r in report["resources"] if r["status"] != "statusValid"}
    assert not bad, f"kubeconform: {bad}"
    assert check.returncode == 0, check.stderr
    # Every kind had a schema (a missing one is "skipped", not valid), KEDA's included.
    assert {kind for kind, _ in statuses} >= {"Deployment", "Service", "ScaledObject", "Job"}
    if prod_values:
        assert ("TriggerAuthentication", f"{PREFIX}-kafka") in statuses
    if notify:
        assert {("Deployment", f"{PREFIX}-notify"), ("ConfigMap", f"{PREFIX}-notify")} <= set(statuses)


@pytest.mark.parametrize("profile", ["dev", "prod"])
def test_every_service_is_a_deployment_with_probes_and_limits(profile: str, request: pytest.FixtureRequest) -> None:
    docs: list[dict[str, Any]] = request.getfixturevalue(profile)
    deployments = of_kind(docs, "Deployment")
    assert set(deployments) == {*modalities(), "producer-cameras", "fusion", "projection", "api"}
    compose = compose_commands()
    known_env = settings_env_names() | RUNTIME_ENV
    for name, deployment in deployments.items():
        box = container(deployment)
        assert box["image"] == ("anomaly-detection:production" if profile == "prod" else "anomaly-detection:latest")
        # The same commands as infra/compose; the producer runs every camera of one file in one process.
        expected = compose.get(name, ["produce", "cameras", "--config", "/etc/anomaly/cameras/cameras.yaml"])
        assert box["args"] == expected, name
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert probe in box, f"{name}: no {probe}"
        resources = box["resources"]
        assert set(resources["limits"]) >= {"cpu", "memory"} and set(resources["requests"]) >= {"cpu", "memory"}
        expected_resources = MODEL_RESOURCES if name in MODEL_SERVICES else LIGHT_RESOURCES
        assert resources == expected_resources[profile], name
        unknown = set(env_of(deployment)) - known_env
        assert not unknown, f"{name}: env names the services do not read: {sorted(unknown)}"
    api = container(deployments["api"])
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert api["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
    for name in ("pose", "producer-cameras", "projection"):
        box = container(deployments[name])
        assert box["livenessProbe"]["httpGet"] == {"path": "/metrics", "port": "metrics"}, name
    fusion = deployments["fusion"]
    heartbeat = env_of(fusion)["FUSION_LIVENESS_FILE"]["value"]
    assert heartbeat in container(fusion)["livenessProbe"]["exec"]["command"]
    assert env_of(deployments["producer-cameras"])["METRICS_PORT"]["value"] == "9100"
    assert deployments["producer-cameras"]["spec"]["replicas"] == 1
    assert deployments["producer-cameras"]["spec"]["strategy"]["type"] == "Recreate"
    services = of_kind(docs, "Service")
    assert services["api"]["spec"]["ports"][0]["port"] == 8000
    assert services["metrics"]["spec"]["ports"][0]["targetPort"] == "metrics"


def test_prod_settings_mirror_compose_and_terraform(prod: list[dict[str, Any]]) -> None:
    terraform_prod = (ROOT / "infra" / "terraform" / "examples" / "prod" / "main.tf").read_text()
    rate = re.search(r'FRAME_PROCESSING_RATE\s*=\s*"([\d.]+)"', terraform_prod)
    assert rate
    for name, deployment in of_kind(prod, "Deployment").items():
        env = env_of(deployment)
        assert env["FRAME_PROCESSING_RATE"]["value"] == rate.group(1), name
        assert env["CONSUMER_START"]["value"] == "latest", name
        assert env["FAST_MODE"]["value"] == "true", name
        assert env["TORCH_NUM_THREADS"]["value"] == "4", name
        assert env["KAFKA_SECURITY_PROTOCOL"]["value"] == "SASL_SSL", name
        assert env["KAFKA_SASL_MECHANISM"]["value"] == "SCRAM-SHA-512", name
        assert env["DATABASE_URL"]["value"].endswith("sslmode=require"), name
    api_env = env_of(of_kind(prod, "Deployment")["api"])
    assert api_env["API_WORKERS"]["value"] == "4"
    assert of_kind(prod, "Deployment")["api"]["spec"]["replicas"] == 2


@pytest.mark.parametrize(
    ("profile", "prefix"), [("dev", ""), ("prod", ""), ("dev", "site1.")], ids=["dev", "prod", "topic-prefix"]
)
def test_one_scaled_object_per_processor_on_its_consumer_group(profile: str, prefix: str) -> None:
    docs = render(prod=profile == "prod", sets={"kafka.topicPrefix": prefix} if prefix else None)
    scaled = of_kind(docs, "ScaledObject")
    deployments = of_kind(docs, "Deployment")
    processors = modalities()
    assert set(processors) <= set(scaled)
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    if profile == "prod":
        values["processors"] = {
            name: {**values["processors"][name], **svc}
            for name, svc in yaml.safe_load(PROD_VALUES.read_text())["processors"].items()
        }
    for name, modality in processors.items():
        spec = scaled[name]["spec"]
        assert spec["scaleTargetRef"]["name"] == f"{PREFIX}-{name}"
        (trigger,) = spec["triggers"]
        meta = trigger["metadata"]
        assert trigger["type"] == "kafka"
        assert meta["consumerGroup"] == processor_group(name, prefix)
        assert meta["topic"] == prefix + modality.input_topic
        assert meta["bootstrapServers"] == env_of(deployments[name])["KAFKA_BOOTSTRAP_SERVERS"]["value"]
        assert meta["offsetResetPolicy"] == env_of(deployments[name])["CONSUMER_START"]["value"]
        assert meta["allowIdleConsumers"] == "false"
        wanted = values["processors"][name]["autoscaling"]
        assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (wanted["minReplicas"], wanted["maxReplicas"])
        assert int(meta["lagThreshold"]) == wanted["lagThreshold"]
        # KEDA owns the replica count.
        assert "replicas" not in deployments[name]["spec"]
        if profile == "prod":
            assert (meta["sasl"], meta["tls"]) == ("scram_sha512", "enable")
            assert trigger["authenticationRef"]["name"] == f"{PREFIX}-kafka"
    if profile == "prod":
        auth = of_kind(docs, "TriggerAuthentication")["kafka"]["spec"]
        assert auth["secretTargetRef"] == [
            {
                "parameter": "password",
                "name": PROD_SECRETS["credentials.kafkaSaslPassword.existingSecret"],
                "key": "password",
            }
        ]
        fusion = scaled["fusion"]["spec"]["triggers"][0]["metadata"]
        assert fusion["consumerGroup"] == env_of(deployments["fusion"])["FUSION_GROUP_ID"]["value"]


def test_without_keda_processors_run_fixed_replicas() -> None:
    docs = render(sets={"keda.enabled": "false"})
    assert not of_kind(docs, "ScaledObject")
    for name in modalities():
        assert of_kind(docs, "Deployment")[name]["spec"]["replicas"] == 1


@pytest.mark.parametrize(
    ("setting", "complaint"),
    [
        ("kafka.consumerStart=middle", "value must be one of 'latest', 'earliest'"),
        ("credentials.databasePassword.existingSecrets=db", "additional properties 'existingSecrets' not allowed"),
        ("processors.posture.enabled=true", "invalid propertyName 'posture'"),
        ("kafka.partitions=0", "/kafka/partitions"),
    ],
)
def test_values_schema_refuses_typos_and_impossible_values(setting: str, complaint: str) -> None:
    key, value = setting.split("=", 1)
    assert complaint in fails(sets={key: value})


def test_fusion_replicas_are_capped_at_the_score_topics_partitions() -> None:
    assert "fusion.replicas=7 exceeds kafka.partitions=6" in fails(sets={"fusion.replicas": "7"})
    assert "fusion.autoscaling.maxReplicas=7 exceeds kafka.partitions=6" in fails(
        prod=True, sets={"fusion.autoscaling.maxReplicas": "7"}
    )
    docs = render(sets={"fusion.replicas": "7", "kafka.partitions": "8"})
    fusion = of_kind(docs, "Deployment")["fusion"]
    assert fusion["spec"]["replicas"] == 7
    assert env_of(fusion)["KAFKA_TOPIC_PARTITIONS"]["value"] == "8"


@pytest.mark.parametrize("profile", ["dev", "prod"])
def test_credentials_only_from_secrets(profile: str, request: pytest.FixtureRequest) -> None:
    docs: list[dict[str, Any]] = request.getfixturevalue(profile)
    assert not of_kind(docs, "Secret"), "no Secret unless the user passes credential values"
    for box in all_containers(docs):
        for entry in box.get("env", []):
            if entry["name"] in CREDENTIAL_ENV.values():
                assert "value" not in entry and "secretKeyRef" in entry["valueFrom"], entry
            if entry["name"] == "DATABASE_URL":
                assert urlsplit(entry["value"]).password is None
    if profile == "prod":
        api = env_of(of_kind(docs, "Deployment")["api"])
        assert api["PGPASSWORD"]["valueFrom"]["secretKeyRef"] == {
            "name": PROD_SECRETS["credentials.databasePassword.existingSecret"],
            "key": "password",
        }


def test_credential_values_go_into_a_secret_never_into_the_pods() -> None:
    password = f"pw-{secrets.token_hex(12)}"
    result = template(sets={"credentials.databasePassword.value": password})
    assert result.returncode == 0, result.stderr
    assert password not in result.stdout
    docs = parse(result.stdout)
    secret = of_kind(docs, "Secret")["credentials"]
    assert set(secret["data"]) == {"databasePassword"}
    ref = env_of(of_kind(docs, "Deployment")["projection"])["PGPASSWORD"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": f"{PREFIX}-credentials", "key": "databasePassword"}
    assert "is a credential" in fails(sets={"env.PGPASSWORD": password})


@pytest.mark.parametrize("missing", sorted(PROD_SECRETS))
def test_prod_refuses_to_render_without_each_credential(missing: str) -> None:
    name = missing.split(".")[1]
    sets = {key: ("" if key == missing else value) for key, value in PROD_SECRETS.items()}
    assert f"credentials.{name} is required ({CREDENTIAL_ENV[name]})" in fails(prod=True, sets=sets)


def test_producers_read_their_cameras_file_from_a_secret_or_inline_without_passwords(tmp_path: Path) -> None:
    producer = of_kind(render(), "Deployment")["producer-cameras"]
    volumes = {v["name"]: v for v in producer["spec"]["template"]["spec"]["volumes"]}
    assert volumes["cameras"]["secret"] == {"secretName": "anomaly-cameras"}

    def inline(source: str) -> Path:
        path = tmp_path / "cameras.yaml"
        camera = {"id": "lobby", "source": source}
        path.write_text(
            yaml.safe_dump({"producers": [{"name": "lobby", "resourceProfile": "light", "cameras": [camera]}]})
        )
        return path

    docs = render(values=inline("rtsp://10.0.0.7/stream1"))
    cameras = yaml.safe_load(of_kind(docs, "ConfigMap")["producer-lobby"]["data"]["cameras.yaml"])
    assert cameras == {"cameras": [{"id": "lobby", "source": "rtsp://10.0.0.7/stream1"}]}
    volumes = {
        v["name"]: v for v in of_kind(docs, "Deployment")["producer-lobby"]["spec"]["template"]["spec"]["volumes"]
    }
    assert volumes["cameras"]["configMap"] == {"name": f"{PREFIX}-producer-lobby"}
    message = fails(values=inline("rtsp://admin:hunter2@10.0.0.7/stream1"))
    assert 'camera "lobby" has a password in its source URL' in message


@pytest.mark.parametrize("profile", ["dev", "prod"])
def test_notify_worker_reads_its_routing_from_a_config_map_and_its_secrets_from_secrets(
    profile: str, tmp_path: Path
) -> None:
    assert not {"notify"} & set(of_kind(render(), "Deployment")), "off unless notify.enabled"
    docs = render(prod=profile == "prod", values=notify_values(tmp_path))
    deployment = of_kind(docs, "Deployment")["notify"]
    box = container(deployment)
    env = env_of(deployment)
    assert box["args"] == compose_commands()["notify"]
    assert deployment["spec"]["replicas"] == 1
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert box[probe]["httpGet"] == {"path": "/metrics", "port": "metrics"}, probe
    assert env["NOTIFY_METRICS_PORT"]["value"] == str(box["ports"][0]["containerPort"]) == "9100"
    values = yaml.safe_load((CHART / "values.yaml").read_text())["notify"]
    assert box["resources"] == values["resources"]
    assert (env["NOTIFY_GROUP_ID"]["value"], env["NOTIFY_CONSUMER_START"]["value"]) == ("notify", "latest")
    unknown = set(env) - settings_env_names() - RUNTIME_ENV - set(NOTIFY_VALUES["notify"]["secretEnv"])
    assert not unknown, f"notify: env names the worker does not read: {sorted(unknown)}"
    # The routing file is the ConfigMap's, mounted read-only where NOTIFY_CONFIG points.
    config_map = of_kind(docs, "ConfigMap")["notify"]
    assert yaml.safe_load(config_map["data"]["notify.yaml"]) == NOTIFY_VALUES["notify"]["config"]
    (mount,) = [m for m in box["volumeMounts"] if m["name"] == "notify-config"]
    assert mount["readOnly"] and f"{mount['mountPath']}/notify.yaml" == env["NOTIFY_CONFIG"]["value"]
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["notify-config"]["configMap"] == {"name": f"{PREFIX}-notify"}
    assert "checksum/config" in deployment["spec"]["template"]["metadata"]["annotations"]
    # Target secrets and credentials only by reference.
    assert env["OPS_HOOK_SECRET"]["valueFrom"]["secretKeyRef"] == {"name": "anomaly-notify", "key": "ops-hook-secret"}
    assert "value" not in env["OPS_HOOK_SECRET"]
    if profile == "prod":
        assert env["PGPASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "anomaly-databasepassword"
        assert env["KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "anomaly-kafkasaslpassword"


def test_notify_refuses_written_in_secrets_and_unset_references(tmp_path: Path) -> None:
    (ops, broker) = NOTIFY_VALUES["notify"]["config"]["targets"]
    config = NOTIFY_VALUES["notify"]["config"]
    written = notify_values(tmp_path, config={**config, "targets": [{**ops, "secret": "hunter2"}, broker]})
    assert 'target "ops" has its secret written in' in fails(values=written)
    in_url = notify_values(tmp_path, config={**config, "targets": [ops, {**broker, "url": "mqtts://u:pw@h:8883"}]})
    assert 'target "site-broker" has a password in its URL' in fails(values=in_url)
    assert "refers to ${OPS_HOOK_SECRET}, which nothing sets" in fails(values=notify_values(tmp_path, secretEnv={}))
    assert "notify.config needs its targets" in fails(sets={"notify.enabled": "true"})
