"""`make chaos` / `python -m loadtests.chaos`: fault scenarios under load against the stack `make run` started.

Each scenario: Locust's load starts (loadtests/run.py, the same customers and agents as `make loadtest`);
after `--warmup` seconds the fault is injected (loadtests/faults.py), held, and ended; then the harness
waits (bounded) until every service's /readyz answers and the consumers' lag has drained (the recovery
seconds), the load runs `--duration` more seconds, and the pipeline settles (no reply pending or
sending, bounded). Then it counts what was lost, stored or sent twice, left stuck, or answered with a
5xx other than 503, and whether the consumers are alive. A table is printed, a JSON report written under
.local/chaos/, and the exit code is non-zero if any scenario failed.
"""

import argparse
import asyncio
import contextlib
import os
import random
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import httpx
import orjson
from prometheus_client.parser import text_string_to_metric_families

from loadtests.answers import NO_ANSWER, count, read_answers, server_errors
from loadtests.channel_mix import DEFAULT_MIX, format_mix
from loadtests.chaos_report import Outcome, render, verdict
from loadtests.faults import (
    BrokerKill,
    BrokerPause,
    ConsumerJoin,
    ConsumerLeave,
    Controls,
    Fault,
    FaultError,
    PoisonRecords,
    PostgresOutage,
    ProviderFault,
    ProviderLatency,
    ServiceKill,
)
from loadtests.local_stack import LocalStack
from loadtests.reconnecting import CONNECTION_ERRORS, Database, get
from loadtests.report import Report
from loadtests.run import (
    REPO,
    RUN_REPLY,
    LoadConfig,
    LocustError,
    begin_run,
    consumer_lag,
    customer_patterns,
    finish_run,
    replies_in_flight,
    run_locust,
    stack_environment,
)
from sandbox.webhooks.compose import Secrets

LOCUST_START_S = 10.0
# What ends a scenario early: the fault failed, or the stack stayed unreachable past the harness's retries.
SCENARIO_ERRORS: tuple[type[BaseException], ...] = (FaultError, LocustError, httpx.HTTPError, *CONNECTION_ERRORS)


class Stack(Controls, Protocol):
    """The stack under test: the faults' controls, and the router consumers the harness added."""

    def consumer_urls(self) -> list[str]:
        """Base URLs of the extra router consumers running now."""


@dataclass(frozen=True)
class Scenario:
    name: str
    fault: Fault


def catalogue(provider_down_s: float = 120.0) -> list[Scenario]:
    """Every scenario of `make chaos`, in the order they run."""
    return [
        Scenario("kill-ingest", ServiceKill("kill -9 ingest", service="ingest")),
        Scenario("kill-router-api", ServiceKill("kill -9 router API", service="router")),
        Scenario("kill-router-consumer", ServiceKill("kill -9 router consumer", service="router-consumer")),
        Scenario("kill-dispatcher", ServiceKill("kill -9 dispatcher", service="dispatcher")),
        Scenario("broker-kill", BrokerKill("kill -9 Kafka, started 5 s later", 5.0)),
        Scenario("broker-pause", BrokerPause("Kafka SIGSTOP for 30 s", 30.0)),
        Scenario("postgres-restart-fast", PostgresOutage("PostgreSQL restart -m fast", mode="fast")),
        Scenario("postgres-restart-immediate", PostgresOutage("PostgreSQL restart -m immediate", mode="immediate")),
        Scenario("postgres-stop", PostgresOutage("PostgreSQL stopped for 45 s", 45.0, mode="fast")),
        Scenario(
            "provider-429",
            ProviderFault(
                "provider 429 storm (300 sends, Retry-After 1 s)", 20.0, status=429, count=300, retry_after_s=1
            ),
        ),
        Scenario("provider-503", ProviderFault("provider 503 storm (300 sends)", 20.0, status=503, count=300)),
        Scenario("provider-down", ProviderFault(f"provider down {provider_down_s:.0f} s", provider_down_s, status=503)),
        Scenario("provider-slow", ProviderLatency("provider 12 s slow (send timeout 10 s) for 30 s", 30.0)),
        Scenario("poison", PoisonRecords("NUL text and non-records on every inbound/outbound partition")),
        Scenario("consumer-join", ConsumerJoin("a second router consumer joins")),
        Scenario("consumer-leave", ConsumerLeave("a second router consumer leaves (SIGTERM)")),
    ]


@dataclass(frozen=True)
class ChaosConfig:
    load: LoadConfig  # the load of every scenario; run id and duration are set per scenario
    ready_urls: tuple[str, ...]  # every service whose /readyz must answer for the stack to have recovered
    consumer_urls: tuple[str, ...]  # the router consumer(s) and the dispatcher: alive after the scenario
    warmup_s: float = 15.0
    after_s: float = 30.0  # load after the fault ended
    recovery_timeout_s: float = 120.0
    lag_drained_at: float = 0.0  # records of lag that count as drained while the load still runs


async def run_scenario(scenario: Scenario, config: ChaosConfig, stack: Stack) -> tuple[Outcome, Report | None]:
    """Load, fault, recovery, settling, then the measurements of one scenario."""
    fault = scenario.fault
    load = replace(
        config.load,
        run_id=_fresh_run_id(),
        # The fault waits for the load to flow (_load_flowing): Locust's start-up is added to its run.
        duration=LOCUST_START_S + config.warmup_s + fault.length_s + config.after_s,
    )
    outcome = Outcome(scenario.name, fault.name)
    report: Report | None = None
    try:
        await fault.prepare(stack)
        load = _with_consumers(load, config, stack)
        async with httpx.AsyncClient(timeout=10) as http, Database(load.database_url) as db:
            accepted_before = await _ingest_accepted(http, load.ingest)
            run = await begin_run(load, db, http)
            locust = asyncio.create_task(run_locust(load, load.run_id))
            try:
                try:
                    await _load_flowing(http, load.ingest, accepted_before)
                    await _play(fault, stack, config)
                except FaultError as error:
                    outcome.error = str(error)
                ended = time.monotonic()
                run.config = _with_consumers(run.config, config, stack)
                refused_then: float | None = None
                if await _recovered(http, run.config, config, stack, ended + config.recovery_timeout_s):
                    outcome.recovery_s = round(time.monotonic() - ended, 1)
                    refused_then = await _ingest_refused(http, load.ingest)
                stats = await locust
                if refused_then is not None:
                    refused_now = await _ingest_refused(http, load.ingest)
                    # Ingest restarted in between (its counters began again): what it counted since.
                    outcome.refused_after_recovery = int(
                        refused_now - refused_then if refused_now >= refused_then else refused_now
                    )
                    outcome.refusals_allowed = int(load.rate)
                report = await finish_run(run, stats, time.time())
                await _count(outcome, report, db, http, run.config, config, stack)
            finally:
                if not locust.done():
                    locust.cancel()
                    with contextlib.suppress(BaseException):
                        await locust
                await run.stop_sampling()
    except SCENARIO_ERRORS as error:
        outcome.error = outcome.error or f"the scenario could not run to its end: {error!r}"
    finally:
        with contextlib.suppress(Exception):
            await fault.clean_up(stack)
    outcome.failures = verdict(outcome)
    return outcome, report


async def _load_flowing(http: httpx.AsyncClient, ingest: str, before: float, within_s: float = 120.0) -> None:
    """Wait (bounded) until ingest has accepted the run's first webhooks: Locust's start-up has taken over
    a minute on a saturated machine, and a fault injected before the load arrives measures nothing.
    Ingest's own counter, not what is stored: a stack an earlier scenario wedged stores nothing."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if await _ingest_accepted(http, ingest) > before:
                return
        await asyncio.sleep(0.5)
    raise FaultError(f"the load never reached ingest within {within_s:.0f} s: the fault was not injected")


async def _ingest_accepted(http: httpx.AsyncClient, ingest: str) -> float:
    return await _ingest_events(http, ingest, ("accepted",))


async def _ingest_refused(http: httpx.AsyncClient, ingest: str) -> float:
    """Events ingest refused with 503 (ingest/errors.py): Kafka or the replay ledger did not answer."""
    return await _ingest_events(http, ingest, ("kafka_unavailable", "ledger_unavailable"))


async def _ingest_events(http: httpx.AsyncClient, ingest: str, outcomes: tuple[str, ...]) -> float:
    text = (await get(http, f"{ingest}/metrics")).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "switchboard_ingest_messages_total" and sample.labels.get("outcome") in outcomes
    )


async def _play(fault: Fault, stack: Stack, config: ChaosConfig) -> None:
    await asyncio.sleep(config.warmup_s)
    await fault.inject(stack)
    try:
        await asyncio.sleep(fault.length_s)
    finally:
        await fault.end(stack)


def _with_consumers(load: LoadConfig, config: ChaosConfig, stack: Stack) -> LoadConfig:
    """The load's router processes: the stack's own and the consumers the harness started."""
    return replace(load, router_metrics=config.load.router_metrics + tuple(stack.consumer_urls()))


async def _recovered(
    http: httpx.AsyncClient, load: LoadConfig, config: ChaosConfig, stack: Stack, deadline: float
) -> bool:
    """Wait (bounded) until every service answers /readyz and the consumers' lag has drained."""
    urls = (*config.ready_urls, *stack.consumer_urls())
    while time.monotonic() < deadline:
        with contextlib.suppress(*CONNECTION_ERRORS, httpx.HTTPError):
            answers = await asyncio.gather(*(http.get(f"{url}/readyz", timeout=3) for url in urls))
            if all(a.status_code == 200 for a in answers) and await consumer_lag(http, load) <= config.lag_drained_at:
                return True
        await asyncio.sleep(0.5)
    return False


async def _count(
    outcome: Outcome,
    report: Report,
    db: Database,
    http: httpx.AsyncClient,
    load: LoadConfig,
    config: ChaosConfig,
    stack: Stack,
) -> None:
    answers = read_answers(load.report_dir / f"locust-{load.run_id}")
    outcome.accepted = count(answers, "webhook", range(200, 300))
    outcome.refused = count(answers, "webhook", (503,))
    outcome.unanswered = count(answers, "webhook", (NO_ANSWER,))
    outcome.unexpected_5xx = server_errors(answers)
    distinct_stored = report.messages_stored - report.duplicate_messages
    outcome.lost = max(0, outcome.accepted - distinct_stored)
    outcome.stored_twice = report.duplicate_messages
    outcome.sent_twice = report.duplicate_sends
    outcome.settled = report.settled
    outcome.cap_violations = max(0, report.most_over_cap) + report.agents_with_pending_drift
    outcome.stuck_replies = await replies_in_flight(db, load)
    patterns = customer_patterns(load.run_id)
    outcome.stuck_in_bot = int(
        await db.fetchval(
            """SELECT count(*) FROM conversations c
                WHERE c.status = 'bot' AND c.bot_turns = 0
                  AND EXISTS (SELECT 1 FROM contact_identities i WHERE i.contact_id = c.contact_id
                                AND i.external_id LIKE ANY($1::text[]))""",
            patterns,
        )
    )
    unknown = await db.fetch(
        f"""SELECT m.id::text AS id FROM messages m
             WHERE m.direction = 'outbound' AND m.delivery_status = 'unknown' AND ({RUN_REPLY})
             ORDER BY m.created_at""",
        load.agent_name,
        patterns,
    )
    outcome.unknown_replies = len(unknown)
    outcome.unknown_reply_ids = [row["id"] for row in unknown]
    for url in (*config.consumer_urls, *stack.consumer_urls()):
        outcome.consumers[url] = await _consumer_health(http, url)
    outcome.consumers_alive = all(state.startswith("ok") for state in outcome.consumers.values())


async def _consumer_health(http: httpx.AsyncClient, url: str) -> str:
    """ "ok, N partitions" when the process answers /healthz and owns partitions; else what is wrong."""
    try:
        health = await get(http, f"{url}/healthz")
        if health.status_code != 200:
            return f"/healthz {health.status_code}"
        text = (await get(http, f"{url}/metrics")).text
    except httpx.HTTPError as error:
        return f"unreachable: {error!r}"
    partitions = [
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "switchboard_consumer_partitions"
    ]
    if partitions and sum(partitions) <= 0:
        return "owns no partition"
    return f"ok, {sum(partitions):.0f} partitions"


def _fresh_run_id() -> str:
    return str(random.randint(10000, 99999))


async def run_chaos(
    scenarios: list[Scenario], config: ChaosConfig, stack: Stack
) -> list[tuple[Outcome, Report | None]]:
    """Every scenario in turn; each starts from a stack that recovered from the previous one (or not)."""
    results = []
    for scenario in scenarios:
        print(f"chaos: {scenario.name}: {scenario.fault.name}", flush=True)
        outcome, report = await run_scenario(scenario, config, stack)
        print(f"chaos: {scenario.name}: {'PASS' if not outcome.failures else 'FAIL'}", flush=True)
        results.append((outcome, report))
    return results


def write_report(results: list[tuple[Outcome, Report | None]], config: ChaosConfig, report_dir: Path) -> Path:
    """The JSON report: every scenario's outcome and the load report it was counted from."""
    report_dir.mkdir(parents=True, exist_ok=True)
    path = report_dir / f"chaos-{time.strftime('%Y%m%dT%H%M%S')}.json"
    body = {
        "rate": config.load.rate,
        "warmup_s": config.warmup_s,
        "after_s": config.after_s,
        "scenarios": [
            {**outcome.as_json(), "load": report.as_json() if report else None} for outcome, report in results
        ],
    }
    path.write_bytes(orjson.dumps(body, option=orjson.OPT_INDENT_2))
    return path


def select(names: str, scenarios: list[Scenario]) -> list[Scenario]:
    """The scenarios named in a comma list (all when empty), in catalogue order; unknown names refused."""
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    known = {s.name for s in scenarios}
    if unknown := [n for n in wanted if n not in known]:
        raise SystemExit(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return [s for s in scenarios if not wanted or s.name in wanted]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenarios", default=os.environ.get("SCENARIOS", ""), help="comma list (default: all)")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    parser.add_argument("--rate", type=float, default=120.0, help="msg/s (default 120: this 2-core machine)")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load after each fault ends")
    parser.add_argument("--warmup", type=float, default=15.0, help="seconds of load before each fault")
    parser.add_argument("--provider-down", type=float, default=120.0, help="seconds the provider is down")
    parser.add_argument("--recovery-timeout", type=float, default=120.0)
    parser.add_argument("--settle-timeout", type=float, default=90.0)
    parser.add_argument("--agents", type=int, default=0, help="default: one per 4 msg/s")
    parser.add_argument("--env", default=str(REPO / "deploy" / "local" / "dev.env"))
    parser.add_argument("--report-dir", default=str(REPO / ".local" / "chaos"))
    args = parser.parse_args(argv)
    scenarios = select(args.scenarios, catalogue(args.provider_down))
    if args.list:
        print("\n".join(f"{s.name:28} {s.fault.name}" for s in scenarios))
        return 0
    env = stack_environment(Path(args.env))
    stack = LocalStack(env)
    services = ("ingest", "router", "router-consumer", "dispatcher", "sandbox")
    url = stack.url
    load = LoadConfig(
        rate=args.rate,
        duration=args.duration,
        shape="constant",
        agents=args.agents or max(10, round(args.rate / 4)),
        agent_think=0.5,
        ingest=url("ingest"),
        router=url("router"),
        dispatcher=url("dispatcher"),
        sandbox=url("sandbox"),
        database_url=env["SWITCHBOARD_DATABASE_URL"],
        admin_token=env["SWITCHBOARD_ADMIN_TOKEN"],
        secrets=Secrets.from_env(env),
        accounts_json=env.get("SWITCHBOARD_ACCOUNTS", ""),
        channels=format_mix(DEFAULT_MIX),
        report_dir=Path(args.report_dir),
        router_metrics=(url("router"), url("router-consumer")),
        drain_timeout=args.settle_timeout,
        home=stack.home,
    )
    config = ChaosConfig(
        load=load,
        ready_urls=tuple(url(s) for s in services),
        consumer_urls=(url("router-consumer"), url("dispatcher")),
        warmup_s=args.warmup,
        after_s=args.duration,
        recovery_timeout_s=args.recovery_timeout,
        lag_drained_at=max(10.0, args.rate / 2),  # under half a second of traffic while the load runs
    )
    try:
        results = asyncio.run(run_chaos(scenarios, config, stack))
    finally:
        stack.stop_extra_consumers()
    outcomes = [outcome for outcome, _ in results]
    print(render(outcomes))
    print(f"report: {write_report(results, config, Path(args.report_dir))}")
    return 1 if any(o.failures for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
