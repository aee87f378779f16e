"""Speech to text with faster-whisper's CTranslate2 Whisper (int8 on CPU), with language detection.

Whisper's encoder is trained on 30 s windows and faster-whisper always pads to 30 s, so a 2 s camera chunk
pays for 28 s of silence (about 0.4 s CPU for Whisper-tiny). CTranslate2 accepts shorter mel inputs: the
short-context path pads a chunk only to ``context_s`` (5 s by default) and runs encode/generate directly,
about 8x less CPU with the same transcripts on our speech samples (the trick whisper.cpp calls audio_ctx).
``context_s >= 30`` selects faster-whisper's own ``transcribe`` as the reference path.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from processors.device import DeviceSetting, ctranslate2_device, whisper_compute
from schemas.records import ModelInfo

SAMPLE_RATE = 16_000
FULL_CONTEXT_S = 30.0
NO_SPEECH_PROB = 0.6
# The chunk reaching Whisper already passed the VAD: a short shout in noise often gets no-speech ≈ 0.6 with a
# correct transcript, so only a clearer "silence" verdict drops it.
NO_SPEECH_PROB_AFTER_VAD = 0.8
LOGPROB_FLOOR = -1.0
COMPRESSION_RATIO_MAX = 2.4
# faster-whisper tries 0.0-1.0 in steps of 0.2; three steps keep the audio stage within its CPU budget.
TEMPERATURES = (0.0, 0.3, 0.6)
SAMPLING_SEED = 1234
#: Whisper's initial prompt (read as the text said just before): distress vocabulary, so a mis-heard emergency word
#: is more likely heard right. Generic words, never sentences of the eval set; measured in docs/detection.md (tiny.en:
#: recall 64 % -> 83 %, false alarms 1 -> 2 of 36; base: many more false alarms, it writes the prompt's words).
DISTRESS_PROMPT = (
    "Help! Call the police or an ambulance. Fire and smoke. A gun, a knife, a weapon. Someone fell down, is"
    " bleeding, not breathing. Stop hitting her. An intruder broke in."
)


@dataclass(frozen=True, slots=True)
class Transcript:
    text: str
    language: str | None
    language_probability: float


class WhisperTranscriber:
    def __init__(
        self,
        info: ModelInfo,
        model_dir: Path,
        threads: int,
        language: str | None = None,
        context_s: float = 5.0,
        *,
        initial_prompt: str | None = None,
        beam_size: int = 1,
        device: DeviceSetting = "cpu",
    ) -> None:
        from faster_whisper import WhisperModel

        self.info = info
        self.language = language
        self.context_s = context_s
        self.initial_prompt = initial_prompt or None
        self.beam_size = beam_size
        where, compute = whisper_compute(ctranslate2_device(device))
        self.model = WhisperModel(
            str(model_dir), device=where, compute_type=compute, cpu_threads=threads, num_workers=1
        )

    def transcribe(self, samples16k: np.ndarray) -> Transcript:
        samples = np.asarray(samples16k, dtype=np.float32)
        if self.context_s >= FULL_CONTEXT_S or len(samples) > FULL_CONTEXT_S * SAMPLE_RATE:
            return self._reference(samples)
        return self._short_context(samples)

    def _reference(self, samples: np.ndarray) -> Transcript:
        segments, info = self.model.transcribe(
            samples,
            language=self.language,
            beam_size=self.beam_size,
            initial_prompt=self.initial_prompt,
            temperature=list(TEMPERATURES),  # fallback while the text loops or is improbable
            compression_ratio_threshold=COMPRESSION_RATIO_MAX,
            log_prob_threshold=LOGPROB_FLOOR,
            no_speech_threshold=NO_SPEECH_PROB,
            condition_on_previous_text=False,
            without_timestamps=True,
            vad_filter=False,  # the caller's VAD already decided there is speech
        )
        text = collapse_repeats(" ".join(s.text.strip() for s in segments).strip())
        return Transcript(text=text, language=info.language, language_probability=float(info.language_probability))

    def _detect_language(self, encoded: Any) -> tuple[str, float]:
        if not self.model.model.is_multilingual:
            return "en", 1.0
        if self.language:
            return self.language, 1.0
        token, prob = self.model.model.detect_language(encoded)[0][0]
        return token[2:-2], float(prob)  # "<|de|>" -> "de"

    def _short_context(self, samples: np.ndarray) -> Transcript:
        import ctranslate2
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        target = max(len(samples), int(self.context_s * SAMPLE_RATE))
        mel = self.model.feature_extractor(np.pad(samples, (0, target - len(samples))))
        mel = mel[:, : mel.shape[1] - mel.shape[1] % 2]  # the encoder's stride-2 convolution wants an even length
        encoded = self.model.model.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(mel[None])))
        language, language_prob = self._detect_language(encoded)
        tokenizer = Tokenizer(
            self.model.hf_tokenizer, self.model.model.is_multilingual, task="transcribe", language=language
        )
        # An initial prompt goes before the start of transcript as "previous text", as faster-whisper does.
        previous = tokenizer.encode(" " + self.initial_prompt.strip())[-111:] if self.initial_prompt else []
        prompt = [*([tokenizer.sot_prev, *previous] if previous else []), *tokenizer.sot_sequence,
                  tokenizer.no_timestamps]  # fmt: skip
        suppressed = get_suppressed_tokens(tokenizer, [-1])
        max_length = min(224, 32 + int(len(samples) / SAMPLE_RATE * 12))

        def decode(temperature: float) -> Candidate:
            # The encoder output is reused: a fallback costs one more decoder pass, not a second encode.
            # A fixed seed keeps sampling reproducible: a replayed chunk must give the same transcript.
            ctranslate2.set_random_seed(SAMPLING_SEED)
            result = self.model.model.generate(
                encoded,
                [prompt],
                beam_size=self.beam_size if temperature == 0 else 1,
                max_length=max_length,
                sampling_temperature=max(temperature, 1.0) if temperature == 0 else temperature,
                sampling_topk=1 if temperature == 0 else 0,
                suppress_blank=True,
                suppress_tokens=suppressed,
                return_scores=True,
                return_no_speech_prob=True,
            )[0]
            text = tokenizer.decode([t for t in result.sequences_ids[0] if t < tokenizer.eot]).strip()
            return Candidate(text, float(result.scores[0]), float(result.no_speech_prob), temperature)

        best = decode_with_fallback(decode)
        if best.no_speech_prob > NO_SPEECH_PROB_AFTER_VAD and best.avg_logprob < LOGPROB_FLOOR:
            return Transcript(text="", language=language, language_probability=language_prob)
        return Transcript(text=collapse_repeats(best.text), language=language, language_probability=language_prob)


@dataclass(frozen=True, slots=True)
class Candidate:
    text: str
    avg_logprob: float  # CTranslate2's length-normalised score
    no_speech_prob: float
    temperature: float

    @property
    def compression_ratio(self) -> float:
        return compression_ratio(self.text)

    def needs_fallback(self) -> bool:
        return self.compression_ratio > COMPRESSION_RATIO_MAX or self.avg_logprob < LOGPROB_FLOOR


def compression_ratio(text: str) -> float:
    """Whisper's loop detector: repetitive text compresses well (a loop of one word scores far above 2.4)."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def decode_with_fallback(decode: Callable[[float], Candidate]) -> Candidate:
    """faster-whisper's safeguard: greedy first, sampling at rising temperatures while the text loops (compression
    ratio) or is improbable (log-prob); if none passes, the most probable non-looping one. The no-speech rule is
    applied by the caller to the result, with a higher bar because its VAD already found speech."""
    tried: list[Candidate] = []
    for temperature in TEMPERATURES:
        candidate = decode(temperature)
        tried.append(candidate)
        if not candidate.needs_fallback():
            return candidate
    readable = [c for c in tried if c.compression_ratio <= COMPRESSION_RATIO_MAX] or tried
    return max(readable, key=lambda c: c.avg_logprob)


_WORD = re.compile(r"\S+")


def collapse_repeats(text: str, max_repeats: int = 2, max_span: int = 12, clause_words: int = 4) -> str:
    """A decoding loop, undone: a phrase repeated back to back more than ``max_repeats`` times is kept
    ``max_repeats`` times ("help me, help me, help me, help me" -> "help me, help me"); a clause of
    ``clause_words`` words or more said twice in a row is kept once (people repeat a call, Whisper repeats a
    sentence), and a loop cut off by the length limit loses its unfinished last repetition."""
    words = _WORD.findall(text)
    key = [w.lower().strip(".,!?;:") for w in words]
    out: list[str] = []
    i = 0
    while i < len(words):
        collapsed = False
        for span in range(1, max_span + 1):
            unit = key[i : i + span]
            if len(unit) < span:
                break
            n = 1
            while key[i + n * span : i + (n + 1) * span] == unit:
                n += 1
            limit = 1 if span >= clause_words else max_repeats
            if n > limit:
                out.extend(words[i : i + span * limit])
                i += span * n
                tail = key[i:]
                if 2 <= len(tail) < span and tail == unit[: len(tail)]:
                    i = len(words)  # "... the remote again. The kid has fought over" (cut off mid-loop)
                collapsed = True
                break
        if not collapsed:
            out.append(words[i])
            i += 1
    return " ".join(out)
