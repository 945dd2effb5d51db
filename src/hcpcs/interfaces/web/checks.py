"""Claim checking for the web: the one path that `POST /api/check` and the `/check` page share, with the
same limits (body size, claims per request, lines per claim, JSON nesting) and the same time budget,
enforced on the work itself.

Claim checking is pure Python and CPU-bound, so wherever it runs in the server process it holds the
interpreter lock, and every lookup waiting on the event loop waits for it (four 478-line claims on the
event loop once raised an unrelated lookup from 29 ms to 6 s). Two lanes:

- **small requests** (a body of at most SMALL_BODY_BYTES holding at most SMALL_LINES claim lines: the
  one-claim checks of a billing system) are checked in a worker thread of the server, where they cost a
  fraction of a millisecond;
- **everything else** goes to a worker process (`HCPCS_CHECK_PROCESSES`, default 1) with its own
  read-only connection to the store. Its interpreter is its own, so lookups are not slowed by it. The
  time budget is enforced twice: the checker stops between claims when it is spent (`should_stop`), and
  a worker that has not answered shortly after the deadline (one enormous claim) is killed and replaced.

With `HCPCS_CHECK_PROCESSES=0` every check runs in threads (still stopped between claims at the
deadline)."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import multiprocessing
import os
import queue
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from hcpcs.core.errors import (
    ClaimFormatError,
    ClaimInputError,
    ClaimLimitError,
    HcpcsError,
)
from hcpcs.interfaces.web.problems import Problem, field_error, from_error
from hcpcs.interfaces.web.security import json_depth

log = logging.getLogger("hcpcs.web")

SMALL_BODY_BYTES = 4096  # a body this small holds a claim or two
SMALL_LINES = 40  # claim lines checked in the server's own threads; more go to a worker process
MAX_CLAIM_LINES = 999  # lines in one claim: the most an X12 837I claim may carry (837P: 50)
WORKER_NICENESS = 5
KILL_GRACE_SECONDS = 1.0  # how long past its deadline a worker may take to stop by itself


@dataclass(frozen=True)
class CheckLimits:
    max_claims: int
    max_json_depth: int
    max_claim_lines: int = MAX_CLAIM_LINES


class TooManyLines(Exception):
    """The request has more lines than the server's own threads check: send it to a worker process."""


def _looks_like_json(body: bytes, fmt: str | None) -> bool:
    return fmt in ("json", "jsonl") or (fmt is None and body.lstrip()[:1] in (b"{", b"["))


def read_claims(body: bytes, fmt: str | None, limits: CheckLimits, name: str) -> tuple[list[Any], bool]:
    """The claims of a request body (via `hcpcs.services.checking.read_claim_items`) and whether it was one
    claim object, within the limits. Problems: 400 unreadable or nested too deep, 413 too many claims or
    lines, 422 a bad single claim or no claims."""
    from hcpcs.services import checking

    if _looks_like_json(body, fmt):
        depth = json_depth(body)
        if depth > limits.max_json_depth:
            raise Problem(400, "malformed-body", f"the JSON of {name} nests {depth} levels deep; at most "
                          f"{limits.max_json_depth} are read", [field_error(name, "nested too deeply", "body")])
    try:
        items, single = checking.read_claim_items(body, fmt, name=name, max_claims=limits.max_claims)
    except ClaimLimitError as exc:
        raise Problem(413, "content-too-large",
                      f"{exc.message}; one request may check at most {limits.max_claims:,}",
                      [field_error(name, f"at most {limits.max_claims:,} claims", "body")]) from None
    except ClaimFormatError as exc:
        raise Problem(400, "malformed-body", str(exc), [field_error(name, exc.message, "body")]) from None
    except ClaimInputError as exc:
        raise Problem(422, "invalid-claim", str(exc), [field_error(name, exc.message, "body")]) from None
    if single and isinstance(items[0], checking.ClaimError):
        error = items[0]
        raise Problem(422, "invalid-claim", f"{error.location}: {error.message}",
                      [field_error(error.location, error.message, "body")])
    for position, item in enumerate(items):
        lines = getattr(item, "lines", ())
        if len(lines) > limits.max_claim_lines:
            where = name if single else f"{name}[{position}]"
            raise Problem(413, "content-too-large", f"claim {item.id!r} has {len(lines):,} lines; one claim may "
                          f"have at most {limits.max_claim_lines:,}",
                          [field_error(where, f"at most {limits.max_claim_lines:,} lines", "body")])
    return items, single


def chosen_packs(packs: dict[str, Any], pack_ids: tuple[str, ...]) -> tuple[list[Any], list[str]]:
    """The packs asked for and the default packs turned off ("-id" in `pack_ids`)."""
    return ([packs[p] for p in pack_ids if not p.startswith("-")], [p[1:] for p in pack_ids if p.startswith("-")])


def check_request(hc: Any, packs: tuple[list[Any], list[str]], body: bytes, fmt: str | None, limits: CheckLimits,
                  name: str,
                  should_stop: Callable[[], bool], max_lines: int | None = None) -> tuple[list[Any], bool, list[Any]]:
    """Read and check the claims of one request: (items, single, results). TooManyLines when `max_lines`
    is given and the claims have more lines."""
    from hcpcs.services import checking

    items, single = read_claims(body, fmt, limits, name)
    if max_lines is not None and sum(len(getattr(item, "lines", ())) for item in items) > max_lines:
        raise TooManyLines()
    try:
        results = checking.check_items(items, hc, packs=packs[0], no_packs=packs[1], should_stop=should_stop)
    except ClaimInputError as exc:
        raise from_error(exc, name, "body") from None
    return items, single, results


def render_json(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8")


# ------------------------------------------------------------------------------------ worker processes


@dataclass(frozen=True)
class Job:
    body: bytes
    fmt: str | None
    limits: CheckLimits
    pack_ids: tuple[str, ...]
    name: str
    deadline: float  # time.time() (the wall clock: one clock for both processes)
    objects: bool  # answer with (items, results) for the page rather than JSON bytes


def _worker_main(conn: Any, db_path: str, sqlite_cache_kib: int) -> None:
    """A worker process: reads jobs from the pipe until it closes (the server stopped)."""
    import signal

    from hcpcs.interfaces.web.context import load_packs
    from hcpcs.services import Hcpcs

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in the terminal stops the server, which stops us
    # Large checks are throughput work: at a lower priority the server's lookups get a core when they need
    # one, and the checks take what is left.
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICENESS)
    hc = Hcpcs.open_readonly(Path(db_path))
    hc.store.conn.execute(f"PRAGMA cache_size=-{int(sqlite_cache_kib)}")
    deadline = [math.inf]
    hc.store.conn.set_progress_handler(lambda: 1 if time.time() > deadline[0] else 0, 20_000)
    packs = load_packs()
    while True:
        try:
            job: Job = conn.recv()
        except (EOFError, OSError):
            return
        deadline[0] = job.deadline
        conn.send(_run_job(hc, packs, job))
        deadline[0] = math.inf


def _run_job(hc: Any, packs: dict[str, Any], job: Job) -> tuple[Any, ...]:
    def should_stop() -> bool:
        return time.time() > job.deadline

    try:
        items, single, results = check_request(hc, chosen_packs(packs, job.pack_ids), job.body, job.fmt,
                                               job.limits, job.name, should_stop)
        if job.objects:
            return ("objects", items, single, results)
        return ("json", single, render_json(results[0] if single else results))
    except Problem as problem:
        return ("problem", problem.status, problem.slug, problem.detail, problem.errors, problem.headers)
    except HcpcsError as exc:
        if time.time() > job.deadline:
            return ("stopped",)
        problem = from_error(exc, job.name, "body")
        return ("problem", problem.status, problem.slug, problem.detail, problem.errors, problem.headers)
    except Exception as exc:  # noqa: BLE001 - reported to the server, which answers 500 and logs it
        if time.time() > job.deadline:
            return ("stopped",)
        return ("failed", type(exc).__name__, "".join(traceback.format_tb(exc.__traceback__)))


class Worker:
    """One worker process and the pipe to it; started on first use."""

    def __init__(self, db_path: Path, sqlite_cache_kib: int) -> None:
        self.db_path = db_path
        self.sqlite_cache_kib = sqlite_cache_kib
        self.process: Any = None
        self.conn: Any = None

    def _start(self) -> None:
        spawn = multiprocessing.get_context("spawn")  # never fork a process that runs threads
        parent, child = spawn.Pipe()
        self.process = spawn.Process(target=_worker_main, args=(child, str(self.db_path), self.sqlite_cache_kib),
                                     name="hcpcs-check-worker", daemon=True)
        self.process.start()
        child.close()
        self.conn = parent

    def run(self, job: Job) -> tuple[Any, ...]:
        """Send a job and wait for its answer until shortly past its deadline; past that the process is
        killed (the claim was too large to stop between claims) and ("killed",) returned."""
        if self.process is None or not self.process.is_alive():
            self.stop()
            self._start()
        try:
            self.conn.send(job)
            if self.conn.poll(max(0.0, job.deadline - time.time()) + KILL_GRACE_SECONDS):
                return self.conn.recv()
        except (EOFError, OSError, BrokenPipeError):
            self.stop()
            return ("failed", "WorkerDied", "")
        self.stop()
        return ("killed",)

    def stop(self) -> None:
        if self.process is not None:
            with contextlib.suppress(Exception):  # already gone
                self.process.kill()
                self.process.join(timeout=2)
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.close()
        self.process = self.conn = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None


class WorkerPool:
    """The worker processes, handed out one job at a time."""

    def __init__(self, db_path: Path, size: int, sqlite_cache_kib: int) -> None:
        self.size = size
        self._idle: queue.SimpleQueue[Worker] = queue.SimpleQueue()
        self._all = [Worker(db_path, sqlite_cache_kib) for _ in range(size)]
        for worker in self._all:
            self._idle.put(worker)
        self._lock = threading.Lock()

    def run(self, job: Job) -> tuple[Any, ...]:
        try:
            worker = self._idle.get(timeout=max(0.0, job.deadline - time.time()))
        except queue.Empty:
            return ("stopped",)
        try:
            return worker.run(job)
        finally:
            self._idle.put(worker)

    def stop(self) -> None:
        for worker in self._all:
            worker.stop()

    def pids(self) -> list[int]:
        return [w.pid for w in self._all if w.pid is not None]


class ClaimChecks:
    """Chooses the lane of each check request and runs it under the request's time budget."""

    def __init__(self, timeout: float, processes: int, sqlite_cache_kib: int) -> None:
        self.timeout = timeout
        self.processes = processes
        self.sqlite_cache_kib = sqlite_cache_kib
        self.pool: WorkerPool | None = None
        self._db_path: Path | None = None
        self._lock = threading.Lock()

    def attach(self, db_path: Path) -> None:
        with self._lock:
            self._db_path = db_path
            if self.pool is not None:
                self.pool.stop()
                self.pool = None

    def renew(self) -> None:
        """The store changed: workers are replaced (they reopen the store) as they come free."""
        with self._lock:
            old, self.pool = self.pool, None
        if old is not None:
            old.stop()

    def stop(self) -> None:
        self.renew()

    def _pool(self) -> WorkerPool | None:
        if self.processes <= 0 or self._db_path is None:
            return None
        with self._lock:
            if self.pool is None:
                self.pool = WorkerPool(self._db_path, self.processes, self.sqlite_cache_kib)
            return self.pool

    def timeout_problem(self) -> Problem:
        return Problem(503, "request-timeout", f"the claims took longer than {self.timeout:g} s to check and "
                       "checking was stopped; send fewer claims per request", headers={"Retry-After": "1"})

    async def check(self, ctx: Any, body: bytes, fmt: str | None, pack_ids: tuple[str, ...], *, name: str = "body",
                    objects: bool = False) -> tuple[Any, ...]:
        """("json", single, bytes) or, with `objects`, ("objects", items, single, results)."""
        limits = CheckLimits(ctx.settings.max_claims, ctx.settings.max_json_depth)
        pool = self._pool()
        if pool is None or len(body) <= SMALL_BODY_BYTES:
            try:
                return await ctx.run(self._in_thread, ctx, body, fmt, limits, pack_ids, name, objects,
                                     None if pool is None else SMALL_LINES)
            except TooManyLines:
                pass
        deadline = time.time() + self.timeout
        job = Job(body, fmt, limits, pack_ids, name, deadline, objects)
        with anyio.fail_after(self.timeout + KILL_GRACE_SECONDS + 1.0):
            answer = await anyio.to_thread.run_sync(pool.run, job, abandon_on_cancel=True)
        kind = answer[0]
        if kind in ("json", "objects"):
            return answer
        if kind == "problem":
            _, status, slug, detail, errors, headers = answer
            raise Problem(status, slug, detail, errors, headers)
        if kind in ("stopped", "killed"):
            raise self.timeout_problem()
        log.error("unexpected %s in a claim-check worker\n%s", answer[1], answer[2])
        raise Problem(500, "internal-error", f"hcpcs failed unexpectedly ({answer[1]})")

    @staticmethod
    def _in_thread(ctx: Any, body: bytes, fmt: str | None, limits: CheckLimits, pack_ids: tuple[str, ...],
                   name: str, objects: bool, max_lines: int | None) -> tuple[Any, ...]:
        items, single, results = check_request(ctx.hc, chosen_packs(ctx.packs, pack_ids), body, fmt, limits, name,
                                               ctx.run.expired, max_lines)
        if objects:
            return ("objects", items, single, results)
        return ("json", single, render_json(results[0] if single else results))
