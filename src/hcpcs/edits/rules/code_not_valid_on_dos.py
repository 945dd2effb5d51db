"""CODE_NOT_VALID_ON_DOS (error): the code does not exist on the line's date of service: unknown to every
loaded release, not yet added, or terminated (discontinued) before that date. HCPCS Level II codes are
judged by the HCPCS file in force (added date through termination date, inclusive); CPT codes, which the
HCPCS file does not carry, by the physician fee schedule (professional claims) or OPPS Addendum B
(facility claims) in force: a CPT code absent from it, or with fee-schedule status D (deleted), is not
valid on that date.

Fails::

    {"id": "dos-fail", "setting": "professional", "date_of_service": "2026-02-01",
     "lines": [{"code": "G6002"}]}

Passes::

    {"id": "dos-pass", "setting": "professional", "date_of_service": "2024-08-12",
     "lines": [{"code": "G6002"}]}
"""

from __future__ import annotations

from datetime import date
from functools import cache

from hcpcs.core import indicators
from hcpcs.core.codes import kind_of
from hcpcs.edits.engine import ClaimContext, LineView
from hcpcs.edits.finding import Finding
from hcpcs.edits.tables import source
from hcpcs.store.releases import Release

RULE_ID = "CODE_NOT_VALID_ON_DOS"
SEVERITY = "error"
DELETED_STATUSES = {"D"}


_kind_of = cache(kind_of)  # two regular expressions per call otherwise (codes have a fixed shape: bounded)


def _finding(view: LineView, message: str, fix: str | None, src: dict | None) -> Finding:
    return Finding(rule=RULE_ID, severity=SEVERITY, codes=(view.code,), lines=(view.index,), message=message,
                   fix=fix, source=src)


def _dated(view: LineView, row: object, release: Release) -> Finding | None:
    """Judge a code by the added and termination dates of its HCPCS row (inclusive)."""
    iso = view.day.isoformat()
    added, terminated = row["added_date"], row["termination_date"]
    if added and iso < added:
        return _finding(view, f"{view.code} is not valid on {view.day}: it was added {added} "
                              f"({release.label}).", "Use the code that was in force on the date of service.",
                        source(release, row["source_line"], "hcpcs_anweb"))
    if terminated and iso > terminated:
        action = (indicators.meaning("hcpcs_action_code", row["action_code"]) or "").rstrip(".")
        return _finding(
            view,
            f"{view.code} is not valid on {view.day}: it was terminated {terminated} "
            f"(action {row['action_code']}: {action}; {release.label}).",
            "Report the code that replaced it for dates of service after the termination date.",
            source(release, row["source_line"], "hcpcs_anweb"))
    return None


def _level2(ctx: ClaimContext, view: LineView) -> Finding | None:
    choice = ctx.release("hcpcs", view.day)
    if choice is None:
        return None
    release = choice.release
    row = ctx.tables.hcpcs(release, view.code)
    if row is not None:
        return _dated(view, row, release)
    others = ctx.tables.other_releases_with("hcpcs", view.code)
    # The HCPCS file is cumulative: a later file that carries the code dates it, also for dates before
    # that file's release (a code added after the release in force, which is older than the date).
    later = [r for r in others if r.effective_start > release.effective_start]
    if later:
        newest = max(later, key=lambda r: (r.effective_start, r.id))
        later_row = ctx.tables.hcpcs(newest, view.code)
        if later_row is not None:
            return _dated(view, later_row, newest)
    if others:
        labels = ", ".join(r.label for r in others)
        return _finding(view, f"{view.code} is not in {release.label}, the HCPCS release in force on {view.day} "
                              f"(it appears in {labels}).", "Check the code against the HCPCS file of the date of service.",
                        source(release, None, "hcpcs_anweb"))
    if not ctx.tables.in_any_release(view.code):
        return _finding(view, f"{view.code} is not a code in any loaded CMS release.",
                        "Check the code for a typing error.", source(release, None, "hcpcs_anweb"))
    return None


def _cpt(ctx: ClaimContext, view: LineView) -> Finding | None:
    dataset = "mpfs" if ctx.professional else "opps"
    choice = ctx.release(dataset, view.day)
    if choice is None:
        if not ctx.tables.in_any_release(view.code):
            return _finding(view, f"{view.code} is not a code in any loaded CMS release.",
                            "Check the code for a typing error.", None)
        return None
    release = choice.release
    if dataset == "mpfs":
        base = ctx.tables.rvu_base(release, view.code)
        if base is not None:
            if base["status"] in DELETED_STATUSES:
                return _finding(view, f"{view.code} is deleted on {view.day}: fee-schedule status "
                                      f"{base['status']} in {release.label}.",
                                "Report the code that replaced it.", source(release, base["source_line"], "pprrvu"))
            return None
    elif ctx.tables.addendum_b(release, view.code) is not None:
        return None
    if not ctx.tables.in_any_release(view.code):
        return _finding(view, f"{view.code} is not a code in any loaded CMS release.",
                        "Check the code for a typing error.", source(release, None, "pprrvu"))
    others = ctx.tables.other_releases_with(dataset, view.code)
    where = f" (it appears in {', '.join(r.label for r in others)})" if others else ""
    return _finding(view, f"{view.code} is not in {release.label}, the {'fee schedule' if dataset == 'mpfs' else 'OPPS'} "
                          f"release in force on {view.day}{where}.",
                    "Check that the code was valid on the date of service.", source(release, None, "pprrvu"))


def check(ctx: ClaimContext) -> list[Finding]:
    findings: list[Finding] = []
    seen: set[tuple[str, date]] = set()
    for view in ctx.lines:
        key = (view.code, view.day)
        if key in seen:
            continue
        seen.add(key)
        finding = _level2(ctx, view) if _kind_of(view.code) == "level2" else _cpt(ctx, view)
        if finding is not None:
            findings.append(finding)
    return findings
