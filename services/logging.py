"""One log format for every process: a line per event, key=value context, to stderr."""

import logging
import sys


def configure_logging(level: str, service: str) -> None:
    """Install the process-wide log handler; call once at start-up."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter(f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiokafka logs every rebalance step at INFO; a warning is what operators need from it.
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    # httpx logs every request at INFO: at hundreds of sends a second that is the busiest thing in the logs.
    logging.getLogger("httpx").setLevel(logging.WARNING)
