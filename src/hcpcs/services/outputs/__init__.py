"""Claim-check results written out, one module per format. Each module has `NAME`, `MEDIA_TYPE`,
`BINARY` (whether it writes bytes) and `Writer(out)` with `write(chunk)` (a `CheckedChunk` of
`hcpcs.services.checking`: the records of a run of input, their findings and notices, as frames) and
`close()`. Writers work on the frames (a line of JSON per claim is built by polars, never a Python dict per
finding), so the command line streams any input through them; the web app uses the same writers. Adding a
format is adding a module."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from types import ModuleType
from typing import TYPE_CHECKING, BinaryIO

import polars as pl

from hcpcs.core.errors import InvalidInputError

if TYPE_CHECKING:
    from hcpcs.services.checking import CheckedChunk


@cache
def names() -> tuple[str, ...]:
    """The output formats: the modules of this package (each module is named after its format)."""
    return tuple(sorted(info.name for info in pkgutil.iter_modules(__path__)))


def writers() -> dict[str, ModuleType]:
    return {name: writer(name) for name in names()}


def writer(name: str) -> ModuleType:
    """The output module of a format name (imported when first asked for: pyarrow only for Parquet);
    InvalidInputError naming the formats there are."""
    if name not in names():
        raise InvalidInputError(f"output format {name!r}: use one of {', '.join(names())}")
    module = importlib.import_module(f"{__name__}.{name}")
    if getattr(module, "NAME", None) != name or not hasattr(module, "Writer"):
        raise InvalidInputError(f"output format {name!r} is not a writer module")
    return module


def json_text(column: str | pl.Expr) -> pl.Expr:
    """A text column as JSON strings (quoted and escaped; null as null)."""
    value = pl.col(column) if isinstance(column, str) else column
    return pl.when(value.is_null()).then(pl.lit("null")).otherwise(
        pl.struct(value.alias("v")).struct.json_encode().str.slice(5).str.strip_suffix("}"))


def numbered_lines(column: str = "lines") -> pl.Expr:
    """A findings frame's line positions (from 0) as the claim's line numbers (from 1), as every output
    shows them."""
    return pl.col(column).list.eval(pl.element() + 1)


def finding_json(findings: pl.DataFrame) -> pl.Expr:
    """Each finding as the JSON object of the README's contract: rule, severity, codes, lines (the claim's
    lines it concerns, counted from 1 as people, the CSV and the table count them), message (one sentence), details (the CMS definitions behind it), fix, source (dataset,
    release, row, files, then the rule's own fields), citation (policy packs)."""
    base = pl.struct("rule", "severity", "codes", lines=numbered_lines(),
                     message="message", details="details", fix="fix").struct.json_encode()
    with_files = pl.struct(dataset="source_dataset", release="source_release", row="source_row",
                           files=pl.col("source_files").fill_null(pl.lit([], pl.List(pl.String)))).struct.json_encode()
    without_files = pl.struct(dataset="source_dataset", release="source_release", row="source_row").struct.json_encode()
    source = pl.when(pl.col("source_release").is_null()).then(without_files).otherwise(with_files)
    extra = pl.col("source_extra")
    source = pl.when(extra.is_not_null() & (extra != "{}")).then(
        pl.concat_str([source.str.strip_suffix("}"), pl.lit(", "), extra.str.strip_prefix("{")])).otherwise(source)
    # A policy pack's source is written whole by the pack (its row is the pack rule's id).
    source = pl.when(pl.col("source_dataset") == "policy-pack").then(extra).otherwise(source)
    source = pl.when(pl.col("source_dataset").is_null()).then(pl.lit("null")).otherwise(source)
    citation = pl.when(pl.col("citation").is_not_null()).then(
        pl.concat_str([pl.lit(', "citation": '), json_text("citation")])).otherwise(pl.lit(""))
    return pl.concat_str([base.str.strip_suffix("}"), pl.lit(', "source": '), source, citation, pl.lit("}")])


def claim_json(chunk: CheckedChunk) -> pl.Series:
    """One JSON object per record of the chunk, in input order: a claim's `{"id", "findings", "notices"?,
    "verdict"}` or a bad record's `{"id", "error": {"location", "message"}, "findings": []}`."""
    findings = chunk.findings
    grouped = findings.select("claim", json=finding_json(findings)).group_by("claim", maintain_order=True).agg(
        pl.col("json").str.join(", ")) if findings.height else pl.DataFrame(
        schema={"claim": pl.Int64, "json": pl.String})
    # Notices and verdicts repeat from claim to claim: each distinct one is written as JSON once.
    notice_texts = chunk.notices.select("notices").unique().with_columns(
        notices_json=pl.col("notices").list.eval(json_text(pl.element())).list.join(", "))
    notices = chunk.notices.join(notice_texts, on="notices", how="left").select("claim", notices="notices_json")
    verdict_texts = chunk.verdicts.select("verdict", "verdict_meaning").unique().with_columns(
        verdict_json=pl.struct(code="verdict", meaning="verdict_meaning").struct.json_encode())
    verdicts = chunk.verdicts.join(verdict_texts, on=["verdict", "verdict_meaning"], how="left").select(
        "claim", verdict="verdict_json")
    frame = chunk.claims.join(grouped, on="claim", how="left").join(notices, on="claim", how="left").join(
        verdicts, on="claim", how="left")
    good = pl.concat_str([
        pl.lit('{"id": '), json_text("claim_id"), pl.lit(', "findings": ['), pl.col("json").fill_null(""), pl.lit("]"),
        pl.when(pl.col("notices").is_not_null() & (pl.col("notices") != "")).then(
            pl.concat_str([pl.lit(', "notices": ['), pl.col("notices"), pl.lit("]")])).otherwise(pl.lit("")),
        pl.when(pl.col("verdict").is_not_null()).then(pl.concat_str([pl.lit(', "verdict": '), pl.col("verdict")]))
        .otherwise(pl.lit("")),
        pl.lit("}")])
    bad = pl.concat_str([
        pl.lit('{"id": '), json_text("claim_id"), pl.lit(', "error": {"location": '), json_text("error_location"),
        pl.lit(', "message": '), json_text("error_message"), pl.lit('}, "findings": []}')])
    return frame.select(pl.when(pl.col("error_message").is_null()).then(good).otherwise(bad).alias("json"))["json"]


def write_lines(lines: pl.Series, out: BinaryIO, separator: str = "\n") -> None:
    """Text lines written straight from polars (no Python string per line), each followed by `separator`."""
    if not lines.len():
        return
    frame = lines.alias("line").to_frame()
    if separator != "\n":
        frame = frame.with_columns(pl.col("line") + pl.lit(separator.rstrip("\n")))
    frame.write_csv(out, include_header=False, quote_style="never")
