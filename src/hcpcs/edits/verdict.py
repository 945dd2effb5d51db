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
    summary = found.group_by("claim").agg(
        errors=pl.col("rule").filter(pl.col("severity") == "error").unique(maintain_order=True).str.join(", "),
        invalid=(pl.col("rule").is_in(list(INVALID_RULES)) & (pl.col("severity") == "error")).any(),
        unchecked=pl.col("source_dataset").filter(pl.col("rule") == UNCHECKED_RULE).fill_null("")
        .unique(maintain_order=True).replace_strict(
            [*DATASETS, ""], [dataset_title(name) or "a dataset" for name in DATASETS] + ["a dataset"],
            default="a dataset").str.join(", "),
        warnings=(pl.col("severity") == "warning").sum().cast(pl.Int64))
    # Claims without findings are payable; the meanings are made once per distinct summary (there are few).
    frame = claims.rename("claim").to_frame().join(summary, on="claim", how="left").with_columns(
        errors=pl.col("errors").fill_null(""), invalid=pl.col("invalid").fill_null(False),
        unchecked=pl.col("unchecked").fill_null(""), warnings=pl.col("warnings").fill_null(0))
    errors, unchecked, warnings = pl.col("errors"), pl.col("unchecked"), pl.col("warnings")
    code = (pl.when(pl.col("invalid")).then(pl.lit("invalid")).when(errors != "").then(pl.lit("not_payable"))
            .when(unchecked != "").then(pl.lit("unknown")).otherwise(pl.lit("payable")))
    meaning = (pl.when(pl.col("verdict") == "invalid").then(MEANINGS["invalid"].expr(rules=errors))
               .when(pl.col("verdict") == "not_payable").then(MEANINGS["not_payable"].expr(rules=errors))
               .when(pl.col("verdict") == "unknown").then(MEANINGS["unknown"].expr(datasets=unchecked))
               .otherwise(MEANINGS["payable"].expr(warnings=pl.when(warnings > 0).then(
                   WARNINGS.expr(count=warnings)).otherwise(pl.lit("")))))
    keys = ["invalid", "errors", "unchecked", "warnings"]
    meanings = frame.select(keys).unique().with_columns(verdict=code).with_columns(verdict_meaning=meaning)
    return frame.join(meanings, on=keys, how="left", maintain_order="left").select(
        "claim", "verdict", "verdict_meaning")
