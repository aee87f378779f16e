"""SQL building for anomaly lists (no database)."""

from __future__ import annotations

from datetime import UTC, datetime

from api.cursor import Position
from api.queries import AnomalyFilter, build_cameras, build_list, severities_at_least

T0 = datetime(2025, 3, 1, tzinfo=UTC)


def test_no_filters_orders_by_keyset_and_fetches_one_extra() -> None:
    sql, params = build_list(AnomalyFilter(), None, 50)
    assert " where " not in sql
    assert sql.endswith("order by incident_start desc, anomaly_id desc limit %(limit)s")
    assert params == {"limit": 51}


def test_single_camera_uses_equality_and_many_use_any() -> None:
    sql, params = build_list(AnomalyFilter(cameras=frozenset({"cam-1"})), None, 10)
    assert "camera_id = %(camera)s" in sql and params["camera"] == "cam-1"
    sql, params = build_list(AnomalyFilter(cameras=frozenset({"b", "a"})), None, 10)
    assert "camera_id = any(%(cameras)s)" in sql and params["cameras"] == ["a", "b"]


def test_every_filter_becomes_a_parameter_never_text() -> None:
    flt = AnomalyFilter(
        cameras=frozenset({"cam'; drop table anomalies; --"}),
        since=T0,
        until=T0,
        severities=frozenset({"HIGH"}),
        kinds=frozenset({"FALL"}),
        rules_version="v1",
        states=frozenset({"OPEN"}),
    )
    sql, params = build_list(flt, Position(T0, "7d0c8f0e-1b1a-4a53-9d8e-2f1f7c0b9a11"), 5)
    assert "drop table" not in sql
    for fragment in ("incident_start >= %(since)s", "incident_start < %(until)s", "kinds && %(kinds)s::text[]"):
        assert fragment in sql
    assert "(incident_start, anomaly_id) < (%(after_start)s, %(after_id)s::uuid)" in sql
    assert params["after_id"] == "7d0c8f0e-1b1a-4a53-9d8e-2f1f7c0b9a11"
    assert params["severities"] == ["HIGH"] and params["rules_version"] == "v1"


def test_severities_at_least() -> None:
    assert severities_at_least("HIGH") == ["HIGH", "CRITICAL"]
    assert severities_at_least("LOW") == ["LOW", "MEDIUM", "HIGH", "CRITICAL"]


def test_camera_list_is_scoped_by_parameter() -> None:
    sql, params = build_cameras(None)
    assert "any(" not in sql and params == {}
    sql, params = build_cameras(frozenset({"cam-2", "cam-1"}))
    assert "c.camera_id = any(%(cameras)s)" in sql and params == {"cameras": ["cam-1", "cam-2"]}
