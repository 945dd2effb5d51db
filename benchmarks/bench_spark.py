"""The Spark engine against the local engine on the same claim file: `hcpcs check --engine spark` on
`local[1]` and `local[2]`, and the local `hcpcs check FILE --format parquet --engine batch`, each writing
its Parquet findings/notices/errors.

    HCPCS_HOME=STORE python benchmarks/bench_spark.py [--claims 2000000] [--input FILE.parquet]

The workload (2,000,000 claims by default, seeded; `benchmarks/workload.py`) is written once as Parquet
claim lines. Each configuration runs in a process of its own; for Spark the start-up (the JVM and the
session) is timed apart from the check (read, number, group by claim, check every partition in the Python
workers, write, count). The Spark workers run polars on one thread each (POLARS_MAX_THREADS=1: one core
per task slot); the local engine uses every core. Printed: seconds and claim lines per second of each, the
local[2] / local[1] speed-up, and the start-up time. Needs pyspark and Java (`pip install "hcpcs[spark]"`)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _write_workload(claims: int, path: Path) -> int:
    sys.path.insert(0, str(HERE))
    import workload

    items = workload.claims(claims, 2024, workload.active_pairs(workload.DEFAULT_PTP))
    workload.write_parquet(items, path)
    return sum(len(item["lines"]) for item in items)


def _lines(path: Path) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


def child(master: str, source: Path, output: Path, store: str | None) -> None:
    """One Spark run in this process: prints {"startup": s, "check": s, "summary": {...}} as JSON."""
    from hcpcs import spark as hcpcs_spark

    started = time.perf_counter()
    session = hcpcs_spark.spark_session(master, app_name="hcpcs bench", config={
        "spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false", "spark.driver.memory": "6g"})
    session.sparkContext.setLogLevel("ERROR")
    session.range(1).count()  # the executors are up
    startup = time.perf_counter() - started
    started = time.perf_counter()
    summary = hcpcs_spark.check_file(source, output, master=master, store=store)
    elapsed = time.perf_counter() - started
    session.stop()
    print(json.dumps({"startup": startup, "check": elapsed, "summary": summary}))


def _run_spark(master: str, source: Path, work: Path) -> dict:
    env = {**os.environ, "POLARS_MAX_THREADS": "1"}
    output = work / f"spark-{master.replace('[', '').replace(']', '')}"
    command = [sys.executable, __file__, "--child", master, "--input", str(source), "--output", str(output)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{master} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _run_local(source: Path, work: Path) -> float:
    output = work / "local"
    command = [sys.executable, "-m", "hcpcs.interfaces.cli.app", "check", str(source), "--format", "parquet",
               "--output", str(output), "--engine", "batch"]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"local engine failed:\n{done.stderr[-3000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, default=2_000_000)
    parser.add_argument("--input", type=Path, help="a Parquet claim-lines file to check instead of generating one")
    parser.add_argument("--output", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--masters", default="local[1],local[2]", help="Spark masters to time (comma-separated)")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.input, args.output, os.environ.get("HCPCS_HOME"))
        return
    with tempfile.TemporaryDirectory(prefix="hcpcs-bench-spark-") as folder:
        work = Path(folder)
        source = args.input
        if source is None:
            source = work / "claims.parquet"
            started = time.perf_counter()
            lines = _write_workload(args.claims, source)
            print(f"workload: {args.claims:,} claims, {lines:,} lines ({time.perf_counter() - started:.0f} s)")
        lines = _lines(source)
        local = _run_local(source, work)
        print(f"local engine (hcpcs check --format parquet --engine batch, all cores): {local:.1f} s, "
              f"{lines / local:,.0f} lines/s (process start-up included)")
        spark_runs = {}
        for master in args.masters.split(","):
            run = _run_spark(master, source, work)
            spark_runs[master] = run
            print(f"spark {master}: start-up {run['startup']:.1f} s; check {run['check']:.1f} s, "
                  f"{lines / run['check']:,.0f} lines/s; {run['summary']['records']:,} claims, "
                  f"findings {run['summary']['findings']}")
        if "local[1]" in spark_runs and "local[2]" in spark_runs:
            ratio = spark_runs["local[1]"]["check"] / spark_runs["local[2]"]["check"]
            print(f"local[2] / local[1] speed-up: {ratio:.2f}x")


if __name__ == "__main__":
    main()
