"""Sites: list, create and edit (admins)."""

from __future__ import annotations

from babel import Locale
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from central_cms import fleet, wifi_policy
from central_cms import models as m
from central_cms.auth import login_required, permission_required
from central_cms.errors import Invalid
from central_cms.policy import Permission
from central_cms.screen_setup import DAY_NAMES
from central_cms.views.common import checkbox, context, editing, flash_invalid
from devices.protocol import PORTAL_LANGUAGES

# Babel's locale for each code, for the language's name in English and in itself.
_LOCALES = {"zh": "zh_Hans"}


def language_choices() -> list[tuple[str, str, str]]:
    """(code, English name, the name in the language) for each shipped splash language."""
    choices = []
    for code in PORTAL_LANGUAGES:
        tag = _LOCALES.get(code, code)
        locale = Locale.parse(tag)
        own_name = str(locale.get_language_name(tag))  # "中文", not "中文 (简体)" twice over
        choices.append((code, str(locale.get_display_name("en")), own_name))
    return choices


def chosen_languages(site: m.Site | None) -> list[str]:
    return list(PORTAL_LANGUAGES) if site is None or site.languages is None else site.languages


bp = Blueprint("sites", __name__, url_prefix="/sites")


@bp.get("/")
@login_required
def index() -> str:
    s, _, _ = context()
    sites = s.scalars(select(m.Site).order_by(m.Site.name)).all()
    return render_template("sites.html", sites=sites)


@bp.route("/new", methods=["GET", "POST"], defaults={"site_id": None})
@bp.route("/<site_id>/edit", methods=["GET", "POST"])
@permission_required(Permission.SITE_WRITE)
def edit(site_id: str | None) -> str | Response | tuple[str, int]:
    s, rt, actor = context()
    site = editing(m.Site, site_id)
    if request.method == "POST":
        form = request.form
        try:
            saved = fleet.save_site(
                s,
                rt,
                actor,
                site_id=site_id or form.get("id", "").strip(),
                name=form.get("name", ""),
                address=form.get("address", ""),
                timezone=form.get("timezone", "").strip(),
                requires_approval=checkbox(form.get("requires_approval")),
                allow_self_approval=checkbox(form.get("allow_self_approval")),
                # The form always sends "en" (hidden): no list means a client without it.
                languages=form.getlist("languages") if "languages" in form else None,
            )
            s.commit()
            flash(f"Saved {saved.name}.", "ok")
            return redirect(url_for("sites.index"))
        except Invalid as error:
            flash_invalid(error)
            return render_template(
                "site_form.html",
                site=site,
                form=form,
                languages=language_choices(),
                chosen=form.getlist("languages"),
            ), 400
    return render_template(
        "site_form.html",
        site=site,
        form={},
        languages=language_choices(),
        chosen=chosen_languages(site),
    )


@bp.route("/<site_id>/wifi", methods=["GET", "POST"])
@permission_required(Permission.WIFI_WRITE)
def wifi(site_id: str) -> str | Response | tuple[str, int]:
    """The site's Wi-Fi policy (issue 16)."""
    s, rt, actor = context()
    site = s.get(m.Site, site_id)
    if site is None or site.portal_settings is None:
        abort(404)
    if request.method == "POST":
        form = request.form
        try:
            wifi_policy.save_wifi_policy(s, rt, actor, site, wifi_policy.parse_wifi_form(form))
            s.commit()
            flash(f"Saved the Wi-Fi policy of {site.name}. Its portal nodes apply it now.", "ok")
            return redirect(url_for("sites.wifi", site_id=site.id))
        except Invalid as error:
            flash_invalid(error)
            return render_template("site_wifi.html", site=site, values=form, days=DAY_NAMES), 400
    values = wifi_policy.form_values(*wifi_policy.saved_policy(site))
    return render_template("site_wifi.html", site=site, values=values, days=DAY_NAMES)
