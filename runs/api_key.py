"""A fresh API key for someone watching a run on the dashboard."""

from __future__ import annotations

import json
import os
import subprocess

from anomaly_core.supervisor import anomaly_command


def create_viewer_key(name: str = "demo") -> str:
    """A viewer key valid for one day, made by ``anomaly apikeys create``; the reason when none could be made."""
    done = subprocess.run(
        anomaly_command("apikeys", "create", "--name", name, "--role", "viewer", "--expires-days", "1", "--json"),
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        return f"(could not create one: {(done.stderr or done.stdout).strip()[-200:]})"
    return str(json.loads(done.stdout)["key"])
