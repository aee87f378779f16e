"""One `anomaly analyze` run over the generated sample clips (plus two unusable inputs), shared by the e2e tests.

The run goes through the real stack and the real processors that need no downloaded weights (pose, speech);
the samples are generated once into data/samples and reused.
"""

from __future__ import annotations

import json

import pytest

from producers.samples import SampleSet, generate_samples
from tests.e2e.analyze_helpers import ROOT, Analysis, run_analyze

SAMPLES_DIR = ROOT / "data" / "samples"


@pytest.fixture(scope="session")
def samples() -> SampleSet:
    return generate_samples(SAMPLES_DIR)


@pytest.fixture(scope="session")
def analysis(samples: SampleSet, tmp_path_factory: pytest.TempPathFactory) -> Analysis:
    work = tmp_path_factory.mktemp("analyze")
    not_media = work / "notes.mp4"
    not_media.write_text("minutes of the meeting, not a video\n")
    report_dir = work / "report"
    code, output, wall = run_analyze(
        [
            str(samples.fall.path),
            str(samples.benign.path),
            str(samples.silent.path),
            str(not_media),
            str(work / "missing.mp4"),
            "--report",
            str(report_dir),
            "--fail-on",
            "HIGH",
            "--timeout",
            "300",
        ]
    )
    report_json = report_dir / "report.json"
    assert report_json.exists(), output
    return Analysis(code, report_dir, json.loads(report_json.read_text()), output, wall)
