"""Benchmark of the web service: starts the server as a subprocess on 127.0.0.1 and drives it with an
async httpx client (loopback only; a bounded number of requests and a time cap per scenario), then prints
requests/s and p50/p90/p99 latency for

- lookup of one code (/api/lookup/G6002),
- lookup of a mix of codes and dates (codes drawn from the loaded store, fixed seed),
- check of one claim (POST /api/check, 77373 + G6002 on 2024-08-12),
- the code page (/code/G6002) for reference.

    HCPCS_HOME=STORE .venv/bin/python benchmarks/bench_serve.py
    HCPCS_HOME=STORE .venv/bin/python benchmarks/bench_serve.py --requests 2000 --concurrency 8
    HCPCS_HOME=STORE .venv/bin/python benchmarks/bench_serve.py --server cli      # `hcpcs serve`
    HCPCS_HOME=STORE .venv/bin/python benchmarks/bench_serve.py --workers 2       # uvicorn --workers 2

The client runs on the same machine as the server, so the two share the CPU: the report gives the
server's own CPU time per request (from /proc) as well, which is what bounds it on a busy host. Also
printed: the library call alone (in this process, no HTTP) so the HTTP/framework overhead is visible.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

CLAIM = {"id": "B1", "setting": "professional", "date_of_service": "2024-08-12",
         "lines": [{"code": "77373"}, {"code": "G6002"}]}
DATES = ("2024-08-12", "2025-06-01", "2026-02-01")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", help="store folder (default $HCPCS_HOME)")
    parser.add_argument("--requests", type=int, default=5000, help="requests per scenario (default 5000)")
    parser.add_argument("--seconds", type=float, default=20.0, help="time cap per scenario (default 20 s)")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight (default 16)")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (default 1)")
    parser.add_argument("--server", choices=("uvicorn", "cli"), default="uvicorn",
                        help="uvicorn --factory hcpcs.interfaces.web.app:create_app (default) or `hcpcs serve`")
    parser.add_argument("--codes", type=int, default=400, help="distinct codes in the lookup mix (default 400)")
    parser.add_argument("--no-cache", action="store_true",
                        help="start the server with HCPCS_CACHE_ENTRIES=0 (every request runs the library)")
    parser.add_argument("--client", choices=("httpx", "raw"), default="httpx",
                        help="httpx.AsyncClient (default) or a minimal asyncio HTTP/1.1 keep-alive client, to "
                             "see the server's capacity when the client's own CPU cost would hide it")
    parser.add_argument("--seed", type=int, default=20240812)
    return parser.parse_args(argv)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(args: argparse.Namespace, port: int, env: dict[str, str]) -> tuple[subprocess.Popen, float]:
    python = sys.executable
    if args.server == "cli":
        hcpcs = str(Path(python).with_name("hcpcs"))
        cmd = [hcpcs, "serve", "--host", "127.0.0.1", "--port", str(port)]
    else:
        cmd = [python, "-m", "uvicorn", "--factory", "hcpcs.interfaces.web.app:create_app", "--host", "127.0.0.1",
               "--port", str(port), "--log-level", "warning", "--no-access-log", "--workers", str(args.workers)]
    started = time.perf_counter()
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = started + 30
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited: {process.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/releases", timeout=1).status_code == 200:
                return process, time.perf_counter() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    process.kill()
    raise SystemExit("server did not answer within 30 s")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (the uvicorn workers), from /proc."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for one in pids:
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            continue
    return total


@dataclass
class Result:
    name: str
    count: int
    errors: int
    seconds: float
    latencies: list[float]
    server_cpu: float

    def row(self) -> str:
        lat = sorted(self.latencies)

        def pct(p: float) -> float:
            return lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else float("nan")

        rate = self.count / self.seconds if self.seconds else 0.0
        cpu_ms = self.server_cpu / self.count * 1000 if self.count else float("nan")
        return (f"{self.name:<28} {self.count:>7,} {rate:>9,.0f} {pct(0.5):>8.2f} {pct(0.9):>8.2f} {pct(0.99):>8.2f} "
                f"{statistics.fmean(lat) * 1000 if lat else 0:>8.2f} {cpu_ms:>9.3f} {self.errors:>6}")


class RawConnection:
    """One keep-alive HTTP/1.1 connection written by hand: a few microseconds of client CPU per request,
    against about a millisecond and a half for httpx, so that the client does not hide the server."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, url: str, body: Any) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        payload = json.dumps(body).encode() if body is not None else b""
        head = f"{method} {url} HTTP/1.1\r\nHost: {self.host}\r\nAccept: application/json\r\n"
        if payload:
            head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + payload)
        headers = await self.reader.readuntil(b"\r\n\r\n")
        status = int(headers[9:12])
        length = 0
        for line in headers.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await self.reader.readexactly(length)
        return status

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def drive_raw(name: str, base: str, requests: list[tuple[str, str, Any]], args: argparse.Namespace,
                    pid: int) -> Result:
    host, port = base.removeprefix("http://").split(":")
    connections = [RawConnection(host, int(port)) for _ in range(args.concurrency)]
    for method, url, body in requests[: min(200, len(requests))]:
        await connections[0].request(method, url, body)
    latencies: list[float] = []
    errors = 0
    index = 0
    stop_at = time.perf_counter() + args.seconds
    cpu_before = cpu_seconds(pid)
    started = time.perf_counter()

    async def worker(conn: RawConnection) -> None:
        nonlocal index, errors
        while index < args.requests and time.perf_counter() < stop_at:
            method, url, body = requests[index % len(requests)]
            index += 1
            t0 = time.perf_counter()
            status = await conn.request(method, url, body)
            latencies.append(time.perf_counter() - t0)
            if status >= 500 or (status >= 400 and "lookup" not in url):
                errors += 1

    await asyncio.gather(*(worker(c) for c in connections))
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds(pid) - cpu_before
    for conn in connections:
        await conn.close()
    return Result(name, len(latencies), errors, elapsed, latencies, cpu)


async def drive(name: str, base: str, requests: list[tuple[str, str, Any]], args: argparse.Namespace,
                pid: int) -> Result:
    if args.client == "raw":
        return await drive_raw(name, base, requests, args, pid)
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=10) as client:
        for method, url, body in requests[: min(200, len(requests))]:  # warm-up, not measured
            await client.request(method, url, json=body)
        latencies: list[float] = []
        errors = 0
        index = 0
        stop_at = time.perf_counter() + args.seconds
        cpu_before = cpu_seconds(pid)
        started = time.perf_counter()

        async def worker() -> None:
            nonlocal index, errors
            while index < args.requests and time.perf_counter() < stop_at:
                method, url, body = requests[index % len(requests)]
                index += 1
                t0 = time.perf_counter()
                response = await client.request(method, url, json=body)
                latencies.append(time.perf_counter() - t0)
                if response.status_code >= 500 or (response.status_code >= 400 and "lookup" not in url):
                    errors += 1

        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds(pid) - cpu_before
    return Result(name, len(latencies), errors, elapsed, latencies, cpu)


def sample_codes(home: Path | None, count: int, seed: int) -> list[str]:
    from hcpcs.store.session import Hcpcs

    hc = Hcpcs(home)
    rows = hc.store.conn.execute(
        "SELECT code FROM (SELECT DISTINCT code FROM hcpcs_code WHERE record_kind = 'procedure' "
        "UNION SELECT DISTINCT hcpcs FROM mpfs_rvu) ORDER BY code").fetchall()
    codes = [r[0] for r in rows]
    hc.close()
    return random.Random(seed).sample(codes, min(count, len(codes)))


def library_only(home: Path | None, codes: list[str], n: int = 2000) -> list[tuple[str, float]]:
    """Mean time of the library calls alone, warm, in this process."""
    from hcpcs.core.errors import HcpcsError
    from hcpcs.services.checking import Checker
    from hcpcs.services.reference import lookup
    from hcpcs.store.session import Hcpcs

    hc = Hcpcs(home)
    out = []
    for _ in range(50):
        lookup("G6002", "2024-08-12", hc=hc)
    t0 = time.perf_counter()
    for _ in range(n):
        lookup("G6002", "2024-08-12", hc=hc)
    out.append(("lookup G6002", (time.perf_counter() - t0) / n))
    pairs = [(c, DATES[i % len(DATES)]) for i, c in enumerate(codes)]
    for code, day in pairs:
        with contextlib.suppress(HcpcsError):  # a few sampled codes are not known on every date
            lookup(code, day, hc=hc)
    t0 = time.perf_counter()
    for i in range(n):
        code, day = pairs[i % len(pairs)]
        with contextlib.suppress(HcpcsError):
            lookup(code, day, hc=hc)
    out.append(("lookup mix", (time.perf_counter() - t0) / n))
    checker = Checker(hc)
    checker.check(CLAIM)
    t0 = time.perf_counter()
    for _ in range(n):
        checker.check(CLAIM)
    out.append(("check one claim", (time.perf_counter() - t0) / n))
    hc.close()
    return out


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    env = dict(os.environ)
    if args.home:
        env["HCPCS_HOME"] = args.home
    env.pop("HCPCS_API_KEYS", None)
    if args.no_cache:
        env["HCPCS_CACHE_ENTRIES"] = "0"
    home = Path(env["HCPCS_HOME"]) if env.get("HCPCS_HOME") else None
    codes = sample_codes(home, args.codes, args.seed)
    port = free_port()
    process, startup = start_server(args, port, env)
    base = f"http://127.0.0.1:{port}"
    print(f"server: {args.server}, {args.workers} worker(s), ready in {startup:.2f} s (process start to first "
          f"answer); client: {args.client}, {args.concurrency} in flight; response cache "
          f"{'off' if args.no_cache else 'on'}; {os.cpu_count()} CPUs shared")
    scenarios = {
        "lookup G6002": [("GET", "/api/lookup/G6002?as_of=2024-08-12", None)],
        "lookup mix": [("GET", f"/api/lookup/{c}?as_of={DATES[i % len(DATES)]}", None) for i, c in enumerate(codes)],
        "check one claim": [("POST", "/api/check", CLAIM)],
        "code page G6002": [("GET", "/code/G6002?as_of=2025-06-01", None)],
    }
    results = []
    try:
        for name, requests in scenarios.items():
            capped = argparse.Namespace(**{**vars(args), "requests": args.requests if "page" not in name
                                           else max(1, args.requests // 10)})
            results.append(asyncio.run(drive(name, base, requests, capped, process.pid)))
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
    print(f"\n{'scenario':<28} {'requests':>7} {'req/s':>9} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} "
          f"{'mean ms':>8} {'srv CPU ms':>9} {'errors':>6}")
    for result in results:
        print(result.row())
    print("\nlibrary call alone (this process, warm, no HTTP):")
    for name, seconds in library_only(home, codes):
        print(f"  {name:<26} {seconds * 1000:8.3f} ms")


if __name__ == "__main__":
    main()
