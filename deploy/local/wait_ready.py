"""Waiting for local services to answer: `python -m deploy.local.wait_ready SECONDS URL...` for `make run`,
and `wait_ready()` for the test session and the benchmarks, which start services of their own."""

import sys
import time
from collections.abc import Callable

import httpx


def wait_ready(urls: list[str], timeout_s: float, still_starting: Callable[[], bool] = lambda: True) -> list[str]:
    """Poll each URL until it answers 200, in order; the URLs still not ready when the deadline passed or
    `still_starting` turned false (the process died), empty when all are ready."""
    deadline = time.monotonic() + timeout_s
    waiting = list(urls)
    while waiting and still_starting():
        try:
            if httpx.get(waiting[0], timeout=2).status_code == 200:
                waiting.pop(0)
                continue
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    return waiting


def main() -> int:
    not_ready = wait_ready(sys.argv[2:], float(sys.argv[1]))
    if not_ready:
        print(f"not ready: {', '.join(not_ready)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
