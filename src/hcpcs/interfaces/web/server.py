"""Running the app under uvicorn with the limits a public server needs (`hcpcs serve` calls `run`).

uvicorn times out idle keep-alive connections, but not a request head that arrives slowly: a client
that sends one header line every few seconds keeps its connection (a file descriptor and a parser) for
as long as it likes, and a thousand of them exhaust the server ("slowloris"). `HeaderDeadlineProtocol`
closes a connection whose request head is not complete `header_timeout` seconds after the connection
opened or after its previous answer was sent. The body's own read timeout is an ASGI middleware
(`security.BodyLimitMiddleware`), so it holds under any server; the header one cannot be, since the app
only sees a request once its head is complete.

To get the same under `uvicorn` directly: `uvicorn --factory hcpcs.interfaces.web.app:create_app --http
hcpcs.interfaces.web.server:HeaderDeadlineProtocol`.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from hcpcs.interfaces.web.security import DEFAULT_HEADER_TIMEOUT

MAX_HEADER_BYTES = 16 * 1024  # request line and headers (h11's default; a code lookup needs a few hundred)
MAX_CONNECTIONS = 2048  # connections and requests at once; beyond this uvicorn answers 503


def _header_timeout() -> float:
    raw = os.environ.get("HCPCS_HEADER_TIMEOUT", "").strip()
    try:
        value = float(raw) if raw else DEFAULT_HEADER_TIMEOUT
    except ValueError:
        value = DEFAULT_HEADER_TIMEOUT
    return value if value > 0 else DEFAULT_HEADER_TIMEOUT


class HeaderDeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline on each request head."""

    header_timeout: float = _header_timeout()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_deadline: asyncio.TimerHandle | None = None

    def _arm_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
        self._head_deadline = self.loop.call_later(self.header_timeout, self._head_deadline_passed)

    def _head_deadline_passed(self) -> None:
        self._head_deadline = None
        # IDLE: no complete request head since the connection opened or the last answer went out.
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None
        super().connection_lost(exc)


def config(app: Any, host: str, port: int, header_timeout: float | None = None, **options: Any) -> Any:
    """The uvicorn Config of `hcpcs serve`."""
    import uvicorn

    protocol = HeaderDeadlineProtocol
    if header_timeout is not None:
        protocol = type("HeaderDeadlineProtocol", (HeaderDeadlineProtocol,), {"header_timeout": header_timeout})
    return uvicorn.Config(app, host=host, port=port, http=protocol, timeout_keep_alive=5,
                          h11_max_incomplete_event_size=MAX_HEADER_BYTES, limit_concurrency=MAX_CONNECTIONS,
                          **{"log_level": "warning", "access_log": False, **options})


def run(host: str = "127.0.0.1", port: int = 8000, home: Path | None = None) -> None:
    """Serve the app over the store at `home` (default: $HCPCS_HOME or the per-user data folder)."""
    import uvicorn

    from hcpcs.interfaces.web.app import create_app

    app = create_app(home=home)
    uvicorn.Server(config(app, host, port, header_timeout=app.state.ctx.settings.header_timeout)).run()
