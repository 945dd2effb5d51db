"""Lookup and search latency, in process, over all loaded codes.

    HCPCS_HOME=... python benchmarks/bench_reference.py [--runs 3] [--codes 2000]

Prints p50/p95/p99 of `lookup` (a sample of every loaded code, as of a date in 2024) and of `search`
(words, prefixes and ranges), the median of each percentile over several runs.
Targets: lookup p50 under 1 ms, search p95 under 10 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import statistics
import time

from hcpcs.services.reference import lookup
from hcpcs.services.search import search
from hcpcs.store.session import Hcpcs

QUERIES = ["stereoscopic guidance", "imrt", "x-ray chest", "xray", "igrt", "stereotactic", "wheelchair",
           "injection", "ultrasound guidance", "radiation treatment delivery", "774*", "G6001-G6017",
           "office visit", "ct head", "mri brain", "ambulance", "glucose", "catheter", "dme", "oxygen"]


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return pick(0.50) * 1000, pick(0.95) * 1000, pick(0.99) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--codes", type=int, default=2000, help="codes sampled per run (0: all)")
    args = parser.parse_args()
    hc = Hcpcs()
    codes = [r[0] for r in hc.store.conn.execute(
        "SELECT DISTINCT code FROM hcpcs_code WHERE record_kind = 'procedure' UNION "
        "SELECT DISTINCT hcpcs FROM mpfs_rvu")]
    results: dict[str, list[tuple[float, float, float]]] = {"lookup": [], "search": []}
    for run in range(args.runs):
        sample = codes if not args.codes else random.Random(run).sample(codes, min(args.codes, len(codes)))
        times = []
        for code in sample:
            started = time.perf_counter()
            # Unknown codes count too: their latency is what a user waits for.
            with contextlib.suppress(Exception):
                lookup(code, "2024-08-01", hc=hc)
            times.append(time.perf_counter() - started)
        results["lookup"].append(percentiles(times))
        times = []
        for query in QUERIES * 5:
            started = time.perf_counter()
            search(query, hc=hc, limit=20)
            times.append(time.perf_counter() - started)
        results["search"].append(percentiles(times))
    print(f"{len(codes):,} codes loaded; {args.runs} runs; milliseconds, median over runs")
    for name, runs in results.items():
        p50, p95, p99 = (statistics.median(r[i] for r in runs) for i in range(3))
        print(f"{name:7s} p50 {p50:7.3f}  p95 {p95:7.3f}  p99 {p99:7.3f}")


if __name__ == "__main__":
    main()
