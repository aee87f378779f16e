"""The service loop's consume timeout: never zero (a zero timeout spins a core while idle)."""

from __future__ import annotations

from anomaly_core.runtime import IDLE_POLL_S, poll_timeout_s


def test_single_record_services_wait_for_the_first_record_instead_of_spinning() -> None:
    assert poll_timeout_s(1, 0) == IDLE_POLL_S
    assert poll_timeout_s(1, 50) == IDLE_POLL_S


def test_batching_services_wait_their_window_and_never_zero() -> None:
    assert poll_timeout_s(8, 50) == 0.05
    assert poll_timeout_s(8, 0) == 0.001
