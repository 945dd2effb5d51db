"""Dates as users give them."""

from __future__ import annotations

from datetime import date

from hcpcs.core.errors import InvalidInputError


def parse_date(value: str | date | None, what: str = "date") -> date:
    """A date given by a user: ISO `YYYY-MM-DD`; None means today."""
    if value is None:
        return date.today()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError as exc:
        raise InvalidInputError(f"{what} {value!r} is not a date in the form YYYY-MM-DD") from exc
