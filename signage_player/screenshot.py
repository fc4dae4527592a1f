"""The `screenshot` command's answer: the output as it is, scaled down to the configured
size, with what that very frame shows (every zone is in it: the display holds the frame
composed of the layout's tiles)."""

from __future__ import annotations

import base64
import io

from PIL import Image

from devices.device_kind import CommandOutcome
from devices.protocol import NowShowing


def screenshot_outcome(png: bytes, showing: NowShowing | None, max_px: int) -> CommandOutcome:
    image = Image.open(io.BytesIO(png))
    if max(image.size) > max_px:
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
