"""Finding codes: ranked full-text search over descriptors (with the synonyms and abbreviations coders
type), code prefixes and ranges; and codes similar to a given one."""

from __future__ import annotations

import re
import sqlite3
from datetime import date
from typing import Any

from hcpcs.core import indicators
from hcpcs.core.codes import kind_of, normalize
from hcpcs.core.dates import parse_date
from hcpcs.core.errors import InvalidInputError, MalformedCodeError, UnknownCodeError
from hcpcs.store import queries
from hcpcs.store.session import Hcpcs

# What coders type -> what CMS descriptors say. Each entry expands a typed word into alternatives
# (phrases allowed); matching is on porter-stemmed tokens.
SYNONYMS: dict[str, list[str]] = {
    "xray": ["x-ray", "xray", "radiograph", "radiologic"],
    "x-ray": ["x-ray", "xray", "radiograph", "radiologic"],
    "imrt": ["imrt", "intensity modulated", "ntsty modul"],
    "igrt": ["igrt", "image guidance", "guidance", "guidnc"],
    "sbrt": ["sbrt", "stereotactic body", "stereotactic"],
    "srs": ["srs", "stereotactic radiosurgery", "radiosurgery"],
    "stereotactic": ["stereotactic", "stereotaxis", "srs", "sbrt"],
    "ct": ["ct", "computed tomography", "cat scan"],
    "mri": ["mri", "magnetic resonance"],
    "us": ["ultrasound", "ultrasonic", "echo"],
    "ultrasound": ["ultrasound", "ultrasonic", "echo", "us"],
    "echo": ["echo", "ultrasound", "ultrasonic"],
    "ekg": ["ekg", "ecg", "electrocardiogram"],
    "ecg": ["ekg", "ecg", "electrocardiogram"],
    "rx": ["radiation therapy", "radiotherapy", "rad tx", "rx"],
    "radiotherapy": ["radiotherapy", "radiation therapy", "rad tx", "radiation treatment"],
    "inj": ["injection", "inj"],
    "injection": ["injection", "inj"],
    "dme": ["durable medical equipment", "dme"],
    "wc": ["wheelchair", "whlchr"],
    "wheelchair": ["wheelchair", "whlchr", "wc"],
    "tx": ["treatment", "therapy", "tx"],
    "dx": ["diagnostic", "diagnosis", "dx"],
}
# CMS short descriptors abbreviate hard (28 characters): the words they shorten, for matching.
ABBREVIATIONS: dict[str, list[str]] = {
    "radiation": ["radj", "rad", "radiat"], "therapy": ["tx", "ther"], "treatment": ["tx", "trtmt", "trmt"],
    "delivery": ["dlvr", "dlvry"], "guidance": ["guid", "guidnc"], "intensity": ["ntsty"],
    "modulated": ["modul"], "stereotactic": ["strtctc", "stereotac"], "localization": ["localize", "lclz"],
    "ultrasound": ["us", "echo"], "ultrasonic": ["us", "echo"], "device": ["dev"], "injection": ["inj"],
    "evaluation": ["eval"], "management": ["mgmt"], "complex": ["cplx"], "simple": ["smpl"],
}
for _word, _short in ABBREVIATIONS.items():
    SYNONYMS.setdefault(_word, [_word]).extend(a for a in _short if a not in SYNONYMS.get(_word, []))

_RANGE = re.compile(r"^([A-Z]?\d{3,4}[0-9A-Z]?)\s*-\s*([A-Z]?\d{3,4}[0-9A-Z]?)$")
_PREFIX = re.compile(r"^([0-9A-Z]{1,4})\*$")
_TOKEN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)?")


def _fts_term(term: str) -> str:
    words = _TOKEN.findall(term.lower().replace("-", " "))
    if not words:
        return ""
    return '"' + " ".join(words) + '"' if len(words) > 1 else words[0] + ("*" if len(words[0]) >= 3 else "")


def fts_query(text: str) -> str:
    """The FTS5 MATCH expression for what a user typed: every word required, each word matched by itself
    or any of its synonyms."""
    groups = []
    for word in _TOKEN.findall(text.lower()):
        alternatives = SYNONYMS.get(word) or SYNONYMS.get(word.replace("-", "")) or [word]
        terms = [t for t in dict.fromkeys(_fts_term(a) for a in [word, *alternatives]) if t]
        if terms:
            groups.append("(" + " OR ".join(terms) + ")")
    if not groups:
        raise InvalidInputError(f"search text {text!r} has no words to search for")
    return " AND ".join(groups)


def _latest_details(hc: Hcpcs, code: str, day: date | None) -> dict[str, Any]:
    conn = hc.store.conn
    kind = kind_of(code)
    rows = queries.hcpcs_rows_all_releases(conn, code, "modifier" if kind == "modifier" else "procedure")
    info: dict[str, Any] = {"code": code, "kind": kind}
    if rows:
        row = rows[-1]
        if day is not None:
            in_force = [r for r in rows if r["effective_start"] <= day.isoformat()]
            row = in_force[-1] if in_force else rows[0]
        info.update({
            "short_description": row["short_description"], "long_description": row["long_description"],
            "release": row["label"], "betos": row["betos"], "type_of_service": row["type_of_service"],
            "added_date": row["added_date"], "termination_date": row["termination_date"],
        })
    rvu = queries.rvu_rows_all_releases(conn, code)
    rvu_base = [r for r in rvu if r["modifier"] == ""]
    if rvu_base:
        last = rvu_base[-1]
        if day is not None:
            covering = [r for r in rvu_base if r["effective_start"][:4] == str(day.year)
                        and r["effective_start"] <= day.isoformat()]
            last = covering[-1] if covering else last
        info["status"] = last["status"]
        info["mpfs_release"] = last["label"]
        if not rows:
            info["short_description"] = last["description"]
            info["long_description"] = None
            info["release"] = last["label"]
    return info


def _active(info: dict[str, Any], day: date) -> bool:
    iso = day.isoformat()
    if info.get("added_date") is not None or info.get("termination_date") is not None:
        return (not info.get("added_date") or info["added_date"] <= iso) and (
            not info.get("termination_date") or iso <= info["termination_date"])
    mpfs = info.get("mpfs_release")
    return bool(mpfs) and info.get("status") != "D"


def _code_listing(hc: Hcpcs, text: str) -> list[str] | None:
    upper = text.strip().upper().replace(" ", "")
    conn = hc.store.conn
    match = _RANGE.match(upper)
    if match:
        low, high = match.groups()
        if len(low) != len(high):
            raise InvalidInputError(f"code range {text!r}: both ends need the same length")
        return queries.codes_between(conn, low, high)
    match = _PREFIX.match(upper)
    if match:
        return queries.codes_starting(conn, match.group(1))
    try:
        code = normalize(upper)
    except MalformedCodeError:
        return None
    return [code] if queries.code_known_anywhere(conn, code) else None


def search(text: str, *, active_on: str | date | None = None, betos: str | None = None,
           type_of_service: str | None = None, status: str | None = None, limit: int = 20,
           hc: Hcpcs | None = None) -> dict[str, Any]:
    from hcpcs.store.session import default

    hc = hc or default()
    if not text or not text.strip():
        raise InvalidInputError("search needs some text, a code, a prefix like 774* or a range like G6001-G6017")
    if limit < 1 or limit > 1000:
        raise InvalidInputError("limit must be between 1 and 1000")
    day = parse_date(active_on, "active-on date") if active_on else None
    codes = _code_listing(hc, text)
    scored: list[tuple[float, str]] = []
    if codes is not None:
        scored = [(float(i), c) for i, c in enumerate(codes)]
        mode = "codes"
        query = None
    else:
        mode = "text"
        query = fts_query(text)
        try:
            rows = queries.search_descriptors(hc.store.conn, query, texts=1000, codes=400)
        except sqlite3.OperationalError as exc:
            raise InvalidInputError(f"search text {text!r} could not be searched ({exc})") from exc
        scored = [(r["score"], r["code"]) for r in rows]
    results = []
    for score, code in scored:
        info = _latest_details(hc, code, day)
        if day is not None and not _active(info, day):
            continue
        if betos and (info.get("betos") or "").upper() != betos.upper():
            continue
        if type_of_service and type_of_service.upper() not in (info.get("type_of_service") or "").split(","):
            continue
        if status and (info.get("status") or "").upper() != status.upper():
            continue
        info["score"] = round(-score, 3) if mode == "text" else None
        results.append(info)
        if len(results) >= limit:
            break
    return {"query": text, "mode": mode, "fts": query, "active_on": day.isoformat() if day else None,
            "count": len(results), "results": results}


def similar(code: str, *, limit: int = 15, hc: Hcpcs | None = None) -> dict[str, Any]:
    """Codes related to `code`, each with the reasons: same BETOS family, neighbouring codes of the same
    range, shared NCCI bundling partners, similar descriptor words."""
    from hcpcs.store.session import default

    hc = hc or default()
    code = normalize(code)
    conn = hc.store.conn
    if not queries.code_known_anywhere(conn, code):
        raise UnknownCodeError(f"{code} is in no loaded release")
    me = _latest_details(hc, code, None)
    candidates: dict[str, dict[str, Any]] = {}

    def add(other: str, points: float, reason: str) -> None:
        if other == code:
            return
        entry = candidates.setdefault(other, {"code": other, "score": 0.0, "reasons": []})
        entry["score"] += points
        if reason not in entry["reasons"]:
            entry["reasons"].append(reason)

    # NCCI: codes CMS pairs with this one as mutually exclusive (alternative ways of doing the same thing).
    ptp_releases = [r for r in hc.releases if r.dataset == "ncci_ptp_practitioner"]
    if ptp_releases:
        rid = max(ptp_releases, key=lambda r: r.effective_start).id
        for other, rationale in queries.ptp_partners_in_force(conn, rid, code):
            if rationale and "mutually exclusive" in rationale.lower():
                add(other, 6.0, f"NCCI pairs it with {code} as mutually exclusive")
    # Descriptor words.
    text = " ".join(filter(None, [me.get("long_description"), me.get("short_description")]))
    words = [w for w in set(re.findall(r"[a-z]{5,}", text.lower())) if w not in {"other", "service", "services", "procedure"}]
    if words:
        terms = {f"{w}*" if len(w) > 5 else w for w in words}
        terms.update(a for w in words for a in ABBREVIATIONS.get(w, ()) if len(a) >= 3)
        query = " OR ".join(sorted(terms))
        rows = queries.search_descriptors(conn, query, texts=200, codes=40)
        best = min((r["score"] for r in rows), default=0) or -1.0
        for row in rows:
            add(row["code"], 5.0 * row["score"] / best, "similar descriptor words")
    # Same BETOS family and code range.
    if me.get("betos"):
        for other in queries.hcpcs_codes_of_betos(conn, me["betos"], code[:3]):
            add(other, 1.5, f"same BETOS category {me['betos']} ({indicators.meaning('hcpcs_betos', me['betos'])})")
    for other in queries.codes_sharing_prefix(conn, code[:4]):
        add(other, 0.5, f"same code range {code[:4]}x")
    ranked = sorted(candidates.values(), key=lambda c: (-c["score"], c["code"]))[:limit]
    for entry in ranked:
        details = _latest_details(hc, entry["code"], None)
        entry["short_description"] = details.get("short_description")
        entry["kind"] = details.get("kind")
        entry["score"] = round(entry["score"], 2)
    return {"code": code, "similar": ranked}
