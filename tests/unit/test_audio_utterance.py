"""Utterances, not chunks: speech running past a chunk's end is carried into the camera's next chunk and
transcribed whole (energy VAD and a recording fake transcriber: no model needed)."""

from __future__ import annotations

import numpy as np
import pytest

from processors.audio.lexicon import load_lexicon
from processors.audio.score import VadConfig
from processors.audio.transcribe import Transcript
from processors.audio.utterance import Assembler, UtteranceRules
from processors.media import Pcm
from processors.settings import ProcessorSettings

RATE = 16_000
CHUNK_MS = 2000
VAD = VadConfig(energy_dbfs=-50.0, use_silero=False)


class Recorder:
    """Transcribes to the length of what it heard, in seconds."""

    def __init__(self) -> None:
        self.heard: list[float] = []

    def transcribe(self, samples16k: np.ndarray) -> Transcript:
        self.heard.append(len(samples16k) / RATE)
        return Transcript(text=f"heard {len(samples16k) / RATE:.1f}", language="en", language_probability=1.0)


def chunk(*spans: tuple[float, float], seconds: float = 2.0) -> Pcm:
    """Room tone with "speech" (a loud tone) in the given (start, end) spans, in seconds."""
    x = np.random.default_rng(0).normal(0, 1e-4, round(seconds * RATE)).astype(np.float32)
    for start, end in spans:
        t = np.arange(round(start * RATE), round(end * RATE))
        x[t] += 0.3 * np.sin(2 * np.pi * 220 * t / RATE).astype(np.float32)
    return Pcm(x, RATE)


@pytest.fixture
def assembler() -> tuple[Assembler[str], Recorder]:
    recorder = Recorder()
    lexicon = load_lexicon(ProcessorSettings().lexicon_file)
    return Assembler(recorder, lexicon, VAD, None, UtteranceRules(max_utterance_s=8.0, chunk_s=2.0)), recorder


def test_speech_across_a_chunk_end_is_transcribed_once_whole(assembler) -> None:  # type: ignore[no-untyped-def]
    asm, recorder = assembler
    assert asm.push("cam", "a", 0, chunk((1.2, 2.0)), "a") == []  # speech runs on: carried, no score yet
    assert asm.carried_ms("cam") == CHUNK_MS
    (done,) = asm.push("cam", "b", CHUNK_MS, chunk((0.0, 0.9)), "b")
    assert done.tags == ("a", "b") and done.last == "b"
    assert done.start_ms == 0 and done.duration_ms == 2 * CHUNK_MS  # the score covers the utterance
    assert len(recorder.heard) == 1 and recorder.heard[0] > 1.5  # both halves in one transcription
    assert not done.analysis.vad_skipped and asm.carried_ms("cam") == 0


def test_speech_that_ends_inside_its_chunk_is_scored_at_once(assembler) -> None:  # type: ignore[no-untyped-def]
    asm, _ = assembler
    (done,) = asm.push("cam", "a", 0, chunk((0.2, 1.0)), "a")
    assert done.tags == ("a",) and done.duration_ms == CHUNK_MS and not done.analysis.vad_skipped


def test_silence_never_reaches_the_model(assembler) -> None:  # type: ignore[no-untyped-def]
    asm, recorder = assembler
    (done,) = asm.push("cam", "a", 0, chunk(), "a")
    assert done.analysis.vad_skipped and recorder.heard == []


def test_an_utterance_is_bounded(assembler) -> None:  # type: ignore[no-untyped-def]
    asm, recorder = assembler
    outputs = [asm.push("cam", str(i), i * CHUNK_MS, chunk((0.0, 2.0)), str(i)) for i in range(6)]
    emitted = [u for out in outputs for u in out]
    assert emitted and all(u.duration_ms <= 8000 for u in emitted)
    assert max(recorder.heard) <= 8.0 + 1e-6
    assert emitted[0].tags == ("0", "1", "2", "3")


def test_cameras_carry_separately(assembler) -> None:  # type: ignore[no-untyped-def]
    asm, _ = assembler
    assert asm.push("cam-1", "a", 0, chunk((1.5, 2.0)), "a") == []
    (other,) = asm.push("cam-2", "x", 0, chunk(), "x")
    assert other.tags == ("x",)
    (done,) = asm.push("cam-1", "b", CHUNK_MS, chunk(), "b")
    assert done.tags == ("a", "b")


def test_a_gap_ends_the_carried_utterance_first(assembler) -> None:  # type: ignore[no-untyped-def]
    asm, _ = assembler
    assert asm.push("cam", "a", 0, chunk((1.5, 2.0)), "a") == []
    carried, current = asm.push("cam", "c", 3 * CHUNK_MS, chunk((0.2, 0.8)), "c")  # chunk "b" never came
    assert carried.tags == ("a",) and current.tags == ("c",)


def test_a_redelivered_chunk_is_carried_once(assembler) -> None:  # type: ignore[no-untyped-def]
    asm, recorder = assembler
    assert asm.push("cam", "a", 0, chunk((1.5, 2.0)), "a") == []
    assert asm.push("cam", "a", 0, chunk((1.5, 2.0)), "a") == []  # the runtime retried the batch
    assert asm.carried_ms("cam") == CHUNK_MS
    (done,) = asm.push("cam", "b", CHUNK_MS, chunk(), "b")
    assert done.tags == ("a", "b") and recorder.heard[0] <= 4.0


def test_the_last_chunk_of_a_stream_is_not_carried(assembler) -> None:  # type: ignore[no-untyped-def]
    asm, _ = assembler
    (done,) = asm.push("cam", "a", 0, chunk((0.5, 1.3), seconds=1.3), "a")  # shorter than the producer's chunks
    assert done.tags == ("a",) and not done.analysis.vad_skipped


def test_a_model_failure_drops_the_carried_audio(assembler) -> None:  # type: ignore[no-untyped-def]
    asm, recorder = assembler
    assert asm.push("cam", "a", 0, chunk((1.5, 2.0)), "a") == []

    def broken(samples16k: np.ndarray) -> Transcript:
        raise RuntimeError("model failed")

    recorder.transcribe = broken
    with pytest.raises(RuntimeError):
        asm.push("cam", "b", CHUNK_MS, chunk(), "b")
    assert asm.carried_ms("cam") == 0


def test_flush_scores_what_is_carried(assembler) -> None:  # type: ignore[no-untyped-def]
    asm, _ = assembler
    assert asm.flush("cam") is None
    assert asm.push("cam", "a", 0, chunk((1.5, 2.0)), "a") == []
    done = asm.flush("cam")
    assert done is not None and done.tags == ("a",) and asm.carried_ms("cam") == 0


def test_a_scream_without_words_is_flagged(assembler) -> None:  # type: ignore[no-untyped-def]
    asm, _ = assembler
    t = np.arange(2 * RATE) / RATE
    phase = 2 * np.pi * np.cumsum(700 + 80 * np.sin(2 * np.pi * 5 * t)) / RATE
    voice = 0.9 * np.sin(phase) * np.clip((t - 0.2) * 5, 0, 1) * np.clip((1.4 - t) * 5, 0, 1)
    (done,) = asm.push("cam", "a", 0, Pcm(voice.astype(np.float32), RATE), "a")
    assert done.analysis.scream  # the recorder "heard" one word at most: "heard 1.9" has one
