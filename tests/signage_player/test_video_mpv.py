"""The player's video path on a real mpv (issue 18): one long-lived mpv, driven over its
JSON IPC with no picture output (`--vo=null` keeps mpv's timing), plays clips ffmpeg makes
here. Real time, not a manual clock: mpv plays at its own pace and the player follows."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import pytest

from devices.clock import SystemClock
from devices.protocol import (
    AssetRef,
    ContentItem,
    DisplaySetup,
    ItemKind,
    Manifest,
    PlayData,
    ProfileKind,
    ScreenProfile,
    SiteInfo,
)
from signage_player.display import HeadlessDisplay
from signage_player.player import SignagePlayer
from signage_player.video import MpvVideo, Played, PlayLog, handover_gaps_s
from testkit.player_fakes import FakeServices, FolderAssets, jpeg
from testkit.videos import make_clip

# Muted, no config of the machine running the tests, no window.
MPV_ARGS = ("--no-config", "--vo=null")
ROOT = Path(__file__).resolve().parents[2]
CLIP_S = {"swim-video": 1.6, "gym-video": 1.2}
STILL_S = 1.0


def item(item_id: str, kind: ItemKind, ref: AssetRef, duration_s: float) -> ContentItem:
    return ContentItem(
        id=item_id, campaign_id="promo", kind=kind, asset=ref.sha256, duration_s=duration_s
    )


def video_ref(assets: FolderAssets, path: Path) -> AssetRef:
    ref = assets.add(path.read_bytes())
    return ref.model_copy(update={"content_type": "video/mp4"})


def foyer_manifest(assets: tuple[AssetRef, ...], items: tuple[ContentItem, ...]) -> Manifest:
    now = datetime.now(UTC)
    return Manifest(
        device_id="sig-test-01",
        version=1,
        generated_at=now - timedelta(minutes=1),
        valid_until=now + timedelta(days=1),
        site=SiteInfo(id="riverton-lib", name="Riverton Library", timezone="Australia/Perth"),
        profile=ScreenProfile(name="Foyer", kind=ProfileKind.INDOOR, width_px=640, height_px=360),
        assets=assets,
        items=items,
    )


@pytest.fixture
def mpv():
    video = MpvVideo(extra_args=MPV_ARGS)
    yield video
    video.close()  # by PID (SIGTERM, then SIGKILL), never by name
    for pid in video.pids:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"


def test_image_video_video_image_play_in_order_on_one_mpv_with_mpvs_own_timing(tmp_path, mpv):
    assets = FolderAssets(tmp_path / "objects")
    swim = video_ref(assets, make_clip(tmp_path / "swim.mp4", seconds=CLIP_S["swim-video"]))
    gym = video_ref(assets, make_clip(tmp_path / "gym.mp4", seconds=CLIP_S["gym-video"], fps=30))
    hours = assets.add(jpeg((0, 90, 160), (640, 360)))
    cafe = assets.add(jpeg((200, 120, 0), (640, 360)))
    manifest = foyer_manifest(
        (hours, swim, gym, cafe),
        (
            item("hours-still", ItemKind.IMAGE, hours, STILL_S),
            item("swim-video", ItemKind.VIDEO, swim, CLIP_S["swim-video"]),
            item("gym-video", ItemKind.VIDEO, gym, CLIP_S["gym-video"]),
            item("cafe-still", ItemKind.IMAGE, cafe, STILL_S),
        ),
    )
    services = FakeServices(SystemClock(), assets)
    player = SignagePlayer(HeadlessDisplay((640, 360)), video=mpv)
    player.start(services)
    try:
        player.apply_manifest(manifest)
        assert services.wait_for(lambda: len(services.plays) >= 4, timeout_s=30)
        pid_while_playing = mpv.pid
    finally:
        player.stop()

    plays: list[PlayData] = services.plays[:4]
    assert [p.item_id for p in plays] == ["hours-still", "swim-video", "gym-video", "cafe-still"]
    # Proof-of-play is what mpv had on screen, first frame to last: a clip's own length.
    for play in plays:
        expected = CLIP_S.get(play.item_id, STILL_S)
        assert play.shown_s == pytest.approx(expected, abs=0.2), (play.item_id, plays)
    # mpv played them in that order: the stills as the player's frames, the clips as files,
    # the videos each to their end (mpv moved on by itself at their last frame).
    on_mpv = mpv.plays()[:4]
    assert [p.path.suffix for p in on_mpv] == [".bmp", "", "", ".bmp"]
    assert [p.path.name for p in on_mpv[1:3]] == [swim.sha256, gym.sha256]
    assert [p.reason for p in on_mpv[1:3]] == ["eof", "eof"]
    assert len(handover_gaps_s(on_mpv)) == 3  # each of the three hand-overs was seen
    # One mpv for all of it, still the one running when the last item played.
    assert len(mpv.pids) == 1 and pid_while_playing == mpv.pids[0]
    assert mpv.pids[0] != os.getpid()


def test_a_video_alone_in_its_rotation_plays_again_from_its_start_each_turn(tmp_path, mpv):
    """A rotation of one clip loops it: each turn mpv starts the clip again and plays it to
    its end, rather than freezing on its last frame after the first time round."""
    assets = FolderAssets(tmp_path / "objects")
    seconds = 0.8
    loop = video_ref(assets, make_clip(tmp_path / "loop.mp4", seconds=seconds))
    manifest = foyer_manifest((loop,), (item("loop-video", ItemKind.VIDEO, loop, seconds),))
    services = FakeServices(SystemClock(), assets)
    player = SignagePlayer(HeadlessDisplay((640, 360)), video=mpv)
    player.start(services)
    try:
        player.apply_manifest(manifest)
        assert services.wait_for(lambda: len(services.plays) >= 3, timeout_s=30)
    finally:
        player.stop()

    on_mpv = mpv.plays()[:3]
    assert [p.path.name for p in on_mpv] == [loop.sha256] * 3, on_mpv
    assert len({p.handle for p in on_mpv}) == 3  # three plays, not one held
    for play in on_mpv:  # each from its first frame to its own end
        assert play.reason == "eof" and play.shown_s == pytest.approx(seconds, abs=0.2), on_mpv
    # Each turn's proof-of-play is that turn's play on mpv.
    assert [p.item_id for p in services.plays[:3]] == ["loop-video"] * 3
    assert [p.shown_s for p in services.plays[:3]] == [round(p.shown_s, 3) for p in on_mpv]
    assert len(handover_gaps_s(on_mpv)) == 2


def test_a_video_with_nothing_after_it_holds_its_last_frame_on_the_same_mpv(tmp_path, mpv):
    clip = make_clip(tmp_path / "short.mp4", seconds=0.6)
    first = mpv.play(clip)
    assert mpv.first_frame(first, timeout_s=5) is not None
    mpv.stop()
    stopped = mpv.played(first, timeout_s=5)
    assert stopped is not None and stopped.reason == "stop"
    second = mpv.play(clip)
    # Nothing prepared after it: at its end mpv keeps the last frame up, no black.
    assert mpv.played(second, timeout_s=1.5) is None
    mpv.stop()
    held = mpv.played(second, timeout_s=5)
    assert held is not None and held.reason == "stop" and held.shown_s > 1.0
    assert len(mpv.pids) == 1 and psutil.pid_exists(mpv.pids[0])


def test_mpv_that_died_is_started_again_and_says_so(tmp_path, mpv):
    clip = make_clip(tmp_path / "short.mp4", seconds=0.4)
    mpv.play(clip)
    crashed = psutil.Process(mpv.pids[0])
    crashed.kill()
    crashed.wait(timeout=5)
    handle = mpv.play(clip)
    assert len(mpv.pids) == 2 and mpv.pid == mpv.pids[1]
    assert mpv.first_frame(handle, timeout_s=5) is not None  # the new one shows the clip


def test_the_play_log_reads_mpvs_events():
    log = PlayLog()
    log.paths.update({1: Path("a.bmp"), 2: Path("b.mp4")})
    for event, at in [
        ({"event": "start-file", "playlist_entry_id": 1}, 0.00),
        ({"event": "file-loaded"}, 0.01),
        ({"event": "playback-restart"}, 0.02),
        ({"event": "end-file", "reason": "stop", "playlist_entry_id": 1}, 1.02),
        ({"event": "start-file", "playlist_entry_id": 2}, 1.02),
        ({"event": "playback-restart"}, 1.05),
        ({"event": "playback-restart"}, 1.50),  # a seek: not a first frame
        ({"event": "end-file", "reason": "eof", "playlist_entry_id": 2}, 2.65),
    ]:
        log.feed(event, at)
    assert log.plays == [
        Played(1, Path("a.bmp"), 0.02, 1.02, "stop"),
        Played(2, Path("b.mp4"), 1.05, 2.65, "eof"),
    ]
    assert log.plays[1].shown_s == pytest.approx(1.6)
    assert handover_gaps_s(log.plays) == [pytest.approx(0.03)]
    assert log.playing is None


def test_mpv_goes_when_its_player_is_killed_outright(tmp_path):
    """A player process killed with SIGKILL leaves no mpv behind on the screen."""
    script = (
        "import sys, threading\n"
        "from signage_player.video import MpvVideo\n"
        f"video = MpvVideo(extra_args={MPV_ARGS!r})\n"
        "video.start()\n"
        "print(video.pid, flush=True)\n"
        "threading.Event().wait(60)\n"
    )
    player = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        assert player.stdout is not None
        mpv_pid = int(player.stdout.readline())
        mpv = psutil.Process(mpv_pid)
        assert mpv.ppid() == player.pid
    finally:
        os.kill(player.pid, signal.SIGKILL)
        player.wait(timeout=5)
    try:
        mpv.wait(timeout=10)  # reaped by init once the kernel has ended it
    except psutil.TimeoutExpired:
        os.kill(mpv_pid, signal.SIGKILL)
        raise


def test_a_portrait_screen_has_mpv_turn_its_video_as_the_player_turns_its_frames(tmp_path, mpv):
    """A screen mounted on its side: the player's frames are turned onto the panel, and
    mpv, which draws straight onto the panel, is told the same turn, from the start and
    when the mounting changes; plays are still counted."""
    assets = FolderAssets(tmp_path / "objects")
    swim = video_ref(assets, make_clip(tmp_path / "swim.mp4", seconds=CLIP_S["swim-video"]))
    landscape = foyer_manifest((swim,), (item("swim-video", ItemKind.VIDEO, swim, 1.6),))
    portrait = landscape.model_copy(update={"version": 2, "display": DisplaySetup(rotation_deg=90)})
    services = FakeServices(SystemClock(), assets)
    player = SignagePlayer(HeadlessDisplay((640, 360)), video=mpv)
    player.start(services)
    try:
        player.apply_manifest(portrait)
        assert services.wait_for(lambda: len(services.plays) >= 1, timeout_s=30)
        assert mpv.rotation() == 90
        player.apply_manifest(landscape.model_copy(update={"version": 3}))
        assert services.wait_for(lambda: len(services.plays) >= 2, timeout_s=30)
        assert mpv.rotation() == 0
    finally:
        player.stop()
    assert len(mpv.pids) == 1
