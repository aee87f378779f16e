"""`anomaly eval ...`: detection quality on the project's own labelled sets (logic in the modality's module)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from evaluation.video_eval import VideoEvalRun
    from processors.audio.speech_eval import SpeechEval

app = typer.Typer(help="Detection quality on the project's labelled sets.", no_args_is_help=True)


@app.command("speech")
def speech(
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    chunk_seconds: float = typer.Option(None, help="Chunk length (default AUDIO_CHUNK_SECONDS, as the producer)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="One line per sentence while it runs."),
) -> None:
    """Spoken distress and benign sentences (espeak-ng voices, room noise) through the audio stage and the fusion
    rules: per-intent recall, false alarms on benign sentences, CPU per second of speech."""
    from fusion_app.rules import load_rules
    from processors.audio.speech_eval import evaluate
    from processors.loaders import load_audio
    from processors.settings import ProcessorSettings

    settings = ProcessorSettings()
    model = load_audio(settings)

    def show(r: object) -> None:
        if verbose:
            typer.echo(repr(r), err=True)

    from processors.plugins.audio import utterance_rules

    rules = utterance_rules(settings)
    report = evaluate(
        model, load_rules(), chunk_seconds or settings.audio_chunk_seconds, progress=show, utterance_rules=rules
    )
    if as_json:
        typer.echo(json.dumps(dataclasses.asdict(report), indent=2))
        return
    _print(report)


def _print(report: SpeechEval) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("intent", "sentences", "detected", "right intent", "recall", "false alarms (benign)")
    for row in report.intents:
        table.add_row(
            row.intent,
            str(row.utterances),
            str(row.detected),
            str(row.named),
            f"{row.recall:.0%}",
            str(row.false_alarms),
        )
    table.add_row("all distress", str(report.distress), str(report.detected), "", f"{report.recall:.0%}", "")
    table.add_row("benign", str(report.benign), "", "", "", f"{report.false_alarms} ({report.false_alarm_rate:.0%})")
    console = Console()
    console.print(table)
    console.print(
        f"{report.model}, {report.chunk_seconds:g} s chunks carried into utterances of up to"
        f" {report.max_utterance_seconds:g} s: {report.cpu_seconds} CPU-s for {report.speech_seconds} s"
        f" of speech = {report.cpu_per_speech_second} CPU-s per speech second ({report.wall_seconds} s wall)"
    )
    for r in report.misses:
        console.print(f"missed: {r.text!r} heard {r.transcript!r} (intent {r.intent}, margin {r.margin})")
    for r in report.alarms:
        console.print(f"false alarm: {r.text!r} heard {r.transcript!r}: {r.reason}")


@app.command("video")
def video(
    labels: Annotated[
        Path | None, typer.Option("--set", help="Your own labels YAML (file, expect, span); default: the project's.")
    ] = None,
    build_only: Annotated[bool, typer.Option("--build-only", help="Fetch and build the clips, then stop.")] = False,
    report: Annotated[Path, typer.Option("--report", help="Folder for analyze's report.")] = Path(".stack/eval/video"),
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Labelled clips of real people (registry footage, composites of a real person falling, generated samples)
    through `anomaly analyze` at the deployment defaults: per kind recall, false alarms and time to first alert."""
    from evaluation.footage import FootageError
    from evaluation.video_eval import EvalError, evaluate

    try:
        run = evaluate(labels, report, build_only=build_only, progress=lambda m: typer.echo(m, err=True))
    except (EvalError, FootageError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    if isinstance(run, dict):
        files = {name: str(path) for name, path in run.items()}
        typer.echo(json.dumps(files, indent=2) if as_json else "\n".join(f"{k}: {v}" for k, v in files.items()))
        return
    if as_json:
        typer.echo(json.dumps(dataclasses.asdict(run), indent=2, default=str))
        return
    _print_video(run)


def _print_video(run: VideoEvalRun) -> None:
    from rich.console import Console
    from rich.table import Table

    def secs(v: float | None) -> str:
        return "" if v is None else f"{v:.1f} s"

    ev = run.evaluation
    kinds = Table("kind", "events", "found", "recall", "false alarms", "first alert p50", "first alert max")
    for k in ev.kinds:
        recall = "" if k.recall is None else f"{k.recall:.0%}"
        kinds.add_row(k.kind, str(k.events), str(k.found), recall, str(k.false_alarms),
                      secs(k.first_alert_p50_s), secs(k.first_alert_max_s))  # fmt: skip
    clips = Table("clip", "expected", "found", "anomalies", "false alarms")
    for c in ev.clips:
        found = "not analysed" if not c.analysed else " ".join(
            f"{'yes' if e.found else 'NO'}" + (f" (+{e.first_alert_s:.1f} s)" if e.first_alert_s is not None else "")
            for e in c.events
        )  # fmt: skip
        clips.add_row(c.clip, c.expect, found, "\n".join(c.alerts), ", ".join(c.false_alarms))
    console = Console()
    console.print(kinds)
    console.print(clips)
    for t in ev.targets:
        console.print(f"{'[green]met[/]' if t.met else '[red]MISSED[/]'} {t.name}: {t.value}")
    console.print(f"labels v{ev.labels_version}, ±{ev.tolerance_s:g} s; analyze exit {run.analyze_exit}, "
                  f"{run.wall_s:.0f} s; report {run.report_dir / 'report.html'}")  # fmt: skip
