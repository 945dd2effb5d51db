"""Load benchmark: everything in the CMS folder, then a generated 2,000,000-row PTP file in the official
tab-delimited layout. Prints seconds, rows per second and peak memory of each step.

    python benchmarks/bench_load.py [--data ../shared/data/cms] [--ptp-rows 2000000]

Each step runs in a fresh process so that its peak memory is its own.
Targets: all of the CMS folder in under 60 s; the 2M-row PTP file in under 60 s; peak memory under 1 GiB.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _load(source: str, home: str) -> None:
    from hcpcs.services.update import run_update
    from hcpcs.store.db import open_store

    store = open_store(Path(home), readonly=False)
    started = time.perf_counter()
    report = run_update(store, source)
    seconds = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"releases": len(report.loaded), "rows": report.rows, "seconds": round(seconds, 1),
                      "rows_per_second": round(report.rows / seconds), "peak_mib": round(peak_mib)}))


def write_ptp(path: Path, rows: int) -> None:
    """A made-up PTP file in the CMS layout (AMA notice, title, 4-line header, tab-delimited rows)."""
    rng = random.Random(1)
    codes = [f"{n:05d}" for n in range(10000, 99999, 7)][:9000] + [f"Z{n:04d}" for n in range(1000)]
    rationales = ["Standards of medical/surgical practice", "Mutually exclusive procedures",
                  "CPT Manual or CMS manual coding instruction", "Misuse of Column Two code with Column One code"]
    with path.open("w", encoding="latin-1", newline="") as out:
        out.write("Benchmark file: made-up rows in the CMS PTP layout.\r\n")
        out.write("Column1/Column2 Edits\r\n")
        out.write("Column 1\tColumn 2\t*=in existence\tEffective\tDeletion\tModifier\tPTP Edit Rationale\r\n")
        out.write("\t\tprior to 1996\tDate\tDate\t0=not allowed\t\r\n")
        out.write("\t\t\t\t*=no data\t1=allowed\t\r\n")
        out.write("\t\t\t\t\t9=not applicable\t\r\n")
        for _ in range(rows):
            deleted = rng.random() < 0.3
            out.write(f"{rng.choice(codes)}\t{rng.choice(codes)}\t{'*' if rng.random() < 0.05 else ''}\t"
                      f"20{rng.randint(10, 24)}0{rng.choice('147')}01\t{'20231231' if deleted else '*'}\t"
                      f"{rng.choice('019')}\t{rng.choice(rationales)}\r\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "cms"))
    parser.add_argument("--ptp-rows", type=int, default=2_000_000)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _load(*args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        steps = [("CMS folder", args.data)]
        if args.ptp_rows:
            folder = Path(tmp) / "ptp"
            folder.mkdir()
            write_ptp(folder / "ccipra-v302r0-f1.txt", args.ptp_rows)
            steps.append((f"generated PTP, {args.ptp_rows:,} rows", str(folder)))
        for name, source in steps:
            home = tempfile.mkdtemp(dir=tmp)
            out = subprocess.run([sys.executable, __file__, "--child", source, home], check=True,
                                 capture_output=True, text=True).stdout
            result = json.loads(out.strip().splitlines()[-1])
            print(f"{name}: {result['rows']:,} rows, {result['releases']} release(s) in {result['seconds']} s "
                  f"({result['rows_per_second']:,} rows/s), peak memory {result['peak_mib']} MiB")


if __name__ == "__main__":
    main()
