"""What is inside an uploaded video (ffprobe, from Debian's ffmpeg), and whether the
screens' Raspberry Pis can decode it in hardware (issue 18).

The rule (docs: central_cms/README.md, "Video uploads"):

* H.264 (Baseline, Main or High profile, 8-bit 4:2:0) up to 1920x1080 (either way round)
  and 60 frames a second: the Pi 4's hardware decoder does up to 1080p60. The Pi 5 has no
  H.264 decoder block; its Cortex-A76 cores decode 1080p H.264 in software, the one
  exception we allow because every signage video we have seen is H.264.
* HEVC (Main or Main 10, 4:2:0) up to 4096x2160 and 60 frames a second: the HEVC block of
  both the Pi 4 and the Pi 5.
* Everything else (VP9, AV1, ProRes, MPEG-4 Part 2, 4:2:2 or 4:4:4, 10-bit H.264, more
  than 60 fps, bigger than the limits above) is refused with an ffmpeg line that fixes it.

`probe` is the only I/O here (a temporary file and a subprocess); `parse` and
`decode_problem` are pure.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from central_cms.errors import StaffMessage

PROBE_TIMEOUT_S = 30.0

_H264_PROFILES = {"baseline", "constrained baseline", "main", "high"}
_HEVC_PROFILES = {"main", "main 10"}
_420 = {"yuv420p", "yuvj420p", "yuv420p10le"}  # 10-bit only for HEVC (checked below)
_MAX_FPS = 60.5  # 59.94 and 60 pass; the half frame absorbs rounding in the container

FIX_COMMAND = (
    "ffmpeg -i in.mov -c:v libx264 -profile:v high -pix_fmt yuv420p "
    "-vf \"scale='min(1920,iw)':-2\" -r 30 -movflags +faststart -an out.mp4"
)


class ProbeError(StaffMessage):
    """The file is not a video ffprobe can read; `message` is for staff."""


@dataclass(frozen=True)
class VideoProbe:
    codec: str  # ffprobe's codec_name: "h264", "hevc", "vp9", ...
    profile: str  # "High", "Main 10", ... ("" when ffprobe does not say)
    pix_fmt: str
    width_px: int
    height_px: int
    frame_rate: float  # frames a second
    duration_s: float

    def describe(self) -> str:
        name = {"h264": "H.264", "hevc": "HEVC"}.get(self.codec, self.codec.upper())
        profile = f" {self.profile}" if self.profile else ""
        return f"{name}{profile} at {self.width_px}x{self.height_px}, {self.frame_rate:.3g} fps"


def parse(ffprobe_json: str) -> VideoProbe:
    """ffprobe's `-show_streams -show_format` JSON, as the first video stream's facts."""
    try:
        found = json.loads(ffprobe_json)
    except json.JSONDecodeError:
        raise ProbeError("The video cannot be read.") from None
    streams = [
        s
        for s in found.get("streams", [])
        if s.get("codec_type") == "video" and not s.get("disposition", {}).get("attached_pic")
    ]
    if not streams:
        raise ProbeError(
            "This file has no moving picture in it (sound only, or not a video). "
            "Upload an MP4 with H.264 video."
        )
    stream = streams[0]
    duration = _number(stream.get("duration")) or _number(found.get("format", {}).get("duration"))
    if not duration or duration <= 0:
        raise ProbeError("The video's length cannot be read: it may be damaged or cut short.")
    return VideoProbe(
        codec=str(stream.get("codec_name", "unknown")),
        profile=str(stream.get("profile", "")),
        pix_fmt=str(stream.get("pix_fmt", "")),
        width_px=int(stream.get("width", 0)),
        height_px=int(stream.get("height", 0)),
        frame_rate=_rate(stream.get("avg_frame_rate")) or _rate(stream.get("r_frame_rate")),
        duration_s=round(duration, 3),
    )


def decode_problem(video: VideoProbe) -> str | None:
    """Why a Pi cannot decode `video` in hardware, with the fix; None when it can."""
    long_side = max(video.width_px, video.height_px)
    short_side = min(video.width_px, video.height_px)
    profile = video.profile.lower()
    if video.codec == "h264":
        reason = (
            None
            if profile in _H264_PROFILES and video.pix_fmt in _420 - {"yuv420p10le"}
            else "its H.264 flavour (10-bit, 4:2:2 or 4:4:4) has no hardware decoder"
        )
        limit = (1920, 1080)
    elif video.codec == "hevc":
        reason = (
            None
            if profile in _HEVC_PROFILES and video.pix_fmt in _420
            else "only HEVC Main and Main 10 (4:2:0) are decoded in hardware"
        )
        limit = (4096, 2160)
    else:
        reason = "the Pis decode only H.264 and HEVC in hardware"
        limit = (0, 0)
    if reason is None and (long_side > limit[0] or short_side > limit[1]):
        reason = f"it is bigger than {limit[0]}x{limit[1]}"
    if reason is None and video.frame_rate > _MAX_FPS:
        reason = "it has more than 60 frames a second"
    if reason is None:
        return None
    return (
        f"The screens cannot play this video smoothly: it is {video.describe()}, and {reason}. "
        f"Re-encode it as H.264 1080p (up to 60 fps), for example: {FIX_COMMAND}"
    )


def probe(data: bytes, *, ffprobe: str = "ffprobe") -> VideoProbe:
    """Run ffprobe on an upload (written to a private temporary file)."""
    executable = shutil.which(ffprobe)
    if executable is None:
        raise ProbeError(
            "The CMS cannot check videos because ffprobe is missing on the server; "
            "ask IT to install Debian's ffmpeg package."
        )
    with tempfile.TemporaryDirectory(prefix="ds-probe-") as folder:
        path = Path(folder) / "upload"
        path.write_bytes(data)
        try:
            done = subprocess.run(
                [
                    executable,
                    "-v",
                    "error",
                    "-print_format",
                    "json",
                    "-show_streams",
                    "-show_format",
                    str(path),
                ],
                capture_output=True,
                text=True,
                timeout=PROBE_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ProbeError("The video took too long to check; it may be damaged.") from None
    if done.returncode != 0:
        raise ProbeError("The video is damaged or not a video we can read.")
    return parse(done.stdout)


def _number(value: object) -> float | None:
    try:
        return float(str(value))
    except ValueError:
        return None


def _rate(value: object) -> float:
    try:
        rate = Fraction(str(value))
    except (ValueError, ZeroDivisionError):
        return 0.0
    return float(rate)
