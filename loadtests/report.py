"""The end-to-end load report: what was measured, the targets, and which were missed. Pure: no I/O."""

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Targets:
    """What a run must show; timing targets apply only to full runs, correctness targets always."""

    webhook_p99_ms: float = 50.0
    assigned_p99_ms: float = 250.0
    min_achieved_share: float = 0.95  # achieved msg/s over offered
    max_final_lag_seconds: float = 1.0  # backlog left when the load stops, in seconds of offered load
    check_timings: bool = True


@dataclass
class Report:
    run_id: str
    shape: str
    duration_s: float
    offered_rate: float
    achieved_rate: float
    webhooks_posted: int
    webhooks_failed: int
    webhook_ms: dict[str, float]
    messages_stored: int
    messages_lost: int
    duplicate_messages: int
    conversations: int
    conversations_never_assigned: int
    assigned_ms: dict[str, float]
    agent_cap: int
    highest_pending_seen: int  # of this run's agents
    most_over_cap: int  # of any agent, against their own cap: positive is a violation
    cap_samples: int
    replies_sent: int
    provider_requests: int
    duplicate_sends: int
    dispatch_outcomes: dict[str, float]
    stranded_conversations: int  # assigned to an agent who is offline, after the run settled
    agents_with_pending_drift: int  # pending counter differs from the conversations the agent holds
    lag_first_quarter: float
    lag_last_quarter: float
    lag_max: float
    lag_at_end: float
    assigned_on_arrival: int = 0  # the router's count: assigned in the drain its own arrival started
    assigned_after_waiting: int = 0  # waited in the queue for an agent to have room
    queued_at_start: int = 0  # a backlog before the run is served first, and shows in its latencies
    automated_conversations: int = 0  # the bot answered at least once
    bot_kept_conversations: int = 0  # the bot answered without an agent (never handed over)
    bot_replies_sent: int = 0  # included in replies_sent
    bot_reply_ms: dict[str, float] = field(default_factory=dict)  # webhook -> the bot's first reply sent
    cpu_ms_per_webhook: dict[str, float] = field(default_factory=dict)  # per process group, and total
    machine_busy_share: float | None = None  # of all cores, load start -> settled
    settled: bool = True  # False: the pipeline was still catching up when measured; figures are partial
    missed: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def evaluate(report: Report, targets: Targets) -> list[str]:
    """Every target the run missed, as a sentence; empty when all were met."""
    missed = []
    if not report.settled:
        missed.append("the pipeline had not caught up when measured (lag or unsent replies left): figures are partial")
    if report.messages_lost:
        missed.append(f"{report.messages_lost} accepted messages were never stored")
    if report.duplicate_messages or report.duplicate_sends:
        missed.append(f"duplicates: {report.duplicate_messages} stored, {report.duplicate_sends} sent")
    if report.most_over_cap > 0 or report.highest_pending_seen > report.agent_cap:
        over = max(report.most_over_cap, report.highest_pending_seen - report.agent_cap)
        missed.append(f"an agent went {over} over their cap")
    if report.stranded_conversations or report.agents_with_pending_drift:
        missed.append(
            f"{report.stranded_conversations} conversations left with offline agents, "
            f"{report.agents_with_pending_drift} agents' pending counters drifted"
        )
    if report.cap_samples == 0:
        missed.append("the cap was never sampled")
    if report.webhooks_failed:
        missed.append(f"{report.webhooks_failed} webhooks were refused or failed")
    if not targets.check_timings:
        return missed
    if report.webhook_ms.get("p99", 0) >= targets.webhook_p99_ms:
        missed.append(f"webhook p99 {report.webhook_ms['p99']:.0f} ms >= {targets.webhook_p99_ms:.0f} ms")
    if report.assigned_ms.get("p99", 0) >= targets.assigned_p99_ms:
        missed.append(f"webhook -> assigned p99 {report.assigned_ms['p99']:.0f} ms >= {targets.assigned_p99_ms:.0f} ms")
    if report.conversations_never_assigned:
        missed.append(f"{report.conversations_never_assigned} conversations were never assigned")
    if report.achieved_rate < targets.min_achieved_share * report.offered_rate:
        missed.append(
            f"achieved {report.achieved_rate:.0f} msg/s < {targets.min_achieved_share:.0%} of "
            f"{report.offered_rate:.0f} offered"
        )
    if report.lag_at_end > targets.max_final_lag_seconds * report.offered_rate:
        missed.append(f"consumer lag {report.lag_at_end:.0f} records when the load stopped")
    return missed


def render(report: Report) -> str:
    """The report as a fixed-width table."""

    def pct(values: dict[str, float]) -> str:
        return " / ".join(f"{values.get(k, float('nan')):.1f}" for k in ("p50", "p95", "p99"))

    rows = [
        ("run", f"{report.run_id} ({report.shape}, {report.duration_s:.0f} s)"),
        ("offered / achieved msg/s", f"{report.offered_rate:.1f} / {report.achieved_rate:.1f}"),
        ("webhooks posted / failed", f"{report.webhooks_posted} / {report.webhooks_failed}"),
        ("webhook response p50/p95/p99 ms", pct(report.webhook_ms)),
        ("webhook -> assigned p50/p95/p99 ms", pct(report.assigned_ms)),
        (
            "messages stored / lost / duplicate",
            f"{report.messages_stored} / {report.messages_lost} / {report.duplicate_messages}",
        ),
        (
            "first assigned by own arrival / later event",
            f"{report.assigned_on_arrival} / {report.assigned_after_waiting}",
        ),
        (
            "conversations / never assigned; queued before",
            f"{report.conversations} / {report.conversations_never_assigned}; {report.queued_at_start}",
        ),
        (
            "highest pending seen / cap; most over any cap",
            f"{report.highest_pending_seen} / {report.agent_cap}; {report.most_over_cap} "
            f"({report.cap_samples} samples)",
        ),
        (
            "automated conversations / kept by the bot",
            f"{report.automated_conversations} / {report.bot_kept_conversations} "
            f"({100 * report.bot_kept_conversations / max(1, report.conversations):.0f}% without an agent)",
        ),
        ("webhook -> bot reply sent p50/p95/p99 ms", pct(report.bot_reply_ms)),
        (
            "replies sent (agents + bot) / provider requests / dup",
            f"{report.replies_sent} / {report.provider_requests} / {report.duplicate_sends}",
        ),
        (
            "stranded on offline agents / pending drift",
            f"{report.stranded_conversations} / {report.agents_with_pending_drift}",
        ),
        ("dispatch outcomes", ", ".join(f"{k} {v:.0f}" for k, v in sorted(report.dispatch_outcomes.items())) or "-"),
        (
            "router lag first/last quarter, max, end",
            f"{report.lag_first_quarter:.0f} / {report.lag_last_quarter:.0f}, "
            f"{report.lag_max:.0f}, {report.lag_at_end:.0f}",
        ),
        (
            "CPU ms per webhook; machine busy",
            ", ".join(f"{k} {v:.2f}" for k, v in report.cpu_ms_per_webhook.items())
            + (f"; {report.machine_busy_share:.0%}" if report.machine_busy_share is not None else ""),
        ),
        ("verdict", "PASS" if not report.missed else "FAIL: " + "; ".join(report.missed)),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name.ljust(width)}  {value}" for name, value in rows)
