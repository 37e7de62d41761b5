"""The stack `make run` started, as `make chaos` acts on it: its processes by their PID files, its URLs,
and the deploy/local scripts that stop and start PostgreSQL and Kafka.

Locations come from the stack's settings (deploy/local/dev.env overridden by SWITCHBOARD_* variables):
`SWITCHBOARD_HOME` (default <repo>/.local) holds `run/services/<name>.pid`, written by `make run`'s
supervisor for each child it runs and restarts, and `run/kafka.pid`.
"""

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from loadtests.faults import FaultError
from loadtests.ports import free_port
from services.kafka import Topics

REPO = Path(__file__).resolve().parents[1]
# make run's services by the supervisor's names: default port and the variable that moves it (Procfile).
SERVICE_PORTS = {
    "ingest": (8080, "SWITCHBOARD_INGEST_PORT"),
    "router": (8081, "SWITCHBOARD_ROUTER_PORT"),
    "dispatcher": (8082, "SWITCHBOARD_DISPATCHER_PORT"),
    "router-consumer": (8083, "SWITCHBOARD_ROUTER_CONSUMER_PORT"),
    "sandbox": (8090, "SWITCHBOARD_SANDBOX_PORT"),
}
RESTART_WITHIN_S = 60.0  # a supervisor restarts within ~1 s; the rest is the process's own start-up
SCRIPT_TIMEOUT_S = 180.0


@dataclass
class LocalStack:
    """`make run`'s stack on this machine."""

    env: dict[str, str]
    extra_consumers: list[tuple[subprocess.Popen[bytes], str]] = field(default_factory=list)
    killed: dict[str, int] = field(default_factory=dict)  # the PID each killed service had

    @property
    def home(self) -> Path:
        return Path(self.env.get("SWITCHBOARD_HOME") or REPO / ".local")

    @property
    def sandbox(self) -> str:
        return self.url("sandbox")

    @property
    def kafka_bootstrap(self) -> str:
        return self.env["SWITCHBOARD_KAFKA_BOOTSTRAP"]

    @property
    def topics(self) -> Topics:
        return Topics(self.env.get("SWITCHBOARD_TOPIC_PREFIX", "switchboard"))

    def url(self, service: str) -> str:
        """The base URL of one of make run's services."""
        default, variable = SERVICE_PORTS[service]
        return f"http://127.0.0.1:{self.env.get(variable) or default}"

    def consumer_urls(self) -> list[str]:
        """The router consumers started by the harness that still run."""
        return [url for process, url in self.extra_consumers if process.poll() is None]

    def pid(self, service: str) -> int | None:
        """The PID the supervisor wrote for `service`, if that process is alive."""
        return _live_pid(self.home / "run" / "services" / f"{service}.pid")

    async def kill(self, service: str) -> None:
        pid = self.pid(service)
        if pid is None:
            pid_file = self.home / "run" / "services" / f"{service}.pid"
            raise FaultError(f"no live PID in {pid_file}: is the stack running under make run's supervisor?")
        self.killed[service] = pid
        os.kill(pid, signal.SIGKILL)

    async def wait_restarted(self, service: str) -> None:
        old = self.killed.get(service)
        deadline = time.monotonic() + RESTART_WITHIN_S
        while time.monotonic() < deadline:
            pid = self.pid(service)
            if pid is not None and pid != old and await _ready(self.url(service)):
                return
            await asyncio.sleep(0.2)
        raise FaultError(f"{service} was not restarted and ready within {RESTART_WITHIN_S:.0f} s")

    async def signal_broker(self, signum: int) -> None:
        pid = _live_pid(self.home / "run" / "kafka.pid")
        if pid is None:
            raise FaultError(f"no live broker PID in {self.home}/run/kafka.pid")
        os.kill(pid, signum)
        if signum == signal.SIGKILL:
            await _wait_gone(pid)

    async def start_broker(self) -> None:
        await self._script("kafka.sh", "start")

    async def stop_postgres(self, mode: str) -> None:
        await self._script("postgres.sh", "stop", mode)

    async def start_postgres(self) -> None:
        await self._script("postgres.sh", "start")

    async def start_consumer(self) -> None:
        port = free_port()
        process = _spawn_consumer({**os.environ, **self.env}, port, self.home / "log")
        url = f"http://127.0.0.1:{port}"
        self.extra_consumers.append((process, url))
        deadline = time.monotonic() + RESTART_WITHIN_S
        while not await _ready(url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise FaultError(f"the extra router consumer on port {port} did not become ready")
            await asyncio.sleep(0.3)

    async def stop_consumer(self) -> None:
        if not self.extra_consumers:
            return
        process, _ = self.extra_consumers.pop()
        await asyncio.to_thread(stop_process, process)

    def stop_extra_consumers(self) -> None:
        """Stop every router consumer the harness started (on the way out, whatever happened)."""
        while self.extra_consumers:
            stop_process(self.extra_consumers.pop()[0])

    async def _script(self, script: str, *args: str) -> None:
        env = {**os.environ, **self.env}
        process = await asyncio.create_subprocess_exec(
            str(REPO / "deploy" / "local" / script), *args, env=env, cwd=REPO
        )
        try:
            code = await asyncio.wait_for(process.wait(), SCRIPT_TIMEOUT_S)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise FaultError(f"{script} {' '.join(args)} did not finish within {SCRIPT_TIMEOUT_S:.0f} s") from None
        if code != 0:
            raise FaultError(f"{script} {' '.join(args)} exited {code}")


def _spawn_consumer(env: dict[str, str], port: int, log_dir: Path) -> subprocess.Popen[bytes]:
    """`python -m router` with the consumer role only, on `port`, logging to `log_dir`."""
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / f"chaos-router-consumer-{port}.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "router"],
            cwd=REPO,
            env={**env, "SWITCHBOARD_ROLES": "consumer", "SWITCHBOARD_PORT": str(port)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def stop_process(process: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    """SIGTERM by PID, SIGKILL after `timeout_s`."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _live_pid(path: Path) -> int | None:
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _process_state(pid) not in (None, "Z") else None


def _process_state(pid: int) -> str | None:
    """The process's state letter from /proc (Z: a zombie, dead), None when there is no such process."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


async def _wait_gone(pid: int, within_s: float = 15) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if _process_state(pid) in (None, "Z"):
            return
        await asyncio.sleep(0.1)


async def _ready(url: str) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        async with httpx.AsyncClient(timeout=3) as http:
            return (await http.get(f"{url}/readyz")).status_code == 200
    return False
