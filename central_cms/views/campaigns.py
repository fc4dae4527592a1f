"""Campaigns: list, editor (schedule builder, target picker, items), detail with
previews per targeted screen profile, and the approval queue."""

from __future__ import annotations

import functools
from datetime import date, time
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from central_cms import approved_versions, preview, share_of_voice, share_of_voice_screens, snapshot
from central_cms import campaign_checks as checks
from central_cms import campaigns as service
from central_cms import models as m
from central_cms.auth import login_required, permission_required
from central_cms.errors import Invalid
from central_cms.paging import page_of
from central_cms.playlist_models import Playlist
from central_cms.policy import Permission
from central_cms.runtime import runtime
from central_cms.specs import Targets
from central_cms.times import date_field, parse_date
from central_cms.views import campaign_plan as plan
from central_cms.views.common import checkbox, context, editing, flash_invalid, row_or_404
from central_cms.zones import ZONE_NAMES
from devices.protocol import DeviceKind, Fit, ItemKind, Schedule, TextSlide, TimeWindow, Weekday
from portal.i18n import LANGUAGES, Language

bp = Blueprint("campaigns", __name__, url_prefix="/campaigns")

ITEM_ROWS = 4
WINDOW_ROWS = 2
PRIORITIES = [(30, "Low"), (50, "Normal"), (70, "High"), (90, "Urgent")]
# The public title is written in English; these are the languages visitors may read it in
# (the ones the Wi-Fi splash ships).
TRANSLATIONS: tuple[Language, ...] = tuple(lang for lang in LANGUAGES.values() if lang.code != "en")


def _translations(form: MultiDict[str, str], prefix: str) -> dict[str, str]:
    """`<prefix>-<code>` fields -> {code: text}, for the languages we ship."""
    return {
        lang.code: form.get(f"{prefix}-{lang.code}", "")
        for lang in TRANSLATIONS
        if form.get(f"{prefix}-{lang.code}", "").strip()
    }


def _float(raw: str | None, field: str, message: str) -> float:
    try:
        return float(raw or "")
    except ValueError:
        raise Invalid(field, message) from None


def _int(raw: str | None, default: int) -> int:
    try:
        return int(raw or default)
    except ValueError:
        return default


def _row_used(form: MultiDict[str, str], n: int) -> bool:
    """An item row counts once it has a kind and a picture or a title."""
    return bool(
        form.get(f"items-{n}-kind", "")
        and (form.get(f"items-{n}-media_id", "") or form.get(f"items-{n}-title", "").strip())
    )


def _field_errors(form: MultiDict[str, str], error: Invalid) -> dict[str, list[str]]:
    """Item problems keyed by the editor's field name ("items-2-title"), to show beside it."""
    rows = [n for n in range(_int(form.get("item_rows"), ITEM_ROWS)) if _row_used(form, n)]
    errors: dict[str, list[str]] = plan.error_fields(error)
    for (number, field), messages in error.item_problems.items():
        if number == 0:  # a playlist's item: beside the zone's playlist choice
            errors.setdefault(field, []).extend(messages)
        elif 0 < number <= len(rows):
            # The editor has no date or venue inputs on an item: the title stands for them.
            name = f"items-{rows[number - 1]}-{'title' if field in ('when', 'venue') else field}"
            errors.setdefault(name, []).extend(messages)
    return errors


def _flash_refusal(error: Invalid, field_errors: dict[str, list[str]]) -> None:
    """Problems shown beside their fields get one line at the top, not a second copy."""
    beside = {message for messages in field_errors.values() for message in messages}
    flash_invalid(error, shown_beside=beside)
    if beside:
        count = len(beside)
        flash(
            f"Not saved: {count} problem{'s' if count > 1 else ''}, "
            "explained beside the fields below.",
            "error",
        )


def parse_form(form: MultiDict[str, str]) -> service.CampaignInput:
    """The editor's fields -> CampaignInput; blank item rows are skipped."""
    days = tuple(Weekday(d) for d in form.getlist("days") if d in Weekday.__members__.values())
    windows = []
    for n in range(WINDOW_ROWS):
        start, end = form.get(f"window-{n}-start", ""), form.get(f"window-{n}-end", "")
        if start and end:
            try:
                windows.append(
                    TimeWindow(start=time.fromisoformat(start), end=time.fromisoformat(end))
                )
            except ValueError:
                raise Invalid("schedules", f"Time window {n + 1}: use times like 07:00.") from None
    try:
        starts = parse_date(form["starts_on"]) if form.get("starts_on", "").strip() else None
        ends = parse_date(form["ends_on"]) if form.get("ends_on", "").strip() else None
    except ValueError as error:
        raise Invalid("schedules", f"First and last day: {error}.") from None
    schedules: tuple[Schedule, ...] = ()
    if starts or ends or days or windows:
        if starts and ends and ends < starts:
            raise Invalid("schedules", "The last day is before the first day.")
        schedules = (Schedule(starts_on=starts, ends_on=ends, days=days, windows=tuple(windows)),)
    items = []
    for n in range(_int(form.get("item_rows"), ITEM_ROWS)):
        kind_raw = form.get(f"items-{n}-kind", "")
        media_raw = form.get(f"items-{n}-media_id", "")
        title = form.get(f"items-{n}-title", "").strip()
        if not _row_used(form, n):
            continue
        try:
            kind = ItemKind(kind_raw)
            fit = Fit(form.get(f"items-{n}-fit", "fit"))
        except ValueError:
            raise Invalid("items", f"Item {n + 1}: choose image, video or text.") from None
        text = None
        if kind is ItemKind.TEXT:
            text = TextSlide(
                title=title[:200],
                body=form.get(f"items-{n}-body", "")[:5000],
                when=form.get(f"items-{n}-when", "")[:200],
                venue=form.get(f"items-{n}-venue", "")[:200],
                shrink_to_fit=checkbox(form.get(f"items-{n}-shrink_to_fit")),
            )
        items.append(
            service.ItemInput(
                kind=kind,
                duration_s=_float(
                    form.get(f"items-{n}-duration_s"),
                    "items",
                    f"Item {n + 1}: give the seconds it shows, like 10.",
                ),
                media_id=int(media_raw)
                if media_raw.isdigit() and kind is not ItemKind.TEXT
                else None,
                text=text,
                alt_text=form.get(f"items-{n}-alt_text", "")[:200],
                weight=_int(form.get(f"items-{n}-weight"), 1),
                fit=fit,
                link_url=form.get(f"items-{n}-link_url", "").strip() or None,
                public_title=form.get(f"items-{n}-public_title", ""),
                public_titles=_translations(form, f"items-{n}-public_title"),
                zone=plan.parse_item_zone(form, n),
            )
        )
    try:
        kinds = frozenset(DeviceKind(k) for k in form.getlist("target_kinds"))
    except ValueError:
        raise Invalid("targets", "Choose signage or portal.") from None
    owner = form.get("owner_site_id", "")
    targets = Targets(
        sites=frozenset() if plan.is_others(form) else frozenset(form.getlist("target_sites")),
        except_sites=frozenset({owner}) if plan.is_others(form) and owner else frozenset(),
        groups=frozenset(form.getlist("target_groups")),
        tags=frozenset(
            t.strip().lower() for t in form.get("target_tags", "").split(",") if t.strip()
        ),
        kinds=kinds,
        profiles=frozenset(form.getlist("target_profiles")),
    )
    return service.CampaignInput(
        name=form.get("name", ""),
        public_title=form.get("public_title", ""),
        public_titles=_translations(form, "public_title"),
        owner_site_id=form.get("owner_site_id", ""),
        items=tuple(items),
        targets=targets,
        schedules=schedules,
        priority=_int(form.get("priority"), 50),
        is_default=checkbox(form.get("is_default")),
        layouts=plan.parse_layouts(form),
        zone_playlists=plan.parse_zone_playlists(form),
        skip_unable=plan.skip_unable(form),
        share_s_per_hour=share_of_voice.parse(
            form.get("share_amount", ""), form.get("share_unit", "s")
        ),
    )


def _form_from(campaign: m.Campaign) -> dict[str, object]:
    """Prefill values for editing an existing campaign."""
    values: dict[str, object] = {
        "name": campaign.name,
        "public_title": campaign.public_title,
        **{f"public_title-{c}": t for c, t in campaign.public_title_translations.items()},
        "owner_site_id": campaign.owner_site_id,
        "priority": str(campaign.priority),
        "is_default": campaign.is_default,
        "share_amount": str(campaign.share_s_per_hour or ""),
        "target_sites": campaign.targets.get("sites", []),
        "target_tags": ", ".join(campaign.targets.get("tags", [])),
        "target_kinds": campaign.targets.get("kinds", []),
        "target_profiles": campaign.targets.get("profiles", []),
        "days": [],
    }
    if campaign.schedules:
        first = campaign.schedules[0]
        for key in ("starts_on", "ends_on"):
            day = first.get(key)
            values[key] = date_field(date.fromisoformat(day)) if day else ""
        values["days"] = first.get("days", [])
        for n, window in enumerate(first.get("windows", [])[:WINDOW_ROWS]):
            values[f"window-{n}-start"] = window["start"][:5]
            values[f"window-{n}-end"] = window["end"][:5]
    values |= plan.form_values(campaign, service.zone_playlists(campaign))
    for n, item in enumerate(campaign.items):
        values[f"items-{n}-kind"] = item.kind
        values[f"items-{n}-media_id"] = str(item.media_id or "")
        values[f"items-{n}-duration_s"] = f"{item.duration_s:g}"
        values[f"items-{n}-weight"] = str(item.weight)
        values[f"items-{n}-fit"] = item.fit
        values[f"items-{n}-alt_text"] = item.alt_text
        values[f"items-{n}-link_url"] = item.link_url or ""
        values[f"items-{n}-public_title"] = item.public_title
        for code, text in item.public_title_translations.items():
            values[f"items-{n}-public_title-{code}"] = text
        for key in ("title", "body", "when", "venue"):
            values[f"items-{n}-{key}"] = (item.text or {}).get(key, "")
        values[f"items-{n}-shrink_to_fit"] = bool((item.text or {}).get("shrink_to_fit"))
    return values


def _editor_choices() -> dict[str, object]:
    s, _, actor = context()
    sites = s.scalars(select(m.Site).order_by(m.Site.name)).all()
    tags = sorted({t for tags in s.scalars(select(m.Device.tags)) for t in tags})
    return {
        "sites": sites,
        "own_sites": [site for site in sites if actor.covers_site(site.id)],
        "profiles": s.scalars(select(m.ScreenProfile).order_by(m.ScreenProfile.name)).all(),
        "media": s.scalars(select(m.MediaAsset).order_by(m.MediaAsset.title)).all(),
        "known_tags": tags,
        "kinds": list(DeviceKind),
        "weekdays": list(Weekday),
        "priorities": PRIORITIES,
        "item_rows": ITEM_ROWS,
        "window_rows": WINDOW_ROWS,
        "fits": list(Fit),
        "translations": TRANSLATIONS,
        **plan.choices(s, actor),
        "link_destinations": runtime().config.link_destinations,
        "share_units": share_of_voice.UNITS,
    }


@bp.get("/")
@login_required
def index() -> str:
    s, _, _ = context()
    status = request.args.get("status", "")
    # Newest first, the id breaking ties so a page never repeats or skips a campaign.
    query = (
        select(m.Campaign)
        .options(joinedload(m.Campaign.owner_site))
        .order_by(m.Campaign.updated_at.desc(), m.Campaign.id.desc())
    )
    if status in set(m.CampaignStatus):
        query = query.where(m.Campaign.status == status)
    page, rows = page_of(s, query, request.args)
    return render_template(
        "campaigns.html",
        campaigns=[c for (c,) in rows],
        page=page,
        status=status,
        statuses=list(m.CampaignStatus),
    )


@bp.route("/new", methods=["GET", "POST"], defaults={"campaign_id": None})
@bp.route("/<campaign_id>/edit", methods=["GET", "POST"])
@permission_required(Permission.CAMPAIGN_WRITE)
def edit(campaign_id: str | None) -> str | Response | tuple[str, int]:
    s, rt, actor = context()
    campaign = editing(m.Campaign, campaign_id)
    if request.method == "POST":
        try:
            data = parse_form(request.form)
            saved = service.save(s, rt, actor, data, campaign_id)
        except Invalid as error:
            field_errors = _field_errors(request.form, error)
            if error.field == share_of_voice.FIELD:
                field_errors[share_of_voice.FIELD] = error.problems
            _flash_refusal(error, field_errors)
            return (
                render_template(
                    "campaign_form.html",
                    campaign=campaign,
                    form=request.form,
                    field_errors=field_errors,
                    **_editor_choices(),
                ),
                400,
            )
        flash(f"Saved “{saved.name}” as a draft.", "ok")
        skipped = checks.review(s, data).skipped if data.skip_unable else []
        for screens in skipped:
            count = len(screens.screens)
            flash(
                f"It skips {count} screen{'s' if count != 1 else ''} of {screens.profile}: "
                + " ".join(screens.reasons),
                "warning",
            )
        for warning in service.legibility_warnings(s, rt, data):
            flash(warning, "warning")
        return redirect(url_for("campaigns.detail", campaign_id=saved.id))
    form = _form_from(campaign) if campaign else {"priority": "50", "days": []}
    return render_template("campaign_form.html", campaign=campaign, form=form, **_editor_choices())


@bp.get("/<campaign_id>")
@login_required
def detail(campaign_id: str) -> str:
    s, rt, actor = context()
    campaign = row_or_404(m.Campaign, campaign_id)
    targets = snapshot.targets_of(campaign.targets)
    reached = [d for d in snapshot.load_devices(s) if targets.matches(d)]
    # Previews for the screens it plays on (not those it skips).
    profiles = [
        p for p in service.targeted_profiles(s, targets) if p.id not in targets.skip_profiles
    ]
    site = campaign.owner_site
    tz = ZoneInfo(site.timezone)
    schedules = [Schedule.model_validate(x) for x in campaign.schedules]
    upcoming = preview.upcoming_windows(schedules, rt.clock.now(), tz)
    checked = checks.review(s, service.to_input(campaign))
    skip = bool(campaign.targets.get("skip_unable"))
    return render_template(
        "campaign_detail.html",
        campaign=campaign,
        reached=reached,
        profiles=profiles,
        site_names=dict(s.execute(select(m.Site.id, m.Site.name)).all()),
        upcoming=upcoming,
        tz=site.timezone,
        violations=[] if skip else checked.violations,
        skipped=checked.skipped if skip else [],
        zone_playlists=[
            (ZONE_NAMES.get(zone, zone), s.get(Playlist, playlist_id))
            for zone, playlist_id in sorted(service.zone_playlists(campaign).items())
        ],
        share=share_of_voice_screens.summary(campaign),
        share_warnings=share_of_voice_screens.warnings(s, campaign),
        approved=approved_versions.find(s, campaign.id),
        needs_approval=service.needs_approval(s, actor, campaign),
        may_approve=service.may_approve(s, actor, campaign),
        Permission=Permission,
    )


@bp.get("/<campaign_id>/preview/<int:position>/<profile_id>.png")
@login_required
def item_preview(campaign_id: str, position: int, profile_id: str) -> Response:
    s, rt, _ = context()
    campaign = s.get(m.Campaign, campaign_id)
    profile = s.get(m.ScreenProfile, profile_id)
    if campaign is None or profile is None or not 0 <= position < len(campaign.items):
        abort(404)
    item = campaign.items[position]
    image = None
    if item.kind == ItemKind.IMAGE and item.media is not None:
        image = rt.blobs.read(item.media.sha256)
    png = preview.render(
        width=profile.width_px,
        height=profile.height_px,
        image_bytes=image,
        text=TextSlide.model_validate(item.text) if item.text else None,
        is_video=item.kind == ItemKind.VIDEO,
        fit=Fit(item.fit),
        background=item.background,
        title_only=profile.kind == "roadside",
    )
    return Response(png, mimetype="image/png", headers={"Cache-Control": "private, max-age=60"})


def _transition(action: str, campaign_id: str) -> Response:
    s, rt, actor = context()
    try:
        if action == "submit":
            campaign = service.submit(s, rt, actor, campaign_id)
            if campaign.status == m.CampaignStatus.PUBLISHED:
                flash(f"Published “{campaign.name}”: the screens update within seconds.", "ok")
            else:
                flash(f"Sent “{campaign.name}” for approval.", "ok")
        elif action == "approve":
            campaign = service.approve(s, rt, actor, campaign_id)
            flash(f"Approved and published “{campaign.name}”.", "ok")
        elif action == "reject":
            campaign = service.reject(s, rt, actor, campaign_id, request.form.get("note", ""))
            flash(f"Sent “{campaign.name}” back to its editor.", "ok")
        else:
            campaign = service.archive(s, rt, actor, campaign_id)
            flash(f"Archived “{campaign.name}”.", "ok")
        if action in ("submit", "approve"):
            for warning in share_of_voice_screens.warnings(s, campaign):
                flash(warning, "warning")
    except Invalid as error:
        flash_invalid(error)
    target = request.form.get("back")
    if target == "approvals":
        return redirect(url_for("campaigns.approvals"))
    return redirect(url_for("campaigns.detail", campaign_id=campaign_id))


# The workflow's buttons: a POST route each (endpoint campaigns.<action>), behind the
# permission it needs; the service checks again.
TRANSITIONS: dict[str, Permission] = {
    "submit": Permission.CAMPAIGN_WRITE,
    "approve": Permission.CAMPAIGN_APPROVE,
    "reject": Permission.CAMPAIGN_APPROVE,
    "archive": Permission.CAMPAIGN_ARCHIVE,
}
for _action, _permission in TRANSITIONS.items():
    bp.add_url_rule(
        f"/<campaign_id>/{_action}",
        endpoint=_action,
        view_func=permission_required(_permission)(functools.partial(_transition, _action)),
        methods=["POST"],
    )


@bp.get("/approvals")
@permission_required(Permission.CAMPAIGN_APPROVE)
def approvals() -> str:
    s, _, actor = context()
    pending = s.scalars(
        select(m.Campaign)
        .where(m.Campaign.status == m.CampaignStatus.PENDING)
        .order_by(m.Campaign.updated_at)
    ).all()
    approvable = {c.id for c in pending if service.may_approve(s, actor, c)}
    return render_template("approvals.html", pending=pending, approvable=approvable)
