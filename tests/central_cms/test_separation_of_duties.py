"""Separation of duties (issue 13, point 10): whoever sent a campaign for approval cannot
approve it too, unless every site it reaches allows that (small teams; off by default),
and never when it reaches a roadside screen."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from central_cms import campaigns, fleet
from central_cms import models as m
from central_cms.compiler import Targets
from central_cms.policy import Actor
from devices.protocol import ItemKind, TextSlide
from testkit.staff import ADMIN, login, make_user

BOSS = Actor("boss", m.Role.ADMIN)


@pytest.fixture
def staff(session, rt, world):
    make_user(session, rt, "boss", m.Role.ADMIN)
    make_user(session, rt, "pat", m.Role.APPROVER)


def pending(session, rt, site_id: str = "north-pool") -> str:
    """A campaign the admin "boss" made and sent for approval."""
    made = campaigns.save(
        session,
        rt,
        BOSS,
        campaigns.CampaignInput(
            name="Late night swim",
            owner_site_id=site_id,
            items=(
                campaigns.ItemInput(
                    kind=ItemKind.TEXT, duration_s=12, text=TextSlide(title="Late swim")
                ),
            ),
            targets=Targets(sites=frozenset({site_id})),
        ),
    )
    assert campaigns.submit(session, rt, BOSS, made.id).status == m.CampaignStatus.PENDING
    return made.id


def allow_self_approval(session, rt, site_id: str) -> None:
    site = session.get(m.Site, site_id)
    fleet.save_site(
        session, rt, ADMIN, site_id=site_id, name=site.name, address="",
        timezone=site.timezone, requires_approval=True, allow_self_approval=True,
    )  # fmt: skip
    session.commit()


def status_of(session, campaign_id: str) -> str:
    session.expire_all()
    status: str = session.get(m.Campaign, campaign_id).status
    return status


def test_an_admin_cannot_approve_the_campaign_they_sent(app, client, session, rt, staff, publisher):
    campaign_id = pending(session, rt)
    publisher.sent.clear()
    token = login(client, "boss")
    queue = client.get("/campaigns/approvals").text
    assert "another approver must approve it" in queue
    assert f"/campaigns/{campaign_id}/approve" not in queue
    assert f"/campaigns/{campaign_id}/approve" not in client.get(f"/campaigns/{campaign_id}").text
    forced = client.post(f"/campaigns/{campaign_id}/approve", data={"csrf_token": token})
    assert forced.status_code == 403
    assert "another approver must approve it" in forced.text
    assert status_of(session, campaign_id) == "pending"
    assert publisher.sent == []
    # Someone else approves it.
    other = app.test_client()
    other_token = login(other, "pat")
    assert f"/campaigns/{campaign_id}/approve" in other.get("/campaigns/approvals").text
    other.post(f"/campaigns/{campaign_id}/approve", data={"csrf_token": other_token})
    assert status_of(session, campaign_id) == "published"
    assert session.get(m.Campaign, campaign_id).approved_by == "pat"


def test_the_api_refuses_self_approval_too(client, session, rt, staff):
    campaign_id = pending(session, rt)
    user = session.scalars(select(m.User).where(m.User.username == "boss")).one()
    headers = {"Authorization": f"Bearer {fleet.create_api_token(session, rt, user, 't')}"}
    refused = client.post(f"/api/v1/campaigns/{campaign_id}/approve", headers=headers)
    assert refused.status_code == 403
    assert "another approver must approve it" in refused.json["message"]
    assert status_of(session, campaign_id) == "pending"


def test_self_approval_is_off_for_a_new_site_and_can_be_allowed(client, session, rt, staff):
    token = login(client, "boss")
    form = client.get("/sites/new").text
    assert 'id="allow_self_approval" name="allow_self_approval"' in form
    assert 'name="allow_self_approval" aria-describedby="allow_self_approval-hint">' in form
    client.post(
        "/sites/new",
        data={"id": "tiny-hall", "name": "Tiny hall", "timezone": "Australia/Perth",
              "requires_approval": "on", "csrf_token": token},
    )  # fmt: skip
    assert session.get(m.Site, "tiny-hall").allow_self_approval is False
    client.post(
        "/sites/north-pool/edit",
        data={"name": "North Pool", "timezone": "Australia/Perth", "requires_approval": "on",
              "allow_self_approval": "on", "csrf_token": token},
    )  # fmt: skip
    session.expire_all()
    assert session.get(m.Site, "north-pool").allow_self_approval is True
    campaign_id = pending(session, rt)
    client.post(f"/campaigns/{campaign_id}/approve", data={"csrf_token": token})
    assert status_of(session, campaign_id) == "published"


def test_a_campaign_reaching_a_site_without_the_setting_needs_someone_else(session, rt, staff):
    allow_self_approval(session, rt, "north-pool")
    made = campaigns.save(
        session, rt, BOSS,
        campaigns.CampaignInput(
            name="Cross-promo", owner_site_id="north-pool",
            items=(campaigns.ItemInput(kind=ItemKind.TEXT, duration_s=12,
                                       text=TextSlide(title="Swim")),),
            targets=Targets(sites=frozenset({"north-pool", "south-library"})),
        ),
    )  # fmt: skip
    campaigns.submit(session, rt, BOSS, made.id)
    with pytest.raises(campaigns.Forbidden, match="another approver"):
        campaigns.approve(session, rt, BOSS, made.id)


def test_self_approval_never_reaches_roadside_screens(client, session, rt, staff):
    allow_self_approval(session, rt, "east-hall")  # its screens include a roadside LED
    campaign_id = pending(session, rt, "east-hall")
    token = login(client, "boss")
    refused = client.post(f"/campaigns/{campaign_id}/approve", data={"csrf_token": token})
    assert refused.status_code == 403
    assert "roadside screens" in refused.text
    assert status_of(session, campaign_id) == "pending"
