"""Single sign-on against a real OpenID provider, over both databases: accounts made just
in time from group claims, rights applied again at every sign-in, refusals that say why,
sign-out at the provider, and the local sign-in that works when the provider does not."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from central_cms import db as cms_db
from central_cms import models as m
from central_cms.app import create_app
from central_cms.publisher import RecordingPublisher
from central_cms.runtime import parts, runtime
from central_cms.sso_models import SsoIdentity
from testkit.staff import PASSWORD, csrf_of, login, make_user
from tests.central_cms.oidc import provider as oidc
from tests.central_cms.oidc.journey import settings_for, through_provider


def _user(session, username: str) -> m.User | None:
    session.expire_all()
    user: m.User | None = session.scalars(select(m.User).where(m.User.username == username)).first()
    return user


def _audit(session, username: str) -> list[str]:
    session.expire_all()
    rows = session.scalars(
        select(m.AuditEntry).where(m.AuditEntry.entity_id == username).order_by(m.AuditEntry.id)
    )
    return [row.action for row in rows]


def test_first_sign_in_makes_an_editor_of_their_site_only(client, session, provider, world):
    answer = through_provider(client, "dana", next_path="/campaigns/")
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/campaigns/"
    assert "Hello, dana" in client.get("/").text
    user = _user(session, "dana")
    assert (user.role, user.sites, user.display_name) == ("editor", ["north-pool"], "Dana Editor")
    assert user.password_hash == ""  # nobody can sign in as dana with a password
    identity = session.scalars(select(SsoIdentity)).one()
    assert (identity.issuer, identity.subject) == (provider.issuer, "dana")
    assert _audit(session, "dana") == ["sso.create", "sso.sign_in"]
    # Signing in again finds the same account.
    client.post("/logout", data={"csrf_token": csrf_of(client.get("/campaigns/").text)})
    assert through_provider(client, "dana").status_code == 302
    assert len(session.scalars(select(m.User).where(m.User.username == "dana")).all()) == 1
    assert _audit(session, "dana")[-1] == "sso.sign_in"


def test_an_sso_account_has_no_local_password(client, provider, world):
    through_provider(client, "dana")
    other = client.application.test_client()
    page = other.get("/login")
    refused = other.post(
        "/login",
        data={"username": "dana", "password": "", "csrf_token": csrf_of(page.text)},
    )
    assert refused.status_code == 401


def test_rights_follow_the_groups_at_every_sign_in(app, client, session, provider, world):
    through_provider(client, "dana")
    assert _user(session, "dana").role == "editor"
    # IT moves dana from the editors' group to IT's: the next sign-in gives IT's rights.
    provider.set_groups("dana", ["everyone", "cms-it"])
    second = app.test_client()
    through_provider(second, "dana")
    user = _user(session, "dana")
    assert (user.role, user.sites) == ("it", [])
    assert "sso.rights" in _audit(session, "dana")
    # Taken out of every CMS group: refused, and signed out in every browser at once.
    provider.set_groups("dana", ["everyone"])
    third = app.test_client()
    refused = through_provider(third, "dana")
    assert refused.status_code == 403
    assert "in no group that may use the CMS" in refused.text
    for browser in (client, second):
        assert browser.get("/campaigns/").status_code == 302  # back to the sign-in page
    assert _audit(session, "dana")[-1] == "sso.refused"


def test_someone_in_no_mapped_group_is_refused_clearly(client, session, provider):
    refused = through_provider(client, "sam")
    assert refused.status_code == 403
    assert "Ask IT to add you to the right group" in refused.text
    assert _user(session, "sam") is None
    assert client.get("/campaigns/").status_code == 302
    assert _audit(session, "sam") == ["sso.refused"]


def test_a_local_account_of_the_same_name_is_not_taken_over(client, session, rt, provider):
    make_user(session, rt, "dana", m.Role.ADMIN)
    refused = through_provider(client, "dana")
    assert refused.status_code == 403
    assert "exists already and is not linked" in refused.text
    assert _user(session, "dana").role == "admin"
    assert session.scalars(select(SsoIdentity)).first() is None


def test_next_never_leaves_the_cms(client, provider, world):
    answer = through_provider(client, "dana", next_path="https://evil.example/")
    assert answer.headers["Location"] == "/"


def test_a_forged_callback_is_refused_and_counts_as_a_failed_sign_in(client, provider):
    for _ in range(5):
        forged = client.get("/sso/callback?code=stolen&state=guessed")
        assert forged.status_code == 302
        assert "/login?local=1" in forged.headers["Location"]
    assert "did not work" in client.get("/login?local=1").text
    # The address is now locked out of single sign-on like a password guesser.
    locked = client.get("/sso/start")
    assert "/login?local=1" in locked.headers["Location"]
    assert "Too many failed attempts" in client.get("/login?local=1").text


def test_signing_out_ends_the_session_and_signs_out_at_the_provider(
    client, provider, cms_port, world
):
    through_provider(client, "dana")
    token = csrf_of(client.get("/campaigns/").text)
    answer = client.post("/logout", data={"csrf_token": token})
    location = urlsplit(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}" == provider.issuer
    query = parse_qs(location.query)
    assert query["client_id"] == [oidc.CLIENT_ID]
    assert query["post_logout_redirect_uri"] == [f"http://127.0.0.1:{cms_port}/login"]
    assert client.get("/campaigns/").status_code == 302


def test_a_local_sign_out_stays_in_the_cms(client, session, rt, provider):
    make_user(session, rt, "admin", m.Role.ADMIN)
    token = login(client, "admin")
    assert client.post("/logout", data={"csrf_token": token}).headers["Location"] == "/login"


def test_the_login_page_offers_both_ways_in(client, provider):
    page = client.get("/login").text
    assert "Sign in with your city account" in page
    assert "Sign in with a local CMS account" in page
    assert '<details class="local-sign-in">' in page  # closed until asked for


def test_provider_down_local_admin_still_signs_in(
    config, provider_folder, cms_port, clock, tmp_path
):
    own = oidc.start(provider_folder, tmp_path, f"http://127.0.0.1:{cms_port}", {})
    app = create_app(
        config.with_changes(sso=settings_for(own.issuer, tmp_path)),
        publisher=RecordingPublisher(),
        clock=clock,
    )
    try:
        client = app.test_client()
        session = cms_db.database(app).sessions()
        make_user(session, runtime(app), "admin", m.Role.ADMIN)
        session.close()
        assert client.get("/sso/start").headers["Location"].startswith(own.issuer)
        own.stop()  # the provider goes down
        answer = client.get("/sso/start")
        assert answer.headers["Location"].startswith("/login?local=1")
        page = client.get(answer.headers["Location"]).text
        assert "The city sign-in service cannot be reached" in page
        assert '<details class="local-sign-in" open>' in page
        response = client.post(
            "/login",
            data={"username": "admin", "password": PASSWORD, "csrf_token": csrf_of(page)},
        )
        assert response.status_code == 302
        assert "Hello, admin" in client.get("/").text
    finally:
        own.stop()
        parts(app).close()
