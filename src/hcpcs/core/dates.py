"""Dates as users type them: one parser for the command line, the web query parameters and the claim
inputs (CSV, JSON, Parquet text), so every place accepts the same forms."""

from __future__ import annotations

from datetime import date, datetime

from hcpcs.core.errors import InvalidInputError

# The forms a coder types: ISO, as on US paper forms, and as X12 writes them (D8).
DATE_FORMS = "YYYY-MM-DD, MM/DD/YYYY or YYYYMMDD"


def read_date(text: str) -> date:
    """`YYYY-MM-DD`, `MM/DD/YYYY` (also `M/D/YYYY`) or `YYYYMMDD`; ValueError (naming the forms) otherwise."""
    value = text.strip()
    try:
        if len(value) == 10 and value[4] == "-" and value[7] == "-" and _digits(value[:4] + value[5:7] + value[8:]):
            return date(int(value[:4]), int(value[5:7]), int(value[8:]))
        if len(value) == 8 and _digits(value):
            return date(int(value[:4]), int(value[4:6]), int(value[6:]))
        parts = value.split("/")
        if len(parts) == 3 and len(parts[2]) == 4 and all(1 <= len(p) <= 4 and _digits(p) for p in parts) \
                and len(parts[0]) <= 2 and len(parts[1]) <= 2:
            return date(int(parts[2]), int(parts[0]), int(parts[1]))
    except ValueError:
        month_first = " (MM/DD/YYYY: the month comes first)" if "/" in value else ""
        raise ValueError(f"{text!r} is not a real calendar date{month_first}") from None
    raise ValueError(f"{text!r} is not a date written {DATE_FORMS}")


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def parse_date(value: str | date | None, what: str = "date") -> date:
    """A date given by a user (`read_date`'s forms); None means today."""
    if value is None:
        return date.today()
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return read_date(str(value))
    except ValueError as exc:
        raise InvalidInputError(f"{what}: {exc}") from None
