"""The Software page's forms (issue 18) refuse what they cannot act on with a message
that says what to give instead, and change nothing."""

from __future__ import annotations

from central_cms import models as m
from central_cms.release_models import ReleaseChannel, SoftwareRelease
from testkit.staff import login, make_user


def test_software_forms_refuse_a_missing_wheel_a_bad_percentage_and_no_group(client, session, rt):
    make_user(session, rt, "ingrid", m.Role.IT)
    session.commit()
    token = login(client, "ingrid")

    refusals = [
        ("/software/releases", {}, "Choose the release&#39;s .whl file."),
        ("/software/channels", {"channel": "stable", "percent": "half"}, "whole number"),
        ("/software/groups", {"group_id": "nope", "channel": "stable"}, "Choose a device group."),
    ]
    for path, form, message in refusals:
        answer = client.post(path, data={"csrf_token": token, **form})
        assert answer.status_code == 303 and answer.location.endswith("/software/")
        assert message in client.get("/software/").text, path
    assert session.query(SoftwareRelease).count() == 0
    assert session.query(ReleaseChannel).count() == 0
