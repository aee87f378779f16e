"""``anomaly eval speech``: the labelled spoken set (speech_eval.yaml) through the audio stage and the fusion rules.

Each sentence is spoken by espeak-ng with one of several voices, speeds and pitches (short shouted commands are
fast, high and clipped), laid over room noise at one of two levels at a varying offset, cut into the producer's
chunks (AUDIO_CHUNK_SECONDS), and the chunks are pushed in order through the processor's own utterance assembler
(processors/audio/utterance.py: VAD, carry-over of speech across chunk ends, Whisper, lexicon, intent), exactly as
the audio processor does for one camera. The scores' observations then go through the fusion's ``fuse`` with the
deployed rules: a sentence is detected when the window alerts. CPU time of the audio stage is measured per second
of speech.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import yaml

from fusion_app.fuse import fuse
from fusion_app.rules import Rules
from fusion_app.window import AudioObs, IntentHit, PhraseHit, Window
from processors.audio.intent import IntentSet
from processors.audio.lexicon import normalize
from processors.audio.score import AudioAnalysis
from processors.audio.utterance import Assembler, UtteranceRules
from processors.media import Pcm, decode_wav
from schemas.records import LineageEntry, ModelInfo, ObjectRef

if TYPE_CHECKING:
    from processors.loaders import AudioModel

EVAL_SET = Path(__file__).with_name("speech_eval.yaml")
RATE = 16_000
VOICES = ("en-us", "en-gb", "en-us+f3", "en-gb-scotland", "en-us+m3", "en-029", "en-gb-x-rp+f2")
SPEEDS = (130, 155, 180)
PITCHES = (40, 50, 65)
NOISE_DBFS = (-45.0, -30.0)  # RMS of the room tone: a quiet room, a busy one (speech peaks at -10 dBFS)
SPEECH_PEAK_DBFS = -10.0
SHOUT_GAIN = 2.5  # a shout is clipped: peaks pushed past full scale


@dataclass(frozen=True, slots=True)
class Utterance:
    text: str
    intent: str | None  # None: benign
    shout: bool = False


@dataclass(frozen=True, slots=True)
class Rendering:
    voice: str
    words_per_minute: int
    pitch: int
    noise_dbfs: float
    lead_s: float


@dataclass(frozen=True, slots=True)
class UtteranceResult:
    text: str
    expected: str | None
    rendering: Rendering
    transcript: str
    alert: bool
    kinds: list[str]
    intent: str | None  # the intent of the best-margin chunk
    margin: float | None
    reason: str


@dataclass(frozen=True, slots=True)
class IntentRow:
    intent: str
    utterances: int
    detected: int
    named: int  # detected with the right intent named
    recall: float
    false_alarms: int  # benign sentences that raised an alert naming this intent


@dataclass(frozen=True, slots=True)
class SpeechEval:
    set_version: str
    model: str
    chunk_seconds: float
    intents: list[IntentRow]
    distress: int
    detected: int
    recall: float
    benign: int
    false_alarms: int
    false_alarm_rate: float
    speech_seconds: float
    cpu_seconds: float
    cpu_per_speech_second: float
    wall_seconds: float
    max_utterance_seconds: float = 0.0  # speech carried across chunk ends up to this length (0: chunks alone)
    misses: list[UtteranceResult] = field(default_factory=list)
    alarms: list[UtteranceResult] = field(default_factory=list)
    results: list[UtteranceResult] = field(default_factory=list)


def load_set(path: Path = EVAL_SET) -> tuple[str, list[Utterance]]:
    doc = yaml.safe_load(path.read_text())
    items = [Utterance(str(d["text"]), str(d["intent"]), bool(d.get("shout", False))) for d in doc["distress"]]
    items += [Utterance(str(text), None) for text in doc["benign"]]
    return str(doc["version"]), items


def leaked(utterances: list[Utterance], intents: IntentSet) -> list[str]:
    """Eval sentences that are also intent or benign examples (the set must stay held out)."""
    examples = {normalize(e) for i in intents.intents for e in i.examples} | {normalize(b) for b in intents.benign}
    return [u.text for u in utterances if normalize(u.text) in examples]


def rendering(index: int, utterance: Utterance) -> Rendering:
    """Voice, speed, pitch, noise and offset vary with the index, so every intent meets several of each."""
    if utterance.shout:
        return Rendering(VOICES[index % len(VOICES)], 190, 80, NOISE_DBFS[index % 2], 0.3 + 0.35 * (index % 4))
    return Rendering(
        voice=VOICES[index % len(VOICES)],
        words_per_minute=SPEEDS[(index // 2) % len(SPEEDS)],
        pitch=PITCHES[(index // 3) % len(PITCHES)],
        noise_dbfs=NOISE_DBFS[index % 2],
        lead_s=0.3 + 0.35 * (index % 4),
    )


def synthesize(text: str, r: Rendering, shout: bool) -> np.ndarray:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError("espeak-ng is not installed (scripts/bootstrap-system.sh installs it)")
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "s.wav"
        args = [exe, "-v", r.voice, "-s", str(r.words_per_minute), "-p", str(r.pitch), "-w", str(wav), text]
        subprocess.run(args, check=True, capture_output=True, timeout=60)
        pcm = decode_wav(wav.read_bytes(), max_seconds=60)
    x = np.interp(
        np.arange(round(len(pcm.samples) * RATE / pcm.sample_rate)) * pcm.sample_rate / RATE,
        np.arange(len(pcm.samples)),
        pcm.samples,
    )
    x = x / (float(np.max(np.abs(x))) or 1.0) * 10 ** (SPEECH_PEAK_DBFS / 20)
    return x * (SHOUT_GAIN * 10 ** (-SPEECH_PEAK_DBFS / 20) if shout else 1.0)


def room_noise(seconds: float, level_dbfs: float, seed: int) -> np.ndarray:
    """Brown-ish noise with a faint mains hum at an RMS level."""
    rng = np.random.default_rng(seed)
    n = round(seconds * RATE)
    brown = np.cumsum(rng.normal(0.0, 1.0, n))
    brown -= np.convolve(brown, np.ones(512) / 512, mode="same")
    noise = brown / (float(np.max(np.abs(brown))) or 1.0) + 0.2 * np.sin(2 * np.pi * 50 * np.arange(n) / RATE)
    return noise / (float(np.sqrt(np.mean(noise**2))) or 1.0) * 10 ** (level_dbfs / 20)


def scene(speech: np.ndarray, r: Rendering, seed: int, tail_s: float = 0.8) -> np.ndarray:
    """Speech over room noise, quantised to 16 bits as the producer sends it."""
    lead = round(r.lead_s * RATE)
    total = lead + len(speech) + round(tail_s * RATE)
    mixed = room_noise(total / RATE, r.noise_dbfs, seed)
    mixed[lead : lead + len(speech)] += speech
    return np.round(np.clip(mixed, -1.0, 1.0) * 32767).astype(np.int16).astype(np.float32) / 32768.0


def _obs(analysis: AudioAnalysis, t_ms: int, duration_ms: int) -> AudioObs:
    ref = ObjectRef("eval", f"chunk-{t_ms}", "0" * 64, 0, "audio/wav")
    source = LineageEntry("eval", "audio", "eval", 0, t_ms, ModelInfo("eval", "eval"))
    m = analysis.intent
    intent = (
        None
        if m is None
        else IntentHit(m.intent, m.category, m.score, m.margin, m.example, m.benign_example, m.segment)
    )
    return AudioObs(
        t_ms=t_ms,
        duration_ms=duration_ms,
        phrases=tuple(PhraseHit(p.phrase, p.category, p.score) for p in analysis.matched_phrases),
        transcript=analysis.transcript,
        loudness_dbfs=analysis.loudness.rms_dbfs,
        sudden_loudness=analysis.loudness.sudden,
        audio=ref,
        source=source,
        intent=intent,
        scream=analysis.scream,
    )


def evaluate(
    model: AudioModel,
    rules: Rules,
    chunk_seconds: float = 2.0,
    eval_set: Path = EVAL_SET,
    progress: Callable[[UtteranceResult], None] | None = None,
    *,
    utterance_rules: UtteranceRules | None = None,
) -> SpeechEval:
    version, utterances = load_set(eval_set)
    bad = leaked(utterances, model.intents.intents)
    if bad:
        raise ValueError(f"eval sentences copied into the intents file (not held out): {bad}")
    chunk = round(chunk_seconds * RATE)
    carry = dataclasses.replace(utterance_rules or UtteranceRules(), chunk_s=chunk_seconds)
    assembler: Assembler[int] = Assembler(model.transcriber, model.lexicon, model.vad, model.intents, carry)
    results: list[UtteranceResult] = []
    cpu = speech_s = 0.0
    wall = time.perf_counter()
    for i, u in enumerate(utterances):
        r = rendering(i, u)
        speech = synthesize(u.text, r, u.shout)
        speech_s += len(speech) / RATE
        audio = scene(speech, r, seed=i)
        observations = []
        started = time.process_time()
        for start in range(0, len(audio), chunk):
            part = audio[start : start + chunk]
            scored = assembler.push("eval", f"{i}-{start}", start * 1000 // RATE, Pcm(part, RATE), start)
            observations += [_obs(u.analysis, u.start_ms, u.duration_ms) for u in scored]
        rest = assembler.flush("eval")  # only when the last chunk had the producer's length and speech ran on
        if rest is not None:
            observations.append(_obs(rest.analysis, rest.start_ms, rest.duration_ms))
        cpu += time.process_time() - started
        end_ms = len(audio) * 1000 // RATE + 1
        decision = fuse(Window("eval", 0, end_ms, audio=tuple(observations)), rules)
        hits = [o.intent for o in observations if o.intent is not None]
        top = max(hits, key=lambda h: h.margin, default=None)
        result = UtteranceResult(
            text=u.text,
            expected=u.intent,
            rendering=r,
            transcript=" | ".join(o.transcript for o in observations if o.transcript),
            alert=decision.alert,
            kinds=[k.value for k in decision.kinds] if decision.alert else [],
            intent=top.intent if top else None,
            margin=top.margin if top else None,
            reason=decision.reasons[0].text if decision.alert and decision.reasons else "",
        )
        results.append(result)
        if progress is not None:
            progress(result)
    wall = time.perf_counter() - wall
    report = _summarise(version, model.info.name, chunk_seconds, results, speech_s=speech_s, cpu=cpu, wall=wall)
    return dataclasses.replace(report, max_utterance_seconds=carry.max_utterance_s)


def _summarise(
    version: str,
    model: str,
    chunk_s: float,
    results: list[UtteranceResult],
    *,
    speech_s: float,
    cpu: float,
    wall: float,
) -> SpeechEval:
    distress = [r for r in results if r.expected is not None]
    benign = [r for r in results if r.expected is None]
    rows = []
    for name in dict.fromkeys(r.expected for r in distress if r.expected is not None):
        mine = [r for r in distress if r.expected == name]
        found = [r for r in mine if r.alert]
        rows.append(
            IntentRow(
                intent=name,
                utterances=len(mine),
                detected=len(found),
                named=sum(1 for r in found if r.intent == name),
                recall=round(len(found) / len(mine), 3),
                false_alarms=sum(1 for r in benign if r.alert and r.intent == name),
            )
        )
    detected = sum(1 for r in distress if r.alert)
    alarms = [r for r in benign if r.alert]
    return SpeechEval(
        set_version=version,
        model=model,
        chunk_seconds=chunk_s,
        intents=rows,
        distress=len(distress),
        detected=detected,
        recall=round(detected / len(distress), 3) if distress else 0.0,
        benign=len(benign),
        false_alarms=len(alarms),
        false_alarm_rate=round(len(alarms) / len(benign), 3) if benign else 0.0,
        speech_seconds=round(speech_s, 1),
        cpu_seconds=round(cpu, 1),
        cpu_per_speech_second=round(cpu / speech_s, 3) if speech_s else 0.0,
        wall_seconds=round(wall, 1),
        misses=[r for r in distress if not r.alert],
        alarms=alarms,
        results=results,
    )
