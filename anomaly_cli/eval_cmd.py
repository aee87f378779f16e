"""`anomaly eval ...`: detection quality on the project's own labelled sets (logic in the modality's module)."""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
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

    report = evaluate(model, load_rules(), chunk_seconds or settings.audio_chunk_seconds, progress=show)
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
        f"{report.model}, {report.chunk_seconds:g} s chunks: {report.cpu_seconds} CPU-s for {report.speech_seconds} s"
        f" of speech = {report.cpu_per_speech_second} CPU-s per speech second ({report.wall_seconds} s wall)"
    )
    for r in report.misses:
        console.print(f"missed: {r.text!r} heard {r.transcript!r} (intent {r.intent}, margin {r.margin})")
    for r in report.alarms:
        console.print(f"false alarm: {r.text!r} heard {r.transcript!r}: {r.reason}")
