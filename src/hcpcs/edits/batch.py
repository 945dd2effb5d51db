"""Checking many claims at once: the CMS rules of `hcpcs.edits.rules` written as relational operations
(filters, joins, group-bys and broadcast look-ups) over a frame of claim lines and the edit tables as
polars frames, so that they run column-wise rather than claim by claim, and could run on Spark in the
same shape.

The findings are those of the single-claim engine (`hcpcs.edits.engine.check_claim`) on the same
claims: same rules, severities, codes, lines, messages, fixes and sources, in the same order; the
notices too (`check_batch_result`). Each rule has one function here (`RULES`), named after the
single-claim rule module whose docstring states the policy.

Input: a frame of claim lines with columns ``claim_id``, ``setting`` (professional | facility),
``line`` (0-based index of the line in its claim), ``code``, ``modifiers`` (list of str), ``units``,
``dos`` (the line's date of service), or an iterable of `Claim`. Output of `check_batch`: one row per
finding (`FINDING_SCHEMA`), claims in input order, ``claim`` the claim's position in the batch (its place in
`BatchResult.claim_ids`; for `Claim` objects, the object's index); ``source_extra`` holds the JSON of the rule's own
source fields (``edit``, ``modifier_indicator``, ``mue``...) so that `findings_to_dicts` can give the
single engine's per-claim dicts.

How it works:

- Lines are numbered by claim (``claim``, order of first appearance) and kept sorted by claim, date and line
  (only the claims that are not get re-sorted), so that the lines of one claim and date of service (a
  *claim day*, ``claim_day``) are contiguous; pairs of lines of a claim day are a join on (claim day, line
  offset) made one offset at a time and filtered at once (`BatchContext.pairs_where`), so the set of all
  pairs is never built; the few add-on lines pair with row ranges (`BatchContext.day_pairs`).
- The modifiers stay in the input frame; a line's ``src`` (its input row) reads them when a rule needs
  them (most lines have none).
- Codes are numbered once (``code_id``, position in `CodeBook.codes`); what a rule needs per code from a
  release is a small table keyed by ``code_id`` or a *dense* column indexed by it (a broadcast join),
  gathered by every line, and kept in the `CodeBook` for the next chunk of the same run.
- The release of a dataset is chosen with `choose_release` (through `Hcpcs.release_for`, as
  `EditTables.choice` does) once per distinct (dataset, date) of a run (`CodeBook.choices`): per
  claim-day key ``day_key`` (date and setting). Every choice gets a query id (``query_id``); the rules record which claim
  asked for which ``query_id``
  (only when that choice carries a notice or no release covers it), which gives DATA_NOT_COVERED and the
  notices in the order the single engine meets them.
- PTP edits are looked up by the unordered code pair: a bitmap says which pairs have edits (one bit
  look-up per pair of lines), a sorted array where their rows are (`hcpcs.store.cache.PtpIndex`).
- Findings carry per-rule order keys and are sorted once at the end. `iter_check_batch` runs a large
  frame in chunks of claims so that memory stays bounded (messages are long: about 0.5 KB a finding).

Spark: every step is a column expression, a filter, a join with a small (broadcast) table, a group-by or
an explode of row ranges, so each rule maps onto DataFrame operations; the row-position gathers
(`BatchContext.at`) would become joins on a line key there."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import polars as pl

from hcpcs.claims.model import SETTINGS, Claim
from hcpcs.core import indicators
from hcpcs.core.codes import kind_of
from hcpcs.core.dates import parse_date
from hcpcs.core.errors import DataNotLoadedError, InvalidInputError, NotCoveredError
from hcpcs.core.indicators import pctc_allows
from hcpcs.edits.engine import rules
from hcpcs.edits.pctc import _FIX as PCTC_FIX
from hcpcs.edits.ptp import describe_indicator, ptp_associated_modifiers
from hcpcs.edits.rules import mue_exceeded as mue_rule
from hcpcs.edits.rules import opps_packaged as opps_rule
from hcpcs.edits.rules import status_not_payable as status_rule
from hcpcs.edits.rules.addon_without_primary import CONTRACTOR_DEFINED
from hcpcs.edits.rules.code_not_valid_on_dos import DELETED_STATUSES
from hcpcs.edits.rules.duplicate_line import SEVERITY as DUPLICATE_SEVERITY
from hcpcs.edits.tables import MUE_DATASET, PTP_DATASET
from hcpcs.store.cache import PAIR_SHIFT, BatchTables
from hcpcs.store.session import Hcpcs

LINE_SCHEMA: dict[str, pl.DataType] = {
    "claim_id": pl.String(), "setting": pl.String(), "line": pl.Int64(), "code": pl.String(),
    "modifiers": pl.List(pl.String()), "units": pl.Float64(), "dos": pl.Date(),
}

FINDING_SCHEMA: dict[str, pl.DataType] = {
    "claim_id": pl.String(), "claim": pl.Int64(), "rule": pl.String(), "severity": pl.String(),
    "codes": pl.List(pl.String()),
    "lines": pl.List(pl.Int64()), "message": pl.String(), "fix": pl.String(), "source_dataset": pl.String(),
    "source_release": pl.String(), "source_row": pl.Int64(), "source_extra": pl.String(),
}

# Per-claim notices of a batch (claims without notices are absent).
NOTICE_SCHEMA: dict[str, pl.DataType] = {"claim_id": pl.String(), "claim": pl.Int64(), "notices": pl.List(pl.String())}

DATA_NOT_COVERED = "DATA_NOT_COVERED"
NOT_COVERED_FIX = "Load the CMS release in force on that date (hcpcs update --from ...)."

# A rule's findings inside the module: claim position, the finding, and the keys that order the findings
# of one rule within a claim as the single engine lists them.
_ORDER_KEYS = ("order_1", "order_2", "order_3", "order_4")
_RULE_SCHEMA: dict[str, pl.DataType] = {
    "claim": pl.Int64(), "rank": pl.Int64(), **{k: v for k, v in FINDING_SCHEMA.items() if k not in ("claim_id", "claim")},
    **{k: pl.Int64() for k in _ORDER_KEYS},
}
_REQUEST_SCHEMA: dict[str, pl.DataType] = {"claim": pl.Int64(), "query_id": pl.Int64(), "rank": pl.Int64(), "order": pl.Int64()}
_DAY_SPAN = 1 << 21  # dates of service of one batch must lie within 2**21 days
_PACKED_LIMIT = 1 << 62  # (claim day, line) packed into one integer below this


def _rule_ids() -> list[str]:
    return [module.RULE_ID for module in rules()]


def rule_rank(rule_id: str) -> int:
    """Position of a rule in the single engine's listing (DATA_NOT_COVERED comes last)."""
    ids = _rule_ids()
    return ids.index(rule_id) if rule_id in ids else len(ids)


# ---------------------------------------------------------------------------------------------------
# Input


def claims_frame(claims: Iterable[Claim], *, as_of: date | None = None, by_position: bool = False) -> pl.DataFrame:
    """The claim-lines frame of `Claim` objects (each line's own date of service, else the claim's);
    `by_position`: the claim_id column holds each claim's position in `claims` instead of its id (each
    object is a claim of its own even when ids repeat)."""
    ids: list[str] = []
    settings: list[str] = []
    indexes: list[int] = []
    codes: list[str] = []
    modifiers: list[list[str]] = []
    units: list[float] = []
    days: list[date] = []
    for position, claim in enumerate(claims):
        if not isinstance(claim, Claim):
            raise InvalidInputError(f"expected Claim objects, got {type(claim).__name__}")
        key = str(position) if by_position else claim.id
        for index, line in enumerate(claim.lines):
            ids.append(key)
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
    nulls = frame.select(pl.all().null_count()).row(0, named=True)
    if nulls["modifiers"]:
        frame = frame.with_columns(pl.col("modifiers").fill_null(pl.lit([], pl.List(pl.String))))
    for column, count in nulls.items():
        if count and column != "modifiers":
            where = frame.filter(pl.col(column).is_null())["claim_id"][0]
            raise InvalidInputError(f"claim {where}: a line without {column}")
    if not frame.select(pl.col("setting").is_in(list(SETTINGS)).all()).item():
        bad = frame.filter(~pl.col("setting").is_in(list(SETTINGS))).row(0, named=True)
        raise InvalidInputError(f"claim {bad['claim_id']}: setting {bad['setting']!r} is not one of "
                                f"{', '.join(SETTINGS)}")
    return frame


# ---------------------------------------------------------------------------------------------------
# Batch context


@dataclass(frozen=True)
class _Query:
    """The release choice for one (dataset, date): what `EditTables.choice` keeps."""

    dataset: str
    day: date
    release_id: int | None
    label: str | None
    notices: tuple[str, ...]
    reason: str | None


class CodeBook:
    """The codes of a batch, numbered once (a line's `code_id` is its code's position in `codes`), with what
    the rules work out per code from the edit tables (`memo`), kept across the chunks of one run."""

    def __init__(self, codes: pl.Series) -> None:
        self.codes = codes.unique().sort().rename("code")
        self.enum = pl.Enum(self.codes)
        self.level2 = pl.Series("level2", [kind_of(c) == "level2" for c in self.codes.to_list()])
        self._memo: dict[Any, Any] = {}
        self.choices: dict[tuple[str, date], _Query] = {}  # release choices, by (dataset, date)

    def memo(self, key: Any, make: Callable[[], Any]) -> Any:
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]


@dataclass
class BatchContext:
    """The prepared lines of a batch and what the rules share: release choices (`queries`), the requests
    that lead to DATA_NOT_COVERED or notices, and cached intermediate frames.

    `lines` has one row per claim line, sorted by claim day and line: ``row`` (row position), ``claim``,
    ``line``, ``code_id`` (the code's number; `code_of` gives the code), ``is_professional``,
    ``dos``, ``units``, ``modifiers``, ``modifier_count``, ``claim_day``, ``day_key`` (date and setting: the key
    of `by_day_key`), ``gstart``/``glen`` (rows of the claim day), ``day_rank`` (first line of the claim
    day, the single engine's order of days)."""

    hc: Hcpcs
    tables: BatchTables
    lines: pl.DataFrame
    claim_ids: pl.Series
    book: CodeBook
    origin: int  # the day number (days since 1970-01-01) of day key 0
    want_notices: bool = True
    modifiers: pl.Series | None = None  # the modifiers of each input row (a line's `src`)
    queries: list[_Query] = field(default_factory=list)
    query_ids: dict[tuple[str, date], int] = field(default_factory=dict)
    requests: list[pl.DataFrame] = field(default_factory=list)
    cache: dict[str, Any] = field(default_factory=dict)

    # -- codes ---------------------------------------------------------------------------------------

    @property
    def codes(self) -> pl.Series:
        return self.book.codes

    @property
    def n_codes(self) -> int:
        return self.book.codes.len()

    @property
    def level2(self) -> pl.Series:
        """Whether each code is a HCPCS Level II code (`hcpcs.core.codes.kind_of`)."""
        return self.book.level2

    def memo(self, key: Any, make: Callable[[], Any]) -> Any:
        """Something worked out per code of the batch (kept for the following chunks)."""
        return self.book.memo(key, make)

    def with_cid(self, frame: pl.DataFrame, column: str, name: str = "code_id") -> pl.DataFrame:
        """The rows of a table whose `column` is a code of this batch, with that code's number."""
        return frame.filter(pl.col(column).is_in(self.codes.implode())).with_columns(
            pl.col(column).cast(self.book.enum).to_physical().cast(pl.Int64).alias(name))

    def dense(self, frame: pl.DataFrame, column: str) -> pl.Series:
        """A column of a frame keyed by `code_id` spread over every code of the batch (null where absent)."""
        out = pl.Series(column, [None] * self.n_codes, dtype=frame.schema[column])
        if frame.height:
            out.scatter(frame["code_id"], frame[column])
        return out

    # -- releases ------------------------------------------------------------------------------------

    def day_of(self, dk: int) -> date:
        return date(1970, 1, 1) + timedelta(days=self.origin + dk // 2)

    def query(self, dataset: str, day: date) -> int:
        key = (dataset, day)
        if key not in self.query_ids:
            query = self.book.choices.get(key)
            if query is None:
                try:
                    chosen = self.hc.release_for(dataset, day)
                except (NotCoveredError, DataNotLoadedError) as exc:
                    query = _Query(dataset, day, None, None, (), str(exc) or None)
                else:
                    query = _Query(dataset, day, chosen.release.id, chosen.release.label, tuple(chosen.notices),
                                   None)
                self.book.choices[key] = query
            self.query_ids[key] = len(self.queries)
            self.queries.append(query)
        return self.query_ids[key]

    def by_day_key(self, dataset: str | tuple[str, str]) -> pl.DataFrame:
        """`day_key` -> `query_id`, `release_id` for every claim-day key of the batch; `dataset` is a name or the
        names for (professional, facility) claims. Kept for the other rules asking for the same."""
        key = ("by day key", dataset)
        if key not in self.cache:
            rows = []
            for dk in self.cache["day_keys"]:
                name = dataset if isinstance(dataset, str) else dataset[0 if dk % 2 else 1]
                qid = self.query(name, self.day_of(dk))
                rows.append((dk, qid, self.queries[qid].release_id))
            self.cache[key] = pl.DataFrame(rows, orient="row",
                                           schema={"day_key": pl.Int64, "query_id": pl.Int64, "release_id": pl.Int64})
        return self.cache[key]

    def flagged(self, qids: Iterable[int]) -> set[int]:
        return {q for q in qids if self.queries[q].reason or (self.want_notices and self.queries[q].notices)}

    def request(self, frame: pl.DataFrame, keys: pl.DataFrame, key: str, rule_id: str, order: pl.Expr) -> None:
        """Records that the claims of `frame` asked for the release of `keys` (key -> query_id), as
        `ClaimContext.release` does, with order key `order` within the rule; only requests whose choice
        carries a notice or has no release are kept."""
        flagged = keys.filter(pl.col("query_id").is_in(list(self.flagged(keys["query_id"].to_list()))))
        if not flagged.height or not frame.height:
            return
        kept = frame.select("claim", key, order=order.cast(pl.Int64)).filter(pl.col(key).is_in(flagged[key].implode())).select(
            "claim", query_id=pl.col(key).replace_strict(flagged[key], flagged["query_id"], return_dtype=pl.Int64),
            rank=pl.lit(rule_rank(rule_id), pl.Int64), order="order")
        self.requests.append(kept)

    def releases(self, keys: pl.DataFrame, key: str = "day_key") -> Iterator[tuple[int, pl.Expr | None]]:
        """Each release answering for some of the keys, with a filter for the rows it answers for (None:
        all rows of the batch)."""
        answered = keys.filter(pl.col("release_id").is_not_null())
        every = answered.height == keys.height
        settings = {parity: {dk for dk in self.cache["day_keys"] if dk % 2 == parity} for parity in (0, 1)}
        for (release_id,), part in answered.partition_by("release_id", as_dict=True).items():
            if every and part.height == keys.height:
                yield int(release_id), None
                continue
            values = part[key]
            # The usual case, one release per setting: a test of the setting bit of the day key rather than a look-up.
            parity = next((p for p, dks in settings.items() if key == "day_key" and dks and set(values.to_list()) == dks),
                          None)
            yield int(release_id), (pl.col(key) % 2 == parity if parity is not None else pl.col(key).is_in(
                values.implode()))

    def release_label(self, release_id: int) -> str:
        return self.hc.release_by_id(release_id).label

    # -- shared frames -------------------------------------------------------------------------------

    @property
    def claim_days(self) -> pl.DataFrame:
        """One row per claim day: its first line."""
        if "claim_days" not in self.cache:
            self.cache["claim_days"] = self.lines.select(
                "row", "claim", "claim_day", "day_key", "dos", "is_professional", "day_rank", "day_start", "day_len").filter(
                pl.col("row") == pl.col("day_start")).drop("row")
        return self.cache["claim_days"]

    def pairs_where(self, rows: pl.DataFrame, keep: Callable[[pl.DataFrame], pl.DataFrame]) -> pl.DataFrame:
        """The pairs of lines (`r`, `j`), r < j, of a claim day that `keep` keeps. The lines of a claim day are
        contiguous, so its pairs are (r, r + d) for d = 1, 2, ... while r + d is in the claim day: a self-join
        on claim day and line offset, one offset at a time on the rows left, each offset's pairs filtered by
        `keep` at once so that the set of all pairs is never built. `rows`: the lines that may pair (`r` and
        what `keep` reads; `j` is added)."""
        rows = rows.join(self.lines.select("row", end=pl.col("day_start") + pl.col("day_len")), on="row") \
            if "end" not in rows.columns else rows
        parts = []
        offset = 1
        while True:
            rows = rows.filter(pl.col("row") + offset < pl.col("end"))
            if not rows.height:
                break
            parts.append(keep(rows.with_columns(other=pl.col("row") + offset)).drop("end"))
            offset += 1
        return pl.concat(parts) if parts else keep(rows.with_columns(other=pl.col("row"))).drop("end")

    @property
    def repeated(self) -> pl.DataFrame:
        """Lines whose code is billed on another line of the same claim day: `r`, `same` (claim day and
        code), `first` (the first line of that code on that day)."""
        if "repeated" not in self.cache:
            cid = self.lines["code_id"]
            twins = self.pairs_where(
                self.lines.select("row", "code_id", end=pl.col("day_start") + pl.col("day_len")),
                lambda pairs: pairs.filter(pl.col("code_id") == pl.lit(cid).gather(pl.col("other"))).select("row", "other", "end"))
            rows = pl.concat([twins["row"], twins["other"]]).unique().sort().to_frame("row")
            rows = rows.with_columns(line=self.at("line", "row"),
                                     code_day=self.at("claim_day", "row") * self.n_codes + self.at("code_id", "row"))
            self.cache["repeated"] = rows.with_columns(first=pl.col("line").min().over("code_day")).drop("line")
        return self.cache["repeated"]

    def rows(self, columns: Iterable[str], *conditions: pl.Expr, where: pl.Expr | None = None) -> pl.DataFrame:
        """Some columns of the lines meeting the conditions (and `where`, a release's rows)."""
        predicates = [c for c in (*conditions, where) if c is not None]
        stored = [c for c in columns if c not in ("code", "modifiers")]
        needed = [*(["code_id"] if "code" in columns else []), *(["input_row"] if "modifiers" in columns else [])]
        frame = self.lines.select(list(dict.fromkeys([*stored, *needed])))
        if predicates:  # the rows' positions first, then only they are gathered (conditions are selective)
            frame = frame[self.lines.select(pl.arg_where(pl.all_horizontal(predicates)))[:, 0]]
        if "code" in columns:
            frame = frame.with_columns(code=self.code_of())
        if "modifiers" in columns:
            frame = frame.with_columns(modifiers=pl.lit(self.modifiers).gather(pl.col("input_row")))
        return frame.select(list(columns))

    def day_pairs(self, rows: pl.DataFrame, *, upper: bool) -> pl.DataFrame:
        """For each row of `rows` (with `r`, `gstart`, `glen`), the rows `j` of its claim day: those after
        it (`upper`) or all of them."""
        start = pl.col("row") + 1 if upper else pl.col("day_start")
        pairs = rows.with_columns(other=pl.int_ranges(start, pl.col("day_start") + pl.col("day_len"), dtype=pl.Int64))
        return pairs.explode("other").filter(pl.col("other").is_not_null())

    def at(self, column: str, rows: str | pl.Expr) -> pl.Expr:
        """A column of `lines` at the row positions of another column."""
        index = pl.col(rows) if isinstance(rows, str) else rows
        if column == "code":
            return self.code_of(pl.lit(self.lines["code_id"]).gather(index))
        if column == "modifiers":
            return pl.lit(self.modifiers).gather(pl.lit(self.lines["input_row"]).gather(index))
        return pl.lit(self.lines[column]).gather(index)

    def code_of(self, cids: pl.Expr | str = "code_id") -> pl.Expr:
        """The code (text) of code numbers."""
        return pl.lit(self.codes).gather(pl.col(cids) if isinstance(cids, str) else cids)


def _claim_runs(frame: pl.DataFrame) -> tuple[pl.Series, bool]:
    """The claim ids in order of first appearance, and whether each claim's lines are together: true when
    the ids of the runs of equal ids are unique (sorted, as two runs in a row always differ, or with
    distinct hashes)."""
    runs = frame.select(pl.col("claim_id").filter(pl.col("claim_id").ne_missing(pl.col("claim_id").shift())))
    claim_ids = runs["claim_id"]
    if claim_ids.is_sorted() or claim_ids.hash().is_unique().all():
        return claim_ids, True
    return claim_ids.unique(maintain_order=True), False


def _claim_number(claim_ids: pl.Series, together: bool) -> pl.Expr:
    """Each line's claim number (`claim`): the claim's position in order of first appearance."""
    if together:
        return pl.col("claim_id").rle_id().cast(pl.Int64)
    return pl.col("claim_id").replace_strict(claim_ids, pl.int_range(claim_ids.len(), eager=True),
                                             return_dtype=pl.Int64)


def prepare(claims: pl.DataFrame | Iterable[Claim], hc: Hcpcs, *, tables: BatchTables | None = None,
            as_of: date | str | None = None, want_notices: bool = True, book: CodeBook | None = None) -> BatchContext:
    """Normalize and index the claim lines of a batch."""
    day = parse_date(as_of, "as-of date") if as_of else None
    frame = claims if isinstance(claims, pl.DataFrame) else claims_frame(claims, as_of=day)
    frame = _normalized(frame, day)
    tables = tables or BatchTables(hc)
    if frame.height == 0:
        empty = pl.DataFrame(schema={"claim_id": pl.String})["claim_id"]
        ctx = BatchContext(hc, tables, frame, empty, book or CodeBook(empty), 0, want_notices)
        ctx.cache["day_keys"] = []
        return ctx
    claim_ids, together = _claim_runs(frame)
    book = book or CodeBook(frame["code"])
    first, last = frame.select(pl.col("dos").min().cast(pl.Int32).alias("first"),
                               pl.col("dos").max().cast(pl.Int32).alias("last")).row(0)
    if last - first >= _DAY_SPAN:
        raise InvalidInputError("the dates of service of one batch must lie within 5,000 years of each other")
    origin = first
    day = pl.col("dos").cast(pl.Int32).cast(pl.Int64) - origin
    prof = pl.col("setting") == "professional"
    try:
        lines = frame.select(
            "line", "units",
            claim=_claim_number(claim_ids, together),
            code_id=pl.col("code").cast(book.enum).to_physical().cast(pl.Int64),
            day_key=day * 2 + prof.cast(pl.Int64), modifier_count=pl.col("modifiers").list.len().cast(pl.Int64),
            input_row=pl.int_range(pl.len(), dtype=pl.Int64),
        ).with_columns(claim_day=pl.col("claim") * _DAY_SPAN + pl.col("day_key") // 2)
    except pl.exceptions.PolarsError as exc:
        raise InvalidInputError("the claim lines hold a code that is not in the batch's code book") from exc
    # The columns worked out from others are added once the rows are in order (fewer columns to move).
    lines = _in_claim_day_order(lines).with_columns(
        is_professional=pl.col("day_key") % 2 == 1, dos=(pl.col("day_key") // 2 + origin).cast(pl.Int32).cast(pl.Date))
    # Claim days as runs of rows: the start and length of each row's run, and the first line of its day.
    runs = lines.select(pl.col("claim_day").rle()).unnest("claim_day").select(day_len=pl.col("len").cast(pl.Int64))
    runs = runs.with_columns(day_start=pl.col("day_len").cum_sum() - pl.col("day_len"))
    run = lines.select(pl.col("claim_day").rle_id())["claim_day"]
    lines = lines.with_columns(row=pl.int_range(pl.len(), dtype=pl.Int64), day_start=runs["day_start"].gather(run),
                               day_len=runs["day_len"].gather(run))
    lines = lines.with_columns(day_rank=pl.col("line").gather(pl.col("day_start")))
    ctx = BatchContext(hc, tables, lines, claim_ids, book, origin, want_notices, frame["modifiers"])
    ctx.cache["day_keys"] = _distinct_small(lines["day_key"])
    return ctx


def _distinct_small(values: pl.Series) -> list[int]:
    """The distinct values (sorted) of a column of small non-negative integers, by marking them in a table
    rather than hashing every row."""
    seen = pl.repeat(False, (values.max() or 0) + 1, eager=True)
    seen.scatter(values, True)
    return seen.arg_true().to_list()


def _in_claim_day_order(lines: pl.DataFrame) -> pl.DataFrame:
    """The lines with each claim day's rows contiguous and in line order: the rows of claims that are not
    already are re-sorted (moved after the others). A row is in order when its (claim day, line) comes
    after every earlier row's; the rows in order then keep their order, and a claim with a row out of order
    moves whole."""
    low, high, top = lines.select(pl.col("line").min().alias("low"), pl.col("line").max().alias("high"),
                                    pl.col("claim_day").max().alias("top")).row(0)
    span = high - low + 1
    if (top + 1) * span < _PACKED_LIMIT:  # (claim day, line) as one integer
        key = pl.col("claim_day") * span + (pl.col("line") - low)
        behind = key <= key.cum_max().shift(1)
    else:
        gkey, line = pl.col("claim_day"), pl.col("line")
        before = gkey.cum_max().shift(1)
        behind = ~(before.is_null() | (gkey > before)
                   | ((gkey == gkey.shift(1)) & (gkey == before) & (line > line.shift(1))))
    unordered = lines.filter(behind)["claim"].unique()
    if not unordered.len():
        return lines
    moved = pl.col("claim").is_in(unordered.implode())
    return pl.concat([lines.filter(~moved), lines.filter(moved).sort("claim_day", "line")]).rechunk()


# ---------------------------------------------------------------------------------------------------
# Expression helpers


def _iso(frame: pl.DataFrame, column: str = "dos") -> pl.Expr:
    """A date column of a frame as ISO text (mapped from its few distinct dates: faster than formatting
    every row)."""
    days = frame[column].unique().drop_nulls()
    return pl.col(column).replace_strict(days, days.dt.to_string("%Y-%m-%d"), default=None, return_dtype=pl.String)


def _mapped(frame: pl.DataFrame, column: str, function: Callable[[str], str]) -> pl.Expr:
    """A text column mapped through a Python function of its (few) distinct values; nulls stay null."""
    values = [v for v in frame[column].unique().to_list() if v is not None]
    return pl.col(column).replace_strict(values, [function(v) for v in values], default=None,
                                         return_dtype=pl.String)


def _meaning(frame: pl.DataFrame, column: str, key: str, *, otherwise: str | None = "") -> pl.Expr:
    """`indicators.meaning(key, value)` of a column (`otherwise` when there is none; None: the value)."""
    mapped = _mapped(frame, column, lambda v: indicators.meaning(key, v) or (v if otherwise is None else otherwise))
    return mapped if otherwise is None else mapped.fill_null(otherwise)


def _with_g(frame: pl.DataFrame, column: str, name: str) -> pl.DataFrame:
    """Adds `name`: format(value, "g") of a numeric column, as the rules print units."""
    value = pl.col(column).cast(pl.Float64)
    whole = (value == value.floor()) & (value.abs() < 1e6)
    frame = frame.with_columns(pl.when(whole).then(value.cast(pl.Int64).cast(pl.String)).alias(name))
    rest = frame.select(pl.arg_where(pl.col(name).is_null() & pl.col(column).is_not_null()))[:, 0]
    if rest.len():
        texts = pl.Series([format(v, "g") for v in frame[column].gather(rest).to_list()], dtype=pl.String)
        frame = frame.with_columns(frame[name].scatter(rest, texts))
    return frame


def _json(**fields: pl.Expr | tuple[str, pl.Expr]) -> pl.Expr:
    """The JSON object of a rule's source fields (codes and indicator values: nothing to escape); a
    field given as ("int", expr) is written as a number."""
    parts: list[pl.Expr] = []
    for i, (name, value) in enumerate(fields.items()):
        parts.append(pl.lit(("{" if i == 0 else ", ") + json.dumps(name) + ": "))
        if isinstance(value, tuple):
            text = value[1].cast(pl.String)
        else:
            text = pl.lit('"') + value.cast(pl.String) + pl.lit('"')
        parts.append(text.fill_null("null"))
    parts.append(pl.lit("}"))
    return pl.concat_str(parts)


def _findings(frame: pl.DataFrame, rule: str, *, severity: str | pl.Expr, codes: pl.Expr, lines: pl.Expr,
              message: pl.Expr, fix: str | pl.Expr | None, dataset: str | pl.Expr | None = None,
              release: pl.Expr | None = None, row: pl.Expr | None = None, extra: pl.Expr | None = None,
              order: tuple[pl.Expr, ...] = ()) -> pl.DataFrame:
    """A rule's findings in the module's internal form."""
    def text(value: str | pl.Expr | None) -> pl.Expr:
        return value if isinstance(value, pl.Expr) else pl.lit(value, pl.String)

    keys = list(order) + [pl.lit(0)] * (len(_ORDER_KEYS) - len(order))
    out = frame.select(
        pl.col("claim"), rule=pl.lit(rule), rank=pl.lit(rule_rank(rule), pl.Int64), severity=text(severity), codes=codes, lines=lines, message=message,
        fix=text(fix), source_dataset=text(dataset), source_release=text(release),
        source_row=row if row is not None else pl.lit(None, pl.Int64), source_extra=text(extra),
        **{name: key for name, key in zip(_ORDER_KEYS, keys, strict=True)},
    )
    return out.cast(_RULE_SCHEMA)  # type: ignore[arg-type]


def _empty() -> pl.DataFrame:
    return pl.DataFrame(schema=_RULE_SCHEMA)


def _concat(frames: Iterable[pl.DataFrame | None]) -> pl.DataFrame | None:
    kept = [f for f in frames if f is not None and f.height]
    return pl.concat(kept, how="diagonal_relaxed") if kept else None


def _all(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """One rule's findings made in parts."""
    found = _concat(frames)
    return _empty() if found is None else found


def _subset(frame: pl.DataFrame, where: pl.Expr | None) -> pl.DataFrame:
    return frame if where is None else frame.filter(where)


def _by_setting(mapping: dict[str, str]) -> tuple[str, str]:
    return mapping["professional"], mapping["facility"]


def _dataset_of_setting(mapping: dict[str, str]) -> pl.Expr:
    return pl.when(pl.col("is_professional")).then(pl.lit(mapping["professional"])).otherwise(pl.lit(mapping["facility"]))


def _release_names(ctx: BatchContext, release_ids: pl.Expr) -> pl.Expr:
    releases = ctx.hc.releases
    return release_ids.replace_strict([r.id for r in releases], [r.label for r in releases], default=None,
                                      return_dtype=pl.String)


# ---------------------------------------------------------------------------------------------------
# Rules. Each takes the context and returns its findings; the rule module of the same name in
# hcpcs.edits.rules states the policy.


def code_not_valid_on_dos(ctx: BatchContext) -> pl.DataFrame:
    rule = "CODE_NOT_VALID_ON_DOS"
    # A line asks the HCPCS file (Level II code) or the fee schedule / OPPS (CPT code) in force: key dsk.
    level2_keys = ctx.by_day_key("hcpcs").with_columns(validity_key=pl.col("day_key") * 2 + 1)
    cpt_keys = ctx.by_day_key(("mpfs", "opps")).with_columns(validity_key=pl.col("day_key") * 2)
    keys = pl.concat([level2_keys, cpt_keys])
    lines = ctx.lines.select("row", "claim", "line", "code_id", "dos", "is_professional",
                             validity_key=pl.col("day_key") * 2 + pl.lit(ctx.level2).gather(pl.col("code_id")).cast(pl.Int64))
    ctx.request(lines, keys, "validity_key", rule, pl.col("line"))
    level2_cids, cpt_cids = ctx.memo("cids by kind", lambda: (ctx.level2.arg_true().to_list(),
                                                             (~ctx.level2).arg_true().to_list()))
    qids = keys["query_id"].unique().to_list()
    groups = keys.with_columns(dataset=pl.col("query_id").replace_strict(
        qids, [ctx.queries[q].dataset for q in qids], return_dtype=pl.String))
    verdicts = []
    for (dataset, release_id), part in groups.partition_by("dataset", "release_id", as_dict=True).items():
        cids = level2_cids if dataset == "hcpcs" else cpt_cids
        found = ctx.memo(("validity", dataset, release_id),
                         lambda d=dataset, r=release_id, c=cids: _validity(ctx, d, r, c)) if cids else None
        if found is not None:
            verdicts.append((part["validity_key"], found.with_columns(
                dataset=pl.lit(dataset if release_id is not None else None, pl.String),
                release_label=pl.coalesce(pl.col("label_override"), pl.lit(
                    ctx.release_label(release_id) if release_id is not None else None, pl.String)))))
    if not verdicts:
        return _empty()
    suspect = pl.concat([found["code_id"] for _, found in verdicts]).unique().implode()
    candidates = lines.filter(pl.col("code_id").is_in(suspect))
    hits = _concat([candidates.filter(pl.col("validity_key").is_in(dsks.implode())).join(found, on="code_id")
                    for dsks, found in verdicts])
    if hits is None:
        return _empty()
    hits = hits.sort("claim", "line").unique(["claim", "code_id", "dos"], keep="first", maintain_order=True).with_columns(
        iso=_iso(hits), code=ctx.code_of())
    not_yet = pl.col("added_date").is_not_null() & (pl.col("dos") < pl.col("added_date"))
    ended = pl.col("termination_date").is_not_null() & (pl.col("dos") > pl.col("termination_date"))
    hits = hits.with_columns(verdict=pl.when(pl.col("verdict") != "dated").then(pl.col("verdict"))
                             .when(not_yet).then(pl.lit("added")).when(ended).then(pl.lit("terminated"))
                             .otherwise(pl.lit(None))).filter(pl.col("verdict").is_not_null())
    if not hits.height:
        return _empty()
    verdict = pl.col("verdict")
    what = pl.when(pl.col("dataset") == "mpfs").then(pl.lit("fee schedule")).otherwise(pl.lit("OPPS"))
    message = (
        pl.when(verdict == "added").then(pl.format(
            "{} is not valid on {}: it was added {} ({}).", "code", "iso", "added_date", "release_label"))
        .when(verdict == "terminated").then(pl.format(
            "{} is not valid on {}: it was terminated {} (action {}: {}; {}).", "code", "iso", "termination_date",
            pl.col("action_code").fill_null("None"),
            _mapped(hits, "action_code", lambda v: (indicators.meaning("hcpcs_action_code", v) or "").rstrip("."))
            .fill_null(""),
            "release_label"))
        .when(verdict == "elsewhere").then(pl.format(
            "{} is not in {}, the HCPCS release in force on {} (it appears in {}).", "code", "release_label", "iso",
            "others"))
        .when(verdict == "deleted").then(pl.format(
            "{} is deleted on {}: fee-schedule status {} in {}.", "code", "iso", "status", "release_label"))
        .when(verdict == "absent").then(pl.format(
            "{} is not in {}, the {} release in force on {}{}.", "code", "release_label", what, "iso",
            pl.when(pl.col("others").is_not_null()).then(pl.format(" (it appears in {})", "others"))
            .otherwise(pl.lit(""))))
        .otherwise(pl.format("{} is not a code in any loaded CMS release.", "code")))
    fix = (pl.when(verdict == "added").then(pl.lit("Use the code that was in force on the date of service."))
           .when(verdict == "terminated").then(pl.lit(
               "Report the code that replaced it for dates of service after the termination date."))
           .when(verdict == "elsewhere").then(pl.lit("Check the code against the HCPCS file of the date of service."))
           .when(verdict == "deleted").then(pl.lit("Report the code that replaced it."))
           .when(verdict == "absent").then(pl.lit("Check that the code was valid on the date of service."))
           .otherwise(pl.lit("Check the code for a typing error.")))
    with_row = verdict.is_in(["added", "terminated", "deleted"])
    return _findings(
        hits, rule, severity="error", codes=pl.concat_list("code"), lines=pl.concat_list("line"),
        message=message, fix=fix, dataset=pl.col("dataset"), release=pl.col("release_label"),
        row=pl.when(with_row).then(pl.col("source_line")).otherwise(pl.lit(None, pl.Int64)),
        order=(pl.col("line"),))


def _validity(ctx: BatchContext, dataset: str, release_id: int | None, cids: list[int]) -> pl.DataFrame | None:
    """Per code (`code_id`) of the batch, why it may not be valid under the release of `dataset` in force
    (`verdict`: dated (decided per date by added_date / termination_date), elsewhere, unknown, deleted,
    absent), with the fields the messages need; codes that are valid are left out."""
    codes = ctx.codes.gather(cids)
    frame = pl.DataFrame({"code_id": pl.Series(cids, dtype=pl.Int64), "code": codes})
    schema = {"code_id": pl.Int64, "verdict": pl.String, "added_date": pl.Date, "termination_date": pl.Date,
              "action_code": pl.String, "status": pl.String, "source_line": pl.Int64, "others": pl.String,
              "label_override": pl.String}
    if release_id is None:
        if dataset == "hcpcs":
            return None
        known = ctx.tables.known_codes(codes.to_list())
        out = frame.filter(~pl.col("code").is_in(list(known))).select("code_id", verdict=pl.lit("unknown"))
    elif dataset == "hcpcs":
        rows = ctx.tables.frame(release_id, "hcpcs_code").filter(pl.col("record_kind") == "procedure").unique(
            "code", keep="first", maintain_order=True).drop("record_kind")
        frame = frame.join(rows, on="code", how="left").with_columns(
            has_row=pl.col("code").is_in(rows["code"].implode()))
        dated = frame.filter(pl.col("has_row") & (pl.col("added_date").is_not_null()
                                                  | pl.col("termination_date").is_not_null()))
        absent = frame.filter(~pl.col("has_row")).select("code_id", "code")
        # The HCPCS file is cumulative: a later file that carries the code dates it (the newest one).
        later = _later_hcpcs_rows(ctx, release_id, absent)
        absent = absent.filter(~pl.col("code_id").is_in(later["code_id"].implode()))
        others = _other_releases(ctx, "hcpcs_code", absent)
        absent = absent.join(others, on="code", how="left")
        known = ctx.tables.known_codes(absent.filter(pl.col("others").is_null())["code"].to_list())
        out = _concat([
            dated.select("code_id", "added_date", "termination_date", "action_code", "source_line",
                         verdict=pl.lit("dated")),
            later,
            absent.filter(pl.col("others").is_not_null()).select("code_id", "others", verdict=pl.lit("elsewhere")),
            absent.filter(pl.col("others").is_null() & ~pl.col("code").is_in(list(known))).select(
                "code_id", verdict=pl.lit("unknown")),
        ])
    else:
        if dataset == "mpfs":
            base = _rvu_base(ctx, release_id).select("code", "status", "source_line")
            frame = frame.join(base, on="code", how="left").with_columns(
                has_row=pl.col("code").is_in(base["code"].implode()))
            deleted = frame.filter(pl.col("status").is_in(list(DELETED_STATUSES))).select(
                "code_id", "status", "source_line", verdict=pl.lit("deleted"))
        else:
            rows = ctx.tables.frame(release_id, "opps_addendum_b")["hcpcs"]
            frame = frame.with_columns(has_row=pl.col("code").is_in(rows.implode()))
            deleted = None
        absent = frame.filter(~pl.col("has_row")).select("code_id", "code")
        known = ctx.tables.known_codes(absent["code"].to_list())
        elsewhere = absent.filter(pl.col("code").is_in(list(known)))
        others = _other_releases(ctx, "mpfs_rvu" if dataset == "mpfs" else "opps_addendum_b", elsewhere)
        out = _concat([
            deleted,
            elsewhere.join(others, on="code", how="left").select("code_id", "others", verdict=pl.lit("absent")),
            absent.filter(~pl.col("code").is_in(list(known))).select("code_id", verdict=pl.lit("unknown")),
        ])
    if out is None or not out.height:
        return None
    return out.select([pl.col(c).cast(t) if c in out.columns else pl.lit(None, t).alias(c) for c, t in schema.items()])


def _later_hcpcs_rows(ctx: BatchContext, release_id: int, absent: pl.DataFrame) -> pl.DataFrame:
    """For codes (`code_id`, `code`) missing from the HCPCS release in force, the row of the newest later HCPCS
    release that carries them (verdict `dated`, `label_override` naming that release)."""
    schema = {"code_id": pl.Int64, "added_date": pl.Date, "termination_date": pl.Date, "action_code": pl.String,
              "source_line": pl.Int64, "verdict": pl.String, "label_override": pl.String}
    current = ctx.hc.release_by_id(release_id)
    later = sorted((r for r in ctx.hc.releases if r.dataset == "hcpcs" and r.effective_start > current.effective_start),
                   key=lambda r: (r.effective_start, r.id), reverse=True)
    found = []
    remaining = absent
    for release in later:
        if not remaining.height:
            break
        rows = ctx.tables.frame(release.id, "hcpcs_code").filter(pl.col("record_kind") == "procedure").unique(
            "code", keep="first", maintain_order=True).drop("record_kind")
        hit = remaining.join(rows, on="code", how="inner")
        if hit.height:
            found.append(hit.select("code_id", "added_date", "termination_date", "action_code", "source_line",
                                    verdict=pl.lit("dated"), label_override=pl.lit(release.label)))
            remaining = remaining.filter(~pl.col("code_id").is_in(hit["code_id"].implode()))
    return pl.concat(found).cast(schema) if found else pl.DataFrame(schema=schema)  # type: ignore[arg-type]


def _other_releases(ctx: BatchContext, table: str, frame: pl.DataFrame) -> pl.DataFrame:
    """`code` -> `others`: the labels of the releases whose `table` carries the code, in the store's
    release order (`EditTables.other_releases_with`); codes no release carries are left out."""
    present = ctx.tables.releases_with(table, frame["code"].unique().to_list())
    order = [r.id for r in ctx.hc.releases]
    present = present.with_columns(label=_release_names(ctx, pl.col("release_id")),
                                   position=pl.col("release_id").replace_strict(order, list(range(len(order))),
                                                                                return_dtype=pl.Int64))
    return present.sort("position").group_by("code", maintain_order=True).agg(others=pl.col("label").str.join(", "))


def _rvu_rows(ctx: BatchContext, release_id: int) -> pl.DataFrame:
    """Fee-schedule rows of the batch's codes by (code, modifier), the last loaded winning (`EditTables.rvu`)."""
    def make() -> pl.DataFrame:
        rows = ctx.tables.frame(release_id, "mpfs_rvu").rename({"hcpcs": "code"})
        return rows.filter(pl.col("code").is_in(ctx.codes.implode())).unique(
            ["code", "modifier"], keep="last", maintain_order=True)

    return ctx.memo(("rvu_rows", release_id), make)


def _rvu_base(ctx: BatchContext, release_id: int) -> pl.DataFrame:
    """The fee-schedule row the rules read for a code: the global row (modifier ''), else the first by
    modifier (the store's index order)."""
    def make() -> pl.DataFrame:
        rows = _rvu_rows(ctx, release_id).sort("code", pl.col("modifier") != "", "modifier", maintain_order=True)
        return rows.unique("code", keep="first", maintain_order=True)

    return ctx.memo(("rvu_base", release_id), make)


# -- PTP ---------------------------------------------------------------------------------------------


def ptp_pairs(ctx: BatchContext) -> pl.DataFrame | None:
    """Every (column 1 line, column 2 line, edit) of a claim day whose codes form an NCCI PTP edit in
    force, with its outcome (bundled | not_bypassable | bypassed) and bypass modifiers; shared by the
    three PTP rules as `hcpcs.edits.ptp.pair_outcomes` is."""
    if "ptp" in ctx.cache:
        return ctx.cache["ptp"]
    keys = ctx.by_day_key(_by_setting(PTP_DATASET))
    flagged = ctx.flagged(keys["query_id"].to_list())
    if flagged:  # only claim days with two different codes ask for the release
        days = ctx.claim_days.filter((pl.col("day_len") >= 2) & pl.col("day_key").is_in(
            keys.filter(pl.col("query_id").is_in(list(flagged)))["day_key"].implode()))
        several = ctx.lines.filter(pl.col("claim_day").is_in(days["claim_day"].implode())).group_by("claim_day").agg(
            n=pl.col("code_id").n_unique()).filter(pl.col("n") >= 2)
        ctx.request(days.join(several, on="claim_day", how="semi"), keys, "day_key", "PTP_BUNDLED", pl.col("day_rank"))
    releases = list(ctx.releases(keys))
    if not releases:
        ctx.cache["ptp"] = None
        return None
    indexes = [ctx.tables.ptp_index(release_id) for release_id, _ in releases]
    pids = [ctx.memo(("ptp", release_id), lambda index=index: ctx.dense(ctx.with_cid(
        index.codes.to_frame("code").with_row_index("ptp_code").with_columns(pl.col("ptp_code").cast(pl.Int64)), "code"), "ptp_code"))
        for (release_id, _), index in zip(releases, indexes, strict=True)]
    # Each line's PTP release (`slot`, by the line's date and setting) and its code's position among that
    # release's codes (`ptp_code`; null when the code has no edit in it).
    if len(releases) == 1 and releases[0][1] is None:
        slot: pl.Expr = pl.lit(0, pl.Int64)
        pid: pl.Expr = pl.lit(pids[0]).gather(pl.col("code_id"))
    else:
        slot = pid = pl.lit(None, pl.Int64)
        for number in reversed(range(len(releases))):
            where = releases[number][1]
            assert where is not None
            slot = pl.when(where).then(pl.lit(number, pl.Int64)).otherwise(slot)
            pid = pl.when(where).then(pl.lit(pids[number]).gather(pl.col("code_id"))).otherwise(pid)
    lines = ctx.lines.select("row", slot=slot, ptp_code=pid, end=pl.col("day_start") + pl.col("day_len"))
    line_pid = pl.lit(lines["ptp_code"])
    lines = lines.filter(pl.col("ptp_code").is_not_null())
    pid_j = line_pid.gather(pl.col("other"))
    parts = []
    for number, index in enumerate(indexes):
        # The pairs of lines of a claim day (one release answers for all of them) whose codes have an edit: a
        # bitmap look-up on the pair of code positions when the release has one (one bitmap at a time, so
        # that it stays in the processor's cache as much as it can).
        some = lines.filter(pl.col("slot") == number) if len(indexes) > 1 else lines
        if index.present is not None:
            present, size = pl.lit(index.present), index.codes.len()
            # A partner without a PTP code number reads the diagonal bit (never set): no null index, which gathers slowly.
            parts.append(ctx.pairs_where(some, lambda pairs, p=present, n=size: pairs.filter(
                p.gather(pl.col("ptp_code") * n + pid_j.fill_null(pl.col("ptp_code"))))))
        else:
            parts.append(ctx.pairs_where(some, lambda pairs, index=index: pairs.filter(
                pid_j.is_not_null() & (pl.col("ptp_code") != pid_j)).filter(index.has_pair(
                    pl.min_horizontal("ptp_code", pid_j), pl.max_horizontal("ptp_code", pid_j)))))
    candidates = pl.concat(parts).with_columns(other_ptp_code=pid_j)
    low, high = pl.min_horizontal("ptp_code", "other_ptp_code"), pl.max_horizontal("ptp_code", "other_ptp_code")
    found = []
    for number, ((release_id, _), index) in enumerate(zip(releases, indexes, strict=True)):
        pairs = candidates.filter(pl.col("slot") == number) if len(releases) > 1 else candidates
        if not pairs.height:
            continue
        # Sorted first: the binary searches then walk the index in order (far fewer cache misses).
        pairs = pairs.select("row", "other", "ptp_code", pair=low * PAIR_SHIFT + high).sort("pair")
        at = index.pairs["pair"].search_sorted(pairs["pair"])
        pairs = pairs.with_columns(start=index.pairs["start"].gather(at), count=index.pairs["count"].gather(at))
        pairs = pairs.with_columns(edit_row=pl.int_ranges("start", pl.col("start") + pl.col("count"), dtype=pl.Int64)
                                   ).explode("edit_row").drop("start", "count", "pair")
        matched = pl.concat([pairs, index.edits[pairs["edit_row"]]], how="horizontal")
        found.append(matched.with_columns(
            column1=index.codes.gather(matched["code1"]), column2=index.codes.gather(matched["code2"]),
            release_label=pl.lit(ctx.release_label(release_id))))
    if not found:
        ctx.cache["ptp"] = None
        return None
    matched = pl.concat(found)
    first_is_r = pl.col("ptp_code") == pl.col("code1")
    matched = matched.with_columns(row1=pl.when(first_is_r).then(pl.col("row")).otherwise(pl.col("other")),
                                   row2=pl.when(first_is_r).then(pl.col("other")).otherwise(pl.col("row")))
    matched = matched.with_columns(dos=ctx.at("dos", "row1")).filter(
        (pl.col("effective_date").is_null() | (pl.col("effective_date") <= pl.col("dos")))
        & (pl.col("deletion_date").is_null() | (pl.col("dos") <= pl.col("deletion_date"))))
    associated = sorted(ptp_associated_modifiers())
    matched = matched.with_columns(
        claim=ctx.at("claim", "row1"), line1=ctx.at("line", "row1"), line2=ctx.at("line", "row2"),
        day_rank=ctx.at("day_rank", "row1"), is_professional=ctx.at("is_professional", "row1"),
        modifier_indicator=pl.col("modifier_indicator").cast(pl.String), rationale=pl.col("rationale").cast(pl.String),
        modified=(ctx.at("modifier_count", "row1") + ctx.at("modifier_count", "row2")) > 0)
    # The PTP-associated modifiers on either line (most lines have no modifier at all).
    plain = matched.filter(~pl.col("modified")).with_columns(
        bypass=pl.lit([], pl.List(pl.String)), outcome=pl.lit("bundled"), mods=pl.lit(""))
    modified = matched.filter(pl.col("modified")).with_row_index("pair_number")
    on_lines = pl.concat([modified.select("pair_number", mod=ctx.at("modifiers", rows)).explode("mod") for rows in ("row1", "row2")])
    bypass = on_lines.filter(pl.col("mod").is_in(associated)).unique().sort("pair_number", "mod").group_by(
        "pair_number", maintain_order=True).agg(bypass=pl.col("mod"))
    modified = modified.join(bypass, on="pair_number", how="left").drop("pair_number").with_columns(
        pl.col("bypass").fill_null(pl.lit([], pl.List(pl.String))))
    modified = modified.with_columns(
        mods=pl.col("bypass").list.join(", "),
        outcome=pl.when(pl.col("bypass").list.len() == 0).then(pl.lit("bundled"))
        .when(pl.col("modifier_indicator") == "0").then(pl.lit("not_bypassable")).otherwise(pl.lit("bypassed")))
    matched = pl.concat([plain, modified], how="diagonal")
    ctx.cache["ptp"] = matched
    return matched


def _ptp_findings(ctx: BatchContext, outcome: str) -> pl.DataFrame | None:
    pairs = ptp_pairs(ctx)
    if pairs is None:
        return None
    pairs = pairs.filter(pl.col("outcome") == outcome)
    return pairs.with_columns(iso=_iso(pairs)) if pairs.height else None


def _ptp_finding(pairs: pl.DataFrame, rule: str, severity: str, message: pl.Expr, fix: pl.Expr | None,
                 indicator: pl.Expr) -> pl.DataFrame:
    return _findings(
        pairs, rule, severity=severity, codes=pl.concat_arr("column1", "column2").arr.to_list(),
        lines=pl.concat_arr("line1", "line2").arr.to_list(), message=message, fix=fix, dataset=_dataset_of_setting(PTP_DATASET),
        release=pl.col("release_label"), row=pl.col("source_line"),
        extra=_json(edit=pl.format("{}/{}", "column1", "column2"), modifier_indicator=indicator),
        order=(pl.col("day_rank"), pl.col("line1"), pl.col("edit_order"), pl.col("line2")))


def ptp_bundled(ctx: BatchContext) -> pl.DataFrame:
    pairs = _ptp_findings(ctx, "bundled")
    if pairs is None:
        return _empty()
    c1, c2, mi = pl.col("column1"), pl.col("column2"), pl.col("modifier_indicator")
    setting = pl.when(pl.col("is_professional")).then(pl.lit("practitioner")).otherwise(pl.lit("hospital"))
    rationale = pl.when(pl.col("rationale").is_not_null() & (pl.col("rationale") != "")).then(
        pl.format("; rationale: {}", "rationale")).otherwise(pl.lit(""))
    message = pl.format(
        "{} (column 2) is bundled into {} (column 1) on {} by the NCCI {} PTP edit in {} (modifier indicator "
        "{}: {}){}. {} will be denied.", c2, c1, "iso", setting, "release_label", mi,
        _mapped(pairs, "modifier_indicator", describe_indicator), rationale, c2)
    bypassable = pairs.filter(mi == "1")
    fixed = pairs.filter(mi != "1")
    return _all([
        _ptp_finding(bypassable, "PTP_BUNDLED", "error", message, pl.format(
            "If {} was a distinct service (different session, site, organ system, incision or encounter), append "
            "a PTP-associated modifier such as XE, XS, XP, XU or 59 to {} and keep the documentation; otherwise "
            "remove {}.", c2, c2, c2), mi),
        _ptp_finding(fixed, "PTP_BUNDLED", "error", message, pl.format(
            "Remove {}: no modifier makes it payable with {} on the same date of service.", c2, c1), mi),
    ])


def ptp_not_bypassable(ctx: BatchContext) -> pl.DataFrame:
    pairs = _ptp_findings(ctx, "not_bypassable")
    if pairs is None:
        return _empty()
    c1, c2 = pl.col("column1"), pl.col("column2")
    message = pl.format(
        "Modifier {} does not bypass the NCCI edit {}/{} in {}: its modifier indicator is 0, so no modifier "
        "allows separate payment of {} with {} on the same date of service. {} will be denied.",
        "mods", c1, c2, "release_label", c2, c1, c2)
    fix = pl.format("Remove {} (and the modifier {} added to bypass the edit).", c2, "mods")
    return _ptp_finding(pairs, "PTP_NOT_BYPASSABLE", "error", message, fix, pl.lit("0"))


def ptp_bypassed_by_modifier(ctx: BatchContext) -> pl.DataFrame:
    pairs = _ptp_findings(ctx, "bypassed")
    if pairs is None:
        return _empty()
    message = pl.format(
        "Modifier {} bypasses the NCCI edit {}/{} ({}, modifier indicator 1). Both codes can be paid only if "
        "the record documents a distinct service: a different session or encounter, anatomic site, organ "
        "system, or practitioner.", "mods", "column1", "column2", "release_label")
    return _ptp_finding(pairs, "PTP_BYPASSED_BY_MODIFIER", "info", message, None, pl.lit("1"))


# -- MUE ---------------------------------------------------------------------------------------------


def _mue_limits(ctx: BatchContext, release_id: int) -> tuple[pl.DataFrame, pl.Series]:
    """The MUE of each code of the batch (`EditTables.mue`: the first row) and the limit by `code_id`."""
    limits = ctx.with_cid(ctx.tables.frame(release_id, "ncci_mue"), "code").unique(
        "code_id", keep="first", maintain_order=True).select(
            "code_id", mue="units", mai=pl.col("mai").fill_null("1"), mue_line="source_line")
    return limits, ctx.dense(limits, "mue")


def mue_exceeded(ctx: BatchContext) -> pl.DataFrame:
    rule = mue_rule.RULE_ID
    keys = ctx.by_day_key(_by_setting(MUE_DATASET))
    ctx.request(ctx.claim_days, keys, "day_key", rule, pl.col("day_rank"))
    found = []
    for release_id, where in ctx.releases(keys):
        limits, limit = ctx.memo(("mue", release_id), lambda release_id=release_id: _mue_limits(ctx, release_id))
        over = ctx.rows(["row", "claim", "line", "code", "code_id", "is_professional", "dos", "units", "day_rank"],
                        pl.col("units") > pl.lit(limit).gather(pl.col("code_id")), where=where)
        repeated = _subset(ctx.repeated.with_columns(day_key=ctx.at("day_key", "row"), code_id=ctx.at("code_id", "row")), where)
        repeated = repeated.join(limits, on="code_id")
        over = over.join(limits, on="code_id").join(repeated.select("row", "first"), on="row", how="left")
        per_line = over.filter((pl.col("mai") == "1") | pl.col("first").is_null()).with_columns(
            first=pl.col("first").fill_null(pl.col("line")), total=pl.col("units"), lines=pl.concat_list("line"))
        summed = repeated.filter(pl.col("mai") != "1").with_columns(
            line=ctx.at("line", "row"), units=ctx.at("units", "row")).sort("line").group_by("code_day").agg(
            pl.col("row", "first", "code_id", "mue", "mai", "mue_line").first(), line=pl.col("line").first(),
            total=pl.col("units").sum(), lines=pl.col("line")).filter(pl.col("total") > pl.col("mue"))
        summed = summed.with_columns(**{c: ctx.at(c, "row") for c in ("claim", "code", "dos", "is_professional", "day_rank")},
                                     units=pl.col("total"))
        hits = _concat([per_line, summed])
        if hits is not None:
            found.append(hits.with_columns(release_label=pl.lit(ctx.release_label(release_id))))
    hits = _concat(found)
    if hits is None:
        return _empty()
    hits = _with_g(_with_g(hits.with_columns(iso=_iso(hits)), "units", "units_text"), "total", "total_text")
    hits = hits.with_columns(meaning=_meaning(hits, "mai", "ncci_mai", otherwise=None))
    fixes = mue_rule._FIX
    common = dict(severity=mue_rule.SEVERITY, codes=pl.concat_list("code"), lines=pl.col("lines"),
                  dataset=_dataset_of_setting(MUE_DATASET), release=pl.col("release_label"), row=pl.col("mue_line"),
                  extra=_json(mue=("int", pl.col("mue")), mai=pl.col("mai")),
                  order=(pl.col("day_rank"), pl.col("first"), pl.col("line")))
    per_line = hits.filter(pl.col("mai") == "1")
    per_day = hits.filter(pl.col("mai") != "1")
    return _all([
        _findings(per_line, rule, message=pl.format(
            "{} is billed with {} units on line {}; its MUE is {} (MAI 1: {}), in {}. The line will be denied.",
            "code", "units_text", pl.col("line") + 1, "mue", "meaning", "release_label"), fix=fixes.get("1"), **common),
        _findings(per_day, rule, message=pl.format(
            "{} is billed with {} units in all on {}; its MUE is {} per date of service (MAI {}: {}), in {}.",
            "code", "total_text", "iso", "mue", "mai", "meaning", "release_label"),
            fix=pl.col("mai").replace_strict(list(fixes), list(fixes.values()), default=None, return_dtype=pl.String),
            **common),
    ])


# -- add-on codes ------------------------------------------------------------------------------------


def _aoc_in_force() -> pl.Expr:
    """`AocEdit.in_force` on the date `dos`."""
    return ((pl.col("effective_date").is_null() | (pl.col("effective_date") <= pl.col("dos")))
            & (pl.col("deletion_date").is_null() | (pl.col("dos") <= pl.col("deletion_date")))
            & (pl.col("primary_deletion_date").is_null() | (pl.col("dos") <= pl.col("primary_deletion_date"))))


def _aoc_summary(days: pl.DataFrame, edits: pl.DataFrame) -> pl.DataFrame:
    """Per add-on code and date (`code_id`, `dos`) with an edit in force: the lowest edit type, the listed
    primary codes (sorted) and the source row of the first edit of that type. An add-on whose edits'
    dates all lie outside the batch's dates is in force the same on every day: worked out once."""
    first, last = days.select(pl.col("dos").min().alias("first"), pl.col("dos").max().alias("last")).row(0)
    starts = pl.col("effective_date")
    ends = [pl.col("deletion_date"), pl.col("primary_deletion_date")]
    steady = ((starts.is_null() | (starts <= first) | (starts > last))
              & pl.all_horizontal([e.is_null() | (e < first) | (e >= last) for e in ends]))
    changing = edits.filter(~steady)["code_id"].unique().implode()
    each_day = days.filter(pl.col("code_id").is_in(changing))
    once = days.filter(~pl.col("code_id").is_in(changing)).select("code_id").unique().with_columns(dos=pl.lit(first))
    listed = pl.col("primary_code") != CONTRACTOR_DEFINED

    def summarize(keys: pl.DataFrame, by: list[str]) -> pl.DataFrame:
        in_force = keys.join(edits, on="code_id").filter(_aoc_in_force()).sort("edit_order")
        return in_force.group_by(by).agg(
            edit_type=pl.col("edit_type").min(), primaries=pl.col("primary_code").filter(listed).unique().sort(),
            aoc_line=pl.col("source_line").filter(pl.col("edit_type") == pl.col("edit_type").min()).first())

    return pl.concat([summarize(each_day, ["code_id", "dos"]),
                      days.join(summarize(once, ["code_id"]), on="code_id")], how="diagonal_relaxed").select(
        "code_id", "dos", "edit_type", "primaries", "aoc_line")


def addon_without_primary(ctx: BatchContext) -> pl.DataFrame:
    rule = "ADDON_WITHOUT_PRIMARY"
    keys = ctx.by_day_key("ncci_aoc")
    ctx.request(ctx.claim_days, keys, "day_key", rule, pl.col("day_rank"))
    found = []
    for release_id, where in ctx.releases(keys):
        edits = ctx.memo(("aoc", release_id), lambda release_id=release_id: ctx.with_cid(
            ctx.tables.frame(release_id, "ncci_aoc").with_row_index("edit_order"), "addon_code"))
        if not edits.height:
            continue
        candidates = ctx.rows(["row", "claim", "line", "code_id", "code", "dos", "day_start", "day_len", "day_rank"],
                              pl.col("code_id").is_in(edits["code_id"].unique().implode()), where=where)
        if not candidates.height:
            continue
        # Is a primary code of an edit in force billed on the same claim day?
        primaries = ctx.with_cid(edits.filter(pl.col("primary_code") != CONTRACTOR_DEFINED), "primary_code", "primary_code_id")
        pairs = ctx.day_pairs(candidates.select("row", "code_id", "dos", "day_start", "day_len"), upper=False).select(
            "row", "code_id", "dos", primary_code_id=ctx.at("code_id", "other"))
        met = pairs.join(primaries, on=["code_id", "primary_code_id"])
        met = met.filter(_aoc_in_force())
        candidates = candidates.join(met.select("row").unique(), on="row", how="anti")
        if not candidates.height:
            continue
        # What the message says about the add-on's edits in force on the day.
        summary = _aoc_summary(candidates.select("code_id", "dos").unique(), edits)
        missing = candidates.join(summary, on=["code_id", "dos"])
        found.append(missing.with_columns(release_label=pl.lit(ctx.release_label(release_id))))
    hits = _concat(found)
    if hits is None:
        return _empty()
    count = pl.col("primaries").list.len()
    hits = hits.with_columns(
        iso=_iso(hits), meaning=_meaning(hits, "edit_type", "ncci_aoc_edit_type"),
        listed=pl.col("primaries").list.head(12).list.join(", ")
        + pl.when(count > 12).then(pl.format(" and {} more", count - 12)).otherwise(pl.lit("")),
        kind=pl.when(pl.col("edit_type") == "1").then(pl.lit(1))
        .when((pl.col("edit_type") == "2") | (count == 0)).then(pl.lit(2)).otherwise(pl.lit(3)))
    code = pl.col("code")
    common = dict(codes=pl.concat_list("code"), lines=pl.concat_list("line"), dataset="ncci_aoc",
                  release=pl.col("release_label"), row=pl.col("aoc_line"), extra=_json(edit_type=pl.col("edit_type")),
                  order=(pl.col("day_rank"), pl.col("line")))
    return _all([
        _findings(hits.filter(pl.col("kind") == 1), rule, severity="error", message=pl.format(
            "{} is an add-on code (edit type 1: {}) billed on {} without any of its primary codes ({}); {}. It will "
            "be denied.", code, "meaning", "iso", "listed", "release_label"), fix=pl.format(
            "Bill {} with the primary procedure it adds to ({}) on the same date, by the same practitioner, or "
            "remove it.", code, "listed"), **common),
        _findings(hits.filter(pl.col("kind") == 2), rule, severity="warning", message=pl.format(
            "{} is an add-on code whose primary codes CMS does not list (edit type 2: {}); {}. Your Medicare "
            "contractor decides which primary codes are eligible.", code, "meaning", "release_label"), fix=pl.format(
            "Check your contractor's policy and bill {} with an eligible primary procedure.", code), **common),
        _findings(hits.filter(pl.col("kind") == 3), rule, severity="warning", message=pl.format(
            "{} is an add-on code billed on {} without any listed primary code ({}) (edit type 3: {}); {}. Your "
            "Medicare contractor may allow other primaries.", code, "iso", "listed", "meaning", "release_label"),
            fix=pl.format("Bill {} with one of its primary codes, or confirm your contractor accepts the primary "
                          "billed.", code), **common),
    ])


# -- modifiers 26 and TC -----------------------------------------------------------------------------


def _pctc_modified(ctx: BatchContext) -> pl.DataFrame:
    """The lines of professional claims with modifier 26 or TC (`m26`, `mtc`), shared by both rules."""
    if "pctc_modified" not in ctx.cache:
        lines = ctx.rows(["claim", "line", "code_id", "day_key", "modifiers"], pl.col("is_professional"), pl.col("modifier_count") > 0)
        ctx.cache["pctc_modified"] = lines.select(
            "claim", "line", "code_id", "day_key", m26=pl.col("modifiers").list.contains("26"),
            mtc=pl.col("modifiers").list.contains("TC")).filter(pl.col("m26") | pl.col("mtc"))
    return ctx.cache["pctc_modified"]


def _modifier_not_allowed(ctx: BatchContext, modifier: str, rule: str) -> pl.DataFrame:
    lines = _pctc_modified(ctx).filter("m26" if modifier == "26" else "mtc").drop("m26", "mtc").with_columns(
        code=ctx.code_of())
    if not lines.height:
        return _empty()
    keys = ctx.by_day_key("mpfs")
    ctx.request(lines, keys, "day_key", rule, pl.col("line"))
    found = []
    for release_id, where in ctx.releases(keys):
        base = _rvu_base(ctx, release_id).filter(pl.col("pctc").is_not_null())
        refused = [p for p in base["pctc"].unique().to_list() if pctc_allows(p, modifier) is False]
        base = base.filter(pl.col("pctc").is_in(refused)).select("code", "pctc", "source_line")
        hits = _subset(lines, where).join(base, on="code")
        found.append(hits.with_columns(release_label=pl.lit(ctx.release_label(release_id))))
    hits = _concat(found)
    if hits is None:
        return _empty()
    fixes = {p: PCTC_FIX.get(str(p), "Remove modifier {mod} from this line.").format(mod=modifier)
             for p in hits["pctc"].unique().to_list()}
    return _findings(
        hits, rule, severity="error", codes=pl.concat_list("code"), lines=pl.concat_list("line"),
        message=pl.format("Modifier " + modifier + " is not allowed with {}: its PC/TC indicator in {} is {} ({}).",
                          "code", "release_label", "pctc", _meaning(hits, "pctc", "mpfs_pctc")),
        fix=pl.col("pctc").replace_strict(list(fixes), list(fixes.values()), return_dtype=pl.String),
        dataset="mpfs", release=pl.col("release_label"), row=pl.col("source_line"),
        extra=_json(pctc=pl.col("pctc")), order=(pl.col("line"),))


def modifier_26_not_allowed(ctx: BatchContext) -> pl.DataFrame:
    return _modifier_not_allowed(ctx, "26", "MODIFIER_26_NOT_ALLOWED")


def modifier_tc_not_allowed(ctx: BatchContext) -> pl.DataFrame:
    return _modifier_not_allowed(ctx, "TC", "MODIFIER_TC_NOT_ALLOWED")


# -- fee-schedule status -----------------------------------------------------------------------------


def status_not_payable(ctx: BatchContext) -> pl.DataFrame:
    rule = status_rule.RULE_ID
    keys = ctx.by_day_key("mpfs")
    # Every line of a professional claim asks; the first line of each claim day is the first to.
    ctx.request(ctx.claim_days.filter(pl.col("is_professional")), keys, "day_key", rule, pl.col("day_rank"))
    passed = sorted(status_rule.PAYABLE | status_rule.DELETED)
    found = []
    for release_id, where in ctx.releases(keys):
        rows = ctx.memo(("status", release_id), lambda release_id=release_id: ctx.with_cid(
            _rvu_rows(ctx, release_id).filter(pl.col("status").is_null() | ~pl.col("status").is_in(passed)),
            "code").select("code_id", "modifier", "status", "source_line"))
        if not rows.height:
            continue
        candidates = ctx.rows(["claim", "line", "code_id", "code", "modifiers"], pl.col("is_professional"),
                              pl.col("code_id").is_in(rows["code_id"].implode()), where=where)
        candidates = candidates.with_columns(modifier=pl.when(pl.col("modifiers").list.contains("26")).then(
            pl.lit("26")).when(pl.col("modifiers").list.contains("TC")).then(pl.lit("TC")).otherwise(pl.lit("")))
        hits = candidates.join(rows, on=["code_id", "modifier"])
        found.append(hits.with_columns(release_label=pl.lit(ctx.release_label(release_id))))
    hits = _concat(found)
    if hits is None:
        return _empty()
    label = pl.when(pl.col("modifier") != "").then(pl.format("{}-{}", "code", "modifier")).otherwise(pl.col("code"))
    status = pl.col("status")
    other = status.is_in(sorted(status_rule.OTHER_FEE_SCHEDULE))
    reporting = status.is_in(sorted(status_rule.REPORTING_ONLY))
    severity = pl.when(other).then(pl.lit("warning")).when(reporting).then(pl.lit("info")).otherwise(pl.lit("error"))
    fix = (pl.when(status.is_in(["I", "G"])).then(pl.lit(status_rule.fix_for("I")))
           .when(other).then(pl.lit(status_rule.fix_for("X")))
           .when(reporting).then(pl.lit(status_rule.fix_for("M")))
           .otherwise(pl.lit(status_rule.fix_for(None))))
    note = pl.when(other).then(pl.lit(status_rule.OTHER_FEE_SCHEDULE_NOTE)).otherwise(pl.lit(""))
    return _findings(
        hits, rule, severity=severity, codes=pl.concat_list("code"), lines=pl.concat_list("line"),
        message=pl.format("{} has fee-schedule status {} in {}: {}{}", label, status.fill_null("None"),
                          "release_label", _meaning(hits, "status", "mpfs_status"), note),
        fix=fix, dataset="mpfs", release=pl.col("release_label"), row=pl.col("source_line"),
        extra=_json(status=pl.col("status")), order=(pl.col("line"),))


# -- OPPS status indicators --------------------------------------------------------------------------


def opps_packaged(ctx: BatchContext) -> pl.DataFrame:
    rule = opps_rule.RULE_ID
    keys = ctx.by_day_key("opps")
    ctx.request(ctx.claim_days.filter(~pl.col("is_professional")), keys, "day_key", rule, pl.col("day_rank"))
    packaged, not_paid = sorted(opps_rule.PACKAGED), sorted(opps_rule.NOT_PAID)
    found = []
    for release_id, where in ctx.releases(keys):
        def signalled(release_id: int = release_id) -> pl.DataFrame:
            rows = ctx.tables.frame(release_id, "opps_addendum_b").unique("hcpcs", keep="first", maintain_order=True)
            return ctx.with_cid(rows.filter(pl.col("status_indicator").is_in(packaged + not_paid)), "hcpcs").select(
                "code_id", "status_indicator", "source_line")

        rows = ctx.memo(("opps", release_id), signalled)
        hits = ctx.rows(["claim", "line", "code_id", "code"], ~pl.col("is_professional"), pl.col("code_id").is_in(rows["code_id"].implode()),
                        where=where)
        found.append(hits.join(rows, on="code_id").with_columns(release_label=pl.lit(ctx.release_label(release_id))))
    hits = _concat(found)
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
        dataset="opps", release=pl.col("release_label"), row=pl.col("source_line"),
        extra=_json(status_indicator=si), order=(pl.col("line"),))


# -- duplicates --------------------------------------------------------------------------------------


def duplicate_line(ctx: BatchContext) -> pl.DataFrame:
    rows = ctx.repeated
    if not rows.height:
        return _empty()
    rows = rows.with_columns(**{c: ctx.at(c, "row") for c in ("claim", "line", "code", "dos")},
                             modifier_set=ctx.at("modifiers", "row").list.unique().list.sort())
    groups = rows.sort("row").group_by("code_day", pl.col("modifier_set").list.join(",").alias("modifier_key"), maintain_order=True).agg(
        pl.col("claim", "code", "dos", "modifier_set").first(), lines=pl.col("line"), n=pl.len()).filter(pl.col("n") >= 2)
    if not groups.height:
        return _empty()
    mods = pl.when(pl.col("modifier_set").list.len() > 0).then(
        pl.format(" with modifier(s) {}", pl.col("modifier_set").list.join(", "))).otherwise(pl.lit(""))
    positions = pl.col("lines").list.eval((pl.element() + 1).cast(pl.String)).list.join(", ")
    return _findings(
        groups, "DUPLICATE_LINE", severity=DUPLICATE_SEVERITY, codes=pl.concat_list("code"), lines=pl.col("lines"),
        message=pl.format("{}{} is billed on {} lines ({}) for {}.", "code", mods, "n", positions, _iso(groups)),
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


def _query_table(ctx: BatchContext, which: str) -> pl.DataFrame:
    rows = [(qid, q.dataset, q.day, q.reason, list(q.notices)) for qid, q in enumerate(ctx.queries)
            if (q.reason if which == "reason" else q.notices)]
    return pl.DataFrame(rows, orient="row", schema={"query_id": pl.Int64, "dataset": pl.String, "dos": pl.Date,
                                                    "reason": pl.String, "notice": pl.List(pl.String)})


def data_not_covered(ctx: BatchContext) -> pl.DataFrame:
    """DATA_NOT_COVERED: once per claim, dataset and date whose release a rule asked for and none covers
    (after the rules' findings, by date then dataset, as `check_claim` adds them)."""
    uncovered = _query_table(ctx, "reason")
    if not ctx.requests or not uncovered.height:
        return _empty()
    width = len(ctx.queries)  # a (claim, query) pair as one integer: unique on one column is faster
    asked = pl.concat(ctx.requests).filter(pl.col("query_id").is_in(uncovered["query_id"].implode())).select(
        pair=pl.col("claim") * width + pl.col("query_id")).unique().select(
        claim=pl.col("pair") // width, query_id=pl.col("pair") % width)
    hits = asked.join(uncovered, on="query_id")
    names = sorted(hits["dataset"].unique().to_list())
    return _findings(
        hits, DATA_NOT_COVERED, severity="info", codes=pl.lit([], pl.List(pl.String)),
        lines=pl.lit([], pl.List(pl.Int64)),
        message=pl.format("Edits from this dataset were not checked for {}: {}.", _iso(hits), "reason"),
        fix=NOT_COVERED_FIX, dataset=pl.col("dataset"),
        order=(pl.col("dos").cast(pl.Int64) - ctx.origin,
               pl.col("dataset").replace_strict(names, list(range(len(names))), return_dtype=pl.Int64)))


def notices(ctx: BatchContext) -> pl.DataFrame:
    """`claim_id`, `claim`, `notices` (list[str]) of the claims whose release choices carry notices, in the
    order the single engine meets them."""
    schema = NOTICE_SCHEMA
    noted = _query_table(ctx, "notices")
    if not ctx.requests or not noted.height:
        return pl.DataFrame(schema=schema)
    asked = pl.concat(ctx.requests).filter(pl.col("query_id").is_in(noted["query_id"].implode()))
    first = asked.sort("claim", "rank", "order").unique(["claim", "query_id"], keep="first", maintain_order=True)
    texts = first.join(noted.select("query_id", "notice"), on="query_id", maintain_order="left").explode("notice")
    texts = texts.unique(["claim", "notice"], keep="first", maintain_order=True)
    grouped = texts.group_by("claim", maintain_order=True).agg(notices=pl.col("notice"))
    return grouped.select(claim_id=ctx.claim_ids.gather(grouped["claim"]), claim="claim", notices="notices")


_KEY_BITS = (12, 12, 23, 12)  # widths of the order keys when packed into one integer


def _sorted(found: pl.DataFrame) -> pl.DataFrame:
    """Findings by claim, rule, and the rule's own order: on two packed integer keys when the order keys
    fit (lines below 4096, PTP rows below 2**23), else on all six."""
    limits = found.select(*(pl.col(k).max().alias(k) for k in _ORDER_KEYS),
                          low=pl.min_horizontal(*(pl.col(k).min() for k in _ORDER_KEYS))).row(0, named=True)
    fits = found.height and (limits["low"] or 0) >= 0 and all(
        (limits[k] or 0) < (1 << bits) for k, bits in zip(_ORDER_KEYS, _KEY_BITS, strict=True))
    if not fits:
        order = found.select(pl.arg_sort_by("claim", "rank", *_ORDER_KEYS, maintain_order=True))[:, 0]
    else:
        packed = pl.lit(0, pl.Int64)
        for key, bits in zip(_ORDER_KEYS, _KEY_BITS, strict=True):
            packed = packed * (1 << bits) + pl.col(key)
        order = found.select(pl.arg_sort_by(pl.col("claim") * 16 + pl.col("rank"), packed, maintain_order=True))[:, 0]
    return found.drop("rank", *_ORDER_KEYS)[order]


@dataclass
class BatchResult:
    findings: pl.DataFrame
    notices: pl.DataFrame  # claim_id, notices (list[str]); claims without notices are absent
    claim_ids: pl.Series  # every claim of the batch, in input order (the `claim` column indexes it)


def check_batch_result(claims: pl.DataFrame | Iterable[Claim], hc: Hcpcs, *, as_of: date | str | None = None,
                       tables: BatchTables | None = None, with_notices: bool = True,
                       only: Iterable[str] | None = None, book: CodeBook | None = None) -> BatchResult:
    """Findings and (when `with_notices`) per-claim notices of a batch; `only` limits the rules run;
    `book` (the codes of a larger run this batch is a part of) lets parts share per-code work. `Claim`
    objects are checked one by one as the single engine does (two claims with the same id stay apart, and a
    claim without lines is listed), a frame's lines are grouped by claim_id."""
    if not isinstance(claims, pl.DataFrame):
        claims = list(claims)
        day = parse_date(as_of, "as-of date") if as_of else None
        result = check_batch_result(claims_frame(claims, as_of=day, by_position=True), hc, as_of=as_of,
                                    tables=tables, with_notices=with_notices, only=only, book=book)
        ids = pl.Series("claim_id", [claim.id for claim in claims], dtype=pl.String)

        def original(frame: pl.DataFrame) -> pl.DataFrame:  # claim: the position of the Claim object
            position = pl.col("claim_id").cast(pl.Int64)
            return frame.with_columns(claim_id=pl.lit(ids).gather(position), claim=position)

        return BatchResult(original(result.findings), original(result.notices), ids)
    ctx = prepare(claims, hc, tables=tables, as_of=as_of, want_notices=with_notices, book=book)
    wanted = set(only) if only is not None else None
    frames = []
    if ctx.lines.height:
        for rule_id, rule in RULES.items():
            if wanted is None or rule_id in wanted:
                frames.append(rule(ctx))
        if wanted is None or DATA_NOT_COVERED in wanted:
            frames.append(data_not_covered(ctx))
    found = _concat(frames)
    if found is None:
        found = _empty()
    found = _sorted(found)
    findings = found.select(claim_id=ctx.claim_ids.gather(found["claim"]),
                            claim="claim", **{c: pl.col(c) for c in FINDING_SCHEMA if c not in ("claim_id", "claim")})
    note_frame = notices(ctx) if with_notices else pl.DataFrame(schema=NOTICE_SCHEMA)
    return BatchResult(findings.cast(FINDING_SCHEMA), note_frame, ctx.claim_ids)  # type: ignore[arg-type]


def iter_check_batch(claims: pl.DataFrame | Iterable[Claim], hc: Hcpcs, *, chunk_claims: int = 250_000,
                     as_of: date | str | None = None, tables: BatchTables | None = None,
                     with_notices: bool = False) -> Iterator[BatchResult]:
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
                                     with_notices=with_notices, book=book)
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
        yield check_batch_result(part, hc, as_of=as_of, tables=tables, with_notices=with_notices, book=book)


def check_batch(claims: pl.DataFrame | Iterable[Claim], hc: Hcpcs, *, as_of: date | str | None = None,
                tables: BatchTables | None = None) -> pl.DataFrame:
    """The findings of the CMS rules on a batch of claims (a claim-lines frame or `Claim` objects), one row
    per finding, as `check_claim` finds them claim by claim; pass `tables` to keep the edit tables loaded
    between batches."""
    return check_batch_result(claims, hc, as_of=as_of, tables=tables, with_notices=False).findings


# ---------------------------------------------------------------------------------------------------
# Output in the single engine's per-claim form


_SOURCE_TABLE = {
    "PTP_BUNDLED": "ptp", "PTP_NOT_BYPASSABLE": "ptp", "PTP_BYPASSED_BY_MODIFIER": "ptp", "MUE_EXCEEDED": "mue",
    "ADDON_WITHOUT_PRIMARY": "aoc", "MODIFIER_26_NOT_ALLOWED": "pprrvu", "MODIFIER_TC_NOT_ALLOWED": "pprrvu",
    "STATUS_NOT_PAYABLE": "pprrvu", "OPPS_PACKAGED": "addendum_b",
}


def _source(hc: Hcpcs, row: dict[str, Any], files: dict[tuple[str, str, str], list[str]]) -> dict[str, Any] | None:
    """The `source` of a finding as `hcpcs.edits.tables.source` writes it."""
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
    """Per-claim results in the single engine's form (`{"id", "findings": [...], "notices"?}`, as
    `ClaimResult.to_dict`): every claim of `claim_ids` in that order (those without findings too; rows are
    matched to them by their `claim` position, so repeated ids stay apart), else the claims of the findings
    frame by id."""
    key = "claim" if claim_ids is not None else "claim_id"
    by_claim: dict[Any, list[dict[str, Any]]] = {}
    files: dict[tuple[str, str, str], list[str]] = {}
    for row in findings.iter_rows(named=True):
        by_claim.setdefault(row[key], []).append({
            "rule": row["rule"], "severity": row["severity"], "codes": row["codes"], "lines": row["lines"],
            "message": row["message"], "fix": row["fix"], "source": _source(hc, row, files)})
    noted = {row[key]: row["notices"] for row in notices.iter_rows(named=True)} if notices is not None else {}
    claims = enumerate(claim_ids) if claim_ids is not None else ((claim_id, claim_id) for claim_id in by_claim)
    for position, claim_id in claims:
        out: dict[str, Any] = {"id": claim_id, "findings": by_claim.get(position, [])}
        if noted.get(position):
            out["notices"] = list(noted[position])
        yield out


def result_dicts(result: BatchResult, hc: Hcpcs) -> Iterator[dict[str, Any]]:
    """Every claim of a batch result in the single engine's per-claim form."""
    return findings_to_dicts(result.findings, hc, claim_ids=result.claim_ids.to_list(), notices=result.notices)
