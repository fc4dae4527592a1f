"""What the portal's message pages say: a status, a heading and lines, as message ids
translated where the page is rendered."""

from __future__ import annotations

from dataclasses import dataclass


def N_(message: str) -> str:
    """Marks a message for extraction; it is translated where it is shown."""
    return message


@dataclass(frozen=True)
class Message:
    status: int
    heading: str
    lines: tuple[str, ...] = ()
    link: tuple[str, str] | None = None  # (href, message id of its text)


TOO_MANY_REQUESTS = Message(
    429,
    N_("Too many requests"),
    (
        N_("This device sent too many requests in a short time."),
        N_("Please wait a few seconds, then try again."),
    ),
)
NOT_FOUND = Message(
    404,
    N_("Page not found"),
    (N_("This page does not exist."),),
    link=("/", N_("Go to the start page")),
)
_START_AGAIN = N_("Please open any website to start again.")
_FRESH_PAGE = N_("Please open any website again to get a fresh sign-in page.")


def went_wrong(status: int) -> Message:
    return Message(status, N_("Something went wrong"), (_START_AGAIN,))


BAD_LINK = Message(
    400,
    N_("This sign-in link is not valid"),
    (N_("The link may be damaged or out of date."), _FRESH_PAGE),
)
CROSS_SITE = Message(403, N_("This form was not sent from this page"), (_START_AGAIN,))
EXPIRED = Message(
    400,
    N_("This page has expired"),
    (N_("For your security the sign-in page is valid for a limited time."), _FRESH_PAGE),
)
UNKNOWN_DEVICE = Message(400, N_("We could not recognise your device"), (_FRESH_PAGE,))
ALREADY_SENT = Message(
    400,
    N_("This form was already sent"),
    (N_("If you are not online yet, open any website again to get a fresh sign-in page."),),
)
CLOSED = Message(
    200,
    N_("The free Wi-Fi is closed right now"),
    (
        N_("Visitors can go online here during the site's Wi-Fi service hours."),
        N_("Please come back during those hours."),
    ),
)
# On the splash, when openNDS has too many visitors to let online at once (issue 16).
BUSY_NOTICE = N_("Many people are joining right now. Please tap the button again in a moment.")
