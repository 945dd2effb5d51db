"""Single claim values as the claim formats carry them (codes, modifiers, units, dates, places of service,
charges), checked and normalized; shared by every reader (`hcpcs.claims.readers`, `hcpcs.claims.x12`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from hcpcs.claims.model import SETTINGS
from hcpcs.core.dates import DATE_FORMS, read_date


class BadValue(ValueError):
    """A single value that is not acceptable; the message is plain English, without location."""


class FieldError(Exception):
    """A bad value inside one claim: `location` is relative to the claim (e.g. ``lines[1].units``)."""

    def __init__(self, location: str, message: str, claim_id: str | None = None) -> None:
        super().__init__(f"{location}: {message}")
        self.location = location
        self.message = message
        self.claim_id = claim_id


# The shapes of codes and modifiers, and the most units a line may carry: the single source of the row-wise
# checks below and of the column-wise ones (`hcpcs.claims.frame`). CPT codes are five digits, or four digits
# and a letter: A (vaccine administration), F (Category II), M (multianalyte assays), T (Category III),
# U (proprietary laboratory analyses).
CODE_PATTERN = r"^(?:[A-Z][0-9]{4}|[0-9]{4}[0-9AFMTU])$"
MODIFIER_PATTERN = r"^[0-9A-Z]{2}$"
MAX_UNITS = 999_999
_CPT_LAST = frozenset("0123456789AFMTU")
_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_ALNUM = frozenset("0123456789") | _LETTERS


def describe_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def normalize_code(value: Any) -> str:
    """A HCPCS/CPT code, trimmed and upper-cased; BadValue if it does not have the shape of one."""
    if isinstance(value, int) and not isinstance(value, bool) and 10000 <= value <= 99999:
        value = str(value)
    if not isinstance(value, str):
        raise BadValue(f"code must be text such as \"77373\", not {describe_value(value)}")
    return _code(value)


@lru_cache(maxsize=8192)
def _code(value: str) -> str:
    text = value.strip().upper()
    if not text:
        raise BadValue("code is empty")
    if (
        len(text) == 5
        and text.isascii()
        and ((text[0] in _LETTERS and text[1:].isdigit()) or (text[:4].isdigit() and text[4] in _CPT_LAST))
    ):
        return text
    raise BadValue(
        f"{value!r} is not a HCPCS/CPT code: expected a letter and four digits (e.g. G6002) or five "
        "digits, or four digits and A, F, M, T or U (e.g. 77373, 0001A, 0001U)"
    )


def normalize_modifier(value: Any) -> str:
    """A two-character modifier, trimmed and upper-cased (a leading '-' is dropped)."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 99:
        return f"{value:02d}"
    if not isinstance(value, str):
        raise BadValue(f"a modifier must be two characters such as \"26\", not {describe_value(value)}")
    text = value.strip().upper()
    if text.startswith("-"):
        text = text[1:]
    if len(text) == 2 and text[0] in _ALNUM and text[1] in _ALNUM:
        return text
    raise BadValue(f"{value!r} is not a modifier: a modifier is two letters or digits (e.g. 26, TC, 59)")


def _split_list(text: str) -> list[str]:
    return text.replace(",", " ").replace(";", " ").split()


def parse_modifiers(value: Any) -> tuple[str, ...]:
    """Modifiers from a list or from one string "26,59" / "26;59" / "26 59"; None or "" -> ()."""
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(normalize_modifier(part) for part in _split_list(value))
    if isinstance(value, (list, tuple)):
        out: list[str] = []
        for item in value:
            if isinstance(item, str):
                out.extend(normalize_modifier(part) for part in _split_list(item))
            elif item is not None:
                out.append(normalize_modifier(item))
        return tuple(out)
    return (normalize_modifier(value),)


def parse_units(value: Any) -> int:
    """Units of service: a whole number greater than 0 (2.0 and "2" are 2)."""
    if value is None or isinstance(value, bool):
        raise BadValue(f"units must be a whole number greater than 0, not {describe_value(value)}")
    too_many = (f"units are not a plausible count of services (at most {MAX_UNITS:,} on a line), not "
                "{}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if math.isinf(value) or value > MAX_UNITS:
            raise BadValue(too_many.format(_short(repr(value))))
        if not value.is_integer():
            raise BadValue(f"units must be a whole number (units of service), not {value}")
        number = int(value)
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            raise BadValue("units is empty: expected a whole number greater than 0")
        body = text[1:] if text[0] in "+-" else text
        if body.isascii() and body.isdigit():
            if len(body.lstrip("0")) > len(str(MAX_UNITS)):  # int() refuses more than 4,300 digits anyway
                raise BadValue(too_many.format(_short(text)))
            number = int(text)
        else:
            try:
                as_float = float(text) if text.isascii() else math.nan
            except ValueError:
                as_float = math.nan
            if math.isnan(as_float):
                raise BadValue(f"units must be a whole number greater than 0, not {_short(repr(value))}")
            if math.isinf(as_float) or as_float > MAX_UNITS:
                raise BadValue(too_many.format(_short(text)))
            if not as_float.is_integer():
                raise BadValue(f"units must be a whole number (units of service), not {text}")
            number = int(as_float)
    else:
        raise BadValue(f"units must be a whole number greater than 0, not {describe_value(value)}")
    if number <= 0:
        raise BadValue(f"units must be greater than 0, not {number}")
    if number > MAX_UNITS:
        raise BadValue(too_many.format(_short(str(number))))
    return number


def _short(text: str, limit: int = 24) -> str:
    """A value short enough to quote in a message (a 5,000-digit number is not quoted whole)."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def parse_iso_date(value: Any) -> date:
    """A date written YYYY-MM-DD, MM/DD/YYYY or YYYYMMDD (`hcpcs.core.dates.read_date`, the parser of every
    typed date); a datetime.date is taken as is."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise BadValue(f"a date must be text written {DATE_FORMS}, not {describe_value(value)}")
    return _typed_date(value)


@lru_cache(maxsize=4096)
def _typed_date(value: str) -> date:
    try:
        return read_date(value)
    except ValueError as exc:
        raise BadValue(str(exc)) from None


def parse_place_of_service(value: Any) -> str | None:
    """A two-digit CMS place of service code ("11"); None or "" -> None."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            return None
    else:
        raise BadValue(f"place_of_service must be a two-digit code such as \"11\", not {describe_value(value)}")
    if 1 <= len(text) <= 2 and text.isascii() and text.isdigit():
        return text.zfill(2)
    raise BadValue(f"place_of_service must be a two-digit CMS place of service code such as \"11\", not {value!r}")


def parse_charge(value: Any) -> float | None:
    """A charge: a number >= 0; None or "" -> None."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise BadValue(f"charge must be a number, not {describe_value(value)}")
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            number = float(text)
        except ValueError:
            raise BadValue(f"charge must be a number such as 125.00, not {value!r}") from None
    else:
        raise BadValue(f"charge must be a number, not {describe_value(value)}")
    if not math.isfinite(number) or number < 0:
        raise BadValue(f"charge must be a number of 0 or more, not {value!r}")
    return number


def parse_setting(value: Any) -> str:
    """"professional" (also when None or "") or "facility" ("institutional" means facility)."""
    if value is None:
        return "professional"
    if not isinstance(value, str):
        raise BadValue(f"setting must be \"professional\" or \"facility\", not {describe_value(value)}")
    text = value.strip().lower()
    if not text:
        return "professional"
    if text == "institutional":
        return "facility"
    if text not in SETTINGS:
        raise BadValue(f"setting must be \"professional\" or \"facility\", not {value!r}")
    return text


def parse_text(value: Any, what: str) -> str | None:
    """Free text (numbers are turned into text); None or "" -> None."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise BadValue(f"{what} must be text, not {describe_value(value)}")


def parse_code_list(value: Any, what: str) -> tuple[str, ...]:
    """Codes from a list or one string split on commas, semicolons or spaces; upper-cased."""
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(part.upper() for part in _split_list(value))
    if isinstance(value, (list, tuple)):
        out: list[str] = []
        for item in value:
            text = parse_text(item, f"each of {what}")
            if text:
                out.append(text.upper())
        return tuple(out)
    if isinstance(value, int) and not isinstance(value, bool):
        return (str(value),)
    raise BadValue(f"{what} must be a list or text, not {describe_value(value)}")


def parse_claim_id(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        raise FieldError("id", "the claim id is missing: every claim needs an \"id\"")
    if isinstance(value, (int, str)):
        text = str(value).strip()
        if text:
            return text
        raise FieldError("id", "the claim id is empty")
    raise FieldError("id", f"the claim id must be text or a whole number, not {describe_value(value)}")


