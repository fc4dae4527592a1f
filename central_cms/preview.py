"""How an item looks on a screen profile, rendered with Pillow, and when it next shows.
Pure: bytes and values in, PNG bytes and instants out."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from PIL import Image

from central_cms.media import IMAGE_FORMATS, fitted, video_poster
from devices.protocol import Fit, Schedule, TextSlide
from devices.schedule import next_change, schedule_open
from signage_player.render import render_text_slide

PREVIEW_MAX_PX = 480


def render(
    *,
    width: int,
    height: int,
    image_bytes: bytes | None = None,
    text: TextSlide | None = None,
    is_video: bool = False,
    fit: Fit = Fit.FIT,
    background: str = "#000000",
    title_only: bool = False,
) -> bytes:
    """The item on the profile's canvas, scaled down to at most PREVIEW_MAX_PX wide.
    Text is drawn by the player's own renderer, so the preview is what the screen shows
    (`title_only`: a roadside profile)."""
    if text is not None:
        frame = render_text_slide(text, (width, height), title_only=title_only)
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
