"""Medicare physician fee schedule amounts, computed as CMS publishes the formula:

    amount = (work RVU x work GPCI + PE RVU x PE GPCI + MP RVU x MP GPCI) x conversion factor

rounded half-up to the cent, with the RVU row of the modifier billed (global, 26 or TC), the
non-facility or facility practice-expense RVU, the GPCIs of the locality and the conversion factor of the
RVU release in force on the date of service; from CY 2026 the conversion factor of qualifying APM
participants (QPs) or of everyone else (`qp`), each answer naming the one used. Where the RVU file marks
the setting NA, there is no amount (CMS's look-up tool shows NA), and every amount comes with the
non-participating amount (95 %) and the limiting charge (115 % of that), as the look-up tool shows them. Imaging services under the Deficit Reduction Act cap pay the
lesser of that amount and the OPPS-based amount (the OPPS PE and MP columns of the RVU file; the OPPSCAP
file lists the capped amount per locality).

Also: hospital outpatient (OPPS Addendum B) rates, the amount in every locality, and the amount across
fee-schedule releases."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from hcpcs.core import indicators
from hcpcs.core.codes import code_and_modifier, normalize, split_modifier
from hcpcs.core.dates import parse_date
from hcpcs.core.errors import InvalidInputError, NotCoveredError, UnknownCodeError
from hcpcs.services.results import FeeGrid, FeeResult
from hcpcs.services.verdicts import Verdict, verdict
from hcpcs.store import queries
from hcpcs.store.releases import Release
from hcpcs.store.session import Hcpcs

# Status codes whose amount is computed from the RVUs (RVU file Attachment A): A active, R restricted
# coverage (priced, paid only in special circumstances), T paid only when no other service is billed.
PRICED_STATUSES = {"A", "R", "T"}
CARRIER_PRICED = {"C"}
SETTINGS = ("nonfacility", "facility")

STATE_NAMES = {
    "AL": "ALABAMA", "AK": "ALASKA", "AZ": "ARIZONA", "AR": "ARKANSAS", "CA": "CALIFORNIA",
    "CO": "COLORADO", "CT": "CONNECTICUT", "DE": "DELAWARE", "DC": "DISTRICT OF COLUMBIA",
    "FL": "FLORIDA", "GA": "GEORGIA", "HI": "HAWAII", "ID": "IDAHO", "IL": "ILLINOIS", "IN": "INDIANA",
    "IA": "IOWA", "KS": "KANSAS", "KY": "KENTUCKY", "LA": "LOUISIANA", "ME": "MAINE", "MD": "MARYLAND",
    "MA": "MASSACHUSETTS", "MI": "MICHIGAN", "MN": "MINNESOTA", "MS": "MISSISSIPPI", "MO": "MISSOURI",
    "MT": "MONTANA", "NE": "NEBRASKA", "NV": "NEVADA", "NH": "NEW HAMPSHIRE", "NJ": "NEW JERSEY",
    "NM": "NEW MEXICO", "NY": "NEW YORK", "NC": "NORTH CAROLINA", "ND": "NORTH DAKOTA", "OH": "OHIO",
    "OK": "OKLAHOMA", "OR": "OREGON", "PA": "PENNSYLVANIA", "RI": "RHODE ISLAND", "SC": "SOUTH CAROLINA",
    "SD": "SOUTH DAKOTA", "TN": "TENNESSEE", "TX": "TEXAS", "UT": "UTAH", "VT": "VERMONT",
    "VA": "VIRGINIA", "WA": "WASHINGTON", "WV": "WEST VIRGINIA", "WI": "WISCONSIN", "WY": "WYOMING",
    "PR": "PUERTO RICO", "VI": "VIRGIN ISLANDS", "GU": "GUAM", "AS": "AMERICAN SAMOA",
    "MP": "NORTHERN MARIANA ISLANDS",
}
_CATCH_ALL = ("ALL COUNTIES", "ALL OTHER COUNTIES", "ALL COUNTY EQUIVALENTS", "REST OF", "STATEWIDE")


def round_cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _dec(value: float | None) -> Decimal:
    return Decimal(str(value or 0))


@dataclass(frozen=True)
class Locality:
    mac: str
    locality_number: str
    name: str
    state: str | None
    work: float
    pe: float
    mp: float
    source_line: int | None = None

    @property
    def id(self) -> str:
        return f"{self.mac}-{self.locality_number}" if self.mac else "national"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "mac": self.mac or None, "locality_number": self.locality_number or None,
                "name": self.name, "state": self.state}


NATIONAL = Locality("", "", "National (GPCIs of 1.000)", None, 1.0, 1.0, 1.0)


def parse_locality_id(text: str) -> tuple[str, str]:
    """`01112-05`, `01112 05`, `01112/05` or `0111205`: the MAC and locality numbers of the GPCI file."""
    cleaned = text.strip().replace("/", "-").replace(" ", "-").replace("_", "-")
    parts = [p for p in cleaned.split("-") if p]
    if len(parts) == 1 and parts[0].isdigit() and len(parts[0]) == 7:
        parts = [parts[0][:5], parts[0][5:]]
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise InvalidInputError(
            f"locality {text!r} is not a fee-schedule locality id: give the MAC and locality number of the "
            "GPCI file, e.g. 01112-05"
        )
    return parts[0].zfill(5), parts[1].zfill(2)


def locality_release(hc: Hcpcs, release: Release) -> tuple[Release, str | None]:
    """The release whose GPCI and locality files apply to `release`. CMS sets GPCIs for the calendar
    year; a quarterly RVU update published without them (e.g. a PPRRVU-only RVU24B) uses those of the
    same year's earlier release."""
    if release.row_counts.get("mpfs_gpci"):
        return release, None
    same_year = [r for r in hc.releases if r.dataset == "mpfs" and r.row_counts.get("mpfs_gpci")
                 and r.effective_start.year == release.effective_start.year
                 and r.effective_start <= release.effective_start]
    if not same_year:
        raise NotCoveredError(f"{release.label} was loaded without GPCI and locality files, and no earlier release of "
                              f"{release.effective_start.year} has them; load the whole RVU bundle")
    source = max(same_year, key=lambda r: r.effective_start)
    return source, f"{release.label} has no GPCI file; the GPCIs of {source.label} (same calendar year) are used"


def localities(hc: Hcpcs, release: Release) -> list[Locality]:
    release = locality_release(hc, release)[0]
    rows = queries.gpci_rows(hc.store.conn, release.id)
    return [Locality(r["mac"], r["locality_number"], r["locality_name"], r["state"], r["pw_gpci"], r["pe_gpci"],
                     r["mp_gpci"], r["source_line"]) for r in rows]


def find_locality(hc: Hcpcs, release: Release, locality: str | None = None, state: str | None = None,
                  county: str | None = None) -> tuple[Locality, list[str]]:
    notices: list[str] = []
    all_localities = localities(hc, release)
    release = locality_release(hc, release)[0]
    if not all_localities:
        raise NotCoveredError(f"{release.label} was loaded without its GPCI file; reload the whole RVU bundle")
    if locality:
        mac, number = parse_locality_id(locality)
        for loc in all_localities:
            if loc.mac == mac and loc.locality_number == number:
                return loc, notices
        raise InvalidInputError(
            f"locality {mac}-{number} is not in the GPCI file of {release.label} "
            f"({len(all_localities)} localities; `hcpcs fee CODE --all-localities` lists them)"
        )
    if not state:
        raise InvalidInputError("give --locality ID, --state ST [--county NAME], or --national")
    abbrev = state.strip().upper()
    if abbrev not in STATE_NAMES:
        by_name = {v: k for k, v in STATE_NAMES.items()}
        if abbrev in by_name:
            abbrev = by_name[abbrev]
        else:
            raise InvalidInputError(f"state {state!r} is not a US state or territory abbreviation or name")
    in_state = [loc for loc in all_localities if (loc.state or "").upper() == abbrev]
    if not in_state:
        raise InvalidInputError(f"no locality of {release.label} is in state {abbrev}")
    if len(in_state) == 1 and not county:
        return in_state[0], notices
    if not county:
        names = "; ".join(f"{loc.id} {loc.name}" for loc in in_state)
        raise InvalidInputError(f"{abbrev} has {len(in_state)} localities; add --county NAME or pick one: {names}")
    if not _is_county(county, abbrev):
        raise InvalidInputError(f"{county!r} is not a county of {abbrev} (US Census county list)")
    wanted = _county_key(county)
    state_name = STATE_NAMES[abbrev]
    rows = [r for r in queries.locality_county_rows(hc.store.conn, release.id)
            if (r["state"] or "").strip().upper() == state_name]
    fallback = None
    for row in rows:
        counties_text = (row["counties"] or "").upper()
        names = {_county_key(p) for chunk in counties_text.replace(" AND ", ",").split("/") for p in chunk.split(",")}
        if wanted in names:
            return _match(in_state, row), notices
        if any(counties_text.strip().startswith(c) for c in _CATCH_ALL) and "EXCEPT" not in counties_text:
            fallback = row
    if len(in_state) == 1:
        notices.append(f"{county} is not named in the locality/county file; {abbrev} has one locality")
        return in_state[0], notices
    if fallback is not None:
        notices.append(f"{county} county is not named in the locality/county file of {release.label}; it falls "
                       f"under '{(fallback['counties'] or '').strip()}' ({(fallback['fee_schedule_area'] or '').strip()})")
        return _match(in_state, fallback), notices
    raise InvalidInputError(f"county {county!r} is not in the locality/county file of {release.label} for {abbrev}")


def _is_county(county: str, state: str) -> bool:
    """Whether the Census county list (the addfips package's copy) has this county in this state; True
    where the package has no list for the state (territories)."""
    import addfips

    finder = addfips.AddFIPS()
    try:
        return finder.get_county_fips(county, state=state) is not None
    except (KeyError, ValueError):
        return True


def _county_key(text: str) -> str:
    words = text.upper().replace("COUNTY", "").replace("CNTY", "").replace("PARISH", "").replace(".", "").split()
    return " ".join(words)


def _match(in_state: list[Locality], row: sqlite3.Row) -> Locality:
    for loc in in_state:
        if loc.mac == row["mac"] and loc.locality_number == row["locality_number"]:
            return loc
    for loc in in_state:
        if loc.locality_number == row["locality_number"]:
            return loc
    raise InvalidInputError(f"locality {row['mac']}-{row['locality_number']} of the county file has no GPCI row")


def compute_amount(work: float, pe: float, mp: float, loc: Locality, cf: float) -> Decimal:
    total = _dec(work) * _dec(loc.work) + _dec(pe) * _dec(loc.pe) + _dec(mp) * _dec(loc.mp)
    return round_cents(total * _dec(cf))


@dataclass(frozen=True)
class PaymentBasis:
    """Which conversion factor prices an answer: `code` nonqp / qp (from CY 2026, two PPRRVU files) or
    all (one factor for every clinician), the factor, and the table of RVU rows it prices."""

    code: str
    conversion_factor: float | None
    table: str

    def coded(self) -> dict[str, str | None]:
        meanings = indicators.indicator("mpfs_pricing_indicator").extra.get("basis", {})
        return {"code": self.code, "meaning": meanings.get(self.code)}


def conversion_factors(release: Release) -> dict[str, float]:
    """The conversion factors of a fee-schedule release by basis: {'nonqp': ..., 'qp': ...} from CY 2026
    (those loaded), {'all': ...} before."""
    return dict(release.meta.get("conversion_factors") or {"all": release.meta.get("conversion_factor")})


def payment_basis(release: Release, qp: bool = False) -> PaymentBasis:
    """The conversion factor of `release` for a clinician who is (`qp`) or is not a qualifying APM
    participant. A release before 2026 has one factor for all; a 2026 release loaded without the file of
    the basis asked for cannot answer for it (NotCoveredError says which file to load)."""
    factors = release.meta.get("conversion_factors") or {"all": release.meta.get("conversion_factor")}
    if "all" in factors:
        return PaymentBasis("all", factors["all"], "mpfs_rvu")
    files = sorted({f["name"] for f in release.source_files if f.get("kind") in ("pprrvu", "pprrvu_qpp")})
    if qp:
        if "qp" not in factors:
            raise NotCoveredError(
                f"{release.label} was loaded without its QPP file (PPRRVU..._QPP), so the conversion factor for "
                f"qualifying APM participants is not loaded (loaded: {', '.join(files)}); load the whole bundle")
        table = "mpfs_rvu_qp" if release.row_counts.get("mpfs_rvu_qp") else "mpfs_rvu"
        return PaymentBasis("qp", factors["qp"], table)
    if "nonqp" not in factors:
        raise NotCoveredError(
            f"{release.label} was loaded from its QPP file only ({', '.join(files)}): it prices qualifying APM "
            "participants (qp=True, --qp); load the non-QPP file (PPRRVU..._nonQPP) for everyone else")
    return PaymentBasis("nonqp", factors["nonqp"], "mpfs_rvu")


def _rvu_rows(hc: Hcpcs, release: Release, code: str, basis: PaymentBasis) -> list[sqlite3.Row]:
    rows = queries.rvu_rows(hc.store.conn, release.id, code, basis.table)
    if not rows:
        if basis.table == "mpfs_rvu_qp" and queries.rvu_rows(hc.store.conn, release.id, code):
            return []  # in the non-QPP file only: the caller says so
        if not queries.code_known_anywhere(hc.store.conn, code):
            raise UnknownCodeError(f"{code} is in no loaded release")
        raise UnknownCodeError(f"{code} is not in the fee-schedule file {release.label}")
    return rows


def _rvu_row(hc: Hcpcs, release: Release, code: str, modifier: str,
             basis: PaymentBasis | None = None) -> sqlite3.Row:
    basis = basis or payment_basis(release)
    rows = _rvu_rows(hc, release, code, basis)
    if not rows:  # absent from the QPP file: the non-QPP row, priced as not payable for QPs
        rows = queries.rvu_rows(hc.store.conn, release.id, code)
    for row in rows:
        if row["modifier"] == modifier:
            return row
    have = ", ".join(r["modifier"] or "global" for r in rows)
    pctc = rows[0]["pctc"]
    why = indicators.meaning("mpfs_pctc", pctc) or ""
    raise InvalidInputError(
        f"{code} has no {'-' + modifier if modifier else 'global'} row in {release.label} (rows: {have}); "
        f"PC/TC indicator {pctc}: {why}"
    )


def _place(hc: Hcpcs, release: Release, locality: str | None, state: str | None, county: str | None,
           national: bool, notices: list[str]) -> Locality:
    if national or (not locality and not state):
        return NATIONAL
    loc, more = find_locality(hc, release, locality, state, county)
    notices.extend(more)
    borrowed = locality_release(hc, release)[1]
    if borrowed:
        notices.append(borrowed)
    return loc


def fee(code: str, modifier: str | None = None, *, locality: str | None = None, state: str | None = None,
        county: str | None = None, national: bool = False, setting: str = "nonfacility",
        as_of: str | date | None = None, qp: bool = False, hc: Hcpcs | None = None) -> FeeResult:
    """The fee-schedule amount of one code/modifier in one locality and setting, with its inputs. `qp`:
    the rendering clinician is a qualifying APM participant (from CY 2026 their own conversion factor).
    Without a modifier the answer is the global row's, with `grid`: every row (global, 26, TC) in both
    settings, participating and non-participating amounts and limiting charges."""
    from hcpcs.store.session import default

    hc = hc or default()
    code, modifier = code_and_modifier(code, modifier)
    grid_wanted = modifier is None
    modifier = modifier or ""
    if modifier not in ("", "26", "TC", "53"):
        raise InvalidInputError(f"modifier {modifier!r}: the fee schedule prices the global row, 26 and TC")
    if setting not in SETTINGS:
        raise InvalidInputError(f"setting {setting!r}: use nonfacility or facility")
    day = parse_date(as_of, "as-of date")
    choice = hc.release_for("mpfs", day)
    release = choice.release
    notices = list(choice.notices)
    loc = _place(hc, release, locality, state, county, national, notices)
    basis = payment_basis(release, qp)
    rows = _rvu_rows(hc, release, code, basis)
    in_qpp = bool(rows) or basis.table != "mpfs_rvu_qp"
    if not rows:
        rows = queries.rvu_rows(hc.store.conn, release.id, code)
    if grid_wanted and not any(r["modifier"] == "" for r in rows):
        modifier = rows[0]["modifier"]  # a code published only with a modifier (a component-only row set)
    row = _rvu_row(hc, release, code, modifier, basis)
    result = price_row(hc, release, row, loc, setting, day, notices, basis, qp=qp, in_qpp_file=in_qpp)
    if grid_wanted:
        result["grid"] = _grid(hc, release, rows, loc, day, basis, qp, in_qpp)
    return result


def _grid(hc: Hcpcs, release: Release, rows: list[sqlite3.Row], loc: Locality, day: date, basis: PaymentBasis,
          qp: bool, in_qpp: bool) -> FeeGrid:
    """Every row of a code (global, 26, TC, in file order) in both settings, as CMS's physician fee schedule
    look-up tool shows them."""
    order = {"": 0, "26": 1, "TC": 2}
    lines = []
    for row in sorted(rows, key=lambda r: (order.get(r["modifier"], 3), r["modifier"])):
        cells = {}
        for setting in SETTINGS:
            priced = price_row(hc, release, row, loc, setting, day, [], basis, qp=qp, in_qpp_file=in_qpp)
            cells[setting] = {key: priced[key] for key in (  # type: ignore[literal-required]
                "amount", "nonparticipating_amount", "limiting_charge", "payable", "na", "na_reason",
                "opps_cap_applied", "verdict")}
        lines.append({"modifier": row["modifier"] or None, "status": indicators.decode("mpfs_status", row["status"]),
                      "nonfacility": cells["nonfacility"], "facility": cells["facility"],
                      "source_line": row["source_line"]})
    return {"locality": loc.to_dict(), "release": release.label, "conversion_factor": basis.conversion_factor,
            "conversion_factor_basis": basis.coded(), "rows": lines,  # type: ignore[typeddict-item]
            "limiting_charge_note": LIMITING_CHARGE_NOTE}


def _participation(amount: Decimal) -> tuple[float, float]:
    """Non-participating amount (95 %) and limiting charge (115 % of it: the amount x 1.0925), to the cent."""
    return float(round_cents(amount * Decimal("0.95"))), float(round_cents(amount * Decimal("1.0925")))


def _verdict(result: FeeResult, status: str, status_meaning: str | None) -> Verdict:
    setting = "non-facility" if result["setting"] == "nonfacility" else "facility"
    if result["na"]:
        return verdict("not_payable", f"Not payable in the {setting} setting: {result['na_reason']}.")
    if result["payable"]:
        return verdict("payable", f"Paid under the physician fee schedule ({result['release']}, status {status}).")
    if status in CARRIER_PRICED:
        return verdict("payable", "Payable: carrier priced (status C), the amount set by the Medicare "
                                  "administrative contractor.")
    if status in ("D", "F", "H"):
        return verdict("invalid", f"Not a code on {result['as_of']}: status {status}: {status_meaning}")
    return verdict("not_payable", result["reason"] or f"status {status}: {status_meaning}")


def price_row(hc: Hcpcs, release: Release, row: sqlite3.Row, loc: Locality, setting: str, day: date,
              notices: list[str], basis: PaymentBasis | None = None, *, qp: bool = False,
              in_qpp_file: bool = True) -> FeeResult:
    basis = basis or payment_basis(release, qp)
    status = row["status"]
    pe = row["nonfac_pe_rvu"] if setting == "nonfacility" else row["fac_pe_rvu"]
    na = (row["nonfac_na"] if setting == "nonfacility" else row["fac_na"]) or None
    cf = basis.conversion_factor if basis.code == "qp" else (row["conv_factor"] or basis.conversion_factor)
    status_meaning = indicators.meaning("mpfs_status", status)
    files = sorted({f["name"] for f in release.source_files
                    if f.get("kind") in (("pprrvu_qpp" if basis.code == "qp" else "pprrvu"), "gpci")})
    result: FeeResult = {
        "code": row["hcpcs"],
        "modifier": row["modifier"] or None,
        "locality": loc.to_dict(),
        "setting": setting,
        "as_of": day.isoformat(),
        "release": release.label,
        "status": {"code": status, "meaning": status_meaning},
        "conversion_factor": cf,
        "conversion_factor_basis": basis.coded(),  # type: ignore[typeddict-item]
        "qp": qp,
        "rvus": {"work": row["work_rvu"], "pe": pe, "mp": row["mp_rvu"]},
        "gpci": {"work": loc.work, "pe": loc.pe, "mp": loc.mp},
        "opps_cap_applied": False,
        "opps_cap_amount": None,
        "amount": None,
        "nonparticipating_amount": None,
        "limiting_charge": None,
        "payable": False,
        "na": bool(na),
        "na_reason": None,
        "reason": None,
        "formula": None,
        "notices": notices,
        "source": {"dataset": "mpfs", "release": release.label, "row": row["source_line"], "files": files},
        "verdict": verdict("unknown", ""),
    }
    if na:
        words = "non-facility" if setting == "nonfacility" else "facility"
        result["na_reason"] = (f"the RVU file marks the {words} setting NA: CMS did not develop {words} practice "
                               f"expense RVUs because the procedure is rarely or never performed in that setting")
    if basis.code != "all":
        result["notices"] = [*notices, _basis_notice(release, basis, cf)]
    if not in_qpp_file:
        result["reason"] = (f"not in the QPP file of {release.label}: CMS left this code out of the fee schedule "
                            f"of qualifying APM participants (in the non-QPP file: status {status}, "
                            f"{first_words(status_meaning)})")
    elif status in CARRIER_PRICED:
        result["reason"] = (f"status C: {status_meaning} No national amount: the Medicare administrative "
                            "contractor prices it.")
    elif status not in PRICED_STATUSES:
        result["reason"] = f"status {status}: {status_meaning}"
    else:
        amount = compute_amount(row["work_rvu"], pe, row["mp_rvu"], loc, cf)
        result["formula"] = (f"({row['work_rvu']:.2f} x {loc.work:.3f} + {pe:.2f} x {loc.pe:.3f} + "
                             f"{row['mp_rvu']:.2f} x {loc.mp:.3f}) x {cf:.4f} = {amount}")
        result["reason"] = f"status {status}: {status_meaning}"
        cap = None if na else opps_cap(hc, release, row, loc, setting, basis, cf)
        if cap is not None:
            result["opps_cap_amount"] = float(cap[0])
            if cap[0] < amount:
                result["opps_cap_applied"] = True
                result["formula"] += (f"; OPPS cap (Deficit Reduction Act): lesser of {amount} and the OPPS-based "
                                      f"amount {cap[0]} ({cap[1]}) = {cap[0]}")
                amount = cap[0]
        if na:
            # CMS's look-up tool shows NA: no amount in this setting; the computed figure only as not payable.
            result["formula"] += " (not payable in this setting: NA)"
            result["reason"] = f"NA: {result['na_reason']}"
        else:
            result["payable"] = True
            result["amount"] = float(amount)
            result["nonparticipating_amount"], result["limiting_charge"] = _participation(amount)
    result["verdict"] = _verdict(result, status, status_meaning)
    return result


def _basis_notice(release: Release, basis: PaymentBasis, cf: float | None) -> str:
    factors = release.meta.get("conversion_factors") or {}
    if basis.code == "qp":
        other = f"; {factors['nonqp']} for everyone else" if "nonqp" in factors else ""
        return (f"priced at the conversion factor for qualifying APM participants (QPs), {cf}{other} "
                f"({release.label}, QPP file)")
    other = f"; {factors['qp']} for qualifying APM participants (qp=True, --qp)" if "qp" in factors else ""
    return (f"priced at the conversion factor for clinicians who are not qualifying APM participants, {cf}{other} "
            f"({release.label}, non-QPP file)")


def first_words(text: str | None) -> str:
    return (text or "").split(". ")[0].rstrip(".")


LIMITING_CHARGE_NOTE = indicators.indicator("mpfs_participation").extra["notes"]["limiting_charge_not_applicable"]


def opps_cap(hc: Hcpcs, release: Release, row: sqlite3.Row, loc: Locality, setting: str,
             basis: PaymentBasis | None = None, cf: float | None = None) -> tuple[Decimal, str] | None:
    """The OPPS-based cap amount for an imaging service, or None when the code is not capped. The OPPSCAP
    file's amount for the locality is used where present; otherwise (national, a bundle loaded without
    it, or a qualifying APM participant, whose conversion factor the OPPSCAP file is not priced at) the
    amount is computed from the RVU file's OPPS PE and MP columns with the same formula."""
    cf = cf if cf is not None else row["conv_factor"]
    if loc.mac and (basis is None or basis.code != "qp"):
        caps = queries.opps_cap_rows(hc.store.conn, release.id, row["hcpcs"], row["modifier"])
        for cap in caps:
            if cap["mac"] == loc.mac and cap["locality_number"] == loc.locality_number:
                price = cap["fac_price"] if setting == "facility" else cap["nonfac_price"]
                return _dec(price), f"OPPSCAP file line {cap['source_line']}"
        if caps:
            return None
    pe_opps = row["fac_pe_opps"] if setting == "facility" else row["nonfac_pe_opps"]
    if not pe_opps and not row["mp_opps"]:
        return None
    amount = compute_amount(row["work_rvu"], pe_opps, row["mp_opps"], loc, cf)
    return amount, "OPPS PE and MP columns of the RVU file"


def all_localities(code: str, modifier: str | None = None, *, setting: str = "nonfacility",
                   as_of: str | date | None = None, qp: bool = False, hc: Hcpcs | None = None) -> dict[str, Any]:
    from hcpcs.store.session import default

    hc = hc or default()
    code, modifier = code_and_modifier(code, modifier)
    modifier = modifier or ""
    day = parse_date(as_of, "as-of date")
    choice = hc.release_for("mpfs", day)
    basis = payment_basis(choice.release, qp)
    in_qpp = bool(_rvu_rows(hc, choice.release, code, basis)) or basis.table != "mpfs_rvu_qp"
    row = _rvu_row(hc, choice.release, code, modifier, basis)
    items = [price_row(hc, choice.release, row, loc, setting, day, [], basis, qp=qp, in_qpp_file=in_qpp)
             for loc in localities(hc, choice.release)]
    items.sort(key=lambda r: (-(r["amount"] or 0), r["locality"]["id"]))
    return {"code": code, "modifier": modifier or None, "setting": setting, "as_of": day.isoformat(),
            "release": choice.release.label, "qp": qp, "conversion_factor_basis": basis.coded(),
            "notices": choice.notices, "localities": items}


def fee_history(code: str, modifier: str | None = None, *, locality: str | None = None,
                setting: str = "nonfacility", qp: bool = False, hc: Hcpcs | None = None) -> list[dict[str, Any]]:
    """The amount and its inputs in every loaded fee-schedule release."""
    from hcpcs.store.session import default

    hc = hc or default()
    code, modifier = code_and_modifier(code, modifier)
    modifier = modifier or ""
    out = []
    for release in sorted((r for r in hc.releases if r.dataset == "mpfs"), key=lambda r: r.effective_start):
        try:
            basis = payment_basis(release, qp)
        except NotCoveredError as exc:
            out.append({"release": release.label, "effective_start": release.effective_start.isoformat(),
                        "in_file": False, "reason": str(exc)})
            continue
        rows = [r for r in queries.rvu_rows(hc.store.conn, release.id, code, basis.table) if r["modifier"] == modifier]
        if not rows:
            out.append({"release": release.label, "effective_start": release.effective_start.isoformat(),
                        "in_file": False})
            continue
        loc = find_locality(hc, release, locality)[0] if locality else NATIONAL
        priced = price_row(hc, release, rows[0], loc, setting, release.effective_start, [], basis, qp=qp)
        priced["effective_start"] = release.effective_start.isoformat()  # type: ignore[typeddict-unknown-key]
        priced["in_file"] = True  # type: ignore[typeddict-unknown-key]
        out.append(priced)
    if not out:
        raise NotCoveredError("no fee-schedule release is loaded")
    return out


def opps_fee(code: str, as_of: str | date | None = None, hc: Hcpcs | None = None) -> dict[str, Any]:
    """Hospital outpatient payment (OPPS Addendum B) of the release in force."""
    from hcpcs.store.session import default

    hc = hc or default()
    code, modifier = split_modifier(code)
    code = normalize(code)
    day = parse_date(as_of, "as-of date")
    choice = hc.release_for("opps", day)
    row = queries.addendum_b_row(hc.store.conn, choice.release.id, code)
    if row is None:
        raise UnknownCodeError(f"{code} is not in {choice.release.label}")
    si = row["status_indicator"]
    si_table = indicators.indicator("opps_status_indicator").extra
    packaged = bool(si_table.get("packaged", {}).get(si))
    paid = si_table.get("paid", {}).get(si)
    note = None
    if packaged:
        note = f"status indicator {si}: packaged; no separate OPPS payment"
    elif si == "B":
        note = "status indicator B: not recognised by OPPS when billed on an outpatient hospital claim"
    return {
        "code": code, "as_of": day.isoformat(), "release": choice.release.label,
        "status_indicator": indicators.decode("opps_status_indicator", si),
        "separately_paid": paid, "packaged": packaged, "note": note,
        "apc": row["apc"] or None, "relative_weight": row["relative_weight"], "payment_rate": row["payment_rate"],
        "national_unadjusted_copayment": row["national_copay"],
        "minimum_unadjusted_copayment": row["minimum_copay"],
        "notices": [*choice.notices, *([f"{code}-{modifier}: OPPS pays by code; the rate is {code}'s, whatever the "
                                        f"modifier"] if modifier else [])],
        "source": {"dataset": "opps", "release": choice.release.label, "row": row["source_line"]},
    }


def fee_table(hc: Hcpcs, release: Release, qp: bool = False):  # noqa: ANN201 - polars.DataFrame
    """Every code and modifier row of a fee-schedule release priced in every locality, both settings, as
    one vectorised computation (polars): the same formula, rounding, status and NA rules and OPPS cap as
    `fee`. Columns: hcpcs, modifier, status, mac, locality_number, nonfacility_amount, facility_amount
    (null where the status is not priced from RVUs or the setting is NA), nonfacility_capped,
    facility_capped."""
    import polars as pl

    conn = hc.store.conn
    basis = payment_basis(release, qp)
    rvu = pl.DataFrame(
        queries.rvu_price_rows(conn, release.id, basis.table),
        schema=["hcpcs", "modifier", "status", "work", "pe_nonfacility", "pe_facility", "mp", "opps_pe_nonfacility",
                "opps_pe_facility", "opps_mp", "cf", "na_nonfacility", "na_facility"], orient="row",
    ).with_columns(pl.col(c).fill_null(0.0) for c in ("work", "pe_nonfacility", "pe_facility", "mp",
                                                      "opps_pe_nonfacility", "opps_pe_facility", "opps_mp"))
    if basis.code == "qp":
        rvu = rvu.with_columns(pl.lit(basis.conversion_factor, pl.Float64).alias("cf"))
    gpci = pl.DataFrame(
        [(loc.mac, loc.locality_number, loc.work, loc.pe, loc.mp) for loc in localities(hc, release)],
        schema=["mac", "locality_number", "gw", "gpe", "gmp"], orient="row",
    )
    caps = pl.DataFrame(
        # The OPPSCAP file is priced at the non-QP factor: QP caps come from the RVU file's OPPS columns.
        queries.opps_cap_prices(conn, release.id) if basis.code != "qp" else [],
        schema={"hcpcs": pl.String, "modifier": pl.String, "mac": pl.String, "locality_number": pl.String,
                "cap_file_nonfacility": pl.Float64, "cap_file_facility": pl.Float64},
        orient="row",
    )
    capped_codes = caps.select("hcpcs", "modifier").unique().with_columns(pl.lit(True).alias("in_cap_file"))

    def cents(expr: pl.Expr) -> pl.Expr:
        # Half-up rounding to the cent; the epsilon absorbs binary floating-point error, far below the
        # 1e-7 cent resolution of the exact decimal product.
        return ((expr * 100 + 0.5 + 5e-9).floor() / 100)

    table = rvu.join(gpci, how="cross").join(caps, on=["hcpcs", "modifier", "mac", "locality_number"], how="left")
    table = table.join(capped_codes, on=["hcpcs", "modifier"], how="left")
    priced = pl.col("status").is_in(sorted(PRICED_STATUSES))
    out = []
    for setting in SETTINGS:
        amount = cents((pl.col("work") * pl.col("gw") + pl.col(f"pe_{setting}") * pl.col("gpe")
                        + pl.col("mp") * pl.col("gmp")) * pl.col("cf"))
        computed_cap = cents((pl.col("work") * pl.col("gw") + pl.col(f"opps_pe_{setting}") * pl.col("gpe")
                              + pl.col("opps_mp") * pl.col("gmp")) * pl.col("cf"))
        cap = (pl.when(pl.col("in_cap_file").is_not_null()).then(pl.col(f"cap_file_{setting}"))
               .when((pl.col(f"opps_pe_{setting}") != 0) | (pl.col("opps_mp") != 0)).then(computed_cap)
               .otherwise(None))
        payable = priced & (pl.col(f"na_{setting}").fill_null("") == "")
        out.append(pl.when(payable).then(pl.min_horizontal(amount, cap).fill_null(amount)).otherwise(None)
                   .alias(f"{setting}_amount"))
        out.append((payable & cap.is_not_null() & (cap < amount)).fill_null(False).alias(f"{setting}_capped"))
    return table.select("hcpcs", "modifier", "status", "mac", "locality_number", *out)
