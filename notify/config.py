"""The routing file (``NOTIFY_CONFIG``): targets, where each one's notifications go and which alerts it wants.

The smallest valid file is ``targets: [{name: ops, kind: webhook, url: ..., secret: ...}]``. Any string value may
hold ``${ENV_NAME}`` references, resolved when the file is loaded, so secrets stay out of the file; a reference to
an unset variable is an error naming it. Everything is validated up front: a wrong file stops the worker at start
with every problem listed, never mid-stream.
"""

from __future__ import annotations

import os
import re
from datetime import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from schemas.records import AnomalyKind, AnomalyOrigin, Severity

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class ConfigError(ValueError):
    """The routing file cannot be used; the message lists every problem."""


class Change(StrEnum):
    """What a revision changed that a person may need to know (``notify_on`` picks the ones that notify)."""

    OPENED = "opened"  # the first revision seen of an alert
    SEVERITY_UP = "severity_up"
    SEVERITY_DOWN = "severity_down"
    NEW_KIND = "new_kind"
    CLOSED = "closed"
    ACKNOWLEDGED = "acknowledged"
    ASSIGNED = "assigned"
    RESOLVED = "resolved"
    NOTE = "note"
    ESCALATED = "escalated"


DEFAULT_NOTIFY_ON = (Change.OPENED, Change.SEVERITY_UP, Change.NEW_KIND, Change.CLOSED, Change.ESCALATED)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Window(_Strict):
    """A daily time range on some weekdays, in the target's time zone; ``end`` before ``start`` crosses midnight."""

    days: list[Day] = Field(default_factory=lambda: list(DAYS))
    start: time
    end: time


class RateLimit(_Strict):
    count: int = Field(ge=1)
    per_minutes: float = Field(gt=0)


class Retries(_Strict):
    attempts: int = Field(4, ge=1, le=20, description="Tries in all, the first included.")
    initial_s: float = Field(0.5, gt=0)
    max_s: float = Field(10.0, gt=0)


class Breaker(_Strict):
    failures: int = Field(5, ge=1, description="Consecutive failed notifications that open the circuit.")
    cooldown_s: float = Field(60.0, gt=0, description="How long an open circuit refuses before one trial send.")


class TargetRules(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    cameras: list[str] | None = Field(None, description="Only these cameras (default: all).")
    min_severity: Severity = Severity.LOW
    kinds: list[AnomalyKind] | None = Field(None, description="Only alerts with one of these kinds (default: all).")
    notify_on: list[Change] | None = Field(None, description="Changes that notify (default: the file's notify_on).")
    timezone: str = "UTC"
    schedule: list[Window] | None = Field(None, description="Notify only inside these windows (default: always).")
    quiet_hours: list[Window] = Field(default_factory=list, description="Never notify inside these windows.")
    rate_limit: RateLimit | None = None
    escalate_after_minutes: float | None = Field(None, gt=0)
    escalate_to: str | None = None
    retries: Retries = Field(default_factory=Retries)
    breaker: Breaker = Field(default_factory=Breaker)
    timeout_s: float = Field(10.0, gt=0)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _escalation_pair(self) -> TargetRules:
        if (self.escalate_after_minutes is None) != (self.escalate_to is None):
            raise ValueError("escalate_after_minutes and escalate_to go together")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class WebhookTarget(TargetRules):
    kind: Literal["webhook"]
    url: str = Field(pattern=r"^https?://")
    secret: SecretStr
    format: Literal["generic", "slack", "teams"] = "generic"
    headers: dict[str, str] = Field(default_factory=dict)


class EmailTarget(TargetRules):
    kind: Literal["email"]
    host: str
    port: int = Field(587, ge=1, le=65535)
    starttls: bool = True
    #: CA certificates that sign the server's certificate (a relay with a private CA); the system's CAs when unset.
    ca_file: Path | None = None
    username: str | None = None
    password: SecretStr | None = None
    sender: str = Field(alias="from", pattern=r"^[^@\s]+@[^@\s]+$")
    to: list[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$")]] = Field(min_length=1)
    evidence: Literal["link", "attach", "none"] = "link"

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class MqttTarget(TargetRules):
    kind: Literal["mqtt"]
    url: str = Field(pattern=r"^mqtts?://")
    username: str | None = None
    password: SecretStr | None = None
    topic_prefix: str = Field("anomaly", pattern=r"^[^#+]+$")
    qos: Literal[0, 1, 2] = 1


Target = Annotated[WebhookTarget | EmailTarget | MqttTarget, Field(discriminator="kind")]


class NotifyConfig(_Strict):
    targets: list[Target] = Field(min_length=1)
    notify_on: list[Change] = Field(default_factory=lambda: list(DEFAULT_NOTIFY_ON))
    #: Anomalies of `anomaly analyze` runs (origin ANALYZE) are about recorded footage: nobody is paged for them.
    origins: list[AnomalyOrigin] = Field(default_factory=lambda: [AnomalyOrigin.LIVE])
    #: The link of an alert in the payloads, e.g. ``https://ops.example/anomalies/{anomaly_id}`` (``{anomaly_id}`` and
    #: ``{camera_id}`` are filled in); no link when unset.
    link_template: str | None = Field(None, pattern=r"^https?://")

    @field_validator("link_template")
    @classmethod
    def _fills(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                value.format(anomaly_id="a", camera_id="c")
            except (KeyError, IndexError, ValueError) as exc:
                raise ValueError(f"link_template may only use {{anomaly_id}} and {{camera_id}} ({exc})") from exc
        return value

    @model_validator(mode="after")
    def _names(self) -> NotifyConfig:
        names = [t.name for t in self.targets]
        doubled = sorted({n for n in names if names.count(n) > 1})
        if doubled:
            raise ValueError(f"target names must be unique: {', '.join(doubled)}")
        for target in self.targets:
            if target.escalate_to is not None and target.escalate_to not in names:
                raise ValueError(f"target {target.name} escalates to unknown target {target.escalate_to!r}")
            if target.escalate_to == target.name:
                raise ValueError(f"target {target.name} escalates to itself")
        return self

    def target(self, name: str) -> WebhookTarget | EmailTarget | MqttTarget:
        for target in self.targets:
            if target.name == name:
                return target
        raise KeyError(f"no target {name!r}; the file has {', '.join(t.name for t in self.targets)}")

    def changes_for(self, target: TargetRules) -> frozenset[Change]:
        return frozenset(target.notify_on if target.notify_on is not None else self.notify_on)


def resolve_env(value: Any, env: dict[str, str], where: str = "") -> Any:
    """``value`` with every ``${NAME}`` in its strings replaced from ``env``; ConfigError for an unset one."""
    if isinstance(value, str):

        def lookup(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in env:
                raise ConfigError(f"{where or 'a value'} refers to ${{{name}}}, which is not set")
            return env[name]

        return _ENV_REF.sub(lookup, value)
    if isinstance(value, dict):
        return {k: resolve_env(v, env, f"{where}.{k}" if where else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_env(v, env, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def parse_config(text: str, env: dict[str, str] | None = None, source: str = "NOTIFY_CONFIG") -> NotifyConfig:
    """The validated config in YAML ``text`` (``env``: where ``${NAME}`` references are read; os.environ)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{source} must be a mapping with a `targets` list")
    data = resolve_env(data, dict(os.environ) if env is None else env)
    try:
        return NotifyConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(file)'}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"{source} is invalid: {problems}") from exc


def load_config(path: Path, env: dict[str, str] | None = None) -> NotifyConfig:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read NOTIFY_CONFIG {path}: {exc.strerror or exc}") from exc
    return parse_config(text, env, source=str(path))
