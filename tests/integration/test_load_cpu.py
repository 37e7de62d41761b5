"""loadtests/cpu.py on the real PostgreSQL: the harness's own queries are not counted as the stack's cost."""

import os
from pathlib import Path

import asyncpg

from loadtests import cpu
from loadtests.run import REPO
from tests.integration.conftest import SERVER_DSN

BURN = "SELECT count(*) FROM generate_series(1, 4000000)"  # about a second of one backend's CPU


async def test_a_harness_backend_s_cpu_goes_to_its_own_group_not_postgresql_s(infrastructure: None) -> None:
    home = Path(os.environ.get("SWITCHBOARD_HOME", REPO / ".local"))  # where deploy/local/postgres.sh keeps it
    harness = await asyncpg.connect(SERVER_DSN)
    try:
        pid = await harness.fetchval("SELECT pg_backend_pid()")
        before = cpu.sample(home, REPO, [pid])
        await harness.fetchval(BURN)
        after = cpu.sample(home, REPO, [pid])
    finally:
        await harness.close()
    spent = {group: after.groups[group] - before.groups[group] for group in ("postgresql", "harness-postgresql")}
    assert spent["harness-postgresql"] > 0.2
    assert spent["postgresql"] < spent["harness-postgresql"] / 2
