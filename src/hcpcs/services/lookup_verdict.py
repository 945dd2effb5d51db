"""The verdict of a code look-up: is the code payable on the date, in the setting asked, and why (the
vocabulary is `hcpcs.services.verdicts`). It reads only the decoded lookup answer, so every interface
shows the same headline as the detail below it.

Professional claims (the default) are judged by the physician fee schedule status of the global row:

- A, R, T, C (contractor priced) and J (anesthesia) are payable, each saying how it is paid;
- I, G (Medicare uses another code), B, P, N, M, E, X, D, F, H are not payable this way, with CMS's
  meaning. A HCPCS Level II code that the fee schedule excludes (E, X, P) but whose HCPCS pricing
  indicator names another Part B method (DMEPOS, drugs, clinical laboratory, reasonable charge...) is
  payable under that method, and the meaning says so;
- a Level II code that is not in the fee schedule is judged by its HCPCS coverage code (I, M, S: not
  payable) and pricing indicator (00: not separately priced; a Part B method: payable under it; the fee
  schedule or 99: not known).

Facility claims (hospital outpatient) are judged by the OPPS status indicator: paid separately
(payable), conditionally packaged (payable, may be packaged), packaged N or not paid on an outpatient
claim (not payable).

A code not valid on the date is `invalid`; where no loaded release of the dataset that decides can answer
for the date, the verdict is `unknown` and its meaning names the dataset, the date used, what the loaded
releases cover and how to ask for another date."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from hcpcs.core import indicators
from hcpcs.core.guidance import either
from hcpcs.services.verdicts import Verdict, verdict


class LookupVerdict(Verdict, total=False):
    """A lookup's verdict: `code` and `meaning`, and what it rests on: the payment `schedule` (physician fee
    schedule, OPPS, DMEPOS fee schedule...; None when none applies), and the `dataset` and `release` whose
    row decided (release None when no release of the dataset covers the date)."""

    schedule: str | None
    dataset: str | None
    release: str | None

PFS = "physician fee schedule"
OPPS = "hospital outpatient prospective payment system (OPPS)"

# Physician fee schedule statuses (RVU file, Attachment A) under which Medicare pays the service.
PAID_STATUSES = {"A", "R", "T", "C", "J"}
# Statuses whose CMS definition leaves room for payment under another provision of the Act.
OTHER_PROVISION_STATUSES = {"E", "X", "P"}
# HCPCS coverage codes (field 16) that say Medicare does not pay.
NOT_COVERED = {"I", "M", "S"}
# HCPCS pricing indicators (field 9) by the Part B method they name.
PRICING_SCHEDULES = {
    "11": PFS, "12": PFS, "13": PFS,
    "21": "the clinical laboratory fee schedule", "22": "the clinical laboratory fee schedule",
    **{str(n): "the DMEPOS fee schedule" for n in (31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 45, 46)},
    "51": "Part B drug pricing", "52": "reasonable charge", "53": "a price set by statute",
    "54": "vaccine pricing", "55": "splint and cast pricing", "56": "intraocular lens pricing",
    "57": "contractor pricing",
}


def _sentence(text: str | None) -> str:
    text = (text or "").strip()
    return text if not text or text.endswith((".", ".)")) else text + "."


def _with(result: Verdict, **extra: Any) -> LookupVerdict:
    out: LookupVerdict = {**result}  # type: ignore[typeddict-item]
    out.update(extra)  # type: ignore[typeddict-item]
    return out


def _instead_hint(data: dict[str, Any], setting: str) -> str:
    rows = [r for r in data.get("report_instead") or []
            if r["setting"] in ("any", setting) and not r.get("modifier")]
    codes = list(dict.fromkeys(r["code"] for r in rows))
    if not codes:
        return ""
    return f" Report {either(codes)} instead."


def _pricing(data: dict[str, Any]) -> tuple[list[dict[str, Any]], set[str]]:
    """The HCPCS pricing indicators of the code and the Part B methods they name."""
    prices = [p for p in data.get("pricing_indicators") or [] if p and p.get("code")]
    return prices, {PRICING_SCHEDULES[p["code"]] for p in prices if p["code"] in PRICING_SCHEDULES}


def _coverage_note(data: dict[str, Any]) -> str:
    coverage = data.get("coverage") or {}
    if coverage.get("code") in ("C", "D"):
        return f" HCPCS coverage {coverage['code']}: {_sentence(coverage.get('meaning'))}"
    return ""


def _by_pricing_indicator(data: dict[str, Any], day: str, why_not_pfs: str) -> LookupVerdict | None:
    """A Level II code judged by its HCPCS coverage and pricing indicators, when they decide; None when
    they send it to the physician fee schedule or say nothing."""
    release = data.get("hcpcs_release")
    coverage = data.get("coverage") or {}
    if coverage.get("code") in NOT_COVERED:
        return _with(verdict("not_payable", f"Not payable: HCPCS coverage code {coverage['code']} in {release}: "
                                            f"{_sentence(coverage.get('meaning'))}{why_not_pfs}{_instead_hint(data, 'professional')}"),
                     schedule=None, dataset="hcpcs", release=release)
    prices, schedules = _pricing(data)
    codes = ", ".join(f"{p['code']} ({(p.get('meaning') or '').rstrip('.')})" for p in prices)
    if prices and all(p["code"] == "00" for p in prices):
        return _with(verdict("not_payable", f"Not payable: not separately priced by Medicare Part B (HCPCS pricing "
                                            f"indicator {codes}, {release}).{why_not_pfs}"),
                     schedule=None, dataset="hcpcs", release=release)
    others = sorted(schedules - {PFS})
    if others:
        return _with(verdict("payable", f"Payable under {' or '.join(others)}, if covered (HCPCS pricing "
                                        f"indicator {codes}, {release}).{why_not_pfs}{_coverage_note(data)}"),
                     schedule=others[0], dataset="hcpcs", release=release)
    return None


def professional(data: dict[str, Any], gap: Callable[[str], str]) -> LookupVerdict:
    """The verdict for a professional claim (physician fee schedule); `gap(dataset)` words "no release
    of the dataset covers the date"."""
    day = data["as_of"]
    mpfs = data.get("mpfs")
    if mpfs is None:
        if data["kind"] == "level2":
            decided = _by_pricing_indicator(data, day, "")
            if decided is not None:
                return decided
            return _with(verdict("unknown", f"Valid on {day} ({data.get('hcpcs_release')}), but whether it is paid "
                                            f"cannot be told: {gap('mpfs')}"),
                         schedule=PFS, dataset="mpfs", release=None)
        return _with(verdict("unknown", f"Unknown on {day}: {gap('mpfs')}"), schedule=PFS, dataset="mpfs",
                     release=None)
    release = mpfs["release"]
    if not mpfs.get("in_file"):
        why = f" Not in the physician fee schedule ({release})."
        decided = _by_pricing_indicator(data, day, why) if data["kind"] == "level2" else None
        if decided is not None:
            return decided
        _, schedules = _pricing(data)
        what = ("the HCPCS file prices it under the physician fee schedule, but " if PFS in schedules else "")
        return _with(verdict("unknown", f"Valid on {day}, but whether Medicare pays it cannot be told: {what}{release} "
                                        f"has no row for it and the HCPCS file names no other pricing method."),
                     schedule=None, dataset="mpfs", release=release)
    status = (mpfs.get("status") or {}).get("code")
    meaning = _sentence((mpfs.get("status") or {}).get("meaning"))
    label = f"status {status} in {release}"
    base = {"schedule": PFS, "dataset": "mpfs", "release": release}
    if status == "C":
        return _with(verdict("payable", f"Payable; the amount is set by the Medicare contractor ({label}). {meaning}"),
                     **base)
    if status == "J":
        return _with(verdict("payable", f"Payable as an anesthesia service: base units plus time under the "
                                        f"anesthesia conversion factor, not RVUs ({label})."), **base)
    if status in ("A", "T", "R"):
        note = {"A": "", "T": " Paid only when no other physician fee schedule service is billed by the same "
                              "provider on the same date.",
                "R": " Special coverage instructions apply; if covered, the contractor prices it."}[status]
        return _with(verdict("payable", f"Payable under the physician fee schedule, if covered ({label}).{note}"),
                     **base)
    why_not = f" Not paid under the physician fee schedule ({label}): {meaning}"
    if status in OTHER_PROVISION_STATUSES and data["kind"] == "level2":
        decided = _by_pricing_indicator(data, day, why_not)
        if decided is not None and decided["code"] == "payable":
            return decided
    extra = ""
    if status in OTHER_PROVISION_STATUSES:
        extra = (" Medicare may pay it under another fee schedule (clinical laboratory, ambulance, drugs, DMEPOS), "
                 "which hcpcs does not load.")
    return _with(verdict("not_payable", f"Not payable under the physician fee schedule ({label}). {meaning}{extra}"
                                        f"{_instead_hint(data, 'professional')}"), **base)


def facility(data: dict[str, Any], gap: Callable[[str], str]) -> LookupVerdict:
    """The verdict for a hospital outpatient claim (OPPS status indicator)."""
    day = data["as_of"]
    opps = data.get("opps")
    if opps is None:
        return _with(verdict("unknown", f"Unknown on {day}: {gap('opps')}"), schedule=OPPS, dataset="opps",
                     release=None)
    release = opps["release"]
    base = {"schedule": OPPS, "dataset": "opps", "release": release}
    if not opps.get("in_file"):
        return _with(verdict("unknown", f"Valid on {day}, but {release} (OPPS Addendum B) has no row for it, so "
                                        "its hospital outpatient payment cannot be told."), **base)
    indicator = (opps.get("status_indicator") or {}).get("code")
    meaning = _sentence((opps.get("status_indicator") or {}).get("meaning"))
    table = indicators.indicator("opps_status_indicator").extra
    paid = table.get("paid", {}).get(indicator)
    packaged = table.get("packaged", {}).get(indicator)
    label = f"OPPS status indicator {indicator} in {release}"
    rate = f", national rate ${opps['payment_rate']:,.2f}" if opps.get("payment_rate") else ""
    apc = f", APC {opps['apc']}" if opps.get("apc") else ""
    if paid and packaged:
        return _with(verdict("payable", f"Payable on a hospital outpatient claim, or packaged into other services "
                                        f"under the conditions of its indicator ({label}{apc}{rate}). {meaning}"), **base)
    if paid:
        return _with(verdict("payable", f"Payable on a hospital outpatient claim ({label}{apc}{rate}). {meaning}"),
                     **base)
    if packaged:
        return _with(verdict("not_payable", f"Not paid separately: packaged into the payment for other services "
                                            f"({label}). {meaning}{_instead_hint(data, 'facility')}"), **base)
    return _with(verdict("not_payable", f"Not payable on a hospital outpatient claim ({label}). {meaning}"
                                        f"{_instead_hint(data, 'facility')}"), **base)


def modifier(data: dict[str, Any]) -> LookupVerdict:
    """A modifier is not billed alone: valid (from the HCPCS file, or described from CMS documentation),
    it is paid as part of the code it modifies."""
    release = data.get("hcpcs_release")
    where = f"valid on {data['as_of']} ({release})" if release else f"described in {data.get('descriptor_source')}"
    return _with(verdict("payable", f"Modifier {data['code']} is {where}; it is paid as part of the code it "
                                    "modifies, whose own verdict applies."),
                 schedule=None, dataset="hcpcs", release=release)


def _invalid_reason(data: dict[str, Any]) -> str:
    """The validity text without its leading "not valid on DATE:", which the verdict already says."""
    validity = (data.get("validity") or "").strip()
    text = re.sub(r"^not (yet )?valid on \S+: ", "", validity)
    if validity.startswith("not yet valid"):
        text += ", after this date"
    return _sentence(text) or "not in the loaded releases."


def verdict_for_lookup(data: dict[str, Any], setting: str | None = None,
                       gap: Callable[[str], str] | None = None) -> LookupVerdict:
    """The verdict of a lookup answer (`hcpcs.services.reference.lookup`) for a setting: `professional`
    (the default) or `facility`. `gap(dataset)` words why no release of a dataset answers for the date
    (the lookup passes one that names what the loaded releases cover)."""
    words = gap or (lambda dataset: f"no {dataset} release loaded covers {data['as_of']}.")
    valid = data.get("valid_on_date")
    if valid is False:
        return _with(verdict("invalid", f"Not a valid code on {data['as_of']}: {_invalid_reason(data)}"
                                        f"{_instead_hint(data, setting or 'professional')}"),
                     schedule=None, dataset="hcpcs" if data["kind"] != "cpt" else "mpfs",
                     release=data.get("hcpcs_release") or (data.get("mpfs") or {}).get("release"))
    if data["kind"] == "modifier":
        return modifier(data)
    if setting == "facility":
        return facility(data, words)
    return professional(data, words)
