"""Model loaders: the single code path from MODEL_CACHE_DIR to a ready model, shared by the processors,
``anomaly models verify``, the benchmark and the tests (which save random checkpoints and load them here).
CLIP has its own module (``processors.clip_loader``)."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from processors.audio.intent import IntentIndex, MiniLmEmbedder, load_intents
from processors.audio.lexicon import Lexicon, load_lexicon
from processors.audio.score import VadConfig
from processors.audio.transcribe import WhisperTranscriber
from processors.caption import BlipCaptioner
from processors.device import torch_device
from processors.imageprep import PixelSpec
from processors.models import require, weights_version
from processors.pose import PoseLandmarker
from processors.quant import quantize_linear
from processors.settings import ProcessorSettings
from schemas.records import ModelInfo

log = logging.getLogger(__name__)


def _torch_threads(settings: ProcessorSettings) -> None:
    import torch

    torch.set_num_threads(settings.torch_num_threads)


def load_pose(settings: ProcessorSettings) -> PoseLandmarker:
    entry = require(settings, "pose")
    assert entry.weights is not None and entry.path is not None
    return PoseLandmarker(
        ModelInfo(name=entry.model_id, version=weights_version(entry.weights)),
        entry.path,
        max_people=settings.pose_max_people,
        max_side=settings.pose_max_side,
        min_confidence=settings.pose_min_confidence,
    )


def load_blip(settings: ProcessorSettings) -> BlipCaptioner:
    entry = require(settings, "blip")
    assert entry.path is not None and entry.weights is not None
    _torch_threads(settings)
    from transformers import BlipForConditionalGeneration, BlipProcessor

    processor = BlipProcessor.from_pretrained(entry.path)
    model = BlipForConditionalGeneration.from_pretrained(entry.path).eval()
    device = "cpu"
    if settings.caption_backend == "torch-int8":
        model = quantize_linear(model)  # dynamic int8 runs on the CPU only
    else:
        device = torch_device(settings.device)
        model = model.to(device)
    return BlipCaptioner(
        info=ModelInfo(name=entry.model_id, version=f"{weights_version(entry.weights)}+{settings.caption_backend}"),
        model=model,
        tokenizer=processor.tokenizer,
        pixel_spec=PixelSpec.from_image_processor(processor.image_processor),
        max_tokens=settings.caption_max_tokens,
        device=device,
    )


@dataclass(frozen=True)
class AudioModel:
    transcriber: WhisperTranscriber
    lexicon: Lexicon
    vad: VadConfig
    intents: IntentIndex

    @property
    def info(self) -> ModelInfo:
        return self.transcriber.info


def load_audio(settings: ProcessorSettings, lexicon_file: Path | None = None) -> AudioModel:
    entry = require(settings, "whisper")
    encoder = require(settings, "intent")
    assert entry.path is not None and entry.weights is not None
    assert encoder.path is not None and encoder.weights is not None
    lexicon = load_lexicon(lexicon_file or settings.lexicon_file)
    intent_set = load_intents(settings.intents_file)
    # The lexicon, the intent examples and their encoder change what is found, so they are part of the version.
    version = "+".join(
        (
            weights_version(entry.weights),
            lexicon.version,
            intent_set.version,
            f"minilm-{weights_version(encoder.weights)[:8]}",
        )
    )
    # The decoding settings change transcripts too.
    if settings.whisper_prompt:
        version += f"+prompt-{hashlib.sha256(settings.whisper_prompt.encode()).hexdigest()[:8]}"
    if settings.whisper_beam_size != 1:
        version += f"+beam{settings.whisper_beam_size}"
    info = ModelInfo(name=entry.model_id, version=version)
    intents = IntentIndex(intent_set, MiniLmEmbedder(encoder.path, settings.torch_num_threads))
    transcriber = WhisperTranscriber(
        info,
        entry.path,
        settings.torch_num_threads,
        settings.whisper_language,
        settings.whisper_context_s,
        initial_prompt=settings.whisper_prompt,
        beam_size=settings.whisper_beam_size,
        device=settings.device,
    )
    vad = VadConfig(settings.vad_energy_dbfs, settings.vad_silero, settings.vad_threshold)
    return AudioModel(transcriber=transcriber, lexicon=lexicon, vad=vad, intents=intents)
