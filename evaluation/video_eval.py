"""`anomaly eval video`: build (or reuse) the labelled set, run it through `anomaly analyze` at the deployment
defaults, score the report. The command in ``anomaly_cli.eval_cmd`` only parses options and prints.

``analyze`` runs as a subprocess of the same CLI with the caller's environment untouched: no private frame rate,
so the numbers are those of a deployment (FRAME_PROCESSING_RATE=1, the motion gate's pose rate) unless the caller
sets otherwise on purpose.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from evaluation.labels import PROJECT_SET, LabelError, LabelSet, load_labels, resolve
from evaluation.scoring import Evaluation, LyingRule, alerts_from_report, score

#: Where the project's composites and samples are built (per user, next to the footage cache).
ANALYZE_TIMEOUT_S = 3600
#: analyze exit codes after which report.json holds a usable (possibly partial) report.
_REPORTED = {0, 3, 4, 5}

Progress = Callable[[str], None]


class EvalError(Exception):
    """The evaluation could not run (set unusable, analyze failed before writing a report)."""


@dataclass(frozen=True, slots=True)
class VideoEvalRun:
    evaluation: Evaluation
    report_dir: Path
    analyze_exit: int
    wall_s: float
    clips: dict[str, str]  # clip name -> file analysed


def set_dir() -> Path:
    from evaluation.footage import default_cache

    return default_cache().parent / "eval-video"


def prepare(labels: LabelSet, *, project_set: bool, progress: Progress) -> dict[str, Path]:
    """Clip name -> file, building the project's composites and samples first (reused when up to date)."""
    built: dict[str, Path] = {}
    if project_set:
        from evaluation.composite import build_set
        from processors.models import require
        from processors.settings import ProcessorSettings
        from producers.samples import generate_samples

        pose = require(ProcessorSettings(), "pose")
        assert pose.path is not None
        built = build_set(set_dir() / "composites", pose.path, progress)
        progress("generated samples (producers/samples.py)")
        samples = generate_samples(set_dir() / "samples")
        built.update({clip.name: clip.path for clip in samples.clips})
    files = {clip.name: resolve(clip, labels.base, built) for clip in labels.clips}
    missing = [f"{name}: {path}" for name, path in files.items() if not path.is_file()]
    if missing:
        raise EvalError("clips not found: " + "; ".join(missing))
    return files


def run_analyze(files: dict[str, Path], report_dir: Path) -> int:
    """``anomaly analyze`` over every clip (camera id = clip name); its progress goes to our stderr."""
    command = [sys.executable, "-m", "anomaly_cli.main", "analyze", *(str(p) for p in files.values())]
    for name in files:
        command += ["--camera-id", name]
    command += ["--report", str(report_dir), "--timeout", str(ANALYZE_TIMEOUT_S)]
    try:
        # stdout too: analyze prints its summary there only with --json, which we do not pass.
        return subprocess.run(command, stdout=sys.stderr, check=False).returncode
    except OSError as exc:
        raise EvalError(f"could not start anomaly analyze: {exc}") from exc


def evaluate(
    labels_file: Path | None, report_dir: Path, *, build_only: bool, progress: Progress
) -> VideoEvalRun | dict[str, Path]:
    """The scored run, or only the set's files with ``build_only``."""
    try:
        labels = load_labels(labels_file)
        files = prepare(labels, project_set=labels_file is None or labels_file == PROJECT_SET, progress=progress)
    except LabelError as exc:
        raise EvalError(str(exc)) from exc
    if build_only:
        return files
    progress(f"analysing {len(files)} clips with anomaly analyze (report in {report_dir})")
    t0 = time.monotonic()
    code = run_analyze(files, report_dir)
    wall = time.monotonic() - t0
    report_file = report_dir / "report.json"
    if code not in _REPORTED or not report_file.is_file():
        raise EvalError(f"anomaly analyze exited with {code} and wrote no report (see its messages above)")
    report = json.loads(report_file.read_text(encoding="utf-8"))
    return VideoEvalRun(
        evaluation=score(labels, alerts_from_report(report, _lying_rule())),
        report_dir=report_dir,
        analyze_exit=code,
        wall_s=round(wall, 1),
        clips={name: str(path) for name, path in files.items()},
    )


def _lying_rule() -> LyingRule:
    from fusion_app.rules import load_rules

    pose = load_rules().pose
    return LyingRule(
        lying_deg=pose.horizontal_deg,
        fall_persist_s=pose.fall_persist_ms / 1000,
        down_persist_s=pose.person_down_persist_ms / 1000,
    )
