"""Sampling profiles of the pipeline's services while a benchmark step plays (py-spy), and what they say.

``py-spy record`` samples each service for a while and writes its stacks in the collapsed format
(``frame;frame;... count``). ``hot_spots`` ranks the Python functions where the samples end (time inside a C
extension counts for the Python function that called it: ``InferenceSession.run`` shows as the encoder's
``__call__``), and ``by_area`` sums them into areas a reader can act on: models, media decoding, Kafka, Avro,
object storage, the database and the rest.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

#: Module path fragments -> area, first match wins (checked against the file of the innermost frame).
AREAS: tuple[tuple[str, str], ...] = (
    ("onnxruntime", "models"),
    ("mediapipe", "models"),
    ("faster_whisper", "models"),
    ("ctranslate2", "models"),
    ("torch", "models"),
    ("transformers", "models"),
    ("processors/pose", "models"),
    ("processors/clip", "models"),
    ("processors/audio/intent", "models"),
    ("processors/audio/transcribe", "models"),
    ("cv2", "media"),
    ("PIL", "media"),
    ("av/", "media"),
    ("producers/motion", "media"),
    ("imageprep", "media"),
    ("confluent_kafka", "kafka"),
    ("aiokafka", "kafka"),
    ("kafka", "kafka"),
    ("fastavro", "avro"),
    ("avro", "avro"),
    ("serde", "avro"),
    ("minio", "object storage"),
    ("urllib3", "object storage"),
    ("objectstore", "object storage"),
    ("psycopg", "database"),
    ("faust", "faust"),
    ("mode/", "faust"),
    ("fusion_app", "fusion rules"),
)


def py_spy() -> str | None:
    """The py-spy executable of this environment (or of the environment its packages come from), if installed."""
    import sys

    bins = [Path(sys.executable).parent] + [Path(p).parents[2] / "bin" for p in sys.path if p.endswith("site-packages")]
    found = next((b / "py-spy" for b in bins if (b / "py-spy").is_file()), None)
    return str(found) if found is not None else shutil.which("py-spy")


def start(pids: Mapping[str, int], out_dir: Path, seconds: int) -> dict[str, subprocess.Popen[bytes]]:
    """Starts one ``py-spy record`` per service (raw collapsed stacks into ``out_dir/<name>.txt``)."""
    exe = py_spy()
    if exe is None:
        return {}
    out_dir.mkdir(parents=True, exist_ok=True)
    procs = {}
    for name, pid in pids.items():
        argv = [exe, "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "50", "--format", "raw"]
        argv += ["--output", str(out_dir / f"{name}.txt"), "--nonblocking"]
        procs[name] = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return procs


def finish(procs: Mapping[str, subprocess.Popen[bytes]], timeout_s: float = 60.0) -> None:
    for proc in procs.values():
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()


def leaf_counts(lines: Iterable[str]) -> Counter[str]:
    """Samples per innermost Python frame, from collapsed stacks. Pure."""
    out: Counter[str] = Counter()
    for line in lines:
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        out[stack.rsplit(";", 1)[-1]] += int(count)
    return out


#: Innermost frames that are a thread waiting (py-spy cannot always tell a blocked C call from a busy one): a
#: consumer's ``consume`` called straight from the runtime loop, condition and event waits, the selector, the
#: Faust worker's event loop itself. They are left out of the shares.
WAITING: tuple[str, ...] = (
    "_Service.run (anomaly_core/runtime.py",
    "Condition.wait (",
    "Event.wait (",
    "select (selectors.py",
    "execute_from_commandline (mode/worker.py",
    "_start_thread (mode/threads.py",
    "_worker (concurrent/futures/thread.py",
)


def busy(leaves: Counter[str]) -> Counter[str]:
    """The samples of threads doing something. Pure."""
    return Counter({frame: n for frame, n in leaves.items() if not frame.startswith(WAITING)})


def area_of(frame: str) -> str:
    """The area of a frame such as ``run (onnxruntime/capi/session.py:220)``. Pure."""
    where = frame[frame.find("(") + 1 :] if "(" in frame else frame
    return next((area for fragment, area in AREAS if fragment in where), "other")


def by_area(leaves: Counter[str]) -> dict[str, float]:
    """Share of the busy samples per area, largest first. Pure."""
    working = busy(leaves)
    total = sum(working.values())
    if not total:
        return {}
    areas: Counter[str] = Counter()
    for frame, count in working.items():
        areas[area_of(frame)] += count
    return {area: round(count / total, 3) for area, count in areas.most_common()}


def hot_spots(leaves: Counter[str], top: int = 5) -> list[tuple[str, float]]:
    working = busy(leaves)
    total = sum(working.values())
    return [(frame, round(count / total, 3)) for frame, count in working.most_common(top)] if total else []


def summarize(out_dir: Path) -> dict[str, dict[str, object]]:
    """Per profiled service: its samples, share per area and top functions."""
    summary: dict[str, dict[str, object]] = {}
    for path in sorted(out_dir.glob("*.txt")):
        leaves = leaf_counts(path.read_text(errors="replace").splitlines())
        summary[path.stem] = {
            "samples": sum(leaves.values()),
            "busy_samples": sum(busy(leaves).values()),
            "areas": by_area(leaves),
            "top": hot_spots(leaves),
        }
    return summary
