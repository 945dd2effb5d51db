"""End-to-end claim checking: `hcpcs check FILE --format jsonl` as a user runs it (a separate process:
start-up, reading the file, every CMS rule, writing one JSON line per claim), against, in the same run,

- the naive script a billing engineer might write for one rule (`benchmarks/naive_ptp.py`: NCCI PTP pairs
  from the edit table CSV, `json.loads` per claim, a double loop, one JSON line per claim), and
- what a payer's data engineer would write for that rule in DuckDB (read the JSON Lines, unnest the lines,
  self-join per claim, join the active PTP pairs, write JSON), on as many threads as the machine has.

    HCPCS_HOME=STORE python benchmarks/bench_pipeline.py [--claims 500000] [--runs 3]

The workload (500,000 claims by default, seeded) is made by `benchmarks/workload.py`. Each program runs
`--runs` times, alternating, and the medians are reported with lines/s, the ratios and each run's peak
resident memory (from `getrusage` of the child). `--input parquet|csv|json` times hcpcs on the same claims in
that format too. duckdb is a benchmark-only dependency (`pip install duckdb`); without it that row is left
out."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PTP_CSV = ROOT.parent / "shared" / "data" / "cms" / "ncci" / "derived_2024q3" / "ptp_practitioner_2024q3.csv.gz"

DUCKDB_QUERY = """
COPY (
  WITH pairs AS (
    SELECT column1 || '|' || column2 AS pair, modifier_indicator
    FROM read_csv('{ptp}', header = true, all_varchar = true)
    WHERE modifier_indicator <> '9' AND (deletion_date IS NULL OR deletion_date = '' OR deletion_date >= '2024-08-12')
  ),
  claims AS (SELECT id, lines FROM read_json('{claims}', format = 'newline_delimited')),
  exploded AS (SELECT id, unnest(lines) AS l, generate_subscripts(lines, 1) - 1 AS line FROM claims),
  lines AS MATERIALIZED (SELECT id, line, l.code AS code, coalesce(l.modifiers, []) AS modifiers FROM exploded),
  line_pairs AS MATERIALIZED (
    SELECT a.id, a.code AS column1, b.code AS column2, a.line AS line1, b.line AS line2,
           a.code || '|' || b.code AS pair, list_concat(a.modifiers, b.modifiers) AS modifiers
    FROM lines a JOIN lines b ON a.id = b.id AND a.line <> b.line
  ),
  found AS (
    SELECT l.id, l.column1, l.column2, l.line1, l.line2 FROM line_pairs l JOIN pairs p ON p.pair = l.pair
    WHERE NOT (p.modifier_indicator = '1' AND len(list_intersect(
      l.modifiers, ['59', 'XE', 'XS', 'XP', 'XU', 'LT', 'RT', '25', '91'])) > 0)
  )
  SELECT c.id, coalesce(list({{'codes': [f.column1, f.column2], 'lines': [f.line1, f.line2]}})
                        FILTER (WHERE f.column1 IS NOT NULL), []) AS findings
  FROM claims c LEFT JOIN found f ON f.id = c.id GROUP BY c.id
) TO '{out}' (FORMAT json);
"""


_WRAPPER = ("import resource, subprocess, sys; done = subprocess.run(sys.argv[2:], stdout=open(sys.argv[1], 'wb')); "
            "print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def run(command: list[str], env: dict[str, str], stdout: Path) -> tuple[float, float]:
    """Seconds and peak resident MiB of one run of a command (in a wrapper process of its own, whose
    children's peak is the command's)."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _WRAPPER, str(stdout), *command], env=env, capture_output=True,
                          text=True)
    seconds = time.perf_counter() - start
    status, peak = done.stdout.split()[-2:]
    if int(status) not in (0, 1):
        sys.stderr.write(done.stderr[-2000:])
        raise SystemExit(f"{' '.join(command[:3])} failed with status {status}")
    return seconds, int(peak) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, default=500_000)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--input", action="append", default=[], choices=["parquet", "csv", "json"],
                        help="also time hcpcs on the claims in this format")
    parser.add_argument("--work", type=Path, help="folder for the workload and outputs (default: a temporary one)")
    args = parser.parse_args()
    if not os.environ.get("HCPCS_HOME"):
        raise SystemExit("set HCPCS_HOME to a store loaded from ../shared/data/cms")
    work = args.work or Path(tempfile.mkdtemp(prefix="hcpcs-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    claims = work / "claims.jsonl"
    extra = ["--parquet", str(work / "claims.parquet")] if "parquet" in args.input else []
    subprocess.run([sys.executable, str(HERE / "workload.py"), str(claims), "--claims", str(args.claims),
                    "--seed", str(args.seed), *extra], check=True)
    line_count = sum(len(__import__("json").loads(text)["lines"]) for text in claims.open())
    inputs = {"jsonl": claims}
    if "parquet" in args.input:
        inputs["parquet"] = work / "claims.parquet"
    if "csv" in args.input or "json" in args.input:
        import json

        items = [json.loads(text) for text in claims.open()]
        if "json" in args.input:
            (work / "claims.json").write_text(json.dumps(items))
            inputs["json"] = work / "claims.json"
        if "csv" in args.input:
            with (work / "claims.csv").open("w") as out:
                out.write("claim_id,setting,date_of_service,code,modifiers,units\n")
                for item in items:
                    for line in item["lines"]:
                        out.write(f"{item['id']},{item['setting']},{item['date_of_service']},{line['code']},"
                                  f"{';'.join(line.get('modifiers', []))},{line.get('units', '')}\n")
            inputs["csv"] = work / "claims.csv"
    hcpcs = str(Path(sys.executable).with_name("hcpcs"))
    env = dict(os.environ)
    programs: dict[str, list[str]] = {
        f"hcpcs check ({name})": [hcpcs, "check", str(path), "--format", "jsonl"] for name, path in inputs.items()}
    programs["naive script (PTP only)"] = [sys.executable, str(HERE / "naive_ptp.py"), str(claims), str(PTP_CSV)]
    try:
        import duckdb  # noqa: F401

        query = work / "ptp.sql"
        query.write_text(DUCKDB_QUERY.format(ptp=PTP_CSV, claims=claims, out=work / "duckdb.json"))
        script = f"import duckdb; duckdb.connect().execute(open({str(query)!r}).read())"
        programs["DuckDB query (PTP only)"] = [sys.executable, "-c", script]
    except ImportError:
        print("duckdb is not installed: its row is left out (pip install duckdb)")
    times: dict[str, list[float]] = {name: [] for name in programs}
    peaks: dict[str, list[float]] = {name: [] for name in programs}
    for _ in range(args.runs):
        for name, command in programs.items():
            seconds, peak = run(command, env, work / "out.txt")
            times[name].append(seconds)
            peaks[name].append(peak)
    naive = statistics.median(times["naive script (PTP only)"])
    print(f"\n{args.claims:,} claims, {line_count:,} lines; medians of {args.runs} runs (seconds of each run)")
    print(f"{'program':32} {'median s':>9} {'lines/s':>12} {'vs naive':>9}  runs; peak RSS")
    for name in programs:
        median = statistics.median(times[name])
        runs = ", ".join(f"{t:.2f}" for t in times[name])
        print(f"{name:32} {median:9.2f} {line_count / median:12,.0f} {naive / median:8.2f}x  {runs}; "
              f"{max(peaks[name]):,.0f} MiB")
    if "DuckDB query (PTP only)" in times:
        duck = statistics.median(times["DuckDB query (PTP only)"])
        ours = statistics.median(times["hcpcs check (jsonl)"])
        print(f"hcpcs (all rules) / DuckDB (PTP only): {duck / ours:.2f}x the speed")


if __name__ == "__main__":
    main()
