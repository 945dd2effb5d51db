"""One JSON claim object (the README's claim contract) checked and turned into a `Claim`, or into a
`ClaimError` naming the first bad field: the row-wise reading every format falls back on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hcpcs.claims.model import Claim, ClaimError, ClaimLine
from hcpcs.claims.values import (
    BadValue,
    FieldError,
    describe_value,
    normalize_code,
    parse_charge,
    parse_claim_id,
    parse_code_list,
    parse_iso_date,
    parse_modifiers,
    parse_place_of_service,
    parse_setting,
    parse_text,
    parse_units,
)
from hcpcs.core.errors import ClaimInputError

ClaimOrError = Claim | ClaimError

CLAIM_FIELDS = frozenset(
    {"id", "setting", "date_of_service", "lines", "place_of_service", "provider", "diagnosis_codes"}
)
LINE_FIELDS = frozenset(
    {"code", "modifiers", "units", "date_of_service", "place_of_service", "charge", "diagnosis_pointers"}
)


def _line_from_mapping(obj: Any, where: str) -> tuple[ClaimLine, dict[str, Any]]:
    if not isinstance(obj, Mapping):
        raise FieldError(where, f"a claim line must be an object, not {describe_value(obj)}")
    current = "code"
    try:
        if "code" not in obj:
            raise BadValue("code is missing: every line needs a HCPCS/CPT code")
        code = normalize_code(obj["code"])
        current = "modifiers"
        modifiers = parse_modifiers(obj.get("modifiers"))
        current = "units"
        units = parse_units(obj["units"]) if obj.get("units") is not None else 1
        current = "date_of_service"
        raw_date = obj.get("date_of_service")
        line_date = parse_iso_date(raw_date) if raw_date not in (None, "") else None
        current = "place_of_service"
        place = parse_place_of_service(obj.get("place_of_service"))
        current = "charge"
        charge = parse_charge(obj.get("charge"))
        current = "diagnosis_pointers"
        pointers = parse_code_list(obj.get("diagnosis_pointers"), "diagnosis_pointers")
    except BadValue as exc:
        raise FieldError(f"{where}.{current}", str(exc)) from None
    extra = {key: value for key, value in obj.items() if key not in LINE_FIELDS}
    return ClaimLine(code, modifiers, units, line_date, place, pointers, charge), extra


def _claim_from_mapping(obj: Any) -> Claim:
    """The claim in a decoded JSON object; FieldError (location relative to the claim) when invalid."""
    if not isinstance(obj, Mapping):
        raise FieldError("", f"expected a claim object, found {describe_value(obj)}")
    claim_id = parse_claim_id(obj.get("id"))
    try:
        current = "setting"
        try:
            setting = parse_setting(obj.get("setting"))
            current = "date_of_service"
            raw_date = obj.get("date_of_service")
            claim_date = parse_iso_date(raw_date) if raw_date not in (None, "") else None
            current = "place_of_service"
            place = parse_place_of_service(obj.get("place_of_service"))
            current = "provider"
            provider = parse_text(obj.get("provider"), "provider")
            current = "diagnosis_codes"
            diagnoses = parse_code_list(obj.get("diagnosis_codes"), "diagnosis_codes")
        except BadValue as exc:
            raise FieldError(current, str(exc)) from None
        raw_lines = obj.get("lines")
        if raw_lines is None:
            raise FieldError("lines", "the claim has no \"lines\": a claim needs at least one service line")
        if not isinstance(raw_lines, list):
            raise FieldError("lines", f"\"lines\" must be a list of service lines, not {describe_value(raw_lines)}")
        if not raw_lines:
            raise FieldError("lines", "\"lines\" is empty: a claim needs at least one service line")
        lines: list[ClaimLine] = []
        line_extra: list[dict[str, Any]] = []
        for index, raw in enumerate(raw_lines):
            line, extra = _line_from_mapping(raw, f"lines[{index}]")
            lines.append(line)
            line_extra.append(extra)
        if claim_date is None:
            missing = [i for i, line in enumerate(lines) if line.date_of_service is None]
            if missing:
                raise FieldError(
                    "date_of_service",
                    "the claim has no date_of_service (YYYY-MM-DD, MM/DD/YYYY or YYYYMMDD) and line "
                    f"{missing[0] + 1} has none either: give the claim a date (or every line one)",
                )
            claim_date = min(line.date_of_service for line in lines if line.date_of_service)
    except FieldError as exc:
        exc.claim_id = claim_id
        raise
    extra = {key: value for key, value in obj.items() if key not in CLAIM_FIELDS}
    if any(line_extra):
        extra["line_extra"] = line_extra
    return Claim(claim_id, setting, claim_date, tuple(lines), place, provider, diagnoses, extra)


def claim_from_dict(data: Mapping[str, Any]) -> Claim:
    """One claim from a decoded JSON object (the JSON claim contract above); ClaimInputError if invalid."""
    try:
        return _claim_from_mapping(data)
    except FieldError as exc:
        raise ClaimInputError(exc.message, claim_id=exc.claim_id, location=exc.location or None) from None


def join_location(prefix: str, sep: str, location: str) -> str:
    if not location:
        return prefix
    return f"{prefix}{sep}{location}" if prefix else location


def claim_or_error(obj: Any, prefix: str, sep: str) -> ClaimOrError:
    try:
        return _claim_from_mapping(obj)
    except FieldError as exc:
        return ClaimError(exc.claim_id, join_location(prefix, sep, exc.location), exc.message)
