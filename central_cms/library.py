"""The media library: upload (checked, cleaned, stored by sha256) and list."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from central_cms import audit
from central_cms import models as m
from central_cms.errors import Conflict, Invalid
from central_cms.media import Encoded, MediaError, check_upload
from central_cms.policy import Actor, Permission, require
from central_cms.runtime import CmsRuntime
from central_cms.video_probe import probe

log = logging.getLogger(__name__)


def upload(
    session: Session,
    rt: CmsRuntime,
    actor: Actor,
    *,
    filename: str,
    data: bytes,
    title: str = "",
    site_id: str | None = None,
) -> m.MediaAsset:
    """Store an upload, or raise Invalid with a message for staff; a refused or failed
    upload leaves no file and no row behind."""
    require(actor, Permission.MEDIA_WRITE, site_ids=[site_id] if site_id else [])
    if site_id and session.get(m.Site, site_id) is None:
        raise Conflict("site_id", f"No site called {site_id}: leave it out or choose a site.")
    try:
        checked = check_upload(data, max_pixels=rt.config.max_image_pixels, probe_video=probe)
    except MediaError as error:
        raise Invalid("file", error.message) from None
    created: list[str] = []
    try:
        now = rt.clock.now()
        for encoded in (checked.original, checked.thumbnail):
            sha, new = rt.blobs.put(encoded)
            if new:
                created.append(sha)
            _blob_row(session, encoded, now)
        asset = m.MediaAsset(
            title=(title.strip() or filename)[:200],
            filename=filename[-255:],
            kind=checked.kind,
            sha256=checked.original.sha256,
            thumbnail_sha256=checked.thumbnail.sha256,
            width_px=checked.width_px,
            height_px=checked.height_px,
            duration_s=checked.video.duration_s if checked.video else None,
            video_codec=checked.video.codec if checked.video else None,
            frame_rate=checked.video.frame_rate if checked.video else None,
            site_id=site_id or None,
            uploaded_by=actor.username,
            created_at=now,
        )
        session.add(asset)
        session.flush()
        audit.record(session, actor, "media.upload", "media", str(asset.id), now, title=asset.title)
        session.commit()
        return asset
    except BaseException:
        session.rollback()
        for sha in created:
            rt.blobs.delete(sha)
        raise


def _blob_row(session: Session, encoded: Encoded, now: object) -> None:
    if session.get(m.Blob, encoded.sha256) is None:
        session.add(
            m.Blob(
                sha256=encoded.sha256,
                content_type=encoded.content_type,
                size_bytes=len(encoded.data),
                created_at=now,
            )
        )
        session.flush()


def item_duration_s(session: Session, kind: str, media_id: int | None, asked_s: float) -> float:
    """How long an item shows: a probed video's own length (a video plays to its end, so
    proof-of-play and the player's hand-over agree, issue 18); otherwise what staff asked."""
    if kind != "video" or media_id is None:
        return asked_s
    asset = session.get(m.MediaAsset, media_id)
    if asset is None or asset.duration_s is None:
        return asked_s
    return asset.duration_s
