"""X12 837 claims: 005010X222A1 (837P, professional) and 005010X223A2 (837I, institutional -> facility).

Segments are tokenised and the ISA/GS/ST envelope is checked by ``pyx12.x12file.X12Reader``; the claim
mapping below is ours (pyx12's full map validation is not run: it is slow and rejects claims for
reasons that do not matter to code edits).

Mapping
-------
- ``CLM`` starts a claim: CLM01 is the claim id; CLM05-1 the place of service (837P) or the facility
  type code (837I, kept in ``extra["facility_type_code"]``); CLM05-3 the claim frequency
  (``extra["claim_frequency"]``); CLM02 the total charge (``extra["total_charge"]``). A claim ends at
  the next CLM, HL, SE, GE or IEA.
- ``LX`` starts a service line (loop 2400): an SV1/SV2 with no LX before it is an error of its claim.
- ``SV1`` (837P) is the service line: SV101 ``HC:code:mod1:mod2:mod3:mod4`` (the qualifier must be HC),
  SV102 charge, SV103 unit basis ``UN`` (units) or ``MJ`` (minutes: anesthesia time, as the 837P guide has
  anesthesia reported), SV104 the units or minutes (a whole number > 0), SV105 place of service, SV107
  diagnosis pointers. An ``MJ`` line is one anesthesia service: ``units`` 1 (what MUE counts) and
  ``minutes`` the time sent.
- ``SV2`` (837I) starts a service line: SV201 revenue code (``extra["revenue_codes"]``, one per line),
  SV202 ``HC:code:mods``, SV203 charge, SV204 unit basis ``UN`` or ``DA``, SV205 units. Lines with a
  revenue code and no SV202 code are not claim lines; their count is ``extra["revenue_only_lines"]``.
- ``DTP*472`` (service date, D8 ``CCYYMMDD`` or RD8 ``CCYYMMDD-CCYYMMDD`` -> the first day) dates the
  line it follows (or the claim when before any line); ``DTP*434`` (837I statement dates) gives the
  claim's date when no line has one. The claim's date of service is the earliest line date. In an 837P
  every line needs a service date.
- ``HI`` codes with qualifier ABK/ABF (BK/BF) -> ``diagnosis_codes`` (as sent, without a decimal point).
- ``NM1*82`` (rendering provider, claim level) or else ``NM1*85`` (billing provider) NM109 -> provider;
  both are also kept in ``extra`` (``rendering_provider``, ``billing_provider``).

Errors: no ISA (a file starting at GS or ST is named as such), an ISA without a segment terminator after
it (segments run together), an ISA that is not 106 characters, an unknown X12 version, a transaction set that is not
an 837P/837I, or a broken envelope structure raise ClaimFormatError. A bad claim (an SV1 without HC, a
missing service date, a segment with too few or too many elements, a claim cut off by the end of the
file) becomes a ClaimError located ``segment N (ID)``, N counting segments from ISA = 1; envelope
problems reported by pyx12 (wrong SE/GE/IEA counts or control numbers, missing trailers) become
ClaimErrors without a claim id.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import IO, Any

import pyx12.errors
from pyx12.segment import Segment
from pyx12.x12file import X12Reader

from hcpcs.claims.model import Claim, ClaimError, ClaimLine
from hcpcs.claims.values import (
    BadValue,
    normalize_code,
    normalize_modifier,
    parse_charge,
    parse_place_of_service,
    parse_units,
)
from hcpcs.core.errors import ClaimFormatError

PROFESSIONAL_VERSION = "005010X222"  # 005010X222A1
INSTITUTIONAL_VERSION = "005010X223"  # 005010X223A2
DIAGNOSIS_QUALIFIERS = frozenset({"ABK", "ABF", "BK", "BF"})
_CLAIM_ENDERS = frozenset({"HL", "CLM", "ST", "SE", "GE", "IEA"})
# segment id -> (fewest elements, most elements, what the required ones are)
_ELEMENT_COUNTS: dict[str, tuple[int, int, str]] = {
    "CLM": (5, 20, "CLM01 claim id, CLM02 charge and CLM05 facility code / place of service"),
    "SV1": (4, 21, "SV101 procedure, SV102 charge, SV103 unit basis and SV104 units"),
    "SV2": (5, 10, "SV201 revenue code, SV202 procedure, SV203 charge, SV204 unit basis and SV205 units"),
    "DTP": (3, 3, "DTP01 qualifier, DTP02 format and DTP03 date"),
    "HI": (1, 12, "HI01 diagnosis"),
    "NM1": (2, 12, "NM101 entity and NM102 entity type"),
}


def _element(segment: Segment, position: int) -> str:
    """Element `position` (1-based) as text; "" when absent. Composites keep their separators."""
    if position > len(segment.elements):
        return ""
    composite = segment.elements[position - 1]
    parts = composite.elements
    if len(parts) == 1:
        return parts[0].value.strip()
    return composite.format().strip()


def _parts(segment: Segment, position: int) -> list[str]:
    """The sub-elements of element `position` (1-based); [] when absent."""
    if position > len(segment.elements):
        return []
    return [part.value.strip() for part in segment.elements[position - 1].elements]


def _x12_date(format_code: str, text: str) -> date:
    """DTP02/DTP03: D8 CCYYMMDD, or RD8 CCYYMMDD-CCYYMMDD (the first day)."""
    if format_code == "D8":
        first = text
    elif format_code == "RD8":
        first, sep, last = text.partition("-")
        if not sep:
            raise BadValue(f"an RD8 date range is written CCYYMMDD-CCYYMMDD, not {text!r}")
        end = _ccyymmdd(last)
        if end < _ccyymmdd(first):
            raise BadValue(f"the date range {text!r} ends before it starts")
    else:
        raise BadValue(f"the date format (DTP02) must be D8 or RD8, not {format_code!r}")
    return _ccyymmdd(first)


def _ccyymmdd(text: str) -> date:
    if len(text) != 8 or not (text.isascii() and text.isdigit()):
        raise BadValue(f"a date is written CCYYMMDD, not {text!r}")
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise BadValue(f"{text!r} is not a real calendar date") from None


@dataclass
class _Line:
    segment_number: int
    segment_id: str
    code: str = ""
    modifiers: tuple[str, ...] = ()
    units: int = 1
    minutes: int | None = None
    charge: float | None = None
    place_of_service: str | None = None
    pointers: tuple[str, ...] = ()
    date_of_service: date | None = None
    revenue_code: str | None = None
    revenue_only: bool = False


@dataclass
class _Claim:
    id: str | None
    segment_number: int
    setting: str
    transaction: str
    billing_provider: str | None
    place_of_service: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    diagnoses: list[str] = field(default_factory=list)
    rendering_provider: str | None = None
    lines: list[_Line] = field(default_factory=list)
    service_date: date | None = None  # DTP*472 before any line
    statement_date: date | None = None  # DTP*434 (837I)
    problem: tuple[str, str] | None = None
    line_opened: bool = False  # an LX since the last service line: the next SV1/SV2 is its line

    @property
    def current(self) -> _Line | None:
        return self.lines[-1] if self.lines else None

    def fail(self, segment_number: int, segment_id: str, message: str) -> None:
        if self.problem is None:
            self.problem = (f"segment {segment_number} ({segment_id})", message)

    def finish(self) -> Claim | ClaimError:
        if self.problem is not None:
            return ClaimError(self.id, *self.problem)
        claim_id = self.id or ""
        where = f"segment {self.segment_number} (CLM)"
        lines = [line for line in self.lines if not line.revenue_only]
        if not lines:
            what = "SV1 service lines" if self.setting == "professional" else "SV2 service lines with a HCPCS code"
            return ClaimError(claim_id, where, f"the claim has no {what}")
        fallback = self.service_date or self.statement_date
        if self.setting == "professional" and fallback is None:
            for line in lines:
                if line.date_of_service is None:
                    return ClaimError(
                        claim_id, f"segment {line.segment_number} ({line.segment_id})",
                        "the service line has no service date: a DTP*472 segment must follow it",
                    )
        dates = [line.date_of_service for line in lines if line.date_of_service]
        claim_date = min(dates) if dates else fallback
        if claim_date is None:
            return ClaimError(
                claim_id, where,
                "the claim has no service date: no DTP*472 on any line and no DTP*434 statement dates",
            )
        if self.setting == "facility":
            self.extra["revenue_codes"] = [line.revenue_code for line in lines]
            revenue_only = len(self.lines) - len(lines)
            if revenue_only:
                self.extra["revenue_only_lines"] = revenue_only
        if self.billing_provider:
            self.extra["billing_provider"] = self.billing_provider
        if self.rendering_provider:
            self.extra["rendering_provider"] = self.rendering_provider
        self.extra["transaction"] = self.transaction
        return Claim(
            claim_id, self.setting, claim_date,
            tuple(
                ClaimLine(
                    line.code, line.modifiers, line.units, line.date_of_service, line.place_of_service,
                    line.pointers, line.charge, line.minutes,
                )
                for line in lines
            ),
            self.place_of_service, self.rendering_provider or self.billing_provider, tuple(self.diagnoses),
            self.extra,
        )


class _LeadingSpaceSkipped:
    """A text stream with leading whitespace removed (pyx12 expects 'ISA' as the first characters)."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._pending = ""
        while True:
            chunk = stream.read(4096)
            stripped = chunk.lstrip(" \t\r\n\ufeff")
            if stripped or not chunk:
                self._pending = stripped
                break

    @property
    def closed(self) -> bool:
        return False

    @property
    def head(self) -> str:
        """The start of the stream (up to 4,096 characters), not consumed."""
        return self._pending

    def read(self, size: int = -1) -> str:
        if self._pending:
            if size < 0:
                out, self._pending = self._pending + self._stream.read(), ""
                return out
            out, self._pending = self._pending[:size], self._pending[size:]
            if len(out) < size:
                out += self._stream.read(size - len(out))
            return out
        return self._stream.read(size)


class _Parser:
    """Turns a sequence of segments into claims and errors."""

    def __init__(self) -> None:
        self.setting: str | None = None  # of the open ST transaction
        self.transaction = ""
        self.group_version = ""
        self.billing_provider: str | None = None
        self.claim: _Claim | None = None

    def close(self) -> Iterator[Claim | ClaimError]:
        if self.claim is not None:
            claim, self.claim = self.claim, None
            yield claim.finish()

    def _counts_ok(self, segment: Segment, sid: str, number: int) -> bool:
        fewest, most, required = _ELEMENT_COUNTS[sid]
        count = len(segment.elements)
        if fewest <= count <= most:
            return True
        if self.claim is not None:
            if count < fewest:
                message = f"{sid} has {count} elements; it needs at least {fewest} ({required})"
            else:
                message = f"{sid} has {count} elements; at most {most} are defined"
            self.claim.fail(number, sid, message)
        return False

    def segment(self, segment: Segment, number: int, name: str) -> Iterator[Claim | ClaimError]:
        sid = segment.get_seg_id() or ""
        if sid in _CLAIM_ENDERS:
            yield from self.close()
        if sid == "CLM":
            yield from self._clm(segment, number)
        elif sid == "SV1" or sid == "SV2":
            yield from self._service_line(segment, sid, number)
        elif sid == "LX":
            if self.claim is not None:
                self.claim.line_opened = True
        elif sid == "DTP":
            self._dtp(segment, number)
        elif sid == "HI":
            if self.claim is not None and self._counts_ok(segment, sid, number):
                for position in range(1, len(segment.elements) + 1):
                    parts = _parts(segment, position)
                    if len(parts) > 1 and parts[0] in DIAGNOSIS_QUALIFIERS and parts[1]:
                        self.claim.diagnoses.append(parts[1].upper())
        elif sid == "NM1":
            self._nm1(segment, number)
        elif sid == "HL":
            if _element(segment, 3) == "20":
                self.billing_provider = None
        elif sid == "GS":
            self.group_version = _element(segment, 8)
        elif sid == "ST":
            self._st(segment, number, name)
        elif sid == "SE":
            self.setting = None
        elif self.claim is not None and not (2 <= len(sid) <= 3 and sid.isascii() and sid.isalnum()):
            self.claim.fail(number, sid or "?", f"{sid!r} is not a segment id: the claim may have lost data")

    def _st(self, segment: Segment, number: int, name: str) -> None:
        kind = _element(segment, 1)
        version = _element(segment, 3) or self.group_version
        where = f"{name}, segment {number} (ST)"
        if kind != "837":
            raise ClaimFormatError(f"transaction set {kind!r} is not a claim: an 837 was expected", location=where)
        if version.startswith(PROFESSIONAL_VERSION):
            self.setting, self.transaction = "professional", "837P"
        elif version.startswith(INSTITUTIONAL_VERSION):
            self.setting, self.transaction = "facility", "837I"
        else:
            raise ClaimFormatError(
                f"837 implementation {version!r} is not read: expected 005010X222A1 (837P) or "
                "005010X223A2 (837I)",
                location=where,
            )

    def _clm(self, segment: Segment, number: int) -> Iterator[Claim | ClaimError]:
        if self.setting is None:
            yield ClaimError(_element(segment, 1) or None, f"segment {number} (CLM)", "CLM outside an ST/SE transaction")
            return
        claim_id = _element(segment, 1)
        claim = self.claim = _Claim(claim_id or None, number, self.setting, self.transaction, self.billing_provider)
        if not claim_id:
            claim.fail(number, "CLM", "CLM01 (the claim id) is empty")
        if not self._counts_ok(segment, "CLM", number):
            return
        try:
            charge = parse_charge(_element(segment, 2))
        except BadValue as exc:
            claim.fail(number, "CLM", f"CLM02 (total charge): {exc}")
            charge = None
        if charge is not None:
            claim.extra["total_charge"] = charge
        facility = _parts(segment, 5)
        code = facility[0] if facility else ""
        if len(facility) > 2 and facility[2]:
            claim.extra["claim_frequency"] = facility[2]
        if self.setting == "professional":
            try:
                claim.place_of_service = parse_place_of_service(code)
            except BadValue as exc:
                claim.fail(number, "CLM", f"CLM05-1 (place of service): {exc}")
        elif code:
            claim.extra["facility_type_code"] = code

    def _service_line(self, segment: Segment, sid: str, number: int) -> Iterator[Claim | ClaimError]:
        claim = self.claim
        if claim is None:
            yield ClaimError(None, f"segment {number} ({sid})", f"{sid} service line outside a claim (no CLM before it)")
            return
        line = _Line(number, sid)
        claim.lines.append(line)
        if not claim.line_opened:
            claim.fail(number, sid, f"{sid} service line without an LX before it: each service line (loop 2400) "
                                    "starts with LX and its line number")
            return
        claim.line_opened = False
        expected = "SV1" if claim.setting == "professional" else "SV2"
        if sid != expected:
            claim.fail(number, sid, f"{sid} service line in an {claim.transaction} claim (its lines are {expected})")
            return
        if not self._counts_ok(segment, sid, number):
            return
        if sid == "SV1":
            procedure, charge, basis, units = _parts(segment, 1), _element(segment, 2), _element(segment, 3), _element(segment, 4)
            allowed_bases: tuple[str, ...] = ("UN", "MJ")
        else:
            line.revenue_code = _element(segment, 1) or None
            procedure, charge, basis, units = _parts(segment, 2), _element(segment, 3), _element(segment, 4), _element(segment, 5)
            allowed_bases = ("UN", "DA")
            if not any(procedure):
                line.revenue_only = True
                return
        prefix = f"{sid}01" if sid == "SV1" else f"{sid}02"
        label = ""
        try:
            label = f"{prefix}-1 (procedure code qualifier)"
            if procedure[0] != "HC":
                raise BadValue(
                    f"the qualifier is {procedure[0]!r}: only HC (HCPCS/CPT) procedure codes can be checked"
                )
            label = f"{prefix}-2 (procedure code)"
            line.code = normalize_code(procedure[1] if len(procedure) > 1 else "")
            label = f"{prefix}-3..6 (modifiers)"
            line.modifiers = tuple(normalize_modifier(mod) for mod in procedure[2:6] if mod)
            label = f"{sid}02 (charge)" if sid == "SV1" else f"{sid}03 (charge)"
            line.charge = parse_charge(charge)
            label = f"{sid}03 (unit basis)" if sid == "SV1" else f"{sid}04 (unit basis)"
            if basis not in allowed_bases:
                raise BadValue(f"the unit basis must be {' or '.join(allowed_bases)}, not {basis!r}")
            if basis == "MJ":
                label = "SV104 (anesthesia minutes)"
                line.minutes = parse_units(units)
            else:
                label = f"{sid}04 (units)" if sid == "SV1" else f"{sid}05 (units)"
                line.units = parse_units(units)
            if sid == "SV1":
                label = "SV105 (place of service)"
                line.place_of_service = parse_place_of_service(_element(segment, 5))
                line.pointers = tuple(pointer for pointer in _parts(segment, 7) if pointer)
        except BadValue as exc:
            claim.fail(number, sid, f"{label}: {exc}")

    def _dtp(self, segment: Segment, number: int) -> None:
        claim = self.claim
        if claim is None:
            return
        qualifier = _element(segment, 1)
        if qualifier not in ("472", "434") or not self._counts_ok(segment, "DTP", number):
            return
        try:
            when = _x12_date(_element(segment, 2), _element(segment, 3))
        except BadValue as exc:
            claim.fail(number, "DTP", f"DTP*{qualifier} date: {exc}")
            return
        if qualifier == "434":
            claim.statement_date = when
        elif claim.current is not None:
            claim.current.date_of_service = when
        else:
            claim.service_date = when

    def _nm1(self, segment: Segment, number: int) -> None:
        entity = _element(segment, 1)
        if entity == "85":
            self.billing_provider = _element(segment, 9) or None
        elif (
            entity == "82"
            and self.claim is not None
            and self.claim.current is None
            and self._counts_ok(segment, "NM1", number)
        ):
            self.claim.rendering_provider = _element(segment, 9) or None


def _envelope_error(
    parser: _Parser, error: tuple[Any, ...], number: int, sid: str
) -> Iterator[ClaimError]:
    kind, code, message = error[0], error[1], error[2]
    if kind == "seg":
        if code == "SEG1" or "leading space" in message:
            return  # trailing element separators, a space before a segment: harmless
        if parser.claim is not None and not str(code).startswith("HL"):
            parser.claim.fail(number, sid, message)
            return
    yield ClaimError(None, f"segment {number} ({sid})", message)


ISA_LENGTH = 106  # the ISA segment has fixed-width elements: 105 characters and its segment terminator


def _check_start(head: str, name: str) -> None:
    """ClaimFormatError for the envelope mistakes pyx12 would only report as a cascade of segment errors: no
    ISA (a file starting at GS or ST), and segments without terminators (the ISA's 106th character, its
    segment terminator, is then the first letter of the next segment)."""
    start = head[:3]
    if start in ("GS", "ST") or (start[:2] in ("GS", "ST") and not start[2:].isalnum()):
        segment = start[:2]
        raise ClaimFormatError(
            f"the ISA interchange envelope is missing: the file starts with the {segment} segment; an X12 837 "
            "starts with a 106-character ISA segment (and ends with IEA)",
            location=f"{name}, segment 1 ({segment})")
    if not head.startswith("ISA") or len(head) <= ISA_LENGTH - 1:
        return
    element_separator = head[3]
    separators = [i for i, char in enumerate(head[:ISA_LENGTH + 20]) if char == element_separator]
    if len(separators) < 16 or separators[15] + 2 != ISA_LENGTH - 1:
        return  # an ISA of another length: pyx12 refuses it as such
    terminator = head[ISA_LENGTH - 1]
    following = head[ISA_LENGTH:].lstrip("\r\n")
    if terminator.isalnum() or (following[:2] in ("GS", "IE") and terminator not in following[:300]
                                and len(following) > 300):
        where = (f"the ISA's 106th character is {terminator!r}" if terminator.isalnum()
                 else "no segment terminator follows the GS segment")
        raise ClaimFormatError(
            f"the segment terminator is missing ({where}): every segment must end with one, such as '~' "
            f"(the character after ISA16), e.g. ISA{element_separator}...{element_separator}:~GS{element_separator}...~",
            location=f"{name}, segment 1 (ISA)")


def iter_837(stream: IO[str], *, name: str = "<input>") -> Iterator[Claim | ClaimError]:
    """Claims and ClaimErrors from an X12 837P/837I text stream, segment by segment."""
    source = _LeadingSpaceSkipped(stream)
    _check_start(source.head, name)
    try:
        reader = X12Reader(source)  # type: ignore[arg-type]
    except pyx12.errors.X12Error as exc:
        raise ClaimFormatError(f"not an X12 interchange: {exc}", location=f"{name}, segment 1 (ISA)") from None
    parser = _Parser()
    segments = iter(reader)
    number = 0
    sid = ""
    while True:
        try:
            segment = next(segments)
        except StopIteration:
            break
        except (pyx12.errors.X12Error, pyx12.errors.EngineError) as exc:
            raise ClaimFormatError(f"the interchange is broken: {exc}", location=f"{name}, segment {number + 1}") from None
        except IndexError:  # pyx12 meets a trailer (SE, GE, IEA) with no header open
            raise ClaimFormatError(
                "the interchange is broken: an SE, GE or IEA trailer has no matching ST, GS or ISA header",
                location=f"{name}, segment {number + 1}",
            ) from None
        number += 1
        sid = segment.get_seg_id() or ""
        yield from parser.segment(segment, number, name)
        for error in reader.pop_errors():
            yield from _envelope_error(parser, error, number, sid)
    leftover = (reader.raw.buffer + source.read(256)).strip()
    if leftover:
        if reader.seg_term and reader.seg_term in leftover:
            message = (
                f"an empty segment (two segment terminators in a row) after segment {number} ends the "
                "interchange early; the rest of the file is not read"
            )
        else:
            message = f"the file ends in the middle of a segment ({leftover[:40]!r}): it is truncated"
        partial_id = leftover.split(reader.ele_term or "*", 1)[0][:3].strip() or "?"
        if parser.claim is not None:
            parser.claim.fail(number + 1, partial_id, message)
        else:
            yield ClaimError(None, f"segment {number + 1} ({partial_id})", message)
    reader.cleanup()
    trailers = reader.pop_errors()
    if trailers and parser.claim is not None:
        parser.claim.fail(
            number, sid,
            "the file ends inside this claim (its SE/GE/IEA trailers are missing): it is truncated and the "
            "claim may be incomplete",
        )
    yield from parser.close()
    for error in trailers:
        yield ClaimError(None, "end of file", error[2])
