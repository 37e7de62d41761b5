"""`/healthz` (the process is alive) and `/readyz` (its dependencies answer), the same on every service."""

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import APIRouter
from fastapi.responses import JSONResponse

Check = Callable[[], Awaitable[object]]


def health_routes(checks: dict[str, Check], timeout_s: float = 2.0) -> APIRouter:
    """Routes that answer 503 with the failing dependency named when any check fails or hangs."""
    routes = APIRouter()

    @routes.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

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
