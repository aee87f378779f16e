"""Speech to text with faster-whisper's CTranslate2 Whisper (int8 on CPU), with language detection.

Whisper's encoder is trained on 30 s windows and faster-whisper always pads to 30 s, so a 2 s camera chunk
pays for 28 s of silence (about 0.4 s CPU for Whisper-tiny). CTranslate2 accepts shorter mel inputs: the
short-context path pads a chunk only to ``context_s`` (5 s by default) and runs encode/generate directly,
about 8x less CPU with the same transcripts on our speech samples (the trick whisper.cpp calls audio_ctx).
``context_s >= 30`` selects faster-whisper's own ``transcribe`` as the reference path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from schemas.records import ModelInfo

SAMPLE_RATE = 16_000
FULL_CONTEXT_S = 30.0
NO_SPEECH_PROB = 0.6
LOGPROB_FLOOR = -1.0


@dataclass(frozen=True, slots=True)
class Transcript:
    text: str
    language: str | None
    language_probability: float


class WhisperTranscriber:
    def __init__(
        self, info: ModelInfo, model_dir: Path, threads: int, language: str | None = None, context_s: float = 5.0
    ) -> None:
        from faster_whisper import WhisperModel

        self.info = info
        self.language = language
        self.context_s = context_s
        self.model = WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=threads, num_workers=1)

    def transcribe(self, samples16k: np.ndarray) -> Transcript:
        samples = np.asarray(samples16k, dtype=np.float32)
        if self.context_s >= FULL_CONTEXT_S or len(samples) > FULL_CONTEXT_S * SAMPLE_RATE:
            return self._reference(samples)
        return self._short_context(samples)

    def _reference(self, samples: np.ndarray) -> Transcript:
        segments, info = self.model.transcribe(
            samples,
            language=self.language,
            beam_size=1,
            temperature=0.0,
            condition_on_previous_text=False,
            without_timestamps=True,
            vad_filter=False,  # the caller's VAD already decided there is speech
        )
        text = " ".join(s.text.strip() for s in segments).strip()
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
        prompt = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
        result = self.model.model.generate(
            encoded,
            [prompt],
            beam_size=1,
            max_length=min(224, 32 + int(len(samples) / SAMPLE_RATE * 12)),
            suppress_blank=True,
            suppress_tokens=get_suppressed_tokens(tokenizer, [-1]),
            return_scores=True,
            return_no_speech_prob=True,
        )[0]
        if result.no_speech_prob > NO_SPEECH_PROB and result.scores[0] < LOGPROB_FLOOR:
            return Transcript(text="", language=language, language_probability=language_prob)
        ids = [t for t in result.sequences_ids[0] if t < tokenizer.eot]
        return Transcript(text=tokenizer.decode(ids).strip(), language=language, language_probability=language_prob)
