"""Sites, screen profiles, devices (registration with credentials) and users."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from central_cms import audit
from central_cms import models as m
from central_cms.errors import Conflict, Invalid, NotFound
from central_cms.manifests import sync_manifests
from central_cms.policy import Actor, Permission, require
from central_cms.runtime import CmsRuntime
from central_cms.screen_setup import ScreenSetup
from devices.broker import (
    acl_file,
    hash_password,
    new_password,
    password_file,
    service_accounts,
)
from devices.config import device_config_toml
from devices.protocol import (
    PORTAL_LANGUAGES,
    Channel,
    Command,
    CommandName,
    DeviceKind,
    ProtocolError,
    device_topic,
    sign,
    validate_id,
)
from devices.protocol.base import Scalar


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _check_id(value: str, field: str) -> str:
    try:
        return validate_id(value, field)
    except ProtocolError:
        raise Invalid(
            field, "Use 1-64 lowercase letters, digits and '-', not starting or ending with '-'."
        ) from None


def _tags(raw: list[str]) -> list[str]:
    tags = sorted({t.strip().lower() for t in raw if t.strip()})
    for tag in tags:
        _check_id(tag, "tags")
    return tags


@dataclass(frozen=True)
class Registration:
    device: m.Device
    config_toml: str  # shown once: holds the device's MQTT password and asset token


def register_device(
    session: Session,
    rt: CmsRuntime,
    actor: Actor,
    *,
    device_id: str,
    name: str,
    kind: DeviceKind,
    site_id: str,
    profile_id: str,
    tags: list[str],
) -> Registration:
    require(actor, Permission.DEVICE_WRITE)
    _check_id(device_id, "id")
    if session.get(m.Device, device_id) is not None:
        raise Conflict("id", f"A device called {device_id} already exists.")
    if re.fullmatch(r"(cms|ingest)-\d+", device_id) or device_id in {
        rt.config.mqtt_username,
        rt.config.mqtt_ingest_username,
    }:
        # Its broker account would be a CMS or ingest account (issue 13, point 7).
        raise Conflict("id", f"{device_id} is a CMS broker account; choose another id.")
    if session.get(m.Site, site_id) is None:
        raise Conflict("site_id", "Choose a site.")
    if session.get(m.ScreenProfile, profile_id) is None:
        raise Conflict("profile_id", "Choose a screen profile.")
    password, token = new_password(), secrets.token_urlsafe(32)
    now = rt.clock.now()
    device = m.Device(
        id=device_id,
        name=name.strip()[:200],
        kind=kind.value,
        site_id=site_id,
        profile_id=profile_id,
        tags=_tags(tags),
        mqtt_password_hash=hash_password(password),
        asset_token_hash=token_hash(token),
        created_at=now,
    )
    session.add(device)
    audit.record(session, actor, "device.register", "device", device_id, now, site=site_id)
    session.flush()
    toml = device_config_toml(
        device_id=device_id,
        kind=kind,
        brokers=rt.config.device_brokers,
        username=device_id,
        password=password,
        public_keys=[rt.signing_key.public_key.to_text()],
        asset_token=token,
    )
    sync_manifests(session, rt, [device_id])
    return Registration(device, toml)


def reissue_credentials(
    session: Session,
    rt: CmsRuntime,
    actor: Actor,
    device_id: str,
    *,
    data_dir: str = "/var/lib/digital-spaces",
    extra: str = "",
) -> Registration:
    """New MQTT password and asset token for a device (a rebuilt or lost Pi); the old ones
    stop working once the broker's password file is exported again. `data_dir` and
    `extra` (TOML sections such as [player]) go into the configuration file."""
    require(actor, Permission.DEVICE_WRITE)
    device = session.get(m.Device, device_id)
    if device is None:
        raise NotFound(f"No device called {device_id}.")
    password, token = new_password(), secrets.token_urlsafe(32)
    device.mqtt_password_hash = hash_password(password)
    device.asset_token_hash = token_hash(token)
    audit.record(
        session,
        actor,
        "device.credentials",
        "device",
        device_id,
        rt.clock.now(),
        site=device.site_id,
    )
    session.flush()
    toml = device_config_toml(
        device_id=device_id,
        kind=DeviceKind(device.kind),
        brokers=rt.config.device_brokers,
        username=device_id,
        password=password,
        public_keys=[rt.signing_key.public_key.to_text()],
        asset_token=token,
        data_dir=data_dir,
        extra=extra,
    )
    return Registration(device, toml)


def update_device(
    session: Session,
    rt: CmsRuntime,
    actor: Actor,
    device_id: str,
    *,
    name: str,
    site_id: str,
    profile_id: str,
    tags: list[str],
    setup: ScreenSetup | None = None,
) -> m.Device:
    """`setup`: the screen's rotation and power schedule (issue 18); None keeps them."""
    require(actor, Permission.DEVICE_WRITE)
    device = session.get(m.Device, device_id)
    if device is None:
        raise NotFound(device_id)
    if session.get(m.Site, site_id) is None:
        raise Conflict("site_id", "Choose a site.")
    if session.get(m.ScreenProfile, profile_id) is None:
        raise Conflict("profile_id", "Choose a screen profile.")
    device.name, device.site_id, device.profile_id = name.strip()[:200], site_id, profile_id
    device.tags = _tags(tags)
    if setup is not None:
        device.rotation_deg, device.power_mode = setup.rotation_deg, setup.power_mode
        device.power_hours = setup.hours_json()
    audit.record(session, actor, "device.update", "device", device_id, rt.clock.now())
    session.flush()
    sync_manifests(session, rt, [device_id])
    return device


def delete_device(session: Session, rt: CmsRuntime, actor: Actor, device_id: str) -> None:
    require(actor, Permission.DEVICE_WRITE)
    device = session.get(m.Device, device_id)
    if device is None:
        raise NotFound(device_id)
    session.query(m.ManifestState).filter_by(device_id=device_id).delete()
    session.delete(device)
    audit.record(session, actor, "device.delete", "device", device_id, rt.clock.now())
    # An empty retained payload removes the old manifest from the broker.
    rt.publisher.publish(device_topic(device_id, Channel.MANIFEST), b"", retain=True)
    session.commit()


def send_command(
    session: Session,
    rt: CmsRuntime,
    actor: Actor,
    device_id: str,
    name: CommandName,
    args: dict[str, Scalar] | None = None,
    *,
    lifetime: timedelta = timedelta(minutes=5),
) -> Command:
    """Sign and send one command; the device ignores it once `expires_at` has passed."""
    require(actor, Permission.DEVICE_WRITE)
    if session.get(m.Device, device_id) is None:
        raise NotFound(device_id)
    now = rt.clock.now()
    command = Command(
        id=f"cmd-{secrets.token_hex(8)}",
        device_id=device_id,
        name=name,
        args=args or {},
        issued_at=now,
        expires_at=now + lifetime,
    )
    audit.record(session, actor, "device.command", "device", device_id, now, command=name.value)
    rt.publisher.publish(
        device_topic(device_id, Channel.COMMANDS), sign(command, rt.signing_key), retain=False
    )
    session.commit()
    return command


def save_site(
    session: Session,
    rt: CmsRuntime,
    actor: Actor,
    *,
    site_id: str,
    name: str,
    address: str,
    timezone: str,
    requires_approval: bool,
    opening_hours: list[dict[str, str]] | None = None,
    allow_self_approval: bool | None = None,
    languages: Sequence[str] | None = None,
) -> m.Site:
    """`allow_self_approval` None keeps the site's setting (off for a new site)."""
    require(actor, Permission.SITE_WRITE)
    _check_id(site_id, "id")
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(
            "timezone", f"{timezone!r} is not a time zone such as Australia/Perth."
        ) from None
    if not name.strip():
        raise Invalid("name", "Give the site a name.")
    site = session.get(m.Site, site_id)
    action = "site.update"
    if site is None:
        site = m.Site(id=site_id, timezone=timezone, name=name)
        session.add(site)
        action = "site.create"
    site.name, site.address, site.timezone = name.strip(), address.strip(), timezone
    site.requires_approval = requires_approval
    if allow_self_approval is not None:
        site.allow_self_approval = allow_self_approval
    if opening_hours is not None:
        site.opening_hours = opening_hours
    if languages is not None:
        site.languages = splash_languages(languages)
    audit.record(session, actor, action, "site", site_id, rt.clock.now())
    session.flush()
    sync_manifests(
        session, rt, session.scalars(select(m.Device.id).where(m.Device.site_id == site_id)).all()
    )
    return site


def splash_languages(codes: Sequence[str]) -> list[str]:
    """The languages a site's splash offers, in the portal's order; English always (it is
    what the terms fall back to)."""
    unknown = sorted(set(codes) - set(PORTAL_LANGUAGES))
    if unknown:
        raise Invalid(
            "languages",
            f"The Wi-Fi splash has no {', '.join(unknown)} translation; choose from "
            f"{', '.join(PORTAL_LANGUAGES)}.",
        )
    return [code for code in PORTAL_LANGUAGES if code == "en" or code in codes]


def save_profile(
    session: Session, rt: CmsRuntime, actor: Actor, profile: m.ScreenProfile
) -> m.ScreenProfile:
    """Create or update a profile from a detached row of values."""
    require(actor, Permission.PROFILE_WRITE)
    _check_id(profile.id, "id")
    if not (16 <= profile.width_px <= 7680 and 16 <= profile.height_px <= 4320):
        raise Invalid("width_px", "The canvas is 16-7680 by 16-4320 pixels.")
    if profile.min_dwell_s < 0 or profile.min_dwell_s > 3600:
        raise Invalid("min_dwell_s", "The minimum dwell is 0-3600 s.")
    merged = session.merge(profile)
    audit.record(session, actor, "profile.save", "profile", profile.id, rt.clock.now())
    session.flush()
    sync_manifests(
        session,
        rt,
        session.scalars(select(m.Device.id).where(m.Device.profile_id == profile.id)).all(),
    )
    return merged


def create_user(
    session: Session,
    rt: CmsRuntime,
    actor: Actor | None,
    *,
    username: str,
    password: str,
    role: m.Role,
    display_name: str = "",
    sites: list[str] | None = None,
) -> m.User:
    """`actor` None only for bootstrap (CLI, seed)."""
    if actor is not None:
        require(actor, Permission.USER_WRITE)
    if len(password) < 10:
        raise Invalid("password", "Use at least 10 characters.")
    if session.scalars(select(m.User).where(m.User.username == username)).first():
        raise Invalid("username", f"{username} already exists.")
    user = m.User(
        username=username,
        display_name=display_name or username,
        password_hash=generate_password_hash(password),
        role=role.value,
        sites=sorted(sites or []),
        active=True,
        created_at=rt.clock.now(),
    )
    session.add(user)
    if actor is not None:
        audit.record(
            session, actor, "user.create", "user", username, rt.clock.now(), role=role.value
        )
    session.commit()
    return user


def end_sessions_of(session: Session, user_id: int) -> int:
    """Sign a user out everywhere (in the caller's transaction); returns how many ended."""
    ended = session.scalars(
        select(m.StaffSession.id).where(m.StaffSession.user_id == user_id)
    ).all()
    session.execute(delete(m.StaffSession).where(m.StaffSession.user_id == user_id))
    return len(ended)


def _user(session: Session, username: str) -> m.User:
    user = session.scalars(select(m.User).where(m.User.username == username)).first()
    if user is None:
        raise NotFound(f"No user called {username}.")
    return user


def change_role(
    session: Session,
    rt: CmsRuntime,
    actor: Actor,
    username: str,
    role: m.Role,
    sites: list[str] | None = None,
) -> m.User:
    """A new role (and, for editors, sites); the user's sessions end, so they sign in
    again with exactly the new permissions."""
    require(actor, Permission.USER_WRITE)
    user = _user(session, username)
    old = user.role
    user.role, user.sites = role.value, sorted(sites or [])
    ended = end_sessions_of(session, user.id)
    audit.record(
        session, actor, "user.role", "user", username, rt.clock.now(),
        role=role.value, was=old, sessions_ended=ended,
    )  # fmt: skip
    session.commit()
    return user


def set_password(
    session: Session, rt: CmsRuntime, actor: Actor, username: str, password: str
) -> m.User:
    """A new password (a forgotten or leaked one); every session of the user ends."""
    require(actor, Permission.USER_WRITE)
    if len(password) < 10:
        raise Invalid("password", "Use at least 10 characters.")
    user = _user(session, username)
    user.password_hash = generate_password_hash(password)
    ended = end_sessions_of(session, user.id)
    audit.record(
        session, actor, "user.password", "user", username, rt.clock.now(), sessions_ended=ended
    )
    session.commit()
    return user


def sign_out_everywhere(session: Session, rt: CmsRuntime, actor: Actor, username: str) -> int:
    """End every session of a user (a lost laptop, a shared computer); returns how many."""
    require(actor, Permission.USER_WRITE)
    user = _user(session, username)
    ended = end_sessions_of(session, user.id)
    audit.record(
        session, actor, "user.sign_out", "user", username, rt.clock.now(), sessions_ended=ended
    )
    session.commit()
    return ended


def create_api_token(session: Session, rt: CmsRuntime, user: m.User, name: str) -> str:
    token = "ds_" + secrets.token_urlsafe(32)
    session.add(
        m.ApiToken(
            user_id=user.id, name=name, token_hash=token_hash(token), created_at=rt.clock.now()
        )
    )
    session.commit()
    return token


def broker_files(session: Session, rt: CmsRuntime) -> tuple[str, str]:
    """(Mosquitto password file, ACL file) for the whole fleet and the service accounts.

    One account per CMS and ingest process (the broker ties client ids to usernames):
    `cms-1..N` and `ingest-1..M` from the configured counts, plus the configured accounts
    themselves, all with the CMS's MQTT password; the ingest accounts may only read what
    devices report and write acks."""
    config = rt.config
    devices = session.scalars(select(m.Device).order_by(m.Device.id)).all()
    hashes = {d.id: d.mqtt_password_hash for d in devices if d.mqtt_password_hash}
    cms_users = sorted({*service_accounts("cms", config.mqtt_cms_accounts), config.mqtt_username})
    ingest_users = sorted(
        {*service_accounts("ingest", config.mqtt_ingest_accounts), config.mqtt_ingest_username}
        - set(cms_users)
    )
    if config.mqtt_password:
        for user in (*cms_users, *ingest_users):
            hashes[user] = hash_password(config.mqtt_password)
    return password_file(hashes), acl_file([d.id for d in devices], cms_users, ingest_users)
