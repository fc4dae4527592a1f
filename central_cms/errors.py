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


class NotFound(Exception):
    pass


__all__ = ["Forbidden", "Invalid", "NotFound"]
