"""The columnar engine's workings, shared by every rule's batch implementation (`check_batch` in each
module of `hcpcs.edits.rules`; `hcpcs.edits.batch` runs them): the claim lines of a batch prepared as a
frame (`prepare` -> `BatchContext`), the release choices per date, the edit tables as polars frames, and
the helpers that write findings as columns.

Input: a frame of claim lines with columns ``claim_id``, ``setting`` (professional | facility), ``line``
(0-based index of the line in its claim), ``code``, ``modifiers`` (list of str), ``units``, ``dos`` (the
line's date of service) and optionally ``claim`` (the claim's position in the input: lines are grouped by
it, so claims with the same id stay apart), or an iterable of `Claim`.

How it works:

- Lines are numbered by claim (``claim``, order of first appearance) and kept sorted by claim, date and
  line (only the claims that are not get re-sorted), so that the lines of one claim and date of service
  (a *claim day*, ``claim_day``) are contiguous; pairs of lines of a claim day are a join on (claim day,
  line offset) made one offset at a time and filtered at once (`BatchContext.pairs_where`), so the set of
  all pairs is never built; the few add-on lines pair with row ranges (`BatchContext.day_pairs`).
- The modifiers stay in the input frame; a line's ``input_row`` reads them when a rule needs them (most
  lines have none).
- Codes are numbered once (``code_id``, position in `CodeBook.codes`); what a rule needs per code from a
  release is a small table keyed by ``code_id`` or a *dense* column indexed by it (a broadcast join),
  gathered by every line, and kept in the `CodeBook` for the next chunk of the same run.
- The release of a dataset is chosen with `choose_release` (through `Hcpcs.release_for`, as the single
  engine's `EditTables.choice` does) once per distinct (dataset, date) of a run (`CodeBook.choices`): per
  claim-day key ``day_key`` (date and setting). Every choice gets a query id (``query_id``); the rules
  record which claim asked for which ``query_id`` (only when that choice carries a notice or no release
  covers it), which gives DATA_NOT_COVERED and the notices in the order the single engine meets them.
- PTP edits are looked up by the unordered code pair: a bitmap says which pairs have edits (one bit
  look-up per pair of lines), a sorted array where their rows are (`hcpcs.store.cache.PtpIndex`).
- A rule's findings carry order keys (`findings(order=...)`) and are sorted once at the end.

Spark: every step is a column expression, a filter, a join with a small (broadcast) table, a group-by or
an explode of row ranges, so each rule maps onto DataFrame operations; the row-position gathers
(`BatchContext.at`) become joins on a line key there."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import polars as pl

from hcpcs.claims.model import MAX_LINES, SETTINGS, Claim
from hcpcs.core import indicators
from hcpcs.core.codes import kind_of
from hcpcs.core.dates import parse_date
from hcpcs.core.errors import DataNotLoadedError, InvalidInputError, NotCoveredError
from hcpcs.edits.spec import RuleSpec
from hcpcs.edits.templates import Template
from hcpcs.store.cache import BatchTables
from hcpcs.store.session import Hcpcs

LINE_SCHEMA: dict[str, pl.DataType] = {
    "claim_id": pl.String(), "setting": pl.String(), "line": pl.Int64(), "code": pl.String(),
    "modifiers": pl.List(pl.String()), "units": pl.Float64(), "dos": pl.Date(),
}

FINDING_SCHEMA: dict[str, pl.DataType] = {
    "claim_id": pl.String(), "claim": pl.Int64(), "rule": pl.String(), "severity": pl.String(),
    "codes": pl.List(pl.String()),
    "lines": pl.List(pl.Int64()), "message": pl.String(), "details": pl.String(), "fix": pl.String(),
    "source_dataset": pl.String(),
    "source_release": pl.String(), "source_row": pl.Int64(), "source_extra": pl.String(),
    "source_files": pl.List(pl.String()), "citation": pl.String(),
}
# What the rules produce: the findings before their source files are looked up.
_RULE_FIELDS = ("source_files",)

# Per-claim notices of a batch (claims without notices are absent).
NOTICE_SCHEMA: dict[str, pl.DataType] = {"claim_id": pl.String(), "claim": pl.Int64(), "notices": pl.List(pl.String())}

# A rule's findings inside the module: claim position, the finding, and the keys that order the findings
# of one rule within a claim as the single engine lists them.
ORDER_KEYS = ("order_1", "order_2", "order_3", "order_4")
_RULE_SCHEMA: dict[str, pl.DataType] = {
    "claim": pl.Int64(), "rank": pl.Int64(),
    **{k: v for k, v in FINDING_SCHEMA.items() if k not in ("claim_id", "claim", *_RULE_FIELDS)},
    **{k: pl.Int64() for k in ORDER_KEYS},
}
_REQUEST_SCHEMA: dict[str, pl.DataType] = {"claim": pl.Int64(), "query_id": pl.Int64(), "rank": pl.Int64(), "order": pl.Int64()}
_DAY_SPAN = 1 << 21  # dates of service of one batch must lie within 2**21 days
_PACKED_LIMIT = 1 << 62  # (claim day, line) packed into one integer below this


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
    # claim, count, is_professional of the claims with more lines than their format allows (not checked)
    screened: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(
        schema={"claim": pl.Int64, "count": pl.UInt32, "is_professional": pl.Boolean}))

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

    def with_code_id(self, frame: pl.DataFrame, column: str, name: str = "code_id") -> pl.DataFrame:
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

    def day_of(self, day_key: int) -> date:
        """The date of a day key (days from `origin`, times two, plus one for professional claims)."""
        return date(1970, 1, 1) + timedelta(days=self.origin + day_key // 2)

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
            for day_key in self.cache["day_keys"]:
                name = dataset if isinstance(dataset, str) else dataset[0 if day_key % 2 else 1]
                query_id = self.query(name, self.day_of(day_key))
                rows.append((day_key, query_id, self.queries[query_id].release_id))
            self.cache[key] = pl.DataFrame(rows, orient="row",
                                           schema={"day_key": pl.Int64, "query_id": pl.Int64, "release_id": pl.Int64})
        return self.cache[key]

    def flagged(self, query_ids: Iterable[int]) -> set[int]:
        """The release choices among `query_ids` that someone must hear of: no release, or a notice."""
        return {q for q in query_ids if self.queries[q].reason or (self.want_notices and self.queries[q].notices)}

    def request(self, frame: pl.DataFrame, keys: pl.DataFrame, key: str, spec: RuleSpec, order: pl.Expr) -> None:
        """Records that the claims of `frame` asked for the release of `keys` (key -> query_id), as
        `ClaimContext.release` does, with order key `order` within the rule; only requests whose choice
        carries a notice or has no release are kept."""
        flagged = keys.filter(pl.col("query_id").is_in(list(self.flagged(keys["query_id"].to_list()))))
        if not flagged.height or not frame.height:
            return
        kept = frame.select("claim", key, order=order.cast(pl.Int64)).filter(pl.col(key).is_in(flagged[key].implode())).select(
            "claim", query_id=pl.col(key).replace_strict(flagged[key], flagged["query_id"], return_dtype=pl.Int64),
            rank=pl.lit(spec.order, pl.Int64), order="order")
        self.requests.append(kept)

    def releases(self, keys: pl.DataFrame, key: str = "day_key") -> Iterator[tuple[int, pl.Expr | None]]:
        """Each release answering for some of the keys, with a filter for the rows it answers for (None:
        all rows of the batch)."""
        answered = keys.filter(pl.col("release_id").is_not_null())
        every = answered.height == keys.height
        settings = {parity: {k for k in self.cache["day_keys"] if k % 2 == parity} for parity in (0, 1)}
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

    def query_table(self, which: str) -> pl.DataFrame:
        """The release choices of this batch that have no release (`which="reason"`) or carry notices
        (`which="notices"`): query_id, dataset, dos, reason, notice (list)."""
        rows = [(query_id, q.dataset, q.day, q.reason, list(q.notices)) for query_id, q in enumerate(self.queries)
                if (q.reason if which == "reason" else q.notices)]
        return pl.DataFrame(rows, orient="row", schema={"query_id": pl.Int64, "dataset": pl.String, "dos": pl.Date,
                                                        "reason": pl.String, "notice": pl.List(pl.String)})

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
            code_ids = self.lines["code_id"]
            twins = self.pairs_where(
                self.lines.select("row", "code_id", end=pl.col("day_start") + pl.col("day_len")),
                lambda pairs: pairs.filter(pl.col("code_id") == pl.lit(code_ids).gather(pl.col("other"))).select("row", "other", "end"))
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
    # Claims longer than their format allows are not checked (the CLAIM_TOO_MANY_LINES rule reports them).
    counts = lines.group_by("claim").agg(count=pl.len(), is_professional=(pl.col("day_key") % 2 == 1).first())
    limit = pl.when("is_professional").then(MAX_LINES["professional"]).otherwise(MAX_LINES["facility"])
    screened = counts.filter(pl.col("count") > limit).sort("claim")
    if screened.height:
        lines = lines.filter(~pl.col("claim").is_in(screened["claim"].implode()))
    if not lines.height:
        ctx = BatchContext(hc, tables, _empty_lines(lines), claim_ids, book, origin, want_notices, frame["modifiers"])
        ctx.cache["day_keys"] = []
        ctx.screened = screened
        return ctx
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
    ctx.screened = screened
    return ctx


def _empty_lines(lines: pl.DataFrame) -> pl.DataFrame:
    """The prepared lines of a batch none of whose lines are checked: no rows, every column."""
    return lines.head(0).with_columns(
        is_professional=pl.lit(False), dos=pl.lit(None, pl.Date), row=pl.lit(0, pl.Int64),
        day_start=pl.lit(0, pl.Int64), day_len=pl.lit(0, pl.Int64), day_rank=pl.lit(0, pl.Int64))


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
        claim_day, line = pl.col("claim_day"), pl.col("line")
        before = claim_day.cum_max().shift(1)
        behind = ~(before.is_null() | (claim_day > before)
                   | ((claim_day == claim_day.shift(1)) & (claim_day == before) & (line > line.shift(1))))
    unordered = lines.filter(behind)["claim"].unique()
    if not unordered.len():
        return lines
    moved = pl.col("claim").is_in(unordered.implode())
    return pl.concat([lines.filter(~moved), lines.filter(moved).sort("claim_day", "line")]).rechunk()


# ---------------------------------------------------------------------------------------------------
# Expression helpers


def iso_text(frame: pl.DataFrame, column: str = "dos") -> pl.Expr:
    """A date column of a frame as ISO text (mapped from its few distinct dates: faster than formatting
    every row)."""
    days = frame[column].unique().drop_nulls()
    return pl.col(column).replace_strict(days, days.dt.to_string("%Y-%m-%d"), default=None, return_dtype=pl.String)


def mapped(frame: pl.DataFrame, column: str, function: Callable[[str], str]) -> pl.Expr:
    """A text column mapped through a Python function of its (few) distinct values; nulls stay null."""
    values = [v for v in frame[column].unique().to_list() if v is not None]
    return pl.col(column).replace_strict(values, [function(v) for v in values], default=None,
                                         return_dtype=pl.String)


def meaning_of(frame: pl.DataFrame, column: str, key: str, *, otherwise: str | None = "") -> pl.Expr:
    """`indicators.meaning(key, value)` of a column (`otherwise` when there is none; None: the value)."""
    text = mapped(frame, column, lambda v: indicators.meaning(key, v) or (v if otherwise is None else otherwise))
    return text if otherwise is None else text.fill_null(otherwise)


def with_units_text(frame: pl.DataFrame, column: str, name: str) -> pl.DataFrame:
    """Adds `name`: format(value, "g") of a numeric column, as the rules print units."""
    value = pl.col(column).cast(pl.Float64)
    whole = (value == value.floor()) & (value.abs() < 1e6)
    frame = frame.with_columns(pl.when(whole).then(value.cast(pl.Int64).cast(pl.String)).alias(name))
    rest = frame.select(pl.arg_where(pl.col(name).is_null() & pl.col(column).is_not_null()))[:, 0]
    if rest.len():
        texts = pl.Series([format(v, "g") for v in frame[column].gather(rest).to_list()], dtype=pl.String)
        frame = frame.with_columns(frame[name].scatter(rest, texts))
    return frame


def json_fields(**fields: pl.Expr | tuple[str, pl.Expr]) -> pl.Expr:
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


def findings(frame: pl.DataFrame, spec: RuleSpec, *, severity: str | pl.Expr | None = None, codes: pl.Expr,
             lines: pl.Expr,
              message: pl.Expr, fix: str | pl.Expr | None, dataset: str | pl.Expr | None = None,
              release: pl.Expr | None = None, row: pl.Expr | None = None, extra: pl.Expr | None = None,
              order: tuple[pl.Expr, ...] = (), citation: str | pl.Expr | None = None, rank: int | None = None,
              rule: str | pl.Expr | None = None, details: str | pl.Expr | None = None) -> pl.DataFrame:
    """A rule's findings in the engine's internal form: the claim, the rule's rank and order keys (that
    list them as the single engine does), then the fields of the finding."""
    def text(value: str | pl.Expr | None) -> pl.Expr:
        return value if isinstance(value, pl.Expr) else pl.lit(value, pl.String)

    keys = list(order) + [pl.lit(0)] * (len(ORDER_KEYS) - len(order))
    out = frame.select(
        pl.col("claim"), rule=text(spec.id if rule is None else rule),
        rank=pl.lit(spec.order if rank is None else rank, pl.Int64),
        severity=text(spec.severity if severity is None else severity), codes=codes, lines=lines, message=message,
        details=text(details),
        fix=text(fix), source_dataset=text(dataset), source_release=text(release),
        source_row=row if row is not None else pl.lit(None, pl.Int64), source_extra=text(extra),
        citation=text(citation), **{name: key for name, key in zip(ORDER_KEYS, keys, strict=True)},
    )
    return out.cast(_RULE_SCHEMA)  # type: ignore[arg-type]


def no_findings() -> pl.DataFrame:
    return pl.DataFrame(schema=_RULE_SCHEMA)


def concat(frames: Iterable[pl.DataFrame | None]) -> pl.DataFrame | None:
    kept = [f for f in frames if f is not None and f.height]
    return pl.concat(kept, how="diagonal_relaxed") if kept else None


def combine(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """One rule's findings made in parts."""
    found = concat(frames)
    return no_findings() if found is None else found


def subset(frame: pl.DataFrame, where: pl.Expr | None) -> pl.DataFrame:
    return frame if where is None else frame.filter(where)


def by_setting(mapping: dict[str, str]) -> tuple[str, str]:
    return mapping["professional"], mapping["facility"]


def dataset_of_setting(mapping: dict[str, str]) -> pl.Expr:
    return pl.when(pl.col("is_professional")).then(pl.lit(mapping["professional"])).otherwise(pl.lit(mapping["facility"]))


def release_names(ctx: BatchContext, release_ids: pl.Expr) -> pl.Expr:
    releases = ctx.hc.releases
    return release_ids.replace_strict([r.id for r in releases], [r.label for r in releases], default=None,
                                      return_dtype=pl.String)


def rvu_rows(ctx: BatchContext, release_id: int) -> pl.DataFrame:
    """Fee-schedule rows of the batch's codes by (code, modifier), the last loaded winning (as the single
    engine's `EditTables.rvu` keeps them)."""
    def make() -> pl.DataFrame:
        rows = ctx.tables.frame(release_id, "mpfs_rvu").rename({"hcpcs": "code"})
        return rows.filter(pl.col("code").is_in(ctx.codes.implode())).unique(
            ["code", "modifier"], keep="last", maintain_order=True)

    return ctx.memo(("rvu_rows", release_id), make)


def rvu_base(ctx: BatchContext, release_id: int) -> pl.DataFrame:
    """The fee-schedule row the rules read for a code: the global row (modifier ''), else the first by
    modifier (the store's index order)."""
    def make() -> pl.DataFrame:
        rows = rvu_rows(ctx, release_id).sort("code", pl.col("modifier") != "", "modifier", maintain_order=True)
        return rows.unique("code", keep="first", maintain_order=True)

    return ctx.memo(("rvu_base", release_id), make)


def case_text(case: pl.Expr, texts: dict[str, Template], **columns: pl.Expr | str) -> pl.Expr:
    """The text of each row's case (`case` holds the name of one of `texts`), each template filled from
    `columns` (or the columns named after its placeholders). Null where the case has no text."""
    out: pl.Expr | None = None
    for name, template in texts.items():
        wanted = {key: value for key, value in columns.items() if key in template.names}
        text = template.expr(**wanted)
        out = pl.when(case == name).then(text) if out is None else out.when(case == name).then(text)
    return pl.lit(None, pl.String) if out is None else out.otherwise(pl.lit(None, pl.String))
