"""What one chaos scenario showed, whether it passed, and the table of all of them. Pure: no I/O."""

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Outcome:
    """One scenario's figures, counted after recovery and settling."""

    scenario: str
    fault: str
    accepted: int = 0  # webhooks answered 2xx
    refused: int = 0  # webhooks answered 503: our outage, the provider retries
    unanswered: int = 0  # webhooks with no answer (a process killed, a connection refused)
    lost: int = 0  # accepted but never stored
    stored_twice: int = 0
    sent_twice: int = 0  # agents' replies the provider received more than once
    stuck_replies: int = 0  # still pending/sending after settling
    stuck_in_bot: int = 0  # claimed by the bot and never answered
    unknown_replies: int = 0  # outcome unknown (a lease ran out mid-send): counted, not a failure
    unknown_reply_ids: list[str] = field(default_factory=list)
    cap_violations: int = 0  # the most any agent went over their cap, plus pending counters that drifted
    unexpected_5xx: dict[str, int] = field(default_factory=dict)  # "<request> <status>": count, 503 excluded
    consumers_alive: bool = True
    consumers: dict[str, str] = field(default_factory=dict)  # URL: "ok, N partitions" or what was wrong
    recovery_s: float | None = None  # fault end -> every service ready and the lag drained; None: never
    # Webhooks ingest refused (503) after the stack had recovered, while the load still ran: a stack that is
    # "ready" yet refuses is wedged (the broken producer of services/kafka.py). `refusals_allowed` absorbs the
    # requests in flight at the moment recovery was seen: one second of the offered rate.
    refused_after_recovery: int = 0
    refusals_allowed: int = 0
    settled: bool = True
    error: str | None = None  # the fault could not be played, or the stack did not come back from it
    failures: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def verdict(outcome: Outcome) -> list[str]:
    """Every way the scenario failed, as a sentence; empty when it passed."""
    failures = []
    if outcome.error:
        failures.append(outcome.error)
    for count, what in (
        (outcome.lost, "accepted messages never stored"),
        (outcome.stored_twice, "messages stored twice"),
        (outcome.sent_twice, "replies sent twice"),
        (outcome.stuck_replies, "replies stuck pending/sending"),
        (outcome.stuck_in_bot, "conversations stuck in bot"),
        (outcome.cap_violations, "over an agent's cap (or pending counters drifted)"),
        (sum(outcome.unexpected_5xx.values()), f"5xx other than 503 ({outcome.unexpected_5xx})"),
    ):
        if count:
            failures.append(f"{count} {what}")
    if not outcome.consumers_alive:
        failures.append(f"a consumer is not alive: {outcome.consumers}")
    if outcome.recovery_s is None:
        failures.append("the stack did not recover (ready, lag drained) within the bound")
    if outcome.refused_after_recovery > outcome.refusals_allowed:
        failures.append(f"{outcome.refused_after_recovery} webhooks refused (503) after the stack had recovered")
    if not outcome.settled:
        failures.append("the pipeline did not settle (lag or replies in flight left)")
    return failures


COLUMNS = (
    ("scenario", "scenario"),
    ("accepted", "accepted"),
    ("refused", "503"),
    ("unanswered", "no answer"),
    ("lost", "lost"),
    ("stored_twice", "stored 2x"),
    ("sent_twice", "sent 2x"),
    ("stuck_replies", "stuck"),
    ("stuck_in_bot", "bot stuck"),
    ("unknown_replies", "unknown"),
    ("cap_violations", "cap"),
    ("unexpected_5xx", "5xx"),
    ("consumers_alive", "consumers"),
    ("recovery_s", "recovery s"),
    ("refused_after_recovery", "503 after"),
)


def render(outcomes: list[Outcome]) -> str:
    """The scenarios as a Markdown table, then why each failing one failed."""

    def cell(outcome: Outcome, key: str) -> str:
        value = getattr(outcome, key)
        if key == "unexpected_5xx":
            return str(sum(value.values()))
        if key == "consumers_alive":
            return "alive" if value else "DEAD"
        if key == "recovery_s":
            return "never" if value is None else f"{value:.1f}"
        return str(value)

    rows = [[title for _, title in COLUMNS]] + [[cell(o, key) for key, _ in COLUMNS] for o in outcomes]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = ["| " + " | ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) + " |" for row in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for outcome in outcomes:
        verdict_line = "PASS" if not outcome.failures else "FAIL: " + "; ".join(outcome.failures)
        lines.append(f"{outcome.scenario}: {verdict_line}")
        if outcome.unknown_replies:
            lines.append(f"  outcome unknown (not re-sent, shown to the agent): {', '.join(outcome.unknown_reply_ids)}")
    return "\n".join(lines)
