"""How an item looks on a screen profile, rendered with Pillow, and when it next shows.
Pure: bytes and values in, PNG bytes and instants out."""

from __future__ import annotations

import io
import textwrap
from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from PIL import Image, ImageDraw, ImageFont

from central_cms.media import IMAGE_FORMATS, fitted, video_poster
from devices.protocol import Fit, Schedule, TextSlide
from devices.schedule import next_change, schedule_open

PREVIEW_MAX_PX = 480


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=max(8, size))


def text_slide(slide: TextSlide, width: int, height: int) -> Image.Image:
    canvas = Image.new("RGB", (width, height), slide.background)
    draw = ImageDraw.Draw(canvas)
    small = height < 300  # roadside LED canvases: few, large letters
    title_px = max(10, height // (4 if small else 6))
    body_px = max(8, height // (7 if small else 14))
    margin = width // 20
    y = height // 8
    for line in textwrap.wrap(slide.title, max(8, int(width / (title_px * 0.55))))[:3]:
        draw.text((margin, y), line, fill=slide.foreground, font=_font(title_px))
        y += int(title_px * 1.2)
    details = " · ".join(part for part in (slide.when, slide.venue) if part)
    for line in textwrap.wrap(slide.body, max(10, int(width / (body_px * 0.55))))[:4] + (
        [details] if details else []
    ):
        if y + body_px > height:
            break
        draw.text((margin, y), line, fill=slide.foreground, font=_font(body_px))
        y += int(body_px * 1.3)
    return canvas


def render(
    *,
    width: int,
    height: int,
    image_bytes: bytes | None = None,
    text: TextSlide | None = None,
    is_video: bool = False,
    fit: Fit = Fit.FIT,
    background: str = "#000000",
) -> bytes:
    """The item on the profile's canvas, scaled down to at most PREVIEW_MAX_PX wide."""
    if text is not None:
        frame = text_slide(text, width, height)
    elif is_video:
        with Image.open(io.BytesIO(video_poster().data)) as poster:
            frame = fitted(poster, width, height, Fit.FIT, "#000000")
    elif image_bytes is not None:
        with Image.open(io.BytesIO(image_bytes), formats=IMAGE_FORMATS) as image:
            frame = fitted(image, width, height, fit, background)
    else:
        frame = Image.new("RGB", (width, height), "#000000")
    scale = min(1.0, PREVIEW_MAX_PX / width)
    if scale < 1.0:
        frame = frame.resize((int(width * scale), max(1, int(height * scale))))
    elif width < 240:
        # Tiny LED canvases: enlarge with hard edges so staff see the real pixels.
        factor = PREVIEW_MAX_PX // width
        frame = frame.resize((width * factor, height * factor), Image.Resampling.NEAREST)
    out = io.BytesIO()
    frame.save(out, format="PNG")
    return out.getvalue()


def upcoming_windows(
    schedules: Sequence[Schedule], after: datetime, tz: ZoneInfo, *, limit: int = 5
) -> list[tuple[datetime, datetime | None]]:
    """The next few (opens, closes) spans in local time, from the shared evaluator."""
    spans: list[tuple[datetime, datetime | None]] = []
    horizon = after + timedelta(days=60)
    at = after
    is_open = not schedules or any(schedule_open(s, at, tz) for s in schedules)
    start: datetime | None = at if is_open else None
    while len(spans) < limit and at < horizon:
        change = next_change(schedules, at, tz)
        if change is None:
            if start is not None:
                spans.append((start.astimezone(tz), None))
            break
        at = change
        now_open = any(schedule_open(s, at, tz) for s in schedules)
        if now_open and start is None:
            start = at
        elif not now_open and start is not None:
            spans.append((start.astimezone(tz), at.astimezone(tz)))
            start = None
    return spans
