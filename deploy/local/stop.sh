#!/usr/bin/env bash
# `make stop`: stop what `make run` started, each by the PID it recorded. Safe to run when nothing runs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=deploy/local/services.sh
source deploy/local/services.sh
PID_FILE="${SWITCHBOARD_HOME:-$PWD/.local}/run/switchboard.pid"

if [ -f "$PID_FILE" ]; then
  pid=$(cat "$PID_FILE")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    # run.sh stops its services, Kafka and PostgreSQL itself; wait for it (bounded), then make sure.
    for _ in $(seq 1 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$PID_FILE"
fi
stop_service_pids
deploy/local/kafka.sh stop
deploy/local/postgres.sh stop
