"""The analytics page's campaign filter: a search by name, not a list (issue 17: a list
of 5,000 campaigns is a drop-down nobody can use, and a page too heavy to send).

A plain form, so it works without JavaScript: staff type part of a name in `find`, and
the page either picks the one campaign it names or lists the campaigns it matches as
links. The chosen campaign travels as `campaign` (its id, as links and the CSV
downloads carry it), in a hidden field beside the name shown in the box; a box still
holding that name keeps it, an emptied box means every campaign. Pure: the names are
the ones the page reads anyway.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

MATCHES_LISTED = 20


@dataclass(frozen=True)
class CampaignChoice:
    campaign_id: str | None  # the filter; None: every campaign
    text: str  # what the search box shows
    matches: tuple[tuple[str, str], ...] = ()  # (id, name) to choose from, in name order
    unlisted: int = 0  # matches past MATCHES_LISTED
    problem: str = ""  # what staff are told, if the text named no campaign


def choose_campaign(
    chosen: str | None, find: str | None, campaigns: Mapping[str, str]
) -> CampaignChoice:
    """The campaign the request asks for: `chosen` (the `campaign` id) unless the search
    box's `find` (None when the request came from a link) names another."""
    if find is None or (chosen is not None and find.strip() == campaigns.get(chosen, chosen)):
        return CampaignChoice(chosen, campaigns.get(chosen, chosen) if chosen else "")
    text = " ".join(find.split())
    if not text:
        return CampaignChoice(None, "")
    needle = text.casefold()
    if text in campaigns:  # an id, as in a link someone pasted
        return CampaignChoice(text, campaigns[text])
    matches = sorted(
        (name.casefold(), name, campaign_id)
        for campaign_id, name in campaigns.items()
        if needle in name.casefold()
    )
    exact = [match for match in matches if match[0] == needle]
    if len(exact) == 1 or len(matches) == 1:
        _, name, campaign_id = (exact or matches)[0]
        return CampaignChoice(campaign_id, name)
    if not matches:
        return CampaignChoice(
            None,
            text,
            problem=f"No campaign's name contains “{text}”. Showing every campaign.",
        )
    return CampaignChoice(
        None,
        text,
        matches=tuple((campaign_id, name) for _, name, campaign_id in matches[:MATCHES_LISTED]),
        unlisted=max(0, len(matches) - MATCHES_LISTED),
    )
