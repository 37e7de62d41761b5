"""`python -m sandbox`: serve the provider sandbox, in development only."""

import os
import sys
from collections.abc import Mapping

import uvicorn

from sandbox.app import create_app

DEVELOPMENT = "development"  # SWITCHBOARD_ENV's value for `make run` and the tests (CONTRACT.md)


def refusal(environ: Mapping[str, str]) -> str | None:
    """Why the sandbox must not run with this environment, if it must not."""
    env = environ.get("SWITCHBOARD_ENV", "")
    if env == DEVELOPMENT:
        return None
    # It plays every provider, accepts any token and signs customers' webhooks with the configured secrets.
    return (
        f"sandbox: refusing to run with SWITCHBOARD_ENV={env!r}: the provider sandbox is for development only"
        f" (set SWITCHBOARD_ENV={DEVELOPMENT} for make run and the tests)"
    )


def main() -> None:
    if reason := refusal(os.environ):
        sys.exit(reason)
    uvicorn.run(
        create_app(),
        host=os.environ.get("SWITCHBOARD_HOST", "127.0.0.1"),
        port=int(os.environ.get("SWITCHBOARD_SANDBOX_PORT", "8090")),
        access_log=False,
    )


if __name__ == "__main__":
    main()
