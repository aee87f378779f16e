"""Static checks of infra/terraform: fmt, validate, `terraform test` against a mocked AWS provider, checkov.

Nothing is downloaded here. The AWS provider mirror and checkov are prepared by `make infra-tools`
(infra/terraform/scripts/provider-mirror.sh and checkov.sh); when they are missing the affected checks
skip with a reason that says which checks did run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODULE = ROOT / "infra" / "terraform"
SCRIPTS = MODULE / "scripts"
SETTINGS = ROOT / "anomaly_core" / "settings.py"
CACHE = Path(os.environ.get("ANOMALY_CACHE_DIR", Path.home() / ".cache" / "anomaly"))
EXAMPLES = ("examples/dev", "examples/prod")

# Checks that must pass (and never fail) over the whole module; any skip needs a written reason.
REQUIRED_CHECKS = (*(f"CKV_AWS_{n}" for n in (80, 81, 291, 16, 17, 157, 18, 19, 145, 53, 54, 55, 56)), "CKV2_AWS_6")
# Terraform variable -> settings env name whose default it must equal.
RETENTION_DEFAULTS = {
    "video_retention_days": "VIDEO_RETENTION_DAYS",
    "audio_chunk_retention_hours": "AUDIO_CHUNK_RETENTION_HOURS",
    "evidence_retention_days": "EVIDENCE_RETENTION_DAYS",
    "anomaly_frame_limit": "ANOMALY_FRAME_LIMIT",
    "kafka_partitions": "KAFKA_TOPIC_PARTITIONS",
    "pose_frame_rate": "POSE_FRAME_RATE",
    "pose_hold_seconds": "POSE_HOLD_SECONDS",
    "scene_max_interval_seconds": "SCENE_MAX_INTERVAL_SECONDS",
}

TF = shutil.which("terraform") or "terraform"
pytestmark = pytest.mark.skipif(shutil.which("terraform") is None, reason="NOT RUN: terraform CLI is not on PATH")


def run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def provider_ready() -> bool:
    probe = run([str(SCRIPTS / "provider-mirror.sh"), "--check"], MODULE, dict(os.environ), timeout=60)
    return probe.returncode == 0


def checkov_ready() -> bool:
    return run([str(SCRIPTS / "checkov.sh"), "--check"], MODULE, dict(os.environ), timeout=60).returncode == 0


def not_run(what: str) -> str:
    ran = "terraform fmt -check (HCL parse), retention defaults vs settings"
    ran += ", checkov" if checkov_ready() else " (checkov missing too)"
    return (
        f"NOT RUN: {what} - the AWS provider mirror is not in {CACHE}/terraform-providers; "
        f"run `make infra-tools`. Checks that did run: {ran}."
    )


@pytest.fixture(scope="module")
def tf_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    env = dict(os.environ, TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1", TF_INPUT="0")
    config = CACHE / "terraform.rc"
    if not config.is_file():
        # An empty CLI config: no user config leaks in, and no provider can be installed from anywhere.
        config = tmp_path_factory.mktemp("tfcli") / "terraform.rc"
        config.write_text("")
    env["TF_CLI_CONFIG_FILE"] = str(config)
    env.pop("TF_PLUGIN_CACHE_DIR", None)
    return env


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory, tf_env: dict[str, str]) -> Path:
    """A copy of the module, initialised from the local mirror, so the source tree stays clean."""
    if not provider_ready():
        pytest.skip(not_run("terraform init/validate/test"))
    copy = tmp_path_factory.mktemp("tf") / "terraform"
    shutil.copytree(MODULE, copy, ignore=shutil.ignore_patterns(".terraform", ".terraform.lock.hcl", "*.tfstate*"))
    for sub in ("", *EXAMPLES):
        init = run([TF, "init", "-backend=false", "-input=false", "-no-color"], copy / sub, tf_env)
        assert init.returncode == 0, f"terraform init failed in {sub or '.'}:\n{init.stdout}\n{init.stderr}"
    return copy


def hcl_default(variables_tf: str, name: str) -> float:
    block = re.search(rf'variable "{name}" \{{(.*?)\n\}}', variables_tf, re.S)
    assert block, f"variable {name} is not declared"
    default = re.search(r"^\s*default\s*=\s*(\d+(?:\.\d+)?)\s*$", block.group(1), re.M)
    assert default, f"variable {name} has no numeric default"
    return float(default.group(1))


def settings_default(settings_py: str, env_name: str) -> float:
    match = re.search(rf'Field\((\d+(?:\.\d+)?), alias="{env_name}"', settings_py)
    assert match, f"{env_name} has no numeric default in {SETTINGS}"
    return float(match.group(1))


def test_consumer_start_default_matches_app_settings() -> None:
    block = re.search(r'variable "consumer_start" \{(.*?)\n\}', (MODULE / "variables.tf").read_text(), re.S)
    assert block, "variable consumer_start is not declared"
    default = re.search(r'^\s*default\s*=\s*"(\w+)"\s*$', block.group(1), re.M)
    setting = re.search(r'Field\("(\w+)", alias="CONSUMER_START"\)', SETTINGS.read_text())
    assert default and setting and default.group(1) == setting.group(1)
    assert "CONSUMER_START" in (MODULE / "ecs.tf").read_text()


def test_fmt_parses_and_is_canonical(tf_env: dict[str, str]) -> None:
    result = run([TF, "fmt", "-check", "-recursive", "-diff", "-no-color"], MODULE, tf_env)
    assert result.returncode == 0, f"unparsable or unformatted HCL:\n{result.stdout}{result.stderr}"


def test_retention_defaults_match_app_settings() -> None:
    variables_tf = (MODULE / "variables.tf").read_text()
    settings_py = SETTINGS.read_text()
    for variable, env_name in RETENTION_DEFAULTS.items():
        assert hcl_default(variables_tf, variable) == settings_default(settings_py, env_name), variable


@pytest.mark.parametrize("subdir", ["", *EXAMPLES])
def test_validate(workdir: Path, tf_env: dict[str, str], subdir: str) -> None:
    result = run([TF, "validate", "-no-color"], workdir / subdir, tf_env)
    assert result.returncode == 0, f"terraform validate failed in {subdir or '.'}:\n{result.stdout}{result.stderr}"


@pytest.mark.slow
def test_terraform_test_with_mocked_aws(workdir: Path, tf_env: dict[str, str]) -> None:
    result = run([TF, "test", "-no-color"], workdir, tf_env, timeout=900)
    assert result.returncode == 0, f"terraform test failed:\n{result.stdout[-8000:]}\n{result.stderr[-4000:]}"
    assert re.search(r"Success! \d+ passed, 0 failed", result.stdout), result.stdout[-2000:]


def test_checkov_has_no_failures_and_every_skip_has_a_reason(tf_env: dict[str, str]) -> None:
    if not checkov_ready():
        pytest.skip(f"NOT RUN: checkov - not installed in {CACHE}/tools/checkov; run `make infra-tools`.")
    result = run([str(SCRIPTS / "checkov.sh"), "--output", "json"], MODULE, tf_env, timeout=600)
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failed = [c for r in reports for c in r["results"]["failed_checks"]]
    skipped = [c for r in reports for c in r["results"]["skipped_checks"]]
    passed_ids = {c["check_id"] for r in reports for c in r["results"]["passed_checks"]}
    failures = "\n".join(f"{c['check_id']} {c['resource']} {c['file_path']}" for c in failed)
    assert not failed, f"checkov failures:\n{failures}"
    assert all(r["summary"]["parsing_errors"] == 0 for r in reports)
    assert set(REQUIRED_CHECKS) <= passed_ids, f"never evaluated: {sorted(set(REQUIRED_CHECKS) - passed_ids)}"
    reasons = {c["check_id"]: (c["check_result"].get("suppress_comment") or "").strip() for c in skipped}
    unexplained = [check_id for check_id, reason in reasons.items() if len(reason) < 15]
    assert not unexplained, f"skips without a written reason: {unexplained}"
