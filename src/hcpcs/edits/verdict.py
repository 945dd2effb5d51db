"""A claim's verdict from its findings, for both engines (`hcpcs.core.verdicts`):

- `invalid`: a line bills a code that is not a code on its date (CODE_NOT_VALID_ON_DOS), or the claim
  cannot be processed at all (CLAIM_TOO_MANY_LINES);
- `not_payable`: another error finding denies part of the claim as billed;
- `unknown`: no error, but some edits could not run for want of a release (DATA_NOT_COVERED): the claim is
  never shown as plainly payable then;
- `payable`: no edit denies a line (warnings and notes may still ask for attention)."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from hcpcs.core.tables import DATASETS, dataset_title
from hcpcs.core.verdicts import Verdict, verdict
from hcpcs.edits.finding import Finding
from hcpcs.edits.templates import Template

INVALID_RULES = ("CODE_NOT_VALID_ON_DOS", "CLAIM_TOO_MANY_LINES")
UNCHECKED_RULE = "DATA_NOT_COVERED"
MEANINGS = {
    "invalid": Template("Not processable as billed: {rules}."),
    "not_payable": Template("Not payable as billed: {rules}."),
    "unknown": Template("Not every edit could run (no release of the {datasets} covers the date), so the claim is "
                        "not known to be payable."),
    "payable": Template("No edit denies a line{warnings}."),
}
WARNINGS = Template(" ({count} warning(s) to review)")


def _rules(ids: Sequence[str]) -> str:
    return ", ".join(dict.fromkeys(ids))


def _field(finding: Finding | dict, name: str) -> object:
    return finding.get(name) if isinstance(finding, dict) else getattr(finding, name)


def claim_verdict(findings: Sequence[Finding | dict]) -> Verdict:
    """The verdict of one claim from its findings (`Finding`s, or their JSON form)."""
    rows = [(_field(f, "rule"), _field(f, "severity"), _field(f, "source") or {}) for f in findings]
    errors = [rule for rule, severity, _ in rows if severity == "error"]
    if any(rule in INVALID_RULES for rule in errors):
        return verdict("invalid", MEANINGS["invalid"].text(rules=_rules(errors)))
    if errors:
        return verdict("not_payable", MEANINGS["not_payable"].text(rules=_rules(errors)))
    unchecked = [dataset_title(source.get("dataset") or "") or "a dataset" for rule, _, source in rows
                 if rule == UNCHECKED_RULE]
    if unchecked:
        return verdict("unknown", MEANINGS["unknown"].text(datasets=_rules(unchecked)))
    warnings = sum(1 for _, severity, _ in rows if severity == "warning")
    return verdict("payable", MEANINGS["payable"].text(warnings=WARNINGS.text(count=warnings) if warnings else ""))


def claim_verdicts(findings: pl.DataFrame, claims: pl.Series) -> pl.DataFrame:
    """`claim`, `verdict`, `verdict_meaning` for every claim position of `claims`, from a findings frame."""
    found = findings.select("claim", "rule", "severity", "source_dataset")
    summary = found.group_by("claim", maintain_order=True).agg(
        errors=pl.col("rule").filter(pl.col("severity") == "error").unique(maintain_order=True),
        unchecked=pl.col("source_dataset").filter(pl.col("rule") == UNCHECKED_RULE).fill_null("")
        .unique(maintain_order=True),
        warnings=(pl.col("severity") == "warning").sum())
    frame = claims.rename("claim").to_frame().join(summary, on="claim", how="left")
    errors = pl.col("errors").fill_null(pl.lit([], pl.List(pl.String)))
    names = {name: dataset_title(name) or "a dataset" for name in [*DATASETS, ""]}
    unchecked = pl.col("unchecked").fill_null(pl.lit([], pl.List(pl.String))).list.eval(
        pl.element().replace(list(names), list(names.values())))
    warnings = pl.col("warnings").fill_null(0)
    invalid = errors.list.eval(pl.element().is_in(list(INVALID_RULES))).list.any()
    code = (pl.when(invalid).then(pl.lit("invalid")).when(errors.list.len() > 0).then(pl.lit("not_payable"))
            .when(unchecked.list.len() > 0).then(pl.lit("unknown")).otherwise(pl.lit("payable")))
    rules = errors.list.join(", ")
    meaning = (pl.when(code == "invalid").then(MEANINGS["invalid"].expr(rules=rules))
               .when(code == "not_payable").then(MEANINGS["not_payable"].expr(rules=rules))
               .when(code == "unknown").then(MEANINGS["unknown"].expr(datasets=unchecked.list.join(", ")))
               .otherwise(MEANINGS["payable"].expr(warnings=pl.when(warnings > 0).then(
                   WARNINGS.expr(count=warnings)).otherwise(pl.lit("")))))
    return frame.select("claim", verdict=code, verdict_meaning=meaning)
