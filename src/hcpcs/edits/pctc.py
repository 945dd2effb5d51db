"""Modifier 26 and TC against the PC/TC indicator of the fee-schedule row (RVU file, Attachment A),
shared by the MODIFIER_26_NOT_ALLOWED and MODIFIER_TC_NOT_ALLOWED rules."""

from __future__ import annotations

from hcpcs.core import indicators
from hcpcs.core.indicators import pctc_allows
from hcpcs.edits.engine import ClaimContext
from hcpcs.edits.finding import Finding
from hcpcs.edits.tables import source

_FIX = {
    "2": "Bill the code without modifier 26: it is a professional-component-only code.",
    "3": "Bill the code without modifier {mod}: it is a technical-component-only code.",
    "4": "Bill the separate professional or technical code that CMS pairs with this global-only code, "
         "without modifier {mod}.",
}


def modifier_findings(ctx: ClaimContext, modifier: str, rule_id: str) -> list[Finding]:
    if not ctx.professional:
        return []
    findings: list[Finding] = []
    for view in ctx.lines:
        if modifier not in view.modifiers:
            continue
        choice = ctx.release("mpfs", view.day)
        if choice is None:
            continue
        base = ctx.tables.rvu_base(choice.release, view.code)
        if base is None:
            continue
        pctc = base["pctc"]
        allowed = pctc_allows(pctc, modifier)
        if allowed is not False:
            continue
        meaning = indicators.meaning("mpfs_pctc", pctc) or ""
        fix = _FIX.get(str(pctc), "Remove modifier {mod} from this line.").format(mod=modifier)
        findings.append(Finding(
            rule=rule_id, severity="error", codes=(view.code,), lines=(view.index,),
            message=(f"Modifier {modifier} is not allowed with {view.code}: its PC/TC indicator in "
                     f"{choice.release.label} is {pctc} ({meaning})."),
            fix=fix,
            source=source(choice.release, base["source_line"], "pprrvu", pctc=pctc),
        ))
    return findings
