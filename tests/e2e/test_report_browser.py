"""The HTML report of a real `anomaly analyze` run opens in headless Chromium, self-contained, and a screenshot
of it is kept for the README (docs/img/report.png) and the test output (test-output/report.png)."""

from __future__ import annotations

import shutil

import pytest

from tests.browser import CHROMIUM, launch_chromium
from tests.e2e.analyze_helpers import ROOT, Analysis

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.integration]


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian chromium is installed by `make` (scripts/bootstrap-system.sh)"
)
def test_report_opens_in_headless_chromium(analysis: Analysis) -> None:
    from playwright.sync_api import sync_playwright

    page_file = analysis.report_dir / "report.html"
    requests: list[str] = []
    errors: list[str] = []
    out = ROOT / "test-output" / "report.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900}, device_scale_factor=1)
            page.on("request", lambda r: requests.append(r.url))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(page_file.as_uri())
            assert page.title().startswith("Anomaly report")
            assert page.locator("section.camera").count() == 3
            assert page.locator("section#cam-fall svg polyline").count() >= 2  # pose and audio lanes
            assert page.locator("section#cam-fall .card").count() >= 1
            assert page.locator("section#cam-benign .ok").count() == 1
            thumbnails = page.locator("section#cam-fall .card img")
            assert thumbnails.count() >= 1
            assert thumbnails.first.evaluate("img => img.complete && img.naturalWidth > 0")
            page.screenshot(path=str(out), full_page=True)
        finally:
            browser.close()
    # Self-contained: nothing but the file itself (data: URLs are not requests).
    assert [u for u in requests if not u.startswith(("file:", "data:"))] == []
    assert errors == []
    assert out.stat().st_size > 10_000
    docs = ROOT / "docs" / "img" / "report.png"
    docs.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(out, docs)
