"""Checking many claims at once: every rule's columnar `check_batch` (filters, joins, group-bys and
broadcast look-ups over a frame of claim lines and the edit tables as polars frames; see
`hcpcs.edits.columnar`) in the registry's order, the findings sorted once at the end.

The findings are those of the single-claim engine (`hcpcs.edits.engine.check_claim`) on the same claims:
same rules, severities, codes, lines, messages, fixes and sources, in the same order; the notices too.
Output of `check_batch`: one row per finding (`FINDING_SCHEMA`), claims in input order, ``claim`` the
claim's position in the batch (its place in `BatchResult.claim_ids`; for `Claim` objects, the object's
index); ``source_extra`` holds the JSON of the rule's own source fields (``edit``, ``modifier_indicator``,
``mue``...) so that `findings_to_dicts` can give the single engine's per-claim dicts. `iter_check_batch` runs
a large input in chunks of claims so that memory stays bounded."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl

from hcpcs.claims.model import Claim
from hcpcs.core.dates import parse_date
from hcpcs.core.errors import InvalidInputError
from hcpcs.core.tables import DATASETS
from hcpcs.edits import columnar as col
from hcpcs.edits import registry
from hcpcs.edits.columnar import (
    FINDING_SCHEMA,
    LINE_SCHEMA,
    NOTICE_SCHEMA,
    ORDER_KEYS,
    CodeBook,
    _claim_number,
    _claim_runs,
    claims_frame,
    prepare,
)
from hcpcs.edits.packs import PolicyPack, pack_findings
from hcpcs.edits.spec import source_files
from hcpcs.edits.verdict import claim_verdict
from hcpcs.store.cache import BatchTables
from hcpcs.store.session import Hcpcs

__all__ = ["FINDING_SCHEMA", "LINE_SCHEMA", "NOTICE_SCHEMA", "BatchResult", "check_batch", "check_batch_result",
           "findings_to_dicts", "iter_check_batch", "notices", "result_dicts"]

_KEY_BITS = (12, 12, 23, 12)  # widths of the order keys when packed into one integer
RANK_SPAN = 1 << 12  # a finding's rank (its rule's `SPEC.order`, a policy pack rule's place) is below this


def _sorted(found: pl.DataFrame) -> pl.DataFrame:
    """Findings by claim, rule, and the rule's own order: on two packed integer keys when the order keys
    fit (lines below 4096, PTP rows below 2**23), else on all six."""
    limits = found.select(*(pl.col(k).max().alias(k) for k in ORDER_KEYS),
                          low=pl.min_horizontal(*(pl.col(k).min() for k in ORDER_KEYS))).row(0, named=True)
    fits = found.height and (limits["low"] or 0) >= 0 and all(
        (limits[k] or 0) < (1 << bits) for k, bits in zip(ORDER_KEYS, _KEY_BITS, strict=True))
    if not fits:
        order = found.select(pl.arg_sort_by("claim", "rank", *ORDER_KEYS, maintain_order=True))[:, 0]
    else:
        packed = pl.lit(0, pl.Int64)
        for key, bits in zip(ORDER_KEYS, _KEY_BITS, strict=True):
            packed = packed * (1 << bits) + pl.col(key)
        order = found.select(pl.arg_sort_by(pl.col("claim") * RANK_SPAN + pl.col("rank"), packed,
                                            maintain_order=True))[:, 0]
    return found.drop("rank", *ORDER_KEYS)[order]


@dataclass
class BatchResult:
    findings: pl.DataFrame
    notices: pl.DataFrame  # claim_id, notices (list[str]); claims without notices are absent
    claim_ids: pl.Series  # every claim of the batch, in input order (the `claim` column indexes it)


def check_batch_result(claims: pl.DataFrame | Iterable[Claim], hc: Hcpcs, *, as_of: date | str | None = None,
                       tables: BatchTables | None = None, with_notices: bool = True,
                       only: Iterable[str] | None = None, book: CodeBook | None = None,
                       packs: Sequence[PolicyPack] = ()) -> BatchResult:
    """Findings and (when `with_notices`) per-claim notices of a batch, by the CMS rules and the policy
    `packs`; `only` limits the rules run;
    `book` (the codes of a larger run this batch is a part of) lets parts share per-code work. `Claim`
    objects are checked one by one as the single engine does (two claims with the same id stay apart, and a
    claim without lines is listed), a frame's lines are grouped by claim_id."""
    if not isinstance(claims, pl.DataFrame):
        claims = list(claims)
        day = parse_date(as_of, "as-of date") if as_of else None
        result = check_batch_result(claims_frame(claims, as_of=day, by_position=True), hc, as_of=as_of,
                                    tables=tables, with_notices=with_notices, only=only, book=book, packs=packs)
        ids = pl.Series("claim_id", [claim.id for claim in claims], dtype=pl.String)

        def original(frame: pl.DataFrame) -> pl.DataFrame:  # claim: the position of the Claim object
            position = pl.col("claim_id").cast(pl.Int64)
            return frame.with_columns(claim_id=pl.lit(ids).gather(position), claim=position)

        return BatchResult(original(result.findings), original(result.notices), ids)
    ctx = prepare(claims, hc, tables=tables, as_of=as_of, want_notices=with_notices, book=book)
    wanted = set(only) if only is not None else None
    frames = []
    modules = registry.rules()
    for module in modules:
        if not module.SPEC.last and (ctx.lines.height or module.SPEC.screen) and (
                wanted is None or module.SPEC.id in wanted):
            frames.append(module.check_batch(ctx))
    for number, pack in enumerate(packs):
        frames.append(pack_findings(ctx, pack, number))
    for module in modules:
        if module.SPEC.last and ctx.lines.height and (wanted is None or module.SPEC.id in wanted):
            frames.append(module.check_batch(ctx))
    found = col.concat(frames)
    if found is None:
        found = col.no_findings()
    found = _sorted(found)
    found = _with_source_files(found, hc)
    findings = found.select(claim_id=ctx.claim_ids.gather(found["claim"]),
                            claim="claim", **{c: pl.col(c) for c in FINDING_SCHEMA if c not in ("claim_id", "claim")})
    note_frame = notices(ctx) if with_notices else pl.DataFrame(schema=NOTICE_SCHEMA)
    return BatchResult(findings.cast(FINDING_SCHEMA), note_frame, ctx.claim_ids)  # type: ignore[arg-type]


def iter_check_batch(claims: pl.DataFrame | Iterable[Claim], hc: Hcpcs, *, chunk_claims: int = 250_000,
                     as_of: date | str | None = None, tables: BatchTables | None = None,
                     with_notices: bool = False, packs: Sequence[PolicyPack] = ()) -> Iterator[BatchResult]:
    """`check_batch_result` on successive chunks of `chunk_claims` claims (a claim's lines never split),
    so that memory stays bounded by the chunk: the tables are loaded once."""
    if chunk_claims < 1:
        raise InvalidInputError("chunk_claims must be at least 1")
    tables = tables or BatchTables(hc)
    if not isinstance(claims, pl.DataFrame):
        claims = list(claims)
        book = CodeBook(pl.Series([line.code for claim in claims if isinstance(claim, Claim) for line in claim.lines],
                                  dtype=pl.String))
        for start in range(0, len(claims), chunk_claims):
            yield check_batch_result(claims[start:start + chunk_claims], hc, as_of=as_of, tables=tables,
                                     with_notices=with_notices, book=book, packs=packs)
        return
    frame = claims
    if "claim_id" not in frame.columns:
        raise InvalidInputError("claim lines frame lacks column claim_id")
    frame = frame.with_columns(pl.col("claim_id").cast(pl.String))
    book = CodeBook(frame["code"].cast(pl.String)) if "code" in frame.columns else None
    claim_ids, together = _claim_runs(frame)
    if together:
        runs = frame.select(pl.col("claim_id").rle_id())["claim_id"]
        bounds = [0, *(runs.search_sorted(k, side="left") for k in range(chunk_claims, claim_ids.len(), chunk_claims)),
                  frame.height]
        parts: Iterable[pl.DataFrame] = (frame.slice(a, b - a) for a, b in zip(bounds, bounds[1:], strict=False))
    else:
        numbered = frame.with_columns(chunk=_claim_number(claim_ids, together) // chunk_claims)
        parts = (part.drop("chunk") for _, part in numbered.group_by("chunk", maintain_order=True))
    for part in parts:
        yield check_batch_result(part, hc, as_of=as_of, tables=tables, with_notices=with_notices, book=book,
                                 packs=packs)


def check_batch(claims: pl.DataFrame | Iterable[Claim], hc: Hcpcs, *, as_of: date | str | None = None,
                tables: BatchTables | None = None) -> pl.DataFrame:
    """The findings of the CMS rules on a batch of claims (a claim-lines frame or `Claim` objects), one row
    per finding, as `check_claim` finds them claim by claim; pass `tables` to keep the edit tables loaded
    between batches."""
    return check_batch_result(claims, hc, as_of=as_of, tables=tables, with_notices=False).findings


# ---------------------------------------------------------------------------------------------------
# Output in the single engine's per-claim form


def _with_source_files(found: pl.DataFrame, hc: Hcpcs) -> pl.DataFrame:
    """The findings with `source_files`: the names of the files of the source release that fill the table
    the finding's row comes from (as the single engine's `hcpcs.edits.spec.source` lists them)."""
    keys = found.select("rule", "source_dataset", "source_release").unique().filter(
        pl.col("source_release").is_not_null())
    by_label = {(r.dataset, r.label): r for r in hc.releases}
    rows = []
    for rule, dataset, label in keys.iter_rows():
        release = by_label.get((dataset, label))
        files = source_files(release, source_table(rule, dataset)) if release is not None else None
        rows.append((rule, dataset, label, files))
    files = pl.DataFrame(rows, schema={"rule": pl.String, "source_dataset": pl.String, "source_release": pl.String,
                                       "source_files": pl.List(pl.String)}, orient="row")
    return found.join(files, on=["rule", "source_dataset", "source_release"], how="left", maintain_order="left")


def source_table(rule_id: str, dataset: str) -> str | None:
    """The store table a finding's source row comes from: its rule's, else the dataset's main table."""
    spec = registry.spec(rule_id)
    if spec is not None and spec.table:
        return spec.table
    return DATASETS[dataset].tables[0] if dataset in DATASETS else None


def _source(hc: Hcpcs, row: dict[str, Any], files: dict[tuple[str, str, str | None], list[str]]) -> dict[str, Any] | None:
    """The `source` of a finding as the single engine's `hcpcs.edits.spec.source` writes it."""
    dataset = row["source_dataset"]
    if dataset is None:
        return None
    if dataset == "policy-pack":
        return json.loads(row["source_extra"])
    if row["source_release"] is None:
        return {"dataset": dataset, "release": None, "row": None}
    out = {"dataset": dataset, "release": row["source_release"], "row": row["source_row"],
           "files": list(row["source_files"] or [])}
    if row["source_extra"]:
        out.update(json.loads(row["source_extra"]))
    return out


def findings_to_dicts(findings: pl.DataFrame, hc: Hcpcs, *, claim_ids: Iterable[str] | None = None,
                      notices: pl.DataFrame | None = None) -> Iterator[dict[str, Any]]:
    """Per-claim results in the single engine's form (`{"id", "findings": [...], "notices"?}`, as
    `ClaimResult.to_dict`): every claim of `claim_ids` in that order (those without findings too; rows are
    matched to them by their `claim` position, so repeated ids stay apart), else the claims of the findings
    frame by id."""
    key = "claim" if claim_ids is not None else "claim_id"
    by_claim: dict[Any, list[dict[str, Any]]] = {}
    files: dict[tuple[str, str, str | None], list[str]] = {}
    for row in findings.iter_rows(named=True):
        finding = {"rule": row["rule"], "severity": row["severity"], "codes": row["codes"],
                   "lines": [index + 1 for index in row["lines"]], "message": row["message"],
                   "details": row["details"], "fix": row["fix"], "source": _source(hc, row, files)}
        if row.get("citation"):
            finding["citation"] = row["citation"]
        by_claim.setdefault(row[key], []).append(finding)
    noted = {row[key]: row["notices"] for row in notices.iter_rows(named=True)} if notices is not None else {}
    claims = enumerate(claim_ids) if claim_ids is not None else ((claim_id, claim_id) for claim_id in by_claim)
    for position, claim_id in claims:
        out: dict[str, Any] = {"id": claim_id, "findings": by_claim.get(position, [])}
        if noted.get(position):
            out["notices"] = list(noted[position])
        out["verdict"] = claim_verdict(out["findings"])
        yield out


def result_dicts(result: BatchResult, hc: Hcpcs) -> Iterator[dict[str, Any]]:
    """Every claim of a batch result in the single engine's per-claim form."""
    return findings_to_dicts(result.findings, hc, claim_ids=result.claim_ids.to_list(), notices=result.notices)


def notices(ctx: col.BatchContext) -> pl.DataFrame:
    """`claim_id`, `claim`, `notices` (list[str]) of the claims whose release choices carry notices, in the
    order the single engine meets them: by the rule (and within it the line) that first asked for each choice.
    Claims that asked for the same choices in the same order share their notices, worked out once."""
    noted = ctx.query_table("notices")
    if not ctx.requests or not noted.height:
        return pl.DataFrame(schema=NOTICE_SCHEMA)
    asked = pl.concat(ctx.requests).filter(pl.col("query_id").is_in(noted["query_id"].implode()))
    first = asked.group_by("claim", "query_id").agg(key=(pl.col("rank") * (1 << 32) + pl.col("order")).min())
    sequences = first.sort("claim", "key").group_by("claim", maintain_order=True).agg(queries=pl.col("query_id"))
    texts = dict(zip(noted["query_id"].to_list(), noted["notice"].to_list(), strict=True))
    distinct = sequences["queries"].unique().to_list()
    lists = []
    for queries in distinct:
        out: list[str] = []
        for query in queries:
            out.extend(text for text in texts[query] if text not in out)
        lists.append(out)
    table = pl.DataFrame({"queries": distinct, "notices": lists},
                         schema={"queries": sequences.schema["queries"], "notices": pl.List(pl.String)})
    grouped = sequences.join(table, on="queries", how="left", maintain_order="left")
    return grouped.select(claim_id=ctx.claim_ids.gather(grouped["claim"]), claim="claim", notices="notices")
