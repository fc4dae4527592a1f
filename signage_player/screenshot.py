"""The `screenshot` command's answer: the output as it is, scaled down to the configured
size, with what that very frame shows (every zone is in it: the display holds the frame
composed of the layout's tiles). A screen mounted on its side is turned back upright, so
staff see what passers-by see (issue 18)."""

from __future__ import annotations

import base64
import io

from PIL import Image

from devices.device_kind import CommandOutcome
from devices.protocol import NowShowing
from signage_player.panel import upright


def screenshot_outcome(
    png: bytes, showing: NowShowing | None, max_px: int, *, rotation_deg: int = 0
) -> CommandOutcome:
    image: Image.Image = Image.open(io.BytesIO(png))
    if rotation_deg:
        image = upright(image.convert("RGB"), rotation_deg)
    if max(image.size) > max_px or rotation_deg:
        image.thumbnail((max_px, max_px), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        png = buffer.getvalue()
    return CommandOutcome(
        ok=True,
        detail=f"{image.width}x{image.height} PNG",
        data={
            "content_type": "image/png",
            "width_px": image.width,
            "height_px": image.height,
            "png_base64": base64.b64encode(png).decode("ascii"),
            # What this very frame is, so the CMS never pairs it with a later status.
            "showing_item_id": showing.item_id if showing else None,
            "showing_campaign_id": showing.campaign_id if showing else None,
            "showing_alert_id": showing.alert_id if showing else None,
            "showing_since": showing.since.isoformat() if showing else None,
        },
    )
