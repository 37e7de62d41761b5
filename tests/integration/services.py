"""Running Switchboard's processes for a test session, each a real subprocess stopped by its PID."""

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from deploy.local.wait_ready import wait_ready

REPO = Path(__file__).resolve().parents[2]
LOGS = REPO / ".local" / "log"


@dataclass
class ServiceProcess:
    """One `python -m <module>` process with its own port and log file."""

    module: str
    port: int
    env: dict[str, str]
    name: str = ""
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return LOGS / f"test-{self.name or self.module}.log"

    def start(self) -> None:
        LOGS.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.module], cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )

    def wait_ready(self, timeout_s: float = 90) -> None:
        process = self.process
        assert process is not None
        if not wait_ready([f"{self.url}/readyz"], timeout_s, still_starting=lambda: process.poll() is None):
            return
        if process.poll() is not None:
            raise RuntimeError(f"{self.module} exited early:\n{self.log_path.read_text()[-3000:]}")
        raise TimeoutError(f"{self.module} not ready after {timeout_s}s:\n{self.log_path.read_text()[-3000:]}")

    def stop(self, timeout_s: float = 30) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def run_script(script: str, command: str) -> int:
    """Run a deploy/local script; its output goes to the test log."""
    return subprocess.run(
        [str(REPO / "deploy" / "local" / script), command], cwd=REPO, check=False, env=os.environ.copy()
    ).returncode
