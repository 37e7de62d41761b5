"""A circuit per (channel, account): a provider that keeps failing is left alone for a while.

    closed --(failure_threshold consecutive failures)--> open --(open_s passed)--> half-open
    half-open: one probe goes through; success -> closed, failure -> open again (open_s doubled, to max_open_s)

While open, replies on that channel and account are scheduled for when it may close, without calling
the provider. Failures are what says the provider is unwell (429, 5xx, unreachable, no answer), not a
refusal of one message.

A small pure state machine rather than a library: pybreaker and circuitbreaker wrap synchronous calls
(one breaker per decorated function), aiobreaker is an unmaintained fork of pybreaker, and purgatory's
async breakers raise from a context manager around the call, whereas the dispatcher needs to ask "may I
send, and if not, until when?" for a key known only at run time, without making the call. Time is passed
in (monotonic seconds), so the machine is tested without a clock.
"""

from dataclasses import dataclass
from enum import Enum


class State(Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass
class Circuit:
    """One provider account's circuit."""

    failure_threshold: int
    open_s: float
    max_open_s: float
    state: State = State.CLOSED
    failures: int = 0
    opened_for_s: float = 0.0
    closes_at: float = 0.0  # while open: when a probe may go
    probing: bool = False

    def allows(self, now: float) -> bool:
        """Whether a call may go to the provider now; in half-open, only one probe at a time."""
        if self.state is State.CLOSED:
            return True
        if self.state is State.OPEN and now >= self.closes_at:
            self.state = State.HALF_OPEN
            self.probing = False
        if self.state is State.HALF_OPEN and not self.probing:
            self.probing = True
            return True
        return False

    def blocked(self, now: float) -> bool:
        """Whether a call at `now` would be refused (without taking the half-open probe)."""
        if self.state is State.OPEN:
            return now < self.closes_at
        return self.state is State.HALF_OPEN and self.probing

    def retry_at(self, now: float) -> float:
        """When a call refused now may be tried: the end of the open period (or shortly, behind a probe)."""
        return self.closes_at if self.state is State.OPEN else now + min(1.0, self.open_s)

    def succeeded(self) -> bool:
        """The provider answered: close. True when this ends an outage (the circuit was open or probing), so the
        replies it put off can go now rather than at their backed-off time."""
        recovered = self.state is not State.CLOSED
        self.state, self.failures, self.opened_for_s, self.probing = State.CLOSED, 0, 0.0, False
        return recovered

    def abandoned(self) -> None:
        """A probe that never reached the provider (a channel rule refused the reply first): let another go."""
        self.probing = False

    def failed(self, now: float) -> None:
        """The provider failed a call: count it, and open when it is one too many or the probe failed."""
        self.failures += 1
        if self.state is State.HALF_OPEN:
            self._open(now, min(self.max_open_s, max(self.open_s, self.opened_for_s * 2)))
        elif self.state is State.CLOSED and self.failures >= self.failure_threshold:
            self._open(now, self.open_s)

    def _open(self, now: float, for_s: float) -> None:
        self.state, self.opened_for_s, self.closes_at, self.probing = State.OPEN, for_s, now + for_s, False


class Circuits:
    """The circuits of every (channel, account), created closed on first use."""

    def __init__(self, failure_threshold: int, open_s: float, max_open_s: float) -> None:
        self._settings = (failure_threshold, open_s, max_open_s)
        self._circuits: dict[tuple[str, str], Circuit] = {}

    def of(self, channel: str, account: str) -> Circuit:
        key = (channel, account)
        circuit = self._circuits.get(key)
        if circuit is None:
            threshold, open_s, max_open_s = self._settings
            circuit = self._circuits[key] = Circuit(threshold, open_s, max_open_s)
        return circuit

    def open_count(self) -> int:
        """How many circuits are not closed."""
        return sum(1 for circuit in self._circuits.values() if circuit.state is not State.CLOSED)
