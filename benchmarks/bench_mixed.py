"""Load test of `hcpcs serve` (started here as a separate process on 127.0.0.1) under a mixed workload:
lookups over many codes and dates, fees by locality, searches, one-claim checks, and a few large claims
(478 lines each, posted back to back on their own connections), for a fixed time at a fixed number of
connections (closed loop: each connection sends its next request when the previous one is answered).

Reports requests/s, p50/p99/max latency per operation, how many small requests took over 1 s, and the
server's resident memory (its process and its claim-check workers) after a warm-up and at the end.

    HCPCS_HOME=STORE .venv/bin/python benchmarks/bench_mixed.py                       # 32 conns, 60 s
    HCPCS_HOME=STORE .venv/bin/python benchmarks/bench_mixed.py --runs 3              # medians of 3
    HCPCS_HOME=STORE .venv/bin/python benchmarks/bench_mixed.py --cache               # response cache on
    HCPCS_HOME=STORE .venv/bin/python benchmarks/bench_mixed.py --seconds 20 --large-connections 0

The response cache is off unless `--cache` (HCPCS_CACHE_ENTRIES=0): the lookups are then all "uncached".
Targets: no small-operation request over 1 s while the large claims run; p99 of lookups under 50 ms;
server memory flat within 100 MB from after the warm-up to the end. The client is a minimal asyncio
HTTP/1.1 client (microseconds per request) so that on a 2-core machine it takes little from the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

SMALL_OPERATIONS = ("lookup", "fee", "search", "check one claim")
SEARCH_WORDS = ("radiation", "guidance", "knee", "injection", "wheelchair", "oxygen", "ambulance", "catheter",
                "stereotactic", "imaging", "vitamin", "brace", "insulin", "ultrasound", "dialysis", "infusion",
                "screening", "therapy", "prosthetic", "surgical")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(env: dict[str, str]) -> tuple[subprocess.Popen, int]:
    """`hcpcs serve` of this environment in a new process; returns it and its port once it answers."""
    port = free_port()
    hcpcs = str(Path(sys.executable).with_name("hcpcs"))
    process = subprocess.Popen([hcpcs, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited: {process.stderr.read().decode()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"GET /api/releases HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if sock.recv(12).endswith(b"200"):
                    return process, port
        except OSError:
            pass
        time.sleep(0.1)
    process.kill()
    raise SystemExit("server did not answer within 60 s")


def process_tree(pid: int) -> list[int]:
    pids = [pid]
    for one in list(pids):
        try:
            for task in os.listdir(f"/proc/{one}/task"):
                children = Path(f"/proc/{one}/task/{task}/children").read_text().split()
                pids += [int(c) for c in children]
        except OSError:
            continue
    return pids


def cpu_seconds(pid: int) -> tuple[float, float]:
    """CPU time (user + system) of the server process and of its claim-check workers, seconds."""
    tick = os.sysconf("SC_CLK_TCK")
    values = []
    for one in process_tree(pid):
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
            values.append((int(fields[11]) + int(fields[12])) / tick)
        except (OSError, IndexError, ValueError):
            continue
    return (values[0] if values else float("nan")), sum(values[1:])


def rss_mib(pid: int) -> tuple[float, float]:
    """Resident memory of the server process and of the whole tree (its claim-check workers), MiB."""
    values = []
    for one in process_tree(pid):
        try:
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    values.append(int(line.split()[1]) / 1024)
        except OSError:
            continue
    return (values[0] if values else float("nan")), sum(values)


# ------------------------------------------------------------------------------------ the workload


@dataclass
class Workload:
    lookups: list[str]
    fees: list[str]
    searches: list[str]
    claims: list[bytes]
    large_claims: list[bytes]


def build_workload(home: Path | None, seed: int, codes_wanted: int) -> Workload:
    import sqlite3

    from hcpcs.store.db import DB_NAME, default_home

    conn = sqlite3.connect(f"file:{(home or default_home()) / DB_NAME}?mode=ro", uri=True)
    rng = random.Random(seed)
    codes = [r[0] for r in conn.execute("SELECT DISTINCT code FROM hcpcs_code WHERE record_kind = 'procedure' "
                                        "UNION SELECT DISTINCT hcpcs FROM mpfs_rvu")]
    codes = rng.sample(codes, min(codes_wanted, len(codes)))
    mpfs_codes = [r[0] for r in conn.execute("SELECT DISTINCT hcpcs FROM mpfs_rvu WHERE status IN ('A', 'R', 'T')")]
    localities = [f"{mac}-{number}" for mac, number in conn.execute(
        "SELECT DISTINCT mac, locality_number FROM mpfs_gpci")]
    ptp_codes = [r[0] for r in conn.execute(
        "SELECT column1 FROM ncci_ptp GROUP BY column1 ORDER BY count(*) DESC LIMIT 2000")]
    conn.close()
    start, days = date(2020, 1, 1), (date(2026, 6, 30) - date(2020, 1, 1)).days

    def day() -> str:
        return (start + timedelta(days=rng.randrange(days))).isoformat()

    lookups = [f"/api/lookup/{code}?as_of={day()}" for code in codes for _ in range(3)]
    rng.shuffle(lookups)
    fee_days = [f"{y}-{m:02d}-15" for y in (2022, 2023, 2024, 2025) for m in range(1, 13)]
    fees = [f"/api/fee/{rng.choice(mpfs_codes)}?locality={rng.choice(localities)}&as_of={rng.choice(fee_days)}"
            f"&setting={rng.choice(('facility', 'nonfacility'))}" for _ in range(3000)]
    searches = []
    for _ in range(1000):
        kind = rng.random()
        if kind < 0.6:
            q = " ".join(rng.sample(SEARCH_WORDS, rng.choice((1, 2))))
        elif kind < 0.8:
            q = rng.choice(codes)[:3] + "*"
        else:
            q = rng.choice(codes)
        searches.append(f"/api/search?q={quote(q)}&limit=20")
    claims = []
    for i in range(2000):
        lines = [{"code": rng.choice(ptp_codes)} for _ in range(rng.randint(1, 4))]
        claims.append(json.dumps({"id": f"S{i}", "setting": "professional", "date_of_service": "2024-08-12",
                                  "lines": lines}).encode())
    large_claims = []
    for i in range(20):
        lines = [{"code": rng.choice(ptp_codes)} for _ in range(478)]
        large_claims.append(json.dumps({"id": f"L{i}", "setting": "professional", "date_of_service": "2024-08-12",
                                        "lines": lines}).encode())
    return Workload(lookups, fees, searches, claims, large_claims)


# ------------------------------------------------------------------------------------ the client


class Connection:
    """One keep-alive HTTP/1.1 connection written by hand (a few microseconds of client CPU a request)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, url: str, body: bytes | None = None) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port, limit=2**20)
        head = f"{method} {url} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + (body or b""))
        assert self.reader is not None
        try:
            headers = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            await self.close()
            return 599
        status = int(headers[9:12])
        length = 0
        for line in headers.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
            if line.lower() == b"connection: close":
                await self.reader.readexactly(length)
                await self.close()
                return status
        await self.reader.readexactly(length)
        return status

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


@dataclass
class Timings:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)

    def add(self, name: str, seconds: float, ok: bool) -> None:
        self.latencies.setdefault(name, []).append(seconds)
        if not ok:
            self.errors[name] = self.errors.get(name, 0) + 1


def _ok(name: str, status: int) -> bool:
    if name == "lookup":  # a sampled code may not exist on a sampled date, or no release covers it
        return status in (200, 404)
    if name == "fee":
        return status in (200, 404, 422)
    return status == 200


async def run_load(port: int, workload: Workload, args: argparse.Namespace) -> tuple[Timings, float]:
    rng = random.Random(args.seed)
    timings = Timings()
    stop_at = 0.0
    measuring = False

    def small_request() -> tuple[str, str, str, bytes | None]:
        pick = rng.random()
        if pick < 0.5:
            return "lookup", "GET", rng.choice(workload.lookups), None
        if pick < 0.65:
            return "fee", "GET", rng.choice(workload.fees), None
        if pick < 0.8:
            return "search", "GET", rng.choice(workload.searches), None
        return "check one claim", "POST", "/api/check", rng.choice(workload.claims)

    async def small_worker() -> None:
        conn = Connection(port)
        while time.perf_counter() < stop_at:
            name, method, url, body = small_request()
            t0 = time.perf_counter()
            status = await conn.request(method, url, body)
            if measuring:
                timings.add(name, time.perf_counter() - t0, _ok(name, status))
        await conn.close()

    async def large_worker() -> None:
        conn = Connection(port)
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            status = await conn.request("POST", "/api/check", rng.choice(workload.large_claims))
            if measuring:
                timings.add("check 478-line claim", time.perf_counter() - t0, _ok("large", status))
        await conn.close()

    # Warm-up (not measured): the same mix for a few seconds, so that caches and workers are up.
    stop_at = time.perf_counter() + args.warmup
    await asyncio.gather(*(small_worker() for _ in range(args.connections - args.large_connections)),
                         *(large_worker() for _ in range(args.large_connections)))
    measuring = True
    started = time.perf_counter()
    stop_at = started + args.seconds
    await asyncio.gather(*(small_worker() for _ in range(args.connections - args.large_connections)),
                         *(large_worker() for _ in range(args.large_connections)))
    return timings, time.perf_counter() - started


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else float("nan")


def one_run(args: argparse.Namespace, env: dict[str, str], workload: Workload) -> dict[str, Any]:
    process, port = start_server(env)
    try:
        # Warm-up first, then memory is read: what grows after that is what the run added.
        warm = argparse.Namespace(**{**vars(args), "seconds": 0.0})
        asyncio.run(run_load(port, workload, warm))
        rss_before = rss_mib(process.pid)
        cpu_before, client_before = cpu_seconds(process.pid), time.process_time()
        timings, elapsed = asyncio.run(run_load(port, workload, argparse.Namespace(**{**vars(args), "warmup": 0.0})))
        cpu_after, client_after = cpu_seconds(process.pid), time.process_time()
        time.sleep(0.5)
        rss_after = rss_mib(process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
    out: dict[str, Any] = {"elapsed": elapsed, "rss_before": rss_before, "rss_after": rss_after, "ops": {},
                           "cpu": ((cpu_after[0] - cpu_before[0]) / elapsed, (cpu_after[1] - cpu_before[1]) / elapsed,
                                   (client_after - client_before) / elapsed)}
    total = 0
    for name, values in timings.latencies.items():
        total += len(values)
        out["ops"][name] = {"count": len(values), "rate": len(values) / elapsed, "p50": percentile(values, 0.5) * 1000,
                            "p99": percentile(values, 0.99) * 1000, "max": max(values) * 1000,
                            "over_1s": sum(1 for v in values if v > 1.0), "errors": timings.errors.get(name, 0)}
    out["rate"] = total / elapsed
    return out


def print_run(label: str, run: dict[str, Any]) -> None:
    print(f"\n{label}: {run['rate']:,.0f} requests/s over {run['elapsed']:.1f} s; server RSS "
          f"{run['rss_before'][0]:.0f} -> {run['rss_after'][0]:.0f} MiB (with check workers "
          f"{run['rss_before'][1]:.0f} -> {run['rss_after'][1]:.0f} MiB)")
    print(f"  CPU cores busy: server {run['cpu'][0]:.2f}, its check workers {run['cpu'][1]:.2f}, this client "
          f"{run['cpu'][2]:.2f}")
    print(f"  {'operation':<22} {'requests':>8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'>1 s':>5} "
          f"{'errors':>6}")
    for name, op in sorted(run["ops"].items()):
        print(f"  {name:<22} {op['count']:>8,} {op['rate']:>8,.1f} {op['p50']:>8.2f} {op['p99']:>8.2f} "
              f"{op['max']:>8.1f} {op['over_1s']:>5} {op['errors']:>6}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", help="store folder (default $HCPCS_HOME)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--large-connections", type=int, default=2, help="of those, posting 478-line claims")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--runs", type=int, default=1, help="repeat, each on a fresh server; prints medians")
    parser.add_argument("--codes", type=int, default=3000, help="distinct codes in the lookups")
    parser.add_argument("--cache", action="store_true", help="keep the response cache on")
    parser.add_argument("--seed", type=int, default=20240812)
    args = parser.parse_args(argv)
    env = dict(os.environ)
    if args.home:
        env["HCPCS_HOME"] = args.home
    env.pop("HCPCS_API_KEYS", None)
    if not args.cache:
        env["HCPCS_CACHE_ENTRIES"] = "0"
    home = Path(env["HCPCS_HOME"]) if env.get("HCPCS_HOME") else None
    workload = build_workload(home, args.seed, args.codes)
    print(f"hcpcs serve, {args.connections} connections ({args.large_connections} posting large claims), "
          f"{args.seconds:g} s after {args.warmup:g} s of warm-up, response cache {'on' if args.cache else 'off'}, "
          f"{os.cpu_count()} CPUs; {len(set(workload.lookups))} distinct lookups")
    runs = []
    for number in range(args.runs):
        run = one_run(args, env, workload)
        print_run(f"run {number + 1}", run)
        runs.append(run)
    if args.runs > 1:
        print(f"\nmedians of {args.runs} runs: {statistics.median(r['rate'] for r in runs):,.0f} requests/s; "
              f"RSS growth {statistics.median(r['rss_after'][1] - r['rss_before'][1] for r in runs):+.0f} MiB")
        for name in sorted(runs[0]["ops"]):
            ops = [r["ops"][name] for r in runs if name in r["ops"]]
            print(f"  {name:<22} req/s {statistics.median(o['rate'] for o in ops):>8,.1f}  p50 "
                  f"{statistics.median(o['p50'] for o in ops):>7.2f} ms  p99 {statistics.median(o['p99'] for o in ops):>8.2f} ms"
                  f"  max {statistics.median(o['max'] for o in ops):>8.1f} ms  >1 s {sum(o['over_1s'] for o in ops)}")


if __name__ == "__main__":
    main()
