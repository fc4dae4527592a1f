"""Campaigns: save (with the profile rules), submit, approve, reject, archive.

The same functions serve the staff UI and the REST API, so permissions, the approval
workflow and the roadside rules are enforced once, on the server.

Workflow: draft -> pending (when a site needs approval) -> published -> archived.
Saving changes to a published campaign makes the edit a draft while the version approved
before it keeps playing (central_cms/approved_versions.py) until the edit is published,
so nothing unapproved ever reaches a device and the screens never go blank meanwhile.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, object_session

from central_cms import approved_versions, audit, links, reach, share_of_voice, snapshot
from central_cms import campaign_checks as checks
from central_cms import models as m
from central_cms.errors import Conflict, Invalid, NotFound
from central_cms.library import item_duration_s
from central_cms.manifests import devices_reached, sync_manifests
from central_cms.playlist_models import CampaignZone
from central_cms.policy import Actor, Forbidden, Permission, require
from central_cms.runtime import CmsRuntime
from central_cms.specs import Targets
from devices.protocol import Fit, ItemKind, ProfileKind, Schedule, TextSlide
from devices.protocol.layouts import MAIN_ZONE, LayoutTemplate

Status = m.CampaignStatus
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ItemInput:
    kind: ItemKind
    duration_s: float
    media_id: int | None = None
    text: TextSlide | None = None
    alt_text: str = ""
    weight: int = 1
    fit: Fit = Fit.FIT
    background: str = "#000000"
    link_url: str | None = None
    # Overrides the campaign's public title for this item; "" uses the campaign's.
    public_title: str = ""
    public_titles: dict[str, str] = field(default_factory=dict)
    zone: str = MAIN_ZONE  # the zone of the layout it plays in


@dataclass(frozen=True)
class CampaignInput:
    name: str  # for staff only
    owner_site_id: str
    items: tuple[ItemInput, ...]
    targets: Targets
    schedules: tuple[Schedule, ...] = ()
    priority: int = 50
    is_default: bool = False
    extra: dict[str, str] = field(default_factory=dict)
    # What visitors and passers-by see, and its translations by language code.
    public_title: str = ""
    public_titles: dict[str, str] = field(default_factory=dict)
    # Issue 14: the layout per kind of screen, the playlist each zone plays (zone ->
    # playlist id), and whether screens whose rules it breaks are skipped, not refused.
    # None keeps what an existing campaign has (the REST API does not send them yet).
    layouts: dict[ProfileKind, LayoutTemplate] | None = None
    zone_playlists: dict[str, str] | None = None
    skip_unable: bool | None = None
    share_s_per_hour: int | None = None  # guaranteed airtime (central_cms/share_of_voice.py)


TITLE_MAX = 200
_LANGUAGE_CODE = re.compile(r"^[a-z]{2}(_[A-Z]{2})?$")


def clean_titles(
    field_name: str, where: str, title: str, translations: dict[str, str]
) -> tuple[str, dict[str, str]]:
    """A public title and its translations, trimmed, empty translations dropped; refuses
    what a manifest could not carry, naming the field."""
    title = title.strip()
    kept = {code: text.strip() for code, text in translations.items() if text.strip()}
    for code, text in (("", title), *kept.items()):
        if code and not _LANGUAGE_CODE.match(code):
            raise Invalid(field_name, f"{where}: {code!r} is not a language code such as vi.")
        if len(text) > TITLE_MAX:
            raise Invalid(field_name, f"{where}: keep the public title to {TITLE_MAX} characters.")
    if kept and not title:
        raise Invalid(
            field_name,
            f"{where}: give the public title in the default language too; it is shown "
            "to visitors whose language has no translation.",
        )
    return title, kept


def _slug(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40].strip("-")
    return f"{slug or 'campaign'}-{secrets.token_hex(3)}"


def get(session: Session, campaign_id: str) -> m.Campaign:
    campaign = session.get(m.Campaign, campaign_id)
    if campaign is None:
        raise NotFound(campaign_id)
    return campaign


def targets_json(targets: Targets) -> dict[str, list[str]]:
    found = {
        "sites": sorted(targets.sites),
        "tags": sorted(targets.tags),
        "kinds": sorted(k.value for k in targets.kinds),
        "profiles": sorted(targets.profiles),
    }
    for name in ("groups", "except_sites"):  # left out unused, as before issue 14
        if getattr(targets, name):
            found[name] = sorted(getattr(targets, name))
    return found


targeted_profiles = reach.targeted_profiles
rule_violations = checks.rule_violations
legibility_warnings = checks.legibility_warnings


def _validate(session: Session, actor: Actor, data: CampaignInput) -> None:
    if not data.name.strip():
        raise Invalid("name", "Give the campaign a name.")
    if session.get(m.Site, data.owner_site_id) is None:
        raise Conflict("owner_site_id", "Choose the site that owns this campaign.")
    require(actor, Permission.CAMPAIGN_WRITE, site_ids=[data.owner_site_id])
    if not data.items and not data.zone_playlists:
        raise Invalid(
            "items", "Add at least one item (an image, a video or a text slide) or a playlist."
        )
    if data.targets.empty:
        raise Invalid("targets", "Choose where it shows: at least one site, tag, kind or profile.")
    unknown = [
        s for s in data.targets.sites | data.targets.except_sites if session.get(m.Site, s) is None
    ]
    if unknown:
        raise Conflict("targets", f"Unknown site: {', '.join(sorted(unknown))}.")
    if not 0 <= data.priority <= 100:
        raise Invalid("priority", "Priority is from 0 to 100.")
    for number, item in enumerate(data.items, start=1):
        if not 0 < item.duration_s <= 3600:
            raise Invalid("items", f"Item {number}: show it for 1 s to 3600 s.")
        if not 1 <= item.weight <= 100:
            raise Invalid("items", f"Item {number}: the weight is from 1 to 100.")
        if item.kind is ItemKind.TEXT:
            if item.text is None or not item.text.title.strip():
                raise Invalid("items", f"Item {number}: a text slide needs a title.")
            continue
        asset = session.get(m.MediaAsset, item.media_id) if item.media_id is not None else None
        if asset is None:
            raise Conflict("items", f"Item {number}: choose a picture or video from the library.")
        if asset.kind != item.kind.value:
            raise Conflict(
                "items", f"Item {number}: the file is a {asset.kind}, not a {item.kind.value}."
            )
    clean_titles("public_title", "Public title", data.public_title, data.public_titles)
    for number, item in enumerate(data.items, start=1):
        clean_titles("items", f"Item {number}", item.public_title, item.public_titles)
    checks.validate_zones(session, actor, data)
    share_of_voice.check(
        data.share_s_per_hour,
        [share_of_voice.Share(str(n), i.duration_s, i.weight) for n, i in enumerate(data.items)],
        is_default=data.is_default,
    )


def save(
    session: Session,
    rt: CmsRuntime,
    actor: Actor,
    data: CampaignInput,
    campaign_id: str | None = None,
) -> m.Campaign:
    """Create or update a campaign (as a draft). Refuses rule violations."""
    now = rt.clock.now()
    was_published = False
    old_targets = Targets()
    existing = None
    if campaign_id is not None:
        existing = get(session, campaign_id)
        require(actor, Permission.CAMPAIGN_WRITE, site_ids=[existing.owner_site_id])
        if existing.status == Status.ARCHIVED:
            raise Conflict("status", "An archived campaign cannot be changed.")
        was_published = existing.status == Status.PUBLISHED
        old_targets = snapshot.targets_of(existing.targets)
        if was_published:
            approved_versions.keep_playing(session, existing, now)
    data = with_kept(data, existing)
    with session.no_autoflush:
        _validate(session, actor, data)
        checks.refuse_links(session, links.policy_for(rt.config), data)
        skipped = checks.skip_profiles(session, data)
    if existing is None:
        campaign = m.Campaign(
            id=_slug(data.name),
            created_by=actor.username,
            created_at=now,
            status=Status.DRAFT,
        )
        session.add(campaign)
    else:
        campaign = existing
    campaign.name = data.name.strip()[:200]
    campaign.public_title, campaign.public_title_translations = clean_titles(
        "public_title", "Public title", data.public_title, data.public_titles
    )
    campaign.owner_site_id = data.owner_site_id
    campaign.priority = data.priority
    campaign.is_default = data.is_default
    campaign.share_s_per_hour = data.share_s_per_hour
    campaign.schedules = [s.model_dump(mode="json") for s in data.schedules]
    targets: dict[str, object] = {**targets_json(data.targets)}
    if data.skip_unable:
        targets |= {"skip_unable": True, "skip_profiles": skipped}
    campaign.targets = targets
    campaign.layouts = {kind.value: t.value for kind, t in sorted((data.layouts or {}).items())}
    campaign.updated_at = now
    campaign.status = Status.DRAFT
    campaign.items.clear()
    session.flush()
    for position, item in enumerate(data.items):
        title, translations = clean_titles(
            "items", f"Item {position + 1}", item.public_title, item.public_titles
        )
        campaign.items.append(
            m.CampaignItem(
                id=f"{campaign.id}-{secrets.token_hex(3)}",
                position=position,
                kind=item.kind.value,
                media_id=item.media_id if item.kind is not ItemKind.TEXT else None,
                text=item.text.model_dump(mode="json") if item.text else None,
                alt_text=item.alt_text[:200],
                duration_s=item_duration_s(
                    session, item.kind.value, item.media_id, item.duration_s
                ),
                weight=item.weight,
                fit=item.fit.value,
                background=item.background,
                link_url=item.link_url or None,
                public_title=title,
                public_title_translations=translations,
                zone=item.zone,
            )
        )
    session.execute(delete(CampaignZone).where(CampaignZone.campaign_id == campaign.id))
    for zone, playlist_id in sorted((data.zone_playlists or {}).items()):
        session.add(CampaignZone(campaign_id=campaign.id, zone=zone, playlist_id=playlist_id))
    audit.record(
        session,
        actor,
        "campaign.create" if campaign_id is None else "campaign.update",
        "campaign",
        campaign.id,
        now,
        name=campaign.name,
        approved_version_playing=approved_versions.find(session, campaign.id) is not None,
    )
    session.flush()
    if was_published:
        sync_manifests(session, rt, devices_reached(session, old_targets))
    session.commit()
    return campaign


def needs_approval(session: Session, actor: Actor, campaign: m.Campaign) -> bool:
    targets = snapshot.targets_of(campaign.targets)
    site_ids = set(targets.sites) | {campaign.owner_site_id}
    if not targets.sites:
        site_ids |= {d.site_id for d in snapshot.load_devices(session) if targets.matches(d)}
    sites = session.scalars(select(m.Site).where(m.Site.id.in_(site_ids))).all()
    if any(site.requires_approval for site in sites):
        return True
    return not actor.covers_sites(site_ids)


def self_approval_refusal(session: Session, campaign: m.Campaign) -> str | None:
    """Why the person who submitted `campaign` may not approve it too, or None.

    Separation of duties (issue 13, point 10): someone else approves, unless every site
    the campaign belongs to or reaches allows self-approval (small teams), and never
    when it reaches a roadside screen, where a mistake is in front of every driver."""
    targets = snapshot.targets_of(campaign.targets)
    reached = [d for d in snapshot.load_devices(session) if targets.matches(d)]
    site_ids = {campaign.owner_site_id} | set(targets.sites) | {d.site_id for d in reached}
    sites = session.scalars(select(m.Site).where(m.Site.id.in_(site_ids))).all()
    refusal = "you sent this campaign for approval, so another approver must approve it"
    if not all(site.allow_self_approval for site in sites):
        return refusal
    profile_ids = set(targets.profiles) | {d.profile_id for d in reached}
    roadside = session.scalars(
        select(m.ScreenProfile.name).where(
            m.ScreenProfile.id.in_(profile_ids), m.ScreenProfile.kind == ProfileKind.ROADSIDE
        )
    ).first()
    if roadside is not None:
        return f"{refusal}: it reaches roadside screens ({roadside})"
    return None


def may_approve(session: Session, actor: Actor, campaign: m.Campaign) -> bool:
    """Whether `actor` sees the Approve button for this pending campaign."""
    if not actor.can(Permission.CAMPAIGN_APPROVE) or campaign.status != Status.PENDING:
        return False
    return campaign.submitted_by != actor.username or not self_approval_refusal(session, campaign)


def _check_rules_again(session: Session, campaign: m.Campaign) -> None:
    """Devices may have been added since the campaign was saved."""
    data = to_input(campaign)
    skipped = checks.skip_profiles(session, data)
    if data.skip_unable:
        campaign.targets = {**campaign.targets, "skip_profiles": skipped}


def submit(session: Session, rt: CmsRuntime, actor: Actor, campaign_id: str) -> m.Campaign:
    """Publish now if no approval is needed, else put it in the approval queue."""
    campaign = get(session, campaign_id)
    require(actor, Permission.CAMPAIGN_WRITE, site_ids=[campaign.owner_site_id])
    if campaign.status != Status.DRAFT:
        raise Conflict("status", f"Only a draft can be submitted; this one is {campaign.status}.")
    _check_rules_again(session, campaign)
    now = rt.clock.now()
    campaign.submitted_by = actor.username
    campaign.updated_at = now
    if needs_approval(session, actor, campaign) or not actor.can(Permission.CAMPAIGN_PUBLISH):
        campaign.status = Status.PENDING
        audit.record(session, actor, "campaign.submit", "campaign", campaign.id, now)
        session.commit()
        return campaign
    return _publish(session, rt, actor, campaign, now)


def _publish(
    session: Session, rt: CmsRuntime, actor: Actor, campaign: m.Campaign, now: datetime
) -> m.Campaign:
    campaign.status = Status.PUBLISHED
    campaign.approved_by = actor.username
    campaign.approved_at = now
    replaced = approved_versions.find(session, campaign.id)
    replaced_targets = snapshot.targets_of(approved_versions.targets(replaced))
    approved_versions.record(session, campaign, actor.username, now)
    audit.record(
        session,
        actor,
        "campaign.publish",
        "campaign",
        campaign.id,
        now,
        replaced_approved_version=replaced is not None,
    )
    session.flush()
    sync_manifests(
        session,
        rt,
        devices_reached(session, snapshot.targets_of(campaign.targets), replaced_targets),
    )
    return campaign


def approve(session: Session, rt: CmsRuntime, actor: Actor, campaign_id: str) -> m.Campaign:
    campaign = get(session, campaign_id)
    require(actor, Permission.CAMPAIGN_APPROVE)
    if campaign.status != Status.PENDING:
        raise Conflict(
            "status", f"Only a pending campaign can be approved; this one is {campaign.status}."
        )
    if campaign.submitted_by == actor.username:
        refusal = self_approval_refusal(session, campaign)
        if refusal is not None:
            raise Forbidden(refusal)
    _check_rules_again(session, campaign)
    return _publish(session, rt, actor, campaign, rt.clock.now())


def reject(
    session: Session, rt: CmsRuntime, actor: Actor, campaign_id: str, note: str
) -> m.Campaign:
    campaign = get(session, campaign_id)
    require(actor, Permission.CAMPAIGN_APPROVE)
    if campaign.status != Status.PENDING:
        raise Conflict(
            "status", f"Only a pending campaign can be rejected; this one is {campaign.status}."
        )
    now = rt.clock.now()
    campaign.status = Status.DRAFT
    campaign.review_note = note.strip()[:2000]
    campaign.updated_at = now
    audit.record(
        session,
        actor,
        "campaign.reject",
        "campaign",
        campaign.id,
        now,
        note=note,
        approved_version_playing=approved_versions.find(session, campaign.id) is not None,
    )
    session.commit()
    return campaign


def archive(session: Session, rt: CmsRuntime, actor: Actor, campaign_id: str) -> m.Campaign:
    campaign = get(session, campaign_id)
    require(actor, Permission.CAMPAIGN_ARCHIVE, site_ids=[campaign.owner_site_id])
    # Archiving ends both the campaign and an approved version still playing.
    approved = approved_versions.find(session, campaign_id)
    was_playing = campaign.status == Status.PUBLISHED or approved is not None
    approved_targets = snapshot.targets_of(approved_versions.targets(approved))
    approved_versions.discard(session, campaign_id)
    now = rt.clock.now()
    campaign.status = Status.ARCHIVED
    campaign.updated_at = now
    audit.record(
        session,
        actor,
        "campaign.archive",
        "campaign",
        campaign.id,
        now,
        ended_approved_version=approved is not None,
    )
    session.flush()
    if was_playing:
        reached = devices_reached(session, snapshot.targets_of(campaign.targets), approved_targets)
        sync_manifests(session, rt, reached)
    session.commit()
    return campaign


def with_kept(data: CampaignInput, existing: m.Campaign | None) -> CampaignInput:
    """`data` with the issue-14 fields it leaves out (None) taken from `existing`."""
    kept = to_input(existing) if existing is not None else None
    return replace(
        data,
        layouts=data.layouts if data.layouts is not None else (kept.layouts if kept else {}),
        zone_playlists=data.zone_playlists
        if data.zone_playlists is not None
        else (kept.zone_playlists if kept else {}),
        skip_unable=data.skip_unable
        if data.skip_unable is not None
        else bool(kept and kept.skip_unable),
    )


def zone_playlists(campaign: m.Campaign) -> dict[str, str]:
    session = object_session(campaign)
    if session is None:
        return {}
    query = select(CampaignZone).where(CampaignZone.campaign_id == campaign.id)
    return {z.zone: z.playlist_id for z in session.scalars(query)}


def to_input(campaign: m.Campaign) -> CampaignInput:
    return CampaignInput(
        layouts=snapshot.layouts_of(campaign.layouts),
        zone_playlists=zone_playlists(campaign),
        skip_unable=bool(campaign.targets.get("skip_unable")),
        name=campaign.name,
        owner_site_id=campaign.owner_site_id,
        priority=campaign.priority,
        is_default=campaign.is_default,
        share_s_per_hour=campaign.share_s_per_hour,
        public_title=campaign.public_title,
        public_titles=dict(campaign.public_title_translations),
        schedules=tuple(Schedule.model_validate(s) for s in campaign.schedules),
        targets=snapshot.targets_of(campaign.targets),
        items=tuple(
            ItemInput(
                kind=ItemKind(i.kind),
                duration_s=i.duration_s,
                media_id=i.media_id,
                text=TextSlide.model_validate(i.text) if i.text else None,
                alt_text=i.alt_text,
                weight=i.weight,
                fit=Fit(i.fit),
                background=i.background,
                link_url=i.link_url,
                public_title=i.public_title,
                public_titles=dict(i.public_title_translations),
                zone=i.zone,
            )
            for i in campaign.items
        ),
    )


def parse_schedule(raw: dict[str, object]) -> Schedule:
    try:
        return Schedule.model_validate(raw)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        raise Invalid("schedules", f"Schedule: {first['msg']}") from None
