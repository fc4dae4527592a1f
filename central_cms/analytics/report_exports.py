"""The campaign report as a manager reads it: charts, the CSV, the JSON the API answers
and the PDF (WeasyPrint, from the same HTML the page prints with its charts).

Percentages say something: time on screen against the time the schedule had the
campaign on air (share of voice achieved), or against the guarantee when it has one,
per day and per screen, with the screens that fell short first.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from markupsafe import Markup

from central_cms.analytics.charts import bar_chart, column_chart
from central_cms.analytics.proof_of_play import CampaignReport, Figures, Row
from central_cms.spreadsheet import csv_cell

MAX_SCREENS_CHARTED = 20


def ratio(figures: Figures, guaranteed: bool) -> float | None:
    """What the charts and the tables' last column show for a row."""
    return figures.achieved if guaranteed else figures.share


def _day_label(day: str, days: int) -> str:
    return f"{day[8:10]}/{day[5:7]}" if days <= 62 else f"{day[5:7]}/{day[2:4]}"


def report_charts(result: CampaignReport) -> list[tuple[str, str, Markup]]:
    """(heading, what it tells, chart) in the order a manager reads them."""
    guaranteed = bool(result.guarantee_s)
    against = "the guarantee" if guaranteed else "time on air"
    days = len(result.by_day)
    per_day = [
        (_day_label(row.key, days), round(100 * (ratio(row.figures, guaranteed) or 0), 1))
        for row in result.by_day
    ]
    # The screens that fell furthest short first: that is what a manager acts on.
    screens = sorted(
        (row for row in result.by_screen if row.figures.window_s),
        key=lambda r: (ratio(r.figures, guaranteed) or 0, r.site, r.label),
    )[:MAX_SCREENS_CHARTED]
    if guaranteed:
        tells = "100% means every second guaranteed was shown; below 99% is short."
    else:
        tells = "The part of the scheduled time the campaign was on screen, shared with others."
    return [
        (
            f"Time on screen against {against}, per day",
            tells,
            column_chart(per_day, title=f"Time on screen against {against}, per day (%)", unit="%"),
        ),
        (
            f"Time on screen against {against}, per screen",
            f"Lowest first; at most {MAX_SCREENS_CHARTED} screens.",
            bar_chart(
                [(f"{r.label} ({r.site})", ratio(r.figures, guaranteed) or 0.0) for r in screens],
                title=f"Time on screen against {against}, per screen, lowest first",
                percent=True,
            ),
        ),
        (
            "Minutes on screen per day",
            "All the campaign's screens together.",
            column_chart(
                [
                    (_day_label(r.key, days), round(r.figures.shown_s / 60, 1))
                    for r in result.by_day
                ],
                title="Minutes on screen per day",
                unit="min",
            ),
        ),
    ]


CSV_HEADER = (
    "day",
    "site_id",
    "site",
    "screen_id",
    "screen",
    "plays",
    "shown_s",
    "play_length_s",
    "on_air_s",
    "share_of_voice",
    "guaranteed_s",
)


def report_csv(result: CampaignReport) -> str:
    """One row per local day and screen (the campaign's plays and its time on air), every
    cell safe to open in a spreadsheet."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADER)
    for (day, device), f in sorted(result.by_day_and_screen.items()):
        screen = result.screens[device]
        share = f"{f.share:.4f}" if f.share is not None else ""
        cells = (
            day,
            screen.site_id,
            screen.site,
            device,
            screen.name,
            f.plays,
            round(f.shown_s, 3),
            round(f.play_scheduled_s, 3),
            round(f.window_s, 3),
            share,
            round(f.guaranteed_s, 3) if result.guarantee_s else "",
        )
        writer.writerow([csv_cell(v) for v in cells])
    return buffer.getvalue()


def _figures_json(f: Figures) -> dict[str, Any]:
    return {
        "plays": f.plays,
        "shown_s": round(f.shown_s, 3),
        "play_length_s": round(f.play_scheduled_s, 3),
        "on_air_s": round(f.window_s, 3),
        "guaranteed_s": round(f.guaranteed_s, 3),
        "share_of_voice": f.share,
        "achieved": f.achieved,
    }


def _rows_json(rows: tuple[Row, ...], key: str) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        entry: dict[str, Any] = {key: row.key, "name": row.label, **_figures_json(row.figures)}
        if row.site:
            entry["site"] = row.site
        out.append(entry)
    return out


def report_json(result: CampaignReport) -> dict[str, Any]:
    """The API's answer (`CampaignReportOut`)."""
    return {
        "campaign_id": result.campaign_id,
        "name": result.name,
        "start": result.start.isoformat(),
        "end": result.end.isoformat(),
        "guaranteed_s_per_hour": result.guarantee_s,
        "total": _figures_json(result.total),
        "screens_targeted": result.screens_targeted,
        "screens_reached": result.screens_reached,
        "sites_targeted": result.sites_targeted,
        "sites_reached": result.sites_reached,
        "promotions_shown": result.promotions.shown,
        "promotions_clicked": result.promotions.clicked,
        "scans": result.scans,
        "by_site": _rows_json(result.by_site, "site_id"),
        "by_screen": _rows_json(result.by_screen, "device_id"),
        "by_day": _rows_json(result.by_day, "day"),
        "by_item": _rows_json(result.by_item, "item_id"),
        "other_content": [
            {
                "source": o.source,
                "alert_id": o.key,
                "plays": o.plays,
                "shown_s": round(o.shown_s, 3),
                "screens": o.screens,
            }
            for o in result.other
        ],
    }


def render_pdf(html: str) -> bytes:
    """The report page's print HTML as PDF. Nothing is fetched: the charts are inline SVG
    and the styles inline, so no URL in the HTML can reach the network."""
    from PIL import ImageFile

    # WeasyPrint's import turns on Pillow's LOAD_TRUNCATED_IMAGES for the whole process,
    # which would let a damaged upload through the media checks after the first PDF. Our
    # PDFs draw no raster images, so the flag goes back as it was.
    accepting_truncated = ImageFile.LOAD_TRUNCATED_IMAGES
    from weasyprint import HTML  # imported here: Pango loads only when a PDF is asked for

    ImageFile.LOAD_TRUNCATED_IMAGES = accepting_truncated

    def refuse(url: str, *args: object, **kwargs: object) -> dict[str, object]:
        raise ValueError(f"the report PDF fetches nothing ({url})")

    pdf = HTML(string=html, url_fetcher=refuse).write_pdf()
    assert pdf is not None  # write_pdf without a target returns the bytes
    return bytes(pdf)
