"""CSV cells a spreadsheet shows as text, for every CSV export of the CMS."""

from __future__ import annotations


def csv_cell(value: object) -> object:
    """A cell starting with = + - @ (or a tab or CR) is a formula to a spreadsheet (CSV
    injection); quote it so it shows as the text staff or visitors typed."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
