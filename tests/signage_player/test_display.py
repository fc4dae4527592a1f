from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from signage_player.display import (
    DisplayError,
    FramebufferDisplay,
    HeadlessDisplay,
    WindowDisplay,
    pack_rgb565,
    tk_available,
)


def _fake_fb(tmp_path: Path, width: int, height: int, bpp: int, stride: int | None = None):
    sysfs = tmp_path / "sys" / "fb0"
    sysfs.mkdir(parents=True)
    stride = stride if stride is not None else width * bpp // 8
    (sysfs / "virtual_size").write_text(f"{width},{height}\n")
    (sysfs / "bits_per_pixel").write_text(f"{bpp}\n")
    (sysfs / "stride").write_text(f"{stride}\n")
    (sysfs / "blank").write_text("0\n")
    device = tmp_path / "fb0"
    device.write_bytes(b"\xff" * stride * height)  # a white screen before we start
    return device, sysfs, stride


def test_headless_keeps_the_frame_and_screenshots_it_as_png() -> None:
    display = HeadlessDisplay((320, 180))
    display.show(Image.new("RGB", (320, 180), (10, 20, 30)))
    shot = Image.open(io.BytesIO(display.screenshot()))
    assert shot.format == "PNG"
    assert shot.size == (320, 180)
    assert shot.getpixel((100, 100)) == (10, 20, 30)


def test_headless_power_off_shows_black() -> None:
    display = HeadlessDisplay((64, 32))
    display.show(Image.new("RGB", (64, 32), (255, 255, 255)))
    display.set_power(False)
    assert display.frame.getbbox() is None


def test_framebuffer_xrgb8888_gets_the_frame_in_memory_order(tmp_path: Path) -> None:
    device, sysfs, stride = _fake_fb(tmp_path, 8, 4, 32)
    display = FramebufferDisplay(device, sysfs)
    assert display.mode == (8, 4)
    frame = Image.new("RGB", (8, 4), (0, 0, 0))
    frame.putpixel((0, 0), (255, 0, 0))
    frame.putpixel((7, 3), (1, 2, 3))
    display.show(frame)
    raw = device.read_bytes()
    assert raw[0:4] == bytes([0, 0, 255, 0])  # B G R X
    last = 3 * stride + 7 * 4
    assert raw[last : last + 4] == bytes([3, 2, 1, 0])
    display.close()


def test_framebuffer_rgb565_with_padded_lines(tmp_path: Path) -> None:
    device, sysfs, stride = _fake_fb(tmp_path, 6, 3, 16, stride=16)  # 12 bytes + 4 padding
    display = FramebufferDisplay(device, sysfs)
    frame = Image.new("RGB", (6, 3), (0, 0, 0))
    frame.putpixel((0, 1), (255, 0, 0))
    frame.putpixel((1, 1), (0, 255, 0))
    frame.putpixel((2, 1), (0, 0, 255))
    display.show(frame)
    raw = device.read_bytes()
    assert len(raw) == 16 * 3
    row = raw[stride : stride + 6]
    assert row == bytes([0x00, 0xF8, 0xE0, 0x07, 0x1F, 0x00])  # little-endian 565
    assert raw[12:16] == bytes(4)  # padding written black, never left white


def test_rgb565_packs_white_and_black() -> None:
    image = Image.new("RGB", (2, 1), (255, 255, 255))
    image.putpixel((1, 0), (0, 0, 0))
    assert pack_rgb565(image) == bytes([0xFF, 0xFF, 0x00, 0x00])


def test_framebuffer_starts_black_and_roadside_canvas_sits_top_left(tmp_path: Path) -> None:
    device, sysfs, _ = _fake_fb(tmp_path, 40, 20, 32)
    display = FramebufferDisplay(device, sysfs)
    assert device.read_bytes() == bytes(40 * 20 * 4)  # the white screen went black at once
    display.show(Image.new("RGB", (16, 8), (255, 255, 255)), pixel_exact=True)
    raw = device.read_bytes()
    assert raw[0:4] == b"\xff\xff\xff\x00"
    assert raw[15 * 4 : 16 * 4] == b"\xff\xff\xff\x00"
    assert raw[16 * 4 : 17 * 4] == bytes(4)  # right of the canvas: black
    assert raw[8 * 160 : 8 * 160 + 4] == bytes(4)  # below the canvas: black
    display.set_power(False)
    assert (sysfs / "blank").read_text() == "4"
    assert device.read_bytes() == bytes(40 * 20 * 4)


def test_framebuffer_refuses_an_unsupported_depth_and_says_what_to_do(tmp_path: Path) -> None:
    device, sysfs, _ = _fake_fb(tmp_path, 8, 4, 24)
    with pytest.raises(DisplayError, match="RGB565"):
        FramebufferDisplay(device, sysfs)


@pytest.mark.skipif(not tk_available(), reason="no tkinter or no $DISPLAY for a window")
def test_window_shows_frames() -> None:
    display = WindowDisplay((64, 32))
    display.show(Image.new("RGB", (64, 32), (0, 128, 0)))
    shot = Image.open(io.BytesIO(display.screenshot()))
    assert shot.getpixel((1, 1)) == (0, 128, 0)
    display.close()


def test_window_without_a_desktop_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(DisplayError, match="headless or framebuffer"):
        WindowDisplay((64, 32))


def test_framebuffer_writes_only_the_rows_of_the_dirty_box(tmp_path: Path) -> None:
    """A ticker's change writes the ticker's lines, and the frame there is exact."""
    device, sysfs, stride = _fake_fb(tmp_path, 8, 6, 16, stride=20)
    display = FramebufferDisplay(device, sysfs)
    display.show(Image.new("RGB", (8, 6), (0, 0, 255)))
    before = device.read_bytes()
    # Mark the lines outside the band: a write there would overwrite the marks.
    marked = bytearray(before)
    marked[0:2] = b"\x12\x34"
    marked[5 * stride : 5 * stride + 2] = b"\x56\x78"
    device.write_bytes(bytes(marked))
    frame = Image.new("RGB", (8, 6), (0, 0, 255))
    frame.paste((255, 255, 255), (0, 3, 8, 5))  # the "ticker": lines 3 and 4
    display.show(frame, dirty=(0, 3, 8, 5))
    after = device.read_bytes()
    assert len(after) == 6 * stride
    assert after[0:2] == b"\x12\x34" and after[5 * stride : 5 * stride + 2] == b"\x56\x78"
    white_line = b"\xff\xff" * 8 + bytes(4)
    assert after[3 * stride : 5 * stride] == white_line * 2
    assert after[2 * stride : 3 * stride] == before[2 * stride : 3 * stride]
    shot = Image.open(io.BytesIO(display.screenshot()))
    assert shot.getpixel((0, 0)) == (0, 0, 255) and shot.getpixel((0, 3)) == (255, 255, 255)
    display.close()
