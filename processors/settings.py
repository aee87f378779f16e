"""Processor settings: the deployment doc's processing knobs plus the model-specific ones."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from anomaly_core.settings import ProcessingSettings
from processors.audio.transcribe import DISTRESS_PROMPT

_HERE = Path(__file__).parent

ClipBackend = Literal["torch", "torch-int8", "onnx"]


class ProcessorSettings(ProcessingSettings):
    """Built in each processor's ``main()``; every field has an environment name."""

    # Repeated from the base class so type checkers see that fields may be passed by name.
    model_config = SettingsConfigDict(env_file=None, extra="ignore", populate_by_name=True)

    clip_backend: ClipBackend = Field("torch", alias="CLIP_BACKEND")
    prompts_file: Path = Field(_HERE / "prompts.yaml", alias="SCENE_PROMPTS_FILE")
    lexicon_file: Path = Field(_HERE / "lexicon.yaml", alias="AUDIO_LEXICON_FILE")
    intents_file: Path = Field(_HERE / "intents.yaml", alias="AUDIO_INTENTS_FILE")
    pose_model: Literal["lite", "full", "heavy"] = Field("lite", alias="POSE_MODEL")
    pose_max_people: int = Field(6, alias="POSE_MAX_PEOPLE", ge=1, le=20)
    pose_max_side: int = Field(640, alias="POSE_MAX_SIDE", ge=64)
    pose_min_confidence: float = Field(0.5, alias="POSE_MIN_CONFIDENCE", gt=0, lt=1)
    pose_track_ttl_s: float = Field(5.0, alias="POSE_TRACK_TTL_SECONDS", gt=0)
    npm_registry_url: str = Field("https://registry.npmjs.org", alias="NPM_REGISTRY_URL")
    max_image_pixels: int = Field(16_777_216, alias="MAX_IMAGE_PIXELS", ge=1)
    max_frame_bytes: int = Field(16 * 1024 * 1024, alias="MAX_FRAME_BYTES", ge=1)
    max_audio_seconds: float = Field(60.0, alias="MAX_AUDIO_SECONDS", gt=0)
    max_audio_bytes: int = Field(32 * 1024 * 1024, alias="MAX_AUDIO_BYTES", ge=1)
    vad_energy_dbfs: float = Field(-50.0, alias="VAD_ENERGY_DBFS")
    vad_silero: bool = Field(True, alias="VAD_SILERO")
    vad_threshold: float = Field(0.5, alias="VAD_THRESHOLD", ge=0, le=1)
    # Speech that runs past a chunk's end is carried into the next chunk (processors/audio/utterance.py) ...
    max_utterance_s: float = Field(8.0, alias="AUDIO_MAX_UTTERANCE_SECONDS", gt=0, le=30)
    # ... until this much non-speech follows it
    utterance_pause_s: float = Field(0.4, alias="AUDIO_UTTERANCE_PAUSE_SECONDS", gt=0)
    whisper_language: str | None = Field(None, alias="WHISPER_LANGUAGE")
    whisper_context_s: float = Field(5.0, alias="WHISPER_CONTEXT_SECONDS", gt=0)
    # Text Whisper reads as what was said before (vocabulary priming); "" turns it off. Measured in docs/detection.md.
    whisper_prompt: str = Field(DISTRESS_PROMPT, alias="WHISPER_PROMPT")
    whisper_beam_size: int = Field(1, alias="WHISPER_BEAM_SIZE", ge=1, le=8)
    caption_backend: Literal["torch", "torch-int8"] = Field("torch", alias="CAPTION_BACKEND")
    caption_max_tokens: int = Field(30, alias="CAPTION_MAX_TOKENS", ge=1)
    scene_max_batch: int = Field(8, alias="SCENE_MAX_BATCH", ge=1)
    scene_max_wait_ms: int = Field(50, alias="SCENE_MAX_WAIT_MS", ge=0)
    # Privacy (processors/audio/redact.py): phone numbers, e-mail addresses and the names listed in REDACT_NAMES_FILE
    # (one a line) are replaced in what the audio processor publishes; the words as heard stay inside it.
    transcript_redaction: Literal["off", "on"] = Field("off", alias="TRANSCRIPT_REDACTION")
    redact_names_file: Path | None = Field(None, alias="REDACT_NAMES_FILE")

    @model_validator(mode="after")
    def _redaction_is_coherent(self) -> ProcessorSettings:
        if self.redact_names_file is None:
            return self
        if self.transcript_redaction != "on":
            raise ValueError("REDACT_NAMES_FILE is set but TRANSCRIPT_REDACTION is off: no name would be redacted")
        if not self.redact_names_file.is_file():
            raise ValueError(f"REDACT_NAMES_FILE {self.redact_names_file} is not a file")
        return self

    def effective_clip_model(self) -> str:
        """FAST_MODE keeps the base CLIP model even when a larger one is configured."""
        if self.fast_mode and "large" in self.clip_model:
            return "openai/clip-vit-base-patch32"
        return self.clip_model
