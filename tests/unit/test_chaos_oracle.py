"""The fault-injection suite's oracle: lost, redelivered, extra and wrong outputs are told apart."""

from __future__ import annotations

from schemas.records import AnomalyKind
from tests.chaos.oracle import Row, check_rows, coverage, out_of_order

FALL = (AnomalyKind.FALL,)


def test_coverage_counts_lost_and_redelivered_inputs() -> None:
    result = coverage(["a", "b", "c"], ["a", "a", "c", "z"])
    assert result.inputs == 3 and result.lost == {"b"} and result.redelivered == 1


def test_rows_matching_the_oracle_pass() -> None:
    check = check_rows({"id1": ("cam", FALL)}, [Row("id1", "cam", FALL, "CLOSED")])
    assert check.ok


def test_a_missing_row_is_lost_an_unknown_one_extra_and_a_different_one_wrong() -> None:
    expected = {"id1": ("cam", FALL), "id2": ("cam", FALL), "id3": ("cam2", FALL)}
    rows = [
        Row("id2", "cam", (AnomalyKind.FIRE_SMOKE,), "CLOSED"),
        Row("id3", "cam2", FALL, "OPEN"),
        Row("id9", "cam", FALL, "CLOSED"),  # the same incident raised again under another id
    ]
    check = check_rows(expected, rows)
    assert not check.ok
    assert check.lost == {"id1"} and check.extra == {"id9"} and check.wrong == {"id2", "id3"}


def test_out_of_order_names_the_references_that_do_not_follow() -> None:
    assert out_of_order([0, 1, 2, 3]) == []
    assert out_of_order([0, 2, 1, 3]) == [2, 1, 3]
