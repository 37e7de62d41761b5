"""sandbox/__main__.py: the provider sandbox runs in development only."""

import os
import socket
import subprocess
import sys

from sandbox.__main__ import refusal


def test_the_sandbox_refuses_anything_but_development() -> None:
    assert refusal({"SWITCHBOARD_ENV": "development"}) is None
    assert "SWITCHBOARD_ENV='production'" in (refusal({"SWITCHBOARD_ENV": "production"}) or "")
    assert refusal({}) is not None, "unset is production"


def test_python_m_sandbox_exits_before_serving_in_production() -> None:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}, "SWITCHBOARD_ENV": "production"}
    # A port already taken: had the sandbox gone on to serve, it would have failed to bind instead.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        env["SWITCHBOARD_SANDBOX_PORT"] = str(taken.getsockname()[1])
        done = subprocess.run(
            [sys.executable, "-m", "sandbox"], env=env, capture_output=True, text=True, timeout=60, check=False
        )
    assert done.returncode == 1
    assert "the provider sandbox is for development only" in done.stderr
