#!/usr/bin/env bash
# Installs whatever is missing for `make run` and `make test`: the Python environment, PostgreSQL,
# the Kafka jars. Idempotent: a second run reuses what is installed and touches no network.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

PYTHON="${PYTHON:-python3}"
STAMP=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)"

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PYTHON" -m venv .venv
fi
if [ ! -f "$STAMP" ]; then
  echo "setup: installing Python dependencies"
  .venv/bin/python -m pip install -q --disable-pip-version-check uv
  .venv/bin/uv pip install -q --python .venv/bin/python -e '.[dev]'
  rm -f .venv/.installed-*
  touch "$STAMP"
fi
deploy/local/postgres.sh install
deploy/local/kafka.sh install
