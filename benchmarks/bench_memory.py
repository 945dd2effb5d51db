"""Peak memory of claim checking on the inputs that used to take the machine down (issue: bounded):

- `hcpcs check` (a separate process) on one claim of 10,000 lines (77373 and G6002 alternating), on a
  facility claim of 999 lines (the most an 837I claim holds) of the same codes, and on a generated file of
  about 5 million lines (`benchmarks/workload.py`);
- `hcpcs serve` (started here): the resident memory of the server and its claim-check workers, sampled
  every 50 ms, while it answers a 10,000-line claim, a 6,000-line claim body, and a 2 MiB body of 999-line
  facility claims (which runs into the request's time budget: the worker must stop, not go on).

    HCPCS_HOME=STORE python benchmarks/bench_memory.py [--lines 5000000] [--skip-file]

Target: every peak under 2 GiB."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench_mixed import rss_mib, start_server
from bench_pipeline import run

HERE = Path(__file__).resolve().parent
TARGET_MIB = 2048
MEAN_LINES_PER_CLAIM = 4.5  # workload.py: 1 to 8 lines, as many claims of each size


def alternating_claim(claim_id: str, lines: int, setting: str = "professional") -> dict:
    return {"id": claim_id, "setting": setting, "date_of_service": "2024-08-12",
            "lines": [{"code": "77373" if number % 2 == 0 else "G6002"} for number in range(lines)]}


def cli_peaks(work: Path, env: dict[str, str], lines: int, skip_file: bool) -> list[tuple[str, float, float]]:
    hcpcs = str(Path(sys.executable).with_name("hcpcs"))
    inputs = {"one claim of 10,000 lines": alternating_claim("big", 10_000),
              "a facility claim of 999 lines": alternating_claim("f999", 999, "facility")}
    rows = []
    for name, claim in inputs.items():
        path = work / f"{claim['id']}.json"
        path.write_text(json.dumps(claim), encoding="utf-8")
        seconds, peak = run([hcpcs, "check", str(path), "--format", "jsonl"], env, work / "out.jsonl")
        rows.append((name, seconds, peak))
    if not skip_file:
        claims = int(lines / MEAN_LINES_PER_CLAIM) + 1
        path = work / "claims.jsonl"
        subprocess.run([sys.executable, str(HERE / "workload.py"), str(path), "--claims", str(claims)], check=True)
        seconds, peak = run([hcpcs, "check", str(path), "--format", "jsonl", "--output", str(work / "out.jsonl")],
                            env, work / "stdout.txt")
        rows.append((f"a file of {claims:,} claims (about {lines:,} lines)", seconds, peak))
    return rows


def post(port: int, body: bytes) -> tuple[int, float]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/check", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:
            answer.read()
            status = answer.status
    except urllib.error.HTTPError as error:
        status = error.code
    return status, time.perf_counter() - start


class PeakSampler:
    """The peak resident memory of a process tree, sampled every 50 ms in a thread until `stop`."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0.0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.done.is_set():
            self.peak = max(self.peak, rss_mib(self.pid)[1])
            time.sleep(0.05)

    def stop(self) -> float:
        self.done.set()
        self.thread.join()
        return self.peak


def server_peaks(env: dict[str, str]) -> list[tuple[str, int, float, float, float]]:
    process, port = start_server(env)
    bodies = {"one claim of 10,000 lines": json.dumps(alternating_claim("big", 10_000)).encode(),
              "one claim of 6,000 lines": json.dumps(alternating_claim("six", 6_000)).encode()}
    facility = []
    size = 2
    while size < 2 * 1024 * 1024 - 25_000:
        claim = json.dumps(alternating_claim(f"f{len(facility)}", 999, "facility"))
        facility.append(claim)
        size += len(claim) + 1
    bodies[f"{len(facility)} facility claims of 999 lines (2 MiB)"] = ("[" + ",".join(facility) + "]").encode()
    rows = []
    try:
        for name, body in bodies.items():
            sampler = PeakSampler(process.pid)
            status, seconds = post(port, body)
            time.sleep(2)  # a worker that did not stop would go on growing after the answer
            after = rss_mib(process.pid)[1]
            rows.append((name, status, seconds, sampler.stop(), after))
    finally:
        process.kill()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=5_000_000, help="claim lines of the generated file")
    parser.add_argument("--skip-file", action="store_true", help="leave out the generated file")
    args = parser.parse_args()
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as folder:
        for name, seconds, peak in cli_peaks(Path(folder), env, args.lines, args.skip_file):
            verdict = "met" if peak < TARGET_MIB else "NOT met"
            print(f"hcpcs check, {name}: {seconds:.1f} s, peak {peak:,.0f} MiB ({verdict})")
    for name, status, seconds, peak, after in server_peaks(env):
        verdict = "met" if peak < TARGET_MIB else "NOT met"
        print(f"hcpcs serve, {name}: HTTP {status} in {seconds:.1f} s; server and workers peak {peak:,.0f} MiB "
              f"({verdict}), {after:,.0f} MiB 2 s after the answer")


if __name__ == "__main__":
    main()
