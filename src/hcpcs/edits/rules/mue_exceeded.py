"""MUE_EXCEEDED (error): more units of a code than its medically unlikely edit (MUE) allows. The MUE
adjudication indicator (MAI) says how units are counted: MAI 1 is a claim-line edit (each line is
checked; more units may be reported on separate lines with an appropriate modifier when medically
necessary); MAI 2 is an absolute date-of-service limit set by policy (units on all lines of the date
are added up; units above it are never payable and the denial cannot be appealed); MAI 3 is a
date-of-service limit based on clinical judgement (units are added up; a denial can be appealed with
documentation of medical necessity).

Fails::

    {"id": "mue-fail", "setting": "professional", "date_of_service": "2024-08-12",
     "lines": [{"code": "77301", "units": 2}]}

Passes::

    {"id": "mue-pass", "setting": "professional", "date_of_service": "2024-08-12",
     "lines": [{"code": "77301", "units": 1}]}
"""

from __future__ import annotations

from hcpcs.core import indicators
from hcpcs.edits.engine import ClaimContext
from hcpcs.edits.finding import Finding
from hcpcs.edits.tables import MUE_DATASET, source

RULE_ID = "MUE_EXCEEDED"
SEVERITY = "error"

_FIX = {
    "1": "Report only the units the MUE allows on this line; if more were medically necessary, report the "
         "additional units on separate lines with the appropriate modifier (e.g. 76, 77, 91 or an anatomic "
         "modifier) and keep the documentation.",
    "2": "Reduce the units to the MUE: MAI 2 is an absolute policy limit for the date of service; units "
         "above it are not payable and the denial cannot be appealed.",
    "3": "Reduce the units to the MUE, or bill them and be ready to appeal with documentation of medical "
         "necessity: MAI 3 is a clinical limit for the date of service.",
}


def check(ctx: ClaimContext) -> list[Finding]:
    findings: list[Finding] = []
    dataset = MUE_DATASET[ctx.setting]
    for day in ctx.days():
        choice = ctx.release(dataset, day)
        if choice is None:
            continue
        release = choice.release
        for code, lines in ctx.codes(day).items():
            mue = ctx.tables.mue(release, code)
            if mue is None:
                continue
            limit = mue.units
            mai = mue.mai or "1"
            if mai == "1":
                src = None  # words and source only once a line is over the limit (most are not)
                for view in lines:
                    if view.units > limit:
                        if src is None:
                            meaning = indicators.meaning("ncci_mai", mai) or mai
                            src = source(release, mue.source_line, "mue", mue=limit, mai=mai)
                        findings.append(Finding(
                            rule=RULE_ID, severity=SEVERITY, codes=(code,), lines=(view.index,),
                            message=(f"{code} is billed with {view.units:g} units on line {view.index + 1}; its "
                                     f"MUE is {limit} (MAI 1: {meaning}), in {release.label}. The line "
                                     "will be denied."),
                            fix=_FIX["1"], source=src,
                        ))
            else:
                total = 0  # sum(), without a generator per code
                for view in lines:
                    total += view.units
                if total > limit:
                    meaning = indicators.meaning("ncci_mai", mai) or mai
                    findings.append(Finding(
                        rule=RULE_ID, severity=SEVERITY, codes=(code,), lines=tuple(v.index for v in lines),
                        message=(f"{code} is billed with {total:g} units in all on {day}; its MUE is "
                                 f"{limit} per date of service (MAI {mai}: {meaning}), in "
                                 f"{release.label}."),
                        fix=_FIX.get(mai), source=source(release, mue.source_line, "mue", mue=limit, mai=mai),
                    ))
    return findings
