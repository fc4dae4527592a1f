"""The campaign proof-of-play report (issue 17) over a month of generated events, on the
CMS over SQLite and PostgreSQL with the real SQLite analytics store: the page's, the
CSV's and the PDF's figures against what the test counted itself."""

from __future__ import annotations

import csv
import io
import re
import subprocess
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from central_cms import db as cms_db
from central_cms import fleet
from central_cms import models as m
from central_cms.runtime import runtime
from testkit.staff import login
from tests.analytics.campaign_month import SCREENS
from tests.analytics.pages import shots_dir


def _cells(html: str, attribute: str, key: str) -> list[str]:
    row = re.search(rf'<tr {attribute}="{re.escape(key)}">(.*?)</tr>', html, re.S)
    assert row, f"no row {attribute}={key}"
    return [
        re.sub(r"<[^>]+>", "", c).strip()
        for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row.group(1), re.S)
    ]


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:,.1f} min"


def test_a_months_report_shows_the_plays_and_seconds_the_screens_sent(month):
    app, campaign_id, tally, _store = month
    client = app.test_client()
    login(client, "comms")
    page = client.get(f"/analytics/campaigns/{campaign_id}/report?month=2026-03")
    assert page.status_code == 200
    html = page.text
    assert f'data-figure="plays">{tally.total_plays:,}<' in html
    assert f'data-figure="minutes">{_minutes(tally.total_shown_s)}<' in html
    for site in ("riverton", "bondi"):
        cells = _cells(html, "data-site", site)
        assert cells[1] == f"{tally.plays[site]:,}", site
        assert cells[2] == _minutes(tally.shown_s[site]), site
    for device_id in SCREENS:
        cells = _cells(html, "data-screen", device_id)
        assert cells[2] == f"{tally.screen_plays[device_id]:,}", device_id
        # on air: every March day from 07:00 to 09:00
        assert cells[4] == _minutes(31 * 2 * 3600), device_id
    assert "4 of 4</strong> screens reached" in html
    assert "2 of 2</strong> sites reached" in html
    alert = _cells(html, "data-other", "alert")
    default = _cells(html, "data-other", "default")
    assert alert[0] == "Alert: heat-warning" and alert[2] == f"{tally.alert_plays:,}"
    assert default[2] == f"{tally.default_plays:,}"
    assert f"{tally.promos_clicked} of {tally.promos_shown}</strong> Wi-Fi promotions" in html


def test_the_csv_holds_every_day_and_screen_as_counted(month):
    app, campaign_id, tally, _store = month
    client = app.test_client()
    login(client, "comms")
    answer = client.get(f"/analytics/campaigns/{campaign_id}/report.csv?month=2026-03")
    assert answer.status_code == 200
    assert answer.mimetype == "text/csv"
    assert "2026-03-01-2026-03-31.csv" in answer.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    found = {
        (r["day"], r["screen_id"]): (int(r["plays"]), float(r["shown_s"]))
        for r in rows
        if int(r["plays"])
    }
    assert found.keys() == tally.day_screen.keys()
    for key, (plays, shown) in tally.day_screen.items():
        assert found[key][0] == plays, key
        assert found[key][1] == pytest.approx(shown, abs=1e-3), key
    assert {r["day"] for r in rows} == {f"2026-03-{d:02d}" for d in range(1, 32)}
    assert all(float(r["on_air_s"]) == 2 * 3600 for r in rows)


def _pdf_pages(pdf: bytes, folder: Path) -> list[Path]:
    path = folder / "report.pdf"
    path.write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-r", "60", "-png", str(path), str(folder / "page")], check=True, timeout=60
    )
    return sorted(folder.glob("page-*.png"))


def test_the_pdf_opens_with_the_figures_and_the_charts(month, tmp_path):
    app, campaign_id, tally, _store = month
    client = app.test_client()
    login(client, "comms")
    answer = client.get(f"/analytics/campaigns/{campaign_id}/report.pdf?month=2026-03")
    assert answer.status_code == 200
    assert answer.mimetype == "application/pdf"
    assert answer.data.startswith(b"%PDF-")
    text = subprocess.run(
        ["pdftotext", "-layout", "-", "-"],
        input=answer.data,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.decode()
    assert "Proof of play: Autumn holiday programme" in text
    assert f"{tally.total_plays:,}" in text
    assert "By screen" in text and "Alerts and default content on these screens" in text
    pages = _pdf_pages(answer.data, shots_dir(tmp_path))
    assert len(pages) >= 2
    first = Image.open(pages[0]).convert("L")
    # A real page: mostly paper, with ink on it (text, tables and the charts' bars).
    dark = sum(1 for v in first.getdata() if v < 128)
    assert 0.005 < dark / (first.width * first.height) < 0.5


def test_an_editor_of_one_site_sees_only_that_sites_figures(month):
    app, campaign_id, tally, _store = month
    client = app.test_client()
    login(client, "bondi-editor")
    html = client.get(f"/analytics/campaigns/{campaign_id}/report?month=2026-03").text
    bondi = tally.plays["bondi"]
    assert f'data-figure="plays">{bondi:,}<' in html
    assert 'data-site="riverton"' not in html
    assert "sig-riverton" not in html
    assert "You see your sites only." in html
    rows = list(
        csv.DictReader(
            io.StringIO(
                client.get(f"/analytics/campaigns/{campaign_id}/report.csv?month=2026-03").text
            )
        )
    )
    assert rows and {r["site_id"] for r in rows} == {"bondi"}
    # asking for another site's report gives them their own site's still
    other = client.get(f"/analytics/campaigns/{campaign_id}/report?month=2026-03&site=riverton")
    assert f'data-figure="plays">{bondi:,}<' in other.text


def test_a_report_for_one_site_of_the_campaign(month):
    app, campaign_id, tally, _store = month
    client = app.test_client()
    login(client, "comms")
    url = f"/analytics/campaigns/{campaign_id}/report?month=2026-03&site=riverton"
    html = client.get(url).text
    assert f'data-figure="plays">{tally.plays["riverton"]:,}<' in html
    assert 'data-site="bondi"' not in html
    assert "2 of 2</strong> screens reached" in html
    csv_link = re.search(r'href="([^"]*report\.csv[^"]*)"', html)
    assert csv_link and "site=riverton" in csv_link.group(1)


def _token(app, username: str) -> dict[str, str]:
    session = cms_db.database(app).sessions()
    user = session.scalars(select(m.User).where(m.User.username == username)).one()
    token = fleet.create_api_token(session, runtime(app), user, "reports")
    session.commit()
    session.close()
    return {"Authorization": f"Bearer {token}"}


def test_the_api_gives_the_same_report_as_json_csv_and_pdf(month):
    app, campaign_id, tally, _store = month
    client = app.test_client()
    headers = _token(app, "comms")
    answer = client.get(f"/api/v1/campaigns/{campaign_id}/report?month=2026-03", headers=headers)
    assert answer.status_code == 200, answer.text
    body = answer.json
    assert (body["start"], body["end"]) == ("2026-03-01", "2026-03-31")
    assert body["total"]["plays"] == tally.total_plays
    assert body["total"]["shown_s"] == pytest.approx(tally.total_shown_s)
    assert {s["site_id"]: s["plays"] for s in body["by_site"]} == dict(tally.plays)
    assert {s["device_id"]: s["shown_s"] for s in body["by_screen"]} == pytest.approx(
        dict(tally.screen_shown_s)
    )
    sources = {o["source"]: o["plays"] for o in body["other_content"]}
    assert sources == {"alert": tally.alert_plays, "default": tally.default_plays}
    assert (body["promotions_shown"], body["promotions_clicked"]) == (
        tally.promos_shown,
        tally.promos_clicked,
    )
    csv_answer = client.get(
        f"/api/v1/campaigns/{campaign_id}/report.csv?start=2026-03-01&end=2026-03-31",
        headers=headers,
    )
    assert csv_answer.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(csv_answer.text)))
    assert sum(int(r["plays"]) for r in rows) == tally.total_plays
    pdf = client.get(f"/api/v1/campaigns/{campaign_id}/report.pdf?month=2026-03", headers=headers)
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF-")
    editor = _token(app, "bondi-editor")
    limited = client.get(f"/api/v1/campaigns/{campaign_id}/report?month=2026-03", headers=editor)
    assert [s["site_id"] for s in limited.json["by_site"]] == ["bondi"]
    assert limited.json["total"]["plays"] == tally.plays["bondi"]
    assert client.get("/api/v1/campaigns/nope/report", headers=headers).status_code == 404
    assert client.get(f"/api/v1/campaigns/{campaign_id}/report").status_code == 401


def test_report_schedules_through_the_api(month):
    app, campaign_id, _tally, _store = month
    client = app.test_client()
    headers = _token(app, "comms")
    url = f"/api/v1/campaigns/{campaign_id}/report-schedules"
    made = client.post(
        url,
        json={"recipients": ["Manager@City.gov", "audit@city.gov"], "frequency": "monthly"},
        headers=headers,
    )
    assert made.status_code == 201, made.text
    assert made.json["recipients"] == ["manager@city.gov", "audit@city.gov"]
    bad = client.post(
        url, json={"recipients": ["x\r\nBcc: a@b.c"], "frequency": "monthly"}, headers=headers
    )
    assert bad.status_code == 422
    assert [s["id"] for s in client.get(url, headers=headers).json] == [made.json["id"]]
    gone = client.delete(f"{url}/{made.json['id']}", headers=headers)
    assert gone.status_code == 204
    assert client.get(url, headers=headers).json == []
    assert client.delete(f"{url}/{made.json['id']}", headers=headers).status_code == 404
    assert client.delete(f"{url}/{2**31 + 7}", headers=headers).status_code == 404
