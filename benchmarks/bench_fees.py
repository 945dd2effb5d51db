"""The whole fee table: every code and modifier row of a fee-schedule release x every locality x both
settings, priced with the CMS formula, OPPS cap and status rules.

    HCPCS_HOME=... python benchmarks/bench_fees.py [--release RVU25D] [--runs 5]

Prints amounts per second (median of the runs). Target: the whole table in under 2 s.
"""

from __future__ import annotations

import argparse
import statistics
import time

from hcpcs.services.fees import fee_table
from hcpcs.store.session import Hcpcs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--release", default="RVU25D")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    hc = Hcpcs()
    release = next(r for r in hc.releases if r.label == args.release)
    seconds = []
    for _ in range(args.runs):
        started = time.perf_counter()
        table = fee_table(hc, release)
        seconds.append(time.perf_counter() - started)
    amounts = table.height * 2
    median = statistics.median(seconds)
    print(f"{release.label}: {table.height:,} code/modifier x locality rows, {amounts:,} amounts "
          f"(2 settings) in {median:.2f} s median of {args.runs} runs = {amounts / median:,.0f} amounts/s")


if __name__ == "__main__":
    main()
