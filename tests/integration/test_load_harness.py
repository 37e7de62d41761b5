"""A short, low-rate run of the load harness against the test stack, so the harness cannot rot.

It asserts the report's correctness fields, never its timings: CI machines differ, and timing targets
belong to `make loadtest` runs reported in BENCHMARKS.md.
"""

import pytest

from loadtests.report import Targets
from loadtests.run import LoadConfig, run_load
from sandbox.webhooks.compose import Secrets
from tests.integration.client import Switchboard
from tests.integration.conftest import ADMIN_TOKEN, Stack

pytestmark = pytest.mark.integration


async def test_a_short_run_loses_nothing_duplicates_nothing_and_holds_the_cap(
    switchboard: Switchboard, stack: Stack, tmp_path
):
    config = LoadConfig(
        rate=20,
        duration=8,
        shape="constant",
        agents=3,
        agent_think=0.2,
        ingest=stack.ingest.url,
        router=stack.router.url,
        dispatcher=stack.dispatcher.url,
        sandbox=stack.sandbox.url,
        database_url=stack.dsn,
        admin_token=ADMIN_TOKEN,
        secrets=Secrets.from_env(stack.env),
        accounts_json=stack.env["SWITCHBOARD_ACCOUNTS"],
        report_dir=tmp_path,
        drain_timeout=30,
    )
    report = await run_load(config, Targets(check_timings=False))

    assert report.missed == [], report.missed
    assert report.webhooks_posted >= 100, "the run must have sent real traffic"
    assert report.messages_stored >= report.webhooks_posted - report.webhooks_failed
    assert (report.messages_lost, report.duplicate_messages, report.duplicate_sends) == (0, 0, 0)
    assert report.cap_samples > 0
    assert report.highest_pending_seen <= report.agent_cap
    assert report.most_over_cap <= 0
    assert report.replies_sent > 0, "agents answered, and the dispatcher delivered"
    assert report.replies_sent == report.provider_requests
    assert (report.stranded_conversations, report.agents_with_pending_drift) == (0, 0)
    assert list(tmp_path.glob("locust-*_stats.csv")), "Locust wrote its statistics"
