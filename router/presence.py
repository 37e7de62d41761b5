"""Presence over time: when a silent agent is timed out, and how long an offline agent keeps their conversations.

An agent's client sends a heartbeat every ~20 s. One silent past the heartbeat timeout is marked offline
("heartbeat_timeout") but keeps their conversations for a grace period, so a dropped connection or a
restarting laptop does not cost the customers their agent; coming back online within it keeps them. An
agent who logs off gives theirs back at once, so for them the sweep only catches a release that did not
happen (a crash between the two steps of going offline).

Our own outage is not the agents' silence: heartbeats sent while PostgreSQL was unreachable were refused
with a 503, so the sweep remembers when it could not see the database (`DatabaseSightings`) and does not
count those stretches against anyone.

Pure: the store reads agents with the database's clock and applies these decisions with UPDATEs that
re-check them, so a heartbeat racing the sweep lands either first (the agent stays) or after (offline).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from uuid import UUID

OfflineReason = Literal["logged_off", "heartbeat_timeout"]

# Logging off is two steps a few milliseconds apart (status, then release); a logged-off agent still
# holding conversations this long afterwards was not released.
INTERRUPTED_RELEASE_AFTER = timedelta(seconds=5)


@dataclass(frozen=True)
class Seen:
    """An agent who is not offline, and when their client was last heard from."""

    agent_id: UUID
    last_seen_at: datetime


@dataclass(frozen=True)
class OfflineHold:
    """An offline agent who still holds conversations, since when, and why they are offline."""

    agent_id: UUID
    reason: OfflineReason | None  # None: offline since before reasons were recorded, treated as logged off
    offline_since: datetime


@dataclass(frozen=True)
class PresencePolicy:
    """How long an agent may be silent, and how long a timed-out agent keeps their conversations."""

    heartbeat_timeout: timedelta | None  # None: agents are never timed out
    offline_grace: timedelta

    @classmethod
    def of_seconds(cls, heartbeat_timeout_s: float, offline_grace_s: float) -> "PresencePolicy":
        """The policy from settings, where a timeout of 0 turns timeouts off."""
        timeout = timedelta(seconds=heartbeat_timeout_s) if heartbeat_timeout_s > 0 else None
        return cls(heartbeat_timeout=timeout, offline_grace=timedelta(seconds=offline_grace_s))

    def silent_before(self, now: datetime) -> datetime | None:
        """Agents last seen before this moment are timed out; None when timeouts are off."""
        return None if self.heartbeat_timeout is None else now - self.heartbeat_timeout

    def timed_out(self, agents: Iterable[Seen], now: datetime, downtimes: Iterable["Downtime"] = ()) -> list[UUID]:
        """The agents silent for longer than the heartbeat timeout, not counting our own downtimes."""
        if self.heartbeat_timeout is None:
            return []
        outages = tuple(downtimes)
        return [
            agent.agent_id
            for agent in agents
            if now - agent.last_seen_at - sum((d.overlap(agent.last_seen_at, now) for d in outages), timedelta(0))
            > self.heartbeat_timeout
        ]

    def hold_for(self, reason: OfflineReason | None) -> timedelta:
        """How long an agent offline for `reason` keeps their conversations."""
        return self.offline_grace if reason == "heartbeat_timeout" else INTERRUPTED_RELEASE_AFTER

    def releases_due(self, holds: Iterable[OfflineHold], now: datetime) -> list[OfflineHold]:
        """The holds whose time is up: their conversations go back to the queue."""
        return [hold for hold in holds if hold.offline_since + self.hold_for(hold.reason) <= now]


@dataclass(frozen=True)
class Downtime:
    """A stretch when the sweep could not reach the database, so no heartbeat could be recorded."""

    start: datetime
    end: datetime

    def overlap(self, since: datetime, until: datetime) -> timedelta:
        """How much of [since, until] this downtime covers."""
        return max(min(self.end, until) - max(self.start, since), timedelta(0))


class DatabaseSightings:
    """When the sweep last saw the database (by the database's clock), and the downtimes in between.

    A sweep that failed because PostgreSQL was unreachable (`missed`) makes the stretch since the last
    sighting a downtime. A sweep that was merely late (a loaded machine) is not one: heartbeats were being
    recorded meanwhile. Downtimes are kept while they can still matter: until they ended a timeout ago.
    """

    def __init__(self) -> None:
        self._last_seen: datetime | None = None
        self._missed = False
        self._downtimes: list[Downtime] = []

    def saw(self, now: datetime, keep: timedelta | None) -> tuple[Downtime, ...]:
        """The database answered at `now`; returns the downtimes that still count against nobody."""
        last = self._last_seen
        if last is not None and self._missed:
            self._downtimes.append(Downtime(last, now))
        self._last_seen, self._missed = now, False
        if keep is not None:
            self._downtimes = [d for d in self._downtimes if d.end >= now - keep]
        return tuple(self._downtimes)

    def missed(self) -> None:
        """A sweep could not reach the database."""
        self._missed = True
