"""CSV claims row by row: the header's columns (names and their aliases) and the rows of one claim checked
and turned into a `Claim`, or into a `ClaimError` naming the first bad cell (`line N (column)`). Shared by the
row-wise reader (`hcpcs.claims.readers`) and the columnar one (`hcpcs.claims.csv_reader`), which hands the
rows it doubts to `CsvClaim`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from hcpcs.claims.model import Claim, ClaimError, ClaimLine
from hcpcs.claims.objects import ClaimOrError
from hcpcs.claims.values import (
    BadValue,
    normalize_code,
    normalize_modifier,
    parse_charge,
    parse_code_list,
    parse_iso_date,
    parse_modifiers,
    parse_place_of_service,
    parse_setting,
    parse_units,
)
from hcpcs.core.errors import ClaimFormatError

CSV_COLUMNS: dict[str, str] = {
    "claim_id": "claim_id", "id": "claim_id", "claim": "claim_id",
    "setting": "setting",
    "date_of_service": "date_of_service", "dos": "date_of_service",
    "code": "code", "hcpcs": "code", "cpt": "code", "procedure_code": "code",
    "modifiers": "modifiers",
    "units": "units",
    "line_date_of_service": "line_date_of_service", "line_dos": "line_date_of_service",
    "place_of_service": "place_of_service", "pos": "place_of_service",
    "charge": "charge",
    "provider": "provider",
    "diagnosis_codes": "diagnosis_codes", "diagnoses": "diagnosis_codes", "dx": "diagnosis_codes",
    "diagnosis_pointers": "diagnosis_pointers",
}
for _n in range(1, 5):
    for _alias in (f"modifier{_n}", f"modifier_{_n}", f"mod{_n}", f"mod_{_n}"):
        CSV_COLUMNS[_alias] = f"modifier{_n}"
MODIFIER_COLUMNS = ("modifier1", "modifier2", "modifier3", "modifier4")


def _header_key(text: str) -> str:
    return text.strip().lower().replace(" ", "_").replace("-", "_")


@dataclass
class CsvHeader:
    columns: dict[str, int]  # canonical name -> cell index
    labels: dict[str, str]  # canonical name -> header text as written
    extra: list[tuple[int, str]]  # unknown columns: (cell index, header text)
    width: int


def read_header(cells: list[str], line: int, name: str) -> CsvHeader:
    columns: dict[str, int] = {}
    labels: dict[str, str] = {}
    extra: list[tuple[int, str]] = []
    for index, cell in enumerate(cells):
        label = cell.strip().lstrip("\ufeff")
        canonical = CSV_COLUMNS.get(_header_key(label))
        if canonical is None:
            if label:
                extra.append((index, label))
            continue
        if canonical in columns:
            raise ClaimFormatError(
                f"columns {labels[canonical]!r} and {label!r} both mean {canonical}; keep one",
                location=f"{name}, line {line}",
            )
        columns[canonical] = index
        labels[canonical] = label
    for required, aliases in (("claim_id", "id, claim"), ("code", "hcpcs, cpt, procedure_code")):
        if required not in columns:
            raise ClaimFormatError(
                f"the CSV header has no {required} column (also accepted: {aliases}); the first line "
                f"must name the columns, e.g. claim_id,date_of_service,code,modifiers,units "
                f"(found: {', '.join(c.strip() for c in cells)[:200]})",
                location=f"{name}, line {line}",
            )
    return CsvHeader(columns, labels, extra, len(cells))


@dataclass
class CsvClaim:
    """The rows of one CSV claim, parsed as they come; the first problem found makes it a ClaimError."""

    id: str
    header: CsvHeader
    setting: tuple[str, int] | None = None  # value, line
    date_of_service: tuple[date, int] | None = None
    place_of_service: str | None = None
    provider: str | None = None
    diagnoses: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    lines: list[ClaimLine] = field(default_factory=list)
    first_line: int = 0
    problem: tuple[str, str] | None = None

    def fail(self, line: int, column: str | None, message: str) -> None:
        if self.problem is None:
            label = self.header.labels.get(column, column) if column else None
            self.problem = (f"line {line} ({label})" if label else f"line {line}", message)

    def add(self, cells: list[str], line: int) -> None:
        if self.problem is not None:
            return
        header = self.header
        if not self.first_line:
            self.first_line = line
            self.extra = {label: cells[i].strip() for i, label in header.extra if cells[i].strip()}
        if len(cells) > header.width:
            self.fail(line, None, f"the row has {len(cells)} cells but the header has {header.width} columns")
            return
        get = {name: cells[index].strip() for name, index in header.columns.items()}
        column = "setting"
        try:
            if get.get("setting"):
                setting = parse_setting(get["setting"])
                if self.setting is None:
                    self.setting = (setting, line)
                elif self.setting[0] != setting:
                    raise BadValue(
                        f"setting {setting!r} conflicts with {self.setting[0]!r} on line {self.setting[1]} "
                        "of the same claim"
                    )
            column = "date_of_service"
            if get.get("date_of_service"):
                claim_date = parse_iso_date(get["date_of_service"])
                if self.date_of_service is None:
                    self.date_of_service = (claim_date, line)
                elif self.date_of_service[0] != claim_date:
                    raise BadValue(
                        f"date_of_service {claim_date.isoformat()} conflicts with "
                        f"{self.date_of_service[0].isoformat()} on line {self.date_of_service[1]} of the "
                        "same claim; put the dates of lines on other days in a line_date_of_service column"
                    )
            column = "place_of_service"
            place = parse_place_of_service(get.get("place_of_service"))
            if self.place_of_service is None:
                self.place_of_service = place
            column = "provider"
            if self.provider is None:
                self.provider = get.get("provider") or None
            column = "diagnosis_codes"
            for code in parse_code_list(get.get("diagnosis_codes"), "diagnosis_codes"):
                if code not in self.diagnoses:
                    self.diagnoses.append(code)
            column = "code"
            code = normalize_code(get["code"])
            column = "modifiers"
            modifiers = list(parse_modifiers(get.get("modifiers")))
            for column in MODIFIER_COLUMNS:
                if get.get(column):
                    modifiers.append(normalize_modifier(get[column]))
            column = "units"
            units = parse_units(get["units"]) if get.get("units") else 1
            column = "line_date_of_service"
            line_date = parse_iso_date(get["line_date_of_service"]) if get.get("line_date_of_service") else None
            column = "charge"
            charge = parse_charge(get.get("charge"))
            column = "diagnosis_pointers"
            pointers = parse_code_list(get.get("diagnosis_pointers"), "diagnosis_pointers")
        except BadValue as exc:
            self.fail(line, column, str(exc))
            return
        self.lines.append(ClaimLine(code, tuple(modifiers), units, line_date, place, pointers, charge))

    def finish(self) -> ClaimOrError:
        if self.problem is not None:
            return ClaimError(self.id, *self.problem)
        if self.date_of_service is not None:
            claim_date = self.date_of_service[0]
        else:
            dates = [line.date_of_service for line in self.lines if line.date_of_service]
            if len(dates) < len(self.lines):
                return ClaimError(
                    self.id, f"line {self.first_line}",
                    "the claim has no date_of_service (YYYY-MM-DD, MM/DD/YYYY or YYYYMMDD) and not every row has a "
                    "line_date_of_service",
                )
            claim_date = min(dates)
        return Claim(
            self.id, self.setting[0] if self.setting else "professional", claim_date, tuple(self.lines),
            self.place_of_service, self.provider, tuple(self.diagnoses), self.extra,
        )


def csv_delimiter(first_line: str) -> str:
    counts = {delimiter: first_line.count(delimiter) for delimiter in (",", "\t", ";")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","
