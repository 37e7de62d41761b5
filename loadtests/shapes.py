"""Offered arrival rates over a run: constant, four equal steps up, or a spike (shared by Locust and the report)."""

SHAPES = ("constant", "step", "spike")


def rate_at(shape: str, rate: float, elapsed: float, duration: float) -> float:
    """The offered msg/s at `elapsed` seconds into a run of `duration` seconds peaking at `rate`."""
    if shape == "step":
        return rate * min(4, int(elapsed / (duration / 4)) + 1) / 4
    if shape == "spike":
        return rate * 2 if 0.4 * duration <= elapsed < 0.5 * duration else rate / 2
    return rate


def mean_rate(shape: str, rate: float, duration: float) -> float:
    """The average offered msg/s over the whole run."""
    steps = 1000
    return sum(rate_at(shape, rate, duration * (i + 0.5) / steps, duration) for i in range(steps)) / steps


def peak_rate(shape: str, rate: float) -> float:
    """The highest offered msg/s of the run: a spike doubles the nominal rate."""
    return rate * 2 if shape == "spike" else rate
