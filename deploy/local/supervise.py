"""`make run`'s process supervisor: starts every Procfile entry and restarts the one that dies.

    python -m deploy.local.supervise [--procfile deploy/local/Procfile] [--env-file deploy/local/dev.env]

A process that exits is restarted after a capped exponential backoff (0.5 s, 1 s, 2 s ... 30 s), the way
systemd's `Restart=always` or Kubernetes' CrashLoopBackOff would, and the backoff starts over once the
process has stayed up for a while. Each death and restart is logged with its exit code or signal, each
line a process prints is prefixed with its name (as honcho did), and each child's PID is written to
`<pid dir>/<name>.pid` (default `$SWITCHBOARD_HOME/run/services/`), rewritten atomically on every restart:
`make stop` and the chaos harness find the processes there. Between a death and its restart the file
still names the dead process. SIGINT, SIGTERM or SIGHUP stops every child (SIGTERM, SIGKILL after
`--stop-timeout`) and the supervisor exits 0; a Ctrl-C in `make run`'s terminal reaches the supervisor
alone (each child has a session of its own), so the children are stopped in order, once.

Why our own ~200 lines: honcho stops everything when one process exits and has no restart policy;
circus and supervisord do restart, but each brings a daemon, a config format and a control socket of its
own (supervisord's is XML-RPC over HTTP) for five local processes. honcho stays for its Procfile and
env-file parsers, so the Procfile and dev.env keep the format every other reader of them expects.

Values: the env file gives defaults and the caller's environment wins (`SWITCHBOARD_PORT=... make run`);
a Procfile command's leading `NAME=value` words, with `${NAME:-default}` expanded from that environment,
are set for that process only. Commands run without a shell, so each PID is the service itself.
"""

import argparse
import asyncio
import contextlib
import os
import re
import shlex
import signal
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from honcho.environ import parse as parse_env
from honcho.environ import parse_procfile

ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.DOTALL)
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")
READ_CHUNK = 65536


@dataclass(frozen=True)
class Backoff:
    """Capped exponential restart delays; `failures` counts the deaths since the process last ran stably."""

    initial_s: float = 0.5
    max_s: float = 30.0
    stable_after_s: float = 10.0

    def delay(self, failures: int) -> float:
        """Seconds to wait before the restart that follows the `failures`-th death in a row."""
        return float(min(self.initial_s * 2 ** max(failures - 1, 0), self.max_s))

    def failures_after(self, failures: int, uptime_s: float) -> int:
        """The death count once a process died after `uptime_s`: a stable run starts the count over."""
        return 1 if uptime_s >= self.stable_after_s else failures + 1


@dataclass(frozen=True)
class ProcessSpec:
    """One Procfile entry: its name, its argv and the variables set for it alone."""

    name: str
    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)


def expand(text: str, env: Mapping[str, str]) -> str:
    """`$NAME`, `${NAME}` and `${NAME:-default}` replaced from `env` (a missing NAME is empty)."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        found = env.get(name, "")
        return found if found or match.group(2) is None else match.group(2)

    return VARIABLE.sub(value, text)


def process_specs(procfile: str, env: Mapping[str, str]) -> list[ProcessSpec]:
    """The Procfile's entries, their leading `NAME=value` words split off as that process's variables."""
    specs = []
    for name, command in parse_procfile(procfile).processes.items():
        words = [expand(word, env) for word in shlex.split(command)]
        own: dict[str, str] = {}
        while words and (assignment := ASSIGNMENT.match(words[0])):
            own[assignment.group(1)] = assignment.group(2)
            words.pop(0)
        if not words:
            raise ValueError(f"Procfile entry {name!r} has no command")
        specs.append(ProcessSpec(name, tuple(words), own))
    return specs


def describe_exit(returncode: int) -> str:
    """`exit code 3` or `signal SIGKILL`, from a returncode as asyncio reports it."""
    if returncode < 0:
        try:
            return f"signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"signal {-returncode}"
    return f"exit code {returncode}"


class Supervisor:
    """Runs every process, restarts the ones that die, and stops them all on request."""

    def __init__(
        self,
        specs: list[ProcessSpec],
        env: Mapping[str, str],
        pid_dir: Path,
        backoff: Backoff,
        stop_timeout_s: float,
        out: TextIO = sys.stdout,
    ) -> None:
        self._specs = specs
        self._env = dict(env)
        self._pid_dir = pid_dir
        self._backoff = backoff
        self._stop_timeout_s = stop_timeout_s
        self._out = out
        self._width = max([len(spec.name) for spec in specs] + [len("supervise")])
        self._stopping = asyncio.Event()
        self._running: dict[str, asyncio.subprocess.Process] = {}

    def request_stop(self) -> None:
        """Stop every child (SIGTERM, then SIGKILL after the stop timeout); repeated calls change nothing."""
        self._stopping.set()

    async def run(self) -> int:
        """Supervise until a stop is requested and every child has exited; 0 when all stopped cleanly."""
        self._pid_dir.mkdir(parents=True, exist_ok=True)
        watchers = [asyncio.create_task(self._watch(spec)) for spec in self._specs]
        await self._stopping.wait()
        self._log(f"stopping {len(self._running)} processes")
        for process in self._running.values():
            _signal_group(process, signal.SIGTERM)
        try:
            await asyncio.wait_for(self._all_exited(), self._stop_timeout_s)
        except TimeoutError:
            for name, process in self._running.items():
                self._log(f"{name} (pid {process.pid}) still running after {self._stop_timeout_s:g} s; SIGKILL")
                _signal_group(process, signal.SIGKILL)
        await asyncio.gather(*watchers)
        self._log("all processes stopped")
        return 0

    async def _all_exited(self) -> None:
        while self._running:
            await next(iter(self._running.values())).wait()
            await asyncio.sleep(0)  # lets that process's watcher forget it

    async def _watch(self, spec: ProcessSpec) -> None:
        failures = 0
        while not self._stopping.is_set():
            started = time.monotonic()
            returncode = await self._run_once(spec)
            uptime = time.monotonic() - started
            if self._stopping.is_set():
                self._log(f"{spec.name} stopped ({describe_exit(returncode)})")
                break
            failures = self._backoff.failures_after(failures, uptime)
            delay = self._backoff.delay(failures)
            self._log(
                f"{spec.name} died ({describe_exit(returncode)}) after {uptime:.1f} s;"
                f" restart {failures} in {delay:g} s"
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
        (self._pid_dir / f"{spec.name}.pid").unlink(missing_ok=True)

    async def _run_once(self, spec: ProcessSpec) -> int:
        """Starts the process, relays its output until it exits, and answers its returncode."""
        env = {**self._env, **spec.env, "PYTHONUNBUFFERED": "1"}
        try:
            # Own session: a terminal's Ctrl-C reaches the supervisor, which stops the children in order.
            process = await asyncio.create_subprocess_exec(
                *spec.argv,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as error:
            self._log(f"{spec.name} could not start: {error}")
            return 127
        self._running[spec.name] = process
        _write_pid(self._pid_dir / f"{spec.name}.pid", process.pid)
        self._log(f"{spec.name} started (pid {process.pid})")
        if self._stopping.is_set():  # the stop came while it was starting: run() signalled the others already
            _signal_group(process, signal.SIGTERM)
        assert process.stdout is not None
        await self._relay(spec.name, process.stdout)
        returncode = await process.wait()
        del self._running[spec.name]
        return returncode

    async def _relay(self, name: str, stream: asyncio.StreamReader) -> None:
        pending = b""
        while chunk := await stream.read(READ_CHUNK):
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                self._print(name, line.decode(errors="replace"))
        if pending:
            self._print(name, pending.decode(errors="replace"))

    def _log(self, message: str) -> None:
        self._print("supervise", message)

    def _print(self, name: str, line: str) -> None:
        self._out.write(f"{time.strftime('%H:%M:%S')} {name:<{self._width}} | {line.rstrip()}\n")
        self._out.flush()


def _signal_group(process: asyncio.subprocess.Process, signum: signal.Signals) -> None:
    # The child leads its own process group (start_new_session), so this reaches anything it forked too.
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signum)


def _write_pid(path: Path, pid: int) -> None:
    # Written beside and renamed: a reader never sees an empty or half-written file.
    tmp = path.with_suffix(".pid.tmp")
    tmp.write_text(f"{pid}\n")
    os.replace(tmp, path)


def child_env(env_file: Path | None, environ: Mapping[str, str]) -> dict[str, str]:
    """The env file's values as defaults under the caller's environment."""
    defaults = parse_env(env_file.read_text()) if env_file else {}
    return {**defaults, **environ}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procfile", type=Path, default=Path("deploy/local/Procfile"))
    parser.add_argument("--env-file", type=Path, default=None)
    home = Path(os.environ.get("SWITCHBOARD_HOME", ".local"))
    parser.add_argument("--pid-dir", type=Path, default=home / "run" / "services")
    parser.add_argument("--initial-backoff", type=float, default=Backoff.initial_s)
    parser.add_argument("--max-backoff", type=float, default=Backoff.max_s)
    parser.add_argument("--stable-after", type=float, default=Backoff.stable_after_s)
    parser.add_argument("--stop-timeout", type=float, default=15.0)
    args = parser.parse_args(argv)

    env = child_env(args.env_file, os.environ)
    specs = process_specs(args.procfile.read_text(), env)
    backoff = Backoff(args.initial_backoff, args.max_backoff, args.stable_after)
    return asyncio.run(_serve(Supervisor(specs, env, args.pid_dir, backoff, args.stop_timeout)))


async def _serve(supervisor: Supervisor) -> int:
    loop = asyncio.get_running_loop()
    # SIGHUP too: a closed terminal must not orphan the children, which have sessions of their own.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(signum, supervisor.request_stop)
    return await supervisor.run()


if __name__ == "__main__":
    sys.exit(main())
