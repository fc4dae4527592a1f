"""Pages of a long list (issue 17, scale): which rows one page of a staff list shows, and
the links to the others.

Offset paging over an indexed order: staff jump to "page 7 of 200" and back, which keyset
paging cannot link to, and every list here is ordered by indexed columns (migration 0017),
so even a late page costs one index walk. `Page` is pure; `page_of` runs the two queries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVarTuple

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

PAGE_SIZE = 50
Rows = TypeVarTuple("Rows")


@dataclass(frozen=True)
class Page:
    """Page `number` (from 1) of `total` rows, `size` at a time."""

    number: int
    total: int
    size: int = PAGE_SIZE

    @property
    def count(self) -> int:
        """How many pages there are (one, even when there is nothing to show)."""
        return max(1, -(-self.total // self.size))

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def first_row(self) -> int:
        return min(self.total, self.offset + 1)

    @property
    def last_row(self) -> int:
        return min(self.total, self.offset + self.size)

    @property
    def previous(self) -> int | None:
        return self.number - 1 if self.number > 1 else None

    @property
    def next(self) -> int | None:
        return self.number + 1 if self.number < self.count else None

    def nearby(self, spread: int = 2) -> list[int | None]:
        """The page numbers to link: the first, the last and `spread` either side of this
        one; None where numbers are left out (shown as an ellipsis)."""
        wanted = {1, self.count, *range(self.number - spread, self.number + spread + 1)}
        shown = sorted(n for n in wanted if 1 <= n <= self.count)
        out: list[int | None] = []
        for n in shown:
            if out and n - (out[-1] or 0) > 1:
                out.append(None)
            out.append(n)
        return out


def requested_page(args: Mapping[str, str], total: int, size: int = PAGE_SIZE) -> Page:
    """The page the query string asks for (`page=`), kept within what exists: a stale
    link to page 9 of what is now 3 pages shows page 3, not an empty table."""
    raw = args.get("page", "1")
    number = int(raw) if raw.isdigit() else 1
    page = Page(1, total, size)
    return Page(min(max(number, 1), page.count), total, size)


def page_of(
    session: Session, query: Select[*Rows], args: Mapping[str, str], size: int = PAGE_SIZE
) -> tuple[Page, Sequence[Any]]:
    """One page of `query`'s rows (its ORDER BY must be total) and where it sits."""
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    page = requested_page(args, total, size)
    rows = session.execute(query.offset(page.offset).limit(page.size)).all()
    return page, rows
