"""Locust scenarios: customers posting signed webhooks at a controlled rate, agents answering them.

Run through `make loadtest` (see loadtests/run.py), which also writes the end-to-end report. Options
(each also settable by its LOCUST_* environment variable): --rate msg/s, --shape constant|step|spike,
--duration s, --agents N, --agent-think s, --run-id, secrets and the router URL.

Customers: each Locust user is one customer slot posting about one message a second, so the user count
is the arrival rate. A conversation is 1-5 messages; then the slot becomes a new customer, or (30%) a
returning one who writes again. Agents: a fixed number go online, pick up what they are assigned, reply
after a think time and resolve, so capacity frees as in real life.
"""

import itertools
import os
import random
import time
from typing import Any

from locust import FastHttpUser, LoadTestShape, constant, constant_throughput, events, task
from locust.env import Environment

from loadtests.shapes import SHAPES, rate_at
from sandbox.webhooks import signed_meta, whatsapp_text

PHONE_NUMBER_ID = "106540352242922"
RETURNING_SHARE = 0.3
_sequence = itertools.count(1)
_past_customers: list[str] = []


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument("--rate", type=float, env_var="LOCUST_RATE", default=500.0, help="messages per second")
    parser.add_argument("--shape", env_var="LOCUST_SHAPE", default="constant", choices=list(SHAPES))
    parser.add_argument("--duration", type=float, env_var="LOCUST_DURATION", default=60.0, help="seconds")
    parser.add_argument("--agents", type=int, env_var="LOCUST_AGENTS", default=150)
    parser.add_argument("--agent-think", type=float, env_var="LOCUST_AGENT_THINK", default=1.0, help="seconds")
    parser.add_argument("--run-id", env_var="LOCUST_RUN_ID", default=str(os.getpid()))
    parser.add_argument("--app-secret", env_var="LOCUST_APP_SECRET", default="dev-meta-app-secret")
    parser.add_argument("--admin-token", env_var="LOCUST_ADMIN_TOKEN", default="dev-admin-token")
    parser.add_argument("--router", env_var="LOCUST_ROUTER", default="http://127.0.0.1:8081")


def _options_of(environment: Environment) -> Any:
    return environment.parsed_options


class Customer(FastHttpUser):
    """One customer slot: writes about once a second, several messages per conversation."""

    wait_time = constant_throughput(1)

    def on_start(self) -> None:
        self._new_conversation()

    def _new_conversation(self) -> None:
        options = _options_of(self.environment)
        if _past_customers and random.random() < RETURNING_SHARE:
            self.wa_id = random.choice(_past_customers)
        else:
            self.wa_id = f"9{int(options.run_id) % 100000:05d}{next(_sequence):06d}"
            _past_customers.append(self.wa_id)
        self.remaining = random.randint(1, 5)

    @task
    def write(self) -> None:
        options = _options_of(self.environment)
        wamid = f"wamid.lt{options.run_id}x{os.getpid()}x{next(_sequence)}"
        payload = whatsapp_text(PHONE_NUMBER_ID, self.wa_id, wamid, random.choice(_QUESTIONS))
        signed = signed_meta(payload, options.app_secret)
        self.client.post("/webhooks/whatsapp", data=signed.body.decode(), headers=signed.headers, name="webhook")
        self.remaining -= 1
        if self.remaining == 0:
            self._new_conversation()


class Agent(FastHttpUser):
    """A human agent: online for the run, replies to each assigned conversation, then resolves it."""

    fixed_count = 0  # set from --agents at test start
    wait_time = constant(2)  # how often an agent's screen refreshes its list

    def on_start(self) -> None:
        options = _options_of(self.environment)
        self.router = options.router
        admin = {"authorization": f"Bearer {options.admin_token}"}
        created = self.client.post(
            f"{self.router}/v1/agents", json={"name": f"lt-{options.run_id}"}, headers=admin, name="agent: create"
        ).json()
        self.agent_id = created["id"]
        self.auth = {"authorization": f"Bearer {created['token']}"}
        self.think = options.agent_think
        self.seen: dict[str, float] = {}
        self._presence("online")

    def on_stop(self) -> None:
        self._presence("offline")

    def _presence(self, status: str) -> None:
        self.client.put(
            f"{self.router}/v1/agents/{self.agent_id}/presence",
            json={"status": status},
            headers=self.auth,
            name="agent: presence",
        )

    @task
    def work(self) -> None:
        response = self.client.get(
            f"{self.router}/v1/agents/{self.agent_id}/conversations", headers=self.auth, name="agent: conversations"
        )
        now = time.monotonic()
        for conversation in response.json()["items"]:
            first_seen = self.seen.setdefault(conversation["id"], now)
            if now - first_seen < self.think:
                continue
            base = f"{self.router}/v1/conversations/{conversation['id']}"
            self.client.post(
                f"{base}/messages", json={"text": "Thanks, this is sorted."}, headers=self.auth, name="agent: reply"
            )
            self.client.post(f"{base}/resolve", headers=self.auth, name="agent: resolve")
            del self.seen[conversation["id"]]


@events.test_start.add_listener
def _size_the_agent_pool(environment: Environment, **_: Any) -> None:
    Agent.fixed_count = _options_of(environment).agents


class ArrivalRate(LoadTestShape):
    """Users = agents + customer slots; each slot is ~1 msg/s, so the customer count is the arrival rate."""

    def tick(self) -> tuple[int, float] | None:
        assert self.runner is not None
        options = _options_of(self.runner.environment)
        elapsed = self.get_run_time()
        if elapsed > options.duration:
            return None
        rate = rate_at(options.shape, options.rate, elapsed, options.duration)
        return options.agents + max(1, round(rate)), max(50.0, options.rate)


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
