"""`python -m loadtests.assignment_probe`: webhook -> assigned latency on a running stack.

Posts signed WhatsApp webhooks from new customers at a fixed rate for a bounded time, with enough agents
online that nobody queues, then reads each conversation's `received_at` (set by ingest) and
`first_assigned_at` (set by the router's transaction) from PostgreSQL: server-side timestamps, not the
client's view. Development stacks only: it creates agents and conversations.
"""

import argparse
import asyncio
import secrets
import statistics
import time

import asyncpg
import httpx
from honcho.environ import parse as parse_env

from sandbox.webhooks import signed_meta, whatsapp_text


async def probe(rate: float, duration_s: float, env: dict[str, str]) -> None:
    admin = {"authorization": f"Bearer {env['SWITCHBOARD_ADMIN_TOKEN']}"}
    router = "http://127.0.0.1:8081"
    run = secrets.token_hex(3)
    total = int(rate * duration_s)
    async with httpx.AsyncClient(timeout=10) as http:
        agents = [
            (
                await http.post(
                    f"{router}/v1/agents", headers=admin, json={"name": f"probe-{run}-{n}", "max_pending": 50}
                )
            ).json()["id"]
            for n in range(max(1, total // 40 + 1))
        ]
        for agent_id in agents:
            await http.put(f"{router}/v1/agents/{agent_id}/presence", json={"status": "online"}, headers=admin)
        phone_number_id = "106540352242922"
        started = time.monotonic()
        statuses: list[int] = []

        async def post(n: int) -> None:
            payload = whatsapp_text(phone_number_id, f"9{int(run, 16):08d}{n:05d}", f"wamid.probe{run}{n}", "hi")
            signed = signed_meta(payload, env["SWITCHBOARD_META_APP_SECRET"])
            response = await http.post(
                "http://127.0.0.1:8080/webhooks/whatsapp", content=signed.body, headers=signed.headers
            )
            statuses.append(response.status_code)

        tasks = []
        for n in range(total):
            await asyncio.sleep(max(0.0, started + n / rate - time.monotonic()))  # open-loop arrival schedule
            tasks.append(asyncio.create_task(post(n)))
        await asyncio.gather(*tasks)
    conn = await asyncpg.connect(env["SWITCHBOARD_DATABASE_URL"])
    try:
        deadline = time.monotonic() + 30
        while True:
            rows = await conn.fetch(
                """SELECT extract(epoch FROM first_assigned_at - c.received_at) AS waited
                     FROM conversations c JOIN contact_identities i USING (contact_id)
                    WHERE i.external_id LIKE $1 AND first_assigned_at IS NOT NULL""",
                f"9{int(run, 16):08d}%",
            )
            if len(rows) >= total or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
    finally:
        await conn.close()
    async with httpx.AsyncClient(timeout=10) as http:
        for agent_id in agents:  # leave the stack as we found it: our agents take no more conversations
            await http.put(f"{router}/v1/agents/{agent_id}/presence", json={"status": "offline"}, headers=admin)
    waits = sorted(float(r["waited"]) * 1000 for r in rows)
    q = statistics.quantiles(waits, n=100) if len(waits) > 1 else waits * 99
    print(f"posted {total} webhooks at {rate}/s: {statuses.count(200)} answered 200; {len(waits)} assigned")
    print(f"webhook -> assigned ms: p50 {q[49]:.1f}  p95 {q[94]:.1f}  p99 {q[98]:.1f}  max {waits[-1]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--duration", type=float, default=15)
    parser.add_argument("--env", default="deploy/local/dev.env")
    args = parser.parse_args()
    with open(args.env) as env_file:
        env = parse_env(env_file.read())
    asyncio.run(probe(args.rate, args.duration, env))


if __name__ == "__main__":
    main()
