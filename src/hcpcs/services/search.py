"""Finding codes: ranked full-text search over descriptors, with the lay terms, brand names and
shorthand coders type (`search_terms.toml`), code prefixes and ranges; and codes similar to a given one.

How a text search ranks (each step one FTS5 query over every descriptor of every loaded release):

1. every typed word (or phrase of the vocabulary) must match, as a whole word or one of its alternatives;
2. then the same with each word also matching as a prefix (a word being typed: "stereot");
3. when those find fewer codes than asked for, every word but one must match (a word that no descriptor
   uses, such as "scan" in "bone density scan", does not empty the answer).

Within each step the best bm25 comes first, except that codes of another kind than the search is about
come after the others: codes no longer valid (terminated, or gone from the newest fee schedule),
reporting-only codes (fee-schedule status M, CPT Category II), dental codes (unless the search is about
teeth) and modifiers (unless it asks for one)."""

from __future__ import annotations

import re
import sqlite3
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

from hcpcs.core import guidance, indicators
from hcpcs.core.codes import kind_of, normalize, split_modifier
from hcpcs.core.dates import parse_date
from hcpcs.core.errors import InvalidInputError, MalformedCodeError, UnknownCodeError
from hcpcs.store import queries
from hcpcs.store.session import Hcpcs

_RANGE = re.compile(r"^([A-Z]?\d{3,4}[0-9A-Z]?)\s*-\s*([A-Z]?\d{3,4}[0-9A-Z]?)$")
_PREFIX = re.compile(r"^([0-9A-Z]{1,4})\*$")
_TOKEN = re.compile(r"[a-z0-9]+")  # as the FTS5 unicode61 tokenizer splits text
_LETTERS_DIGITS = re.compile(r"[a-z]+|[0-9]+")
DENTAL_WORDS = {"dental", "tooth", "teeth", "denture", "dentures", "oral", "periodontal", "crown", "filling",
                "endodontic", "orthodontic", "implant", "gum", "gums"}
CANDIDATE_TEXTS, CANDIDATE_CODES = 1000, 250
_UNLISTED: dict[tuple, frozenset[str]] = {}  # per store and release list: codes CMS calls unlisted or NOC


@dataclass(frozen=True)
class Vocabulary:
    phrases: dict[str, tuple[str, ...]]
    words: dict[str, tuple[str, ...]]
    abbreviations: dict[str, tuple[str, ...]]  # descriptor word -> its short-descriptor forms
    expansions: dict[str, tuple[str, ...]]  # short-descriptor form -> the words it shortens
    stop_words: frozenset[str]
    longest_phrase: int


@cache
def vocabulary() -> Vocabulary:
    """The search vocabulary (`search_terms.toml`): typed phrases and words with their alternatives."""
    text = (resources.files("hcpcs.services") / "search_terms.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)

    def key(phrase: str) -> str:
        return " ".join(_TOKEN.findall(phrase.lower()))

    phrases = {key(k): tuple(v) for k, v in data.get("phrases", {}).items()}
    words = {k.lower(): tuple(v) for k, v in data.get("words", {}).items()}
    abbreviations = {k.lower(): tuple(v) for k, v in data.get("abbreviations", {}).items()}
    for word, short in abbreviations.items():
        words[word] = tuple(dict.fromkeys((*words.get(word, (word,)), *short)))
    expansions: dict[str, list[str]] = {}
    for word, short in abbreviations.items():
        for form in short:
            expansions.setdefault(form, []).append(word)
    return Vocabulary(phrases, words, abbreviations, {k: tuple(v) for k, v in expansions.items()},
                      frozenset(data.get("stop_words", ())), max((len(p.split()) for p in phrases), default=1))


def _singular(word: str) -> list[str]:
    forms = [word]
    if word.endswith("es") and len(word) > 4:
        forms.append(word[:-2])
    if word.endswith("s") and len(word) > 3:
        forms.append(word[:-1])
    return forms


def _alternatives(word: str, vocab: Vocabulary) -> list[str]:
    """A typed word and what it may match: its vocabulary entry (or its singular's), and for a word mixing
    letters and digits (b12, pcv13, o2) the split form the descriptors' tokens give ("b 12")."""
    found: list[str] = [word]
    for form in _singular(word):
        if form in vocab.words:
            found.extend(vocab.words[form])
            break
    parts = _LETTERS_DIGITS.findall(word)
    if len(parts) > 1:
        found.append(" ".join(parts))
    return list(dict.fromkeys(found))


def term_groups(text: str) -> list[list[str]]:
    """What a search text asks for: one group per typed word or vocabulary phrase, each the alternatives
    that satisfy it. Stop words are dropped (unless nothing else is left)."""
    vocab = vocabulary()
    tokens = _TOKEN.findall(text.lower().replace("'", ""))
    groups: list[list[str]] = []
    i = 0
    while i < len(tokens):
        for size in range(min(vocab.longest_phrase, len(tokens) - i), 1, -1):
            phrase = " ".join(tokens[i:i + size])
            if phrase in vocab.phrases:
                groups.append(list(dict.fromkeys((phrase, *vocab.phrases[phrase]))))
                i += size
                break
        else:
            word = tokens[i]
            i += 1
            if word not in vocab.stop_words:
                groups.append(_alternatives(word, vocab))
    if not groups:
        groups = [_alternatives(word, vocab) for word in tokens]
    return groups


def _fts_term(alternative: str, prefix: bool) -> str:
    tokens = _TOKEN.findall(alternative.lower())
    if not tokens:
        return ""
    if len(tokens) > 1:
        return '"' + " ".join(tokens) + '"'
    return tokens[0] + ("*" if prefix and len(tokens[0]) >= 3 else "")


def _group_expression(group: list[str], prefix: bool) -> str:
    terms = [t for t in dict.fromkeys(_fts_term(a, prefix) for a in group) if t]
    return "(" + " OR ".join(terms) + ")" if terms else ""


def _all_of(groups: list[list[str]], prefix: bool) -> str:
    return " AND ".join(e for e in (_group_expression(g, prefix) for g in groups) if e)


def fts_query(text: str) -> str:
    """The FTS5 MATCH expression of the first step for what a user typed: every word required, each
    matched by itself or one of its alternatives."""
    groups = term_groups(text)
    expression = _all_of(groups, prefix=False)
    if not expression:
        raise InvalidInputError(f"search text {text!r} has no words to search for")
    return expression


def query_plan(text: str, frequency: Callable[[str], int] | None = None,
               relaxed: bool = True) -> list[tuple[int, str]]:
    """The FTS5 expressions a text search runs, in order, each with its step (0 whole words, 1 prefixes,
    2 all words but one). The step-2 expressions leave out the commonest word first (`frequency` counts
    the descriptors a group's expression matches), so that "urine drug screen" keeps "drug screen"."""
    groups = term_groups(text)
    if not groups or not _all_of(groups, prefix=False):
        raise InvalidInputError(f"search text {text!r} has no words to search for")
    plan = [(0, _all_of(groups, prefix=False)), (1, _all_of(groups, prefix=True))]
    if relaxed and len(groups) > 1:
        order = list(range(len(groups)))
        if frequency is not None:
            order.sort(key=lambda i: -frequency(_group_expression(groups[i], prefix=True)))
        for left_out in order:
            rest = groups[:left_out] + groups[left_out + 1:]
            plan.append((2, _all_of(rest, prefix=True)))
    return [(step, expression) for step, expression in dict.fromkeys(plan) if expression]


def _newest(hc: Hcpcs, dataset: str) -> Any:
    releases = [r for r in hc.releases if r.dataset == dataset]
    return max(releases, key=lambda r: (r.effective_start, r.id)) if releases else None


def kind_class(code: str, facts: dict[str, str | None], day: date, text_words: set[str],
               has_mpfs: bool) -> int:
    """0 for the codes a search is about; 1 no longer valid on `day`; 2 another kind of code: reporting
    only (fee-schedule status M, CPT Category II), dental (unless the search is about teeth), modifiers
    (unless it asks for one)."""
    kind = kind_of(code)
    if kind == "modifier":
        return 0 if "modifier" in text_words or "modifiers" in text_words else 2
    if code.startswith("D") and kind == "level2" and not DENTAL_WORDS & text_words:
        return 2
    if (kind == "cpt" and code.endswith("F")) or facts.get("status") == "M":
        return 2
    terminated = facts.get("termination_date")
    if terminated and terminated < day.isoformat():
        return 1
    if kind == "level2" and not facts.get("in_hcpcs") and not facts.get("in_mpfs"):
        return 1  # dropped from the newest HCPCS file
    if kind == "cpt" and has_mpfs and (not facts.get("in_mpfs") or facts.get("status") == "D"):
        return 1
    return 0


def ranked_codes(hc: Hcpcs, text: str, wanted: int, day: date | None = None) -> tuple[list[str], dict[str, float]]:
    """The codes a text search finds, best first, and the bm25 score of each (lower is better)."""
    conn = hc.store.conn
    found: dict[str, tuple[int, int, float]] = {}  # code -> (step, position of its expression, bm25)

    def frequency(expression: str) -> int:
        return queries.count_descriptor_matches(conn, expression, CANDIDATE_TEXTS)

    def run(position: int, step: int, expression: str) -> None:
        rows = queries.search_descriptors(conn, expression, texts=CANDIDATE_TEXTS, codes=CANDIDATE_CODES)
        for row in rows:
            if row["code"] not in found:
                found[row["code"]] = (step, position, row["score"])

    try:
        for position, (step, expression) in enumerate(query_plan(text, relaxed=False)):
            if step == 0 or len(found) < CANDIDATE_CODES:
                run(position, step, expression)
        if len(found) < wanted:  # all words but one, only when all words find too few codes
            for position, (step, expression) in enumerate(query_plan(text, frequency)):
                if step == 2 and len(found) < wanted:
                    run(position, step, expression)
    except sqlite3.OperationalError as exc:
        raise InvalidInputError(f"search text {text!r} could not be searched ({exc})") from exc
    hcpcs_release, mpfs_release = _newest(hc, "hcpcs"), _newest(hc, "mpfs")
    facts = queries.code_facts(conn, list(found), hcpcs_release.id if hcpcs_release else None,
                               mpfs_release.id if mpfs_release else None)
    words = set(_TOKEN.findall(text.lower()))
    reference_day = day or date.today()
    classes = {code: kind_class(code, facts[code], reference_day, words, mpfs_release is not None)
               for code in found}
    key = (id(hc.store), tuple(r.id for r in hc.releases))
    if key not in _UNLISTED:
        _UNLISTED.clear()
        _UNLISTED[key] = frozenset(queries.unlisted_codes(conn))
    unlisted = _UNLISTED[key]

    def rank(code: str) -> tuple:
        step, position, score = found[code]
        # Whole words and prefixes rank together; all-but-one-word matches come after them, by the
        # word they leave out (commonest first). Within that: the right kind of code, specific before
        # unlisted (NOC) codes, then bm25.
        return (min(step, 1), position if step == 2 else 0, classes[code], code in unlisted, step, score)

    order = sorted(found, key=rank)
    return order, {code: found[code][2] for code in found}


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
    # Ended: terminated before the date asked about (today when none), whatever the last fee-schedule status.
    ended_on = info.get("termination_date")
    info["ended"] = bool(ended_on) and ended_on < (day or date.today()).isoformat()
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
    conn = hc.store.conn
    code, modifier = split_modifier(text)
    if modifier:  # a code as billed, G6002-26 or G6002 26: the code
        return [code] if queries.code_known_anywhere(conn, code) else None
    upper = text.strip().upper().replace(" ", "")
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
    if limit < 0:
        raise InvalidInputError("limit must be 0 (every result) or more")
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
        order, scores = ranked_codes(hc, text, limit or CANDIDATE_CODES, day)
        scored = [(scores[code], code) for code in order]
    results = []
    total = 0
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
        total += 1
        if limit and len(results) >= limit:
            continue  # counted, not shown
        info["score"] = round(-score, 3) if mode == "text" else None
        results.append(info)
    # A text search ranks at most CANDIDATE_CODES codes: when it found that many, there may be more.
    exact = mode == "codes" or len(scored) < CANDIDATE_CODES
    return {"query": text, "mode": mode, "fts": query, "active_on": day.isoformat() if day else None,
            "count": len(results), "total": total, "total_exact": exact, "limit": limit or None,
            "results": results}


# CPT sections (by code number) as the BETOS families of the HCPCS file name the kind of service:
# M evaluation and management, P procedures (radiation oncology is BETOS P7), I imaging, T tests.
CPT_FAMILIES = ((0, 1999, "P"), (10004, 69999, "P"), (70010, 77260, "I"), (77261, 77799, "P"),
                (77800, 79999, "I"), (80000, 89999, "T"), (90000, 99199, "medicine"), (99200, 99499, "M"),
                (99500, 99999, "medicine"))
DESCRIPTOR_STOP_WORDS = {"other", "service", "services", "procedure", "procedures", "with", "without", "each",
                         "than", "more", "only", "includes", "including", "patient", "unit", "used", "same",
                         "per", "and", "for", "the", "any", "not", "one", "two", "first", "additional", "list",
                         "separately", "addition", "code", "primary", "min", "use", "has", "are", "all"}


def service_family(code: str, betos: str | None) -> str:
    """The kind of service a code is, for keeping `similar` within it: the BETOS family (first letter) of a
    HCPCS Level II code, the section of a CPT code, and apart: dental codes, modifiers, reporting-only
    codes (CPT Category II) and emerging technology (Category III)."""
    kind = kind_of(code)
    if kind == "modifier":
        return "modifier"
    if kind == "level2":
        if code.startswith("D"):
            return "dental"
        return betos[0] if betos else f"level2-{code[0]}"
    if code.endswith("F"):
        return "measurement"
    if code.endswith("T"):
        return "category3"
    if code.endswith(("U", "M")):
        return "T"  # proprietary laboratory analyses, multianalyte assays
    if not code.isdigit():
        return "medicine"  # vaccine administration (nnnnA) and other lettered Category I codes
    number = int(code)
    return next((family for low, high, family in CPT_FAMILIES if low <= number <= high), "medicine")


def _guidance_links(code: str) -> dict[str, str]:
    """Codes the cited report-instead guidance names with `code`: what replaces it, what it replaces, and
    the other choices of the same row, each with why."""
    links: dict[str, str] = {}
    for row in guidance.builtin_table().rows:
        period = f"{row.start.year}-{row.end.year}" if row.end else f"from {row.start.year}"
        billed = code + (f"-{row.modifier}" if row.modifier else "")
        if code in row.codes:
            for other in row.instead:
                links.setdefault(other, f"reported instead of {billed} ({row.setting}, {period})")
        if code in row.instead:
            for other in row.codes:
                links.setdefault(other, f"{code} is reported instead of it ({row.setting}, {period})")
            for other in row.instead:
                links.setdefault(other, f"an alternative to {code} in the same guidance ({period})")
    links.pop(code, None)
    return links


def _descriptor_terms(text: str) -> list[str]:
    """The FTS5 terms of a code's descriptors for `similar`: its words of four letters or more (by prefix
    from six), and the whole words that its short-descriptor abbreviations stand for."""
    vocab = vocabulary()
    tokens = _TOKEN.findall(text.lower())
    terms = {f"{t}*" if len(t) >= 6 else t for t in tokens
             if len(t) >= 3 and t.isalpha() and t not in DESCRIPTOR_STOP_WORDS}
    for token in tokens:
        terms.update(vocab.expansions.get(token, ()))
        terms.update(a for a in vocab.abbreviations.get(token, ()) if len(a) >= 3)
    return sorted(terms)


def similar(code: str, *, limit: int = 15, hc: Hcpcs | None = None) -> dict[str, Any]:
    """Codes of the same kind of service as `code`, each with the reasons: named with it by the cited
    report-instead guidance, paired with it by NCCI as mutually exclusive (alternative ways of doing the
    same thing), similar descriptor words, same BETOS category, neighbouring codes of the same range.
    Codes of another family (`service_family`) come only through the guidance; dental codes, modifiers
    and reporting-only codes never appear for a code of another kind."""
    from hcpcs.store.session import default

    hc = hc or default()
    code = normalize(code)
    conn = hc.store.conn
    if not queries.code_known_anywhere(conn, code):
        raise UnknownCodeError(f"{code} is in no loaded release")
    me = _latest_details(hc, code, None)
    my_family = service_family(code, me.get("betos"))
    my_off_kind = my_family in ("dental", "modifier", "measurement") or me.get("status") == "M"
    candidates: dict[str, dict[str, Any]] = {}

    def add(other: str, points: float, reason: str) -> None:
        if other == code:
            return
        entry = candidates.setdefault(other, {"code": other, "score": 0.0, "reasons": []})
        entry["score"] += points
        if reason not in entry["reasons"]:
            entry["reasons"].append(reason)

    for other, why in _guidance_links(code).items():
        add(other, 8.0, why)
    ptp_releases = [r for r in hc.releases if r.dataset == "ncci_ptp_practitioner"]
    if ptp_releases:
        rid = max(ptp_releases, key=lambda r: r.effective_start).id
        for other, rationale in queries.ptp_partners_in_force(conn, rid, code):
            if rationale and "mutually exclusive" in rationale.lower():
                add(other, 4.0, f"NCCI pairs it with {code} as mutually exclusive")
    terms = _descriptor_terms(" ".join(filter(None, [me.get("long_description"), me.get("short_description")])))
    if terms:
        rows = queries.search_descriptors(conn, " OR ".join(terms), texts=400, codes=80)
        best = min((r["score"] for r in rows), default=0) or -1.0
        for row in rows:
            add(row["code"], 6.0 * row["score"] / best, "similar descriptor words")
    if me.get("betos"):
        meaning = indicators.meaning("hcpcs_betos", me["betos"])
        for other in queries.hcpcs_codes_of_betos(conn, me["betos"], code[:3]):
            add(other, 1.0, f"same BETOS category {me['betos']} ({meaning})")
    for other in queries.codes_sharing_prefix(conn, code[:4]):
        add(other, 0.75, f"same code range {code[:4]}x")
    hcpcs_release = _newest(hc, "hcpcs")
    mpfs_release = _newest(hc, "mpfs")
    facts = queries.code_facts(conn, list(candidates), hcpcs_release.id if hcpcs_release else None,
                               mpfs_release.id if mpfs_release else None)
    linked = _guidance_links(code)
    kept = []
    for other, entry in candidates.items():
        betos = facts[other].get("betos")
        if betos is None and kind_of(other) == "level2":  # not in the newest HCPCS file: its last record
            betos = _latest_details(hc, other, None).get("betos")
        family = service_family(other, betos)
        off_kind = family in ("dental", "modifier", "measurement") or facts[other].get("status") == "M"
        if other in linked or (family == my_family and not (off_kind and not my_off_kind)):
            kept.append(entry)
    ranked = sorted(kept, key=lambda c: (-c["score"], c["code"]))[:limit]
    for entry in ranked:
        details = _latest_details(hc, entry["code"], None)
        entry["short_description"] = details.get("short_description")
        entry["kind"] = details.get("kind")
        entry["termination_date"] = details.get("termination_date")
        entry["ended"] = details["ended"]
        entry["score"] = round(entry["score"], 2)
    return {"code": code, "family": my_family, "similar": ranked}
