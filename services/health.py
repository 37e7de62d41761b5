"""`/healthz` (the process is alive) and `/readyz` (its dependencies answer), the same on every service.

Alive means the process's essential background tasks (its consumers) still run: one that ended on its own
answers 503 on `/healthz` and makes the process exit non-zero (`serve`), so that its supervisor restarts it.
"""

import asyncio
import contextlib
import logging
import sys
from collections.abc import Awaitable, Callable

import uvicorn
from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse

log = logging.getLogger(__name__)

Check = Callable[[], Awaitable[object]]


class Liveness:
    """The background tasks a process cannot live without, and which of them failed."""

    def __init__(self) -> None:
        self._tasks: list[asyncio.Task[None]] = []
        self.failed: str | None = None
        self._on_failure: Callable[[], None] = lambda: None

    def watch(self, task: asyncio.Task[None]) -> asyncio.Task[None]:
        """Count `task` as essential: if it raises, the process is no longer alive."""
        self._tasks.append(task)
        task.add_done_callback(self._ended)
        return task

    def on_failure(self, callback: Callable[[], None]) -> None:
        """Call `callback` (stop the server) when the first essential task fails."""
        self._on_failure = callback

    def dead(self) -> dict[str, str]:
        """The essential tasks that are no longer running, and why."""
        ended = (task for task in self._tasks if task.done())
        return {t.get_name(): "cancelled" if t.cancelled() else f"stopped: {t.exception()!r}" for t in ended}

    def _ended(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or task.exception() is None:
            return  # a task ends without an error only when the process stops
        log.critical("%s failed; the process exits so that it is restarted", task.get_name(), exc_info=task.exception())
        if self.failed is None:
            self.failed = task.get_name()
            self._on_failure()


def serve(app: FastAPI, host: str, port: int) -> None:
    """Serve `app` until it is stopped, as uvicorn.run does; exit 1 when one of its essential tasks failed."""
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False))
    liveness: Liveness | None = getattr(app.state, "liveness", None)
    if liveness is not None:
        liveness.on_failure(lambda: setattr(server, "should_exit", True))
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: uvicorn has shut down gracefully already
        server.run()
    if liveness is not None and liveness.failed is not None:
        sys.exit(1)
    if not server.started:
        sys.exit(3)  # uvicorn's own code for a start-up failure


def health_routes(checks: dict[str, Check], timeout_s: float = 2.0, liveness: Liveness | None = None) -> APIRouter:
    """Routes that answer 503 with the failing dependency (or dead essential task) named."""
    routes = APIRouter()

    @routes.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        dead = liveness.dead() if liveness is not None else {}
        if dead:
            return JSONResponse({"error": "not_alive", "detail": dead}, status_code=503)
        return JSONResponse({"status": "ok"})

    @routes.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        failed: dict[str, str] = {}
        for name, check in checks.items():
            try:
                async with asyncio.timeout(timeout_s):
                    await check()
            except Exception as error:  # any failure means "not ready"; the body says which and why
                failed[name] = repr(error)
        if failed:
            return JSONResponse({"error": "not_ready", "detail": failed}, status_code=503)
        return JSONResponse({"status": "ready"})

    return routes


def tasks_running(tasks: list[asyncio.Task[None]]) -> Check:
    """A readiness check that fails once any background task (a consumer, a sweep) has stopped."""

    async def check() -> bool:
        for task in tasks:
            if task.cancelled():
                raise RuntimeError(f"{task.get_name()} was cancelled")
            if task.done():
                raise RuntimeError(f"{task.get_name()} stopped: {task.exception()!r}")
        return True

    return check
