"""Display backends behind one small interface.

- `HeadlessDisplay` keeps the current frame in memory and writes PNG on request (tests, demo).
- `FramebufferDisplay` writes to a Linux framebuffer (`/dev/fb0`), geometry from sysfs,
  RGB565 or XRGB8888.
- `WindowDisplay` shows frames in a Tk window, for development on a desktop.

Every backend takes frames the size of the screen's canvas and puts them on its output
mode with `render.to_output`: roadside canvases pixel for pixel at the top-left, the rest
black, because that is the rectangle an LED sending card captures.

A frame composed of zones (issue 14) comes with the `dirty` box where it differs from the
frame before; a backend may write only that (the framebuffer writes only those rows).
"""

from __future__ import annotations

import io
import logging
import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from PIL import Image, ImageChops

from signage_player.render import Size, black, to_output

log = logging.getLogger(__name__)

Box = tuple[int, int, int, int]  # left, top, right, bottom


class DisplayError(Exception):
    """The backend cannot be opened or written."""


class Display(Protocol):
    @property
    def mode(self) -> Size:
        """The output mode in pixels (width, height)."""
        ...

    def show(
        self, frame: Image.Image, *, pixel_exact: bool = False, dirty: Box | None = None
    ) -> None:
        """Show a canvas-sized RGB frame, replacing the last one at once (a hard cut).
        `pixel_exact` (roadside) puts it unscaled at the top-left of the output. `dirty`:
        the only box (canvas pixels) in which it differs from the last frame shown."""
        ...

    def blank(self) -> None:
        """Show black."""
        ...

    def screenshot(self) -> bytes:
        """The output as it is now, as PNG."""
        ...

    def set_power(self, on: bool) -> None:
        """Screen on or off. Off means black output at the least."""
        ...

    def close(self) -> None: ...


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


class HeadlessDisplay:
    """Keeps the current output frame. `wait_for` lets a test wait, bounded, for a frame.

    With no `mode` the output is whatever size the frames are (the canvas itself)."""

    def __init__(self, mode: Size | None = None) -> None:
        self._fixed = mode is not None
        self._mode = mode or (16, 16)
        self._frame = black(self._mode)
        self._power = True
        self._changed = threading.Condition()
        self.frames_shown = 0
        self.last_dirty: Box | None = None  # what the last `show` said had changed

    @property
    def mode(self) -> Size:
        return self._mode

    @property
    def frame(self) -> Image.Image:
        with self._changed:
            return self._frame

    @property
    def powered(self) -> bool:
        return self._power

    def show(
        self, frame: Image.Image, *, pixel_exact: bool = False, dirty: Box | None = None
    ) -> None:
        if not self._fixed:
            self._mode = frame.size
        self._set(to_output(frame, self._mode, pixel_exact=pixel_exact), dirty)

    def blank(self) -> None:
        self._set(black(self._mode), None)

    def _set(self, output: Image.Image, dirty: Box | None) -> None:
        with self._changed:
            self._frame = output
            self.last_dirty = dirty
            self.frames_shown += 1
            self._changed.notify_all()

    def screenshot(self) -> bytes:
        return _png(self.frame)

    def set_power(self, on: bool) -> None:
        self._power = on
        if not on:
            self.blank()

    def wait_for(
        self, predicate: Callable[[Image.Image], bool], timeout_s: float
    ) -> Image.Image | None:
        """The first current frame for which `predicate` holds, or None after `timeout_s`."""
        with self._changed:
            matched = self._changed.wait_for(lambda: predicate(self._frame), timeout=timeout_s)
            return self._frame if matched else None

    def close(self) -> None:
        pass


# --- Linux framebuffer ------------------------------------------------------------------------


@dataclass(frozen=True)
class FramebufferGeometry:
    width_px: int
    height_px: int
    bits_per_pixel: int
    stride_bytes: int

    @classmethod
    def from_sysfs(cls, folder: Path) -> FramebufferGeometry:
        """Read `/sys/class/graphics/fbN/{virtual_size,bits_per_pixel,stride}`."""
        try:
            width, height = (
                int(part) for part in (folder / "virtual_size").read_text().strip().split(",")
            )
            bpp = int((folder / "bits_per_pixel").read_text().strip())
            stride_file = folder / "stride"
            stride = (
                int(stride_file.read_text().strip()) if stride_file.exists() else width * bpp // 8
            )
        except (OSError, ValueError) as error:
            raise DisplayError(
                f"cannot read framebuffer geometry from {folder}: {error}"
            ) from error
        if bpp not in (16, 32):
            raise DisplayError(
                f"{folder}: {bpp} bits per pixel is not supported; set the mode to 16 (RGB565) "
                "or 32 (XRGB8888), e.g. framebuffer_depth=32 in config.txt"
            )
        if stride < width * bpp // 8:
            raise DisplayError(f"{folder}: stride {stride} is shorter than a line of pixels")
        return cls(width_px=width, height_px=height, bits_per_pixel=bpp, stride_bytes=stride)


def pack_rgb565(image: Image.Image) -> bytes:
    """Little-endian RGB565, the 16-bit framebuffer layout, without numpy: each output
    byte is built from shifted channels; the bit fields do not overlap, so adding is OR."""
    red, green, blue = image.convert("RGB").split()
    low = ImageChops.add(
        green.point(lambda g: ((g >> 2) & 0x07) << 5), blue.point(lambda b: b >> 3)
    )
    high = ImageChops.add(red.point(lambda r: (r >> 3) << 3), green.point(lambda g: g >> 5))
    return Image.merge("LA", (low, high)).tobytes()


def pack_xrgb8888(image: Image.Image) -> bytes:
    """XRGB8888 as a little-endian framebuffer stores it: B, G, R, X in memory."""
    return image.convert("RGB").tobytes("raw", "BGRX")


class _KeepsLastFrame:
    """A backend that keeps the frame it last output (under its lock), for screenshots."""

    _lock: threading.Lock
    _frame: Image.Image

    def screenshot(self) -> bytes:
        with self._lock:
            return _png(self._frame)


class FramebufferDisplay(_KeepsLastFrame):
    """Writes whole frames to a framebuffer device. On the Pi, `/dev/fb0` and
    `/sys/class/graphics/fb0`; in tests, a regular file and a folder in tmp_path."""

    def __init__(self, device: Path, sysfs: Path) -> None:
        self._device = device
        self._sysfs = sysfs
        self._geometry = FramebufferGeometry.from_sysfs(sysfs)
        self._lock = threading.Lock()
        self._frame = black(self.mode)
        try:
            self._fd = os.open(device, os.O_RDWR)
        except OSError as error:
            raise DisplayError(
                f"cannot open {device}: {error}; the player's user needs the `video` group"
            ) from error
        self.blank()

    @property
    def geometry(self) -> FramebufferGeometry:
        return self._geometry

    @property
    def mode(self) -> Size:
        return (self._geometry.width_px, self._geometry.height_px)

    def show(
        self, frame: Image.Image, *, pixel_exact: bool = False, dirty: Box | None = None
    ) -> None:
        # Only a canvas shown as it is maps its dirty box onto the same output pixels.
        rows = (dirty[1], dirty[3]) if dirty is not None and frame.size == self.mode else None
        self._write(to_output(frame, self.mode, pixel_exact=pixel_exact), rows)

    def blank(self) -> None:
        self._write(black(self.mode))

    def _write(self, output: Image.Image, rows: tuple[int, int] | None = None) -> None:
        """Write the frame, or only its lines `rows` [top, bottom) when only they changed
        (a ticker's change writes a tenth of the frame)."""
        g = self._geometry
        top, bottom = rows if rows is not None else (0, g.height_px)
        band = output.crop((0, top, g.width_px, bottom)) if rows is not None else output
        packed = pack_rgb565(band) if g.bits_per_pixel == 16 else pack_xrgb8888(band)
        line = g.width_px * g.bits_per_pixel // 8
        if g.stride_bytes != line:
            pad = bytes(g.stride_bytes - line)
            packed = b"".join(
                packed[row * line : (row + 1) * line] + pad for row in range(bottom - top)
            )
        with self._lock:
            # One write: the frame (or its changed band) replaces the last at once (no
            # partial frame is left behind unless the kernel itself fails the write).
            written = os.pwrite(self._fd, packed, top * g.stride_bytes)
            if written != len(packed):
                raise DisplayError(f"{self._device}: wrote {written} of {len(packed)} bytes")
            self._frame = output

    def set_power(self, on: bool) -> None:
        if not on:
            self.blank()
        blank_file = self._sysfs / "blank"
        try:
            # FB_BLANK_UNBLANK = 0, FB_BLANK_POWERDOWN = 4
            blank_file.write_text("0" if on else "4")
        except OSError as error:
            log.info("framebuffer %s: cannot set power via %s: %s", self._device, blank_file, error)

    def close(self) -> None:
        os.close(self._fd)


# --- a window, for development -------------------------------------------------------------


def tk_available() -> bool:
    """Tk is importable and a display is there to open a window on."""
    try:
        import tkinter  # noqa: F401
    except ImportError:
        return False
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


class WindowDisplay(_KeepsLastFrame):
    """A Tk window showing the output, on its own thread (Tk must stay on one thread)."""

    def __init__(self, mode: Size, *, title: str = "Digital Spaces") -> None:
        if not tk_available():
            raise DisplayError(
                "the window backend needs tkinter and a desktop session ($DISPLAY); "
                "use the headless or framebuffer backend instead"
            )
        self._mode = mode
        self._title = title
        self._frame = black(mode)
        self._lock = threading.Lock()
        self._updates: queue.SimpleQueue[Image.Image | None] = queue.SimpleQueue()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="window-display", daemon=True)
        self._thread.start()
        if not self._ready.wait(10) or self._error is not None:
            raise DisplayError(f"cannot open a window: {self._error}")

    @property
    def mode(self) -> Size:
        return self._mode

    def _run(self) -> None:
        import tkinter

        from PIL import ImageTk

        try:
            root = tkinter.Tk()
        except tkinter.TclError as error:
            self._error = error
            self._ready.set()
            return
        root.title(self._title)
        label = tkinter.Label(root, borderwidth=0, background="black")
        label.pack()
        photo = ImageTk.PhotoImage(self._frame)
        label.configure(image=photo)

        def poll() -> None:
            nonlocal photo
            latest: Image.Image | None = None
            closing = False
            while True:
                try:
                    item = self._updates.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    closing = True
                else:
                    latest = item
            if closing:
                root.destroy()
                return
            if latest is not None:
                photo = ImageTk.PhotoImage(latest)
                label.configure(image=photo)
            root.after(20, poll)

        root.after(20, poll)
        self._ready.set()
        root.mainloop()

    def show(
        self, frame: Image.Image, *, pixel_exact: bool = False, dirty: Box | None = None
    ) -> None:
        output = to_output(frame, self._mode, pixel_exact=pixel_exact)
        with self._lock:
            self._frame = output
        self._updates.put(output)

    def blank(self) -> None:
        self.show(black(self._mode))

    def set_power(self, on: bool) -> None:
        if not on:
            self.blank()

    def close(self) -> None:
        self._updates.put(None)
        self._thread.join(timeout=5)
