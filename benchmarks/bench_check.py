"""Benchmark of claim checking: the batch checker (`hcpcs.edits.batch`) on generated claims, a naive
pure-Python baseline, single-claim latency, and the time to get the edit tables ready.

    HCPCS_HOME=STORE .venv/bin/python benchmarks/bench_check.py                 # 1,000,000 claims
    HCPCS_HOME=STORE .venv/bin/python benchmarks/bench_check.py --claims 10000  # CI-sized smoke run

Claims: 1 to 8 lines each (mean about 2.9), 80 % professional, dates of service in 2024Q3 (3 % of lines
on another date than their claim's first line). Codes are drawn from the loaded July 2024 tables: 95 % from
codes that have an MUE and PTP edits (and a payable fee-schedule row for professional claims), 3 % from
any code with an MUE, 2 % add-on codes; 12 % of multi-line claims carry a PTP pair in force; 15 % of lines
have a modifier, 8 % more than one unit. So every rule fires, at rates meant to be plausible rather than
worst-case (the findings per rule are printed); they are generated in a child process so that the
generator's Python objects stay out of the measured peak memory. The batch figure is measured with
POLARS_MAX_THREADS=1 (one core) unless --threads is given. Peak memory is the process's maximum resident
set size (resource.getrusage), after each phase.
"""

from __future__ import annotations

import argparse
import os
import sys


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, default=1_000_000, help="claims to generate (default 1,000,000)")
    parser.add_argument("--seed", type=int, default=20240701)
    parser.add_argument("--threads", type=int, default=1,
                        help="POLARS_MAX_THREADS for the batch run (default 1: the one-core figure)")
    parser.add_argument("--home", help="store folder (default $HCPCS_HOME)")
    parser.add_argument("--cache-dir", help="sidecar table cache folder (default <store dir>/cache)")
    parser.add_argument("--write-cache", action="store_true",
                        help="write the sidecar table cache of every edit release first (store folder must be "
                             "writable), then measure loading from it")
    parser.add_argument("--sqlite-load", action="store_true",
                        help="also time getting the tables ready without the sidecar cache (from SQLite)")
    parser.add_argument("--baseline-claims", type=int, default=100_000,
                        help="claims checked by the naive pure-Python baseline (a sample; default 100,000)")
    parser.add_argument("--single-claims", type=int, default=2_000,
                        help="claims timed one by one with hcpcs.services.checking.check (default 2,000)")
    parser.add_argument("--chunk-claims", type=int, default=250_000,
                        help="claims per batch chunk (memory is bounded by the chunk; default 250,000, as "
                             "hcpcs.edits.batch.iter_check_batch)")
    parser.add_argument("--repeat", type=int, default=3, help="batch runs (the best is the figure; default 3)")
    parser.add_argument("--notices", action="store_true", help="also time the batch with per-claim notices")
    parser.add_argument("--jsonl", help="also write the claims as JSON Lines to this file and time reading it "
                                        "back into a claim-lines frame")
    return parser.parse_args(argv)


ARGS = parse_args() if __name__ == "__main__" else None
if ARGS is not None:
    os.environ["POLARS_MAX_THREADS"] = str(ARGS.threads)  # before polars is imported
# hcpcs before polars as well: importing it sets the allocator options polars reads when it loads.
import hcpcs  # noqa: E402, F401, I001

import io  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import random  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import date, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402

import polars as pl  # noqa: E402

from hcpcs.claims.model import Claim, ClaimLine  # noqa: E402
from hcpcs.edits import batch  # noqa: E402
from hcpcs.store.cache import BatchTables, write_table_cache  # noqa: E402
from hcpcs.edits.tables import MUE_DATASET, PTP_DATASET  # noqa: E402
from hcpcs.store.session import Hcpcs  # noqa: E402

QUARTER_START = date(2024, 7, 1)
QUARTER_DAYS = 92
LINE_WEIGHTS = [30, 22, 16, 11, 8, 6, 4, 3]  # 1..8 lines per claim
MODIFIERS = ["26", "TC", "59", "XS", "XU", "LT", "RT", "25", "76", "GA", "GY", "KX", "Q5"]
PAIR_SHARE = 0.12  # multi-line claims that carry a PTP pair in force
EDIT_DATASETS = ("hcpcs", "mpfs", "opps", "ncci_aoc", *PTP_DATASET.values(), *MUE_DATASET.values())


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def say(text: str) -> None:
    print(text, flush=True)


# ---------------------------------------------------------------------------------------------------
# Tables


def quarter_releases(hc: Hcpcs) -> dict[str, int]:
    """The release of each edit dataset that answers for mid-2024Q3."""
    out = {}
    for dataset in EDIT_DATASETS:
        try:
            out[dataset] = hc.release_for(dataset, date(2024, 8, 15)).release.id
        except Exception:  # noqa: BLE001 - a dataset not loaded or not covering the quarter is left out
            continue
    return out


def load_tables(hc: Hcpcs, cache_dir: Path | None) -> tuple[BatchTables, float]:
    """What the batch rules read of the quarter's releases (the PTP index rather than the raw PTP rows)."""
    from hcpcs.store.cache import cached_tables

    start = time.perf_counter()
    tables = BatchTables(hc, cache_dir=cache_dir)
    for dataset, release_id in quarter_releases(hc).items():
        for table in cached_tables(dataset):
            if table == "ncci_ptp":
                tables.ptp_index(release_id)
            else:
                tables.frame(release_id, table)
    return tables, time.perf_counter() - start


# ---------------------------------------------------------------------------------------------------
# Claims


def ptp_pairs_in_force(tables: BatchTables, release_id: int) -> pl.DataFrame:
    """column1, column2, modifier_indicator, deletion_date of a release's PTP edits (indicator 9 left out)."""
    index = tables.ptp_index(release_id)
    return index.edits.select(column1=index.codes.gather(index.edits["code1"]),
                              column2=index.codes.gather(index.edits["code2"]),
                              modifier_indicator=pl.col("modifier_indicator").cast(pl.String),
                              deletion_date="deletion_date")


def code_pools(tables: BatchTables, releases: dict[str, int]) -> dict[str, list]:
    """Codes to draw claims from, per setting: `common` codes that have an MUE and PTP edits (and, for
    professional claims, a payable fee-schedule row), not add-on codes; `pairs` of codes with a PTP edit
    in force; `addon` codes; `any` code with an MUE (noise)."""
    addons = set(tables.frame(releases["ncci_aoc"], "ncci_aoc")["addon_code"].to_list()) if "ncci_aoc" in releases \
        else set()
    payable = None
    if "mpfs" in releases:
        rvu = tables.frame(releases["mpfs"], "mpfs_rvu")
        payable = set(rvu.filter((pl.col("modifier") == "") & pl.col("status").is_in(["A", "R", "T"]))["hcpcs"])
    pools: dict[str, list] = {}
    for setting in ("professional", "facility"):
        edits = ptp_pairs_in_force(tables, releases[PTP_DATASET[setting]]).filter(pl.col("deletion_date").is_null())
        with_edits = set(edits["column1"]) | set(edits["column2"])
        mue = tables.frame(releases[MUE_DATASET[setting]], "ncci_mue")["code"].to_list()
        common = [c for c in mue if c in with_edits and c not in addons
                  and (setting == "facility" or payable is None or c in payable)]
        pools[f"common_{setting}"] = random.Random(3).sample(common, min(4000, len(common)))
        pools[f"pairs_{setting}"] = edits.select("column1", "column2").sample(min(50_000, edits.height), seed=1).rows()
        pools[f"any_{setting}"] = mue
    pools["addon"] = sorted(addons) or pools["any_professional"]
    return pools


def generate_claims(count: int, pools: dict[str, list], seed: int, block: int = 50_000) -> pl.DataFrame:
    """A claim-lines frame of `count` claims, built in blocks to keep Python objects few."""
    rng = random.Random(seed)
    all_days = [QUARTER_START + timedelta(days=i) for i in range(QUARTER_DAYS)]
    parts = [_claim_block(rng, start, min(block, count - start), pools, all_days) for start in range(0, count, block)]
    return pl.concat(parts).rechunk() if parts else pl.DataFrame(schema=batch.LINE_SCHEMA)


def _claim_block(rng: random.Random, first: int, count: int, pools: dict[str, list], all_days: list[date]) -> pl.DataFrame:
    sizes = rng.choices(range(1, 9), LINE_WEIGHTS, k=count)
    ids: list[str] = []
    settings: list[str] = []
    indexes: list[int] = []
    codes: list[str] = []
    modifiers: list[list[str]] = []
    units: list[float] = []
    days: list[date] = []
    for number, size in enumerate(sizes, start=first):
        setting = "facility" if rng.random() < 0.2 else "professional"
        common, noise = pools[f"common_{setting}"], pools[f"any_{setting}"]
        claim_codes = []
        for _ in range(size):
            roll = rng.random()
            claim_codes.append(rng.choice(common) if roll < 0.95 else rng.choice(noise) if roll < 0.98
                               else rng.choice(pools["addon"]))
        if size >= 2 and rng.random() < PAIR_SHARE:
            first_code, second_code = rng.choice(pools[f"pairs_{setting}"])
            claim_codes[0], claim_codes[1] = first_code, second_code
            rng.shuffle(claim_codes)
        day = rng.choice(all_days)
        claim_id = f"C{number:08d}"
        for index, code in enumerate(claim_codes):
            ids.append(claim_id)
            settings.append(setting)
            indexes.append(index)
            codes.append(code)
            roll = rng.random()
            modifiers.append([] if roll < 0.85 else [rng.choice(MODIFIERS)] if roll < 0.98 else rng.sample(MODIFIERS, 2))
            units.append(1.0 if rng.random() < 0.92 else float(rng.randint(2, 4)))
            days.append(day if rng.random() < 0.97 else rng.choice(all_days))
    return pl.DataFrame({"claim_id": ids, "setting": settings, "line": indexes, "code": codes,
                         "modifiers": modifiers, "units": units, "dos": days}, schema=batch.LINE_SCHEMA)


def _generate_to_file(home: Path | None, cache_dir: Path | None, count: int, seed: int, path: Path) -> None:
    hc = Hcpcs(home)
    tables, _ = load_tables(hc, cache_dir)
    generate_claims(count, code_pools(tables, quarter_releases(hc)), seed).write_ipc(path)


def generated_claims(home: Path | None, cache_dir: Path | None, count: int, seed: int) -> pl.DataFrame:
    """`generate_claims` run in a child process: the generator's millions of Python objects would otherwise
    stay in this process's heap and count in the peak memory measured for the checker."""
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "claims.arrow"
        child = context.Process(target=_generate_to_file, args=(home, cache_dir, count, seed, path))
        child.start()
        child.join()
        if child.exitcode != 0:
            raise SystemExit(f"claim generation failed (exit status {child.exitcode})")
        return pl.read_ipc(io.BytesIO(path.read_bytes()))


def frame_claims(frame: pl.DataFrame) -> list[Claim]:
    """`Claim` objects of a claim-lines frame (the line's date kept when it differs from the first line's)."""
    claims = []
    for (claim_id,), part in frame.group_by("claim_id", maintain_order=True):
        rows = part.rows(named=True)
        day = rows[0]["dos"]
        lines = tuple(ClaimLine(code=r["code"], modifiers=tuple(r["modifiers"]), units=int(r["units"]),
                                date_of_service=None if r["dos"] == day else r["dos"]) for r in rows)
        claims.append(Claim(id=str(claim_id), setting=rows[0]["setting"], date_of_service=day, lines=lines))
    return claims


def write_jsonl(frame: pl.DataFrame, path: Path, block: int = 50_000) -> None:
    """The claims as JSON Lines, `block` claims at a time."""
    runs = frame.select(pl.col("claim_id").rle_id())["claim_id"]
    count = int(runs.max() or 0) + 1 if frame.height else 0
    bounds = [0, *(runs.search_sorted(k) for k in range(block, count, block)), frame.height]
    with path.open("w", encoding="utf-8") as out:
        for start, end in zip(bounds, bounds[1:], strict=False):
            for claim in frame_claims(frame.slice(start, end - start)):
                out.write(json.dumps(claim.to_dict()) + "\n")


# ---------------------------------------------------------------------------------------------------
# Naive baseline: dictionaries of PTP pairs and MUEs, checked line by line in pure Python


def naive_tables(tables: BatchTables, releases: dict[str, int]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for setting, dataset in PTP_DATASET.items():
        edits = ptp_pairs_in_force(tables, releases[dataset])
        out[f"ptp_{setting}"] = {(c1, c2): (mi, deleted.isoformat() if deleted else None)
                                 for c1, c2, mi, deleted in edits.iter_rows()}
    for setting, dataset in MUE_DATASET.items():
        limits = tables.frame(releases[dataset], "ncci_mue").select("code", "units", "mai")
        out[f"mue_{setting}"] = {code: (limit, mai or "1") for code, limit, mai in limits.iter_rows()}
    return out


def naive_check(rows: list[tuple], dicts: dict[str, dict]) -> int:
    """PTP pairs and MUEs of claim lines (rows sorted by claim: claim_id, setting, line, code, modifiers,
    units, dos); returns the number of findings."""
    found = 0
    associated = {"59", "XE", "XS", "XP", "XU", "LT", "RT", "25", "91"}
    start = 0
    while start < len(rows):
        end = start
        claim_id = rows[start][0]
        while end < len(rows) and rows[end][0] == claim_id:
            end += 1
        lines = rows[start:end]
        setting = lines[0][1]
        ptp, mue = dicts[f"ptp_{setting}"], dicts[f"mue_{setting}"]
        totals: dict[tuple, float] = {}
        for _, _, _, code, _mods, units, day in lines:
            limit = mue.get(code)
            if limit is not None:
                if limit[1] == "1":
                    found += units > limit[0]
                else:
                    totals[(code, day)] = totals.get((code, day), 0) + units
        for (code, _day), total in totals.items():
            found += total > mue[code][0]
        iso = None
        for a in lines:
            for b in lines:
                if a is b or a[3] == b[3] or a[6] != b[6]:
                    continue
                edit = ptp.get((a[3], b[3]))
                if edit is None:
                    continue
                iso = iso or a[6].isoformat()
                if edit[1] is not None and iso > edit[1]:
                    continue
                bypassed = edit[0] == "1" and (set(a[4]) | set(b[4])) & associated
                found += not bypassed
        start = end
    return found


# ---------------------------------------------------------------------------------------------------


def main(args: argparse.Namespace) -> int:
    from hcpcs.services.checking import check

    home = Path(args.home or os.environ.get("HCPCS_HOME", "")) if (args.home or os.environ.get("HCPCS_HOME")) else None
    hc = Hcpcs(home)
    cache_dir = Path(args.cache_dir) if args.cache_dir else None
    command = " ".join([f"POLARS_MAX_THREADS={args.threads}", f"HCPCS_HOME={hc.store.path.parent}",
                        ".venv/bin/python", *sys.argv])
    say(f"command: {command}")
    say(f"polars {pl.__version__}, {pl.thread_pool_size()} thread(s); store {hc.store.path}")
    releases = quarter_releases(hc)
    if args.write_cache:
        start = time.perf_counter()
        for release in hc.releases:
            write_table_cache(hc.store, release, cache_dir)
        say(f"sidecar cache written in {time.perf_counter() - start:.1f} s")

    tables, load_seconds = load_tables(hc, cache_dir)
    sources = sorted(set(tables.loaded_from.values()))
    edits = sum(tables.ptp_index(releases[d]).edits.height for d in PTP_DATASET.values() if d in releases)
    rows = sum(f.height for f in tables.frames_loaded().values())
    say(f"tables ready: {load_seconds:.2f} s (PTP indexes of {edits:,} edits, {rows:,} rows of other tables; "
        f"from {' and '.join(sources)}); peak {peak_mib():.0f} MiB")

    start = time.perf_counter()
    frame = generated_claims(hc.store.path.parent, cache_dir, args.claims, args.seed)
    n_lines = frame.height
    say(f"generated {args.claims:,} claims, {n_lines:,} lines (mean {n_lines / args.claims:.2f}) in "
        f"{time.perf_counter() - start:.1f} s; peak {peak_mib():.0f} MiB")

    if args.jsonl:
        path = Path(args.jsonl)
        start = time.perf_counter()
        write_jsonl(frame, path)
        say(f"wrote {path} ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - start:.1f} s")
        from hcpcs.claims.readers import iter_claims

        start = time.perf_counter()
        read = batch.claims_frame(c for c in iter_claims(path) if isinstance(c, Claim))
        seconds = time.perf_counter() - start
        say(f"JSONL -> claim-lines frame: {read.height / seconds:,.0f} lines/s ({seconds:.1f} s)")
        del read

    # Batch, one warm-up on a small slice first (first-call costs of polars and the release choices).
    batch.check_batch(frame.head(2000), hc, tables=tables)
    rates = []
    counts: dict[str, int] = {}
    for _ in range(args.repeat):
        counts = {}
        start = time.perf_counter()
        for result in batch.iter_check_batch(frame, hc, tables=tables, chunk_claims=args.chunk_claims):
            for rule, count in result.findings.group_by("rule").len().iter_rows():
                counts[rule] = counts.get(rule, 0) + count
        seconds = time.perf_counter() - start
        rates.append(n_lines / seconds)
        say(f"batch: {n_lines / seconds:,.0f} claim lines/s ({seconds:.2f} s for {n_lines:,} lines, "
            f"{sum(counts.values()):,} findings, chunks of {args.chunk_claims:,} claims); peak {peak_mib():.0f} MiB")
    batch_rate = max(rates)
    say("  findings by rule: " + ", ".join(f"{rule} {count:,}" for rule, count in
                                           sorted(counts.items(), key=lambda kv: -kv[1])))
    batch_peak = peak_mib()
    if args.notices:
        start = time.perf_counter()
        noted = sum(r.notices.height for r in batch.iter_check_batch(
            frame, hc, tables=tables, chunk_claims=args.chunk_claims, with_notices=True))
        seconds = time.perf_counter() - start
        say(f"batch with notices: {n_lines / seconds:,.0f} claim lines/s ({seconds:.2f} s, {noted:,} claims with "
            f"notices); peak {peak_mib():.0f} MiB")

    # Naive baseline on a sample of claims.
    start = time.perf_counter()
    dicts = naive_tables(tables, releases)
    dict_seconds = time.perf_counter() - start
    sample = frame.filter(pl.col("claim_id").is_in(
        frame["claim_id"].unique(maintain_order=True).head(args.baseline_claims).implode()))
    rows_sample = sample.rows()
    start = time.perf_counter()
    naive_found = naive_check(rows_sample, dicts)
    seconds = time.perf_counter() - start
    naive_rate = len(rows_sample) / seconds
    say(f"naive pure-Python baseline (PTP dict + MUE dict, line by line): {naive_rate:,.0f} claim lines/s on "
        f"{len(rows_sample):,} lines ({naive_found:,} PTP/MUE hits); dictionaries built in {dict_seconds:.1f} s")
    del dicts

    # Single-claim latency, warm.
    claims = frame_claims(frame.head(min(frame.height, args.single_claims * 8)))[: args.single_claims]
    for claim in claims:
        check(claim, hc=hc)
    timings = []
    for claim in claims:
        start = time.perf_counter_ns()
        check(claim, hc=hc)
        timings.append((time.perf_counter_ns() - start) / 1000)
    median = statistics.median(timings)
    p90 = statistics.quantiles(timings, n=10)[-1] if len(timings) > 1 else median
    say(f"single claim, warm (hcpcs.services.checking.check): median {median:.0f} us, p90 {p90:.0f} us over "
        f"{len(claims):,} claims (mean {sum(len(c.lines) for c in claims) / max(len(claims), 1):.2f} lines)")

    if args.sqlite_load:  # last: reading from SQLite raises the process's peak memory
        with tempfile.TemporaryDirectory() as empty:
            _, sqlite_seconds = load_tables(hc, Path(empty))
        say(f"tables ready without the sidecar cache (from SQLite, PTP indexes built): {sqlite_seconds:.2f} s; "
            f"peak {peak_mib():.0f} MiB")

    say("")
    say("targets:")
    say(f"  batch >= 1,000,000 claim lines/s on one core (best of {args.repeat}): {batch_rate:,.0f} -> "
        f"{'met' if batch_rate >= 1e6 and args.threads == 1 else 'NOT met' if args.threads == 1 else 'n/a (not one core)'}")
    say(f"  single-claim median < 50 us: {median:.0f} us -> {'met' if median < 50 else 'NOT met'}")
    say(f"  tables ready < 2 s: {load_seconds:.2f} s -> {'met' if load_seconds < 2 else 'NOT met'} "
        f"(from {' and '.join(sources)})")
    say(f"  peak memory < 1.5 GiB (process peak after the batch runs, tables and the 1M-claim frame included): "
        f"{batch_peak:.0f} MiB -> {'met' if batch_peak < 1536 else 'NOT met'}")
    say(f"  speed-up over the naive baseline: {batch_rate / naive_rate:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main(ARGS))
