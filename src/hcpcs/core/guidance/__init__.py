"""What to bill instead, as cited data: for a code billed on a date of service, the codes Medicare expects
in its place (`data/report_instead.toml`, each row with its dates, setting and sources), and the
crosswalks of the CMS HCPCS file (its cross-reference field) in the same form.

`report_instead("77387", date(2025, 6, 1))` gives the rows in force on the day, one per code to report::

    {"code": "G6001", "from": "2015-01-01", "to": "2025-12-31", "note": "...", "source": "CMS, ...",
     "replaces": "77387", "modifier": None, "setting": "professional", "sources": [{kind, title, url}]}

An empty list means that no guidance is known: hcpcs never guesses a replacement. Claim rules (in
`hcpcs.edits`) call it for the fixes of their findings; the lookup shows it as `report_instead`.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TypedDict

from hcpcs.core.codes import kind_of, normalize
from hcpcs.core.errors import MalformedCodeError

Setting = Literal["professional", "facility", "any"]
SETTINGS: tuple[str, ...] = ("professional", "facility", "any")
# Names other parts of hcpcs use for the same two claim settings.
SETTING_ALIASES = {"practitioner": "professional", "hospital": "facility", "outpatient": "facility"}
SOURCE_KINDS = ("CMS", "CPT", "society", "secondary")
CROSS_REFERENCE_NOTE = ("CMS's HCPCS file crosswalks {code} to this code: its cross-reference field points a "
                        "deleted code, or a code not valid for Medicare, to a valid current code.")


class SourceRef(TypedDict):
    kind: str  # CMS | CPT | society | secondary
    title: str
    url: str | None


# One code to report instead of `replaces`, from one row of guidance (a functional TypedDict: "from" is a
# Python keyword). `modifier`: the row applies only to lines with it; `setting`: professional, facility, any.
ReportInstead = TypedDict("ReportInstead", {
    "code": str, "from": str | None, "to": str | None, "note": str, "source": str, "replaces": str,
    "modifier": str | None, "setting": str, "sources": list[SourceRef],
})


def _is_code(text: str, kind: str = "procedure") -> bool:
    """Whether `text` is a procedure code (HCPCS Level II or CPT) or, with kind="modifier", a modifier."""
    try:
        shape = kind_of(normalize(text))
    except MalformedCodeError:
        return False
    return (shape == "modifier") == (kind == "modifier")


class GuidanceError(ValueError):
    """The guidance table is malformed: names the file, the row and what is wrong."""


@dataclass(frozen=True)
class Row:
    """One row of the table: codes billed, codes to report instead, when, where, why and on what authority."""

    number: int  # 1-based position in the file, for messages
    codes: tuple[str, ...]
    instead: tuple[str, ...]
    start: date
    end: date | None
    setting: str
    modifier: str | None
    note: str
    sources: tuple[SourceRef, ...]
    checked: str | None

    def in_force(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)

    def applies_to_setting(self, setting: str | None) -> bool:
        return setting is None or self.setting == "any" or self.setting == setting

    def applies_to_modifiers(self, modifiers: Sequence[str] | None) -> bool:
        return modifiers is None or self.modifier is None or self.modifier in modifiers

    def entries(self, code: str) -> list[ReportInstead]:
        cited = "; ".join(s["title"] + (f" - {s['url']}" if s["url"] else "") for s in self.sources)
        return [{"code": other, "from": self.start.isoformat(), "to": self.end.isoformat() if self.end else None,
                 "note": self.note, "source": cited, "replaces": code, "modifier": self.modifier,
                 "setting": self.setting, "sources": list(self.sources)}
                for other in self.instead]


@dataclass(frozen=True)
class Table:
    name: str
    rows: tuple[Row, ...]

    def for_code(self, code: str) -> list[Row]:
        return [r for r in self.rows if code in r.codes]


def normalize_setting(setting: str | None) -> str | None:
    """`professional`, `facility` or None (every setting); `practitioner`/`hospital` are accepted."""
    if setting is None:
        return None
    value = SETTING_ALIASES.get(setting.strip().lower(), setting.strip().lower())
    if value not in ("professional", "facility"):
        raise ValueError(f"setting {setting!r} is not professional or facility")
    return value


def _date(value: Any, where: str, key: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise GuidanceError(f"{where}: {key} {value!r} is not a date (YYYY-MM-DD)") from exc


def _codes(value: Any, where: str, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise GuidanceError(f"{where}: {key} must be a non-empty list of codes")
    codes = tuple(str(v).strip().upper() for v in value)
    bad = [c for c in codes if not _is_code(c)]
    if bad:
        raise GuidanceError(f"{where}: {key} holds {', '.join(bad)}, not HCPCS/CPT codes")
    return codes


def parse_table(data: dict[str, Any], origin: str) -> Table:
    """Check and read a guidance table (the TOML as a dict). GuidanceError names the row and the problem."""
    sources: dict[str, SourceRef] = {}
    for key, entry in (data.get("sources") or {}).items():
        kind, title = entry.get("kind"), entry.get("title")
        if kind not in SOURCE_KINDS or not title:
            raise GuidanceError(f"{origin}, source {key}: needs a title and a kind among {', '.join(SOURCE_KINDS)}")
        sources[key] = {"kind": kind, "title": str(title), "url": entry.get("url")}
    rows = []
    for number, raw in enumerate(data.get("row") or [], start=1):
        where = f"{origin}, row {number}"
        unknown = set(raw) - {"codes", "instead", "from", "to", "setting", "modifier", "note", "sources", "checked"}
        if unknown:
            raise GuidanceError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        setting = raw.get("setting")
        if setting not in SETTINGS:
            raise GuidanceError(f"{where}: setting {setting!r} is not one of {', '.join(SETTINGS)}")
        modifier = raw.get("modifier")
        if modifier is not None and not _is_code(str(modifier), "modifier"):
            raise GuidanceError(f"{where}: modifier {modifier!r} is not a modifier")
        cited = raw.get("sources") or []
        missing = [s for s in cited if s not in sources]
        if not cited or missing:
            raise GuidanceError(f"{where}: cites no source" if not cited else
                                f"{where}: cites unknown source(s) {', '.join(missing)}")
        if not any(sources[s]["kind"] in ("CMS", "CPT") for s in cited):
            raise GuidanceError(f"{where}: cites no CMS or CPT source (only {', '.join(cited)})")
        if not str(raw.get("note") or "").strip():
            raise GuidanceError(f"{where}: has no note")
        start = _date(raw.get("from"), where, "from")
        end = _date(raw["to"], where, "to") if raw.get("to") is not None else None
        if end is not None and end < start:
            raise GuidanceError(f"{where}: to {end} is before from {start}")
        codes = _codes(raw.get("codes"), where, "codes")
        instead = _codes(raw.get("instead"), where, "instead")
        if set(codes) & set(instead):
            raise GuidanceError(f"{where}: a code cannot replace itself ({', '.join(set(codes) & set(instead))})")
        rows.append(Row(number, codes, instead, start, end, setting, str(modifier).upper() if modifier else None,
                        str(raw["note"]).strip(), tuple(sources[s] for s in cited), raw.get("checked")))
    return Table(str(data.get("name") or origin), tuple(rows))


def load_table(path: Path | str) -> Table:
    """A guidance table from a TOML file (the built-in one, or another in the same format)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise GuidanceError(f"{path.name}: not valid TOML ({exc})") from exc
    return parse_table(data, path.name)


@cache
def builtin_table() -> Table:
    text = (resources.files("hcpcs.core.guidance") / "data" / "report_instead.toml").read_text(encoding="utf-8")
    return parse_table(tomllib.loads(text), "report_instead.toml")


def report_instead(code: str, day: date, setting: str | None = None, *, modifiers: Sequence[str] | None = None,
                   cross_references: Iterable[str] | str | None = None,
                   cross_reference_release: str | None = None, table: Table | None = None) -> list[ReportInstead]:
    """The codes to report instead of `code` on `day`, one dict per code (see the module docstring).

    - `setting`: `professional` or `facility` keeps the rows of that setting and of both; None keeps all
      (each dict says its setting).
    - `modifiers`: the modifiers of the claim line, which keeps the rows without a modifier and those of a
      modifier billed; None (a reference look-up) keeps every row, each saying its modifier.
    - `cross_references`: the code's HCPCS cross-reference field (a list or the comma-separated text),
      added after the table's rows as CMS crosswalks. Pass it only when the code is not valid on the day
      (terminated) or not valid for Medicare (coverage I): CMS also fills the field of current codes with
      the code they replaced, which is history, not a replacement. `cross_reference_release` names the
      HCPCS release it comes from.

    An empty list means that no guidance is known for that code, day and setting."""
    code = code.strip().upper()
    wanted = normalize_setting(setting)
    out: list[ReportInstead] = []
    for row in (table or builtin_table()).for_code(code):
        if row.in_force(day) and row.applies_to_setting(wanted) and row.applies_to_modifiers(modifiers):
            out.extend(row.entries(code))
    named = {entry["code"] for entry in out}
    if isinstance(cross_references, str):
        cross_references = cross_references.split(",")
    for target in cross_references or ():
        target = target.strip().upper()
        if target and target != code and target not in named and _is_code(target):
            named.add(target)
            out.append(cross_reference_entry(code, target, cross_reference_release))
    return out


def cross_reference_entry(code: str, target: str, release: str | None) -> ReportInstead:
    """A crosswalk of the HCPCS file's cross-reference field, in the form of a guidance row."""
    title = f"CMS HCPCS Level II file{', ' + release if release else ''}, HCPCS cross-reference field"
    return {"code": target, "from": None, "to": None, "note": CROSS_REFERENCE_NOTE.format(code=code),
            "source": title, "replaces": code, "modifier": None, "setting": "any",
            "sources": [{"kind": "CMS", "title": title, "url": None}]}


SETTING_WORDS = {"professional": "professional claims (physician fee schedule)",
                 "facility": "hospital outpatient claims (OPPS)", "any": "all claims"}


def group_entries(entries: Iterable[ReportInstead]) -> list[dict[str, Any]]:
    """The entries of `report_instead` grouped as their rows were: one group per code billed, modifier,
    setting, period and note, with `codes` the alternatives to choose from (in the table's order)."""
    groups: dict[tuple, dict[str, Any]] = {}
    for entry in entries:
        key = (entry["replaces"], entry["modifier"], entry["setting"], entry["from"], entry["to"], entry["note"])
        group = groups.setdefault(key, {
            "replaces": entry["replaces"], "modifier": entry["modifier"], "setting": entry["setting"],
            "setting_words": SETTING_WORDS.get(entry["setting"], entry["setting"]), "from": entry["from"],
            "to": entry["to"], "note": entry["note"], "source": entry["source"], "sources": entry["sources"],
            "codes": []})
        group["codes"].append(entry["code"])
    return list(groups.values())


def either(codes: Sequence[str]) -> str:
    """`A`, `A or B`, `A, B or C`."""
    return ", ".join(codes[:-1]) + f" or {codes[-1]}" if len(codes) > 1 else (codes[0] if codes else "")


def period_words(start: str | None, end: str | None) -> str:
    if start and end:
        return f"{start} to {end}"
    if start:
        return f"from {start}"
    return "no dates given by the source"


def fix_text(entries: Iterable[ReportInstead]) -> str | None:
    """A claim finding's fix from the guidance in force (`report_instead` for the line's code, day,
    setting and modifiers): "Report G6001, G6002, G6017 or 77014 instead: <note> (source: ...)". None
    when no guidance is known, so that the caller says so rather than guess."""
    parts = []
    for group in group_entries(entries):
        billed = group["replaces"] + (f"-{group['modifier']}" if group["modifier"] else "")
        cms = [s["title"] for s in group["sources"] if s["kind"] in ("CMS", "CPT")]
        parts.append(f"Report {either(group['codes'])} instead of {billed}: {group['note']} "
                     f"(source: {cms[0] if cms else group['source']})")
    return " ".join(parts) if parts else None
