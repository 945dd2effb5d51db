"""What every route of the web app shares: the store and its pooled connections, the runner that does
library work under a time budget, the response cache, settings and templates (`AppContext`, reached from a
request with `context`), and the JSON response class. The routers (`api`, `fhir`, `pages`) import this
module; `app` assembles them."""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from fastapi import Request
from starlette.responses import JSONResponse
from starlette.templating import Jinja2Templates

from hcpcs.core.errors import DataNotLoadedError, HcpcsError
from hcpcs.interfaces.web.checks import ClaimChecks, TooManyLines
from hcpcs.interfaces.web.problems import Problem
from hcpcs.interfaces.web.security import Settings
from hcpcs.services import Hcpcs

log = logging.getLogger("hcpcs.web")
T = TypeVar("T")


class JSONBody(JSONResponse):
    """JSON without FastAPI's encoder pass (the library's dicts are plain JSON already). A JSONResponse,
    so that the OpenAPI document gives each route's response model as its body."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8")


class RequestTimeout(Exception):
    pass


class HcpcsPool:
    """Read-only connections to the store, one per worker thread in use. SQLite connections are not
    shared between threads: a connection used by one thread at a time needs no locking, lets SQLite work
    run in parallel (the GIL is released while a query steps), and can carry a progress handler that
    stops the query of a request over its time budget. Connections opened before the store changed
    (`generation`) are closed when they come back instead of being reused."""

    def __init__(self, path: Path, size: int, prepare: Callable[[Hcpcs], None]) -> None:
        self.path = path
        self.size = size
        self.prepare = prepare
        self.generation = 0
        self._idle: queue.SimpleQueue[tuple[Hcpcs, int]] = queue.SimpleQueue()
        self._opened = 0
        self._lock = threading.Lock()

    def _open(self) -> Hcpcs:
        hc = Hcpcs.open_readonly(self.path)
        self.prepare(hc)
        return hc

    def acquire(self, timeout: float) -> tuple[Hcpcs, int]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                hc, generation = self._idle.get_nowait()
            except queue.Empty:
                break
            if generation == self.generation:
                return hc, generation
            self._discard(hc)
        with self._lock:
            can_open = self._opened < self.size
            if can_open:
                self._opened += 1
        if can_open:
            generation = self.generation
            try:
                return self._open(), generation
            except BaseException:
                with self._lock:
                    self._opened -= 1
                raise
        try:
            hc, generation = self._idle.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            raise RequestTimeout() from None
        if generation != self.generation:
            self._discard(hc)
            return self.acquire(max(0.01, deadline - time.monotonic()))
        return hc, generation

    def release(self, hc: Hcpcs, generation: int) -> None:
        if generation == self.generation:
            self._idle.put((hc, generation))
        else:
            self._discard(hc)

    def _discard(self, hc: Hcpcs) -> None:
        with self._lock:
            self._opened -= 1
        with contextlib.suppress(Exception):  # closing a stale read-only connection cannot lose anything
            hc.close()

    def renew(self) -> None:
        """The store changed: connections in use finish their call, then every one is reopened."""
        self.generation += 1


class Runner:
    """Runs library calls in worker threads under the request's time budget, each call with a pooled
    connection of its own (`current()` inside the call). A call over budget is answered 503 at once;
    its SQLite work is stopped by the connection's progress handler soon after."""

    def __init__(self, hc: Hcpcs | None, timeout: float, threads: int = 4, sqlite_cache_kib: int = 8192) -> None:
        self.timeout = timeout
        self.threads = threads
        self.sqlite_cache_kib = sqlite_cache_kib
        self._local = threading.local()
        self.pool = self._pool(hc) if hc is not None else None

    def _pool(self, hc: Hcpcs) -> HcpcsPool:
        return HcpcsPool(hc.store.path, self.threads, self._prepare)

    def attach(self, hc: Hcpcs) -> None:
        self.pool = self._pool(hc)

    def _prepare(self, hc: Hcpcs) -> None:
        # Each connection keeps its own page cache, and the store's default is 64 MiB: with a connection
        # per worker thread plus the event loop's, a workload over many codes and dates grew the server by
        # that much per connection. The operating system's file cache is shared by all of them anyway.
        hc.store.conn.execute(f"PRAGMA cache_size=-{int(self.sqlite_cache_kib)}")
        hc.store.conn.set_progress_handler(self._progress, 20_000)

    def _progress(self) -> int:
        deadline = getattr(self._local, "deadline", None)
        return 1 if deadline is not None and time.monotonic() > deadline else 0

    def expired(self) -> bool:
        """For long loops inside a call: whether the current call's budget is spent."""
        return self._progress() == 1

    def current(self) -> Hcpcs | None:
        """The connection of the call running in this thread (None outside a call)."""
        return getattr(self._local, "hc", None)

    def _call(self, fn: Callable[..., T], deadline: float, hc: Hcpcs | None, args: tuple, kwargs: dict) -> T:
        self._local.deadline = deadline
        self._local.hc = hc
        try:
            return fn(*args, **kwargs)
        except (HcpcsError, Problem):
            if time.monotonic() > deadline:
                raise RequestTimeout() from None
            raise
        except (RequestTimeout, TooManyLines):
            raise
        except Exception as exc:
            if time.monotonic() > deadline:
                raise RequestTimeout() from None
            # Log where it failed but not the message: it may quote claim contents.
            frames = "".join(traceback.format_tb(exc.__traceback__))
            log.error("unexpected %s in %s\n%s", type(exc).__name__, getattr(fn, "__qualname__", fn), frames)
            raise Problem(500, "internal-error", f"hcpcs failed unexpectedly ({type(exc).__name__})") from None
        finally:
            self._local.deadline = None
            self._local.hc = None

    def _work(self, fn: Callable[..., T], deadline: float, args: tuple, kwargs: dict) -> T:
        pool = self.pool
        hc, generation = pool.acquire(deadline - time.monotonic()) if pool is not None else (None, 0)
        try:
            return self._call(fn, deadline, hc, args, kwargs)
        finally:
            if hc is not None and pool is not None:
                pool.release(hc, generation)

    def _timeout(self) -> Problem:
        return Problem(503, "request-timeout", f"the request took longer than {self.timeout:g} s and was stopped",
                       headers={"Retry-After": "1"})

    async def __call__(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn` in a worker thread with a pooled connection."""
        deadline = time.monotonic() + self.timeout
        try:
            with anyio.fail_after(self.timeout + 0.25):
                return await anyio.to_thread.run_sync(self._work, fn, deadline, args, kwargs,
                                                      abandon_on_cancel=True)
        except (TimeoutError, RequestTimeout):
            raise self._timeout() from None

    def inline(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a short, bounded call (one lookup, one small claim) on the event loop's own thread and
        connection: no thread hand-off, which costs more than such a call. Its SQL still stops at the
        deadline."""
        pool = self.pool
        hc = None
        if pool is not None:  # the connection of this thread (the event loop's), never shared
            own = getattr(self._local, "own", None)
            if own is None or own[1] != pool.generation:
                if own is not None:
                    own[0].close()
                own = self._local.own = (pool._open(), pool.generation)
            hc = own[0]
        try:
            return self._call(fn, time.monotonic() + self.timeout, hc, args, kwargs)
        except RequestTimeout:
            raise self._timeout() from None


ENTRY_OVERHEAD_BYTES = 256  # the key, the tuple and the dictionary slot of an entry, roughly


class ResponseCache:
    """Answers of read-only requests (JSON bytes, rendered pages, and parts of pages), by their
    normalized arguments (and today's date, which "no date" means). Bounded by entries and bytes (each
    entry counted at its size plus ENTRY_OVERHEAD_BYTES); an answer over a sixteenth of the byte bound is
    not kept. Emptied when the store changes. Shared by the worker threads, hence the lock."""

    def __init__(self, max_entries: int = 2048, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._items: OrderedDict[Any, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: Any) -> Any:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return item[0]

    def put(self, key: Any, value: Any, size: int | None = None) -> None:
        size = (len(value) if size is None else size) + ENTRY_OVERHEAD_BYTES
        if self.max_entries <= 0 or size > self.max_bytes // 16:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._items[key] = (value, size)
            self._bytes += size
            while len(self._items) > self.max_entries or self._bytes > self.max_bytes:
                _, (_, dropped) = self._items.popitem(last=False)
                self._bytes -= dropped

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"entries": len(self._items), "bytes": self._bytes, "hits": self.hits, "misses": self.misses,
                    "max_entries": self.max_entries, "max_bytes": self.max_bytes}


STORE_CHECK_SECONDS = 1.0


@dataclass
class AppContext:
    """What every route needs: the store (None when no data is loaded), settings, runner, templates.
    Inside `run(...)` calls, `hc` is the calling thread's pooled connection; outside, the app's own
    (used on the event loop only, for the cached release list and to notice a changed store)."""

    hc_or_none: Hcpcs | None
    settings: Settings
    run: Runner
    templates: Jinja2Templates
    load_error: str | None = None
    home: Path | None = None
    packs: dict[str, Any] = field(default_factory=dict)
    cache: ResponseCache = field(default_factory=ResponseCache)
    checks: ClaimChecks | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    _checked_at: float = 0.0
    _data_version: int | None = None

    @property
    def hc(self) -> Hcpcs:
        current = self.run.current()
        if current is not None:
            return current
        if self.hc_or_none is None:
            raise DataNotLoadedError(self.load_error or "no hcpcs data is loaded; run `hcpcs update`")
        return self.hc_or_none

    def refresh(self) -> None:
        """At most once a second (on the event loop): notice that `hcpcs update` has changed the store, or
        created it, and start answering from the new data (the release list, connections, caches)."""
        now = time.monotonic()
        if now - self._checked_at < STORE_CHECK_SECONDS:
            return
        self._checked_at = now
        if self.hc_or_none is None:
            try:
                hc = Hcpcs(self.home)
                hc.releases  # noqa: B018
            except DataNotLoadedError:
                return
            self.hc_or_none, self.load_error = hc, None
            self.run.attach(hc)
            if self.checks is not None:
                self.checks.attach(hc.store.path)
            self._data_version = hc.store.data_version()
            return
        version = self.hc_or_none.store.data_version()
        if self._data_version is None:
            self._data_version = version
        elif version != self._data_version:
            self._data_version = version
            self.hc_or_none.refresh()
            if self.run.pool is not None:
                self.run.pool.renew()
            if self.checks is not None:
                self.checks.renew()
            self.cache.clear()
            log.info("the store changed; answering from the new data")


def context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    ctx.refresh()
    return ctx


def load_packs() -> dict[str, Any]:
    from hcpcs.services.checking import builtin_packs, load_pack

    packs: dict[str, Any] = {}
    for stem in sorted(builtin_packs()):
        pack = load_pack(stem)
        packs[pack.id] = pack
    return packs


def wants_html(request: Request) -> bool:
    """Whether an error should be an HTML page: a page address asked for by a browser."""
    path = request.url.path
    if path.startswith(("/api/", "/fhir/", "/static/")) or path in ("/api", "/fhir", "/openapi.json"):
        return False
    return "text/html" in request.headers.get("accept", "")


def version() -> str:
    try:
        from importlib.metadata import version

        return version("hcpcs")
    except Exception:  # noqa: BLE001 - not installed: running from a checkout
        return "0"


SHORT_DATASET_NAMES = {"hcpcs": "HCPCS", "mpfs": "physician fee schedule", "opps": "OPPS"}


def coverage_hint(hc: Hcpcs, datasets: tuple[str, ...], how: str) -> str:
    """What the newest loaded release of each dataset covers, and how to ask for another date: said with
    every "no release covers the date" answer, so that "no data" is never read as "invalid"."""
    from hcpcs.core.tables import dataset_title

    parts = []
    for dataset in datasets:
        name = SHORT_DATASET_NAMES.get(dataset) or dataset_title(dataset)
        releases = [r for r in hc.releases if r.dataset == dataset]
        if not releases:
            parts.append(f"no {name} release is loaded (run `hcpcs update`)")
            continue
        newest = max(releases, key=lambda r: (r.effective_start, r.id))
        period = (f"{newest.effective_start} to {newest.effective_end}" if newest.effective_end
                  else f"from {newest.effective_start}")
        parts.append(f"the newest {name} release loaded is {newest.label} ({period})")
    text = "; ".join(parts)
    return f"{text[:1].upper()}{text[1:]}. Ask for another date with {how}."
