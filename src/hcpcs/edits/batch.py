"""Checking many claims at once: the CMS rules of `hcpcs.edits.rules` written as relational operations
(joins, filters, group-bys) over a frame of claim lines and the edit tables as polars frames, so that
they run column-wise instead of claim by claim, and could run on Spark in the same shape.

The findings are those of the single-claim engine (`hcpcs.edits.engine.check_claim`) for the same
claims: same rules, severities, codes, lines, messages, fixes and sources, in the same order. Each rule
has one function here (`RULES`), next to the single-claim rule module whose docstring states the policy.

Input: a frame of claim lines with columns ``claim_id``, ``setting`` (professional | facility),
``line`` (0-based index of the line in its claim), ``code``, ``modifiers`` (list of str), ``units``,
``dos`` (date of service of the line), or an iterable of `Claim`. Output: one row per finding with
``claim_id, rule, severity, codes, lines, message, fix, source_dataset, source_release, source_row,
source_extra`` (the JSON of the rule-specific source fields), claims in input order.

How it works: lines are numbered by claim (`cp`, order of first appearance) and sorted by claim, date
and line, so the lines of one claim and date of service (a "claim day") are contiguous; pairs of lines
of a claim day are generated from row ranges, not by a hash self-join. Codes are mapped to integers once
(`cid`), and every rule joins integers. Release choice is computed once per distinct (dataset, date)
with `choose_release` (as the single engine does through `EditTables.choice`) and joined. What each
rule needs per (setting, date, code) is computed on the distinct keys (`ukey`) and joined back."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import polars as pl

from hcpcs import indicators
from hcpcs.claims.model import SETTINGS, Claim
from hcpcs.codes import kind_of
from hcpcs.edits.batch_tables import BatchTables
from hcpcs.edits.engine import RULE_MODULES, rules
from hcpcs.edits.pctc import _FIX as PCTC_FIX
from hcpcs.edits.ptp import ptp_associated_modifiers
from hcpcs.edits.rules import mue_exceeded as mue_rule
from hcpcs.edits.rules import opps_packaged as opps_rule
from hcpcs.edits.rules import status_not_payable as status_rule
from hcpcs.edits.rules.addon_without_primary import CONTRACTOR_DEFINED
from hcpcs.edits.rules.code_not_valid_on_dos import DELETED_STATUSES
from hcpcs.edits.rules.duplicate_line import SEVERITY as DUPLICATE_SEVERITY
from hcpcs.edits.tables import MUE_DATASET, PTP_DATASET
from hcpcs.errors import DataNotLoadedError, InvalidInputError, NotCoveredError
from hcpcs.reference import pctc_allows
from hcpcs.service import Hcpcs, parse_date

LINE_SCHEMA: dict[str, pl.DataType] = {
    "claim_id": pl.String(), "setting": pl.String(), "line": pl.Int64(), "code": pl.String(),
    "modifiers": pl.List(pl.String()), "units": pl.Float64(), "dos": pl.Date(),
}

FINDING_SCHEMA: dict[str, pl.DataType] = {
    "claim_id": pl.String(), "rule": pl.String(), "severity": pl.String(), "codes": pl.List(pl.String()),
    "lines": pl.List(pl.Int64()), "message": pl.String(), "fix": pl.String(), "source_dataset": pl.String(),
    "source_release": pl.String(), "source_row": pl.Int64(), "source_extra": pl.String(),
}

# Internal form of a rule's findings: claim position, the finding, and the keys that order findings of
# one rule within a claim as the single engine lists them.
_ORDER_KEYS = ("k1", "k2", "k3", "k4")
_RULE_SCHEMA: dict[str, pl.DataType] = {
    "cp": pl.Int64(), **{k: v for k, v in FINDING_SCHEMA.items() if k != "claim_id"},
    **{k: pl.Int64() for k in _ORDER_KEYS},
}

DATA_NOT_COVERED = "DATA_NOT_COVERED"
NOT_COVERED_FIX = "Load the CMS release in force on that date (hcpcs update --from ...)."
_DAY_BITS = 1 << 21  # dates of service of one batch must lie within 2**21 days (5,700 years)
_PAIR_SHIFT = 1 << 32


def _rule_ids() -> list[str]:
    return [module.RULE_ID for module in rules()]


def rule_rank(rule_id: str) -> int:
    """Position of a rule in the single engine's listing (DATA_NOT_COVERED comes last)."""
    ids = _rule_ids()
    return ids.index(rule_id) if rule_id in ids else len(ids)


# ---------------------------------------------------------------------------------------------------
# Input


def claims_frame(claims: Iterable[Claim], *, as_of: date | None = None) -> pl.DataFrame:
    """The claim-lines frame of `Claim` objects (the line's own date of service, else the claim's)."""
    ids: list[str] = []
    settings: list[str] = []
    indexes: list[int] = []
    codes: list[str] = []
    modifiers: list[list[str]] = []
    units: list[float] = []
    days: list[date] = []
    for claim in claims:
        if not isinstance(claim, Claim):
            raise InvalidInputError(f"expected Claim objects, got {type(claim).__name__}")
        for index, line in enumerate(claim.lines):
            ids.append(claim.id)
            settings.append(claim.setting)
            indexes.append(index)
            codes.append(line.code)
            modifiers.append(list(line.modifiers))
            units.append(float(line.units))
            days.append(as_of or line.date_of_service or claim.date_of_service)
    return pl.DataFrame({"claim_id": ids, "setting": settings, "line": indexes, "code": codes,
                         "modifiers": modifiers, "units": units, "dos": days}, schema=LINE_SCHEMA)


def _normalized(frame: pl.DataFrame, as_of: date | None) -> pl.DataFrame:
    missing = [c for c in LINE_SCHEMA if c not in frame.columns]
    if missing:
        raise InvalidInputError(f"claim lines frame lacks column(s) {', '.join(missing)}; expected "
                                f"{', '.join(LINE_SCHEMA)}")
    frame = frame.select(list(LINE_SCHEMA))
    if frame.schema["modifiers"] == pl.String:
        frame = frame.with_columns(pl.col("modifiers").str.split(","))
    try:
        frame = frame.cast(LINE_SCHEMA)  # type: ignore[arg-type]
    except pl.exceptions.PolarsError as exc:
        raise InvalidInputError(f"claim lines frame has a column of the wrong type: {exc}") from exc
    if as_of is not None:
        frame = frame.with_columns(dos=pl.lit(as_of, pl.Date))
    frame = frame.with_columns(pl.col("modifiers").fill_null(pl.lit([], pl.List(pl.String))))
    for column in ("claim_id", "setting", "line", "code", "units", "dos"):
        nulls = frame.filter(pl.col(column).is_null())
        if nulls.height:
            raise InvalidInputError(f"claim {nulls['claim_id'][0]}: line without {column}")
    bad = frame.filter(~pl.col("setting").is_in(list(SETTINGS)))
    if bad.height:
        raise InvalidInputError(f"claim {bad['claim_id'][0]}: setting {bad['setting'][0]!r} is not one of "
                                f"{', '.join(SETTINGS)}")
    return frame


# ---------------------------------------------------------------------------------------------------
# Batch context: the prepared lines, release choices, and what rules asked for


@dataclass
class _Choice:
    release_id: int | None
    label: str | None
    notices: list[str]
    reason: str | None


@dataclass
class BatchContext:
    """The prepared lines of a batch and what the rules share: release choices, the release requests
    (for DATA_NOT_COVERED and the notices), and cached intermediate frames."""

    hc: Hcpcs
    tables: BatchTables
    lines: pl.DataFrame  # one row per claim line, sorted by claim, date, line; `r` = row position
    claim_ids: pl.Series  # claim id by claim position
    codes: pl.Series  # distinct codes; a line's `cid` is the position of its code here
    day_origin: int
    want_notices: bool = True
    choices: dict[tuple[str, date], _Choice] = field(default_factory=dict)
    requests: list[pl.DataFrame] = field(default_factory=list)
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def code_enum(self) -> pl.Enum:
        if "enum" not in self.cache:
            self.cache["enum"] = pl.Enum(self.codes)
        return self.cache["enum"]

    def cids(self, frame: pl.DataFrame, column: str, name: str = "cid") -> pl.DataFrame:
        """Rows of a table whose `column` is a code of this batch, with that code's `cid`."""
        return frame.filter(pl.col(column).is_in(self.codes.implode())).with_columns(
            pl.col(column).cast(self.code_enum).to_physical().cast(pl.Int64).alias(name))

    # -- releases ------------------------------------------------------------------------------------

    def choice(self, dataset: str, day: date) -> _Choice:
        key = (dataset, day)
        if key not in self.choices:
            try:
                chosen = self.hc.release_for(dataset, day)
            except (NotCoveredError, DataNotLoadedError) as exc:
                self.choices[key] = _Choice(None, None, [], str(exc) or None)
            else:
                self.choices[key] = _Choice(chosen.release.id, chosen.release.label, list(chosen.notices), None)
        return self.choices[key]

    def with_release(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Adds `release_id`, `release_label` and `reason` (why no release answers) from the frame's
        `dataset` and `dos` columns."""
        keys = frame.select("dataset", "dos").unique()
        rows = []
        for dataset, day in keys.iter_rows():
            choice = self.choice(dataset, day)
            rows.append((dataset, day, choice.release_id, choice.label, choice.reason))
        table = pl.DataFrame(rows, orient="row", schema={
            "dataset": pl.String, "dos": pl.Date, "release_id": pl.Int64, "release_label": pl.String,
            "reason": pl.String})
        return frame.join(table, on=["dataset", "dos"], how="left")

    def request(self, frame: pl.DataFrame, rule_id: str) -> None:
        """Records that a rule asked for the release of `dataset` on `dos` for claim `cp` (order key
        `k`), as `ClaimContext.release` does; only the requests that lead to a notice or to
        DATA_NOT_COVERED are kept."""
        keys = frame.select("dataset", "dos").unique()
        flagged = [(dataset, day) for dataset, day in keys.iter_rows()
                   if (c := self.choice(dataset, day)).reason or (self.want_notices and c.notices)]
        if not flagged:
            return
        wanted = pl.DataFrame(flagged, orient="row", schema={"dataset": pl.String, "dos": pl.Date})
        kept = frame.select("cp", "dataset", "dos", "k").join(wanted, on=["dataset", "dos"], how="semi")
        self.requests.append(kept.with_columns(rank=pl.lit(rule_rank(rule_id), pl.Int64)))

    def release_days(self, frame: pl.DataFrame) -> dict[int, pl.DataFrame]:
        """The frame's rows (with `dataset`, `dos`) split by the release that answers for them."""
        withrel = self.with_release(frame).filter(pl.col("release_id").is_not_null())
        return {rid: part for (rid,), part in withrel.partition_by("release_id", as_dict=True).items()}

    # -- shared frames -------------------------------------------------------------------------------

    @property
    def claim_days(self) -> pl.DataFrame:
        """One row per claim and date of service: the first line of each claim day."""
        if "claim_days" not in self.cache:
            self.cache["claim_days"] = self.lines.filter(pl.col("r") == pl.col("gstart")).select(
                "cp", "gkey", "dos", "prof", "day_rank", "gstart", "glen")
        return self.cache["claim_days"]

    @property
    def keys(self) -> pl.DataFrame:
        """The distinct (setting, date, code) of the batch (`ukey`)."""
        if "keys" not in self.cache:
            self.cache["keys"] = self.lines.unique("ukey").select("ukey", "prof", "dos", "cid", "code")
        return self.cache["keys"]

    def day_pairs(self, rows: pl.DataFrame, *, upper: bool) -> pl.DataFrame:
        """Pairs of lines of the same claim day: for each row of `rows` (lines of this batch, with
        `r`, `gstart`, `glen`), the rows `j` of its claim day after it (`upper`) or all of them."""
        start = pl.col("r") + 1 if upper else pl.col("gstart")
        pairs = rows.select(pl.all(), j=pl.int_ranges(start, pl.col("gstart") + pl.col("glen"),
                                                          dtype=pl.Int64)).explode("j")
        return pairs.filter(pl.col("j").is_not_null())

    def gather(self, column: str, rows: pl.Series | pl.Expr) -> pl.Expr:
        """A column of `lines` at row positions."""
        return pl.lit(self.lines[column]).gather(rows)


def prepare(claims: pl.DataFrame | Iterable[Claim], hc: Hcpcs, *, tables: BatchTables | None = None,
            as_of: date | str | None = None, want_notices: bool = True) -> BatchContext:
    """Normalize and index the claim lines of a batch."""
    day = parse_date(as_of, "as-of date") if as_of else None
    frame = claims if isinstance(claims, pl.DataFrame) else claims_frame(claims, as_of=day)
    frame = _normalized(frame, day)
    tables = tables or BatchTables(hc)
    if frame.height == 0:
        empty = frame.with_columns(*(pl.lit(None, pl.Int64).alias(c) for c in (
            "cp", "cid", "prof", "gkey", "dk", "ukey", "r", "gstart", "glen", "day_rank")))
        return BatchContext(hc, tables, empty, pl.Series([], dtype=pl.String), pl.Series([], dtype=pl.String),
                            0, want_notices)
    claim_order = frame.select(pl.col("claim_id").unique(maintain_order=True))["claim_id"]
    contiguous = frame.select(pl.col("claim_id").rle_id().max())[0, 0] + 1 == claim_order.len()
    if contiguous:
        frame = frame.with_columns(cp=pl.col("claim_id").rle_id().cast(pl.Int64))
    else:
        frame = frame.join(claim_order.to_frame().with_row_index("cp").with_columns(pl.col("cp").cast(pl.Int64)),
                           on="claim_id", how="left", maintain_order="left")
    codes = frame["code"].unique().sort()
    origin = frame.select(pl.col("dos").min().cast(pl.Int32))[0, 0]
    n_codes = codes.len()
    frame = frame.with_columns(
        cid=pl.col("code").cast(pl.Enum(codes)).to_physical().cast(pl.Int64),
        prof=(pl.col("setting") == "professional"),
        day=pl.col("dos").cast(pl.Int32).cast(pl.Int64) - origin,
    )
    if frame.select(pl.col("day").max())[0, 0] >= _DAY_BITS:
        raise InvalidInputError("the dates of service of one batch must lie within 5,000 years")
    frame = frame.with_columns(
        gkey=pl.col("cp") * _DAY_BITS + pl.col("day"),
        dk=pl.col("day") * 2 + pl.col("prof").cast(pl.Int64),
    ).with_columns(ukey=pl.col("dk") * n_codes + pl.col("cid"))
    in_order = frame.select(((pl.col("gkey").diff() > 0)
                             | ((pl.col("gkey").diff() == 0) & (pl.col("line").diff() > 0))).all())[0, 0]
    if not in_order:
        frame = frame.sort("gkey", "line")
    frame = frame.with_row_index("r").with_columns(pl.col("r").cast(pl.Int64))
    groups = frame.select(pl.col("gkey").rle_id().alias("g"))["g"]
    lengths = frame.select(pl.col("gkey").rle().struct.field("len").cast(pl.Int64).alias("n"))["n"]
    starts = lengths.cum_sum() - lengths
    frame = frame.with_columns(gstart=starts.gather(groups), glen=lengths.gather(groups))
    frame = frame.with_columns(day_rank=pl.col("line").gather(pl.col("gstart")))
    return BatchContext(hc, tables, frame.drop("day"), claim_order, codes, origin, want_notices)


# ---------------------------------------------------------------------------------------------------
# Expression helpers


def _iso(column: str = "dos") -> pl.Expr:
    return pl.col(column).dt.to_string("%Y-%m-%d")


def _meaning(frame: pl.DataFrame, column: str, key: str, *, otherwise: str | None = "") -> pl.Expr:
    """`indicators.meaning(key, value)` of a column (`otherwise` when there is none; None: the value)."""
    values = [v for v in frame[column].unique().to_list() if v is not None]
    words = [indicators.meaning(key, v) or (v if otherwise is None else otherwise) for v in values]
    fallback = pl.col(column) if otherwise is None else pl.lit(otherwise)
    return pl.col(column).replace_strict(values, words, default=fallback, return_dtype=pl.String)


def _num_g(column: str) -> pl.Expr:
    """format(value, "g") of a numeric column, as the rules print units."""
    value = pl.col(column).cast(pl.Float64)
    whole = (value == value.floor()) & (value.abs() < 1e6)
    return (pl.when(whole).then(value.cast(pl.Int64).cast(pl.String))
            .otherwise(value.map_elements(lambda v: format(v, "g"), return_dtype=pl.String)))


def _json(**fields: pl.Expr) -> pl.Expr:
    """A JSON object of text fields (values are codes and indicators: no quoting needed)."""
    parts: list[pl.Expr] = []
    for i, (name, value) in enumerate(fields.items()):
        parts.append(pl.lit(("{" if i == 0 else ", ") + json.dumps(name) + ": "))
        parts.append(pl.when(value.is_null()).then(pl.lit("null"))
                     .otherwise(pl.lit('"') + value.cast(pl.String) + pl.lit('"')))
    parts.append(pl.lit("}"))
    return pl.concat_str(parts)


def _findings(frame: pl.DataFrame, rule: str, *, severity: str | pl.Expr, codes: pl.Expr, lines: pl.Expr,
              message: pl.Expr, fix: str | pl.Expr | None, dataset: pl.Expr | None = None,
              release: pl.Expr | None = None, row: pl.Expr | None = None, extra: pl.Expr | None = None,
              order: tuple[pl.Expr, ...] = ()) -> pl.DataFrame:
    """A rule's findings in the common internal form."""
    def lit(value: str | pl.Expr | None) -> pl.Expr:
        return value if isinstance(value, pl.Expr) else pl.lit(value, pl.String)

    keys = list(order) + [pl.lit(0)] * (len(_ORDER_KEYS) - len(order))
    out = frame.select(
        pl.col("cp"), rule=pl.lit(rule), severity=lit(severity), codes=codes, lines=lines, message=message,
        fix=lit(fix), source_dataset=lit(dataset), source_release=lit(release),
        source_row=row if row is not None else pl.lit(None, pl.Int64), source_extra=lit(extra),
        **{name: key for name, key in zip(_ORDER_KEYS, keys, strict=True)},
    )
    return out.cast(_RULE_SCHEMA)  # type: ignore[arg-type]


def _empty() -> pl.DataFrame:
    return pl.DataFrame(schema=_RULE_SCHEMA)


def _concat(frames: list[pl.DataFrame]) -> pl.DataFrame:
    frames = [f for f in frames if f.height]
    return pl.concat(frames) if frames else _empty()


def _dataset_by_setting(mapping: dict[str, str]) -> pl.Expr:
    return pl.when(pl.col("prof")).then(pl.lit(mapping["professional"])).otherwise(pl.lit(mapping["facility"]))


# ---------------------------------------------------------------------------------------------------
# Rules. Each takes the context and returns its findings; see the rule module of the same name for
# the policy.


def code_not_valid_on_dos(ctx: BatchContext) -> pl.DataFrame:
    rule = "CODE_NOT_VALID_ON_DOS"
    level2 = pl.col("code").is_in([c for c in ctx.codes.to_list() if kind_of(c) == "level2"])
    dataset = pl.when(level2).then(pl.lit("hcpcs")).when(pl.col("prof")).then(pl.lit("mpfs")).otherwise(
        pl.lit("opps"))
    ctx.request(ctx.lines.select("cp", "dos", dataset=dataset, k=pl.col("line")), rule)
    keys = ctx.with_release(ctx.keys.with_columns(level2=level2, dataset=dataset))
    with_release = keys.filter(pl.col("release_id").is_not_null())
    parts = []
    labels = {r.id: r for r in ctx.hc.releases}

    # HCPCS Level II codes: the HCPCS file in force.
    l2 = with_release.filter(pl.col("dataset") == "hcpcs")
    if l2.height:
        rows = ctx.tables.frames(l2["release_id"].unique().to_list(), "hcpcs_code").filter(
            pl.col("record_kind") == "procedure").unique(["release_id", "code"], keep="first", maintain_order=True)
        l2 = l2.join(rows.drop("record_kind").with_columns(has_row=pl.lit(True)), on=["release_id", "code"],
                     how="left").with_columns(iso=_iso(), has_row=pl.col("has_row").fill_null(False))
        not_yet = pl.col("added_date").is_not_null() & (pl.col("iso") < pl.col("added_date"))
        added = l2.filter(pl.col("has_row") & not_yet)
        parts.append(added.select(
            "ukey", "dataset", "release_label", "source_line",
            message=pl.format("{} is not valid on {}: it was added {} ({}).", "code", "iso", "added_date",
                              "release_label"),
            fix=pl.lit("Use the code that was in force on the date of service.")))
        terminated = l2.filter(pl.col("has_row") & ~not_yet & pl.col("termination_date").is_not_null()
                               & (pl.col("iso") > pl.col("termination_date")))
        if terminated.height:
            parts.append(terminated.select(
                "ukey", "dataset", "release_label", "source_line",
                message=pl.format("{} is not valid on {}: it was terminated {} (action {}: {}; {}).", "code", "iso",
                                  "termination_date", pl.col("action_code").fill_null("None"),
                                  _meaning(terminated, "action_code", "hcpcs_action_code"), "release_label"),
                fix=pl.lit("Report the code that replaced it for dates of service after the termination date.")))
        absent = l2.filter(~pl.col("has_row"))
        if absent.height:
            others = _other_releases(ctx, "hcpcs_code", absent, labels)
            absent = absent.join(others, on=["code", "release_id"], how="left")
            known = ctx.tables.known_codes(absent.filter(pl.col("others").is_null())["code"].unique().to_list())
            parts.append(absent.filter(pl.col("others").is_not_null()).select(
                "ukey", "dataset", "release_label", source_line=pl.lit(None, pl.Int64),
                message=pl.format("{} is not in {}, the HCPCS release in force on {} (it appears in {}).", "code",
                                  "release_label", "iso", "others"),
                fix=pl.lit("Check the code against the HCPCS file of the date of service.")))
            parts.append(absent.filter(pl.col("others").is_null() & ~pl.col("code").is_in(list(known))).select(
                "ukey", "dataset", "release_label", source_line=pl.lit(None, pl.Int64),
                message=pl.format("{} is not a code in any loaded CMS release.", "code"),
                fix=pl.lit("Check the code for a typing error.")))

    # CPT codes: the fee schedule (professional) or OPPS Addendum B (facility) in force.
    cpt = with_release.filter(pl.col("dataset") != "hcpcs").with_columns(iso=_iso())
    present_parts = []
    mpfs = cpt.filter(pl.col("dataset") == "mpfs")
    if mpfs.height:
        base = _rvu_base(ctx, mpfs["release_id"].unique().to_list())
        mpfs = mpfs.join(base, on=["release_id", "code"], how="left")
        deleted = mpfs.filter(pl.col("status").is_in(list(DELETED_STATUSES)))
        parts.append(deleted.select(
            "ukey", "dataset", "release_label", "source_line",
            message=pl.format("{} is deleted on {}: fee-schedule status {} in {}.", "code", "iso", "status",
                              "release_label"),
            fix=pl.lit("Report the code that replaced it.")))
        present_parts.append(mpfs.filter(pl.col("has_row").is_null()).drop(
            "has_row", "status", "pctc", "source_line"))
    opps = cpt.filter(pl.col("dataset") == "opps")
    if opps.height:
        rows = ctx.tables.frames(opps["release_id"].unique().to_list(), "opps_addendum_b").select(
            "release_id", pl.col("hcpcs").alias("code")).unique()
        present_parts.append(opps.join(rows, on=["release_id", "code"], how="anti"))
    absent = _concat_plain(present_parts)
    if absent is not None and absent.height:
        known = ctx.tables.known_codes(absent["code"].unique().to_list())
        parts.append(absent.filter(~pl.col("code").is_in(list(known))).select(
            "ukey", "dataset", "release_label", source_line=pl.lit(None, pl.Int64),
            message=pl.format("{} is not a code in any loaded CMS release.", "code"),
            fix=pl.lit("Check the code for a typing error.")))
        absent = absent.filter(pl.col("code").is_in(list(known)))
        tables = {"mpfs": "mpfs_rvu", "opps": "opps_addendum_b"}
        for name, part in absent.partition_by("dataset", as_dict=True).items():
            dataset_name = name[0]
            others = _other_releases(ctx, tables[dataset_name], part, labels)
            part = part.join(others, on=["code", "release_id"], how="left")
            what = "fee schedule" if dataset_name == "mpfs" else "OPPS"
            parts.append(part.select(
                "ukey", "dataset", "release_label", source_line=pl.lit(None, pl.Int64),
                message=pl.format("{} is not in {}, the " + what + " release in force on {}{}.", "code",
                                  "release_label", "iso",
                                  pl.when(pl.col("others").is_not_null())
                                  .then(pl.format(" (it appears in {})", "others")).otherwise(pl.lit(""))),
                fix=pl.lit("Check that the code was valid on the date of service.")))

    # No release of the dataset in force: only a code no release knows is reported (without source).
    uncovered = keys.filter(pl.col("release_id").is_null() & ~pl.col("level2"))
    if uncovered.height:
        known = ctx.tables.known_codes(uncovered["code"].unique().to_list())
        parts.append(uncovered.filter(~pl.col("code").is_in(list(known))).select(
            "ukey", dataset=pl.lit(None, pl.String), release_label=pl.lit(None, pl.String),
            source_line=pl.lit(None, pl.Int64),
            message=pl.format("{} is not a code in any loaded CMS release.", "code"),
            fix=pl.lit("Check the code for a typing error.")))

    bad = _concat_plain([p.cast({"source_line": pl.Int64}) for p in parts if p.height])
    if bad is None:
        return _empty()
    first_lines = ctx.lines.join(bad.select("ukey"), on="ukey", how="semi").group_by("cp", "ukey").agg(
        pl.col("line").min(), pl.col("code").first())
    found = first_lines.join(bad, on="ukey")
    return _findings(
        found, rule, severity="error", codes=pl.concat_list("code"), lines=pl.concat_list("line"),
        message=pl.col("message"), fix=pl.col("fix"), dataset=pl.col("dataset"),
        release=pl.col("release_label"), row=pl.col("source_line"), order=(pl.col("line"),))


def _concat_plain(frames: list[pl.DataFrame]) -> pl.DataFrame | None:
    frames = [f for f in frames if f.height]
    return pl.concat(frames, how="diagonal_relaxed") if frames else None


def _other_releases(ctx: BatchContext, table: str, frame: pl.DataFrame, releases: dict) -> pl.DataFrame:
    """`code`, `release_id` (the release in force) -> `others`: labels of the releases whose `table`
    carries the code, in the store's release order; none when no release does."""
    present = ctx.tables.releases_with(table, frame["code"].unique().to_list())
    order = {r.id: i for i, r in enumerate(ctx.hc.releases)}
    present = present.with_columns(
        label=pl.col("release_id").replace_strict(list(releases), [r.label for r in releases.values()],
                                                  return_dtype=pl.String),
        position=pl.col("release_id").replace_strict(list(order), list(order.values()), return_dtype=pl.Int64),
    ).sort("position")
    grouped = present.group_by("code", maintain_order=True).agg(others=pl.col("label").str.join(", "))
    return frame.select("code", "release_id").unique().join(grouped, on="code", how="inner")


def _rvu_rows(ctx: BatchContext, release_ids: list[int]) -> pl.DataFrame:
    """Fee-schedule rows by (release, code, modifier), the last one loaded winning as in
    `EditTables.rvu`."""
    rows = ctx.tables.frames(release_ids, "mpfs_rvu").rename({"hcpcs": "code"})
    return rows.filter(pl.col("code").is_in(ctx.codes.implode())).unique(
        ["release_id", "code", "modifier"], keep="last", maintain_order=True)


def _rvu_base(ctx: BatchContext, release_ids: list[int]) -> pl.DataFrame:
    """The row a rule reads for a code: the global row (modifier ''), else the first by modifier."""
    key = ("rvu_base", tuple(sorted(release_ids)))
    if key not in ctx.cache:
        rows = _rvu_rows(ctx, release_ids).sort("release_id", "code", pl.col("modifier") != "", "modifier")
        ctx.cache[key] = rows.unique(["release_id", "code"], keep="first", maintain_order=True).select(
            "release_id", "code", "status", "pctc", "source_line", has_row=pl.lit(True))
    return ctx.cache[key]


# -- PTP ---------------------------------------------------------------------------------------------


def ptp_pairs(ctx: BatchContext) -> pl.DataFrame | None:
    """Every (column 1 line, column 2 line, edit) of a claim day whose codes form an NCCI PTP edit in force,
    with its outcome (bundled | not_bypassable | bypassed), shared by the three PTP rules (`ptp.py`)."""
    if "ptp" in ctx.cache:
        return ctx.cache["ptp"]
    days = ctx.claim_days.filter(pl.col("glen") >= 2).with_columns(
        dataset=_dataset_by_setting(PTP_DATASET), k=pl.col("day_rank"))
    # Only claim days with two different codes ask for the PTP release (`ptp.pair_outcomes`).
    several = ctx.lines.filter(pl.col("glen") >= 2).group_by("gkey").agg(pl.col("cid").n_unique().alias("n"))
    days = days.join(several.filter(pl.col("n") >= 2), on="gkey", how="semi")
    ctx.request(days, "PTP_BUNDLED")
    found = []
    for release_id, part in ctx.release_days(days).items():
        lines = ctx.lines.join(part.select("gkey"), on="gkey", how="semi").select("r", "cid", "gstart", "glen")
        pairs = ctx.day_pairs(lines, upper=True).with_columns(cid_j=ctx.gather("cid", pl.col("j")))
        pairs = pairs.filter(pl.col("cid") != pl.col("cid_j")).select(
            "r", "j", "cid",
            pair=pl.min_horizontal("cid", "cid_j") * _PAIR_SHIFT + pl.max_horizontal("cid", "cid_j"))
        edits = _ptp_edits(ctx, release_id)
        matched = pairs.join(edits, on="pair")
        if matched.height:
            found.append(matched.with_columns(release_id=pl.lit(release_id, pl.Int64),
                                              release_label=pl.lit(ctx.hc.release_by_id(release_id).label)))
    if not found:
        ctx.cache["ptp"] = None
        return None
    matched = pl.concat(found)
    one_is_first = pl.col("cid") == pl.col("k1")
    matched = matched.with_columns(
        r1=pl.when(one_is_first).then(pl.col("r")).otherwise(pl.col("j")),
        r2=pl.when(one_is_first).then(pl.col("j")).otherwise(pl.col("r")),
    ).with_columns(iso=_iso_of(ctx, "r1"))
    matched = matched.filter(
        (pl.col("effective_date").is_null() | (pl.col("effective_date") <= pl.col("iso")))
        & (pl.col("deletion_date").is_null() | (pl.col("iso") <= pl.col("deletion_date"))))
    associated = sorted(ptp_associated_modifiers())
    matched = matched.with_columns(
        cp=ctx.gather("cp", pl.col("r1")), line1=ctx.gather("line", pl.col("r1")),
        line2=ctx.gather("line", pl.col("r2")), day_rank=ctx.gather("day_rank", pl.col("r1")),
        prof=ctx.gather("prof", pl.col("r1")),
        bypass=pl.concat_list(ctx.gather("modifiers", pl.col("r1")), ctx.gather("modifiers", pl.col("r2")))
        .list.eval(pl.element().filter(pl.element().is_in(associated)).unique().sort()),
    ).with_columns(
        mods=pl.col("bypass").list.join(", "),
        outcome=pl.when(pl.col("bypass").list.len() == 0).then(pl.lit("bundled"))
        .when(pl.col("modifier_indicator") == "0").then(pl.lit("not_bypassable")).otherwise(pl.lit("bypassed")),
    )
    ctx.cache["ptp"] = matched
    return matched


def _iso_of(ctx: BatchContext, rows: str) -> pl.Expr:
    return ctx.gather("dos", pl.col(rows)).dt.to_string("%Y-%m-%d")


def _ptp_edits(ctx: BatchContext, release_id: int) -> pl.DataFrame:
    """The PTP edits of a release between codes of this batch (indicator 9, never applied, left out),
    keyed by the unordered pair of code ids; `edit_order` is the row order of the release."""
    edits = ctx.tables.frame(release_id, "ncci_ptp").with_row_index("edit_order")
    edits = edits.filter(pl.col("modifier_indicator") != "9")
    edits = ctx.cids(ctx.cids(edits, "column1", "k1"), "column2", "k2").filter(pl.col("k1") != pl.col("k2"))
    return edits.select(
        pair=pl.min_horizontal("k1", "k2") * _PAIR_SHIFT + pl.max_horizontal("k1", "k2"),
        k1="k1", column1="column1", column2="column2", effective_date="effective_date",
        deletion_date="deletion_date", modifier_indicator=pl.col("modifier_indicator").cast(pl.String),
        rationale=pl.col("rationale").cast(pl.String), source_line="source_line",
        edit_order=pl.col("edit_order").cast(pl.Int64))


def _ptp_order() -> tuple[pl.Expr, ...]:
    return pl.col("day_rank"), pl.col("line1"), pl.col("edit_order"), pl.col("line2")


def _ptp_extra(indicator: pl.Expr) -> pl.Expr:
    return _json(edit=pl.format("{}/{}", "column1", "column2"), modifier_indicator=indicator)


def ptp_bundled(ctx: BatchContext) -> pl.DataFrame:
    pairs = ptp_pairs(ctx)
    if pairs is None:
        return _empty()
    pairs = pairs.filter(pl.col("outcome") == "bundled")
    if not pairs.height:
        return _empty()
    c1, c2, mi = pl.col("column1"), pl.col("column2"), pl.col("modifier_indicator")
    fix = pl.when(mi == "1").then(pl.format(
        "If {} was a distinct service (different session, site, organ system, incision or encounter), append "
        "a PTP-associated modifier such as XE, XS, XP, XU or 59 to {} and keep the documentation; otherwise "
        "remove {}.", c2, c2, c2)).otherwise(pl.format(
            "Remove {}: no modifier makes it payable with {} on the same date of service.", c2, c1))
    setting = pl.when(pl.col("prof")).then(pl.lit("practitioner")).otherwise(pl.lit("hospital"))
    rationale = pl.when(pl.col("rationale").is_not_null() & (pl.col("rationale") != "")).then(
        pl.format("; rationale: {}", "rationale")).otherwise(pl.lit(""))
    message = pl.format(
        "{} (column 2) is bundled into {} (column 1) on {} by the NCCI {} PTP edit in {} (modifier indicator "
        "{}: {}){}. {} will be denied.", c2, c1, "iso", setting, "release_label", mi,
        _meaning(pairs, "modifier_indicator", "ncci_modifier_indicator", otherwise=None), rationale, c2)
    return _findings(pairs, "PTP_BUNDLED", severity="error", codes=pl.concat_list(c1, c2),
                     lines=pl.concat_list("line1", "line2"), message=message, fix=fix,
                     dataset=_dataset_by_setting(PTP_DATASET), release=pl.col("release_label"),
                     row=pl.col("source_line"), extra=_ptp_extra(mi), order=_ptp_order())


def ptp_not_bypassable(ctx: BatchContext) -> pl.DataFrame:
    pairs = ptp_pairs(ctx)
    if pairs is None:
        return _empty()
    pairs = pairs.filter(pl.col("outcome") == "not_bypassable")
    c1, c2 = pl.col("column1"), pl.col("column2")
    message = pl.format(
        "Modifier {} does not bypass the NCCI edit {}/{} in {}: its modifier indicator is 0, so no modifier "
        "allows separate payment of {} with {} on the same date of service. {} will be denied.",
        "mods", c1, c2, "release_label", c2, c1, c2)
    return _findings(pairs, "PTP_NOT_BYPASSABLE", severity="error", codes=pl.concat_list(c1, c2),
                     lines=pl.concat_list("line1", "line2"), message=message,
                     fix=pl.format("Remove {} (and the modifier {} added to bypass the edit).", c2, "mods"),
                     dataset=_dataset_by_setting(PTP_DATASET), release=pl.col("release_label"),
                     row=pl.col("source_line"), extra=_ptp_extra(pl.lit("0")), order=_ptp_order())


def ptp_bypassed_by_modifier(ctx: BatchContext) -> pl.DataFrame:
    pairs = ptp_pairs(ctx)
    if pairs is None:
        return _empty()
    pairs = pairs.filter(pl.col("outcome") == "bypassed")
    c1, c2 = pl.col("column1"), pl.col("column2")
    message = pl.format(
        "Modifier {} bypasses the NCCI edit {}/{} ({}, modifier indicator 1). Both codes can be paid only if "
        "the record documents a distinct service: a different session or encounter, anatomic site, organ "
        "system, or practitioner.", "mods", c1, c2, "release_label")
    return _findings(pairs, "PTP_BYPASSED_BY_MODIFIER", severity="info", codes=pl.concat_list(c1, c2),
                     lines=pl.concat_list("line1", "line2"), message=message, fix=None,
                     dataset=_dataset_by_setting(PTP_DATASET), release=pl.col("release_label"),
                     row=pl.col("source_line"), extra=_ptp_extra(pl.lit("1")), order=_ptp_order())


# -- MUE ---------------------------------------------------------------------------------------------


def mue_exceeded(ctx: BatchContext) -> pl.DataFrame:
    rule = mue_rule.RULE_ID
    days = ctx.claim_days.with_columns(dataset=_dataset_by_setting(MUE_DATASET), k=pl.col("day_rank"))
    ctx.request(days, rule)
    found = []
    parts = ctx.release_days(days)
    for release_id, part in parts.items():
        limits = ctx.cids(ctx.tables.frame(release_id, "ncci_mue"), "code").unique(
            "cid", keep="first", maintain_order=True).select(
                "cid", mue="units", mai=pl.col("mai").fill_null("1"), source_line="source_line")
        lines = ctx.lines if len(parts) == 1 and part.height == ctx.claim_days.height else ctx.lines.join(
            part.select("gkey"), on="gkey", how="semi")
        lines = lines.select("r", "cp", "gkey", "cid", "code", "line", "units", "dos", "prof", "day_rank",
                             "glen").join(limits, on="cid")
        if not lines.height:
            continue
        n_codes = ctx.codes.len()
        lines = lines.with_columns(gc=pl.col("gkey") * n_codes + pl.col("cid"))
        lines = lines.with_columns(repeated=(pl.col("glen") > 1) & pl.col("gc").is_duplicated())
        single = lines.filter(~pl.col("repeated") & (pl.col("units") > pl.col("mue"))).with_columns(
            first=pl.col("line"), total=pl.col("units"), lines=pl.concat_list("line"))
        repeated = lines.filter(pl.col("repeated")).with_columns(first=pl.col("line").min().over("gc"))
        per_line = repeated.filter((pl.col("mai") == "1") & (pl.col("units") > pl.col("mue"))).with_columns(
            total=pl.col("units"), lines=pl.concat_list("line"))
        summed = repeated.filter(pl.col("mai") != "1").sort("line").group_by("gc").agg(
            pl.all().exclude("units", "line", "first").first(), first=pl.col("line").first(),
            line=pl.col("line").first(),
            total=pl.col("units").sum(), lines=pl.col("line")).filter(pl.col("total") > pl.col("mue"))
        part_found = pl.concat([single, per_line, summed], how="diagonal_relaxed").with_columns(
            release_label=pl.lit(ctx.hc.release_by_id(release_id).label))
        found.append(part_found)
    if not found:
        return _empty()
    hits = pl.concat(found, how="diagonal_relaxed").with_columns(iso=_iso())
    hits = hits.with_columns(units_text=_num_g("units"), total_text=_num_g("total"),
                             meaning=_meaning(hits, "mai", "ncci_mai", otherwise=None))
    message = pl.when(pl.col("mai") == "1").then(pl.format(
        "{} is billed with {} units on line {}; its MUE is {} (MAI 1: {}), in {}. The line will be denied.",
        "code", "units_text", pl.col("line") + 1, "mue", "meaning", "release_label")).otherwise(pl.format(
            "{} is billed with {} units in all on {}; its MUE is {} per date of service (MAI {}: {}), in {}.",
            "code", "total_text", "iso", "mue", "mai", "meaning", "release_label"))
    fixes = mue_rule._FIX
    return _findings(
        hits, rule, severity="error", codes=pl.concat_list("code"), lines=pl.col("lines"),
        message=message, fix=pl.col("mai").replace_strict(list(fixes), list(fixes.values()), default=None,
                                                          return_dtype=pl.String),
        dataset=_dataset_by_setting(MUE_DATASET), release=pl.col("release_label"), row=pl.col("source_line"),
        extra=_json(mue=pl.col("mue").cast(pl.String), mai=pl.col("mai")).str.replace(
            r'"mue": "(\d+)"', r'"mue": $1'),
        order=(pl.col("day_rank"), pl.col("first"), pl.col("line")))


# -- add-on codes ------------------------------------------------------------------------------------


def addon_without_primary(ctx: BatchContext) -> pl.DataFrame:
    rule = "ADDON_WITHOUT_PRIMARY"
    days = ctx.claim_days.with_columns(dataset=pl.lit("ncci_aoc"), k=pl.col("day_rank"))
    ctx.request(days, rule)
    found = []
    for release_id, part in ctx.release_days(days).items():
        edits = ctx.cids(ctx.tables.frame(release_id, "ncci_aoc").with_row_index("edit_order"), "addon_code")
        if not edits.height:
            continue
        keys = ctx.keys.filter(pl.col("cid").is_in(edits["cid"].implode())).join(
            part.select("dos").unique(), on="dos", how="semi").with_columns(iso=_iso())
        in_force = keys.join(edits, on="cid").filter(
            (pl.col("effective_date").is_null() | (pl.col("effective_date") <= pl.col("iso")))
            & (pl.col("deletion_date").is_null() | (pl.col("iso") <= pl.col("deletion_date")))
            & (pl.col("primary_deletion_date").is_null() | (pl.col("iso") <= pl.col("primary_deletion_date"))))
        if not in_force.height:
            continue
        in_force = in_force.sort("ukey", "edit_order")
        summary = in_force.group_by("ukey", maintain_order=True).agg(
            pl.col("code").first(), pl.col("iso").first(), edit_type=pl.col("edit_type").min(),
            primaries=pl.col("primary_code").filter(pl.col("primary_code") != CONTRACTOR_DEFINED).unique().sort(),
            source_line=pl.col("source_line").filter(pl.col("edit_type") == pl.col("edit_type").min()).first())
        primaries = ctx.cids(in_force.filter(pl.col("primary_code") != CONTRACTOR_DEFINED)
                             .select("ukey", "primary_code").unique(), "primary_code", "pcid").select("ukey", "pcid")
        candidates = ctx.lines.join(part.select("gkey"), on="gkey", how="semi").join(
            summary.select("ukey"), on="ukey", how="semi").select("r", "cp", "line", "ukey", "gstart", "glen",
                                                                 "day_rank", "prof")
        pairs = ctx.day_pairs(candidates, upper=False).select("r", "ukey", pcid=ctx.gather("cid", pl.col("j")))
        satisfied = pairs.join(primaries, on=["ukey", "pcid"], how="semi").select("r").unique()
        missing = candidates.join(satisfied, on="r", how="anti").join(summary, on="ukey")
        found.append(missing.with_columns(release_label=pl.lit(ctx.hc.release_by_id(release_id).label)))
    if not found:
        return _empty()
    hits = pl.concat(found)
    hits = hits.with_columns(
        meaning=_meaning(hits, "edit_type", "ncci_aoc_edit_type"),
        listed=pl.col("primaries").list.head(12).list.join(", ") + pl.when(pl.col("primaries").list.len() > 12)
        .then(pl.format(" and {} more", pl.col("primaries").list.len() - 12)).otherwise(pl.lit("")),
        kind=pl.when(pl.col("edit_type") == "1").then(pl.lit(1))
        .when((pl.col("edit_type") == "2") | (pl.col("primaries").list.len() == 0)).then(pl.lit(2))
        .otherwise(pl.lit(3)),
    )
    code, kind = pl.col("code"), pl.col("kind")
    message = (pl.when(kind == 1).then(pl.format(
        "{} is an add-on code (edit type 1: {}) billed on {} without any of its primary codes ({}); {}. It will "
        "be denied.", code, "meaning", "iso", "listed", "release_label"))
        .when(kind == 2).then(pl.format(
            "{} is an add-on code whose primary codes CMS does not list (edit type 2: {}); {}. Your Medicare "
            "contractor decides which primary codes are eligible.", code, "meaning", "release_label"))
        .otherwise(pl.format(
            "{} is an add-on code billed on {} without any listed primary code ({}) (edit type 3: {}); {}. Your "
            "Medicare contractor may allow other primaries.", code, "iso", "listed", "meaning", "release_label")))
    fix = (pl.when(kind == 1).then(pl.format(
        "Bill {} with the primary procedure it adds to ({}) on the same date, by the same practitioner, or "
        "remove it.", code, "listed"))
        .when(kind == 2).then(pl.format(
            "Check your contractor's policy and bill {} with an eligible primary procedure.", code))
        .otherwise(pl.format(
            "Bill {} with one of its primary codes, or confirm your contractor accepts the primary billed.", code)))
    return _findings(
        hits, rule, severity=pl.when(kind == 1).then(pl.lit("error")).otherwise(pl.lit("warning")),
        codes=pl.concat_list("code"), lines=pl.concat_list("line"), message=message, fix=fix,
        dataset=pl.lit("ncci_aoc"), release=pl.col("release_label"), row=pl.col("source_line"),
        extra=_json(edit_type=pl.col("edit_type")), order=(pl.col("day_rank"), pl.col("line")))


# -- modifiers 26 and TC -----------------------------------------------------------------------------


def _modifier_not_allowed(ctx: BatchContext, modifier: str, rule: str) -> pl.DataFrame:
    lines = ctx.lines.filter(pl.col("prof") & pl.col("modifiers").list.contains(modifier)).select(
        "r", "cp", "line", "code", "dos", "prof", dataset=pl.lit("mpfs"), k=pl.col("line"))
    ctx.request(lines, rule)
    if not lines.height:
        return _empty()
    lines = ctx.with_release(lines).filter(pl.col("release_id").is_not_null())
    base = _rvu_base(ctx, lines["release_id"].unique().to_list())
    hits = lines.join(base, on=["release_id", "code"])
    pctcs = [p for p in hits["pctc"].unique().to_list() if p is not None]
    refused = [p for p in pctcs if pctc_allows(p, modifier) is False]
    hits = hits.filter(pl.col("pctc").is_in(refused))
    if not hits.height:
        return _empty()
    fixes = {p: PCTC_FIX.get(str(p), "Remove modifier {mod} from this line.").format(mod=modifier) for p in refused}
    return _findings(
        hits, rule, severity="error", codes=pl.concat_list("code"), lines=pl.concat_list("line"),
        message=pl.format("Modifier " + modifier + " is not allowed with {}: its PC/TC indicator in {} is {} ({}).",
                          "code", "release_label", "pctc", _meaning(hits, "pctc", "mpfs_pctc")),
        fix=pl.col("pctc").replace_strict(list(fixes), list(fixes.values()), return_dtype=pl.String),
        dataset=pl.lit("mpfs"), release=pl.col("release_label"), row=pl.col("source_line"),
        extra=_json(pctc=pl.col("pctc")), order=(pl.col("line"),))


def modifier_26_not_allowed(ctx: BatchContext) -> pl.DataFrame:
    return _modifier_not_allowed(ctx, "26", "MODIFIER_26_NOT_ALLOWED")


def modifier_tc_not_allowed(ctx: BatchContext) -> pl.DataFrame:
    return _modifier_not_allowed(ctx, "TC", "MODIFIER_TC_NOT_ALLOWED")


# -- fee-schedule status -----------------------------------------------------------------------------


def status_not_payable(ctx: BatchContext) -> pl.DataFrame:
    rule = status_rule.RULE_ID
    lines = ctx.lines.filter(pl.col("prof"))
    ctx.request(lines.select("cp", "dos", dataset=pl.lit("mpfs"), k=pl.col("line")), rule)
    if not lines.height:
        return _empty()
    found = []
    keys = ctx.keys.filter(pl.col("prof")).with_columns(dataset=pl.lit("mpfs"))
    for release_id, part in ctx.release_days(keys).items():
        unpaid = status_rule.PAYABLE | status_rule.DELETED
        rows = _rvu_rows(ctx, [release_id]).filter(
            pl.col("status").is_null() | ~pl.col("status").is_in(sorted(unpaid)))
        if not rows.height:
            continue
        rows = ctx.cids(rows, "code").select("cid", "modifier", "status", "source_line")
        days = part.select("dos").unique()
        candidates = lines.filter(pl.col("cid").is_in(rows["cid"].implode())).join(days, on="dos", how="semi")
        candidates = candidates.with_columns(modifier=pl.when(pl.col("modifiers").list.contains("26")).then(
            pl.lit("26")).when(pl.col("modifiers").list.contains("TC")).then(pl.lit("TC")).otherwise(pl.lit("")))
        hits = candidates.join(rows, on=["cid", "modifier"])
        found.append(hits.with_columns(release_label=pl.lit(ctx.hc.release_by_id(release_id).label)))
    hits = _concat_plain(found)
    if hits is None:
        return _empty()
    label = pl.when(pl.col("modifier") != "").then(pl.format("{}-{}", "code", "modifier")).otherwise(pl.col("code"))
    fix = pl.when(pl.col("status").is_in(["I", "G"])).then(pl.lit(
        "Report the code Medicare uses for this service instead.")).otherwise(pl.lit(
            "Do not bill it separately to Medicare; it is not paid under the physician fee schedule."))
    return _findings(
        hits, rule, severity="error", codes=pl.concat_list("code"), lines=pl.concat_list("line"),
        message=pl.format("{} has fee-schedule status {} in {}: {}", label, pl.col("status").fill_null("None"),
                          "release_label", _meaning(hits, "status", "mpfs_status")),
        fix=fix, dataset=pl.lit("mpfs"), release=pl.col("release_label"), row=pl.col("source_line"),
        extra=_json(status=pl.col("status")), order=(pl.col("line"),))


# -- OPPS status indicators --------------------------------------------------------------------------


def opps_packaged(ctx: BatchContext) -> pl.DataFrame:
    rule = opps_rule.RULE_ID
    lines = ctx.lines.filter(~pl.col("prof"))
    ctx.request(lines.select("cp", "dos", dataset=pl.lit("opps"), k=pl.col("line")), rule)
    if not lines.height:
        return _empty()
    packaged, not_paid = sorted(opps_rule.PACKAGED), sorted(opps_rule.NOT_PAID)
    keys = ctx.keys.filter(~pl.col("prof")).with_columns(dataset=pl.lit("opps"))
    found = []
    for release_id, part in ctx.release_days(keys).items():
        rows = ctx.tables.frame(release_id, "opps_addendum_b").unique("hcpcs", keep="first", maintain_order=True)
        rows = rows.filter(pl.col("status_indicator").is_in(packaged + not_paid))
        rows = ctx.cids(rows, "hcpcs").select("cid", "status_indicator", "source_line")
        hits = lines.join(part.select("dos").unique(), on="dos", how="semi").join(rows, on="cid")
        found.append(hits.with_columns(release_label=pl.lit(ctx.hc.release_by_id(release_id).label)))
    hits = _concat_plain(found)
    if hits is None:
        return _empty()
    si = pl.col("status_indicator")
    is_packaged = si.is_in(packaged)
    meaning = _meaning(hits, "status_indicator", "opps_status_indicator")
    return _findings(
        hits, rule, severity=pl.when(is_packaged).then(pl.lit("info")).otherwise(pl.lit("warning")),
        codes=pl.concat_list("code"), lines=pl.concat_list("line"),
        message=pl.when(is_packaged).then(pl.format(
            "{} has OPPS status indicator {} in {}: {} No separate payment is expected for it.", "code", si,
            "release_label", meaning)).otherwise(pl.format(
                "{} has OPPS status indicator {} in {}: {}", "code", si, "release_label", meaning)),
        fix=pl.when(is_packaged).then(pl.lit(None, pl.String)).otherwise(pl.lit(
            "Check whether another code is recognised by OPPS for this service.")),
        dataset=pl.lit("opps"), release=pl.col("release_label"), row=pl.col("source_line"),
        extra=_json(status_indicator=si), order=(pl.col("line"),))


# -- duplicates --------------------------------------------------------------------------------------


def duplicate_line(ctx: BatchContext) -> pl.DataFrame:
    lines = ctx.lines.filter(pl.col("glen") > 1).select(
        "cp", "line", "code", "dos", "modifiers", gc=pl.col("gkey") * ctx.codes.len() + pl.col("cid"))
    lines = lines.filter(pl.col("gc").is_duplicated())
    if not lines.height:
        return _empty()
    lines = lines.with_columns(modset=pl.col("modifiers").list.unique().list.sort())
    groups = lines.sort("cp", "line").group_by("gc", pl.col("modset").list.join(",").alias("modkey"), maintain_order=True).agg(
        pl.col("cp", "code", "dos", "modset").first(), lines=pl.col("line"), n=pl.len()
    ).filter(pl.col("n") >= 2)
    mods = pl.when(pl.col("modset").list.len() > 0).then(
        pl.format(" with modifier(s) {}", pl.col("modset").list.join(", "))).otherwise(pl.lit(""))
    positions = pl.col("lines").list.eval((pl.element() + 1).cast(pl.String)).list.join(", ")
    return _findings(
        groups, "DUPLICATE_LINE", severity=DUPLICATE_SEVERITY, codes=pl.concat_list("code"),
        lines=pl.col("lines"),
        message=pl.format("{}{} is billed on {} lines ({}) for {}.", "code", mods, "n", positions, _iso()),
        fix="Report the service once with the total units, or add modifier 76/77 (repeat procedure) or 91 "
            "(repeat test) to the repeat if it was a separate service.",
        order=(pl.col("lines").list.first(),))


# ---------------------------------------------------------------------------------------------------
# Running the rules


# Rule functions in the single engine's order (`engine.RULE_MODULES`).
RULES: dict[str, Callable[[BatchContext], pl.DataFrame]] = {
    "CODE_NOT_VALID_ON_DOS": code_not_valid_on_dos,
    "PTP_BUNDLED": ptp_bundled,
    "PTP_NOT_BYPASSABLE": ptp_not_bypassable,
    "PTP_BYPASSED_BY_MODIFIER": ptp_bypassed_by_modifier,
    "MUE_EXCEEDED": mue_exceeded,
    "ADDON_WITHOUT_PRIMARY": addon_without_primary,
    "MODIFIER_26_NOT_ALLOWED": modifier_26_not_allowed,
    "MODIFIER_TC_NOT_ALLOWED": modifier_tc_not_allowed,
    "STATUS_NOT_PAYABLE": status_not_payable,
    "OPPS_PACKAGED": opps_packaged,
    "DUPLICATE_LINE": duplicate_line,
}


def _not_covered(ctx: BatchContext) -> pl.DataFrame:
    if not ctx.requests:
        return _empty()
    requests = pl.concat(ctx.requests).select("cp", "dataset", "dos").unique()
    reasons = [(d, day, c.reason) for (d, day), c in ctx.choices.items() if c.reason]
    if not reasons:
        return _empty()
    table = pl.DataFrame(reasons, orient="row", schema={"dataset": pl.String, "dos": pl.Date, "reason": pl.String})
    hits = requests.join(table, on=["dataset", "dos"])
    names = sorted(hits["dataset"].unique().to_list())
    return _findings(
        hits, DATA_NOT_COVERED, severity="info", codes=pl.lit([], pl.List(pl.String)),
        lines=pl.lit([], pl.List(pl.Int64)),
        message=pl.format("Edits from this dataset were not checked for {}: {}.", _iso(), "reason"),
        fix=NOT_COVERED_FIX, dataset=pl.col("dataset"),
        order=(pl.col("dos").cast(pl.Int64),
               pl.col("dataset").replace_strict(names, list(range(len(names))), return_dtype=pl.Int64)))


def _notices(ctx: BatchContext) -> pl.DataFrame:
    """`claim_id`, `notices` (list[str]) for claims whose release choices carry notices, in the order the
    single engine meets them."""
    schema = {"claim_id": pl.String, "notices": pl.List(pl.String)}
    noted = [(d, day, c.notices) for (d, day), c in ctx.choices.items() if c.notices]
    if not ctx.requests or not noted:
        return pl.DataFrame(schema=schema)
    table = pl.DataFrame(noted, orient="row", schema={"dataset": pl.String, "dos": pl.Date,
                                                      "notice": pl.List(pl.String)})
    requests = pl.concat(ctx.requests).join(table, on=["dataset", "dos"])
    first = requests.sort("cp", "rank", "k").unique(["cp", "dataset", "dos"], keep="first", maintain_order=True)
    notes = first.explode("notice").unique(["cp", "notice"], keep="first", maintain_order=True)
    grouped = notes.group_by("cp", maintain_order=True).agg(notices=pl.col("notice"))
    return grouped.select(claim_id=ctx.claim_ids.gather(grouped["cp"]), notices="notices")


@dataclass
class BatchResult:
    findings: pl.DataFrame
    notices: pl.DataFrame  # claim_id, notices (list[str]); claims without notices are absent
    claim_ids: pl.Series  # every claim of the batch, in input order


def check_batch_result(claims: pl.DataFrame | Iterable[Claim], hc: Hcpcs, *, as_of: date | str | None = None,
                       tables: BatchTables | None = None, notices: bool = True,
                       only: Iterable[str] | None = None) -> BatchResult:
    """Findings (and, when `notices`, the per-claim notices) of a batch; `only` limits the rules run."""
    ctx = prepare(claims, hc, tables=tables, as_of=as_of, want_notices=notices)
    wanted = set(only) if only is not None else None
    frames = []
    if ctx.lines.height:
        for rule_id, rule in RULES.items():
            if wanted is None or rule_id in wanted:
                frames.append(rule(ctx))
        if wanted is None or DATA_NOT_COVERED in wanted:
            frames.append(_not_covered(ctx))
    found = _concat(frames)
    ids = _rule_ids() + [DATA_NOT_COVERED]
    found = found.with_columns(
        rank=pl.col("rule").replace_strict(ids, list(range(len(ids))), return_dtype=pl.Int64),
    ).sort("cp", "rank", *_ORDER_KEYS, maintain_order=True)
    findings = found.select(claim_id=ctx.claim_ids.gather(found["cp"]) if found.height else pl.lit(None, pl.String),
                            **{c: pl.col(c) for c in FINDING_SCHEMA if c != "claim_id"}).cast(FINDING_SCHEMA)  # type: ignore[arg-type]
    note_frame = _notices(ctx) if notices else pl.DataFrame(schema={"claim_id": pl.String,
                                                                     "notices": pl.List(pl.String)})
    return BatchResult(findings, note_frame, ctx.claim_ids)


def check_batch(claims: pl.DataFrame | Iterable[Claim], hc: Hcpcs, *, as_of: date | str | None = None,
                tables: BatchTables | None = None) -> pl.DataFrame:
    """The findings of the CMS rules on a batch of claims (a claim-lines frame or `Claim` objects), one row
    per finding, as `check_claim` finds them claim by claim."""
    return check_batch_result(claims, hc, as_of=as_of, tables=tables, notices=False).findings


# ---------------------------------------------------------------------------------------------------
# Output in the single engine's per-claim form


_SOURCE_TABLE = {
    "PTP_BUNDLED": "ptp", "PTP_NOT_BYPASSABLE": "ptp", "PTP_BYPASSED_BY_MODIFIER": "ptp", "MUE_EXCEEDED": "mue",
    "ADDON_WITHOUT_PRIMARY": "aoc", "MODIFIER_26_NOT_ALLOWED": "pprrvu", "MODIFIER_TC_NOT_ALLOWED": "pprrvu",
    "STATUS_NOT_PAYABLE": "pprrvu", "OPPS_PACKAGED": "addendum_b",
}


def _source(hc: Hcpcs, row: dict[str, Any], files: dict[tuple[str, str, str], list[str]]) -> dict[str, Any] | None:
    dataset = row["source_dataset"]
    if dataset is None:
        return None
    if row["rule"] == DATA_NOT_COVERED:
        return {"dataset": dataset, "release": None, "row": None}
    table = _SOURCE_TABLE.get(row["rule"]) or ("hcpcs_anweb" if dataset == "hcpcs" else "pprrvu")
    key = (dataset, row["source_release"], table)
    if key not in files:
        release = next(r for r in hc.releases if r.dataset == dataset and r.label == row["source_release"])
        files[key] = sorted({f["name"] for f in release.source_files if f.get("kind") == table}) or sorted(
            {f["name"] for f in release.source_files})
    out = {"dataset": dataset, "release": row["source_release"], "row": row["source_row"], "files": files[key]}
    if row["source_extra"]:
        out.update(json.loads(row["source_extra"]))
    return out


def findings_to_dicts(findings: pl.DataFrame, hc: Hcpcs, *, claim_ids: Iterable[str] | None = None,
                      notices: pl.DataFrame | None = None) -> Iterator[dict[str, Any]]:
    """Per-claim results in the single engine's form (`{"id", "findings": [...], "notices"?}`): every claim
    of `claim_ids` in that order (those without findings too), else the claims of the findings frame."""
    by_claim: dict[str, list[dict[str, Any]]] = {}
    files: dict[tuple[str, str, str], list[str]] = {}
    for row in findings.iter_rows(named=True):
        by_claim.setdefault(row["claim_id"], []).append({
            "rule": row["rule"], "severity": row["severity"], "codes": row["codes"], "lines": row["lines"],
            "message": row["message"], "fix": row["fix"], "source": _source(hc, row, files)})
    noted = dict(notices.iter_rows()) if notices is not None else {}
    for claim_id in (claim_ids if claim_ids is not None else by_claim):
        out: dict[str, Any] = {"id": claim_id, "findings": by_claim.get(claim_id, [])}
        if noted.get(claim_id):
            out["notices"] = list(noted[claim_id])
        yield out


def result_dicts(result: BatchResult, hc: Hcpcs) -> Iterator[dict[str, Any]]:
    """Every claim of a batch result in the single engine's per-claim form."""
    return findings_to_dicts(result.findings, hc, claim_ids=result.claim_ids.to_list(), notices=result.notices)


__all__ = [
    "FINDING_SCHEMA", "LINE_SCHEMA", "RULES", "BatchContext", "BatchResult", "check_batch", "check_batch_result",
    "claims_frame", "findings_to_dicts", "prepare", "result_dicts", "rule_rank", "RULE_MODULES",
]
