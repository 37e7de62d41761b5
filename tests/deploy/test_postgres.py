"""deploy/local/postgres.sh from a clone whose home its server's user cannot traverse (root's 0700 home)."""

import os
import shutil
import socket
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "local" / "postgres.sh"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cluster:
    """postgres.sh run with a SWITCHBOARD_HOME of its own, on a port of its own."""

    def __init__(self, home: Path, shared_root: Path) -> None:
        self.home = home
        self.port = free_port()
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")},
            "SWITCHBOARD_HOME": str(home),
            "SWITCHBOARD_PG_PORT": str(self.port),
            "SWITCHBOARD_PG_SHARED_ROOT": str(shared_root),
        }

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        # From inside the private clone, as a user who cloned into their home would.
        return subprocess.run(
            [str(SCRIPT), *args], cwd=self.home, env=self.env, capture_output=True, text=True, timeout=180, check=False
        )


@pytest.fixture
def private_clone() -> Iterator[tuple[Cluster, Path]]:
    # A short path, like /root: a unix socket's path is limited to 107 bytes. mkdtemp makes it 0700.
    private = Path(tempfile.mkdtemp(prefix="sb-home-"))
    home = private / "switchboard" / ".local"
    home.mkdir(parents=True)
    # The shared root must be traversable by the server's user: not under pytest's 0700 tmp dir.
    shared_root = Path(tempfile.mkdtemp(prefix="switchboard-pg-test-", dir="/var/tmp"))
    shared_root.chmod(0o755)
    cluster = Cluster(home, shared_root / "state")
    try:
        yield cluster, private
    finally:
        cluster.run("stop", "immediate")
        shutil.rmtree(shared_root, ignore_errors=True)
        shutil.rmtree(private, ignore_errors=True)


async def test_a_clone_in_a_private_home_gets_a_working_cluster_that_start_stop_and_status_agree_on(
    private_clone: tuple[Cluster, Path],
) -> None:
    cluster, private = private_clone
    assert os.geteuid() == 0, "the private-home case exists as root, where the server runs as `postgres`"

    started = cluster.run("start")
    assert started.returncode == 0, started.stderr
    assert "cannot traverse" in started.stderr  # says where the cluster went instead
    connection = await asyncpg.connect(
        host="127.0.0.1", port=cluster.port, user="switchboard", password="switchboard", database="switchboard"
    )
    try:
        assert await connection.fetchval("SELECT 1") == 1
    finally:
        await connection.close()

    location = Path((cluster.home / "postgres.location").read_text().strip())
    assert not location.is_relative_to(private), "the cluster cannot live where its server cannot go"
    assert (location / "pgdata" / "PG_VERSION").is_file()
    assert stat.S_IMODE(private.stat().st_mode) == 0o700, "the user's home keeps its permissions"
    assert cluster.run("status").returncode == 0

    stopped = cluster.run("stop", "immediate")
    assert stopped.returncode == 0, stopped.stderr
    assert cluster.run("status").returncode != 0

    # After an immediate stop the same cluster starts again (crash recovery), found through the record.
    again = cluster.run("start")
    assert again.returncode == 0, again.stderr
    assert Path((cluster.home / "postgres.location").read_text().strip()) == location
    assert cluster.run("stop").returncode == 0
    assert cluster.run("status").returncode != 0


def test_stop_refuses_an_unknown_mode(private_clone: tuple[Cluster, Path]) -> None:
    cluster, _ = private_clone
    refused = cluster.run("stop", "gently")
    assert refused.returncode == 2
    assert "usage" in refused.stderr
