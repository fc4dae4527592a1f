"""video_handover_gap_ms for bench/player.py (issue 18): the real player on one real mpv
plays still -> video -> video -> still, `rounds` times round, 1080p H.264 clips ffmpeg
makes and 1080p photos; each gap is from one item's last frame (mpv's end-file) to the
next one's first (its playback-restart), from mpv's own events.

mpv runs with `--vo=null` here (no screen on a build machine): the figure is mpv's
switch, demux and decode of the first frame, with frame timing kept; on a Pi add the
display's own flip (one vsync at most, 16.7 ms at 60 Hz).
"""

from __future__ import annotations

import statistics
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from devices.clock import SystemClock
from devices.protocol import (
    ContentItem,
    ItemKind,
    Manifest,
    ProfileKind,
    SiteInfo,
)
from signage_player.display import HeadlessDisplay
from signage_player.player import SignagePlayer
from signage_player.video import MpvVideo, handover_gaps_s
from testkit.messages import screen_profile
from testkit.player_fakes import FakeServices, FolderAssets, jpeg
from testkit.videos import make_clip

CLIPS_S = (2.0, 1.5)
STILL_S = 1.5


def video_handover_gaps_ms(
    rounds: int = 3, mpv_args: tuple[str, ...] = ()
) -> tuple[list[float], list[float]]:
    """The gaps of the first round (cold: files and decoders opened for the first time)
    and of the `rounds` after it."""
    with tempfile.TemporaryDirectory(prefix="ds-bench-video-") as scratch:
        folder = Path(scratch)
        assets = FolderAssets(folder / "objects")
        clips = [
            assets.add(
                make_clip(
                    folder / f"clip-{n}.mp4", seconds=seconds, size=(1920, 1080), fps=25
                ).read_bytes()
            ).model_copy(update={"content_type": "video/mp4"})
            for n, seconds in enumerate(CLIPS_S)
        ]
        colours = ((0, 90, 160), (200, 120, 0))
        stills = [assets.add(jpeg(colour, (1920, 1080))) for colour in colours]
        now = datetime.now(UTC)

        def item(n: int, kind: ItemKind, sha256: str, seconds: float) -> ContentItem:
            return ContentItem(
                id=f"item-{n}", campaign_id="bench", kind=kind, asset=sha256, duration_s=seconds
            )

        manifest = Manifest(
            device_id="sig-bench-video",
            version=1,
            generated_at=now,
            valid_until=now + timedelta(days=1),
            site=SiteInfo(id="bench-site", name="Bench site", timezone="Australia/Perth"),
            profile=screen_profile(ProfileKind.INDOOR, "1080p"),
            assets=(stills[0], *clips, stills[1]),
            items=(
                item(0, ItemKind.IMAGE, stills[0].sha256, STILL_S),
                item(1, ItemKind.VIDEO, clips[0].sha256, CLIPS_S[0]),
                item(2, ItemKind.VIDEO, clips[1].sha256, CLIPS_S[1]),
                item(3, ItemKind.IMAGE, stills[1].sha256, STILL_S),
            ),
        )
        services = FakeServices(SystemClock(), assets, device_id="sig-bench-video")
        video = MpvVideo(extra_args=("--no-config", "--vo=null", *mpv_args))
        player = SignagePlayer(HeadlessDisplay((1920, 1080)), video=video)
        player.start(services)
        try:
            player.apply_manifest(manifest)
            wanted = 4 * (rounds + 1)
            per_round_s = sum(CLIPS_S) + 2 * STILL_S
            assert services.wait_for(
                lambda: len(services.plays) >= wanted, timeout_s=rounds * per_round_s * 3 + 30
            ), "the playlist never went round"
        finally:
            player.stop()  # closes mpv by its PID
        assert len(video.pids) == 1, "mpv was started more than once"
        plays = video.plays()[: wanted + 1]  # and the first of the next round
        cold = [gap * 1000 for gap in handover_gaps_s(plays[:5])]
        return cold, [gap * 1000 for gap in handover_gaps_s(plays[4:])]


def report(rounds: int = 3, mpv_args: tuple[str, ...] = ()) -> None:
    cold, gaps = video_handover_gaps_ms(rounds, mpv_args)
    print(f"video_handover_gap_ms={max(gaps):.1f}")
    print(f"video_handover_gap_median_ms={statistics.median(gaps):.1f}")
    print(f"video_handovers={len(gaps)}")
    print(f"video_handover_gap_cold_ms={max(cold):.1f}")
