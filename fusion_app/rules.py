"""The fusion rules file: loaded once, validated, immutable.

Numbers live in ``rules.yaml`` (versioned) rather than in code so a backtest can compare two files
(`anomaly backtest diff`) and every decision can say which rules produced it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.records import AnomalyKind, Severity

DEFAULT_RULES = Path(__file__).parent / "rules.yaml"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class WindowRules(_Frozen):
    size_ms: int = Field(gt=0)
    hop_ms: int = Field(gt=0)
    allowed_lateness_ms: int = Field(ge=0)
    max_skew_ms: int = Field(ge=0)
    idle_timeout_ms: int = Field(gt=0)
    max_clock_skew_ms: int = Field(gt=0)

    @model_validator(mode="after")
    def _hop_divides_size(self) -> Self:
        if self.hop_ms > self.size_ms or self.size_ms % self.hop_ms:
            raise ValueError("windows.hop_ms must divide windows.size_ms")
        return self


class AudioRules(_Frozen):
    phrase_min_score: float = Field(gt=0, le=1)
    cue_min_score: float = Field(ge=0, le=1)
    visual_discount: float = Field(ge=0, lt=1)
    loud_noise_alone: bool
    transcript_chars: int = Field(gt=0)
    categories: dict[str, AnomalyKind]
    default_kind: AnomalyKind
    # Spoken intent by meaning (AudioScore.intent): similarity to the nearest intent example and margin over the
    # nearest benign example. Alone, an intent alerts at intent_min_margin; an emergency phrase of the lexicon in the
    # same chunk lowers that to intent_lexicon_margin (the lexicon never alerts alone once intents are scored).
    intent_min_score: float = Field(0.5, ge=0, le=1)
    intent_min_margin: float = Field(0.1, ge=-1, le=1)
    intent_lexicon_margin: float = Field(0.0, ge=-1, le=1)
    intent_cue_margin: float = Field(0.05, ge=-1, le=1)


class SceneKindRule(_Frozen):
    contains: tuple[str, ...]
    kind: AnomalyKind


class SceneRules(_Frozen):
    alone_threshold: float = Field(gt=0, le=1)
    alone_min_frames: int = Field(ge=1)
    agreement_threshold: float = Field(gt=0, le=1)
    kinds: tuple[SceneKindRule, ...]
    default_kind: AnomalyKind


class PoseRules(_Frozen):
    min_visibility: float = Field(ge=0, le=1)
    horizontal_deg: float = Field(gt=0, le=90)
    upright_deg: float = Field(gt=0, le=90)
    max_gap_ms: int = Field(gt=0)
    fall_transition_ms: int = Field(ge=0)
    fall_max_delay_ms: int = Field(ge=0)
    fall_dropout_ms: int = Field(ge=0)
    fall_near: float = Field(gt=0)
    fall_min_drop: float = Field(gt=0)
    fall_persist_ms: int = Field(gt=0)
    person_down_persist_ms: int = Field(gt=0)
    violence_speed: float = Field(gt=0)
    violence_min_pairs: int = Field(ge=1)
    violence_max_gap_ms: int = Field(gt=0)
    violence_near: float = Field(gt=0)

    @model_validator(mode="after")
    def _upright_below_lying(self) -> Self:
        if self.upright_deg >= self.horizontal_deg:
            raise ValueError("pose.upright_deg must be below pose.horizontal_deg")
        return self


class FusionRules(_Frozen):
    alert_score: float = Field(gt=0, le=1)
    hold_score: float = Field(gt=0, le=1)
    critical_score: float = Field(gt=0, le=1)
    severity: dict[AnomalyKind, Severity]

    @model_validator(mode="after")
    def _hysteresis(self) -> Self:
        if self.hold_score > self.alert_score:
            raise ValueError("fusion.hold_score must not exceed fusion.alert_score (hysteresis)")
        missing = set(AnomalyKind) - set(self.severity)
        if missing:
            raise ValueError(f"fusion.severity lacks {sorted(missing)}")
        return self


class IncidentRules(_Frozen):
    quiet_ms: int = Field(gt=0)
    cooldown_ms: int = Field(ge=0)
    score_step: float = Field(gt=0, le=1)
    max_frames: int = Field(ge=1)
    max_audio: int = Field(ge=0)
    max_lineage: int = Field(ge=1)
    max_reasons: int = Field(ge=1)


class Rules(_Frozen):
    version: str = Field(min_length=1)
    windows: WindowRules
    audio: AudioRules
    scene: SceneRules
    pose: PoseRules
    fusion: FusionRules
    incidents: IncidentRules


def load_rules(path: Path | str | None = None) -> Rules:
    """Reads and validates a rules file (the packaged ``rules.yaml`` by default); raises ``ValueError``."""
    source = Path(path) if path else DEFAULT_RULES
    data = yaml.safe_load(source.read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{source}: expected a mapping at the top level")
    return Rules.model_validate(data)
