"""An editor uploads videos in the media library on a phone (Chromium, axe): an H.264 clip is
kept and listed with its length; a VP9 one is refused with the ffmpeg line that fixes it
(issue 18). The clips are made by ffmpeg here."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from central_cms import db as cms_db
from central_cms import models as m
from central_cms.runtime import runtime
from testkit.browsers import assert_accessible, shot, sign_in
from testkit.staff import make_user
from testkit.videos import make_clip

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_an_editor_sees_a_video_kept_with_its_length_and_another_refused_with_a_fix(
    server, browser, shots, tmp_path
):
    app, base = server
    session = cms_db.database(app).sessions()
    make_user(session, runtime(app), "editor", m.Role.EDITOR)
    session.close()
    kept = make_clip(tmp_path / "lanes.mp4", seconds=3.0, size=(640, 360))
    refused = make_clip(tmp_path / "promo.webm", seconds=0.5, codec="libvpx-vp9")

    page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
    sign_in(page, base, "editor")
    page.goto(f"{base}/media/")
    page.get_by_label("Picture or video").set_input_files(str(refused))
    page.get_by_label("Title").fill("Open day promo")
    page.get_by_role("button", name="Upload").click()
    status = page.get_by_role("status")
    expect(status).to_contain_text("it is VP9")
    expect(status).to_contain_text("Re-encode it as H.264 1080p")
    expect(status).to_contain_text("ffmpeg -i in.mov -c:v libx264")
    shot(page, shots / "video-refused-phone.png", full_page=True)
    assert_accessible(page, "media library, video refused")

    page.get_by_label("Picture or video").set_input_files(str(kept))
    page.get_by_label("Title").fill("Lap lanes")
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_text("Uploaded “Lap lanes”.")).to_be_visible()
    listed = page.get_by_role("listitem").filter(has_text="Lap lanes")
    expect(listed).to_contain_text("video, 640\N{MULTIPLICATION SIGN}360, 3 s (H.264, 25 fps)")
    expect(page.get_by_role("listitem").filter(has_text="Open day promo")).to_have_count(0)
    shot(page, shots / "video-kept-phone.png", full_page=True)
    assert_accessible(page, "media library, video kept")
