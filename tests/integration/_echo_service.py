"""A tiny service on the real runtime, run as a subprocess by the crash/shutdown tests.

    python tests/integration/_echo_service.py INPUT OUTPUT GROUP [--sleep-ms N] [--max-batch N]

Echoes every FrameRef from INPUT to OUTPUT (same key, same record), sleeping a little per batch so that a
SIGKILL lands mid-batch. Kafka and registry addresses come from the usual environment variables.
"""

from __future__ import annotations

import argparse
import logging
import time

from anomaly_core.logs import configure_logging
from anomaly_core.runtime import Message, Output, ServiceSpec, run_service
from anomaly_core.settings import KafkaSettings
from schemas.records import FrameRef

log = logging.getLogger("echo")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("group")
    parser.add_argument("--dlq", default=None)
    parser.add_argument("--sleep-ms", type=int, default=20)
    parser.add_argument("--max-batch", type=int, default=20)
    args = parser.parse_args()
    configure_logging("INFO")

    def echo(batch: list[Message[FrameRef]]) -> list[list[Output] | Exception]:
        time.sleep(args.sleep_ms / 1000)
        # printed (flushed) so the test can see the service is mid-stream before it kills it
        print(f"batch {batch[0].partition}@{batch[0].offset}+{len(batch)}", flush=True)
        return [[Output(args.output, m.key, m.value)] for m in batch]

    spec = ServiceSpec(
        name="echo",
        group_id=args.group,
        input_topics=[args.input],
        input_record=FrameRef,
        handler=echo,
        max_batch=args.max_batch,
        max_wait_ms=50,
        dlq_topic=args.dlq,
        # the broker's minimum: the restarted instance gets the killed one's partitions quickly
        consumer_config={"session.timeout.ms": 6000},
    )
    run_service(spec, KafkaSettings())
    print("clean exit", flush=True)


if __name__ == "__main__":
    main()
