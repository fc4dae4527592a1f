"""Domain errors shared by the UI and the API."""

from __future__ import annotations

from central_cms.policy import Forbidden


class Invalid(Exception):
    """Input we refuse; `field` names the form field, `message` is shown as it is."""

    def __init__(
        self,
        field: str,
        message: str,
        problems: list[str] | None = None,
        *,
        item_problems: dict[tuple[int, str], list[str]] | None = None,
    ) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.problems = problems or [message]
        # (1-based item number, item field) -> messages, for showing each beside its field
        self.item_problems = item_problems or {}


class Conflict(Invalid):
    """Input that is well formed but clashes with what the CMS holds now: a duplicate id,
    a site, profile or media item that does not exist, a campaign in the wrong status, or
    content the targeted screens' rules refuse. Shown in forms like any `Invalid`; the API
    answers 409 rather than 422, since the same request can succeed once the state changes."""


class NotFound(Exception):
    pass


class StaffMessage(Exception):
    """A refusal whose `message` is shown to staff as it is (an upload we cannot take)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


__all__ = ["Conflict", "Forbidden", "Invalid", "NotFound", "StaffMessage"]
