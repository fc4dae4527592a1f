"""Screens (issue 8): what every signage screen shows now, from the screenshots the
devices send back.

The pure part picks a device's latest screenshot out of its command results and decides
which devices are due for a new one. The I/O part is small: a per-device claim in the
CMS database, so that however many viewers and CMS processes look at the page, each
device is asked at most once per interval, and the signed `screenshot` command itself.

Screenshots asked for automatically (because someone is looking at the page) are not
written to the audit log: they change nothing and would bury staff actions under
thousands of lines a day. The "Refresh screenshots" button goes through
`fleet.send_command`, so it is permission-checked and audited like any other command.
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from PIL import Image
from pydantic import ValidationError
from sqlalchemy import String, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from central_cms import fleet
from central_cms.models import Base, Timestamp
from central_cms.policy import Actor, Permission, require
from central_cms.runtime import CmsRuntime
from devices.protocol import (
    Channel,
    Command,
    CommandName,
    CommandResult,
    NowShowing,
    Status,
    device_topic,
    sign,
)

log = logging.getLogger(__name__)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class ScreensSettings:
    # A screenshot older than this is replaced: the CMS asks the device for a new one
    # when someone views the page. It is also the rate limit: one request per device
    # per this many seconds, whoever is looking.
    max_age_s: float = 30.0
    # The page reloads itself this often (meta refresh), unless paused.
    reload_s: int = 10

    @property
    def max_age(self) -> timedelta:
        return timedelta(seconds=self.max_age_s)


class ScreenshotRequest(Base):
    """When the CMS last asked a device for a screenshot; shared by every CMS process.

    No foreign key to devices: a row outliving its device is harmless, and deleting a
    device need not know about this table."""

    __tablename__ = "screenshot_requests"
    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    requested_at: Mapped[datetime] = mapped_column(Timestamp)


# --- pure ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Screenshot:
    """What a device's command result says about a screenshot, without the pixels."""

    device_id: str
    command_id: str
    at: datetime
    width_px: int | None
    height_px: int | None
    # What the frame in the screenshot is, as the player reported it with the pixels;
    # `showing_reported` is false for players from before that (issue 13 point 19).
    showing: NowShowing | None = None
    showing_reported: bool = False


def _showing_in(data: Mapping[str, object]) -> tuple[NowShowing | None, bool]:
    if "showing_item_id" not in data:
        return None, False
    if data.get("showing_since") is None:
        return None, True  # nothing was on screen yet
    try:
        showing = NowShowing.model_validate(
            {
                "item_id": data.get("showing_item_id"),
                "campaign_id": data.get("showing_campaign_id"),
                "alert_id": data.get("showing_alert_id"),
                "since": data.get("showing_since"),
            }
        )
    except ValidationError:
        return None, False  # unreadable: treat as not reported
    return showing, True


@dataclass(frozen=True)
class Moment:
    """One instant a Screens tile describes: its picture and its "Showing" caption are
    both of `at`. `known` is false when what was on screen then cannot be told."""

    at: datetime | None
    showing: NowShowing | None
    known: bool


def tile_moment(shot: Screenshot | None, status: Status | None) -> Moment:
    """The moment of the screenshot when there is one, else of the latest status.

    A screenshot from an older player does not say what it shows; the latest status
    does, for that moment, only if its item was already on screen when the screenshot
    was taken (a player reports every change, so nothing changed in between)."""
    if shot is None:
        if status is None:
            return Moment(None, None, False)
        return Moment(status.at, status.now_showing, True)
    if shot.showing_reported:
        return Moment(shot.at, shot.showing, True)
    current = status.now_showing if status else None
    if current is not None and current.since <= shot.at:
        return Moment(shot.at, current, True)
    return Moment(shot.at, None, False)


def _is_screenshot(result: CommandResult) -> bool:
    return result.ok and isinstance(result.data.get("png_base64"), str)


def latest_screenshot(results: Iterable[CommandResult]) -> Screenshot | None:
    """The newest successful screenshot among `results` (in any order)."""
    found = max((r for r in results if _is_screenshot(r)), key=lambda r: r.at, default=None)
    if found is None:
        return None
    width, height = found.data.get("width_px"), found.data.get("height_px")
    showing, reported = _showing_in(found.data)
    return Screenshot(
        device_id=found.device_id,
        command_id=found.command_id,
        at=found.at,
        width_px=width if isinstance(width, int) and width > 0 else None,
        height_px=height if isinstance(height, int) and height > 0 else None,
        showing=showing,
        showing_reported=reported,
    )


def screenshot_png(results: Iterable[CommandResult], command_id: str | None) -> bytes | None:
    """The PNG bytes of the screenshot `command_id` (or of the newest one, if None);
    None if there is none or what the device sent is not a PNG."""
    candidates = sorted((r for r in results if _is_screenshot(r)), key=lambda r: r.at, reverse=True)
    for result in candidates:
        if command_id is not None and result.command_id != command_id:
            continue
        try:
            png = base64.b64decode(str(result.data["png_base64"]), validate=True)
        except (binascii.Error, ValueError):
            png = b""
        if png.startswith(PNG_SIGNATURE):  # serve only what really is a PNG
            return png
        if command_id is not None:
            return None
    return None


THUMBNAIL_WIDTH_PX = 480


def thumbnail(png: bytes, width_px: int = THUMBNAIL_WIDTH_PX) -> tuple[bytes, str]:
    """A screenshot small enough for a wall of tiles: (bytes, media type).

    A 1080p frame is a few MB as PNG; scaled to the tile's width as JPEG it is tens of
    kB. A frame already that narrow (a roadside LED canvas) stays the PNG it is, so
    its pixels are not blurred."""
    with Image.open(io.BytesIO(png)) as image:
        if image.width <= width_px:
            return png, "image/png"
        height_px = max(1, round(image.height * width_px / image.width))
        small = image.convert("RGB").resize((width_px, height_px), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    small.save(out, "JPEG", quality=82, optimize=True)
    return out.getvalue(), "image/jpeg"


def is_due(*, online: bool, shot_at: datetime | None, now: datetime, max_age: timedelta) -> bool:
    """Should the CMS ask this device for a new screenshot? Only an online device can
    answer; one with no screenshot yet is due at once."""
    return online and (shot_at is None or now - shot_at >= max_age)


# --- the database ------------------------------------------------------------------------


def _insert(session: Session) -> type[postgresql.Insert] | type[sqlite.Insert]:
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.Insert
    return sqlite.Insert


def claim_requests(
    session: Session, device_ids: Sequence[str], now: datetime, interval: timedelta
) -> set[str]:
    """Atomically take the right to ask each of `device_ids` for a screenshot at `now`:
    each device is won by exactly one caller per `interval`, across CMS processes.
    Returns the devices won. One statement and one commit for a whole page of screens.

    An upsert that moves `requested_at` forward only where it is at least `interval` old:
    on PostgreSQL a competing transaction waits for the row and re-checks the condition,
    so it loses; SQLite serialises writers."""
    if not device_ids:
        return set()
    statement = _insert(session)(ScreenshotRequest).values(
        [{"device_id": d, "requested_at": now} for d in dict.fromkeys(device_ids)]
    )
    won = session.connection().execute(
        statement.on_conflict_do_update(
            index_elements=["device_id"],
            set_={"requested_at": statement.excluded.requested_at},
            where=ScreenshotRequest.requested_at <= now - interval,
        ).returning(ScreenshotRequest.device_id)
    )
    claimed = {device_id for (device_id,) in won}
    session.commit()
    return claimed


def claim_request(session: Session, device_id: str, now: datetime, interval: timedelta) -> bool:
    """`claim_requests` for one device."""
    return device_id in claim_requests(session, [device_id], now, interval)


def _stamp(session: Session, device_id: str, now: datetime) -> None:
    statement = _insert(session)(ScreenshotRequest).values(device_id=device_id, requested_at=now)
    session.connection().execute(
        statement.on_conflict_do_update(
            index_elements=["device_id"], set_={"requested_at": statement.excluded.requested_at}
        )
    )


def requested_at(session: Session, device_ids: Iterable[str]) -> dict[str, datetime]:
    ids = list(device_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(ScreenshotRequest.device_id, ScreenshotRequest.requested_at).where(
            ScreenshotRequest.device_id.in_(ids)
        )
    )
    return {device_id: at for device_id, at in rows}


# --- commands ----------------------------------------------------------------------------


def _send_unaudited(rt: CmsRuntime, device_id: str, now: datetime, lifetime: timedelta) -> None:
    command = Command(
        id=f"cmd-{secrets.token_hex(8)}",
        device_id=device_id,
        name=CommandName.SCREENSHOT,
        issued_at=now,
        expires_at=now + lifetime,
    )
    rt.publisher.publish(
        device_topic(device_id, Channel.COMMANDS), sign(command, rt.signing_key), retain=False
    )


def request_due(
    session: Session, rt: CmsRuntime, due: Sequence[str], settings: ScreensSettings
) -> list[str]:
    """Ask each device in `due` for a screenshot, unless another viewer or process did
    within the interval; returns the devices asked. A request the device cannot act on
    within the interval is stale, so that is also its lifetime."""
    now = rt.clock.now()
    won = claim_requests(session, due, now, settings.max_age)
    asked = [device_id for device_id in due if device_id in won]
    for device_id in asked:
        _send_unaudited(rt, device_id, now, settings.max_age)
    if asked:
        log.debug("asked %d screens for a screenshot: %s", len(asked), ", ".join(asked))
    return asked


def refresh_screenshots(
    session: Session,
    rt: CmsRuntime,
    actor: Actor,
    device_ids: Sequence[str],
    settings: ScreensSettings,
) -> list[str]:
    """Staff asked for fresh screenshots now: one signed, audited command per device
    (whatever the rate limit says), which also restarts each device's interval."""
    require(actor, Permission.DEVICE_WRITE)
    now = rt.clock.now()
    for device_id in device_ids:
        fleet.send_command(
            session,
            rt,
            actor,
            device_id,
            CommandName.SCREENSHOT,
            lifetime=settings.max_age,
        )
        _stamp(session, device_id, now)
        session.commit()
    if device_ids:
        log.info("%s asked %d screens for a screenshot", actor.username, len(device_ids))
    return list(device_ids)
