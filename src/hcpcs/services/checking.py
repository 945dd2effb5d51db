"""The claim-checking entry points of the library: `check` for one claim (a dict of the JSON contract),
`check_items` for claims already read (the web app), and `check_chunks` / `check_stream` for inputs of any size:
claim files read column-wise, chunk after chunk (`hcpcs.claims.readers.iter_chunks`), checked by the batch
engine (or, for small chunks and policy packs, claim by claim: the findings are the same), and written by a
writer of `hcpcs.services.outputs` as each chunk is done, so memory stays bounded whatever the input's size."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import IO, Any

import polars as pl

from hcpcs.claims.frame import ClaimChunk
from hcpcs.claims.model import Claim, ClaimError
from hcpcs.claims.readers import ClaimOrError, iter_chunks, read_claim_items
from hcpcs.claims.values import MAX_UNITS
from hcpcs.core.dates import parse_date
from hcpcs.core.errors import ClaimInputError
from hcpcs.edits.columnar import FINDING_SCHEMA
from hcpcs.edits.engine import check_claim
from hcpcs.edits.packs import PolicyPack, builtin_packs, default_packs, load_pack
from hcpcs.edits.tables import EditTables
from hcpcs.services.results import ClaimResult
from hcpcs.store.session import Hcpcs, default

__all__ = ["MAX_UNITS", "Checker", "checker_for", "resolve_packs", "Claim", "ClaimError", "ClaimOrError", "PolicyPack", "builtin_packs", "check", "load_pack",
           "read_claim_items"]


def as_claim(claim: Claim | dict[str, Any]) -> Claim:
    """A Claim from the JSON form of the public contract (or a Claim as is)."""
    if isinstance(claim, Claim):
        return claim
    if not isinstance(claim, dict):
        raise ClaimInputError("a claim must be a JSON object")
    from hcpcs.claims.objects import claim_from_dict

    return claim_from_dict(claim)


def resolve_packs(packs: Sequence[str | PolicyPack] = (), *, no_packs: Sequence[str] = (),
                  defaults: bool = True) -> list[PolicyPack]:
    """The policy packs a run applies: those asked for (built-in names or ids, or TOML files), then the
    built-in packs that apply by default to the claims carrying their codes, but for those turned off in
    `no_packs` (names or ids; "all" turns every default pack off)."""
    chosen = [p if isinstance(p, PolicyPack) else load_pack(p) for p in packs]
    off = {name.strip() for name in no_packs if name.strip()}
    if defaults and "all" not in off:
        for pack in default_packs():
            stem = pack.origin.removesuffix(".toml")
            if pack.id not in off and stem not in off and all(p.id != pack.id for p in chosen):
                chosen.append(pack)
    known = {p.id for p in default_packs()} | {p.origin.removesuffix(".toml") for p in default_packs()} | {"all"}
    unknown = off - known
    if unknown:
        from hcpcs.core.errors import InvalidInputError

        raise InvalidInputError(f"--no-policy {', '.join(sorted(unknown))}: not a default policy pack "
                                f"({', '.join(sorted(known))})")
    return chosen


class Checker:
    """Checks claims against one store, keeping the edit tables it has read in memory between claims."""

    def __init__(self, hc: Hcpcs | None = None, *, packs: Sequence[str | PolicyPack] = (),
                 as_of: str | date | None = None, no_packs: Sequence[str] = (), defaults: bool = True) -> None:
        self.hc = hc or default()
        self.tables = EditTables(self.hc)
        self.packs = resolve_packs(packs, no_packs=no_packs, defaults=defaults)
        self.as_of = parse_date(as_of, "as-of date") if as_of else None

    def check(self, claim: Claim | dict[str, Any]) -> ClaimResult:
        claim = as_claim(claim)
        codes = {line.code for line in claim.lines}
        packs = [pack for pack in self.packs if pack.applies_to(codes)]
        return check_claim(claim, self.hc, tables=self.tables, as_of=self.as_of, packs=packs).to_dict()

    def check_all(self, items: Iterable[Claim | ClaimError]) -> Iterator[ClaimResult]:
        for item in items:
            if isinstance(item, ClaimError):
                out = item.to_dict()
                out["findings"] = []
                yield out
            else:
                yield self.check(item)


_checkers: dict[tuple[Any, ...], Checker] = {}


def checker_for(hc: Hcpcs, *, as_of: str | date | None = None, packs: Sequence[str | PolicyPack] = (),
                no_packs: Sequence[str] = ()) -> Checker:
    """The checker of a store and options, kept between calls (it caches the edit tables it has read)."""
    key = (id(hc), tuple(p if isinstance(p, str) else p.id for p in packs), tuple(no_packs),
           str(as_of) if as_of else None)
    found = _checkers.get(key)
    if found is None or found.hc is not hc:
        found = _checkers[key] = Checker(hc, packs=packs, as_of=as_of, no_packs=no_packs)
    return found


def check(claim: Claim | dict[str, Any], *, as_of: str | date | None = None, packs: Sequence[str] = (),
          no_packs: Sequence[str] = (), hc: Hcpcs | None = None) -> ClaimResult:
    """Check one claim; returns `{"id", "findings": [...], "verdict", "notices"?}` as documented in the README."""
    return checker_for(hc or default(), as_of=as_of, packs=packs, no_packs=no_packs).check(claim)


BATCH_FROM_CLAIMS = 50_000  # `engine="auto"` checks this many claims or more with the batch engine
ENGINES = ("auto", "single", "batch")


def check_items(items: Sequence[ClaimOrError], hc: Hcpcs | None = None, *, as_of: str | date | None = None,
                packs: Sequence[str | PolicyPack] = (), no_packs: Sequence[str] = (), engine: str = "auto",
                should_stop: Callable[[], bool] | None = None) -> list[ClaimResult]:
    """The per-claim results of claims read by `read_claim_items`, in the same order (a bad record becomes
    `{"id", "error", "findings": []}`). `engine`: single (claim by claim), batch (column-wise) or auto (batch
    from BATCH_FROM_CLAIMS claims); the findings are the same. `should_stop` is asked between claims (single
    engine) and between chunks (batch engine); when it answers True the work stops with CheckStoppedError."""
    from hcpcs.core.errors import CheckStoppedError, InvalidInputError

    if engine not in ENGINES:
        raise InvalidInputError(f"engine {engine!r}: use {', '.join(ENGINES)}")
    hc = hc or default()
    claims = [item for item in items if isinstance(item, Claim)]
    checker = checker_for(hc, as_of=as_of, packs=packs, no_packs=no_packs)
    if engine == "batch" or (engine == "auto" and len(claims) >= BATCH_FROM_CLAIMS):
        from hcpcs.edits.batch import iter_check_batch, result_dicts

        day = parse_date(as_of, "as-of date") if as_of else None

        def batches() -> Iterator[ClaimResult]:
            # In chunks of claims, so that memory stays bounded however large the input.
            for part in iter_check_batch(claims, hc, as_of=day, with_notices=True, packs=checker.packs):
                if should_stop is not None and should_stop():
                    raise CheckStoppedError("claim checking was stopped: its time budget is spent")
                yield from result_dicts(part, hc)

        checked: Iterator[ClaimResult] = batches()
    else:
        checked = (checker.check(claim) for claim in claims)
    results = []
    for item in items:
        if should_stop is not None and should_stop():
            raise CheckStoppedError("claim checking was stopped: its time budget is spent")
        if isinstance(item, Claim):
            results.append(next(checked))
        else:
            error = item.to_dict()
            error["findings"] = []
            results.append(error)
    return results


# ------------------------------------------------------------------------------------------- streams

SINGLE_BELOW_CLAIMS = 2_000  # `engine="auto"`: a chunk of fewer claims is checked claim by claim


@dataclass
class CheckedChunk:
    """The results of a run of input records, as frames: `claims` (every record in input order: claim,
    claim_id, record, error_location, error_message), `findings` (`hcpcs.edits.batch.FINDING_SCHEMA`, `claim`
    being the record's position in the input), `notices` (claim, claim_id, notices) and `verdicts` (claim,
    verdict, verdict_meaning of the good claims)."""

    claims: pl.DataFrame
    findings: pl.DataFrame
    notices: pl.DataFrame
    verdicts: pl.DataFrame
    lines: pl.DataFrame  # the lines of the good claims (`hcpcs.claims.frame.LINE_SCHEMA`)


@dataclass
class CheckSummary:
    claims: int = 0
    bad_records: int = 0
    findings: dict[str, int] = field(default_factory=lambda: {"error": 0, "warning": 0, "info": 0})
    claims_with_errors: int = 0
    verdicts: dict[str, int] = field(default_factory=dict)

    def add(self, chunk: CheckedChunk) -> None:
        self.claims += chunk.claims.height
        self.bad_records += chunk.claims.filter(pl.col("error_message").is_not_null()).height
        for severity, count in chunk.findings.group_by("severity").len().iter_rows():
            self.findings[severity] = self.findings.get(severity, 0) + count
        self.claims_with_errors += chunk.findings.filter(pl.col("severity") == "error")["claim"].n_unique()
        for code, count in chunk.verdicts.group_by("verdict").len().iter_rows():
            self.verdicts[code] = self.verdicts.get(code, 0) + count

    @property
    def exit_status(self) -> int:
        """0 every record read and no error finding; 1 some claim has an error finding (and every record was
        read); 2 some record could not be read (the others were still checked)."""
        if self.bad_records:
            return 2
        return 1 if self.claims_with_errors else 0


class StreamChecker:
    """Checks the chunks of one run against one store: the edit tables are loaded once and kept."""

    def __init__(self, hc: Hcpcs | None = None, *, as_of: str | date | None = None,
                 packs: Sequence[str | PolicyPack] = (), no_packs: Sequence[str] = (), engine: str = "auto") -> None:
        from hcpcs.core.errors import InvalidInputError
        from hcpcs.store.cache import BatchTables

        if engine not in ENGINES:
            raise InvalidInputError(f"engine {engine!r}: use {', '.join(ENGINES)}")
        self.hc = hc or default()
        self.as_of = parse_date(as_of, "as-of date") if as_of else None
        self.packs = resolve_packs(packs, no_packs=no_packs)
        self.engine = engine
        self.tables = BatchTables(self.hc)
        self.single = Checker(self.hc, packs=self.packs, as_of=self.as_of, defaults=False)

    def check(self, chunk: ClaimChunk) -> CheckedChunk:
        from hcpcs.edits.verdict import claim_verdicts

        good = chunk.claims.filter(pl.col("error_message").is_null())
        use_single = self.engine == "single" or (self.engine == "auto" and good.height < SINGLE_BELOW_CLAIMS)
        findings, notices = (self._single(chunk, good) if use_single else self._batch(chunk))
        verdicts = claim_verdicts(findings, good["claim"])
        return CheckedChunk(chunk.claims, findings, notices, verdicts, chunk.lines)

    def _batch(self, chunk: ClaimChunk) -> tuple[pl.DataFrame, pl.DataFrame]:
        from hcpcs.edits.batch import check_batch_result

        # Claims are told apart by their position (ids may repeat): the engine groups lines by claim_id.
        lines = chunk.lines.with_columns(claim_id=pl.col("claim").cast(pl.String))
        result = check_batch_result(lines, self.hc, as_of=self.as_of, tables=self.tables, with_notices=True,
                                    packs=self.packs)
        ids = chunk.claims.select("claim", "claim_id")
        findings = result.findings.with_columns(claim=pl.col("claim_id").cast(pl.Int64)).drop("claim_id").join(
            ids, on="claim", how="left", maintain_order="left")
        notices = result.notices.with_columns(claim=pl.col("claim_id").cast(pl.Int64)).drop("claim_id").join(
            ids, on="claim", how="left", maintain_order="left")
        return findings.select(list(FINDING_SCHEMA)), notices.select("claim", "claim_id", "notices")

    def _single(self, chunk: ClaimChunk, good: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        claims = chunk.good_claims()
        rows: list[dict[str, Any]] = []
        noted: list[tuple[int, str, list[str]]] = []
        for position, claim in zip(good["claim"].to_list(), claims, strict=True):
            result = self.single.check(claim)
            for finding in result["findings"]:
                rows.append(_finding_row(position, claim.id, finding))
            if result.get("notices"):
                noted.append((position, claim.id, list(result["notices"])))
        findings = pl.DataFrame(rows, schema=FINDING_SCHEMA) if rows else pl.DataFrame(schema=FINDING_SCHEMA)
        notices = pl.DataFrame(noted, schema={"claim": pl.Int64, "claim_id": pl.String,
                                              "notices": pl.List(pl.String)}, orient="row")
        return findings, notices


_SOURCE_BASE = ("dataset", "release", "row", "files")


def _finding_row(position: int, claim_id: str, finding: dict[str, Any]) -> dict[str, Any]:
    """A finding of the single engine as a row of the findings frame."""
    source = finding.get("source") or {}
    extra = {k: v for k, v in source.items() if k not in _SOURCE_BASE}
    row = source.get("row")
    if source.get("dataset") == "policy-pack":  # its source is the pack's, written whole
        extra, row = source, None
    return {
        "claim_id": claim_id, "claim": position, "rule": finding["rule"], "severity": finding["severity"],
        "codes": list(finding["codes"]), "lines": [number - 1 for number in finding["lines"]],  # frame: 0-based
        "message": finding["message"],
        "details": finding.get("details"),
        "fix": finding["fix"], "source_dataset": source.get("dataset"), "source_release": source.get("release"),
        "source_row": row, "source_extra": json.dumps(extra) if extra else None,
        "source_files": source.get("files"), "citation": finding.get("citation"),
    }


def check_chunks(chunks: Iterable[ClaimChunk], hc: Hcpcs | None = None, *, as_of: str | date | None = None,
                 packs: Sequence[str | PolicyPack] = (), no_packs: Sequence[str] = (), engine: str = "auto",
                 should_stop: Callable[[], bool] | None = None) -> Iterator[CheckedChunk]:
    """Each chunk of claims checked, as it comes."""
    from hcpcs.core.errors import CheckStoppedError

    checker = StreamChecker(hc, as_of=as_of, packs=packs, no_packs=no_packs, engine=engine)
    for chunk in chunks:
        if should_stop is not None and should_stop():
            raise CheckStoppedError("claim checking was stopped: its time budget is spent")
        yield checker.check(chunk)


def check_stream(source: str | os.PathLike[str] | IO[bytes], output: Any, *, input_format: str | None = None,
                 name: str | None = None, hc: Hcpcs | None = None, as_of: str | date | None = None,
                 packs: Sequence[str | PolicyPack] = (), no_packs: Sequence[str] = (), engine: str = "auto",
                 on_chunk: Callable[[CheckedChunk], None] | None = None) -> CheckSummary:
    """Read a claim file or stream chunk by chunk, check it and give each checked chunk to `output` (a writer
    of `hcpcs.services.outputs`, whose `close` is called at the end) and to `on_chunk`; the summary says what
    was found and the exit status."""
    summary = CheckSummary()
    chunks = _ahead(iter_chunks(source, input_format, name=name))  # reading runs ahead of checking

    def take(checked: CheckedChunk) -> None:
        if output is not None:
            output.write(checked)
        if on_chunk is not None:
            on_chunk(checked)

    writing = _Behind(take)  # and writing behind it: the three overlap (polars and pyarrow free the GIL)
    try:
        for checked in check_chunks(chunks, hc, as_of=as_of, packs=packs, no_packs=no_packs, engine=engine):
            summary.add(checked)
            writing.put(checked)
        writing.finish()
    finally:
        writing.finish(check=False)
        if output is not None:
            output.close()
    return summary


_DONE = object()


def _ahead(items: Iterator[Any], depth: int = 1) -> Iterator[Any]:
    """The items of an iterator, produced in a thread of their own up to `depth` ahead of the consumer (its
    errors raised where the item would have come)."""
    import queue
    import threading

    pending: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        pending.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            pending.put((_DONE, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            pending.put((_DONE, exc))

    thread = threading.Thread(target=produce, name="hcpcs-read", daemon=True)
    thread.start()
    try:
        while True:
            item, error = pending.get()
            if item is _DONE:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()


class _Behind:
    """Hands items to `take` in a thread of its own, at most `depth` behind the producer."""

    def __init__(self, take: Callable[[Any], None], depth: int = 1) -> None:
        import queue
        import threading

        self.take = take
        self.pending: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="hcpcs-write", daemon=True)
        self.thread.start()
        self.finished = False

    def _run(self) -> None:
        while True:
            item = self.pending.get()
            if item is _DONE:
                return
            if self.error is None:
                try:
                    self.take(item)
                except BaseException as exc:  # noqa: BLE001 - raised in the producer's thread
                    self.error = exc

    def put(self, item: Any) -> None:
        if self.error is not None:
            raise self.error
        self.pending.put(item)

    def finish(self, check: bool = True) -> None:
        if not self.finished:
            self.finished = True
            self.pending.put(_DONE)
            self.thread.join()
        if check and self.error is not None:
            raise self.error
