"""`/healthz` tells the truth about a process's essential tasks, and a process whose task failed exits non-zero."""

import asyncio
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
from fastapi import FastAPI

from loadtests.ports import free_port
from services.health import Liveness, health_routes

REPO = Path(__file__).resolve().parents[2]


def app_with(liveness: Liveness) -> FastAPI:
    app = FastAPI()
    app.include_router(health_routes({}, liveness=liveness))
    return app


async def healthz(app: FastAPI) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        return await client.get("/healthz")


async def test_healthz_answers_200_while_the_essential_tasks_run():
    liveness = Liveness()

    async def consumes() -> None:
        await asyncio.Event().wait()

    running = liveness.watch(asyncio.create_task(consumes(), name="inbound-consumer"))
    try:
        response = await healthz(app_with(liveness))
        assert (response.status_code, response.json()) == (200, {"status": "ok"})
    finally:
        running.cancel()


async def test_healthz_answers_503_naming_a_task_that_failed_and_asks_the_process_to_stop():
    liveness = Liveness()
    stopped = []
    liveness.on_failure(lambda: stopped.append(True))

    async def gives_up() -> None:
        raise RuntimeError("the consumer did not recover")

    task = liveness.watch(asyncio.create_task(gives_up(), name="inbound-consumer"))
    await asyncio.wait([task])
    await asyncio.sleep(0)  # done callbacks run on the next turn of the loop
    response = await healthz(app_with(liveness))
    assert response.status_code == 503
    body = response.json()
    assert body["error"] == "not_alive"
    assert "the consumer did not recover" in body["detail"]["inbound-consumer"]
    assert liveness.failed == "inbound-consumer"
    assert stopped == [True]


# A process whose only essential task fails half a second after start-up.
FAILING_PROCESS = textwrap.dedent(
    """
    import asyncio, sys
    from contextlib import asynccontextmanager
    from fastapi import FastAPI
    from services.health import Liveness, health_routes, serve

    liveness = Liveness()

    async def consumer():
        await asyncio.sleep(0.5)
        raise RuntimeError("gave up")

    @asynccontextmanager
    async def lifespan(app):
        task = liveness.watch(asyncio.create_task(consumer(), name="inbound-consumer"))
        yield
        task.cancel()

    app = FastAPI(lifespan=lifespan)
    app.state.liveness = liveness
    app.include_router(health_routes({}, liveness=liveness))
    serve(app, "127.0.0.1", int(sys.argv[1]))
    """
)


def test_a_process_whose_essential_task_failed_exits_non_zero():
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", FAILING_PROCESS, str(port)], cwd=REPO, stderr=subprocess.PIPE)
    try:
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 1
    assert b"inbound-consumer failed" in stderr


def test_a_process_stopped_by_its_supervisor_is_not_reported_as_failed():
    port = free_port()
    healthy = FAILING_PROCESS.replace("raise RuntimeError", "await asyncio.Event().wait(); raise RuntimeError")
    process = subprocess.Popen([sys.executable, "-c", healthy, str(port)], cwd=REPO, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the process never answered /healthz"
            time.sleep(0.05)
        process.terminate()
        returncode = process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert returncode == -signal.SIGTERM  # as under uvicorn.run: SIGTERM re-raised after the graceful shutdown
