"""`anomaly notify worker` and `anomaly notify test`: wiring the notifier to Kafka, PostgreSQL and the store.

The worker is a runtime service (its own consumer group) on ``anomalies.v1`` and ``anomalies.actions.v1``, plus
one escalation thread; both stop on SIGTERM after the record in hand.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from anomaly_core import topics
from anomaly_core.db import migrate
from anomaly_core.dlq import dlq_topic
from anomaly_core.errors import TransientError
from anomaly_core.objectstore import ObjectStore
from anomaly_core.runtime import ServiceSpec, per_message, run_service
from anomaly_core.settings import DatabaseSettings, KafkaSettings, ObjectStoreSettings
from notify.alert import Alert
from notify.config import Change, NotifyConfig
from notify.delivery import Outcome, TargetChannel
from notify.metrics import NotifyMetrics
from notify.notifier import Notifier, now_utc
from notify.payloads import Notice
from notify.senders import build_sender
from notify.settings import NotifySettings
from notify.store import NotifyStore
from schemas.records import AnomalyAction, AnomalyEvent, AnomalyState, ObjectRef, Severity

log = logging.getLogger(__name__)

TEST_ANOMALY_ID = "00000000-0000-4000-8000-000000000000"


def build_channels(config: NotifyConfig, store_settings: ObjectStoreSettings | None = None) -> dict[str, TargetChannel]:
    metrics = NotifyMetrics()
    fetch = None
    if store_settings is not None and any(getattr(t, "evidence", None) == "attach" for t in config.targets):
        store = ObjectStore.from_settings(store_settings)
        fetch = store.get
    return {t.name: TargetChannel(t, t.kind, build_sender(t, fetch), metrics) for t in config.targets}


def evidence_signer(settings: NotifySettings, store_settings: ObjectStoreSettings) -> ObjectStore:
    # URLs are signed for the host the reader will use, which may differ from the one the worker reaches.
    if settings.evidence_public_endpoint:
        store_settings = store_settings.model_copy(update={"endpoint_url": settings.evidence_public_endpoint})
    return ObjectStore.from_settings(store_settings)


def build_notifier(
    config: NotifyConfig,
    settings: NotifySettings,
    kafka: KafkaSettings,
    dsn: str,
    store_settings: ObjectStoreSettings,
) -> Notifier:
    signer = evidence_signer(settings, store_settings)
    ttl = settings.evidence_url_ttl_s

    def evidence_url(ref: ObjectRef) -> str | None:
        try:
            return signer.presign_get(ref, ttl)
        except Exception:  # a link is a courtesy: the alert goes out without it
            log.warning("could not sign the evidence URL of %s/%s", ref.bucket, ref.key, exc_info=True)
            return None

    return Notifier(
        config,
        build_channels(config, store_settings),
        NotifyStore(dsn),
        dlq_topic=dlq_topic(kafka.topic_prefix),
        evidence_url=evidence_url,
    )


def worker_spec(notifier: Notifier, settings: NotifySettings, kafka: KafkaSettings) -> ServiceSpec[AnomalyEvent]:
    anomalies = topics.topic_name(topics.ANOMALIES, kafka.topic_prefix)
    actions = topics.topic_name(topics.ANOMALY_ACTIONS, kafka.topic_prefix)
    return ServiceSpec(
        name="notify",
        group_id=kafka.topic_prefix + settings.group_id,
        input_topics=[anomalies, actions],
        input_record=AnomalyEvent,
        input_records={actions: AnomalyAction},
        handler=per_message(notifier.handle),
        metrics_port=settings.metrics_port,
        dlq_topic=notifier.dlq_topic,
        # A send may be retried for a while; the group must not think the worker is gone meanwhile.
        consumer_config={"max.poll.interval.ms": 600_000, "auto.offset.reset": settings.consumer_start},
    )


def escalation_loop(notifier: Notifier, poll_s: float, stop: threading.Event) -> None:
    while not stop.wait(poll_s):
        try:
            escalated = notifier.escalate_due()
        except TransientError as exc:
            log.warning("escalation check postponed: %s", exc)
            continue
        except Exception:
            log.exception("escalation check failed")
            continue
        if escalated:
            log.info("escalated %d unacknowledged alert%s", escalated, "s" if escalated != 1 else "")


def run_worker(
    config: NotifyConfig,
    settings: NotifySettings,
    kafka: KafkaSettings,
    *,
    dsn: str | None = None,
    store_settings: ObjectStoreSettings | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Runs the worker until SIGTERM/SIGINT or ``stop``."""
    dsn = dsn or DatabaseSettings().url.get_secret_value()
    migrate(dsn)
    notifier = build_notifier(config, settings, kafka, dsn, store_settings or ObjectStoreSettings())
    stop = stop or threading.Event()
    escalations = threading.Thread(
        target=escalation_loop, args=(notifier, settings.escalation_poll_s, stop), name="escalation", daemon=True
    )
    escalations.start()
    log.info("notifying %s", ", ".join(f"{t.name} ({t.kind})" for t in config.targets))
    try:
        run_service(worker_spec(notifier, settings, kafka), kafka, stop=stop)
    finally:
        stop.set()
        escalations.join(timeout=30)
        notifier.close()


def made_up_alert(now: datetime) -> Alert:
    """The made-up alert of test messages: an open HIGH fall on camera ``test`` that started 5 s before ``now``."""
    return Alert(
        anomaly_id=TEST_ANOMALY_ID,
        camera_id="test",
        revision=1,
        state=AnomalyState.OPEN,
        severity=Severity.HIGH,
        kinds=("FALL",),
        score=0.9,
        reasons=("test notification from `anomaly notify test`",),
        incident_start=now - timedelta(seconds=5),
        incident_end=now,
    )


def test_notice(target: str, config: NotifyConfig) -> Notice:
    """A recognisable test message (marked ``test``) about the made-up alert."""
    now = now_utc()
    step = f"test-{int(now.timestamp() * 1000)}"
    return Notice(target, made_up_alert(now), Change.OPENED, step, now, link_template=config.link_template, test=True)


def send_test(config: NotifyConfig, target: str) -> Outcome:
    """Sends a test message to ``target`` with its retries and returns the outcome (nothing is recorded)."""
    channels = build_channels(config.model_copy(update={"targets": [config.target(target)]}))
    try:
        return channels[target].deliver(test_notice(target, config))
    finally:
        for channel in channels.values():
            channel.close()
