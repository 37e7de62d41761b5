"""Load and latency tooling run against a live stack (`make run`)."""
