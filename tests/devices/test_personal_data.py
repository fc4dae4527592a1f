"""Scrubbing visitors' comments of personal data (issue 16)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.personal_data import COMMENT_MAX, scrub


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (
            "Great! my name is Mary Anne Smith, mary.smith@example.com",
            "Great! my name is [name], [email]",
        ),
        ("call 0412 345 678 or (08) 9231 0000", "call [phone] or [phone]"),
        ("ring +61 8 9231 0000 thanks, Bob", "ring [phone] thanks, [name]"),
        ("Tôi là Lan, số +84 90 123 4567", "Tôi là [name], số [phone]"),
        ("mi chiamo Giulia, g [at] x.it", "mi chiamo [name], [email]"),
        ("我叫小明 网速很快", "[name] 网速很快"),
        ("see www.example.com/me", "see [link]"),
        ("Mr Smith at the desk was helpful", "[name] at the desk was helpful"),
    ],
)
def test_contact_details_and_names_become_placeholders(text, kept):
    assert scrub(text) == kept


@pytest.mark.parametrize(
    "text",
    ["I am happy with the speed", "Sono contento", "The pool is open 6-9", "10/10 would visit"],
)
def test_ordinary_comments_are_left_alone(text):
    assert scrub(text) == text


@given(st.text(max_size=600))
def test_scrubbing_is_bounded_and_idempotent(text):
    once = scrub(text)
    assert len(once) <= COMMENT_MAX
    assert scrub(once) == once
