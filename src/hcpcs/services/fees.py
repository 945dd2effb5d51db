"""Medicare physician fee schedule amounts, computed as CMS publishes the formula:

    amount = (work RVU x work GPCI + PE RVU x PE GPCI + MP RVU x MP GPCI) x conversion factor

rounded half-up to the cent, with the RVU row of the modifier billed (global, 26 or TC), the
non-facility or facility practice-expense RVU, the GPCIs of the locality and the conversion factor of the
RVU release in force on the date of service. Imaging services under the Deficit Reduction Act cap pay the
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
from hcpcs.core.codes import normalize
from hcpcs.core.dates import parse_date
from hcpcs.core.errors import InvalidInputError, NotCoveredError, UnknownCodeError
from hcpcs.services.results import FeeResult
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


def _rvu_row(hc: Hcpcs, release: Release, code: str, modifier: str) -> sqlite3.Row:
    rows = queries.rvu_rows(hc.store.conn, release.id, code)
    if not rows:
        if not queries.code_known_anywhere(hc.store.conn, code):
            raise UnknownCodeError(f"{code} is in no loaded release")
        raise UnknownCodeError(f"{code} is not in the fee-schedule file {release.label}")
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


def fee(code: str, modifier: str | None = None, *, locality: str | None = None, state: str | None = None,
        county: str | None = None, national: bool = False, setting: str = "nonfacility",
        as_of: str | date | None = None, hc: Hcpcs | None = None) -> FeeResult:
    """The fee-schedule amount of one code/modifier in one locality and setting, with its inputs."""
    from hcpcs.store.session import default

    hc = hc or default()
    code = normalize(code)
    modifier = (modifier or "").strip().upper().lstrip("-")
    if modifier not in ("", "26", "TC", "53"):
        raise InvalidInputError(f"modifier {modifier!r}: the fee schedule prices the global row, 26 and TC")
    if setting not in SETTINGS:
        raise InvalidInputError(f"setting {setting!r}: use nonfacility or facility")
    day = parse_date(as_of, "as-of date")
    choice = hc.release_for("mpfs", day)
    release = choice.release
    notices = list(choice.notices)
    if national or (not locality and not state):
        loc = NATIONAL
    else:
        loc, more = find_locality(hc, release, locality, state, county)
        notices.extend(more)
        borrowed = locality_release(hc, release)[1]
        if borrowed:
            notices.append(borrowed)
    row = _rvu_row(hc, release, code, modifier)
    return price_row(hc, release, row, loc, setting, day, notices)


def price_row(hc: Hcpcs, release: Release, row: sqlite3.Row, loc: Locality, setting: str, day: date,
              notices: list[str]) -> FeeResult:
    status = row["status"]
    pe = row["nonfac_pe_rvu"] if setting == "nonfacility" else row["fac_pe_rvu"]
    na = row["nonfac_na"] if setting == "nonfacility" else row["fac_na"]
    cf = row["conv_factor"] or release.meta.get("conversion_factor")
    status_meaning = indicators.meaning("mpfs_status", status)
    result: FeeResult = {
        "code": row["hcpcs"],
        "modifier": row["modifier"] or None,
        "locality": loc.to_dict(),
        "setting": setting,
        "as_of": day.isoformat(),
        "release": release.label,
        "status": {"code": status, "meaning": status_meaning},
        "conversion_factor": cf,
        "rvus": {"work": row["work_rvu"], "pe": pe, "mp": row["mp_rvu"]},
        "gpci": {"work": loc.work, "pe": loc.pe, "mp": loc.mp},
        "opps_cap_applied": False,
        "opps_cap_amount": None,
        "amount": None,
        "payable": False,
        "reason": None,
        "formula": None,
        "notices": notices,
        "source": {"dataset": "mpfs", "release": release.label, "row": row["source_line"],
                   "files": sorted({f["name"] for f in release.source_files if f.get("kind") in ("pprrvu", "gpci")})},
    }
    if status in CARRIER_PRICED:
        result["reason"] = (f"status C: {status_meaning} No national amount: the Medicare administrative "
                            "contractor prices it.")
        return result
    if status not in PRICED_STATUSES:
        result["reason"] = f"status {status}: {status_meaning}"
        return result
    amount = compute_amount(row["work_rvu"], pe, row["mp_rvu"], loc, cf)
    result["formula"] = (f"({row['work_rvu']:.2f} x {loc.work:.3f} + {pe:.2f} x {loc.pe:.3f} + "
                         f"{row['mp_rvu']:.2f} x {loc.mp:.3f}) x {cf:.4f} = {amount}")
    result["payable"] = True
    result["reason"] = f"status {status}: {status_meaning}"
    if na:
        result["notices"] = [*notices, f"NA indicator for the {setting} setting: "
                             + (indicators.meaning("mpfs_na_indicator", na) or "CMS has not developed PE RVUs "
                                "in this setting because the service is rarely or never performed there")]
    cap = opps_cap(hc, release, row, loc, setting)
    if cap is not None:
        result["opps_cap_amount"] = float(cap[0])
        if cap[0] < amount:
            result["opps_cap_applied"] = True
            result["formula"] += (f"; OPPS cap (Deficit Reduction Act): lesser of {amount} and the OPPS-based "
                                  f"amount {cap[0]} ({cap[1]}) = {cap[0]}")
            amount = cap[0]
    result["amount"] = float(amount)
    return result


def opps_cap(hc: Hcpcs, release: Release, row: sqlite3.Row, loc: Locality,
             setting: str) -> tuple[Decimal, str] | None:
    """The OPPS-based cap amount for an imaging service, or None when the code is not capped. The OPPSCAP
    file's amount for the locality is used where present; otherwise (national, or a bundle loaded without
    it) the amount is computed from the RVU file's OPPS PE and MP columns with the same formula."""
    if loc.mac:
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
    amount = compute_amount(row["work_rvu"], pe_opps, row["mp_opps"], loc, row["conv_factor"])
    return amount, "OPPS PE and MP columns of the RVU file"


def all_localities(code: str, modifier: str | None = None, *, setting: str = "nonfacility",
                   as_of: str | date | None = None, hc: Hcpcs | None = None) -> dict[str, Any]:
    from hcpcs.store.session import default

    hc = hc or default()
    code = normalize(code)
    modifier = (modifier or "").strip().upper()
    day = parse_date(as_of, "as-of date")
    choice = hc.release_for("mpfs", day)
    row = _rvu_row(hc, choice.release, code, modifier)
    items = [price_row(hc, choice.release, row, loc, setting, day, []) for loc in localities(hc, choice.release)]
    items.sort(key=lambda r: (-(r["amount"] or 0), r["locality"]["id"]))
    return {"code": code, "modifier": modifier or None, "setting": setting, "as_of": day.isoformat(),
            "release": choice.release.label, "notices": choice.notices, "localities": items}


def fee_history(code: str, modifier: str | None = None, *, locality: str | None = None,
                setting: str = "nonfacility", hc: Hcpcs | None = None) -> list[dict[str, Any]]:
    """The amount and its inputs in every loaded fee-schedule release."""
    from hcpcs.store.session import default

    hc = hc or default()
    code = normalize(code)
    modifier = (modifier or "").strip().upper()
    out = []
    for release in sorted((r for r in hc.releases if r.dataset == "mpfs"), key=lambda r: r.effective_start):
        rows = [r for r in queries.rvu_rows(hc.store.conn, release.id, code) if r["modifier"] == modifier]
        if not rows:
            out.append({"release": release.label, "effective_start": release.effective_start.isoformat(),
                        "in_file": False})
            continue
        loc = find_locality(hc, release, locality)[0] if locality else NATIONAL
        priced = price_row(hc, release, rows[0], loc, setting, release.effective_start, [])
        priced["effective_start"] = release.effective_start.isoformat()
        priced["in_file"] = True
        out.append(priced)
    if not out:
        raise NotCoveredError("no fee-schedule release is loaded")
    return out


def opps_fee(code: str, as_of: str | date | None = None, hc: Hcpcs | None = None) -> dict[str, Any]:
    """Hospital outpatient payment (OPPS Addendum B) of the release in force."""
    from hcpcs.store.session import default

    hc = hc or default()
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
        "notices": choice.notices,
        "source": {"dataset": "opps", "release": choice.release.label, "row": row["source_line"]},
    }


def fee_table(hc: Hcpcs, release: Release):  # noqa: ANN201 - polars.DataFrame
    """Every code and modifier row of a fee-schedule release priced in every locality, both settings, as
    one vectorised computation (polars): the same formula, rounding, status rules and OPPS cap as `fee`.
    Columns: hcpcs, modifier, status, mac, locality_number, nonfacility_amount, facility_amount (null
    where the status is not priced from RVUs), nonfacility_capped, facility_capped."""
    import polars as pl

    conn = hc.store.conn
    rvu = pl.DataFrame(
        queries.rvu_price_rows(conn, release.id),
        schema=["hcpcs", "modifier", "status", "work", "pe_nonfacility", "pe_facility", "mp", "opps_pe_nonfacility",
                "opps_pe_facility", "opps_mp", "cf"], orient="row",
    ).with_columns(pl.col(c).fill_null(0.0) for c in ("work", "pe_nonfacility", "pe_facility", "mp",
                                                      "opps_pe_nonfacility", "opps_pe_facility", "opps_mp"))
    gpci = pl.DataFrame(
        [(loc.mac, loc.locality_number, loc.work, loc.pe, loc.mp) for loc in localities(hc, release)],
        schema=["mac", "locality_number", "gw", "gpe", "gmp"], orient="row",
    )
    caps = pl.DataFrame(
        queries.opps_cap_prices(conn, release.id),
        schema=["hcpcs", "modifier", "mac", "locality_number", "cap_file_nonfacility", "cap_file_facility"],
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
        out.append(pl.when(priced).then(pl.min_horizontal(amount, cap).fill_null(amount)).otherwise(None)
                   .alias(f"{setting}_amount"))
        out.append((priced & cap.is_not_null() & (cap < amount)).fill_null(False).alias(f"{setting}_capped"))
    return table.select("hcpcs", "modifier", "status", "mac", "locality_number", *out)
