"""The long-lived parts of one API process, built by ``create_app`` and started by its lifespan.

Nothing here connects when constructed; ``start`` opens the pool (without waiting) and the live tail.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from fastapi import Request

from anomaly_core.objectstore import ObjectStore
from anomaly_core.topics import ANOMALIES, ANOMALY_ACTIONS, topic_name
from api import keystore
from api.actions import ActionPublisher
from api.auth import Authenticator, KeyRecord
from api.db import Database
from api.fanout import Broadcast, Hub
from api.live import LiveTail, client_config
from api.metrics import LIVE_EVENTS
from api.presign import EvidenceSigner
from api.ratelimit import ConnectionLimiter, RateLimiter
from api.settings import AppSettings

logger = logging.getLogger(__name__)


@dataclass
class Services:
    settings: AppSettings
    db: Database
    auth: Authenticator
    limiter: RateLimiter
    connections: ConnectionLimiter
    hub: Hub
    signer: EvidenceSigner
    store: ObjectStore  # the API's own view of the store, for readiness
    actions: ActionPublisher
    live: LiveTail | None = None
    _admin: object | None = field(default=None, repr=False)
    _pump: asyncio.Task[None] | None = field(default=None, repr=False)

    @classmethod
    def build(cls, settings: AppSettings) -> Services:
        api = settings.api
        db = Database(
            settings.db.url.get_secret_value(),
            pool_size=settings.db.pool_size,
            timeout_s=api.db_timeout_seconds,
            statement_timeout_ms=api.statement_timeout_ms,
        )

        async def lookup(digest: str) -> KeyRecord | None:
            async with db.connection() as conn:
                return await keystore.find_by_hash(conn, digest)

        auth = Authenticator(
            lookup,
            pepper=api.api_key_pepper.get_secret_value(),
            jwt_secret=api.jwt_secret.get_secret_value() if api.jwt_secret else None,
            cache_seconds=api.api_key_cache_seconds,
        )
        return cls(
            settings=settings,
            db=db,
            auth=auth,
            limiter=RateLimiter(api.rate_limit_per_minute, api.rate_limit_burst),
            connections=ConnectionLimiter(api.max_concurrent_connections),
            hub=Hub(api.ws_queue_size),
            signer=EvidenceSigner.from_settings(settings.store, api.presign_seconds, api.evidence_public_endpoint),
            store=ObjectStore.from_settings(settings.store, timeout_s=api.db_timeout_seconds),
            actions=ActionPublisher(
                settings.kafka, topic_name(ANOMALY_ACTIONS, settings.kafka.topic_prefix), api.kafka_timeout_seconds
            ),
        )

    def anomalies_topic(self) -> str:
        return topic_name(ANOMALIES, self.settings.kafka.topic_prefix)

    async def start(self) -> None:
        await self.db.open()
        if self.settings.api.live_enabled:
            inbox: asyncio.Queue[Broadcast] = asyncio.Queue()
            self._pump = asyncio.create_task(self.hub.pump(inbox, LIVE_EVENTS.inc), name="live-pump")
            self.live = self._live_tail(asyncio.get_running_loop(), inbox)
            self.live.start()

    async def stop(self) -> None:
        if self.live is not None:
            await asyncio.to_thread(self.live.stop)
        if self._pump is not None:
            self._pump.cancel()
        await asyncio.to_thread(self.actions.close)
        await self.db.close()

    def _live_tail(self, loop: asyncio.AbstractEventLoop, inbox: asyncio.Queue[Broadcast]) -> LiveTail:
        from anomaly_core.registry import RegistryClient
        from anomaly_core.serde import AvroSerde
        from api.live import action_broadcast, broadcast_for
        from schemas.records import AnomalyAction, AnomalyEvent

        anomalies, actions = self.anomalies_topic(), self.actions.topic
        serde = AvroSerde(RegistryClient(self.settings.kafka.schema_registry_url))

        def render(topic: str, raw: bytes) -> Broadcast:
            if topic == actions:
                return action_broadcast(serde.decode(topic, raw, AnomalyAction))
            return broadcast_for(serde.decode(topic, raw, AnomalyEvent), self.signer.url)

        return LiveTail(
            kafka=self.settings.kafka, topics=[anomalies, actions], render=render, deliver=inbox.put_nowait, loop=loop
        )

    def kafka_ping(self, timeout_s: float) -> None:
        """Fetches cluster metadata; raises when no broker answers in time (runs in a worker thread)."""
        from confluent_kafka.admin import AdminClient

        from anomaly_core.admin import admin_client

        if self._admin is None:
            self._admin = admin_client(client_config(self.settings.kafka))
        assert isinstance(self._admin, AdminClient)
        self._admin.list_topics(timeout=timeout_s)


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc
