"""Test clips made with ffmpeg (Debian's package) when a test asks: no binary files in the repo.

Each clip is a short synthetic pattern with a frame counter, so a clip is cheap to make
(well under a second) and every frame differs.
"""

from __future__ import annotations

import functools
import subprocess
import tempfile
from pathlib import Path


def make_clip(
    path: Path,
    *,
    seconds: float = 1.0,
    size: tuple[int, int] = (320, 180),
    fps: int = 25,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    extra: tuple[str, ...] = (),
) -> Path:
    """Write a silent `seconds`-long clip of `codec` to `path` (its suffix picks the container)."""
    width, height = size
    source = f"testsrc2=size={width}x{height}:rate={fps}"
    return _ffmpeg(path, source, "-t", f"{seconds}", "-c:v", codec, "-pix_fmt", pix_fmt, *extra)


def make_audio_only(path: Path, *, seconds: float = 1.0) -> Path:
    """An MP4 (M4A) with sound and no picture: starts with `ftyp` like any MP4."""
    return _ffmpeg(path, f"sine=frequency=440:duration={seconds}", "-c:a", "aac")


@functools.cache
def h264_mp4(seconds: float = 2.0) -> bytes:
    """A small H.264 MP4 the CMS accepts, as bytes (made once per test session)."""
    with tempfile.TemporaryDirectory(prefix="ds-clip-") as folder:
        return make_clip(Path(folder) / "clip.mp4", seconds=seconds).read_bytes()


def _ffmpeg(path: Path, source: str, *options: str) -> Path:
    """ffmpeg from one of its synthetic `lavfi` sources to `path`."""
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", source, *options, str(path)],
        check=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    return path
