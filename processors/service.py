"""The thin loop that binds a modality to ``anomaly_core.runtime.run_service``."""

from __future__ import annotations

import logging
import threading
from typing import Any

from anomaly_core.objectstore import ObjectStore
from anomaly_core.runtime import ServiceSpec, run_service
from anomaly_core.settings import KafkaSettings, ObjectStoreSettings
from anomaly_core.topics import topic_name
from processors.registry import HandlerContext, get
from processors.settings import ProcessorSettings

log = logging.getLogger(__name__)


def build_spec(
    name: str,
    model: Any,
    settings: ProcessorSettings,
    kafka: KafkaSettings,
    store: ObjectStore,
    *,
    metrics_port: int = 0,
) -> ServiceSpec[Any]:
    """The runtime spec of modality ``name`` around an already loaded model."""
    modality = get(name)
    prefix = kafka.topic_prefix
    ctx = HandlerContext(store=store, settings=settings, output_topic=topic_name(modality.output_topic, prefix))
    max_batch, max_wait_ms = modality.batching(settings)
    return ServiceSpec(
        name=f"processor-{name}",
        group_id=f"{prefix}processor-{name}",
        input_topics=[topic_name(modality.input_topic, prefix)],
        input_record=modality.input_record,
        handler=modality.make_handler(model, ctx),
        max_batch=max_batch,
        max_wait_ms=max_wait_ms,
        metrics_port=metrics_port,
    )


def run(
    name: str,
    *,
    settings: ProcessorSettings,
    kafka: KafkaSettings,
    store_settings: ObjectStoreSettings,
    metrics_port: int = 0,
    model: Any = None,
    stop: threading.Event | None = None,
) -> None:
    """Loads the model (``ModelMissingError`` at once when absent), then consumes until stopped."""
    modality = get(name)
    if model is None:
        model = modality.load_model(settings)
    log.info("processor %s ready: %s %s", name, model.info.name, model.info.version)
    store = ObjectStore.from_settings(store_settings)
    spec = build_spec(name, model, settings, kafka, store, metrics_port=metrics_port)
    run_service(spec, kafka, stop=stop)
