"""FakeServer: what the fake vendors share — serving on 127.0.0.1, injected faults, a request log.

A subclass calls ``super().__init__()``, adds its routes in ``_routes(app)`` and defines
``_middleware``, which records each request in ``requests``, waits ``delay`` plus the next
``slow_next`` seconds and answers the next ``fail_next`` failure before anything else.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar, Protocol, Self

from aiohttp import web


class _Recorded(Protocol):
    path: str


class FakeServer[RecordT: _Recorded]:
    """Start, stop and fault injection for a fake vendor's aiohttp app."""

    # extra keyword arguments for ``web.AppRunner``
    _runner_options: ClassVar[Mapping[str, Any]] = {}

    def __init__(self) -> None:
        """Serve nothing until ``start``."""
        self.requests: list[RecordT] = []
        self.delay = 0.0
        self._failures: list[tuple[int, bytes | None]] = []
        self._slow: list[float] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    def _routes(self, app: web.Application) -> None:
        """Add the vendor's endpoints to ``app``."""
        raise NotImplementedError

    async def _middleware(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        """Record, delay, fail or check the request before ``handler`` answers it."""
        raise NotImplementedError

    # --- serving ----------------------------------------------------------------------------

    async def start(self) -> str:
        """Serve on 127.0.0.1 (a free port); return the base URL."""
        app = web.Application(middlewares=[self._middleware])
        self._routes(app)
        self._runner = web.AppRunner(
            app, handler_cancellation=True, shutdown_timeout=0.5, **self._runner_options
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def close(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        """Start serving."""
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Stop serving."""
        await self.close()

    # --- faults and inspection --------------------------------------------------------------

    def fail_next(self, n: int = 1, status: int = 500, body: bytes | None = None) -> None:
        """The next ``n`` requests answer ``status`` (``body`` verbatim, or the fake's error)."""
        self._failures.extend([(status, body)] * n)

    def slow_next(self, n: int, seconds: float) -> None:
        """The next ``n`` requests wait ``seconds`` before answering."""
        self._slow.extend([seconds] * n)

    def requests_to(self, fragment: str) -> list[RecordT]:
        """The requests whose path contains ``fragment``."""
        return [request for request in self.requests if fragment in request.path]
