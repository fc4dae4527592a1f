"""The campaign proof-of-play report in headless Chromium (issue 17): staff open it from
the campaign, pick the month, read the figures the test counted itself from the events
it generated, download the CSV and the PDF (rendered to PNG to be looked at); axe finds
nothing; a phone can use it; an editor of one site sees that site only. Screenshots go to
$DS_SCREENSHOTS, else the test's tmp folder."""

from __future__ import annotations

import csv
import io
import subprocess
import threading

import pytest
from playwright.sync_api import expect, sync_playwright
from werkzeug.serving import make_server

from testkit.brokers import free_port
from testkit.browsers import assert_accessible, launch_chromium, shot, sign_in
from tests.analytics.pages import shots_dir

pytestmark = pytest.mark.browser
# Elements past the right edge of the viewport, outside the tables' own scrolling regions.
_WIDER_THAN_THE_PHONE = """
Array.from(document.querySelectorAll('body *'))
  .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
  .filter(e => !e.closest('.table-scroll'))
  .map(e => `${e.tagName}#${e.id}.${e.className}`)
"""


@pytest.fixture
def served(month):
    app, campaign_id, tally, _store = month
    port = free_port()
    httpd = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}", campaign_id, tally
    httpd.shutdown()
    thread.join(10)


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_staff_read_a_months_proof_of_play_and_download_it(served, tmp_path):
    base, campaign_id, tally = served
    shots = shots_dir(tmp_path)
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        sign_in(page, base, "comms")
        page.goto(f"{base}/campaigns/{campaign_id}")
        page.get_by_role("link", name="Proof-of-play report").click()
        expect(
            page.get_by_role("heading", name="Proof of play: Autumn holiday programme")
        ).to_be_visible()
        page.get_by_label("Month", exact=True).select_option(label="March 2026")
        page.get_by_role("button", name="Show month").click()
        expect(page.get_by_label("From", exact=True)).to_have_value("01/03/2026")
        expect(page.get_by_label("To", exact=True)).to_have_value("31/03/2026")
        totals = page.get_by_role("list", name="Totals for the period")
        expect(totals).to_contain_text(f"{tally.total_plays:,} plays")
        expect(totals).to_contain_text(f"{tally.total_shown_s / 60:,.1f} min on screen")
        expect(totals).to_contain_text("4 of 4 screens reached")
        by_site = page.get_by_role("region", name="By site")
        for site, name in (("riverton", "Riverton"), ("bondi", "Bondi")):
            row = by_site.get_by_role("row", name=name)
            expect(row.get_by_role("cell").nth(0)).to_have_text(f"{tally.plays[site]:,}")
            expect(row.get_by_role("cell").nth(1)).to_have_text(
                f"{tally.shown_s[site] / 60:,.1f} min"
            )
        expect(
            page.get_by_role(
                "img", name="Time on screen against time on air, per screen, lowest first"
            )
        ).to_be_visible()
        shot(page, shots / "campaign-report.png", full_page=True)
        assert_accessible(page, "the campaign report")

        with page.expect_download() as download:
            page.get_by_role("link", name="Download CSV").click()
        assert (
            download.value.suggested_filename
            == f"proof-of-play-{campaign_id}-2026-03-01-2026-03-31.csv"
        )
        rows = list(csv.DictReader(io.StringIO(download.value.path().read_text(encoding="utf-8"))))
        found = {(r["day"], r["screen_id"]): int(r["plays"]) for r in rows if int(r["plays"])}
        assert found == {key: plays for key, (plays, _) in tally.day_screen.items()}

        with page.expect_download() as download:
            page.get_by_role("link", name="Download PDF").click()
        pdf = shots / "campaign-report.pdf"
        download.value.save_as(pdf)
        subprocess.run(
            ["pdftoppm", "-r", "70", "-png", str(pdf), str(shots / "campaign-report-pdf")],
            check=True,
            timeout=60,
        )
        pages = sorted(shots.glob("campaign-report-pdf-*.png"))
        assert len(pages) >= 2
        text = subprocess.run(
            ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, check=True, timeout=60
        ).stdout.decode()
        assert f"{tally.total_plays:,}" in text and "Riverton" in text and "Bondi" in text

        # On a phone the page fits the width; the wide tables scroll inside their regions.
        page.set_viewport_size({"width": 390, "height": 844})
        page.reload()
        wide = page.evaluate(_WIDER_THAN_THE_PHONE)
        assert not wide, wide
        expect(page.get_by_role("button", name="Show month")).to_be_visible()
        shot(page, shots / "campaign-report-phone.png", full_page=True)
        assert_accessible(page, "the campaign report on a phone")

        # An editor of Bondi only sees Bondi's screens and figures.
        other = browser.new_page(viewport={"width": 1280, "height": 900})
        sign_in(other, base, "bondi-editor")
        other.goto(f"{base}/analytics/campaigns/{campaign_id}/report?month=2026-03")
        expect(other.get_by_role("list", name="Totals for the period")).to_contain_text(
            f"{tally.plays['bondi']:,} plays"
        )
        expect(
            other.get_by_role("region", name="By site").get_by_role("row", name="Riverton")
        ).to_have_count(0)
        expect(other.get_by_text("You see your sites only.")).to_be_visible()
        shot(other, shots / "campaign-report-one-site.png", full_page=True)
        browser.close()
