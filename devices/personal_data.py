"""Taking personal data out of a visitor's free text (issue 16). Pure: no I/O.

A feedback comment is the one free text a visitor sends to analytics. Before it leaves
the portal node, and again when the CMS ingest stores it (a node may run older code),
email addresses, phone numbers, web addresses and the name a visitor gives ("my name is
Lan", "tôi là Lan", "mi chiamo Lan", "我叫小明", "اسمي ...") become placeholders. This is a
safety net, not a guarantee: the form also asks visitors to leave such details out, and
staff can delete any comment.
"""

from __future__ import annotations

import re
import unicodedata

EMAIL = "[email]"
PHONE = "[phone]"
LINK = "[link]"
NAME = "[name]"
COMMENT_MAX = 300

_EMAIL = re.compile(
    r"[^\s@<>()\[\]]+\s*(?:@|\(at\)|\[at\])\s*[^\s@<>()\[\]]+\.[^\s@<>()\[\].,;:!?]{2,}", re.I
)
_LINK = re.compile(r"\b(?:https?://|www\.)\S+", re.I)
# Seven or more digits, perhaps grouped by spaces, dots, dashes or brackets, perhaps
# after a +: Australian (04xx xxx xxx, (08) 9xxx xxxx, +61 ...) and others alike.
_PHONE = re.compile(r"(?<![\w])\+?\(?\d(?:[\s().\-]{0,2}\d){6,}(?![\w])")
# A capitalised word (any script with case) after the phrases people introduce
# themselves with; up to three words, so "my name is Mary Anne Smith" goes whole.
_CAP = r"[^\W\d_][\w'\u2019\-]*"
_NAMED = re.compile(
    r"(?P<intro>\b(?:my name is|my name's|i am|i'm|im|this is|name:|call me|signed|regards,?|"
    r"thanks,?|mi chiamo|il mio nome è|sono|tên tôi là|tên của tôi là|tôi tên là|tôi là|"
    r"mình tên là|mình là|em là|anh là|chị là)\s+)"
    r"(?P<name>" + _CAP + r"(?:\s+" + _CAP + r"){0,2})",
    re.I,
)
_TITLED = re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Dr|Sig|Sig\.ra|Ông|Bà|Anh|Chị)\.?\s+" + _CAP, re.U)
_CJK_NAME = re.compile(r"(?:我叫|我的名字是|我的名字叫|我是)\s*[\u4e00-\u9fff]{1,4}")
_AR_NAME = re.compile(r"(?:اسمي|أنا اسمي|انا)\s+[\u0600-\u06ff]+(?:\s+[\u0600-\u06ff]+)?")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _name(match: re.Match[str]) -> str:
    words = match.group("name").split()
    # "I am happy", "sono contento": only a word that starts with a capital is a name.
    if not words or not words[0][:1].isupper():
        return match.group(0)
    return match.group("intro") + NAME


def scrub(text: str, max_chars: int = COMMENT_MAX) -> str:
    """`text` without contact details or self-introductions, whitespace tidied, cut to
    `max_chars`. Scrubbing what is already scrubbed changes nothing."""
    text = _CONTROL.sub("", unicodedata.normalize("NFC", text))
    text = _EMAIL.sub(EMAIL, text)
    text = _LINK.sub(LINK, text)
    text = _PHONE.sub(PHONE, text)
    text = _NAMED.sub(_name, text)
    text = _TITLED.sub(NAME, text)
    text = _CJK_NAME.sub(NAME, text)
    text = _AR_NAME.sub(NAME, text)
    text = "\n".join(" ".join(line.split()) for line in text.strip().splitlines())
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text[:max_chars].rstrip()
