"""`make loadtest` / `python -m loadtests.run`: Locust against a running stack, then the end-to-end report.

Timings of the webhook answer come from Locust; everything else is measured on the server side: what
PostgreSQL stored (messages, conversations, their `received_at` and `first_assigned_at`), what the sandbox
received, the dispatcher's counters, and agents' pending counts and the router's consumer lag sampled
during the run. Exits non-zero when a target is missed.
"""

import argparse
import asyncio
import contextlib
import math
import os
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
import orjson
from honcho.environ import parse as parse_env
from prometheus_client.parser import text_string_to_metric_families

from loadtests import cpu
from loadtests.answers import Answers, count, read_answers
from loadtests.channel_mix import (
    DEFAULT_MIX,
    LOAD_CUSTOMER_ID,
    customer_id_patterns,
    customer_marker,
    format_mix,
    message_marker,
    parse_mix,
    provider_id_patterns,
)
from loadtests.cpu import CpuSample
from loadtests.reconnecting import CONNECTION_ERRORS, Database, get, send
from loadtests.report import Report, Targets, evaluate, render
from loadtests.shapes import SHAPES, mean_rate, peak_rate
from sandbox.webhooks.compose import Secrets

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class LoadConfig:
    rate: float
    duration: float
    shape: str
    agents: int
    agent_think: float
    ingest: str
    router: str
    dispatcher: str
    sandbox: str
    database_url: str
    admin_token: str
    secrets: Secrets
    report_dir: Path
    accounts_json: str = ""  # the stack's SWITCHBOARD_ACCOUNTS: customers write to the first of each channel
    channels: str = format_mix(DEFAULT_MIX)
    router_metrics: tuple[str, ...] = ()  # every router process's base URL: roles may be split
    locust_processes: int = 1
    drain_timeout: float = 180.0
    home: Path | None = None  # the stack's SWITCHBOARD_HOME, where its PID files are (default <repo>/.local)
    run_id: str = field(default_factory=lambda: str(random.randint(10000, 99999)))

    @property
    def agent_name(self) -> str:
        return f"lt-{self.run_id}"


class LocustError(RuntimeError):
    """Locust ran but posted nothing: there is no run to measure."""


@dataclass
class Samples:
    pending: int = 0  # the highest pending of this run's agents
    pending_over_cap: int = -1  # the most any agent's pending counter exceeded their own cap
    held_over_cap: int = -1  # the most any agent's assigned conversations exceeded their own cap
    count: int = 0
    lag: list[float] = field(default_factory=list)


async def run_load(config: LoadConfig, targets: Targets) -> Report:
    """Run Locust for the configured time and measure the pipeline end to end."""
    async with httpx.AsyncClient(timeout=10) as http, Database(config.database_url) as db:
        run = await begin_run(config, db, http)
        try:
            stats = await run_locust(config, config.run_id)
            report = await finish_run(run, stats, time.time())
        finally:
            await run.stop_sampling()
    report.missed = evaluate(report, targets)
    return report


@dataclass
class Run:
    """One load run being measured: what was counted before it, and the sampler running beside it."""

    config: LoadConfig
    db: Database
    http: httpx.AsyncClient
    started: float
    samples: Samples
    dispatch_before: dict[str, float]
    paths_before: dict[str, float]
    queued_at_start: int
    sampler: "asyncio.Task[None]"
    sampler_db: Database
    stop: asyncio.Event
    cpu_before: CpuSample

    async def stop_sampling(self) -> None:
        """Stop the sampler (idempotent) and close its connection."""
        self.stop.set()
        with contextlib.suppress(Exception):
            await self.sampler
        await self.sampler_db.close()


async def begin_run(config: LoadConfig, db: Database, http: httpx.AsyncClient) -> Run:
    """Count what the run's figures are measured against, clear the sandbox, and start the sampler."""
    started = time.time()
    await send(http, "DELETE", f"{config.sandbox}/sandbox/requests")
    dispatch_before = await _metric_values(http, config.dispatcher, "switchboard_dispatch_total", "outcome")
    paths_before = await _assignment_paths(http, config)
    await _close_stale_load_conversations(db)
    queued_at_start = await _queue_depth(db)
    cpu_before = cpu.sample(_home(config), REPO, [await db.backend_pid()])
    samples = Samples()
    stop = asyncio.Event()
    sampler_db = Database(config.database_url, retry_for_s=5)  # beside other queries; skips an outage
    sampler = asyncio.create_task(_sample(http, sampler_db, config, samples, stop))
    return Run(
        config,
        db,
        http,
        started,
        samples,
        dispatch_before,
        paths_before,
        queued_at_start,
        sampler,
        sampler_db,
        stop,
        cpu_before,
    )


async def finish_run(run: Run, stats: dict[str, float], load_ended: float) -> Report:
    """After the load: log the agents off, wait for the pipeline to drain and settle, and measure."""
    config, db, http = run.config, run.db, run.http
    await _log_off_agents(http, db, config)
    await _drain(db, config.run_id, stats["ok"], config.drain_timeout)
    settled = await _settle(db, http, config)
    harness = [await db.backend_pid(), *await _backend_pid_of(run.sampler_db)]
    cpu_after = cpu.sample(_home(config), REPO, harness)
    await run.stop_sampling()
    samples = run.samples
    lag_at_end = samples.lag[-1] if samples.lag else 0.0
    report = await _measure(
        db, http, config, config.run_id, (run.started, load_ended), stats, samples, run.dispatch_before, lag_at_end
    )
    report.queued_at_start = run.queued_at_start
    report.settled = settled
    report.cpu_ms_per_webhook = cpu.per_webhook(run.cpu_before, cpu_after, int(stats["ok"]))
    report.machine_busy_share = cpu.busy_share(run.cpu_before, cpu_after)
    paths_after = await _assignment_paths(http, config)
    report.assigned_on_arrival = int(paths_after.get("immediate", 0) - run.paths_before.get("immediate", 0))
    report.assigned_after_waiting = int(paths_after.get("queued", 0) - run.paths_before.get("queued", 0))
    await _close_leftovers(db, config.run_id)
    return report


async def _backend_pid_of(db: Database) -> list[int]:
    """The sampler's backend, if its connection is up (it skips an outage rather than wait for it)."""
    with contextlib.suppress(*CONNECTION_ERRORS):
        return [await db.backend_pid()]
    return []


async def run_locust(config: LoadConfig, run_id: str) -> dict[str, float]:
    """Run Locust against `config.ingest` and return the webhook row of its statistics."""
    csv_prefix = config.report_dir / f"locust-{run_id}"
    env = {
        **os.environ,
        "LOCUST_RATE": str(config.rate),
        "LOCUST_SHAPE": config.shape,
        "LOCUST_DURATION": str(config.duration),
        "LOCUST_AGENTS": str(config.agents),
        "LOCUST_AGENT_THINK": str(config.agent_think),
        "LOCUST_RUN_ID": run_id,
        "LOCUST_CHANNELS": config.channels,
        "LOCUST_ACCOUNTS": config.accounts_json,
        **{f"SWITCHBOARD_{name.upper()}": value for name, value in asdict(config.secrets).items()},
        "LOCUST_ADMIN_TOKEN": config.admin_token,
        "LOCUST_ROUTER": config.router,
        "LOCUST_ANSWERS_PREFIX": str(csv_prefix),
    }
    for stale in csv_prefix.parent.glob(f"{csv_prefix.name}_answers-*.json"):  # a run id used again (bench)
        stale.unlink()
    # Without agents, only the customer traffic runs (a bare endpoint has no agent API to call).
    user_classes = [] if config.agents else ["CustomerTraffic"]
    process = await asyncio.create_subprocess_exec(
        str(REPO / ".venv" / "bin" / "locust"),
        "-f",
        str(REPO / "loadtests" / "locustfile.py"),
        *user_classes,
        "--headless",
        "--host",
        config.ingest,
        "--csv",
        str(csv_prefix),
        "--only-summary",
        "--loglevel",
        "WARNING",
        "--stop-timeout",
        "5",
        # One process runs in place: a forked worker behind a master only adds a hand-over that, on a
        # saturated machine, has lost a whole run's requests and the final CSV rows.
        *(("--processes", str(config.locust_processes)) if config.locust_processes > 1 else ()),
        "--exit-code-on-error",
        "0",
        env=env,
        cwd=REPO,
    )
    try:
        await asyncio.wait_for(process.wait(), timeout=config.duration + 120)  # bounded, whatever happens
    except (TimeoutError, asyncio.CancelledError):  # a harness giving up takes its Locust with it
        process.kill()
        await process.wait()
        raise
    stats = _webhook_stats(csv_prefix.with_name(csv_prefix.name + "_stats.csv"))
    # Locust's CSV is written by a timer and can miss the last seconds (or, in a short run, everything);
    # each process's own count of answers is complete (loadtests/answers.py): the counts come from there.
    answers = await _answers_of_every_worker(csv_prefix, config.locust_processes)
    if posted := count(answers, "webhook", range(0, 1000)):
        ok = count(answers, "webhook", range(200, 300))
        stats.update(posted=posted, ok=ok, failed=posted - ok)
        stats.setdefault("rps", posted / config.duration)
        for percentile in ("p50", "p95", "p99"):
            stats.setdefault(percentile, float("nan"))
    if "posted" not in stats:
        raise LocustError(f"no webhook was posted ({csv_prefix}): did Locust run?")
    return stats


async def _answers_of_every_worker(csv_prefix: Path, workers: int, wait_s: float = 15.0) -> Answers:
    """The answers of every Locust worker: a worker may still be writing its own after the master exited."""
    deadline = time.monotonic() + wait_s
    while len(list(csv_prefix.parent.glob(f"{csv_prefix.name}_answers-*.json"))) < workers:
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    return read_answers(csv_prefix)


def _webhook_stats(path: Path) -> dict[str, float]:
    """The webhook row of Locust's statistics; empty when Locust wrote none."""
    import csv

    if not path.exists():
        return {}
    with path.open() as stats_file:
        for row in csv.DictReader(stats_file):
            if row["Name"] == "webhook":
                count, failures = int(row["Request Count"]), int(row["Failure Count"])
                return {
                    "posted": count,
                    "failed": failures,
                    "ok": count - failures,
                    "rps": float(row["Requests/s"]),
                    "p50": float(row["50%"]),
                    "p95": float(row["95%"]),
                    "p99": float(row["99%"]),
                }
    return {}


async def _sample(
    http: httpx.AsyncClient, conn: Database, config: LoadConfig, samples: Samples, stop: asyncio.Event
) -> None:
    """Every half second: the highest pending counter, the most conversations any agent holds, the lag.

    A sample the stack cannot answer (a database restarting, a router killed) is skipped, not fatal."""
    while not stop.is_set():
        with contextlib.suppress(*CONNECTION_ERRORS, httpx.HTTPError):
            await _take_sample(http, conn, config, samples)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)


async def _take_sample(http: httpx.AsyncClient, conn: Database, config: LoadConfig, samples: Samples) -> None:
    """One sample of the caps and the router's lag."""
    # From the database, not the API: the sample must not load the router it measures. Each agent is
    # held against their own cap: above zero is a violation, whatever the caps are.
    row = await conn.fetchrow(
        """SELECT (SELECT coalesce(max(pending), 0) FROM agents WHERE name = $1) AS run_pending,
                  (SELECT coalesce(max(pending - max_pending), -1) FROM agents) AS pending_over_cap,
                  (SELECT coalesce(max(held.n - a.max_pending), -1) FROM agents a JOIN (
                      SELECT assignee_id, count(*) AS n FROM conversations WHERE status = 'assigned'
                       GROUP BY assignee_id) held ON held.assignee_id = a.id) AS held_over_cap""",
        config.agent_name,
    )
    assert row is not None
    samples.pending = max(samples.pending, int(row["run_pending"]))
    samples.pending_over_cap = max(samples.pending_over_cap, int(row["pending_over_cap"]))
    samples.held_over_cap = max(samples.held_over_cap, int(row["held_over_cap"]))
    samples.count += 1
    lag = await _metric_values(http, _routers(config), "switchboard_consumer_lag", "group")
    samples.lag.append(lag.get("switchboard-router", 0.0))


async def _drain(conn: Database, run_id: str, expected: float, wait_s: float) -> None:
    """Wait (bounded) until every accepted message is stored: the pipeline may still be catching up."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if await stored_messages(conn, run_id) >= expected:
            return
        await asyncio.sleep(0.5)


async def _log_off_agents(http: httpx.AsyncClient, conn: Database, config: LoadConfig) -> None:
    """Take this run's agents offline if Locust stopped them before their own log-off got through: an
    agent left online would hold conversations nobody answers, and the next run would inherit them. One
    the router timed out for silence still holds theirs for the grace period: logging off releases them."""
    admin = {"authorization": f"Bearer {config.admin_token}"}
    still_online = await conn.fetch(
        """SELECT id FROM agents
            WHERE name = $1 AND (status <> 'offline' OR offline_reason = 'heartbeat_timeout')""",
        config.agent_name,
    )
    for agent in still_online:
        url = f"{config.router}/v1/agents/{agent['id']}/presence"
        with contextlib.suppress(httpx.HTTPError):  # the settle and the measures still run
            await send(http, "PUT", url, json={"status": "offline"}, headers=admin)


async def _settle(conn: Database, http: httpx.AsyncClient, config: LoadConfig) -> bool:
    """Wait (bounded) until routers and dispatcher have consumed everything and no reply of the run (the
    agents', the bot's) is still being sent; False if the pipeline was still catching up at the deadline
    (the report says so).

    The deadline is `drain_timeout` without progress: a backlog that keeps shrinking (the replies a provider
    outage of minutes left, sent at the rate the machine allows) is waited for, up to four times that in all,
    while a reply that stays stuck or a lag that stops falling fails after `drain_timeout`.
    """
    started = time.monotonic()
    hard_deadline = started + 4 * config.drain_timeout
    stall_deadline = started + config.drain_timeout
    fewest_left: tuple[float, float] | None = None
    while (now := time.monotonic()) < min(stall_deadline, hard_deadline):
        with contextlib.suppress(*CONNECTION_ERRORS, httpx.HTTPError):
            lag = await consumer_lag(http, config)
            # The replies' count scans the run's messages (tens of ms of PostgreSQL each time): only once nothing
            # is left unconsumed. Progress is the lag falling, then the replies in flight.
            left = (lag, float(await replies_in_flight(conn, config)) if lag == 0 else math.inf)
            if left == (0, 0):
                return True
            if fewest_left is None or left < fewest_left:
                fewest_left, stall_deadline = left, now + config.drain_timeout
        await asyncio.sleep(0.5)
    return False


async def consumer_lag(http: httpx.AsyncClient, config: LoadConfig) -> float:
    """Records not yet consumed, summed over every router process and the dispatcher."""
    lags = await _metric_values(http, (*_routers(config), config.dispatcher), "switchboard_consumer_lag", "group")
    return sum(lags.values())


async def replies_in_flight(conn: Database, config: LoadConfig) -> int:
    """The run's replies (the agents' and the automated ones) still `pending` or `sending`."""
    return int(
        await conn.fetchval(
            f"""SELECT count(*) FROM messages m
                 WHERE m.direction = 'outbound' AND m.delivery_status IN ('pending', 'sending')
                   AND ({RUN_REPLY})""",
            config.agent_name,
            customer_patterns(config.run_id),
        )
    )


# A reply of the run: written by one of its agents, or sent in one of its customers' conversations.
RUN_REPLY = """m.author_agent_id IN (SELECT id FROM agents WHERE name = $1)
    OR m.conversation_id IN (SELECT c.id FROM conversations c JOIN contact_identities i ON i.contact_id = c.contact_id
                              WHERE i.external_id LIKE ANY($2::text[]))"""


async def _close_stale_load_conversations(conn: Database) -> None:
    """Resolve conversations an earlier load run left waiting (their contacts are load-test customers on
    every channel): the queue is served oldest first, so they would be what this run measures."""
    await conn.execute(
        """UPDATE conversations c SET status = 'resolved', resolved_at = now()
            WHERE c.status = 'queued'
              AND EXISTS (SELECT 1 FROM contact_identities i WHERE i.contact_id = c.contact_id
                            AND i.external_id ~ $1)""",
        LOAD_CUSTOMER_ID,
    )


async def _queue_depth(conn: Database) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM conversations WHERE status = 'queued'"))


async def _close_leftovers(conn: Database, run_id: str) -> None:
    """Resolve this run's conversations still waiting: the agents left when the load stopped, and a
    backlog would make the next run measure this one's leftovers (the queue is served oldest first)."""
    await conn.execute(
        """UPDATE conversations c SET status = 'resolved', resolved_at = now()
            WHERE c.status = 'queued' AND EXISTS (
                  SELECT 1 FROM contact_identities i WHERE i.contact_id = c.contact_id
                     AND i.external_id LIKE ANY($1::text[]))""",
        customer_patterns(run_id),
    )


def customer_patterns(run_id: str) -> list[str]:
    """LIKE patterns of this run's customers' ids on every channel (loadtests/channel_mix.py)."""
    return customer_id_patterns(customer_marker(run_id))


def _message_patterns(run_id: str) -> list[str]:
    """LIKE patterns of the provider ids of this run's messages on every channel."""
    return provider_id_patterns(message_marker(run_id), customer_marker(run_id))


async def stored_messages(conn: Database, run_id: str) -> int:
    """How many of the run's messages are stored."""
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM messages WHERE direction = 'inbound' AND provider_message_id LIKE ANY($1::text[])",
            _message_patterns(run_id),
        )
    )


async def _measure(
    conn: Database,
    http: httpx.AsyncClient,
    config: LoadConfig,
    run_id: str,
    window: tuple[float, float],
    stats: dict[str, float],
    samples: Samples,
    dispatch_before: dict[str, float],
    lag_at_end: float,
) -> Report:
    started, load_ended = window
    counts = await conn.fetchrow(  # one snapshot: stragglers may still be landing
        """SELECT count(*) AS stored, count(DISTINCT (channel, provider_message_id)) AS distinct_ids
             FROM messages WHERE direction = 'inbound' AND provider_message_id LIKE ANY($1::text[])""",
        _message_patterns(run_id),
    )
    assert counts is not None
    stored, distinct = int(counts["stored"]), int(counts["distinct_ids"])
    latency = await conn.fetchrow(
        """SELECT count(*) AS conversations,
                  -- The agents log off as the load stops: the last seconds' arrivals are left for nobody.
                  count(*) FILTER (WHERE first_assigned_at IS NULL AND c.status <> 'bot'
                                     AND received_at < to_timestamp($3) - interval '5 seconds') AS never_assigned,
                  count(*) FILTER (WHERE c.bot_turns > 0) AS automated,
                  count(*) FILTER (WHERE c.status = 'bot' OR (c.status = 'resolved' AND c.first_assigned_at IS NULL
                                                             AND c.bot_turns > 0)) AS bot_kept,
                  -- A conversation the bot handed over waits for an agent from the handover (waiting_since),
                  -- not from the first message: the bot was answering until then.
                  percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (
                      ORDER BY extract(epoch FROM first_assigned_at
                                   - CASE WHEN c.bot_turns > 0 THEN c.waiting_since ELSE c.received_at END) * 1000)
                      FILTER (WHERE first_assigned_at IS NOT NULL) AS ms
             FROM conversations c
            WHERE c.received_at >= to_timestamp($2)
              AND EXISTS (SELECT 1 FROM contact_identities i WHERE i.contact_id = c.contact_id
                            AND i.external_id LIKE ANY($1::text[]))""",
        customer_patterns(run_id),
        started,
        load_ended,
    )
    assert latency is not None
    bot = await conn.fetchrow(
        # The bot's replies in this run's conversations, and webhook -> the bot's first reply accepted by
        # the provider (the dispatcher stamps delivery_updated_at when it is sent).
        """WITH firsts AS (
               SELECT DISTINCT ON (c.id) c.id, m.delivery_updated_at - c.received_at AS waited
                 FROM conversations c JOIN messages m ON m.conversation_id = c.id
                WHERE c.received_at >= to_timestamp($2) AND c.bot_turns > 0
                  AND m.direction = 'outbound' AND m.author_agent_id IS NULL
                  AND m.delivery_status IN ('sent', 'delivered', 'read')
                  AND EXISTS (SELECT 1 FROM contact_identities i WHERE i.contact_id = c.contact_id
                                AND i.external_id LIKE ANY($1::text[]))
                ORDER BY c.id, m.created_at)
           SELECT (SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id
                    WHERE c.received_at >= to_timestamp($2) AND m.direction = 'outbound'
                      AND m.author_agent_id IS NULL AND m.delivery_status IN ('sent', 'delivered', 'read')
                      AND EXISTS (SELECT 1 FROM contact_identities i WHERE i.contact_id = c.contact_id
                                    AND i.external_id LIKE ANY($1::text[]))) AS sent,
                  percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (
                      ORDER BY extract(epoch FROM waited) * 1000) AS ms
             FROM firsts""",
        customer_patterns(run_id),
        started,
    )
    assert bot is not None
    replies_sent = int(bot["sent"]) + int(
        await conn.fetchval(
            """SELECT count(*) FROM messages m JOIN agents a ON a.id = m.author_agent_id
            WHERE a.name = $1 AND m.delivery_status IN ('sent', 'delivered', 'read')""",
            config.agent_name,
        )
    )
    invariants = await conn.fetchrow(
        # Held by an agent offline for over 5 s: going offline releases within milliseconds, so this is a
        # release that never happened, not one still in flight (the API may still be working through
        # the agents' log-offs when the load stops).
        """SELECT (SELECT count(*) FROM conversations c JOIN agents a ON a.id = c.assignee_id
                    WHERE c.status = 'assigned' AND a.status = 'offline'
                      AND a.status_changed_at < now() - interval '5 seconds') AS stranded,
                  (SELECT count(*) FROM agents a WHERE a.pending <> (SELECT count(*) FROM conversations c
                    WHERE c.assignee_id = a.id AND c.status = 'assigned')) AS drifted"""
    )
    assert invariants is not None
    # Sends received twice, among the agents' replies, each written unique ("(ref ...)" in the locustfile).
    provider = (await get(http, f"{config.sandbox}/sandbox/stats", params={"marker": "(ref "})).json()
    provider_requests = int(provider["requests"])
    dispatch_after = await _metric_values(http, config.dispatcher, "switchboard_dispatch_total", "outcome")
    outcomes = {
        k: v - dispatch_before.get(k, 0.0) for k, v in dispatch_after.items() if v - dispatch_before.get(k, 0.0)
    }
    lag = samples.lag or [0.0]
    quarter = max(1, len(lag) // 4)
    ms = latency["ms"] or [float("nan")] * 3
    cap = int(
        await conn.fetchval("SELECT coalesce(max(max_pending), 5) FROM agents WHERE name = $1", config.agent_name)
    )
    return Report(
        run_id=run_id,
        shape=config.shape,
        duration_s=config.duration,
        offered_rate=mean_rate(config.shape, config.rate, config.duration),
        achieved_rate=stats["rps"],
        webhooks_posted=int(stats["posted"]),
        webhooks_failed=int(stats["failed"]),
        webhook_ms={k: stats.get(k, float("nan")) for k in ("p50", "p95", "p99")},
        messages_stored=stored,
        messages_lost=max(0, int(stats["ok"]) - stored),
        duplicate_messages=stored - distinct,
        conversations=latency["conversations"],
        conversations_never_assigned=latency["never_assigned"],
        automated_conversations=latency["automated"],
        bot_kept_conversations=latency["bot_kept"],
        bot_replies_sent=int(bot["sent"]),
        bot_reply_ms=dict(zip(("p50", "p95", "p99"), bot["ms"] or (), strict=False)),
        assigned_ms={"p50": ms[0], "p95": ms[1], "p99": ms[2]},
        agent_cap=cap,
        highest_pending_seen=samples.pending,
        most_over_cap=max(samples.pending_over_cap, samples.held_over_cap),
        cap_samples=samples.count,
        replies_sent=replies_sent,
        provider_requests=provider_requests,
        duplicate_sends=_delivered_twice(provider),
        dispatch_outcomes=outcomes,
        stranded_conversations=int(invariants["stranded"]),
        agents_with_pending_drift=int(invariants["drifted"]),
        lag_first_quarter=sum(lag[:quarter]) / quarter,
        lag_last_quarter=sum(lag[-quarter:]) / quarter,
        lag_max=max(lag),
        lag_at_end=lag_at_end,
    )


def _delivered_twice(provider: dict[str, int]) -> int:
    """Replies the provider took more than once. A sandbox that records refusals (a 429 the dispatcher
    rightly retried) counts only the sends it took; an older one counts every request."""
    if "accepted_marked" in provider:
        return int(provider["accepted_marked"]) - int(provider["accepted_distinct"])
    return int(provider["marked_requests"]) - int(provider["distinct_bodies"])


async def _assignment_paths(http: httpx.AsyncClient, config: LoadConfig) -> dict[str, float]:
    """First assignments so far: on arrival ("immediate") or after waiting for a free agent ("queued")."""
    return await _metric_values(http, _routers(config), "switchboard_assignment_latency_seconds_count", "path")


def _routers(config: LoadConfig) -> tuple[str, ...]:
    return config.router_metrics or (config.router,)


async def _metric_values(
    http: httpx.AsyncClient, services: str | tuple[str, ...], name: str, label: str
) -> dict[str, float]:
    """A metric's samples summed by one label, across one or several processes."""
    values: dict[str, float] = {}
    for service in (services,) if isinstance(services, str) else services:
        text = (await get(http, f"{service}/metrics")).text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name:
                    key = sample.labels.get(label, "")
                    values[key] = values.get(key, 0.0) + sample.value
    return values


def _home(config: LoadConfig) -> Path:
    return config.home or REPO / ".local"


def stack_environment(dev_env: Path) -> dict[str, str]:
    """The stack's settings: deploy/local/dev.env, overridden by SWITCHBOARD_* variables of this shell
    (a stack on other PostgreSQL or Kafka ports, another SWITCHBOARD_HOME)."""
    overrides = {k: v for k, v in os.environ.items() if k.startswith("SWITCHBOARD_")}
    return {**parse_env(dev_env.read_text()), **overrides}


def write_report(report: Report, report_dir: Path) -> Path:
    report_dir.mkdir(parents=True, exist_ok=True)
    path = report_dir / f"report-{report.run_id}.json"
    path.write_bytes(orjson.dumps(report.as_json(), option=orjson.OPT_INDENT_2))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=float(os.environ.get("RATE", 500)))
    parser.add_argument("--duration", type=float, default=float(os.environ.get("DURATION", 60)))
    parser.add_argument("--shape", choices=SHAPES, default=os.environ.get("SHAPE", "constant"))
    parser.add_argument(
        "--agents",
        type=int,
        default=None,
        help="simulated agents (default: one per 4 msg/s of peak rate, enough that conversations rarely wait)",
    )
    parser.add_argument("--agent-think", type=float, default=0.5)
    parser.add_argument(
        "--channels",
        default=os.environ.get("CHANNELS", ""),
        help="channel mix as weights, e.g. whatsapp=40,messenger=14,line=8 (default: every channel)",
    )
    parser.add_argument("--locust-processes", type=int, default=int(os.environ.get("LOCUST_PROCESSES", 1)))
    parser.add_argument("--env", default=str(REPO / "deploy" / "local" / "dev.env"))
    parser.add_argument("--ingest", default="http://127.0.0.1:8080")
    parser.add_argument("--router", default="http://127.0.0.1:8081")
    parser.add_argument(
        "--router-metrics",
        default="http://127.0.0.1:8081,http://127.0.0.1:8083",
        help="comma-separated base URLs of every router process, for lag and assignment counts",
    )
    parser.add_argument("--dispatcher", default="http://127.0.0.1:8082")
    parser.add_argument("--sandbox", default="http://127.0.0.1:8090")
    parser.add_argument("--report-dir", default=str(REPO / ".local" / "loadtests"))
    parser.add_argument("--no-timing-targets", action="store_true", help="check correctness only (CI smoke)")
    args = parser.parse_args(argv)
    env = stack_environment(Path(args.env))
    config = LoadConfig(
        rate=args.rate,
        duration=args.duration,
        shape=args.shape,
        agents=args.agents or int(os.environ.get("AGENTS", 0)) or max(10, round(peak_rate(args.shape, args.rate) / 4)),
        agent_think=args.agent_think,
        ingest=args.ingest,
        router=args.router,
        dispatcher=args.dispatcher,
        sandbox=args.sandbox,
        database_url=env["SWITCHBOARD_DATABASE_URL"],
        admin_token=env["SWITCHBOARD_ADMIN_TOKEN"],
        secrets=Secrets.from_env(env),
        accounts_json=env.get("SWITCHBOARD_ACCOUNTS", ""),
        channels=format_mix(parse_mix(args.channels) if args.channels.strip() else DEFAULT_MIX),
        report_dir=Path(args.report_dir),
        router_metrics=tuple(url for url in args.router_metrics.split(",") if url),
        locust_processes=args.locust_processes,
        home=Path(env["SWITCHBOARD_HOME"]) if env.get("SWITCHBOARD_HOME") else None,
    )
    report = asyncio.run(run_load(config, Targets(check_timings=not args.no_timing_targets)))
    path = write_report(report, config.report_dir)
    print(render(report))
    print(f"report: {path}")
    return 1 if report.missed else 0


if __name__ == "__main__":
    sys.exit(main())
