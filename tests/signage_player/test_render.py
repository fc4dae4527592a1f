from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from devices.protocol import Alert, Fit, Severity, TextSlide
from signage_player.render import (
    RenderError,
    render_alert,
    render_identify,
    render_image,
    render_text_slide,
    to_output,
)
from signage_player.textfit import MIN_LEGIBLE_PX, font, layout_slide, text_width, wrap
from testkit.messages import T0

RED = (255, 0, 0)
BLUE = (0, 0, 255)


def _near(pixel: tuple[int, ...], colour: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], colour, strict=True))


def _two_tone(size: tuple[int, int]) -> Image.Image:
    """Red top half, blue bottom half: which way is up is visible."""
    image = Image.new("RGB", size, BLUE)
    image.paste(RED, (0, 0, size[0], size[1] // 2))
    return image


def _save(image: Image.Image, path: Path, fmt: str, **options: object) -> Path:
    image.save(path, format=fmt, **options)
    return path


def test_large_jpeg_fills_the_canvas_exactly(tmp_path: Path) -> None:
    photo = _save(_two_tone((4000, 3000)), tmp_path / "p.jpg", "JPEG", quality=85)
    frame = render_image(photo, (1920, 1080), Fit.FILL)
    assert frame.size == (1920, 1080)
    assert frame.mode == "RGB"
    # 4:3 cropped to 16:9 keeps the middle: red above, blue below, no bars anywhere.
    assert _near(frame.getpixel((0, 10)), RED)  # type: ignore[arg-type]
    assert _near(frame.getpixel((1919, 1070)), BLUE)  # type: ignore[arg-type]


def test_fit_shows_the_whole_image_with_bars_in_the_given_colour(tmp_path: Path) -> None:
    photo = _save(_two_tone((400, 300)), tmp_path / "p.png", "PNG")
    frame = render_image(photo, (1920, 1080), Fit.FIT, bars=(0, 58, 112))
    assert frame.getpixel((5, 540)) == (0, 58, 112)  # left bar
    assert _near(frame.getpixel((960, 5)), RED)  # type: ignore[arg-type]  # image reaches the top
    assert _near(frame.getpixel((960, 1075)), BLUE)  # type: ignore[arg-type]


def test_letterbox_bars_are_black_whatever_the_site_colour(tmp_path: Path) -> None:
    photo = _save(_two_tone((1000, 200)), tmp_path / "wide.png", "PNG")
    frame = render_image(photo, (1920, 1080), Fit.LETTERBOX, bars=(0, 58, 112))
    assert frame.getpixel((960, 5)) == (0, 0, 0)
    assert frame.getpixel((960, 1075)) == (0, 0, 0)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_phone_photo_is_shown_upright_from_its_exif_orientation(tmp_path: Path, fmt: str) -> None:
    upright = _two_tone((1200, 1600))  # portrait, red on top
    # Orientation 6 means "rotate 90 clockwise to view": store it turned the other way.
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = _save(stored, tmp_path / f"phone.{fmt.lower()}", fmt, exif=exif.tobytes())
    frame = render_image(path, (300, 400), Fit.FILL)
    assert _near(frame.getpixel((150, 20)), RED)  # type: ignore[arg-type]
    assert _near(frame.getpixel((150, 380)), BLUE)  # type: ignore[arg-type]


def test_half_downloaded_jpeg_is_refused_rather_than_shown_partly(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    _two_tone((2000, 1500)).save(buffer, format="JPEG")
    half = tmp_path / "half.jpg"
    half.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(RenderError):
        render_image(half, (1920, 1080), Fit.FILL)


def test_a_file_that_is_not_an_image_is_a_render_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"<html>not an image</html>")
    with pytest.raises(RenderError):
        render_image(junk, (192, 96), Fit.FIT)


def test_wrapped_lines_never_exceed_the_width() -> None:
    face = font(40)
    text = (
        "Riverton Library school holiday programme " * 5 + "Supercalifragilisticexpialidocious" * 3
    )
    lines = wrap(text, face, 500)
    assert len(lines) > 3
    assert all(face.getlength(line) <= 500 for line in lines)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")


def _ink_rows(image: Image.Image, background: tuple[int, int, int]) -> list[int]:
    width, height = image.size
    return [
        y
        for y in range(height)
        if any(image.getpixel((x, y)) != background for x in range(0, width, 2))
    ]


def test_text_slide_shows_title_date_and_venue_inside_the_canvas() -> None:
    slide = TextSlide(
        title="Storytime for under-fives",
        when="Tuesdays 10:30",
        venue="Riverton Library, children's area",
        body="Songs, rhymes and stories. Free, no booking needed. " * 20,
    )
    frame = render_text_slide(slide, (1920, 1080))
    assert frame.size == (1920, 1080)
    ink = _ink_rows(frame, (0, 58, 112))
    assert ink, "nothing was drawn"
    margin = round(1080 * 0.06)
    assert min(ink) >= margin - 2
    assert max(ink) <= 1080 - margin // 2  # a long body is shortened, not cut at the edge


def test_roadside_alert_title_is_large_enough_to_read() -> None:
    alert = Alert(
        id="fire-1",
        scope="all",
        severity=Severity.EMERGENCY,
        title="ROAD CLOSED",
        body="Detour via Albany Hwy (not shown on roadside)",
        issued_at=T0,
        expires_at=T0.replace(hour=6),
    )
    frame = render_alert(alert, (192, 96), title_only=True)
    ink = _ink_rows(frame, (190, 0, 0))
    # The title runs at least a quarter of the panel's height: readable from a car.
    assert max(ink) - min(ink) >= 96 // 4
    assert frame.getpixel((0, 0)) == (190, 0, 0)


def test_identify_names_the_device_and_site() -> None:
    frame = render_identify("sig-riverton-lib-foyer-01", "Riverton Library", (1920, 1080))
    assert _ink_rows(frame, (255, 255, 255))


def test_roadside_canvas_goes_pixel_for_pixel_to_the_top_left_of_the_output() -> None:
    canvas = _two_tone((192, 96))
    output = to_output(canvas, (1920, 1080), pixel_exact=True)
    assert output.size == (1920, 1080)
    assert output.crop((0, 0, 192, 96)).tobytes() == canvas.tobytes()
    assert output.getpixel((192, 0)) == (0, 0, 0)
    assert output.getpixel((0, 96)) == (0, 0, 0)
    assert output.crop((192, 0, 1920, 1080)).getbbox() is None  # all black


# Issue 13, point 18: the LED showed only "School holidays at Riverton".
RIVERTON = "School holidays at Riverton Leisureplex — sports camps…"
LED = (192, 96)


def _ink_box(frame: Image.Image, background: tuple[int, int, int]) -> tuple[int, int, int, int]:
    box = ImageChops.difference(frame, Image.new("RGB", frame.size, background)).getbbox()
    assert box is not None, "nothing was drawn"
    return box


def _ink_bands(frame: Image.Image, background: tuple[int, int, int]) -> int:
    rows = set(_ink_rows(frame, background))
    return sum(1 for y in rows if y - 1 not in rows)


def test_shrink_to_fit_shows_every_word_of_the_riverton_title_inside_the_led_canvas() -> None:
    slide = TextSlide(title=RIVERTON, shrink_to_fit=True, background="#000000")
    frame = render_text_slide(slide, LED, title_only=True)
    layout = layout_slide(slide, LED, title_only=True)
    (title,) = layout.blocks
    assert layout.fits
    assert " ".join(title.lines) == RIVERTON  # every word, none cut or broken
    assert title.font_px >= MIN_LEGIBLE_PX
    left, top, right, bottom = _ink_box(frame, (0, 0, 0))
    assert left > 0 and top > 0 and right < LED[0] and bottom < LED[1]
    widest = max(text_width(line, title.face) for line in title.lines)
    assert widest <= layout.width_px
    assert abs((right - left) - widest) <= 3  # the ink is the widest line, not a clipped one
    assert _ink_bands(frame, (0, 0, 0)) == len(title.lines) == 3


def test_a_slide_too_long_from_an_older_manifest_is_cut_with_an_ellipsis_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    slide = TextSlide(title=RIVERTON, background="#000000")  # no shrink_to_fit: older CMS
    with caplog.at_level(logging.WARNING, logger="signage_player.render"):
        frame = render_text_slide(slide, LED, title_only=True)
    assert frame.size == LED
    (title,) = layout_slide(slide, LED, title_only=True).blocks
    assert title.lines == ("School", "holidays at…")  # visibly cut, at the design size
    left, top, right, bottom = _ink_box(frame, (0, 0, 0))
    assert left > 0 and top > 0 and right < LED[0] and bottom < LED[1]
    assert "does not fit 192x96" in caplog.text
    assert "School holidays at Riverton" in caplog.text
