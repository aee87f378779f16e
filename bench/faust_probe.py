"""How fast Faust alone hands the score topics to an agent: the ceiling under the fusion worker's throughput.

``python -m bench.faust_probe TOTAL`` (Kafka settings from the environment, like every command) runs a Faust
app with the fusion worker's settings whose agent only acknowledges its batches, reads TOTAL records of the four
score topics from the beginning under a fresh group, and prints one JSON line: ``{"events": N, "seconds": S,
"events_per_s": R}`` (first to last record). ``anomaly bench fusion`` runs it on its backlog.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from typing import Any

import faust
import uvloop

from anomaly_core.settings import KafkaSettings
from fusion_app.live_driver import RAW, app_settings
from fusion_app.topics import FusionTopics


def main(total: int) -> None:
    kafka = KafkaSettings()
    group = f"{kafka.topic_prefix}faust-probe-{uuid.uuid4().hex[:6]}"
    app = faust.App(group, **app_settings(kafka, group))
    topics = FusionTopics.for_prefix(kafka.topic_prefix)
    seen = {"n": 0, "first": 0.0}
    stopping: list[asyncio.Future[None]] = []

    async def consume(stream: Any) -> None:
        async for events in stream.noack_take(1000, within=0.01):
            if not seen["n"]:
                seen["first"] = time.perf_counter()
            seen["n"] += len(events)
            for event in events:
                event.ack()
            if seen["n"] >= total:
                seconds = time.perf_counter() - seen["first"]
                rate = round(seen["n"] / seconds) if seconds > 0 else 0
                print(json.dumps({"events": seen["n"], "seconds": round(seconds, 2), "events_per_s": rate}), flush=True)
                stopping.append(asyncio.ensure_future(worker.stop()))
                return

    app.agent(app.topic(*topics.inputs, schema=RAW), name="probe", concurrency=1)(consume)
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())  # as the worker runs
    worker = faust.Worker(app, loglevel="WARNING", quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()


if __name__ == "__main__":
    main(int(sys.argv[1]))
