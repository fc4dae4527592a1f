"""Test pictures made with Pillow (no binary files in the repo)."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont


def png(width: int = 64, height: int = 32, colour: str = "#336699") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="PNG")
    return out.getvalue()


def jpeg_rotated_with_gps(width: int = 60, height: int = 20) -> bytes:
    """A landscape JPEG whose EXIF says "rotate 90°" (orientation 6) and carries GPS."""
    image = Image.new("RGB", (width, height), "#cc0000")
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 CW to display
    exif[0x8825] = {1: "S", 2: (31.0, 57.0, 0.0)}  # GPSInfo IFD
    exif[0x010E] = "secret description"
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


FONTS = Path(__file__).parents[2] / "signage_player" / "fonts"


def _font(px: int, *, bold: bool = False) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(
        str(FONTS / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")), px
    )


def small_print_poster(format: str = "PNG") -> bytes:
    """A 1920x1080 event poster as a print designer makes it: a big headline, a photo-like
    band, and paragraphs of 22 px terms and conditions."""
    image = Image.new("RGB", (1920, 1080), "#f4efe6")
    draw = ImageDraw.Draw(image)
    for y in range(300, 600):
        draw.line([(0, y), (1920, y)], fill=(40 + y // 8, 120, 200 - y // 6))
    draw.text((80, 60), "School holidays at Riverton", font=_font(150, bold=True), fill="#1d3557")
    small = _font(22)
    terms = (
        "Sports camps for ages 5 to 12, swim clinics, art workshops and games. Bookings "
        "essential at the front desk. Conditions apply; sessions may change without notice."
    )
    for row in range(12):
        draw.text(
            (80, 640 + row * 32), terms[row * 7 :] + terms[: row * 7], font=small, fill="#222"
        )
    out = io.BytesIO()
    image.save(out, format=format)
    return out.getvalue()


def bold_led_design() -> bytes:
    """A 192x96 design made for a roadside LED: two words, bold, high contrast."""
    image = Image.new("RGB", (192, 96), "#000000")
    draw = ImageDraw.Draw(image)
    draw.text((10, 8), "HOLIDAY", font=_font(34, bold=True), fill="#ffcc00")
    draw.text((10, 52), "CAMPS", font=_font(34, bold=True), fill="#ffffff")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
