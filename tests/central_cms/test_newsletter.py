"""Newsletter sign-ups (issue 6): the device API a portal node posts them to, and the
staff page that lists, exports and deletes them."""

from __future__ import annotations

import csv
import io
import json
import tomllib
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from central_cms import fleet, newsletter
from central_cms import models as m
from central_cms.spreadsheet import csv_cell
from devices.config import parse_device_config
from devices.protocol import DeviceKind
from testkit.messages import T0
from testkit.staff import ADMIN, csrf_of, login, make_user

URL = "/device-api/v1/newsletter-signups"
PORTAL = "portal-north-pool"  # at north-pool (conftest make_world)
SIGNAGE = "sig-north-pool"


def token_of(session, rt, device_id: str) -> str:
    registration = fleet.reissue_credentials(session, rt, ADMIN, device_id)
    session.commit()
    return parse_device_config(tomllib.loads(registration.config_toml)).asset_token


def signup(**changes) -> dict[str, object]:
    return {
        "email": "Ann.Visitor@Example.org",
        "site_id": "north-pool",
        "language": "vi",
        "terms_version": "2026-1",
        **changes,
    }


@pytest.fixture
def portal_token(session, rt, world) -> str:
    return token_of(session, rt, PORTAL)


def post(client, token: str | None, body: object, **headers: str):
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers.setdefault("Content-Type", "application/json")
    return client.post(URL, data=data, headers=headers)


def rows(session) -> list[m.NewsletterSignup]:
    session.expire_all()
    return list(session.scalars(select(m.NewsletterSignup).order_by(m.NewsletterSignup.id)))


def audit_text(session) -> str:
    session.expire_all()
    entries = session.scalars(select(m.AuditEntry)).all()
    return json.dumps([[e.action, e.entity_id, e.detail] for e in entries])


# --- the device API ------------------------------------------------------------------------


def test_a_portal_node_signs_a_visitor_up_for_its_own_site(client, session, portal_token):
    response = post(client, portal_token, signup())
    assert response.status_code == 201, response.text
    assert response.json["created"] is True
    [row] = rows(session)
    assert response.json["id"] == row.id
    assert row.email == "ann.visitor@example.org"  # one spelling per address
    assert (row.site_id, row.language, row.terms_version) == ("north-pool", "vi", "2026-1")
    assert row.consented_at == T0 and row.received_at == T0
    assert row.source_device_id == PORTAL
    # Personal data: no address in the audit log.
    assert "example.org" not in audit_text(session)


def test_the_same_signup_posted_again_is_answered_200_with_the_same_row(
    client, session, portal_token, clock
):
    first = post(client, portal_token, signup())
    clock.advance(minutes=10)
    again = post(client, portal_token, signup())
    other_case = post(client, portal_token, signup(email="  ann.visitor@EXAMPLE.org "))
    assert first.status_code == 201
    assert again.status_code == 200 and other_case.status_code == 200
    assert again.json == other_case.json == {"id": first.json["id"], "created": False}
    [row] = rows(session)
    assert row.consented_at == T0  # a retry changes nothing


def test_the_node_may_say_when_the_visitor_consented(client, session, portal_token, clock):
    ticked = T0 - timedelta(hours=5)  # spooled while the CMS was unreachable
    response = post(client, portal_token, signup(consented_at=ticked.isoformat()))
    assert response.status_code == 201
    [row] = rows(session)
    assert row.consented_at == ticked and row.received_at == T0


def test_a_signup_needs_a_device_token(client, session, world):
    for authorization in (None, "Bearer", "Bearer not-a-token", "Basic YWRtaW46eA==", "bearer "):
        headers = {"Authorization": authorization} if authorization else {}
        response = post(client, None, signup(), **headers)
        assert response.status_code == 401, authorization
        assert response.json["status"] == 401
        assert "Bearer" in response.json["message"]
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert rows(session) == []


def test_a_staff_login_cookie_is_not_a_device_token(app, session, rt, world):
    make_user(session, rt, "cookie-admin", m.Role.ADMIN)
    client = app.test_client()
    login(client, "cookie-admin")
    assert post(client, None, signup()).status_code == 401
    assert rows(session) == []


def test_a_signage_device_may_not_submit_signups(client, session, rt, world):
    response = post(client, token_of(session, rt, SIGNAGE), signup())
    assert response.status_code == 403
    assert response.json["message"] == "Only portal nodes submit newsletter sign-ups."
    assert rows(session) == []


def test_a_portal_node_may_not_submit_for_another_site(client, session, portal_token):
    response = post(client, portal_token, signup(site_id="south-library"))
    assert response.status_code == 403
    assert "belongs to site north-pool" in response.json["message"]
    assert "south-library" in response.json["message"]
    assert rows(session) == []


BAD_FIELDS = [
    ({"email": "no-at-sign.example.org"}, "email"),
    ({"email": "two@@example.org"}, "email"),
    ({"email": "ann visitor@example.org"}, "email"),
    ({"email": "ann@example"}, "email"),
    ({"email": "ann@exa_mple.org"}, "email"),
    ({"email": "ann@-example.org"}, "email"),
    ({"email": ".ann@example.org"}, "email"),
    ({"email": "an..n@example.org"}, "email"),
    ({"email": "ann@example.123"}, "email"),
    ({"email": "<script>@example.org"}, "email"),
    ({"email": "ann\x00@example.org"}, "email"),
    ({"email": "a" * 65 + "@example.org"}, "email"),
    ({"email": "ann@" + "a" * 250 + ".org"}, "email"),
    ({"email": ""}, "email"),
    ({"email": 42}, "email"),
    ({"site_id": "North Pool"}, "site_id"),
    ({"site_id": None}, "site_id"),
    ({"language": "english"}, "language"),
    ({"language": "EN"}, "language"),
    ({"language": "en-GB"}, "language"),
    ({"language": "en\n"}, "language"),
    ({"terms_version": ""}, "terms_version"),
    ({"terms_version": "v" * 41}, "terms_version"),
    ({"terms_version": "2026\n1"}, "terms_version"),
    ({"terms_version": 2026}, "terms_version"),
    ({"consented_at": "yesterday"}, "consented_at"),
    ({"consented_at": "2026-12-01T08:00:00"}, "consented_at"),  # no offset
    ({"consented_at": (T0 + timedelta(hours=1)).isoformat()}, "consented_at"),  # future
    ({"mac": "02:00:00:00:de:01"}, "mac"),  # not a field of a sign-up
]


@pytest.mark.parametrize(("change", "field"), BAD_FIELDS, ids=[repr(c)[:40] for c, _ in BAD_FIELDS])
def test_parse_signup_names_the_invalid_field(change, field):
    with pytest.raises(newsletter.SignupInvalid) as refused:
        newsletter.parse_signup(signup(**change), now=T0)
    assert list(refused.value.problems) == [field]


def test_an_invalid_field_is_refused_over_http_by_name(client, session, portal_token):
    for change, field in BAD_FIELDS:
        response = post(client, portal_token, signup(**change))
        assert response.status_code == 422, (change, response.text)
        assert response.json["message"] == "The sign-up is not valid."
        assert list(response.json["errors"]) == [field], change
    assert rows(session) == []


def test_a_missing_field_is_named(client, session, portal_token):
    body = signup()
    del body["terms_version"]
    response = post(client, portal_token, body)
    assert response.status_code == 422
    assert response.json["errors"] == {"terms_version": "is required"}


def test_good_addresses_are_accepted(client, session, portal_token):
    for address in ("o'brien+news@mail.example.org", "zoë@example.org", "x@xn--p1ai.example"):
        assert post(client, portal_token, signup(email=address)).status_code == 201, address
    assert [r.email for r in rows(session)] == [
        "o'brien+news@mail.example.org",
        "zoë@example.org",
        "x@xn--p1ai.example",
    ]


def test_a_body_that_is_not_a_json_signup_is_refused(client, session, portal_token):
    good = json.dumps(signup()).encode()
    for body, content_type, status in (
        (b"not json", "application/json", 400),
        (b"\xff\xfe\xfd", "application/json", 400),
        (b"[1, 2]", "application/json", 422),
        (b'"email"', "application/json", 422),
        (good, "text/plain", 415),
        (good, "application/x-www-form-urlencoded", 415),
        (json.dumps(signup(pad="y" * 3000)).encode(), "application/json", 413),
    ):
        response = post(client, portal_token, body, **{"Content-Type": content_type})
        assert response.status_code == status, (body[:20], response.text)
        assert response.json["status"] == status and response.json["message"]
    assert rows(session) == []


def test_new_signups_from_one_device_are_rate_limited_but_repeats_are_not(
    client, session, portal_token, clock, monkeypatch
):
    monkeypatch.setattr(newsletter, "RATE_LIMIT", 3)
    for n in range(3):
        assert post(client, portal_token, signup(email=f"v{n}@example.org")).status_code == 201
        clock.advance(minutes=10)
    limited = post(client, portal_token, signup(email="v3@example.org"))
    assert limited.status_code == 429
    # The first of the three leaves the hour at T0 + 1 h, 30 minutes from now.
    assert int(limited.headers["Retry-After"]) == 30 * 60 + 1
    # A node re-sending one already stored still gets its answer, so its spool drains.
    assert post(client, portal_token, signup(email="v0@example.org")).status_code == 200
    clock.advance(minutes=31)
    assert post(client, portal_token, signup(email="v3@example.org")).status_code == 201
    assert len(rows(session)) == 4


def test_a_deleted_device_leaves_its_signups(client, session, rt, portal_token):
    post(client, portal_token, signup())
    fleet.delete_device(session, rt, ADMIN, PORTAL)
    [row] = rows(session)
    assert row.source_device_id is None and row.email == "ann.visitor@example.org"


# --- the staff page ------------------------------------------------------------------------


def add(session, site_id: str, email: str) -> int:
    """A sign-up as the site's portal node stores it (the `staff` fixture has one each)."""
    device = session.get(m.Device, f"portal-{site_id}")
    data = newsletter.SignupInput(email, site_id, "en", "2026-1")
    return newsletter.store_signup(session, device, data, T0).id


@pytest.fixture
def staff(session, rt, world):
    fleet.register_device(
        session,
        rt,
        ADMIN,
        device_id="portal-south-library",
        name="",
        kind=DeviceKind.PORTAL,
        site_id="south-library",
        profile_id="splash",
        tags=[],
    )
    session.commit()
    for role in m.Role:
        make_user(session, rt, role.value, role)
    make_user(session, rt, "south-editor", m.Role.EDITOR, sites=["south-library"])
    return {
        "north": add(session, "north-pool", "north@example.org"),
        "south": add(session, "south-library", "south@example.org"),
        "formula": add(session, "north-pool", "=1+2@example.org"),
    }


def signed_in(app, username: str):
    client = app.test_client()
    login(client, username)
    return client


@pytest.mark.parametrize("role", list(m.Role), ids=[r.value for r in m.Role])
def test_only_roles_that_may_see_personal_data_get_the_page_and_its_link(app, staff, role):
    client = signed_in(app, role.value)
    home = client.get("/").text
    page = client.get("/newsletter/")
    allowed = role in (m.Role.ADMIN, m.Role.EDITOR)
    assert ("Newsletter sign-ups</a>" in home) is allowed
    assert page.status_code == (200 if allowed else 403)
    assert ("north@example.org" in page.text) is allowed


def test_the_page_lists_signups_filtered_by_site_and_address(app, staff):
    client = signed_in(app, "admin")
    everything = client.get("/newsletter/").text
    assert all(a in everything for a in ("north@example.org", "south@example.org", "=1+2@"))
    assert "3 sign-ups" in everything
    south = client.get("/newsletter/?site=south-library").text
    assert "south@example.org" in south and "north@example.org" not in south
    found = client.get("/newsletter/?q=NORTH@").text
    assert "north@example.org" in found and "south@example.org" not in found
    assert "1 sign-up)" in found
    # Accessible: labelled filters, a captioned table with column headers.
    assert '<label for="site">Site</label>' in everything
    assert '<label for="q">Email address contains</label>' in everything
    assert '<th scope="col">Email address</th>' in everything
    assert "<caption" in everything


def test_a_site_editor_sees_and_deletes_only_their_sites_signups(app, session, staff):
    client = signed_in(app, "south-editor")
    page = client.get("/newsletter/")
    assert "south@example.org" in page.text and "north@example.org" not in page.text
    assert client.get("/newsletter/?site=north-pool").status_code == 403
    exported = client.get("/newsletter/export.csv").text
    assert "south@example.org" in exported and "north@example.org" not in exported
    token = csrf_of(page.text)
    refused = client.post(f"/newsletter/{staff['north']}/delete", data={"csrf_token": token})
    assert refused.status_code == 403
    assert {r.email for r in rows(session)} >= {"north@example.org"}


def test_the_csv_export_has_every_field_and_defuses_formulas(app, session, staff):
    client = signed_in(app, "editor")
    response = client.get("/newsletter/export.csv?site=north-pool")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert 'filename="newsletter-signups-north-pool.csv"' in response.headers["Content-Disposition"]
    table = list(csv.reader(io.StringIO(response.text)))
    assert table[0] == list(newsletter.CSV_HEADER)
    by_id = {int(row[0]): row for row in table[1:]}
    assert set(by_id) == {staff["north"], staff["formula"]}
    assert by_id[staff["north"]] == [
        str(staff["north"]),
        "north@example.org",
        "north-pool",
        "North Pool",
        "en",
        "2026-1",
        T0.isoformat(),
        PORTAL,
    ]
    assert by_id[staff["formula"]][1] == "'=1+2@example.org"  # text, not a formula
    # The export is audited, without any address.
    audit = audit_text(session)
    assert "newsletter.export" in audit and "example.org" not in audit


def test_csv_cells_that_a_spreadsheet_would_run_are_quoted():
    for text in ("=SUM(A1)", "+1", "-1", "@cmd", "\tx", "\rx"):
        assert csv_cell(text) == "'" + text
    assert csv_cell("ann@example.org") == "ann@example.org"
    assert csv_cell(7) == 7


def test_staff_delete_a_signup_when_its_owner_asks(app, session, staff):
    client = signed_in(app, "editor")
    page = client.get("/newsletter/?q=north")
    response = client.post(
        f"/newsletter/{staff['north']}/delete",
        data={"csrf_token": csrf_of(page.text), "q": "north", "site": ""},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/newsletter/?q=north"
    after = client.get(response.headers["Location"]).text
    assert f"Deleted sign-up {staff['north']}." in after
    assert "north@example.org" not in after
    assert "north@example.org" not in {r.email for r in rows(session)}
    session.expire_all()
    [entry] = session.scalars(
        select(m.AuditEntry).where(m.AuditEntry.action == "newsletter.delete")
    ).all()
    assert (entry.username, entry.entity_type, entry.entity_id) == (
        "editor",
        "newsletter_signup",
        str(staff["north"]),
    )
    assert "example.org" not in audit_text(session)
    again = client.post(
        f"/newsletter/{staff['north']}/delete", data={"csrf_token": csrf_of(page.text)}
    )
    assert "may have been deleted already" in client.get(again.headers["Location"]).text


def test_deleting_needs_the_forms_csrf_token(app, session, staff):
    client = signed_in(app, "admin")
    response = client.post(f"/newsletter/{staff['north']}/delete", data={})
    assert response.status_code == 400
    assert session.scalar(select(func.count()).select_from(m.NewsletterSignup)) == 3


def test_addresses_are_escaped_on_the_page(app, session, staff):
    add(session, "north-pool", "tom&jerry@example.org")
    page = signed_in(app, "admin").get("/newsletter/").text
    assert "tom&amp;jerry@example.org" in page and "tom&jerry@" not in page
