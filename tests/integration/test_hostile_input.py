"""The hostile-input suite: hundreds of malformed, oversized, mis-signed and out-of-range requests against every
webhook and every `/v1` call of the real stack (tests/integration/hostile_corpus.py builds them).

For each: no 5xx; a refusal is a 4xx with `{"error", "detail"}`; nothing a refused request carried is stored
in PostgreSQL or Kafka; and no Prometheus series is minted from what a request said. The counts go to
.local/hostile/report.json and to the test's output; a failure lists every bad answer in one message.
"""

import asyncio
import contextlib
import re
import secrets
import time
from typing import Any
from urllib.parse import urlencode

import asyncpg
import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from prometheus_client.parser import text_string_to_metric_families

from ingest.errors import (
    BodyIncomplete,
    BodyTimeout,
    LedgerUnavailable,
    PayloadError,
    PayloadTooLarge,
    PublishError,
    SignatureError,
    UnknownChannel,
)
from ingest.mailgun_ledger import PostgresTokenLedger
from loadtests.ports import free_port
from router.automation_api import routes as automation_routes
from router.contacts_api import routes as contact_routes
from router.handover_api import routes as handover_routes
from router.quick_replies_api import routes as quick_reply_routes
from tests.integration import hostile_corpus as corpus
from tests.integration.client import Switchboard, eventually
from tests.integration.conftest import KAFKA, Stack
from tests.integration.hostile_corpus import ACCEPTED, HANDSHAKE, REFUSED, Case
from tests.integration.services import REPO, ServiceProcess

pytestmark = [
    pytest.mark.integration,
    # A socket of the suite's own raw requests is still collected unclosed on some runs (it has not been found
    # yet): the warning is about the test's client, not about anything the suite asserts. To be removed once found.
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

REPORT = REPO / ".local" / "hostile" / "report.json"
CONCURRENCY = 12
# A server may close a connection after refusing a body it did not read; reusing it would read as no answer.
FRESH_CONNECTIONS = httpx.Limits(max_keepalive_connections=0)
ANSWER_TIMEOUT_S = 25.0  # above ingest's 10 s body read timeout
INGEST_OUTCOMES = {
    "accepted",
    *(
        e.code
        for e in (
            UnknownChannel,
            SignatureError,
            PayloadError,
            BodyIncomplete,
            BodyTimeout,
            PayloadTooLarge,
            PublishError,
            LedgerUnavailable,
        )
    ),
}


class Answer:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body


async def _send(http: httpx.AsyncClient, base: str, case: Case) -> Answer | str:
    """The answer to one case, or why there was none."""
    try:
        if case.declared_length is not None:
            return await _send_raw(base, case)
        content: Any = case.body
        if case.chunked and case.body is not None:
            body = case.body

            async def chunks() -> Any:
                for start in range(0, len(body), 64 * 1024):
                    yield body[start : start + 64 * 1024]

            content = chunks()
        response = await http.request(case.method, base + case.path, content=content, headers=case.headers)
        return Answer(response.status_code, dict(response.headers), response.content)
    except (httpx.HTTPError, OSError, TimeoutError) as error:
        return f"no answer: {error!r}"


async def _send_raw(base: str, case: Case) -> Answer | str:
    """A request whose Content-Length promises more than is sent; the connection then stays silent."""
    host, port = base.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        head = [f"{case.method} {case.path} HTTP/1.1", f"Host: {host}", f"Content-Length: {case.declared_length}"]
        head += [f"{name}: {value}" for name, value in case.headers.items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + (case.body or b""))
        await writer.drain()
        async with asyncio.timeout(ANSWER_TIMEOUT_S):
            status_line = await reader.readline()
            if not status_line:
                return "no answer: the connection was closed"
            headers: dict[str, str] = {}
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
        return Answer(int(status_line.split()[1]), headers, body)
    except TimeoutError:
        return f"no answer within {ANSWER_TIMEOUT_S:.0f}s"
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()  # else the writer is collected later, in another test, as a ResourceWarning


def _problem(case: Case, answer: Answer | str) -> str | None:
    """What is wrong with the answer, or None."""
    if isinstance(answer, str):
        return answer
    if answer.status >= 500:
        return f"{answer.status}"
    if case.expect == HANDSHAKE:
        return None if (answer.status, answer.body.decode()) == (200, case.token) else f"{answer.status}"
    if answer.status < 400:
        if case.expect == REFUSED:
            return f"{answer.status}, expected a refusal"
        if case.target == "ingest" and answer.status != 200:
            return f"{answer.status}, expected 200"
        return None
    if case.expect == ACCEPTED:
        return f"{answer.status}, expected it accepted"
    if case.statuses and answer.status not in case.statuses:
        return f"{answer.status}, expected one of {case.statuses}"
    try:
        body = orjson.loads(answer.body)
    except orjson.JSONDecodeError:
        return f"{answer.status} with a body that is not JSON"
    if not (isinstance(body, dict) and isinstance(body.get("error"), str) and "detail" in body):
        return f"{answer.status} without {{error, detail}}"
    return None


async def _run(http: httpx.AsyncClient, base: str, cases: list[Case]) -> list[tuple[Case, Answer | str]]:
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one(case: Case) -> tuple[Case, Answer | str]:
        async with limit:
            return case, await _send(http, base, case)

    # Slow cases (silent bodies) first, so they overlap with the rest; then the ones that must be in order.
    slow_first = sorted(
        (c for c in cases if not c.ordered), key=lambda c: c.declared_length is None or c.declared_length > 2**30
    )
    results = list(await asyncio.gather(*(one(case) for case in slow_first)))
    for case in (c for c in cases if c.ordered):
        results.append((case, await _send(http, base, case)))
    return results


def _report(bad: list[tuple[Case, Answer | str, str]], heading: str) -> str:
    lines = [f"{len(bad)} bad answer(s) {heading}:"]
    for case, answer, problem in bad:
        excerpt = "" if isinstance(answer, str) else answer.body[:160].decode("utf-8", "replace")
        lines.append(f"  {case.describe()} -> {problem} {excerpt!r}")
    return "\n".join(lines)


def _write_report(
    part: str, cases: list[Case], results: list[tuple[Case, Answer | str]], bad: list[tuple[Case, Answer | str, str]]
) -> str:
    statuses: dict[str, int] = {}
    for _, answer in results:
        key = answer if isinstance(answer, str) else str(answer.status)
        key = key if len(key) < 8 else "no answer"
        statuses[key] = statuses.get(key, 0) + 1
    counts = corpus.categories(cases)
    five_xx = sum(n for status, n in statuses.items() if status.startswith("5"))
    summary = {
        "requests": len(cases),
        "categories": len(counts),
        "by_category": counts,
        "by_status": statuses,
        "5xx": five_xx,
        "bad_answers": len(bad),
        "bad": [f"{case.describe()} -> {problem}" for case, _, problem in bad],
    }
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    existing = orjson.loads(REPORT.read_bytes()) if REPORT.exists() else {}
    REPORT.write_bytes(orjson.dumps({**existing, part: summary}, option=orjson.OPT_INDENT_2))
    line = (
        f"hostile {part}: {len(cases)} requests over {len(counts)} categories, {five_xx} answered 5xx, "
        f"{len(bad)} bad answers ({REPORT})"
    )
    print(line)
    return line


async def _series(http: httpx.AsyncClient, base: str) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    text = (await http.get(f"{base}/metrics")).text
    return {
        (sample.name, tuple(sorted(sample.labels.items())))
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _minted(before: set, after: set, run: str) -> list[str]:
    """New series whose labels came from a request: the run's marker, or an ingest label outside its known set."""
    wrong = []
    for name, labels in sorted(after - before):
        values = dict(labels)
        from_request = any(run in value for value in values.values())
        unknown_channel = values.get("channel", "unknown") not in {*corpus.CHANNELS, "unknown"}
        unknown_outcome = name.startswith("switchboard_ingest_messages") and values["outcome"] not in INGEST_OUTCOMES
        if from_request or unknown_channel or unknown_outcome:
            wrong.append(f"{name}{values}")
    return wrong


async def _stored_tokens(dsn: str, run: str) -> set[str]:
    """Every token of the run found in any row of any table."""
    found: set[str] = set()
    conn = await asyncpg.connect(dsn)
    try:
        tables = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        for row in tables:
            texts = await conn.fetch(
                f'SELECT t::text AS row FROM "{row["tablename"]}" t WHERE t::text LIKE $1', f"%{run}%"
            )
            for text in texts:
                found.update(re.findall(rf"{run}\d{{5}}z", text["row"]))
    finally:
        await conn.close()
    return found


async def _published_tokens(topic: str, run: str) -> set[str]:
    """Every token of the run in any record of the topic, read from the beginning to its end."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=KAFKA, enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    found: set[bytes] = set()
    try:
        partitions = list(consumer.assignment())
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            positions = {tp: await consumer.position(tp) for tp in ends}
            if all(positions[tp] >= end for tp, end in ends.items()):
                break
            batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
            for records in batches.values():
                for record in records:
                    found.update(re.findall(rf"{run}\d{{5}}z".encode(), record.value or b""))
    finally:
        await consumer.stop()
    return {token.decode() for token in found}


def _leaks(cases: list[Case], results: list[tuple[Case, Answer | str]], stored: set[str], where: str) -> list[str]:
    refused = {
        case.token for case, answer in results if case.token and (isinstance(answer, str) or answer.status >= 400)
    }
    return [
        f"{where}: {case.describe()} was refused but its {case.token} is stored"
        for case in cases
        if case.token in refused & stored
    ]


# The webhooks -------------------------------------------------------------------------------------------------


async def test_every_webhook_refuses_hostile_input_with_a_4xx_and_stores_nothing_it_refused(
    stack: Stack, switchboard: Switchboard
) -> None:
    run = "hx" + secrets.token_hex(3)
    cases = corpus.webhook_corpus(stack.ingest.url, run).cases
    http = switchboard.http
    before = await _series(http, stack.ingest.url)
    async with httpx.AsyncClient(timeout=ANSWER_TIMEOUT_S, limits=FRESH_CONNECTIONS) as client:
        results = await _run(client, stack.ingest.url, cases)
    bad = [(case, answer, problem) for case, answer in results if (problem := _problem(case, answer))]
    _write_report("webhooks", cases, results, bad)

    # What was accepted is stored, cleaned; nothing of what was refused is stored or published.
    accepted = [case for case, answer in results if case.stored_text and not _problem(case, answer)]

    async def all_stored() -> bool:
        return len(await switchboard_rows(stack.dsn, [c.token for c in accepted])) >= len(accepted)

    with contextlib.suppress(AssertionError):  # what is missing is listed below with the rest
        await eventually(all_stored, timeout_s=60, what="the accepted hostile messages to be stored")
    rows = await switchboard_rows(stack.dsn, [c.token for c in accepted])
    wrong_text = [
        f"{c.describe()}: stored {rows.get(c.token)!r}, expected {c.stored_text!r}"
        for c in accepted
        if rows.get(c.token) != c.stored_text
    ]
    leaks = _leaks(cases, results, await _stored_tokens(stack.dsn, run), "PostgreSQL")
    leaks += _leaks(cases, results, await _published_tokens(stack.topics.inbound, run), "Kafka")
    minted = _minted(before, await _series(http, stack.ingest.url), run)
    problems = [_report(bad, "from ingest")] if bad else []
    problems += wrong_text + leaks + [f"ingest /metrics minted {series}" for series in minted]
    assert not problems, "\n".join(problems)


async def switchboard_rows(dsn: str, tokens: list[str]) -> dict[str, str]:
    """Stored inbound messages' text by the token it carries."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT text FROM messages WHERE direction = 'inbound' AND text ~ $1", f"({'|'.join(tokens) or 'none'})"
        )
    finally:
        await conn.close()
    by_token: dict[str, str] = {}
    for row in rows:
        for token in tokens:
            if token in (row["text"] or ""):
                by_token[token] = row["text"]
    return by_token


async def test_a_nul_through_the_sandbox_webchat_is_accepted_and_stored_without_it(
    stack: Stack, switchboard: Switchboard, db: asyncpg.Connection
) -> None:
    marker = "nul" + secrets.token_hex(4)
    answer = await switchboard.http.post(
        f"{stack.sandbox.url}/sandbox/webhooks/webchat", json={"from": "v-nul", "text": f"hello\u0000world {marker}"}
    )
    assert answer.status_code == 200, answer.text

    async def stored() -> str | None:
        text: str | None = await db.fetchval("SELECT text FROM messages WHERE text LIKE $1", f"%{marker}")
        return text

    assert await eventually(stored, timeout_s=30, what="the message to be stored") == f"helloworld {marker}"
    # The partition is not wedged: a message after it on the same customer is stored too.
    answer = await switchboard.http.post(
        f"{stack.sandbox.url}/sandbox/webhooks/webchat", json={"from": "v-nul", "text": f"after {marker}"}
    )
    assert answer.status_code == 200, answer.text
    await eventually(lambda: db.fetchval("SELECT text FROM messages WHERE text = $1", f"after {marker}"), timeout_s=30)


def _mailgun_form(token: str) -> bytes:
    c = corpus.Corpus("", token[:-6])
    fields = c.mailgun_fields(token)
    return urlencode(fields).encode()


async def test_a_mailgun_token_accepted_by_one_ingest_is_a_replay_for_another(
    stack: Stack, switchboard: Switchboard
) -> None:
    port = free_port()
    other = ServiceProcess("ingest", port, {**stack.env, "SWITCHBOARD_PORT": str(port)}, name="ingest-2")
    other.start()
    try:
        other.wait_ready()
        body = _mailgun_form("mg" + secrets.token_hex(2) + "00001z")
        headers = {"content-type": corpus.FORM}
        first = await switchboard.http.post(f"{stack.ingest.url}/webhooks/mailgun", content=body, headers=headers)
        assert first.status_code == 200, first.text
        replay = await switchboard.http.post(f"{other.url}/webhooks/mailgun", content=body, headers=headers)
        assert (replay.status_code, replay.json()["error"]) == (401, "bad_signature"), replay.text
        assert "already used" in replay.json()["detail"]
    finally:
        other.stop()


async def test_an_unreachable_replay_ledger_is_a_503_for_mailgun_and_no_obstacle_to_other_channels(
    stack: Stack, switchboard: Switchboard
) -> None:
    port = free_port()
    nowhere = f"postgresql://switchboard:switchboard@127.0.0.1:{free_port()}/switchboard"
    env = {**stack.env, "SWITCHBOARD_PORT": str(port), "SWITCHBOARD_DATABASE_URL": nowhere}
    cut_off = ServiceProcess("ingest", port, env, name="ingest-no-ledger")
    cut_off.start()
    try:
        cut_off.wait_ready()
        token = "mg" + secrets.token_hex(2) + "00002z"
        answer = await switchboard.http.post(
            f"{cut_off.url}/webhooks/mailgun", content=_mailgun_form(token), headers={"content-type": corpus.FORM}
        )
        assert (answer.status_code, answer.json()["error"]) == (503, "ledger_unavailable"), answer.text
        c = corpus.Corpus(cut_off.url, "wa" + secrets.token_hex(2))
        wa_token = c.token()
        body = corpus.dumps(c.payload("whatsapp", wa_token))
        answer = await switchboard.http.post(
            f"{cut_off.url}/webhooks/whatsapp", content=body, headers=c.signed_json("whatsapp", body)
        )
        assert answer.status_code == 200, answer.text
        assert token not in await _published_tokens(stack.topics.inbound, token[:-6])
    finally:
        cut_off.stop()


# The router's /v1 API -------------------------------------------------------------------------------------------


def test_the_corpus_names_every_v1_route():
    from router.api import routes

    served = {
        (method, getattr(route, "path", ""))
        for router in (routes, automation_routes, contact_routes, handover_routes, quick_reply_routes)
        for route in router.routes
        for method in getattr(route, "methods", ())
    }
    named = {
        (e.method, re.sub(r"\{(agent|conversation|contact|id|account)\}", "{}", e.path.split("?")[0]))
        for e in corpus.ENDPOINTS
    }
    assert {(m, re.sub(r"\{[a-z_]+\}", "{}", p)) for m, p in served} == named


async def test_every_v1_call_refuses_wrong_credentials_and_bad_admin_input_with_a_4xx(
    stack: Stack, switchboard: Switchboard
) -> None:
    run = "hv" + secrets.token_hex(3)
    http = switchboard.http
    agent = await switchboard.create_agent("Hostile agent")
    contact = await http.post(
        f"{stack.router.url}/v1/crm/contacts",
        json={"channel": "telegram", "external_id": f"90{secrets.randbelow(10**8)}"},
        headers=switchboard.admin,
    )
    assert contact.status_code == 200, contact.text
    conversation_id = "00000000-0000-4000-8000-000000000001"
    ids = {
        "agent": agent["id"],
        "conversation": conversation_id,
        "contact": contact.json()["id"],
        "id": "00000000-0000-4000-8000-000000000002",
        "account": f"acct{run}",
    }
    cases = corpus.router_corpus(run, agent["token"], ids).cases
    unauthenticated = [c for c in cases if c.category == "v1_credentials"]
    before = await _series(http, stack.router.url)
    async with httpx.AsyncClient(timeout=ANSWER_TIMEOUT_S, limits=FRESH_CONNECTIONS) as client:
        results = await _run(client, stack.router.url, unauthenticated)
        minted = _minted(before, await _series(http, stack.router.url), run)
        results += await _run(client, stack.router.url, [c for c in cases if c.category != "v1_credentials"])
    bad = [(case, answer, problem) for case, answer in results if (problem := _problem(case, answer))]
    _write_report("v1", cases, results, bad)
    leaks = _leaks(cases, results, await _stored_tokens(stack.dsn, run), "PostgreSQL")
    minted += _minted(before, await _series(http, stack.router.url), run)
    problems = [_report(bad, "from the router's /v1 API")] if bad else []
    problems += leaks + [f"router /metrics minted {series}" for series in sorted(set(minted))]
    assert not problems, "\n".join(problems)


def test_the_suite_sends_at_least_500_requests_over_at_least_10_categories():
    webhooks = corpus.webhook_corpus("http://127.0.0.1:1", "hx000000").cases
    ids = dict.fromkeys(("agent", "conversation", "contact", "id"), "00000000-0000-4000-8000-000000000000")
    v1 = corpus.router_corpus("hv000000", "sbat_x", {**ids, "account": "a"}).cases
    cases = webhooks + v1
    channels = {c.path.split("?")[0].removeprefix("/webhooks/") for c in webhooks if c.method == "POST"}
    assert set(corpus.CHANNELS) <= channels
    assert len(cases) >= 500
    assert len(corpus.categories(cases)) >= 10
    print(f"hostile corpus: {len(cases)} requests over {len(corpus.categories(cases))} categories")


async def test_the_replay_ledger_forgets_a_token_once_it_expires_and_sweeps_expired_ones(stack: Stack) -> None:
    ledger = PostgresTokenLedger(stack.dsn, timeout_s=5)
    await ledger.start()
    conn = await asyncpg.connect(stack.dsn)
    try:
        now = time.time()
        token = f"live-{secrets.token_hex(8)}"
        assert await ledger.first_use(token, now + 300)
        assert not await ledger.first_use(token, now + 300)  # a replay within the window
        expired = f"expired-{secrets.token_hex(8)}"
        await conn.execute("INSERT INTO mailgun_tokens VALUES ($1, now() - interval '1 second')", expired)
        assert await ledger.first_use(expired, now + 300)  # past its window: a first use again
        assert not await ledger.first_use(expired, now + 300)
        # Long expired (the oldest in the table): each claim sweeps up to two of them besides its own.
        old = [f"old-{secrets.token_hex(8)}" for _ in range(3)]
        await conn.executemany("INSERT INTO mailgun_tokens VALUES ($1, '2000-01-01T00:00:00Z')", [(t,) for t in old])
        assert await ledger.first_use(f"new-{secrets.token_hex(8)}", now + 300)
        assert await conn.fetchval("SELECT count(*) FROM mailgun_tokens WHERE token = ANY($1)", old) == 1
    finally:
        await conn.close()
        await ledger.close()
