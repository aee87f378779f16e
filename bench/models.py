"""``anomaly bench models``: per model ms/item at batch 1 and at the best batch, items/s per core, peak RSS.

Each case runs in a fresh spawned process (its peak RSS is its own, as in a deployment where every processor
is its own process); the measurements themselves are in ``bench.model_cases``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Annotated, Any

import typer

TARGETS = {"pose_ms": 25.0, "clip_b8_ms": 45.0, "whisper_cpu_s_per_s": 0.15, "total_rss_mb": 2500.0}


def _cases() -> list[tuple[str, str, dict[str, Any]]]:
    """(label, case, options); the ONNX export needs the ``onnx`` package, so that row may be skipped."""
    return [
        ("pose", "pose", {}),
        ("clip/torch", "clip", {"backend": "torch"}),
        ("clip/torch-int8", "clip", {"backend": "torch-int8"}),
        ("clip/onnx", "clip", {"backend": "onnx"}),
        ("blip/torch", "blip", {"backend": "torch", "tokens": 20}),
        ("blip/torch-int8", "blip", {"backend": "torch-int8", "tokens": 20}),
        ("whisper/short-context", "whisper", {"context_s": 5.0}),
        ("whisper/reference-30s", "whisper", {"context_s": 30.0}),
    ]


def _cache_dir() -> Path:
    from anomaly_core.settings import StackSettings

    return StackSettings().cache_dir / "bench" / "models"  # ANOMALY_CACHE_DIR, shared by every checkout


def _machine(threads: int) -> dict[str, Any]:
    lines = Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []
    model = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")), platform.processor())
    return {
        "cpus": os.cpu_count(),
        "threads": threads,
        "cpu": model,
        "python": platform.python_version(),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
    }


def _verdict(rows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Headline figures; the four processors' memory is summed per CLIP backend (one process each)."""
    clip_rows = {k.split("/")[1]: v for k, v in rows.items() if k.startswith("clip/") and "by_batch" in v}
    others = [rows[k] for k in ("pose", "blip/torch-int8", "whisper/short-context") if "peak_rss_mb" in rows.get(k, {})]

    def total(key: str) -> dict[str, float]:
        return {name: round(sum(r[key] for r in [*others, row]), 1) for name, row in clip_rows.items()}

    return {
        "targets": TARGETS,
        "pose_ms": rows.get("pose", {}).get("ms_per_item_b1"),
        "clip_b8_ms_by_backend": {name: row["by_batch"]["8"]["ms"] for name, row in clip_rows.items()},
        "whisper_cpu_s_per_s": rows.get("whisper/short-context", {}).get("cpu_s_per_speech_s"),
        "total_peak_rss_mb_by_clip_backend": total("peak_rss_mb"),
        "total_rss_after_mb_by_clip_backend": total("rss_after_mb"),
    }


def run_model_bench(
    threads: int = 2, repeats: int = 5, only: list[str] | None = None, progress: Any = None
) -> dict[str, Any]:
    from bench.model_cases import CLIP_ID, prepare_models, run_case

    result: dict[str, Any] = {"machine": _machine(threads), "models": {}}
    cache_dir = str(_cache_dir())
    has_onnx = importlib.util.find_spec("onnx") is not None
    if progress is not None:
        progress("random full-size checkpoints (saved once, then reused)")
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        pool.submit(prepare_models, cache_dir, threads, has_onnx).result()
    for label, case, case_options in _cases():
        options = {**case_options, "cache_dir": cache_dir}
        if only and label.split("/")[0] not in only and label not in only:
            continue
        exported = any((Path(cache_dir) / CLIP_ID / "onnx").glob("vision-*.onnx"))
        if options.get("backend") == "onnx" and not (has_onnx or exported):
            result["models"][label] = {"case": case, "skipped": "the onnx package is not installed (export needs it)"}
            continue
        if progress is not None:
            progress(label)
        with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
            try:
                result["models"][label] = pool.submit(run_case, case, threads, repeats, options).result()
            except Exception as exc:  # one failing case must not hide the others' numbers
                result["models"][label] = {"case": case, "error": f"{type(exc).__name__}: {exc}"}
    result["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    result["summary"] = _verdict(result["models"])
    return result


def bench_models(
    *,
    threads: Annotated[int, typer.Option(help="Threads per model (torch, ONNX Runtime, CTranslate2).", min=1)] = 2,
    repeats: Annotated[int, typer.Option(help="Timed repetitions per batch size (after one warm-up).", min=1)] = 5,
    only: Annotated[
        list[str] | None, typer.Option(help="Only these cases (pose, clip, blip, whisper, clip/onnx...).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as one JSON object.")] = False,
) -> None:
    """Model processors: ms/item at batch 1 and best batch, items/s per core, peak RSS (full-size models)."""
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=True)
    with console.status("benchmarking models") as status:
        result = run_model_bench(threads, repeats, only, progress=lambda label: status.update(f"benchmarking {label}"))
    if as_json:
        typer.echo(json.dumps(result))
        return
    table = Table("case", "weights", "ms b1", "best b", "ms best", "items/s/core", "peak RSS MB", "note")
    for label, row in result["models"].items():
        if "by_batch" not in row:
            table.add_row(label, "-", "-", "-", "-", "-", "-", row.get("skipped") or row.get("error", ""))
            continue
        note = f"{row['cpu_s_per_speech_s']} CPU s per speech s" if "cpu_s_per_speech_s" in row else ""
        table.add_row(
            label,
            row["weights"].split(" ")[0],
            str(row["ms_per_item_b1"]),
            str(row["best_batch"]),
            str(row["ms_per_item_best"]),
            str(row["items_per_s_per_core"]),
            str(row["peak_rss_mb"]),
            note,
        )
    out = Console()
    out.print(table)
    out.print(json.dumps(result["summary"]))
    out.print(result["machine"])
