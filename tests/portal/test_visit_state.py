"""The accept form's signed visit state on its own: what is signed is what comes back."""

from __future__ import annotations

import pytest

from portal.fas import FasClient
from portal.signing import Signer, StateError
from portal.visit import ACCEPT_PURPOSE, client_from_state, form_targets, sign_visit
from testkit.portal import NOW

SIGNER = Signer(b"visit-state-test-secret-0123456789abcd")
CLIENT = FasClient(
    hid="a" * 64,
    client_ip="10.77.1.5",
    client_mac="02:00:00:00:00:05",
    gateway_address="10.77.1.1:2050",
    gateway_name="Riverton Library",
    origin_url="http://neverssl.com/",
    auth_dir="custom_auth",
)


def test_signed_visit_names_the_same_client_terms_and_nonce():
    state = SIGNER.verify(
        ACCEPT_PURPOSE,
        sign_visit(SIGNER, CLIENT, "http://neverssl.com/", "t-3", NOW, "n-1"),
        now=NOW,
        max_age_s=60,
    )
    assert client_from_state(state) == CLIENT
    assert (state["v"], state["x"], state["t"]) == ("t-3", "n-1", str(int(NOW.timestamp())))


def test_visit_state_does_not_pass_as_a_promo_tag_signature():
    token = sign_visit(SIGNER, CLIENT, None, "t-3", NOW, "n-1")
    with pytest.raises(StateError):
        SIGNER.verify("promo", token, now=NOW, max_age_s=60)


def test_form_may_post_to_the_gateway_and_the_visitors_origin_only():
    assert form_targets(CLIENT, "http://neverssl.com/a?b=1") == (
        "http://10.77.1.1:2050",
        "http://neverssl.com",
    )
    assert form_targets(CLIENT, None) == ("http://10.77.1.1:2050",)
