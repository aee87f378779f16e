"""What a camera purge touches (pure): its folders in each bucket, the objects its evidence names, table order."""

from __future__ import annotations

from anomaly_core.purge import PurgeReport, TableKeys, camera_prefixes, object_refs, purge_order


def test_camera_folders_under_every_top_level_folder() -> None:
    assert camera_prefixes(["frames/", "audio/", "evidence", "recordings/"], "cam-1") == [
        "audio/cam-1/",
        "cam-1/",
        "frames/cam-1/",
        "recordings/cam-1/",
    ]
    assert camera_prefixes([], "cam-1") == ["cam-1/"]


def test_objects_named_by_evidence_in_the_platforms_buckets_only() -> None:
    evidence = {
        "best_frame": {"bucket": "frames", "key": "frames/cam-1/a.jpg", "sha256": "x"},
        "frames": [{"bucket": "frames", "key": "frames/cam-1/b.jpg"}, {"bucket": "elsewhere", "key": "k"}],
        "clip": {"bucket": "evidence", "key": "exports/clip.mp4"},
        "transcript_excerpt": "help",
        "nothing": {"bucket": "frames", "key": ""},
    }
    assert object_refs(evidence, ["frames", "evidence"]) == {
        ("frames", "frames/cam-1/a.jpg"),
        ("frames", "frames/cam-1/b.jpg"),
        ("evidence", "exports/clip.mp4"),
    }
    assert object_refs(None, ["frames"]) == set()


def test_tables_keyed_by_anomaly_go_first_and_the_registry_last() -> None:
    tables = [
        TableKeys("cameras", camera=True, anomaly=False),
        TableKeys("anomalies", camera=True, anomaly=True),
        TableKeys("anomaly_acks", camera=False, anomaly=True),
        TableKeys("notifications", camera=True, anomaly=True),
    ]
    by_anomaly, by_camera = purge_order(tables)
    assert [t.name for t in by_anomaly] == ["anomaly_acks"]
    assert [t.name for t in by_camera] == ["anomalies", "notifications", "cameras"]


def test_report_totals() -> None:
    report = PurgeReport("cam-1", dry_run=False, objects={"frames": 3, "audio": 2}, rows={"anomalies": 4})
    assert report.to_json()["total_objects"] == 5 and report.to_json()["total_rows"] == 4
