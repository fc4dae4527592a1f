"""Test pictures made with Pillow (no binary files in the repo)."""

from __future__ import annotations

import io

from PIL import Image


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


def mp4_header() -> bytes:
    return b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64
