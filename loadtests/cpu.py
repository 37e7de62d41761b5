"""CPU per webhook per process, from /proc: what a change costs on a shared machine, not only its latency.

Each group's CPU is its processes' utime+stime (and, for a parent, cutime+cstime: the children it has
reaped, such as PostgreSQL's exited backends). Groups: each Switchboard service (by the supervisor's PID
file under `$SWITCHBOARD_HOME/run/services/`, else by its command line and working directory),
PostgreSQL's postmaster and every backend, the Kafka broker, and Locust (the harness's reaped children).
The harness's own database sessions (its sampling and settle queries, `harness_backends`) are a group of their
own, "harness-postgresql", and not PostgreSQL's: they measure the run, they are not what a webhook costs.
The machine's busy share comes from /proc/stat over the same window.
"""

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

TICKS_PER_S = os.sysconf("SC_CLK_TCK")
SERVICES = ("ingest", "router", "router-consumer", "dispatcher", "sandbox")


@dataclass(frozen=True)
class CpuSample:
    """CPU seconds so far of each group, and the machine's busy and total ticks."""

    at: float
    groups: dict[str, float]
    busy_ticks: int
    total_ticks: int


def sample(home: Path, repo: Path, harness_backends: Iterable[int] = ()) -> CpuSample:
    """The CPU used so far by every group of the stack under `home` (its SWITCHBOARD_HOME); the backends of
    `harness_backends` (PIDs) are counted apart from PostgreSQL's."""
    groups: dict[str, float] = {}
    for name, pids in _service_pids(home, repo).items():
        groups[name] = sum(_ticks(pid, reaped=True) for pid in pids) / TICKS_PER_S
    postmaster = _pid_in(_postgres_state(home) / "pgdata" / "postmaster.pid")
    if postmaster is not None:
        harness = set(harness_backends)
        backends = [pid for pid in _children(postmaster) if pid not in harness]
        groups["postgresql"] = (_ticks(postmaster, reaped=True) + sum(_ticks(p) for p in backends)) / TICKS_PER_S
        groups["harness-postgresql"] = sum(_ticks(pid) for pid in harness) / TICKS_PER_S
    broker = _pid_in(home / "run" / "kafka.pid")
    if broker is not None:
        groups["kafka"] = _ticks(broker) / TICKS_PER_S
    reaped = os.times()
    groups["locust"] = reaped.children_user + reaped.children_system
    busy, total = _machine_ticks()
    return CpuSample(time.monotonic(), groups, busy, total)


def per_webhook(before: CpuSample, after: CpuSample, webhooks: int) -> dict[str, float]:
    """Milliseconds of CPU per accepted webhook, per group present in both samples, and in total."""
    spent = {name: after.groups[name] - before.groups[name] for name in after.groups if name in before.groups}
    spent = {name: max(0.0, seconds) for name, seconds in spent.items()}  # a restarted process starts over
    spent["total"] = sum(spent.values())
    return {name: round(1000 * seconds / max(1, webhooks), 3) for name, seconds in spent.items()}


def busy_share(before: CpuSample, after: CpuSample) -> float:
    """The share of the machine's CPU time (all cores) that was busy between the samples."""
    total = after.total_ticks - before.total_ticks
    return round((after.busy_ticks - before.busy_ticks) / total, 3) if total > 0 else 0.0


def _service_pids(home: Path, repo: Path) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for name in SERVICES:
        pid = _pid_in(home / "run" / "services" / f"{name}.pid")
        if pid is not None:
            found[name] = [pid]
    if found:
        return found
    # No supervisor's PID files (an older `make run`): the processes started from this clone.
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            if b"-m" not in argv or os.readlink(proc / "cwd") != str(repo):
                continue
            module = argv[argv.index(b"-m") + 1].decode()
            roles = b"SWITCHBOARD_ROLES=consumer" in (proc / "environ").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        name = "router-consumer" if module == "router" and roles else module
        if name in SERVICES:
            found.setdefault(name, []).append(int(proc.name))
    return found


def _postgres_state(home: Path) -> Path:
    """Where deploy/local/postgres.sh keeps the cluster: recorded in postgres.location when it is not
    under SWITCHBOARD_HOME (a home the server's user cannot traverse)."""
    try:
        return Path((home / "postgres.location").read_text().strip() or home)
    except OSError:
        return home


def _pid_in(path: Path) -> int | None:
    try:
        pid = int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if Path(f"/proc/{pid}").exists() else None


def _stat_fields(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def _ticks(pid: int, reaped: bool = False) -> int:
    """utime+stime of `pid` (fields 14 and 15 of /proc/<pid>/stat), plus its reaped children's if asked."""
    fields = _stat_fields(pid)  # fields[0] is field 3 (state)
    if len(fields) < 15:
        return 0
    own = int(fields[11]) + int(fields[12])
    return own + (int(fields[13]) + int(fields[14]) if reaped else 0)


def _children(parent: int) -> list[int]:
    children = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            fields = _stat_fields(int(proc.name))
            if len(fields) > 1 and fields[1] == str(parent):
                children.append(int(proc.name))
    return children


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) ticks of all cores since boot: busy is everything but idle and iowait."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    total = sum(values[:8])  # guest time is already counted in user
    return total - idle, total
