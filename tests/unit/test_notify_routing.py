"""Routing file validation and the pure routing decisions (fixed times, no IO)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from notify.alert import Alert
from notify.breaker import CircuitBreaker
from notify.config import Change, ConfigError, parse_config
from notify.routing import Verdict, changes_of, decide, escalation_due
from schemas.records import AnomalyState, Severity
from tests.notify_samples import NOON
from tests.notify_samples import sample_alert as alert

SMALLEST = "targets: [{name: ops, kind: webhook, url: 'http://hooks.example/x', secret: s3cret}]"


def test_smallest_file_is_valid_and_secrets_come_from_the_environment() -> None:
    config = parse_config(SMALLEST, env={})
    assert config.targets[0].name == "ops"
    text = "targets: [{name: ops, kind: webhook, url: 'http://h/x', secret: '${HOOK_SECRET}'}]"
    target = parse_config(text, env={"HOOK_SECRET": "from-env"}).targets[0]
    assert target.kind == "webhook" and target.secret.get_secret_value() == "from-env"
    with pytest.raises(ConfigError, match="HOOK_SECRET"):
        parse_config(text, env={})


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("targets: []", "targets"),
        ("targets: [{name: a, kind: fax}]", "kind"),
        ("targets: [{name: a, kind: webhook, url: 'ftp://x', secret: s}]", "url"),
        (SMALLEST.replace("secret: s3cret", "secret: s, timezone: Mars/Base"), "time zone"),
        (SMALLEST.replace("secret: s3cret", "secret: s, escalate_after_minutes: 5, escalate_to: nobody"), "nobody"),
        ("targets: [{name: a, kind: mqtt, url: 'mqtt://h'}, {name: a, kind: mqtt, url: 'mqtt://h'}]", "unique"),
        ("- not a mapping", "mapping"),
        (SMALLEST + "\nlink_template: 'https://ops/{id}'", "link_template"),
    ],
)
def test_invalid_files_say_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        parse_config(text, env={})


def test_changes_of_revisions() -> None:
    first = alert()
    assert changes_of(None, first) == [Change.OPENED]
    assert changes_of(first, replace(first, revision=2)) == []  # same severity, kinds and state: a mere refresh
    assert changes_of(first, replace(first, revision=1, severity=Severity.CRITICAL)) == []  # not newer
    worse = replace(first, revision=2, severity=Severity.CRITICAL, kinds=("FALL", "VIOLENCE"))
    assert changes_of(first, worse) == [Change.SEVERITY_UP, Change.NEW_KIND]
    assert changes_of(first, replace(first, revision=3, state=AnomalyState.CLOSED)) == [Change.CLOSED]


def test_filters_quiet_hours_schedule_and_rate_limit() -> None:
    config = parse_config(
        SMALLEST.replace(
            "secret: s3cret",
            "secret: s, cameras: [cam-1], min_severity: HIGH, kinds: [FALL], timezone: Europe/Zurich,"
            " quiet_hours: [{start: '22:00', end: '07:00'}], schedule: [{days: [mon, tue, wed, thu, fri],"
            " start: '08:00', end: '18:00'}], rate_limit: {count: 2, per_minutes: 10}",
        ),
        env={},
    )
    target = config.targets[0]

    def verdict(a: Alert, now: datetime = NOON, recent: tuple[datetime, ...] = ()) -> Verdict:
        return decide(config, target, a, [Change.OPENED], now=now, recent=recent).verdict

    assert verdict(alert()) is Verdict.SEND
    assert verdict(alert(camera_id="cam-2")) is Verdict.SKIP
    assert verdict(alert(severity=Severity.MEDIUM)) is Verdict.SKIP
    assert verdict(alert(kinds=("LOUD_NOISE",))) is Verdict.SKIP
    assert verdict(alert(), now=NOON.replace(hour=22)) is Verdict.QUIET  # 23:00 in Zurich
    assert verdict(alert(), now=NOON + timedelta(days=3)) is Verdict.QUIET  # Saturday: outside the schedule
    recent = (NOON - timedelta(minutes=1), NOON - timedelta(minutes=2))
    assert verdict(alert(), recent=recent) is Verdict.RATE_LIMITED
    assert verdict(alert(), recent=(NOON - timedelta(minutes=11),) * 5) is Verdict.SEND
    assert decide(config, target, alert(), [Change.SEVERITY_DOWN], now=NOON).verdict is Verdict.SKIP
    assert decide(config, target, alert(origin="ANALYZE"), [Change.OPENED], now=NOON).verdict is Verdict.SKIP


def test_escalation_time_and_breaker() -> None:
    config = parse_config(
        "targets: [{name: a, kind: webhook, url: 'http://h/a', secret: s, escalate_after_minutes: 5,"
        " escalate_to: b}, {name: b, kind: mqtt, url: 'mqtt://h:1883'}]",
        env={},
    )
    assert escalation_due(config.target("a"), NOON) == NOON + timedelta(minutes=5)
    assert escalation_due(config.target("b"), NOON) is None
    now = [0.0]
    breaker = CircuitBreaker(failures=2, cooldown_s=30, clock=lambda: now[0])
    breaker.failed()
    assert breaker.allows()
    breaker.failed()
    assert breaker.state == "open" and not breaker.allows()
    now[0] = 31.0
    assert breaker.state == "half-open" and breaker.allows()
    breaker.failed()  # the trial failed: another cooldown
    assert not breaker.allows()
    now[0] = 62.0
    breaker.succeeded()
    assert breaker.state == "closed"
