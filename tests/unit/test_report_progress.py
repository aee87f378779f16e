"""Which pipeline stage is done, waiting, or missing."""

from __future__ import annotations

from reports.progress import (
    Observation,
    StageSpec,
    StallClock,
    assess,
    first_unfinished,
    lag_observation,
    timeout_message,
)

CHAIN = [
    StageSpec("produce", unit="files"),
    StageSpec("pose", ("produce",), "frames"),
    StageSpec("audio", ("produce",), "audio chunks"),
    StageSpec("fusion", ("pose", "audio"), "score events"),
]


def test_lag_observation_counts_committed_against_end_offsets() -> None:
    end = {("f", 0): 10, ("f", 1): 0, ("f", 2): 5}
    obs = lag_observation({("f", 0): 10, ("f", 2): 3}, end)
    assert (obs.processed, obs.expected, obs.caught_up) == (13, 15, False)
    # Kafka reports "no commit" as a negative offset; an empty partition needs none.
    done = lag_observation({("f", 0): 10, ("f", 1): -1001, ("f", 2): 5}, end)
    assert done.caught_up and done.processed == 15


def test_a_stage_is_done_only_when_its_upstream_is() -> None:
    seen = {
        "produce": Observation(1, 2, caught_up=False),
        "pose": Observation(40, 40, caught_up=True),
        "audio": Observation(5, 5, caught_up=True),
        "fusion": Observation(45, 45, caught_up=True),
    }
    verdict = assess(CHAIN, seen)
    assert [s.done for s in verdict.stages] == [False, False, False, False]
    assert not verdict.done and verdict.failure is None
    assert "waiting for produce" in verdict.stages[1].detail
    seen["produce"] = Observation(2, 2, caught_up=True)
    assert assess(CHAIN, seen).done


def test_a_dead_process_names_the_missing_stage() -> None:
    seen = {
        "produce": Observation(2, 2, caught_up=True),
        "pose": Observation(12, 40, caught_up=False, alive=False, exit_detail="exit code 1"),
        "audio": Observation(5, 5, caught_up=True),
        "fusion": Observation(17, 45, caught_up=False),
    }
    verdict = assess(CHAIN, seen)
    assert verdict.failure is not None
    assert verdict.failure.startswith("stage 'pose' is missing")
    assert "exit code 1" in verdict.failure and "12/40 frames" in verdict.failure


def test_a_stage_never_seen_counts_as_not_started() -> None:
    verdict = assess(CHAIN, {"produce": Observation(1, 1, caught_up=True)})
    assert verdict.failure is not None and "'pose'" in verdict.failure and "not started" in verdict.failure


def test_timeout_names_the_earliest_unfinished_stage() -> None:
    seen = {
        "produce": Observation(2, 2, caught_up=True),
        "pose": Observation(40, 40, caught_up=True),
        "audio": Observation(3, 5, caught_up=False),
        "fusion": Observation(43, 45, caught_up=False),
    }
    verdict = assess(CHAIN, seen)
    stuck = first_unfinished(verdict)
    assert stuck is not None and stuck.stage == "audio"
    assert timeout_message(verdict, 120.4) == "timed out after 120 s waiting for stage 'audio' (3/5 audio chunks)"


def test_stall_clock_measures_time_since_last_progress() -> None:
    clock = StallClock()
    seen = {"produce": Observation(1, 2, caught_up=False)}
    clock.update(assess(CHAIN[:1], seen), now=100.0)
    clock.update(assess(CHAIN[:1], seen), now=130.0)
    assert clock.idle_s("produce", 130.0) == 30.0
    clock.update(assess(CHAIN[:1], {"produce": Observation(2, 2, caught_up=True)}), now=131.0)
    assert clock.idle_s("produce", 131.0) == 0.0
    assert clock.idle_s("unknown", 131.0) == 0.0
