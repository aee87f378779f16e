"""The operator dashboard in real headless Chromium: sign in with a key, see an anomaly published to Kafka
appear live with its evidence frame, acknowledge one and resolve another, and keep a screenshot
(test-output/dashboard.png, docs/img/dashboard.png)."""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest

from anomaly_core.db import migrate
from anomaly_core.settings import KafkaSettings, ObjectStoreSettings
from api import keystore
from api.auth import Role
from bench.sample_events import anomaly_event
from schemas.records import AnomalyEvent, AnomalyKind, ObjectRef
from tests.api_harness import (
    PEPPER,
    RunningApi,
    app_settings,
    insert_anomalies,
    insert_camera,
    private_bucket,
    private_topic,
    publish,
    serve,
)
from tests.browser import CHROMIUM, launch_chromium

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def evidence_jpeg() -> bytes:
    """A small drawn frame: a room with a person lying on the floor."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (480, 300), (52, 58, 66))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 200, 480, 300), fill=(92, 84, 76))  # floor
    draw.rectangle((330, 60, 420, 200), fill=(70, 90, 120))  # door
    draw.rectangle((60, 150, 130, 200), fill=(120, 96, 64))  # chair
    draw.ellipse((175, 212, 205, 242), fill=(224, 190, 160))  # head
    draw.line((205, 227, 300, 232), fill=(40, 110, 200), width=16)  # body
    draw.line((300, 232, 350, 222), fill=(30, 40, 60), width=10)  # legs
    draw.text((10, 10), "lobby-1  2025-03-01 12:00:03", fill=(230, 230, 230))
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=85)
    return buf.getvalue()


@dataclass
class Dash:
    api: RunningApi
    key: str
    kafka: KafkaSettings
    topic: str
    frame: ObjectRef
    history: list[AnomalyEvent]


@pytest.fixture(scope="module")
def dash(pg_dsn: str, kafka_settings: KafkaSettings, object_store_settings: ObjectStoreSettings) -> Iterator[Dash]:
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: apt-get install -y chromium (make bootstrap does it)")
    migrate(pg_dsn)
    with private_topic(kafka_settings) as (prefix, topic), private_bucket(object_store_settings) as (store, bucket):
        frame = store.put(bucket, "lobby-1/frame-0001.jpg", evidence_jpeg(), "image/jpeg")
        for camera in ("lobby-1", "corridor-2", "ward-3"):
            insert_camera(pg_dsn, camera)
        now = datetime.now(UTC)
        history = [
            anomaly_event(
                cam,
                sev,
                kinds=(kind,),
                best_frame=frame,
                start=now - timedelta(minutes=minutes),
                transcript=said,
                caption=seen,
            )
            for cam, sev, kind, minutes, said, seen in (
                ("corridor-2", "MEDIUM", AnomalyKind.LOUD_NOISE, 50, None, "an empty corridor with a trolley"),
                ("ward-3", "HIGH", AnomalyKind.PERSON_DOWN, 35, "nurse!", "a person sitting on the floor by a bed"),
                ("lobby-1", "LOW", AnomalyKind.SCENE_ANOMALY, 20, None, "a chair tipped over in a lobby"),
                ("corridor-2", "CRITICAL", AnomalyKind.VIOLENCE, 8, "stop it, get off me", "two people fighting"),
            )
        ]
        insert_anomalies(pg_dsn, history)
        with psycopg.connect(pg_dsn) as conn:
            # What the notify worker records when it tells a target (notify/store.py); the card lists it.
            conn.execute(
                "insert into notifications (anomaly_id, step, target, camera_id, revision, channel, change, status,"
                " detail, attempts, idempotency_key) values (%s, 'r1', 'ops', %s, 1, 'webhook', 'opened', 'sent',"
                " 'HTTP 204', 1, %s) on conflict do nothing",
                (history[1].anomaly_id, history[1].camera_id, f"{history[1].anomaly_id}:1"),
            )
            key = keystore.create(
                conn, name="control room", role=Role.OPERATOR, cameras=None, expires_in=None, pepper=PEPPER
            ).secret
        with serve(app_settings(pg_dsn, kafka_settings, object_store_settings, prefix)) as api:
            api.live_ready()
            yield Dash(api, key, kafka_settings, topic, frame, history)


def test_sign_in_see_an_anomaly_arrive_live_acknowledge_and_resolve(dash: Dash) -> None:
    from playwright.sync_api import expect, sync_playwright

    history = dash.history
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(dash.api.base_url + "/")

        page.fill("#login-key", "ak_not-a-real-key")
        page.click("#login-button")
        expect(page.locator("#login-error")).to_contain_text("Invalid API key")

        page.fill("#login-key", dash.key)
        page.click("#login-button")
        expect(page.locator("#main")).to_be_visible()
        expect(page.locator("#status")).to_have_text("live", timeout=15_000)
        expect(page.locator("#feed .alert")).to_have_count(4)  # history from the REST API
        expect(page.locator("#timeline svg rect.mark")).to_have_count(4)
        assert page.evaluate("sessionStorage.getItem('anomaly.apiKey')") == dash.key
        assert dash.key not in page.url

        event = anomaly_event(
            "lobby-1",
            "CRITICAL",
            kinds=(AnomalyKind.FALL, AnomalyKind.DISTRESS_SPEECH),
            best_frame=dash.frame,
            transcript="help, I fell and cannot get up",
            caption="an elderly man lying on the floor next to a chair",
        )
        publish(dash.kafka, dash.topic, [event])

        card = page.locator(f'#feed .alert[data-anomaly-id="{event.anomaly_id}"]')
        expect(card).to_be_visible(timeout=15_000)
        expect(page.locator("#feed .alert").first).to_have_attribute("data-anomaly-id", event.anomaly_id)
        expect(card.locator(".severity")).to_have_text("CRITICAL")
        expect(card.locator(".kinds")).to_contain_text("FALL")
        expect(card.locator(".kinds")).to_contain_text("DISTRESS_SPEECH")
        expect(card.locator(".transcript")).to_have_text("help, I fell and cannot get up")
        expect(card.locator(".caption")).to_have_text("an elderly man lying on the floor next to a chair")
        image = card.locator("img")
        image.evaluate("img => img.decode()")  # waits for the presigned evidence frame to load
        assert image.evaluate("img => img.naturalWidth") == 480
        expect(page.locator("#timeline svg rect.mark")).to_have_count(5)

        page.select_option("#camera-filter", "corridor-2")
        expect(page.locator("#feed .alert")).to_have_count(2)
        page.select_option("#camera-filter", "")
        expect(page.locator("#feed .alert")).to_have_count(5)
        expect(page.locator("#status")).to_have_text("live", timeout=15_000)

        # Acknowledge and resolve through the API's actions, as an operator would (anomalies in the projection).
        ward = page.locator(f'#feed .alert[data-anomaly-id="{history[1].anomaly_id}"]')
        ward.locator(".notified summary").click()
        expect(ward.locator(".notified-list")).to_contain_text("ops (webhook) opened: sent - HTTP 204")
        ward.locator(".ack").click()
        expect(ward.locator(".handling")).to_contain_text("acknowledged by key:")
        expect(ward.locator(".ack")).to_be_hidden()
        fight = page.locator(f'#feed .alert[data-anomaly-id="{history[3].anomaly_id}"]')
        fight.locator(".resolution").select_option("FALSE_ALARM")
        fight.locator(".resolve").click()
        expect(fight.locator(".handling")).to_have_text("resolved: false alarm")
        expect(fight.locator(".resolve")).to_be_hidden()
        detail = httpx.get(
            f"{dash.api.base_url}/v1/anomalies/{history[3].anomaly_id}",
            headers={"Authorization": f"Bearer {dash.key}"},
            timeout=10,
        ).json()
        assert (detail["status"], detail["resolution"]) == ("RESOLVED", "FALSE_ALARM")

        out = ROOT / "test-output" / "dashboard.png"
        out.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(out), full_page=True)
        browser.close()
    docs_image = ROOT / "docs" / "img" / "dashboard.png"
    docs_image.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(out, docs_image)
    assert errors == []
