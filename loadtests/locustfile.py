"""Locust scenarios: customers posting signed webhooks at a controlled rate, agents answering them.

Run through `make loadtest` (see loadtests/run.py), which also writes the end-to-end report. Options
(each also settable by its LOCUST_* environment variable): --rate msg/s, --shape constant|step|spike,
--duration s, --agents N, --agent-think s, --run-id, --channels, --accounts and the router URL; the
stack's webhook secrets come as its SWITCHBOARD_* variables.

Customers: delivery workers (Locust users) each post ~10 webhooks a second for ten customers in
conversation, each on a channel of the mix (loadtests/channel_mix.py: every channel, WhatsApp first;
--channels whatsapp=40,line=10,... changes it). A conversation is 1-5 messages; then a new customer takes
the place, or (30%) a returning one who writes again, on the same channel or (half of those who wrote
from a phone) on the other phone channel: WhatsApp and SMS from one number are one person.

Agents: a fixed number go online, follow their live events (server-sent), send a heartbeat every
HEARTBEAT_EVERY_S so a long run does not time them out, and answer each conversation they are given after
a think time with one "send and resolve" call, so capacity frees as in real life.
"""

import itertools
import json
import os
import random
import socket
import time
from collections.abc import Iterator
from typing import Any

import gevent
import gevent.pool
import gevent.queue
import requests
from geventhttpclient.connectionpool import ConnectionPool
from locust import FastHttpUser, LoadTestShape, constant, constant_throughput, events, task
from locust.env import Environment
from locust.exception import StopUser

from loadtests.answers import NO_ANSWER, Answers, answers_path, write_answers
from loadtests.channel_mix import (
    DEFAULT_MIX,
    Customer,
    Webhooks,
    customer_marker,
    format_mix,
    message_marker,
    parse_mix,
    pick_channel,
)
from loadtests.shapes import SHAPES, rate_at
from sandbox.webhooks.compose import Accounts, Secrets


def _send_without_delay(_pool: ConnectionPool, sock: Any) -> None:
    # geventhttpclient leaves Nagle's algorithm on. A request written in two parts then waits ~40 ms for
    # the server's delayed ACK, which Locust would report as Switchboard's latency (measured: p50 46 ms
    # against 3.9 ms for the same load with TCP_NODELAY). Providers' HTTP clients set TCP_NODELAY.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


ConnectionPool.after_connect = _send_without_delay  # type: ignore[method-assign,assignment]  # its documented hook
RETURNING_SHARE = 0.3
SWITCHING_SHARE = 0.5
_OTHER_PHONE_CHANNEL = {"whatsapp": "twilio", "twilio": "whatsapp"}
WEBHOOKS_PER_WORKER = 10.0
CUSTOMERS_PER_WORKER = 10
# The router times out an agent silent for SWITCHBOARD_HEARTBEAT_TIMEOUT_S (60 by default): three beats to it.
HEARTBEAT_EVERY_S = 20.0
# Our own outage answers 503: an agent's client waits and tries again, for this long at most.
REFUSED_RETRY_S = 1.0
REFUSED_RETRIES = 3
AGENT_START_WITHIN_S = 60.0
_sequence = itertools.count(1)
_answers: Answers = Answers()
_past_customers: list[Customer] = []
_random = random.Random()


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument("--rate", type=float, env_var="LOCUST_RATE", default=500.0, help="messages per second")
    parser.add_argument("--shape", env_var="LOCUST_SHAPE", default="constant", choices=list(SHAPES))
    parser.add_argument("--duration", type=float, env_var="LOCUST_DURATION", default=60.0, help="seconds")
    parser.add_argument("--agents", type=int, env_var="LOCUST_AGENTS", default=150)
    parser.add_argument("--agent-think", type=float, env_var="LOCUST_AGENT_THINK", default=0.5, help="seconds")
    parser.add_argument("--run-id", env_var="LOCUST_RUN_ID", default=str(os.getpid()))
    parser.add_argument("--channels", env_var="LOCUST_CHANNELS", default=format_mix(DEFAULT_MIX), help="weights")
    parser.add_argument("--accounts", env_var="LOCUST_ACCOUNTS", default="", help="SWITCHBOARD_ACCOUNTS JSON")
    parser.add_argument("--admin-token", env_var="LOCUST_ADMIN_TOKEN", default="dev-admin-token")
    parser.add_argument("--router", env_var="LOCUST_ROUTER", default="http://127.0.0.1:8081")


def _options_of(environment: Environment) -> Any:
    return environment.parsed_options


class Conversation:
    """A customer in the middle of a conversation: who they are and how many messages they have left."""

    def __init__(self, customer: Customer) -> None:
        self.customer = customer
        self.remaining = random.randint(1, 5)


class CustomerTraffic(FastHttpUser):
    """A provider's webhook delivery worker: ~10 webhooks a second over one persistent connection, for
    the customers it carries, each of whom writes about once a second.

    Why not one Locust user per customer: a connection used once a second costs geventhttpclient ~16 ms
    per request (measured: GET /healthz p50 17 ms at 100 users x 1/s, 1 ms at 10 users x 10/s), which the
    report would blame on Switchboard. Providers deliver over busy pooled connections, as here.
    """

    wait_time = constant_throughput(WEBHOOKS_PER_WORKER)

    def on_start(self) -> None:
        # Workers spawned together would fire in lockstep; a random phase spreads arrivals out.
        gevent.sleep(random.random() / WEBHOOKS_PER_WORKER)
        self.conversations = [Conversation(_next_customer(self.environment)) for _ in range(CUSTOMERS_PER_WORKER)]
        self.webhooks = _webhooks_of(self.environment)

    @task
    def deliver(self) -> None:
        options = _options_of(self.environment)
        index = random.randrange(len(self.conversations))
        conversation = self.conversations[index]
        message_key = f"{message_marker(options.run_id)}{os.getpid()}x{next(_sequence)}"
        delivery = self.webhooks.message(conversation.customer, message_key, random.choice(_QUESTIONS))
        self.client.post(
            delivery.path,
            data=delivery.webhook.body,  # type: ignore[arg-type]  # Locust's annotation omits bytes; sent as is
            headers=delivery.webhook.headers,
            name="webhook",
        )
        conversation.remaining -= 1
        if conversation.remaining == 0:
            self.conversations[index] = Conversation(_next_customer(self.environment))


def _next_customer(environment: Environment) -> Customer:
    """A new customer on a channel of the mix, or (RETURNING_SHARE of the time) one who wrote before and
    writes again on the same channel."""
    if _past_customers and random.random() < RETURNING_SHARE:
        returning = random.choice(_past_customers)
        # Half of those who wrote from a phone come back on the other phone channel (WhatsApp <-> SMS): the
        # router must see one person, one thread (their numbers meet in E.164).
        other = _OTHER_PHONE_CHANNEL.get(returning.channel)
        if other and other in _mix_of(environment) and random.random() < SWITCHING_SHARE:
            return Customer(other, returning.key)
        return returning
    options = _options_of(environment)
    channel = pick_channel(_mix_of(environment), _random)
    customer = Customer(channel, f"{customer_marker(options.run_id)}{next(_sequence):06d}")
    _past_customers.append(customer)
    return customer


def _mix_of(environment: Environment) -> dict[str, float]:
    return parse_mix(_options_of(environment).channels)


def _webhooks_of(environment: Environment) -> Webhooks:
    options = _options_of(environment)
    # The stack's webhook secrets come as its own SWITCHBOARD_* variables (loadtests/run.py passes them).
    return Webhooks(environment.host or "", Secrets.from_env(os.environ), Accounts.from_configured(options.accounts))


class Agent(FastHttpUser):
    """A human agent: online for the run, follows their live events, sends heartbeats, and answers each
    conversation they are given after a think time with "send and resolve", several at once as real agents do.
    """

    fixed_count = 0  # set from --agents at test start
    wait_time = constant(0)  # the task blocks on the agent's inbox

    def on_start(self) -> None:
        options = _options_of(self.environment)
        self.router = options.router
        created = self._create(options)
        self.agent_id = created["id"]
        self.auth = {"authorization": f"Bearer {created['token']}"}
        self.think = options.agent_think
        self.inbox: gevent.queue.Queue[str] = gevent.queue.Queue()
        self._presence("online")
        self.answering = gevent.pool.Group()
        self.stopping = False
        self.listener = gevent.spawn(self._follow_events)
        self.heartbeat = gevent.spawn(self._beat)

    def _create(self, options: Any) -> dict[str, Any]:
        """Create the agent, waiting out a router that is down or refusing (503) for a while."""
        admin = {"authorization": f"Bearer {options.admin_token}"}
        deadline = time.monotonic() + AGENT_START_WITHIN_S
        while True:
            response = self.client.post(
                f"{self.router}/v1/agents", json={"name": f"lt-{options.run_id}"}, headers=admin, name="agent: create"
            )
            if response.status_code in (200, 201):
                created: dict[str, Any] = response.json()
                return created
            if time.monotonic() > deadline:
                raise StopUser()
            gevent.sleep(REFUSED_RETRY_S)

    def on_stop(self) -> None:
        if not hasattr(self, "agent_id"):
            return  # never started: the router was down the whole time
        # Finish the replies in flight and start no more: a reply sent after the log-off released the
        # conversation would be refused, and one cut off mid-request would count as a failure.
        self.stopping = True
        self.listener.kill(block=False)
        self.heartbeat.kill(block=False)
        self.answering.join(timeout=10)
        self._presence("offline")

    def _presence(self, status: str) -> None:
        self.client.put(
            f"{self.router}/v1/agents/{self.agent_id}/presence",
            json={"status": status},
            headers=self.auth,
            name="agent: presence",
        )

    def _beat(self) -> None:
        """Tell the router the agent's client is there, every HEARTBEAT_EVERY_S, until the agent stops."""
        while True:
            gevent.sleep(HEARTBEAT_EVERY_S)
            self.client.post(
                f"{self.router}/v1/agents/{self.agent_id}/heartbeat", headers=self.auth, name="agent: heartbeat"
            )

    def _follow_events(self) -> None:
        """Read the agent's server-sent events into the inbox; reconnect if the stream ends."""
        url = f"{self.router}/v1/agents/{self.agent_id}/events"
        while True:
            started = time.perf_counter()
            try:
                # requests (gevent-patched by Locust) hands over each HTTP chunk as it arrives;
                # geventhttpclient's streaming read waits for a whole buffer, which would hold events back.
                with requests.get(url, headers=self.auth, stream=True, timeout=(5, 60)) as response:
                    _record("GET", "agent: events (connect)", started, self.environment, response.ok)
                    response.raise_for_status()
                    for event, data in _server_sent_events(response.iter_lines(chunk_size=1024)):
                        if event == "conversations":
                            for conversation in json.loads(data)["items"]:
                                self.inbox.put(conversation["id"])
                        elif event == "assigned":
                            self.inbox.put(json.loads(data)["conversation_id"])
            except requests.RequestException:
                _record("GET", "agent: events (connect)", started, self.environment, False)
                gevent.sleep(0.5)

    @task
    def work(self) -> None:
        conversation_id = self.inbox.get()
        self.answering.spawn(self._answer, conversation_id)

    def _answer(self, conversation_id: str) -> None:
        gevent.sleep(self.think)
        if self.stopping:
            return
        # A reference unique to this reply lets the report count a send the provider got twice.
        ref = f"{conversation_id}-{next(_sequence)}"
        reply = f"Thanks, this is sorted. (ref {ref})"
        # A 503 is our outage refusing the reply: nothing was done, so the agent's client sends it again,
        # with the same Idempotency-Key, a few times.
        for _ in range(REFUSED_RETRIES):
            response = self.client.post(
                f"{self.router}/v1/conversations/{conversation_id}/messages",
                json={"text": reply, "resolve": True},
                headers={**self.auth, "idempotency-key": ref},
                name="agent: reply and resolve",
            )
            if response.status_code != 503 or self.stopping:
                return
            gevent.sleep(REFUSED_RETRY_S)


def _server_sent_events(lines: Iterator[bytes]) -> Iterator[tuple[str, str]]:
    """(event, data) pairs from a text/event-stream; comments (the server's pings) are skipped."""
    event, data = "message", list[str]()
    for raw in lines:
        line = raw.decode()
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = "message", []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())


def _record(method: str, name: str, started: float, environment: Environment, ok: bool) -> None:
    environment.events.request.fire(
        request_type=method,
        name=name,
        response_time=(time.perf_counter() - started) * 1000,
        response_length=0,
        exception=None if ok else RuntimeError("the event stream failed"),
        context={},
    )


@events.request.add_listener
def _count_answer(name: str, response: Any = None, exception: Any = None, **_: Any) -> None:
    status = getattr(response, "status_code", None)
    if status is None:  # our own records of the event stream carry no response
        status = NO_ANSWER if exception else 200
    _answers[(name, int(status or NO_ANSWER))] += 1


@events.quitting.add_listener
def _write_answers(**_: Any) -> None:
    # Locust clears --csv in the processes it forks: the harness names the place itself.
    prefix = os.environ.get("LOCUST_ANSWERS_PREFIX")
    if prefix and _answers:
        write_answers(answers_path(prefix, os.getpid()), _answers)


@events.test_start.add_listener
def _size_the_agent_pool(environment: Environment, **_: Any) -> None:
    Agent.fixed_count = _options_of(environment).agents


class ArrivalRate(LoadTestShape):
    """Users = agents + delivery workers; each worker posts WEBHOOKS_PER_WORKER a second."""

    def tick(self) -> tuple[int, float] | None:
        assert self.runner is not None
        options = _options_of(self.runner.environment)
        elapsed = self.get_run_time()
        if elapsed > options.duration:
            return None
        rate = rate_at(options.shape, options.rate, elapsed, options.duration)
        return options.agents + max(1, round(rate / WEBHOOKS_PER_WORKER)), max(50.0, options.rate)


_QUESTIONS = (
    "Where is my order?",
    "I want a refund",
    "Can I get an invoice?",
    "How much is shipping?",
    "What are your opening hours?",
    "주문 상태 알려주세요",
    "환불해 주세요",
    "hello?",
    "thanks!",
)
