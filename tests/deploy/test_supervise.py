"""deploy/local/supervise.py: children restarted with backoff, pid files, output prefixes, stopping."""

import asyncio
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from deploy.local.supervise import Backoff, describe_exit, expand, process_specs
from tests.integration.client import eventually

# A child that sleeps until it is told to stop; prints a line first so the prefix can be checked.
SLEEPER = "import time; print('sleeper up', flush=True); time.sleep(600)"
# A child that ignores SIGTERM: the supervisor must SIGKILL it after its stop timeout.
STUBBORN = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(600)"
)


class Supervised:
    """The supervisor as a subprocess over a Procfile of small Python children."""

    def __init__(self, tmp_path: Path, entries: dict[str, str], *extra: str) -> None:
        procfile = tmp_path / "Procfile"
        procfile.write_text("".join(f'{name}: {sys.executable} -c "{code}"\n' for name, code in entries.items()))
        self.pid_dir = tmp_path / "run" / "services"
        self.log = tmp_path / "supervise.log"
        self._log_file = self.log.open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "deploy.local.supervise",
                "--procfile",
                str(procfile),
                "--pid-dir",
                str(self.pid_dir),
                *extra,
            ],
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )

    def pid(self, name: str) -> int | None:
        try:
            return int((self.pid_dir / f"{name}.pid").read_text())
        except (FileNotFoundError, ValueError):
            return None

    def output(self) -> str:
        return self.log.read_text()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._log_file.close()


def alive(pid: int) -> bool:
    """Running and not a zombie (a killed child lingers until its parent reaps it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture
def supervised(tmp_path: Path):
    started: list[Supervised] = []

    def start(entries: dict[str, str], *extra: str) -> Supervised:
        started.append(Supervised(tmp_path, entries, *extra))
        return started[-1]

    yield start
    for each in started:
        for name in ("a", "b", "stubborn"):
            pid = each.pid(name)
            if pid and alive(pid):
                os.kill(pid, signal.SIGKILL)
        each.close()


async def test_a_killed_child_is_restarted_and_its_pid_file_rewritten(supervised) -> None:
    sup = supervised({"a": SLEEPER, "b": SLEEPER}, "--initial-backoff", "0.2")
    first = await eventually(lambda: _ready(sup.pid("a")), what="a started")
    other = await eventually(lambda: _ready(sup.pid("b")), what="b started")
    # Its first line, prefixed with its name as honcho did; also shows it is past start-up.
    await eventually(
        lambda: _async(bool(re.search(r"^\d\d:\d\d:\d\d a +\| sleeper up$", sup.output(), re.M))), what="a's output"
    )

    os.kill(first, signal.SIGKILL)

    second = await eventually(lambda: _ready(p) if (p := sup.pid("a")) != first else _none(), what="a restarted")
    assert alive(second)
    assert not alive(first)
    assert sup.pid("b") == other, "a death must not touch the other processes"
    assert alive(other)
    assert sup.process.poll() is None
    out = sup.output()
    assert "a died (signal SIGKILL)" in out
    assert "restart 1 in 0.2 s" in out


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
async def test_a_stop_signal_ends_every_child_and_the_supervisor(supervised, stop: signal.Signals) -> None:
    sup = supervised({"a": SLEEPER, "stubborn": STUBBORN}, "--stop-timeout", "1")
    a = await eventually(lambda: _ready(sup.pid("a")), what="a started")
    stubborn = await eventually(lambda: _ready(sup.pid("stubborn")), what="stubborn started")
    await eventually(
        lambda: _async(bool(re.search(r"stubborn +\| ready", sup.output()))), what="stubborn ignoring SIGTERM"
    )

    sup.process.send_signal(stop)

    assert await asyncio.to_thread(sup.process.wait, 30) == 0
    assert not alive(a)
    assert not alive(stubborn)
    assert not list(sup.pid_dir.glob("*.pid")), "pid files of stopped processes are removed"
    assert "stubborn (pid" in sup.output()
    assert "SIGKILL" in sup.output()


async def test_a_child_that_keeps_crashing_is_backed_off_not_spun(supervised) -> None:
    sup = supervised(
        {"a": "raise SystemExit(3)", "b": SLEEPER},
        "--initial-backoff",
        "0.1",
        "--max-backoff",
        "0.4",
        "--stable-after",
        "60",
    )
    await eventually(lambda: _async(sup.output().count("a died") >= 5), what="five deaths of a")
    delays = [
        float(d) for d in re.findall(r"a died \(exit code 3\) after [\d.]+ s; restart \d+ in ([\d.]+) s", sup.output())
    ]
    assert delays[:5] == [0.1, 0.2, 0.4, 0.4, 0.4]
    assert sup.process.poll() is None
    assert alive(sup.pid("b") or 0)


def test_backoff_doubles_up_to_its_cap_and_starts_over_after_a_stable_run() -> None:
    backoff = Backoff(initial_s=0.5, max_s=30.0, stable_after_s=10.0)
    assert [backoff.delay(n) for n in range(1, 9)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    assert backoff.failures_after(6, uptime_s=2.0) == 7
    assert backoff.failures_after(6, uptime_s=10.0) == 1


def test_procfile_assignments_are_the_processes_own_and_expanded() -> None:
    procfile = (
        "router: SWITCHBOARD_ROLES=api SWITCHBOARD_PORT=${PORT_X:-8081} .venv/bin/python -m router\nweb: run $HOME\n"
    )
    specs = process_specs(procfile, {"HOME": "/h"})
    assert specs[0].name == "router"
    assert specs[0].argv == (".venv/bin/python", "-m", "router")
    assert dict(specs[0].env) == {"SWITCHBOARD_ROLES": "api", "SWITCHBOARD_PORT": "8081"}
    assert specs[1].argv == ("run", "/h")
    assert expand("${PORT_X:-8081}", {"PORT_X": "18081"}) == "18081"


def test_exits_are_described_by_code_or_signal() -> None:
    assert describe_exit(3) == "exit code 3"
    assert describe_exit(-9) == "signal SIGKILL"


def test_the_shipped_procfile_names_the_processes_the_chaos_harness_kills() -> None:
    specs = process_specs(Path("deploy/local/Procfile").read_text(), {})
    assert [s.name for s in specs] == ["sandbox", "ingest", "router", "router-consumer", "dispatcher"]


async def _ready(pid: int | None) -> int | None:
    return pid if pid and alive(pid) else None


async def _none() -> None:
    return None


async def _async(value: bool) -> bool:
    return value
