"""Slow clients against `hcpcs serve` in a separate process ("slowloris"): N connections that each send a
request line and then one header line every few seconds, never finishing the head; and N that finish the
head of a POST but trickle its body. Prints the server's open files (/proc/PID/fd) over time, how long the
connections were held, and whether a normal lookup still answered meanwhile.

    HCPCS_HOME=STORE .venv/bin/python benchmarks/bench_slow_clients.py
    HCPCS_HOME=STORE .venv/bin/python benchmarks/bench_slow_clients.py --connections 1000 --interval 5 --seconds 40

Target: the connections are dropped by the header timeout (HCPCS_HEADER_TIMEOUT, default 10 s) and the
body timeout (HCPCS_BODY_TIMEOUT, default 30 s; `--body-timeout` sets it for the run), and the open files
return to where they started.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_mixed import start_server  # noqa: E402 - the same server start-up


def open_files(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


async def slow_client(host: str, port: int, interval: float, seconds: float, body: bool,
                      closed_after: list[float]) -> None:
    started = time.monotonic()
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        closed_after.append(0.0)
        return
    try:
        if body:
            writer.write(b"POST /api/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 100000\r\n\r\n")
        else:
            writer.write(b"GET /api/lookup/G6002 HTTP/1.1\r\nHost: x\r\n")
        await writer.drain()
        while time.monotonic() - started < seconds:
            try:
                data = await asyncio.wait_for(reader.read(4096), timeout=interval)
                if not data:  # the server closed the connection
                    break
            except TimeoutError:
                writer.write(b" " if body else b"X-Slow: 1\r\n")
                await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        closed_after.append(time.monotonic() - started)
        writer.close()


async def scenario(name: str, host: str, port: int, pid: int, args: argparse.Namespace, body: bool) -> None:
    before = open_files(pid)
    closed_after: list[float] = []
    tasks = [asyncio.create_task(slow_client(host, port, args.interval, args.seconds, body, closed_after))
             for _ in range(args.connections)]
    started = time.monotonic()
    samples = []
    probe_ms = []
    async with httpx.AsyncClient(base_url=f"http://{host}:{port}", timeout=10) as client:
        while not all(t.done() for t in tasks):
            await asyncio.sleep(1.0)
            t0 = time.perf_counter()
            status = (await client.get("/api/lookup/G6002?as_of=2024-08-12")).status_code
            probe_ms.append(((time.perf_counter() - t0) * 1000, status))
            samples.append((round(time.monotonic() - started), open_files(pid)))
    await asyncio.gather(*tasks)
    after = open_files(pid)
    held = sorted(closed_after)
    print(f"\n{name}: {args.connections} connections, one piece every {args.interval:g} s, client gives up after "
          f"{args.seconds:g} s")
    print(f"  server open files: before {before}, peak {max(n for _, n in samples)}, after {after}")
    print("  open files over time (s: count): " + ", ".join(f"{s}: {n}" for s, n in samples[:: max(1, len(samples) // 12)]))
    print(f"  connections held: median {held[len(held) // 2]:.1f} s, max {held[-1]:.1f} s; "
          f"closed by the server before the client gave up: {sum(1 for h in held if h < args.seconds - 0.5)}")
    worst = max(probe_ms)
    print(f"  a normal lookup meanwhile: worst {worst[0]:.1f} ms (status {worst[1]}), "
          f"{sum(1 for _, s in probe_ms if s != 200)} not 200")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", help="store folder (default $HCPCS_HOME)")
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between the pieces a client sends")
    parser.add_argument("--seconds", type=float, default=40.0, help="how long each client keeps trying")
    parser.add_argument("--body-timeout", type=float, default=15.0, help="HCPCS_BODY_TIMEOUT for the run")
    args = parser.parse_args(argv)
    env = dict(os.environ)
    if args.home:
        env["HCPCS_HOME"] = args.home
    env["HCPCS_BODY_TIMEOUT"] = str(args.body_timeout)
    env.pop("HCPCS_API_KEYS", None)
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < args.connections * 2 + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, args.connections * 2 + 100), hard))
    process, port = start_server(env)
    try:
        print(f"hcpcs serve pid {process.pid} on 127.0.0.1:{port}; header timeout "
              f"{env.get('HCPCS_HEADER_TIMEOUT', '10 (default)')} s, body timeout {args.body_timeout:g} s")
        asyncio.run(scenario("slow request heads", "127.0.0.1", port, process.pid, args, body=False))
        asyncio.run(scenario("slow request bodies", "127.0.0.1", port, process.pid, args, body=True))
    finally:
        process.terminate()
        process.wait(timeout=10)


if __name__ == "__main__":
    main()
