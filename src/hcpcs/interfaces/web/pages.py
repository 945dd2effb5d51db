"""The web pages: server-rendered Jinja2, small and fast, usable without JavaScript (app.js only adds
search-as-you-type and submits the code page's pickers when they change)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.datastructures import UploadFile
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from hcpcs.core.codes import AMA_NOTICE, normalize, split_modifier
from hcpcs.core.dates import parse_date
from hcpcs.core.errors import (
    HcpcsError,
    InvalidInputError,
    MalformedCodeError,
    NotCoveredError,
    UnknownCodeError,
)
from hcpcs.interfaces.web import charts
from hcpcs.interfaces.web.context import AppContext, context
from hcpcs.interfaces.web.problems import Problem, from_error
from hcpcs.services import fees
from hcpcs.services.verdicts import COLOURS, LABELS

router = APIRouter(include_in_schema=False)

KIND_NAMES = {"level2": "HCPCS Level II", "cpt": "CPT (HCPCS Level I)", "modifier": "Modifier"}
MODIFIER_NAMES = {"": "Global", "global": "Global", "26": "-26 Professional component",
                  "TC": "-TC Technical component", "53": "-53 Discontinued procedure"}
PTP_LIMIT = 400  # codes shown per group on the page; the API lists all
LIST_LIMIT = 500


# ------------------------------------------------------------------------------------ template helpers


def money(value: Any) -> str:
    if value is None:
        return "—"
    return f"${float(value):,.2f}"


_SENTENCE = re.compile(r"^(.+?[.;])(\s+|$)")
_WORD = re.compile(r"[A-Za-z]+")
_KEEP_UPPER = set(fees.STATE_NAMES) | {"NYC", "DC", "US"}
_SMALL_WORDS = {"of", "and", "the"}


def place(name: str | None) -> str:
    """A CMS locality name (ALL CAPS) in title case: 'REST OF NEW YORK' -> 'Rest of New York'."""
    if not name:
        return ""

    def word(match: re.Match[str]) -> str:
        text = match.group(0)
        if text.upper() in _KEEP_UPPER and len(text) <= 3:
            return text.upper()
        if text.lower() in _SMALL_WORDS and match.start() > 0:
            return text.lower()
        return text.capitalize()

    return _WORD.sub(word, name.replace("CNTY", "COUNTY"))


def short_place(name: str | None) -> str:
    """The locality name without its county list: 'San Francisco-Oakland-Berkeley'."""
    return place(name).split(" (", 1)[0]


def first_sentence(text: str | None) -> str:
    """The first sentence of a CMS meaning (they run to paragraphs)."""
    if not text:
        return ""
    match = _SENTENCE.match(text)
    head = match.group(1) if match else text
    return head if len(head) < 240 else head[:237].rsplit(" ", 1)[0] + "…"


def is_longer(text: str | None) -> bool:
    return bool(text) and first_sentence(text).rstrip("…") != text.strip()


def configure_templates(templates: Jinja2Templates) -> None:
    env = templates.env
    env.filters["money"] = money
    env.filters["first_sentence"] = first_sentence
    env.filters["is_longer"] = is_longer
    env.filters["place"] = place
    env.filters["short_place"] = short_place
    env.globals["KIND_NAMES"] = KIND_NAMES
    env.globals["MODIFIER_NAMES"] = MODIFIER_NAMES
    env.globals["AMA_NOTICE"] = AMA_NOTICE
    env.globals["BANNER_ICONS"] = BANNER_ICONS
    env.trim_blocks = True
    env.lstrip_blocks = True


def render(request: Request, name: str, values: dict[str, Any], status: int = 200) -> Response:
    return context(request).templates.TemplateResponse(request, name, values, status_code=status)


def _memo(ctx: AppContext, key: Any, produce: Callable[[], Any]) -> Any:
    """A part of a page that does not depend on the date asked (similar codes, history), kept in the
    response cache at its size as JSON (about what the objects take), so that the byte bound holds."""
    import json

    value = ctx.cache.get(key)
    if value is None:
        value = produce()
        if value is not None:
            ctx.cache.put(key, value, len(json.dumps(value, default=str)))
    return value


def _safe(fn: Callable[[], Any], notes: list[str], what: str) -> Any:
    """One optional part of a page: its library errors become a note instead of failing the page."""
    try:
        return fn()
    except HcpcsError as exc:
        notes.append(f"{what}: {exc}")
        return None


# ------------------------------------------------------------------------------------ home, search


@router.get("/")
async def home(request: Request) -> Response:
    ctx = context(request)
    releases = ctx.hc_or_none.releases if ctx.hc_or_none else []
    return render(request, "home.html", {"releases": releases, "load_error": ctx.load_error})


def _search(ctx: AppContext, q: str, active_on: date | None, limit: int) -> dict[str, Any]:
    from hcpcs.services.search import search

    return search(q, active_on=active_on, limit=limit, hc=ctx.hc)


@router.get("/search")
async def search_page(request: Request, q: str = "", active_on: str = "") -> Response:
    ctx = context(request)
    values: dict[str, Any] = {"q": q, "active_on": active_on, "result": None, "error": None}
    if q.strip():
        try:
            day = parse_date(active_on, "active-on date") if active_on.strip() else None
            code = _exact_code(q)
            if code and not day:
                found = await ctx.run(_known, ctx, code)
                if found:
                    return RedirectResponse(f"/code/{code}", status_code=303)
            values["result"] = await ctx.run(_search, ctx, q, day, 50)
        except (InvalidInputError, MalformedCodeError) as exc:
            values["error"] = str(exc)
    return render(request, "search.html", values, 200 if not values["error"] else 422)


def _exact_code(text: str) -> str | None:
    """The code typed in a search box, also as billed with a modifier (G6002-26, G6002 26); None otherwise."""
    candidate, _modifier = split_modifier(text)
    candidate = candidate.strip().upper()
    if len(candidate) != 5:
        return None
    try:
        return normalize(candidate)
    except MalformedCodeError:
        return None


def _known(ctx: AppContext, code: str) -> bool:
    from hcpcs.services.reference import code_is_known

    return code_is_known(code, hc=ctx.hc)


# ------------------------------------------------------------------------------------ code page


@dataclass
class Banner:
    state: str  # the verdict: payable (green), not_payable (amber), invalid (red), unknown (grey)
    headline: str
    detail: str | None
    chips: list[tuple[str, str]]  # (css class, text)
    label: str = ""  # the verdict's label (Payable, Not payable, Invalid, Unknown)
    link: tuple[str, str] | None = None  # (as_of date, text): another date the loaded releases cover
    instead: list[dict[str, Any]] = field(default_factory=list)  # report-instead groups


BANNER_HEADLINES = {"payable": "Payable on {day}", "not_payable": "Not payable on {day}",
                    "invalid": "Not valid on {day}", "unknown": "Payment unknown on {day}"}
BANNER_ICONS = {"payable": "✓", "not_payable": "!", "invalid": "✕", "unknown": "?"}
SETTING_NAMES = {"professional": "Physician fee schedule", "facility": "Hospital outpatient (OPPS)"}


def _banner(data: dict[str, Any], day: date, releases: list[Any] | None = None) -> Banner:
    """The code page's headline: the lookup's verdict, coloured, with its meaning, the code's dates, the
    verdict in the other setting, what to bill instead, and a date the loaded releases cover when none
    covers the date asked."""
    from hcpcs.core.guidance import group_entries

    iso = day.isoformat()
    verdict = data.get("verdict") or {"code": "unknown", "meaning": data.get("validity") or ""}
    state = verdict["code"]
    label = LABELS.get(state, state)
    if data.get("kind") == "modifier" and state == "payable":
        label, headline = "Valid modifier", f"Valid modifier on {iso}"
    else:
        headline = BANNER_HEADLINES.get(state, "{day}").format(day=iso)
    chips: list[tuple[str, str]] = []
    if data.get("valid_on_date") is True and state != "payable":
        chips.append(("neutral", f"valid code on {iso}"))
    term = data.get("termination_date")
    action = (data.get("action") or {}).get("code")
    if term:
        if iso > term:
            chips.append(("bad", f"discontinued {term}"))
        else:
            chips.append(("warn", f"discontinued {term} (valid through that day)"))
    if data.get("added_date"):
        chips.append(("neutral", f"added {data['added_date']}"))
    if action and action not in ("N", "D"):
        meaning = first_sentence((data.get("action") or {}).get("meaning")).rstrip(".")
        chips.append(("neutral", f"action {action}: {meaning}"))
    for name, other in (data.get("verdicts") or {}).items():
        if other is not verdict and other != verdict and other["code"] not in ("unknown", "invalid"):
            chips.append((COLOURS.get(other["code"], "neutral"), f"{SETTING_NAMES.get(name, name)}: "
                          f"{LABELS[other['code']].lower()}"))
    link = None
    loaded = [r for r in releases or [] if r.dataset == verdict.get("dataset")]
    if state == "unknown" and loaded:
        if all(r.effective_start > day for r in loaded):
            nearest = min(loaded, key=lambda r: r.effective_start)
            when = nearest.effective_start
        else:
            nearest = max(loaded, key=lambda r: (r.effective_end or r.effective_start, r.effective_start))
            when = nearest.effective_end or nearest.effective_start
        if when != day:
            link = (when.isoformat(), f"See {nearest.label} (as of {when})")
    return Banner(state, headline, verdict.get("meaning"), chips, label, link,
                  group_entries(data.get("report_instead") or []))


def _localities_for(ctx: AppContext, day: date) -> tuple[Any, list[fees.Locality], str | None]:
    """The fee-schedule release in force and its localities (or why there are none)."""
    try:
        release = ctx.hc.release_for("mpfs", day).release
    except HcpcsError as exc:
        return None, [], str(exc)
    found = fees.localities(ctx.hc, release)
    if not found:
        return release, [], (f"{release.label} was loaded without its GPCI file, so locality amounts cannot be "
                             "computed for this date; national amounts are shown")
    return release, sorted(found, key=lambda loc: ((loc.state or ""), loc.name)), None


def _fee_block(ctx: AppContext, code: str, day: date, data: dict[str, Any], locality: str | None,
               setting: str, notes: list[str]) -> dict[str, Any] | None:
    mpfs = data.get("mpfs") or {}
    if not mpfs.get("in_file"):
        return None
    hc = ctx.hc
    release, locs, loc_note = _localities_for(ctx, day)
    modifiers = [("" if key == "global" else key) for key in mpfs["by_modifier"]]
    rows = []
    locality_error = None
    chosen = None
    if locality and locs:
        chosen = next((loc for loc in locs if loc.id == locality), None)
        if chosen is None:
            locality_error = f"locality {locality} is not in {release.label if release else 'the release in force'}"
    # From CY 2026 two conversion factors: every amount also for qualifying APM participants (QPs).
    factors = fees.conversion_factors(release) if release is not None else {}
    both_bases = "qp" in factors and "nonqp" in factors
    for modifier in modifiers:
        row: dict[str, Any] = {"modifier": modifier, "national": {}, "local": {}, "national_qp": {}, "local_qp": {}}
        for where in fees.SETTINGS:
            for key, qp in (("national", False), ("national_qp", True)) if both_bases else (("national", False),):
                row[key][where] = _safe(lambda m=modifier, s=where, q=qp: fees.fee(
                    code, m, national=True, setting=s, as_of=day, qp=q, hc=hc), notes, "national fee")
            if chosen is not None:
                for key, qp in (("local", False), ("local_qp", True)) if both_bases else (("local", False),):
                    row[key][where] = _safe(lambda m=modifier, s=where, q=qp: fees.fee(
                        code, m, locality=chosen.id, setting=s, as_of=day, qp=q, hc=hc), notes, "locality fee")
        rows.append(row)
    base = rows[0]["national"].get(setting) if rows else None
    chart_modifier = rows[0]["modifier"] if rows else ""
    locality_chart = table = None
    if locs and base and base.get("payable"):
        spread = _safe(lambda: fees.all_localities(code, chart_modifier, setting=setting, as_of=day, hc=hc),
                       notes, "amounts by locality")
        if spread:
            items = [charts.LocalityAmount(i["locality"]["id"], place(i["locality"]["name"]), i["locality"]["state"],
                                           i["amount"])
                     for i in spread["localities"] if i["amount"] is not None]
            locality_chart = charts.responsive(charts.locality_bars, items=items, chart_id="loc-chart",
                                               chosen=chosen.id if chosen else None, national=base.get("amount"))
            table = sorted(items, key=lambda i: -i.amount)
    history_note = None
    history = None
    if chosen is not None:
        try:
            history = fees.fee_history(code, chart_modifier, locality=chosen.id, setting=setting, hc=hc)
        except HcpcsError as exc:
            history_note = f"Amounts for {short_place(chosen.name)} are not available in every release ({exc}); national amounts shown."
    if history is None:
        history = _safe(lambda: fees.fee_history(code, chart_modifier, setting=setting, hc=hc), notes, "fee history")
    points = [charts.ReleasePoint(h["release"], h["effective_start"], h.get("amount"),
                                  None if h.get("in_file") else "not in this release")
              for h in (history or [])]
    return {
        "release": mpfs["release"], "rows": rows, "localities": locs, "locality_note": loc_note,
        "locality_error": locality_error, "chosen": chosen, "setting": setting,
        "locality_chart": locality_chart, "locality_table": table, "history_chart": charts.responsive(charts.release_line, points=points, chart_id="rel-chart"),
        "history_points": points, "history_note": history_note,
        "history_place": short_place(chosen.name) if chosen is not None and history_note is None else "National",
        "conversion_factor": mpfs.get("conversion_factor"),
        "conversion_factors": factors, "both_bases": both_bases,
        "limiting_charge_note": fees.LIMITING_CHARGE_NOTE,
    }


def _ptp_groups(listing: dict[str, Any] | None, code: str) -> list[dict[str, Any]]:
    """PTP edits of one setting as groups by direction and modifier indicator, codes sorted."""
    if not listing or not listing.get("ptp"):
        return []
    groups = []
    for direction, key, other in (("column1", "as_column1", "column2"), ("column2", "as_column2", "column1")):
        by_indicator: dict[str, dict[str, Any]] = {}
        for edit in listing["ptp"][key]:
            mi = edit["modifier_indicator"] or {"code": "?", "meaning": None}
            group = by_indicator.setdefault(mi["code"], {"indicator": mi, "codes": []})
            tip = f"{edit['column1']}/{edit['column2']}"
            if edit.get("effective_date"):
                tip += f" effective {edit['effective_date']}"
            if edit.get("deletion_date"):
                tip += f", deleted {edit['deletion_date']}"
            if edit.get("rationale"):
                tip += f"; {edit['rationale']}"
            group["codes"].append((edit[other], tip))
        for indicator_code in sorted(by_indicator):
            group = by_indicator[indicator_code]
            group["codes"].sort()
            group["total"] = len(group["codes"])
            group["codes"] = group["codes"][:PTP_LIMIT]
            group["direction"] = direction
            groups.append(group)
    return groups


def _policies(ctx: AppContext, code: str, day: date, notes: list[str]) -> dict[str, Any]:
    from hcpcs.services.listing import edits_for_code

    out: dict[str, Any] = {"ptp": {}, "packs": []}
    for setting, label in (("professional", "practitioner"), ("facility", "hospital")):
        listing = _safe(lambda s=setting: edits_for_code(code, as_of=day, setting=s, hc=ctx.hc), notes, "NCCI edits")
        out["ptp"][label] = {
            "release": ((listing or {}).get("ptp") or {}).get("release"),
            "groups": _ptp_groups(listing, code),
            "count1": len(((listing or {}).get("ptp") or {}).get("as_column1") or []),
            "count2": len(((listing or {}).get("ptp") or {}).get("as_column2") or []),
        }
    for pack in ctx.packs.values():
        for rule in pack.mentioning(code):
            out["packs"].append({"pack": pack, "rule": rule, "text": describe_rule(rule, code),
                                 "in_force": rule.in_force(day)})
    return out


def describe_rule(rule: Any, code: str) -> str:
    """A policy-pack rule in one plain sentence."""
    codes = ", ".join(sorted(rule.codes))
    where = f" on {rule.setting} claims" if rule.setting else ""
    if rule.kind == "bundled-into":
        mods = ", ".join("global" if m == "" else f"-{m}" for m in rule.modifiers) or "any form"
        return f"{codes} ({mods}) is denied when billed with {', '.join(rule.into)} on the same date{where}."
    if rule.kind == "modifier-not-allowed":
        return f"{codes} may not carry modifier {', '.join(rule.modifiers)}{where}."
    if rule.kind == "requires-primary":
        primaries = ", ".join(rule.primaries[:12]) + (" …" if len(rule.primaries) > 12 else "")
        return f"{codes} needs one of {primaries} on the same date{where}."
    if rule.kind == "use-instead":
        return f"{codes} is not paid{where}; report {', '.join(rule.instead)} instead."
    return f"{codes} is not paid{where}."


def _period(rule: Any) -> str:
    start = rule.start.isoformat() if rule.start else "always"
    return f"{start} to {rule.end.isoformat()}" if rule.end else f"from {start}"


def code_page_values(ctx: AppContext, code: str, day: date | None, locality: str | None, setting: str) -> dict[str, Any]:
    from hcpcs.services.reference import history, lookup
    from hcpcs.services.search import similar

    hc = ctx.hc
    data = lookup(code, day, hc=hc)
    day = date.fromisoformat(data["as_of"])
    notes: list[str] = []
    fee_block = _fee_block(ctx, code, day, data, locality, setting, notes) if data["kind"] != "modifier" else None
    opps = None
    if (data.get("opps") or {}).get("in_file"):
        opps = _safe(lambda: fees.opps_fee(code, day, hc=hc), notes, "OPPS")
    policies = _policies(ctx, code, day, notes) if data["kind"] != "modifier" else None
    latest_mpfs = max((r for r in hc.releases if r.dataset == "mpfs"), key=lambda r: r.effective_start, default=None)
    related = _memo(ctx, ("similar", code), lambda: _safe(lambda: similar(code, limit=10, hc=hc), notes, "similar codes"))
    past = _memo(ctx, ("history", code), lambda: _safe(lambda: history(code, hc=hc), notes, "history"))
    mpfs = data.get("mpfs") or {}
    for rule_pack in (policies or {}).get("packs", []):
        rule_pack["period"] = _period(rule_pack["rule"])
    return {
        "code": code, "data": data, "day": day, "banner": _banner(data, day, hc.releases), "fee": fee_block, "opps": opps,
        "policies": policies, "similar": (related or {}).get("similar", []), "history": past,
        "notes": notes, "mpfs": mpfs if mpfs.get("in_file") else None, "setting": setting,
        "locality": locality or "", "latest_mpfs": latest_mpfs,
        "no_mpfs_note": None if mpfs.get("in_file") else _no_mpfs_note(data, latest_mpfs, day),
        "is_cpt": data["kind"] == "cpt",
    }


def _no_mpfs_note(data: dict[str, Any], latest: Any, day: date) -> dict[str, Any] | None:
    if data["kind"] == "modifier":
        return None
    mpfs = data.get("mpfs")
    if mpfs and not mpfs.get("in_file"):
        return {"text": f"{data['code']} is not in the fee-schedule release in force ({mpfs['release']}).", "link": None}
    if latest is None:
        return {"text": "No fee-schedule (RVU) release is loaded.", "link": None}
    last_day = latest.effective_end or latest.effective_start
    when = "after" if day > last_day else "before"
    return {"text": f"No fee-schedule release loaded covers {day} (the loaded releases end {when} it).",
            "link": (last_day.isoformat(), f"See {latest.label} (as of {last_day})")}


@router.get("/code/{code}")
async def code_page(request: Request, code: str, as_of: str = "", locality: str = "",
                    setting: str = "nonfacility") -> Response:
    ctx = context(request)
    try:
        normalized = normalize(code)
    except MalformedCodeError as exc:
        raise from_error(exc, "code", "path") from None
    if normalized != code:
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(f"/code/{normalized}{query}", status_code=301)
    if setting not in fees.SETTINGS:
        setting = "nonfacility"
    try:
        day = parse_date(as_of, "as-of date") if as_of.strip() else None
    except InvalidInputError as exc:
        raise from_error(exc, "as_of") from None
    key = ("code-page", normalized, day or date.today(), locality.strip(), setting)
    html = ctx.cache.get(key)
    if html is None:
        try:
            html = await ctx.run(_render_code_page, ctx, request, normalized, day, locality.strip() or None, setting)
        except (UnknownCodeError, NotCoveredError) as exc:
            return render(request, "error.html", {"problem": from_error(exc, "code", "path"), "code": normalized}, 404)
        ctx.cache.put(key, html)
    return Response(html, media_type="text/html; charset=utf-8")


def _render_code_page(ctx: AppContext, request: Request, code: str, day: date | None, locality: str | None,
                      setting: str) -> bytes:
    """The code page as HTML bytes (rendered in the worker thread: big pages take milliseconds)."""
    values = code_page_values(ctx, code, day, locality, setting)
    return ctx.templates.get_template("code.html").render({"request": request, **values}).encode("utf-8")


# ------------------------------------------------------------------------------------ claim checker


CSV_EXAMPLE = """claim_id,date_of_service,code,modifiers,units
C1,2024-08-12,77373,,1
C1,2024-08-12,G6002,,1"""


def _pack_choices(ctx: AppContext) -> list[tuple[str, str]]:
    return [(pid, pack.name) for pid, pack in ctx.packs.items()]


def _check_values(ctx: AppContext, **values: Any) -> dict[str, Any]:
    return {"text": "", "pack": "", "format": "", "packs": _pack_choices(ctx), "example": CSV_EXAMPLE,
            "results": None, "error": None, "needs_key": bool(ctx.settings.api_keys), **values}


@router.get("/check")
async def check_form(request: Request) -> Response:
    ctx = context(request)
    return render(request, "check.html", _check_values(ctx))


def _present(items: list[Any], results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Claims and their findings arranged line by line for the page. A finding naming two lines (a PTP
    pair, a policy bundle) is shown on its last line, the one it is about (the column 2 code, the code
    denied), and referred to from the other."""
    from hcpcs.services.checking import Claim

    out = []
    for item, result in zip(items, results, strict=True):
        if not isinstance(item, Claim):
            out.append({"error": result.get("error"), "id": result.get("id")})
            continue
        lines = [{"number": i + 1, "line": line, "date": item.line_date(i), "findings": [], "related": []}
                 for i, line in enumerate(item.lines)]
        claim_level = []
        counts = {"error": 0, "warning": 0, "info": 0}
        for finding in result["findings"]:
            counts[finding["severity"]] = counts.get(finding["severity"], 0) + 1
            indexes = [number - 1 for number in finding["lines"] if 1 <= number <= len(lines)]
            if not indexes:
                claim_level.append(finding)
                continue
            targets = indexes if finding["rule"] == "DUPLICATE_LINE" or len(finding["codes"]) < 2 else [indexes[-1]]
            for index in targets:
                lines[index]["findings"].append(finding)
            for index in indexes:
                if index not in targets:
                    lines[index]["related"].append((finding["rule"], [t + 1 for t in targets]))
        out.append({"claim": item, "lines": lines, "claim_level": claim_level, "counts": counts,
                    "notices": result.get("notices", [])})
    return out


@router.post("/check")
async def check_submit(request: Request) -> Response:
    """The claim checker's form: the same API keys (when configured), limits and time budget as
    `POST /api/check` (`hcpcs.interfaces.web.checks`)."""
    from hcpcs.interfaces.web.api import resolve_pack_ids
    from hcpcs.interfaces.web.security import given_key, key_allowed, unauthorized_problem

    ctx = context(request)
    form = await request.form(max_part_size=ctx.settings.max_body_bytes, max_files=1, max_fields=8)
    text = str(form.get("claims") or "")
    pack = str(form.get("pack") or "")
    fmt = str(form.get("format") or "") or None
    upload = form.get("file")
    values = _check_values(ctx, text=text, pack=pack, format=fmt or "", source="the text box")
    if ctx.settings.api_keys:
        keys = tuple(k.encode() for k in ctx.settings.api_keys)
        if not key_allowed(str(form.get("api_key") or "").strip() or given_key(request.headers), keys):
            problem = unauthorized_problem()
            values["error"] = "An API key is required to check claims on this server: enter it in the API key box."
            return ctx.templates.TemplateResponse(request, "check.html", values, status_code=401,
                                                  headers=problem.headers)
    body = text.encode("utf-8")
    if isinstance(upload, UploadFile) and upload.filename:
        body = await upload.read()
        values["source"] = f"the file {upload.filename}"
        await upload.close()
    if fmt not in (None, "json", "jsonl", "csv", "x12"):
        fmt = None
    try:
        pack_ids = resolve_pack_ids(ctx, pack)
        _, items, _, results = await ctx.checks.check(ctx, body, fmt, pack_ids, name="claims", objects=True)
    except Problem as problem:
        if problem.status >= 500 and problem.slug != "request-timeout":
            raise
        values["error"] = problem.detail
        return render(request, "check.html", values, problem.status)
    values["results"] = _present(items, results)
    values["summary"] = {
        "claims": sum(1 for r in values["results"] if "claim" in r),
        "unreadable": sum(1 for r in values["results"] if "claim" not in r),
        "errors": sum(r["counts"]["error"] for r in values["results"] if "claim" in r),
        "warnings": sum(r["counts"]["warning"] for r in values["results"] if "claim" in r),
    }
    return render(request, "check.html", values)


# ------------------------------------------------------------------------------------ releases, diff


def _grouped_releases(ctx: AppContext) -> list[tuple[str, list[Any]]]:
    from hcpcs.core.tables import dataset_title

    groups: dict[str, list[Any]] = {}
    for release in ctx.hc.releases:
        groups.setdefault(release.dataset, []).append(release)
    return [(dataset_title(name), sorted(items, key=lambda r: r.effective_start, reverse=True))
            for name, items in groups.items()]


@router.get("/releases")
async def releases_page(request: Request) -> Response:
    ctx = context(request)
    return render(request, "releases.html", {"groups": _grouped_releases(ctx)})


@router.get("/diff")
async def diff_page(request: Request, range: str = "") -> Response:  # noqa: A002
    from hcpcs.services.diff import diff

    ctx = context(request)
    params = request.query_params
    choices = [(name, [r for r in ctx.hc.releases if r.dataset == key])
               for key, name in (("hcpcs", "HCPCS"), ("mpfs", "Physician fee schedule"))]
    choices = [(name, sorted(items, key=lambda r: r.effective_start)) for name, items in choices if items]
    default_from = default_to = ""
    if choices and len(choices[0][1]) >= 2:
        default_from, default_to = choices[0][1][-2].label, choices[0][1][-1].label
    chosen_from = params.get("from", default_from)
    chosen_to = params.get("to", default_to)
    values: dict[str, Any] = {"choices": choices, "values_from": chosen_from, "values_to": chosen_to, "range": range,
                              "result": None, "error": None, "limit": LIST_LIMIT}
    if "from" in params and "to" in params:
        try:
            values["result"] = await ctx.run(lambda: diff(chosen_from, chosen_to, code_range=range.strip() or None,
                                                          hc=ctx.hc))
        except InvalidInputError as exc:
            values["error"] = str(exc)
    return render(request, "diff.html", values, 200 if not values["error"] else 422)


@router.get("/code")
async def code_form(q: str = "") -> Response:
    """The code box of the header without JavaScript: a code goes to its page, anything else to search."""
    code = _exact_code(q)
    if code:
        return RedirectResponse(f"/code/{code}", status_code=303)
    return RedirectResponse(f"/search?q={quote(q)}", status_code=303)
