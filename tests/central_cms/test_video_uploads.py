"""Video uploads are probed with ffprobe (issue 18): what a Pi decodes in hardware is kept
with its length, codec, size and frame rate, the rest is refused with an ffmpeg line that
fixes it; a video item shows for the clip's own length. Clips are made by ffmpeg here."""

from __future__ import annotations

import html
import io
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from central_cms import campaigns, library
from central_cms import models as m
from central_cms.specs import Targets
from central_cms.video_probe import VideoProbe, decode_problem
from devices.protocol import ItemKind
from testkit.staff import ADMIN, login, make_user
from testkit.videos import make_audio_only, make_clip


def upload(client: FlaskClient, token: str, name: str, data: bytes) -> str:
    """Upload through the staff page as a browser without JavaScript; the page it lands on."""
    response = client.post(
        "/media/upload",
        data={"csrf_token": token, "title": name, "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert response.status_code == 200
    return html.unescape(response.text)


def media_count(session) -> int:
    session.expire_all()
    return int(session.scalar(select(func.count()).select_from(m.MediaAsset)))


@pytest.fixture
def editor(client, session, rt) -> str:
    make_user(session, rt, "editor", m.Role.EDITOR)
    return login(client, "editor")


def test_an_h264_clip_is_kept_with_its_probed_length_shown_in_the_library(
    client, session, editor, tmp_path
):
    clip = make_clip(tmp_path / "lanes.mp4", seconds=2.4, size=(640, 360), fps=25)
    page = upload(client, editor, "Lap lanes", clip.read_bytes())
    assert "Uploaded “Lap lanes”." in page
    # The library says how long it is, and what it is, in the staff's words.
    times = "\N{MULTIPLICATION SIGN}"
    assert f"Lap lanes</strong><br>video, 640{times}360, 2.4 s (H.264, 25 fps)" in page
    asset = session.scalars(select(m.MediaAsset).where(m.MediaAsset.title == "Lap lanes")).one()
    assert asset.duration_s == pytest.approx(2.4, abs=0.05)
    assert (asset.video_codec, asset.frame_rate) == ("h264", 25.0)


def test_a_video_item_shows_for_the_clips_own_length(session, rt, world, tmp_path):
    clip = make_clip(tmp_path / "promo.mp4", seconds=3.2)
    asset = library.upload(session, rt, ADMIN, filename="promo.mp4", data=clip.read_bytes())
    saved = campaigns.save(
        session,
        rt,
        ADMIN,
        campaigns.CampaignInput(
            name="Pool promo",
            owner_site_id="east-hall",
            # Staff typed 15 s; the video plays to its end, so its item is 3.2 s long.
            items=(campaigns.ItemInput(kind=ItemKind.VIDEO, media_id=asset.id, duration_s=15),),
            targets=Targets(sites=frozenset({"east-hall"}), profiles=frozenset({"indoor"})),
        ),
    )
    assert [item.duration_s for item in saved.items] == [pytest.approx(3.2, abs=0.05)]


def test_a_vp9_video_is_refused_with_a_reencode_command(client, session, editor, tmp_path):
    clip = make_clip(tmp_path / "promo.webm", seconds=0.5, codec="libvpx-vp9")
    before = media_count(session)
    page = upload(client, editor, "VP9 promo", clip.read_bytes())
    assert "it is VP9" in page
    assert "the Pis decode only H.264 and HEVC in hardware" in page
    assert "Re-encode it as H.264 1080p" in page
    assert "ffmpeg -i in.mov -c:v libx264" in page
    assert media_count(session) == before  # nothing stored


def test_h264_bigger_than_1080p_is_refused(client, session, editor, tmp_path):
    clip = make_clip(tmp_path / "big.mp4", seconds=0.2, size=(2560, 1440), extra=("-crf", "40"))
    before = media_count(session)
    page = upload(client, editor, "Big promo", clip.read_bytes())
    assert "it is H.264 High at 2560x1440, 25 fps, and it is bigger than 1920x1080" in page
    assert media_count(session) == before


def test_hevc_is_kept(client, session, editor, tmp_path: Path):
    clip = make_clip(tmp_path / "hevc.mp4", seconds=0.5, codec="libx265", extra=("-tag:v", "hvc1"))
    page = upload(client, editor, "HEVC promo", clip.read_bytes())
    assert "Uploaded “HEVC promo”." in page
    assert "(HEVC, 25 fps)" in page


def test_sound_without_a_picture_is_refused(client, session, editor, tmp_path):
    sound = make_audio_only(tmp_path / "jingle.m4a")
    assert sound.read_bytes()[4:8] == b"ftyp"  # it looks like an MP4 from its signature
    before = media_count(session)
    page = upload(client, editor, "Jingle", sound.read_bytes())
    assert "This file has no moving picture in it" in page
    assert media_count(session) == before


def test_a_damaged_video_is_refused(client, session, editor, tmp_path):
    clip = make_clip(tmp_path / "cut.mp4", seconds=1.0).read_bytes()
    page = upload(client, editor, "Cut short", clip[:200])
    assert "Uploaded" not in page
    assert "damaged" in page


def _probe(**changes: object) -> VideoProbe:
    base: dict[str, object] = dict(
        codec="h264",
        profile="High",
        pix_fmt="yuv420p",
        width_px=1920,
        height_px=1080,
        frame_rate=60.0,
        duration_s=10.0,
    )
    base.update(changes)
    return VideoProbe(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({}, None),
        ({"width_px": 1080, "height_px": 1920}, None),  # portrait 1080p
        ({"frame_rate": 59.94}, None),
        (
            {
                "codec": "hevc",
                "profile": "Main 10",
                "pix_fmt": "yuv420p10le",
                "width_px": 3840,
                "height_px": 2160,
            },
            None,
        ),
        ({"frame_rate": 120.0}, "more than 60 frames a second"),
        ({"profile": "High 10", "pix_fmt": "yuv420p10le"}, "10-bit, 4:2:2 or 4:4:4"),
        ({"pix_fmt": "yuv444p", "profile": "High 4:4:4 Predictive"}, "10-bit, 4:2:2 or 4:4:4"),
        (
            {"codec": "hevc", "profile": "Main", "width_px": 7680, "height_px": 4320},
            "bigger than 4096x2160",
        ),
        ({"codec": "av1", "profile": "Main"}, "only H.264 and HEVC"),
        ({"codec": "prores", "profile": "HQ", "pix_fmt": "yuv422p10le"}, "only H.264 and HEVC"),
    ],
)
def test_the_hardware_decoding_rule(changes, reason):
    problem = decode_problem(_probe(**changes))
    if reason is None:
        assert problem is None
    else:
        assert problem is not None and reason in problem and "ffmpeg -i" in problem
