"""Uploads: Pillow checks, cleaning, and nothing left behind on refusal."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from central_cms.analytics.report_exports import render_pdf
from central_cms.media import MediaError, check_upload, rendition
from central_cms.video_probe import probe
from devices.protocol import Fit
from testkit.images import jpeg_rotated_with_gps, png
from testkit.videos import h264_mp4


def test_exif_orientation_is_applied_and_metadata_stripped():
    checked = check_upload(jpeg_rotated_with_gps(60, 20), max_pixels=10_000_000, probe_video=probe)
    image = Image.open(io.BytesIO(checked.original.data))
    assert image.size == (20, 60)  # turned upright
    assert not image.getexif()  # no orientation, GPS or description left
    assert b"secret description" not in checked.original.data


def test_too_many_pixels_is_refused_before_decoding():
    with pytest.raises(MediaError, match="limit is 1 megapixels"):
        check_upload(png(2000, 1000), max_pixels=1_000_000, probe_video=probe)


def test_a_file_that_is_not_a_picture_gets_a_clear_message():
    with pytest.raises(MediaError, match="not a picture we accept"):
        check_upload(b"%PDF-1.4 not an image", max_pixels=10_000_000, probe_video=probe)


def test_a_truncated_png_is_reported_as_damaged():
    with pytest.raises(MediaError, match="damaged"):
        check_upload(png(200, 200)[:80], max_pixels=10_000_000, probe_video=probe)


def test_videos_are_recognised_and_kept_as_uploaded():
    checked = check_upload(h264_mp4(), max_pixels=10_000_000, probe_video=probe)
    assert checked.kind == "video"
    assert checked.original.content_type == "video/mp4"
    assert checked.original.data == h264_mp4()
    assert checked.video is not None and checked.video.codec == "h264"


@pytest.mark.parametrize("fit", [Fit.FIT, Fit.FILL, Fit.LETTERBOX])
def test_renditions_are_exactly_the_canvas_size(fit):
    made = rendition(png(800, 450), 192, 96, fit, "#ffffff")
    assert Image.open(io.BytesIO(made.data)).size == (192, 96)


def test_fit_keeps_the_whole_picture_and_fill_crops():
    wide = png(400, 100, "#ff0000")
    fit = Image.open(io.BytesIO(rendition(wide, 100, 100, Fit.FIT, "#0000ff").data)).convert("RGB")
    fill = Image.open(io.BytesIO(rendition(wide, 100, 100, Fit.FILL).data)).convert("RGB")
    assert fit.getpixel((50, 2)) == (0, 0, 255)  # bar in the item's background colour
    assert fill.getpixel((50, 2)) == (255, 0, 0)  # covered edge to edge


def test_a_tv_gets_a_jpeg_rendition_and_an_led_panel_a_lossless_png():
    """Issue 14: a player decodes a 1080p JPEG several times faster than a PNG; a roadside
    panel's few pixels are shown one for one, so they stay lossless."""
    poster = png(1600, 900, "#00524a")
    tv = rendition(poster, 1920, 1080, Fit.FILL)
    panel = rendition(poster, 192, 96, Fit.FILL)
    assert (tv.content_type, Image.open(io.BytesIO(tv.data)).format) == ("image/jpeg", "JPEG")
    assert (panel.content_type, Image.open(io.BytesIO(panel.data)).format) == ("image/png", "PNG")
    colour = Image.open(io.BytesIO(tv.data)).convert("RGB").getpixel((960, 540))
    assert all(abs(a - b) <= 3 for a, b in zip(colour, (0x00, 0x52, 0x4A), strict=True))


def test_a_damaged_picture_is_still_refused_after_a_report_pdf_was_made():
    """WeasyPrint's import loosens Pillow for the whole process; making a report PDF must
    not let damaged uploads through afterwards."""
    render_pdf("<html><body><p>Proof of play</p></body></html>")
    with pytest.raises(MediaError, match="damaged"):
        check_upload(png(200, 200)[:80], max_pixels=10_000_000, probe_video=probe)
