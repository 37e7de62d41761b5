"""`make bench`: the highest sustainable rate of the running stack, and of a bare endpoint for scale.

Steps the offered rate up (x `--factor` each step, `--step-duration` seconds each) until a step fails:
- the bare FastAPI endpoint (loadtests/bare_app.py) fails a step at webhook p99 >= 50 ms or any failed
  request: the machine's HTTP ceiling;
- the pipeline fails a step at webhook -> assigned p99 >= 2 s or any error (a failed webhook, a lost or
  duplicate message or send, a cap violation, a stranded conversation): its highest sustainable rate.
A pipeline step that achieves under 80% of its offered rate is saturated and ends the search. Each figure
is the best achieved rate among the steps that passed. Both run on the same machine in the same
invocation; the result is reported as a ratio.
"""

import argparse
import asyncio
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import orjson

from deploy.local.wait_ready import wait_ready
from loadtests.ports import free_port
from loadtests.report import Report, Targets, evaluate
from loadtests.run import REPO, LoadConfig, run_load, run_locust
from sandbox.webhooks.compose import Secrets

PIPELINE_ASSIGNED_P99_MS = 2000.0
BARE_WEBHOOK_P99_MS = 50.0
# Delivery workers are closed loops: a saturated pipeline slows them down rather than failing them, so a
# step that achieves under this share of its offered rate ends the search.
SATURATED_SHARE = 0.8


def bare_step_passes(stats: dict[str, float]) -> bool:
    """Whether the bare endpoint answered this step within its latency bound, without errors."""
    return stats["failed"] == 0 and stats["p99"] < BARE_WEBHOOK_P99_MS


def pipeline_step_misses(report: Report) -> list[str]:
    """Why the pipeline did not sustain this step (the issue's bound: assignment p99 < 2 s, no errors)."""
    targets = Targets(
        assigned_p99_ms=PIPELINE_ASSIGNED_P99_MS,
        webhook_p99_ms=float("inf"),
        min_achieved_share=0.0,  # reported, not judged: the figure is the achieved rate
        max_final_lag_seconds=2.0,
    )
    return evaluate(report, targets)


async def bench(config: LoadConfig, start: float, factor: float, max_rate: float) -> dict[str, object]:
    steps: list[dict[str, object]] = []
    port = free_port()
    bare = await asyncio.create_subprocess_exec(sys.executable, "-m", "loadtests.bare_app", str(port), cwd=REPO)
    try:
        if await asyncio.to_thread(wait_ready, [f"http://127.0.0.1:{port}/docs"], 30):
            raise TimeoutError("the bare endpoint did not come up")
        bare_ceiling = 0.0
        rate = start
        while rate <= max_rate:
            stats = await run_locust(replace(config, ingest=f"http://127.0.0.1:{port}", rate=rate, agents=0), "1")
            passed = bare_step_passes(stats)
            steps.append({"target": "bare", "rate": rate, "passed": passed, **stats})
            print(
                f"bare      {rate:7.0f} msg/s: achieved {stats['rps']:.0f}, p99 {stats['p99']:.0f} ms -> "
                f"{'ok' if passed else 'limit'}",
                flush=True,
            )
            if not passed:
                break
            bare_ceiling = stats["rps"]
            rate *= factor
    finally:
        bare.terminate()
        await asyncio.wait_for(bare.wait(), 10)
    sustainable = 0.0
    rate = start
    while rate <= max_rate:
        agents = max(10, round(rate / 4))
        report = await run_load(replace(config, rate=rate, agents=agents), Targets(check_timings=False))
        misses = pipeline_step_misses(report)
        steps.append(
            {"target": "pipeline", "rate": rate, "passed": not misses, "misses": misses, "report": report.as_json()}
        )
        print(
            f"pipeline  {rate:7.0f} msg/s: achieved {report.achieved_rate:.0f}, webhook p99 "
            f"{report.webhook_ms['p99']:.0f} ms, assigned p99 {report.assigned_ms['p99']:.0f} ms -> "
            f"{'ok' if not misses else 'limit: ' + '; '.join(misses)}",
            flush=True,
        )
        if misses:
            break
        sustainable = max(sustainable, report.achieved_rate)
        if report.achieved_rate < SATURATED_SHARE * rate:
            break  # offering more only queues at the door: the pipeline is absorbing all it can
        rate *= factor
    return {
        "bare_ceiling": bare_ceiling,
        "pipeline_sustainable": sustainable,
        "ratio": sustainable / bare_ceiling if bare_ceiling else None,
        "steps": steps,
    }


def main() -> int:
    from honcho.environ import parse as parse_env

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--start", type=float, default=float(os.environ.get("START", 100)))
    parser.add_argument("--factor", type=float, default=1.5)
    parser.add_argument("--max-rate", type=float, default=4000)
    parser.add_argument("--step-duration", type=float, default=float(os.environ.get("STEP_DURATION", 20)))
    parser.add_argument("--env", default=str(REPO / "deploy" / "local" / "dev.env"))
    args = parser.parse_args()
    env = parse_env(Path(args.env).read_text())
    report_dir = REPO / ".local" / "loadtests"
    config = LoadConfig(
        rate=args.start,
        duration=args.step_duration,
        shape="constant",
        agents=10,
        agent_think=0.5,
        ingest="http://127.0.0.1:8080",
        router="http://127.0.0.1:8081",
        dispatcher="http://127.0.0.1:8082",
        sandbox="http://127.0.0.1:8090",
        database_url=env["SWITCHBOARD_DATABASE_URL"],
        admin_token=env["SWITCHBOARD_ADMIN_TOKEN"],
        secrets=Secrets.from_env(env),
        accounts_json=env.get("SWITCHBOARD_ACCOUNTS", ""),
        report_dir=report_dir,
        router_metrics=("http://127.0.0.1:8081", "http://127.0.0.1:8083"),
    )
    result = asyncio.run(bench(config, args.start, args.factor, args.max_rate))
    report_dir.mkdir(parents=True, exist_ok=True)
    path = report_dir / f"bench-{int(time.time())}.json"
    path.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    ratio = result["ratio"]
    print(
        f"\nbare FastAPI endpoint ceiling   {result['bare_ceiling']:.0f} msg/s "
        f"(webhook p99 < {BARE_WEBHOOK_P99_MS:.0f} ms)"
    )
    print(
        f"pipeline highest sustainable    {result['pipeline_sustainable']:.0f} msg/s "
        f"(assigned p99 < {PIPELINE_ASSIGNED_P99_MS / 1000:.0f} s, nothing lost)"
    )
    print(
        f"ratio                           {ratio:.2f}"
        if isinstance(ratio, float)
        else "ratio                           -"
    )
    print(f"report: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
