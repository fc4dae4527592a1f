"""Screen-profile content rules (roadside LED and the like). Pure.

The CMS refuses a campaign that breaks a rule of any screen profile it targets, and
each violation names the item, the profile and the rule in words staff can act on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from central_cms.compiler import ItemSpec
from devices.protocol import ItemKind


@dataclass(frozen=True)
class ProfileRules:
    profile_id: str
    name: str
    min_dwell_s: float = 0
    allow_video: bool = True
    forbid_contact_text: bool = False  # no QR codes, phone numbers or URLs


@dataclass(frozen=True)
class RuleViolation:
    item_number: int  # 1-based, as staff see the list
    item_label: str
    profile: str
    rule: str
    fix: str

    def __str__(self) -> str:
        label = f" ({self.item_label})" if self.item_label else ""
        return (
            f"Item {self.item_number}{label} breaks the rule “{self.rule}” "
            f"of {self.profile}: {self.fix}"
        )


_URL = re.compile(
    r"(https?://|www\.|\b[a-z0-9-]+\.(com|org|net|gov|edu|au|io|info|biz)\b|\S+@\S+\.\w+)",
    re.IGNORECASE,
)
_PHONE = re.compile(
    r"(\+?\d[\d\s().-]{6,}\d)|\b1[38]00?\s?\d{2,3}\s?\d{2,3}\b|\b13\s?\d{2}\s?\d{2}\b"
)
_QR = re.compile(r"\bQR\b", re.IGNORECASE)


def _contact_problem(text: str) -> str | None:
    if _QR.search(text):
        return "a QR code"
    if _URL.search(text):
        return "a web or email address"
    digits = [m.group(0) for m in _PHONE.finditer(text)]
    if any(sum(c.isdigit() for c in d) >= 6 for d in digits):
        return "a phone number"
    return None


def check_items(items: Sequence[ItemSpec], profiles: Iterable[ProfileRules]) -> list[RuleViolation]:
    found: list[RuleViolation] = []
    for profile in profiles:
        for number, item in enumerate(items, start=1):
            label = item.label

            def add(
                rule: str,
                fix: str,
                number: int = number,
                label: str = label,
                name: str = profile.name,
            ) -> None:
                found.append(RuleViolation(number, label, name, rule, fix))

            if item.kind is ItemKind.VIDEO and not profile.allow_video:
                add("still images only", "replace the video with a still image")
            if item.duration_s < profile.min_dwell_s:
                add(
                    f"minimum dwell {profile.min_dwell_s:g} s",
                    f"show it for at least {profile.min_dwell_s:g} s (now {item.duration_s:g} s)",
                )
            if profile.forbid_contact_text:
                if item.link_url:
                    add("no QR codes, phone numbers or URLs", "remove the link")
                if item.text is not None:
                    words = " ".join(
                        (item.text.title, item.text.body, item.text.when, item.text.venue)
                    )
                    problem = _contact_problem(words)
                    if problem:
                        add(
                            "no QR codes, phone numbers or URLs",
                            f"the text contains {problem}; drivers cannot use it safely",
                        )
    return found
