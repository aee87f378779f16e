"""The fusion worker's liveness signal: healthy while commits advance, failing when they stop with work in hand."""

from __future__ import annotations

import time

from fusion_app.liveness import CommitLiveness


def test_liveness_fails_only_when_commits_stop_with_work_in_hand(tmp_path):
    beat = tmp_path / "alive"
    probe = CommitLiveness("fusion-test", timeout_s=0.05, heartbeat=beat)
    assert probe.check() and beat.exists()  # nothing in hand: an idle worker is alive
    time.sleep(0.1)
    assert probe.check()
    probe.progressed()
    assert probe.check()  # work in hand, not yet overdue
    beat.unlink()
    time.sleep(0.1)
    assert not probe.check() and not beat.exists()  # overdue: the heartbeat file is no longer touched
    probe.committed()
    assert probe.check() and beat.exists()
