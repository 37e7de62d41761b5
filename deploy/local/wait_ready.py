"""`python -m deploy.local.wait_ready SECONDS URL...`: wait until every URL answers 200, or fail."""

import sys
import time

import httpx


def main() -> int:
    deadline = time.monotonic() + float(sys.argv[1])
    waiting = list(sys.argv[2:])
    while waiting:
        try:
            if httpx.get(waiting[0], timeout=2).status_code == 200:
                waiting.pop(0)
                continue
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            print(f"not ready: {', '.join(waiting)}", file=sys.stderr)
            return 1
        time.sleep(0.25)
    return 0


if __name__ == "__main__":
    sys.exit(main())
