"""The code reference: every field of the CMS files decoded into words, for the releases in force on a
date of service, with the release and file each value came from (`lookup`); the code's history across
loaded releases (`history`)."""

from __future__ import annotations

import functools
import sqlite3
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from hcpcs.core import guidance, indicators
from hcpcs.core.codes import AMA_NOTICE, kind_of, normalize, split_modifier
from hcpcs.core.dates import parse_date
from hcpcs.core.errors import (
    DataNotLoadedError,
    HcpcsError,
    InvalidInputError,
    MalformedCodeError,
    NotCoveredError,
    UnknownCodeError,
)
from hcpcs.core.guidance import ReportInstead
from hcpcs.core.indicators import pctc_allows
from hcpcs.core.tables import dataset_title
from hcpcs.services.lookup_verdict import verdict_for_lookup
from hcpcs.services.results import LookupResult, MpfsSection
from hcpcs.store import queries
from hcpcs.store.releases import Release, not_covered
from hcpcs.store.session import Hcpcs

PTP_PREVIEW = 10


def _split(value: str | None) -> list[str]:
    return [v for v in (value or "").split(",") if v]


def _decode_list(key: str, value: str | None) -> list[dict[str, Any]]:
    return [indicators.decode(key, v) for v in _split(value)]  # type: ignore[misc]


def _iso(value: str | None) -> str | None:
    return value or None


def code_is_known(code: str, *, hc: Hcpcs) -> bool:
    """Whether any loaded release carries the code."""
    return queries.code_known_anywhere(hc.store.conn, code)


def is_valid_on(row: sqlite3.Row, day: date) -> tuple[bool, str]:
    """A HCPCS code is valid on a day from its added date through its termination date, inclusive."""
    added = row["added_date"]
    terminated = row["termination_date"]
    iso = day.isoformat()
    if added and iso < added:
        return False, f"not yet valid on {iso}: added {added}"
    if terminated and iso > terminated:
        action = indicators.meaning("hcpcs_action_code", row["action_code"]) or row["action_code"]
        return False, f"not valid on {iso}: terminated {terminated} (action {row['action_code']}: {action})"
    return True, f"valid on {iso}" + (f" (terminates {terminated})" if terminated else "")


class _Sources:
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, release: Release, what: str, table: str) -> None:
        files = [f["name"] for f in release.source_files if f.get("kind") == table] or [
            f["name"] for f in release.source_files
        ]
        entry = {"what": what, "dataset": release.dataset, "release": release.label, "files": files}
        if entry not in self.items:
            self.items.append(entry)


def _rvu_row_dict(row: sqlite3.Row) -> dict[str, Any]:
    na = {"nonfacility": row["nonfac_na"] or None, "facility": row["fac_na"] or None}
    return {
        "modifier": row["modifier"] or None,
        "status": indicators.decode("mpfs_status", row["status"]),
        "work_rvu": row["work_rvu"],
        "nonfacility_pe_rvu": row["nonfac_pe_rvu"],
        "facility_pe_rvu": row["fac_pe_rvu"],
        "mp_rvu": row["mp_rvu"],
        "nonfacility_total": row["nonfac_total"],
        "facility_total": row["fac_total"],
        "na_indicator": {k: indicators.decode("mpfs_na_indicator", v) for k, v in na.items()},
        "source_line": row["source_line"],
    }


def mpfs_section(hc: Hcpcs, code: str, day: date, notices: list[str], sources: _Sources) -> dict[str, Any] | None:
    choice = hc.choose("mpfs", day, notices)
    if choice is None:
        return None
    release = choice.release
    rows = queries.rvu_rows(hc.store.conn, release.id, code)
    if not rows:
        return {"release": release.label, "in_file": False}
    sources.add(release, "fee schedule indicators and RVUs", "pprrvu")
    base = next((r for r in rows if r["modifier"] == ""), rows[0])
    pctc = base["pctc"]
    return {
        "release": release.label,
        "in_file": True,
        "status": indicators.decode("mpfs_status", base["status"]),
        "pctc": indicators.decode("mpfs_pctc", pctc),
        "global_days": indicators.decode("mpfs_global_days", base["global_days"]),
        "work_rvu": base["work_rvu"],
        "multiple_procedure": indicators.decode("mpfs_mult_proc", base["mult_proc"]),
        "bilateral": indicators.decode("mpfs_bilat_surg", base["bilat_surg"]),
        "assistant_surgery": indicators.decode("mpfs_asst_surg", base["asst_surg"]),
        "co_surgery": indicators.decode("mpfs_co_surg", base["co_surg"]),
        "team_surgery": indicators.decode("mpfs_team_surg", base["team_surg"]),
        "physician_supervision": indicators.decode("mpfs_phys_supervision", base["phys_supervision"]),
        "diagnostic_imaging_family": indicators.decode("mpfs_diag_imaging_family", base["diag_imaging_family"]),
        "pricing_indicator": indicators.decode("mpfs_pricing_indicator", base["pricing_indicator"]),
        "endoscopic_base": base["endo_base"] or None,
        "conversion_factor": base["conv_factor"],
        "modifier_26_allowed": pctc_allows(pctc, "26"),
        "modifier_tc_allowed": pctc_allows(pctc, "TC"),
        "opps_cap_values": {
            "nonfacility_pe": base["nonfac_pe_opps"], "facility_pe": base["fac_pe_opps"], "mp": base["mp_opps"],
        },
        "by_modifier": {(r["modifier"] or "global"): _rvu_row_dict(r) for r in rows},
    }


def opps_section(hc: Hcpcs, code: str, day: date, notices: list[str], sources: _Sources) -> dict[str, Any] | None:
    choice = hc.choose("opps", day, notices)
    if choice is None:
        return None
    row = queries.addendum_b_row(hc.store.conn, choice.release.id, code)
    if row is None:
        return {"release": choice.release.label, "in_file": False}
    sources.add(choice.release, "hospital outpatient (OPPS) payment", "addendum_b")
    return {
        "release": choice.release.label,
        "in_file": True,
        "status_indicator": indicators.decode("opps_status_indicator", row["status_indicator"]),
        "apc": row["apc"] or None,
        "relative_weight": row["relative_weight"],
        "payment_rate": row["payment_rate"],
        "national_unadjusted_copayment": row["national_copay"],
        "minimum_unadjusted_copayment": row["minimum_copay"],
        "source_line": row["source_line"],
    }


def mue_section(hc: Hcpcs, code: str, day: date, notices: list[str], sources: _Sources) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for setting in ("practitioner", "hospital", "dme"):
        dataset = f"ncci_mue_{setting}"
        choice = hc.choose(dataset, day, notices)
        if choice is None:
            if setting != "dme":
                out[setting] = None
            continue
        row = queries.mue_row(hc.store.conn, choice.release.id, code)
        sources.add(choice.release, f"medically unlikely edit ({setting})", "mue")
        out[setting] = None if row is None else {
            "units": row["units"],
            "mai": indicators.decode("ncci_mai", row["mai"]),
            "rationale": row["rationale"],
            "release": choice.release.label,
            "source_line": row["source_line"],
        }
    return out


def addon_section(hc: Hcpcs, code: str, day: date, notices: list[str], sources: _Sources) -> dict[str, Any] | None:
    choice = hc.choose("ncci_aoc", day, notices)
    if choice is None:
        return None
    conn = hc.store.conn
    as_addon = queries.aoc_rows_for_addon(conn, choice.release.id, code, day)
    as_primary = queries.aoc_rows_for_primary(conn, choice.release.id, code, day)
    sources.add(choice.release, "add-on code edits", "aoc")
    edit_types = sorted({r["edit_type"] for r in as_addon})
    return {
        "release": choice.release.label,
        "is_addon": bool(as_addon),
        "edit_type": indicators.decode("ncci_aoc_edit_type", edit_types[0]) if len(edit_types) == 1 else (
            [indicators.decode("ncci_aoc_edit_type", t) for t in edit_types] if edit_types else None),
        "primary_codes": [r["primary_code"] for r in as_addon],
        "addons_of_this_primary": [r["addon_code"] for r in as_primary],
    }


def ptp_section(hc: Hcpcs, code: str, day: date, notices: list[str], sources: _Sources) -> dict[str, Any]:
    out: dict[str, Any] = {}
    conn = hc.store.conn
    for setting in ("practitioner", "hospital"):
        choice = hc.choose(f"ncci_ptp_{setting}", day, notices)
        if choice is None:
            out[setting] = None
            continue
        rid = choice.release.id
        sources.add(choice.release, f"procedure-to-procedure edits ({setting})", "ptp")

        def pairs(column: int, rid: int = rid) -> list[dict[str, Any]]:
            rows = queries.ptp_rows_for_code(conn, rid, code, day, column, limit=PTP_PREVIEW)
            return [
                {"column1": r["column1"], "column2": r["column2"],
                 "modifier_indicator": indicators.decode("ncci_modifier_indicator", r["modifier_indicator"]),
                 "effective_date": r["effective_date"], "deletion_date": r["deletion_date"],
                 "rationale": r["rationale"]}
                for r in rows
            ]

        out[setting] = {
            "release": choice.release.label,
            "as_column1": queries.ptp_count_for_code(conn, rid, code, day, 1),
            "as_column2": queries.ptp_count_for_code(conn, rid, code, day, 2),
            "first_as_column1": pairs(1),
            "first_as_column2": pairs(2),
        }
    return out


def _modifier_description(code: str) -> dict[str, Any] | None:
    """Modifiers the HCPCS Level II file does not carry (CPT modifiers), described from CMS documentation."""
    for key in ("modifiers", "ptp_associated_modifiers"):
        table = indicators.indicator(key)
        text = table.meaning(code)
        if text:
            return {"code": code, "meaning": text, "source": table.source}
    return None


@dataclass
class _Asked:
    """One lookup under way: the code, the date, and what the answer has gathered so far."""

    hc: Hcpcs
    code: str
    day: date
    kind: str
    setting: str | None = None  # professional | facility | None (professional verdict, guidance of all settings)
    date_given: bool = True  # False: no date was given, so the day is today
    notices: list[str] = field(default_factory=list)
    sources: _Sources = field(default_factory=_Sources)

    @property
    def record_kind(self) -> str:
        return "modifier" if self.kind == "modifier" else "procedure"


def lookup(code: str, as_of: str | date | None = None, *, hc: Hcpcs | None = None,
           setting: str | None = None) -> LookupResult:
    """Everything hcpcs knows about a code on a date of service (today when none is given), as the
    documented JSON contract, with its verdict for `setting` (`professional`, the default, or `facility`)."""
    from hcpcs.store.session import default

    code, modifier = split_modifier(code)
    if modifier:
        result = lookup(code, as_of, hc=hc, setting=setting)
        return _with_modifier(result, modifier, hc or default())
    code = normalize(code)
    asked = _Asked(hc or default(), code, parse_date(as_of, "as-of date"), kind_of(code),
                   setting=_setting(setting), date_given=as_of is not None)
    _check_covered(asked)
    result: LookupResult = {"code": code, "kind": asked.kind, "as_of": asked.day.isoformat()}
    row, row_release, in_force = _hcpcs_record(asked)
    if asked.kind == "modifier":
        if row is None:
            result.update(_modifier_from_documentation(asked))
            return _finish(asked, result)
        result.update(_hcpcs_fields(asked, row, row_release, in_force))
        result["mpfs"] = None
        return _finish(asked, result)
    if row is not None:
        result.update(_hcpcs_fields(asked, row, row_release, in_force))
    elif asked.kind == "level2":
        result.update(_level2_not_in_hcpcs(asked))
    result["mpfs"] = mpfs_section(asked.hc, code, asked.day, asked.notices, asked.sources)
    if asked.kind == "cpt":
        result.update(_cpt_fields(asked, result["mpfs"]))
    result["opps"] = opps_section(asked.hc, code, asked.day, asked.notices, asked.sources)
    result["mue"] = mue_section(asked.hc, code, asked.day, asked.notices, asked.sources)
    result["addon"] = addon_section(asked.hc, code, asked.day, asked.notices, asked.sources)
    result["ptp"] = ptp_section(asked.hc, code, asked.day, asked.notices, asked.sources)
    return _finish(asked, result)


def _with_modifier(result: LookupResult, modifier: str, hc: Hcpcs) -> LookupResult:
    """The answer for `CODE-MODIFIER`: the code's, with the modifier's meaning (`modifier`) and, where the
    fee schedule has a row for it (26, TC), a notice pointing at it; the verdict stays the code's."""
    try:
        about = lookup(modifier, result["as_of"], hc=hc)
        meaning = about.get("long_description") or about.get("short_description")
    except HcpcsError:
        meaning = None
    result["modifier"] = {"code": modifier, "meaning": meaning}
    code = result["code"]
    notices = [f"{code}-{modifier}: the answer and its verdict are {code}'s; "
               + (f"`modifier` says what modifier {modifier} means" if meaning
                  else f"modifier {modifier} is not in the loaded HCPCS modifier list")]
    mpfs = result.get("mpfs") or {}
    if mpfs.get("in_file") and modifier in ("26", "TC"):
        allowed = mpfs.get(f"modifier_{modifier.lower()}_allowed")
        notices.append(f"the fee schedule {'allows' if allowed else 'does not allow'} modifier {modifier} on {code} "
                       f"(PC/TC indicator {(mpfs.get('pctc') or {}).get('code')}); `hcpcs fee {code}-{modifier}` "
                       "prices it")
    result["notices"] = [*notices, *result.get("notices", [])]
    return result


def _finish(asked: _Asked, result: LookupResult) -> LookupResult:
    result["report_instead"] = _report_instead(asked, result)
    gap = functools.partial(_coverage_gap, asked)
    by_setting = {name: verdict_for_lookup(result, name, gap) for name in ("professional", "facility")}  # type: ignore[arg-type]
    result["verdict"] = by_setting[asked.setting or "professional"]
    result["verdicts"] = by_setting
    result["notices"] = list(dict.fromkeys(asked.notices))
    result["sources"] = asked.sources.items
    return result


def _check_covered(asked: _Asked) -> None:
    """A date before every loaded code release is an error ("no data"), not an answer from a later release."""
    coded = [r for r in asked.hc.releases if r.dataset in ("hcpcs", "mpfs")]
    if coded and asked.day < min(r.effective_start for r in coded):
        first = min(coded, key=lambda r: r.effective_start)
        raise not_covered(asked.hc.releases, first.dataset, asked.day, asked.date_given)


def _setting(setting: str | None) -> str | None:
    try:
        return guidance.normalize_setting(setting)
    except ValueError as exc:
        raise InvalidInputError(f"{exc} (a lookup's setting is the claim's: professional or facility)") from None


def _coverage_gap(asked: _Asked, dataset: str) -> str:
    """Why no release of `dataset` answers for the date asked: the date used, what is loaded, what to do."""
    if not asked.hc.has_dataset(dataset):
        return f"no {dataset_title(dataset)} release is loaded; load one with `hcpcs update`."
    return str(not_covered(asked.hc.releases, dataset, asked.day, asked.date_given)) + "."


def _report_instead(asked: _Asked, result: LookupResult) -> list[ReportInstead]:
    """The cited guidance in force on the date, then the HCPCS file's crosswalks of a code that is not valid
    on the date or not valid for Medicare (coverage I), to codes valid on the date."""
    if asked.kind == "modifier":
        return []
    crosswalks: list[str] = []
    if result.get("valid_on_date") is False or (result.get("coverage") or {}).get("code") == "I":
        crosswalks = [c for c in result.get("cross_references") or [] if _valid_target(asked, c)]
    return guidance.report_instead(asked.code, asked.day, asked.setting, cross_references=crosswalks,
                                   cross_reference_release=result.get("hcpcs_release"))


def _valid_target(asked: _Asked, code: str) -> bool:
    """Whether a crosswalk target is a code on the date (True when no loaded release can tell)."""
    try:
        kind = kind_of(normalize(code))
    except MalformedCodeError:
        return False
    conn, day = asked.hc.store.conn, asked.day
    dataset = "hcpcs" if kind == "level2" else "mpfs"
    if not asked.hc.has_dataset(dataset):
        return True
    try:
        release = asked.hc.release_for(dataset, day).release
    except (NotCoveredError, DataNotLoadedError):
        return True
    if kind == "level2":
        row = queries.hcpcs_row(conn, release.id, code, "procedure")
        return row is not None and is_valid_on(row, day)[0]
    rows = queries.rvu_rows(conn, release.id, code)
    base = next((r for r in rows if r["modifier"] == ""), None)
    return base is not None and base["status"] != "D"


def _hcpcs_record(asked: _Asked) -> tuple[sqlite3.Row | None, Release | None, Release | None]:
    """The code's HCPCS record, the release it comes from and the release in force on the date. A Level II
    code or modifier missing from the release in force is described from the newest release carrying it."""
    hc, code, day = asked.hc, asked.code, asked.day
    choice = hc.choose("hcpcs", day, asked.notices)
    if choice is None:
        return None, None, None
    in_force = choice.release
    row = queries.hcpcs_row(hc.store.conn, in_force.id, code, asked.record_kind)
    if row is not None or asked.kind == "cpt":
        return row, in_force, in_force
    others = queries.hcpcs_rows_all_releases(hc.store.conn, code, asked.record_kind)
    if not others:
        return None, in_force, in_force
    latest = others[-1]
    release = hc.release_by_id(latest["release_id"])
    asked.notices.append(f"{code} is not in {in_force.label}, the HCPCS release in force on {day}; the fields "
                         f"below come from {release.label}")
    return latest, release, in_force


def _modifier_from_documentation(asked: _Asked) -> LookupResult:
    """A modifier the HCPCS file does not carry (CPT modifiers such as 26), from CMS documentation."""
    description = _modifier_description(asked.code)
    if description is None:
        raise UnknownCodeError(f"modifier {asked.code} is in no loaded HCPCS release and not a fee-schedule modifier")
    return {"short_description": None, "long_description": description["meaning"],
            "descriptor_source": description["source"], "valid_on_date": None}


def _hcpcs_fields(asked: _Asked, row: sqlite3.Row, release: Release | None,
                  in_force: Release | None) -> LookupResult:
    """Every field of a HCPCS record, decoded, and the code's validity on the date."""
    assert release is not None
    asked.sources.add(release, "HCPCS descriptors and indicators", "hcpcs_anweb")
    valid, reason = is_valid_on(row, asked.day)
    if in_force is not None and release.id != in_force.id and release.effective_start < in_force.effective_start:
        # Dropped from the file in force: not a code on that date. (A code found only in a later file is
        # judged by that file's dates: the HCPCS file is cumulative.)
        valid = False
        reason = f"not in {in_force.label}, the HCPCS release in force on {asked.day}"
    note_number = row["processing_note"]
    base_units = row["anesthesia_base_units"] or ""
    return {
        "short_description": row["short_description"],
        "long_description": row["long_description"],
        "descriptor_source": release.label,
        "valid_on_date": valid,
        "validity": reason,
        "added_date": _iso(row["added_date"]),
        "action_effective_date": _iso(row["action_effective_date"]),
        "termination_date": _iso(row["termination_date"]),
        "action": indicators.decode("hcpcs_action_code", row["action_code"]),
        "hcpcs_release": release.label,
        "pricing_indicators": _decode_list("hcpcs_pricing_indicator", row["pricing_indicators"]),
        "multiple_pricing_indicator": indicators.decode(
            "hcpcs_multiple_pricing_indicator", row["multiple_pricing_indicator"]),
        "coverage": indicators.decode("hcpcs_coverage", row["coverage"]),
        "betos": indicators.decode("hcpcs_betos", row["betos"]),
        "type_of_service": _decode_list("hcpcs_type_of_service", row["type_of_service"]),
        "cim_references": _split(row["cim_references"]),
        "mcm_references": _split(row["mcm_references"]),
        "statute": row["statute"] or None,
        "lab_certifications": _decode_list("hcpcs_lab_certification", row["lab_certifications"]),
        "cross_references": _split(row["cross_references"]),
        "asc_group": ({"code": row["asc_group"], "effective_date": _iso(row["asc_effective_date"])}
                      if row["asc_group"] else None),
        "processing_note": ({"number": note_number,
                             "text": queries.processing_note(asked.hc.store.conn, release.id, note_number)}
                            if note_number else None),
        "anesthesia_base_units": int(base_units) if base_units.isdigit() else None,
        "source_line": row["source_line"],
    }


def _level2_not_in_hcpcs(asked: _Asked) -> LookupResult:
    if not queries.code_known_anywhere(asked.hc.store.conn, asked.code):
        raise UnknownCodeError(f"{asked.code} is in no loaded release (HCPCS, fee schedule, OPPS or NCCI)")
    return {"short_description": None, "long_description": None, "valid_on_date": False,
            "validity": "not in any loaded HCPCS release"}


def _cpt_fields(asked: _Asked, mpfs: MpfsSection | None) -> LookupResult:
    """CPT codes are not in the HCPCS file: the fee schedule in force says whether they exist, and its
    short descriptor (from the user's own imported file) is the only descriptor shown."""
    hc, code, day = asked.hc, asked.code, asked.day
    if not queries.code_known_anywhere(hc.store.conn, code):
        raise UnknownCodeError(f"{code} is in no loaded release (fee schedule, OPPS or NCCI)")
    description = None
    if mpfs and mpfs.get("in_file"):
        rows = queries.rvu_rows(hc.store.conn, hc.release_for("mpfs", day).release.id, code)
        description = next((r["description"] for r in rows if r["description"]), None)
    in_force = bool(mpfs and mpfs.get("in_file") and (mpfs["status"] or {}).get("code") != "D")
    asked.notices.append(AMA_NOTICE)
    return {
        "short_description": description,
        "long_description": None,
        "descriptor_source": "your imported fee-schedule file (PPRRVU)" if description else None,
        "valid_on_date": in_force if mpfs else None,
        "validity": (f"in {mpfs['release']} on {day}" if mpfs and in_force
                     else "not in the fee-schedule release in force" if mpfs
                     else "unknown: no fee-schedule release loaded covers the date"),
        "added_date": None, "action_effective_date": None, "termination_date": None, "action": None,
    }


# Fields compared across releases by `history` and `diff`, with the indicator table that decodes them.
HCPCS_FIELDS: dict[str, str | None] = {
    "long_description": None, "short_description": None, "pricing_indicators": "hcpcs_pricing_indicator",
    "multiple_pricing_indicator": "hcpcs_multiple_pricing_indicator", "coverage": "hcpcs_coverage",
    "betos": "hcpcs_betos", "type_of_service": "hcpcs_type_of_service", "action_code": "hcpcs_action_code",
    "termination_date": None, "added_date": None, "cross_references": None, "processing_note": None,
    "asc_group": None, "lab_certifications": None, "statute": None,
}
MPFS_FIELDS: dict[str, str | None] = {
    "status": "mpfs_status", "pctc": "mpfs_pctc", "global_days": "mpfs_global_days", "work_rvu": None,
    "nonfac_pe_rvu": None, "fac_pe_rvu": None, "mp_rvu": None, "mult_proc": "mpfs_mult_proc",
    "bilat_surg": "mpfs_bilat_surg", "phys_supervision": "mpfs_phys_supervision", "conv_factor": None,
}


# The words people read for the store's columns: the one mapping used by the lookup card, history and diff
# (the JSON keeps the column name in `field` and adds this as `label`).
FIELD_LABELS: dict[str, str] = {
    "long_description": "Long descriptor", "short_description": "Short descriptor",
    "pricing_indicators": "Pricing", "multiple_pricing_indicator": "Multiple pricing", "coverage": "Coverage",
    "betos": "BETOS", "type_of_service": "Type of service", "action_code": "Action",
    "termination_date": "Terminated", "added_date": "Added", "cross_references": "Cross references",
    "processing_note": "Processing note", "asc_group": "ASC group", "lab_certifications": "Lab certification",
    "statute": "Statute", "status": "Status", "pctc": "PC/TC", "global_days": "Global days",
    "work_rvu": "Work RVU", "nonfac_pe_rvu": "PE RVU non-facility", "fac_pe_rvu": "PE RVU facility",
    "mp_rvu": "MP RVU", "mult_proc": "Multiple procedure", "bilat_surg": "Bilateral",
    "phys_supervision": "Supervision", "conv_factor": "Conversion factor",
}


def field_label(name: str) -> str:
    return FIELD_LABELS.get(name, name.replace("_", " ").capitalize())


def field_changes(old: sqlite3.Row | dict | None, new: sqlite3.Row | dict, fields: dict[str, str | None]) -> list[dict[str, Any]]:
    changes = []
    if old is None:
        return changes
    for name in fields:
        before, after = old[name], new[name]
        if (before or None) != (after or None):
            changes.append({"field": name, "label": field_label(name), "old": before, "new": after})
    return changes


def history(code: str, *, hc: Hcpcs | None = None) -> dict[str, Any]:
    """One entry per loaded release where the code was added, changed or discontinued, or left the file."""
    from hcpcs.store.session import default

    hc = hc or default()
    code = normalize(code)
    kind = kind_of(code)
    record_kind = "modifier" if kind == "modifier" else "procedure"
    conn = hc.store.conn
    events: list[dict[str, Any]] = []
    hcpcs_rows = {r["release_id"]: r for r in queries.hcpcs_rows_all_releases(conn, code, record_kind)}
    for dataset, fields, rows_by_release in (
        ("hcpcs", HCPCS_FIELDS, hcpcs_rows),
        ("mpfs", MPFS_FIELDS, {r["release_id"]: r for r in queries.rvu_rows_all_releases(conn, code)
                               if r["modifier"] == ""}),
    ):
        previous = None
        for release in sorted((r for r in hc.releases if r.dataset == dataset), key=lambda r: r.effective_start):
            row = rows_by_release.get(release.id)
            base = {"dataset": dataset, "release": release.label, "effective": release.effective_start.isoformat()}
            if row is None:
                if previous is not None:
                    events.append({**base, "event": "absent", "detail": f"{code} is not in {release.label}"})
                previous = None
                continue
            if previous is None:
                detail = f"first seen in the loaded releases (added {row['added_date']})" if dataset == "hcpcs" \
                    else f"in the fee schedule, status {row['status']}"
                events.append({**base, "event": "present", "detail": detail,
                               "changes": []})
            else:
                changes = field_changes(previous, row, fields)
                if changes:
                    for change in changes:
                        table = fields[change["field"]]
                        if table:
                            change["old_meaning"] = indicators.meaning(table, change["old"])
                            change["new_meaning"] = indicators.meaning(table, change["new"])
                    event = "discontinued" if dataset == "hcpcs" and row["termination_date"] and any(
                        c["field"] == "termination_date" for c in changes) else "changed"
                    events.append({**base, "event": event, "changes": changes})
            previous = row
    if not events and not queries.code_known_anywhere(conn, code):
        raise UnknownCodeError(f"{code} is in no loaded release")
    row = next(iter(reversed(list(hcpcs_rows.values()))), None)
    milestones = {}
    if row is not None:
        milestones = {"added_date": row["added_date"], "termination_date": row["termination_date"],
                      "action": indicators.decode("hcpcs_action_code", row["action_code"])}
    return {"code": code, "kind": kind, "milestones": milestones, "events": events}
