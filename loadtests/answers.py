"""How the stack answered Locust's requests: counts by request name and HTTP status, 0 for no answer.

Locust's own statistics lump every failure together; a fault run must tell a refusal (503, the client
retries) from a crash (500) and from a process that was not there (no answer). Each Locust process
writes its counts beside Locust's CSV files when it quits; the harness adds them up.
"""

from collections import Counter
from pathlib import Path

import orjson

NO_ANSWER = 0  # the connection was refused, reset or timed out
Answers = Counter[tuple[str, int]]


def answers_path(csv_prefix: str, pid: int) -> Path:
    """Where the Locust process `pid` writes its counts."""
    return Path(f"{csv_prefix}_answers-{pid}.json")


def write_answers(path: Path, answers: Answers) -> None:
    """Write one process's counts as `{name: {status: count}}`."""
    table: dict[str, dict[str, int]] = {}
    for (name, status), count in answers.items():
        table.setdefault(name, {})[str(status)] = count
    partial = path.with_name(path.name + ".partial")  # the harness reads only whole files
    partial.write_bytes(orjson.dumps(table))
    partial.rename(path)


def read_answers(csv_prefix: Path) -> Answers:
    """Every Locust process's counts of the run written under `csv_prefix`, added up."""
    total: Answers = Counter()
    for path in csv_prefix.parent.glob(f"{csv_prefix.name}_answers-*.json"):
        for name, statuses in orjson.loads(path.read_bytes()).items():
            for status, count in statuses.items():
                total[(name, int(status))] += count
    return total


def count(answers: Answers, name: str, statuses: range | tuple[int, ...]) -> int:
    """How many requests called `name` were answered with one of `statuses`."""
    return sum(n for (request, status), n in answers.items() if request == name and status in statuses)


def server_errors(answers: Answers, expected: tuple[int, ...] = (503,)) -> dict[str, int]:
    """5xx answers other than `expected`, by request name and status (`"webhook 500"`)."""
    return {
        f"{name} {status}": n
        for (name, status), n in sorted(answers.items())
        if 500 <= status <= 599 and status not in expected
    }
