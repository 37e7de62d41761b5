#!/usr/bin/env bash
# `make run`: install what is missing, start PostgreSQL and Kafka, then the four Switchboard processes
# under honcho. Ctrl-C here, or `make stop` from another shell, stops everything this started.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

HOME_DIR="${SWITCHBOARD_HOME:-$PWD/.local}"
PID_FILE="$HOME_DIR/run/switchboard.pid"  # this script's PID: `make stop` signals it
started=$(date +%s.%N)

deploy/local/setup.sh
deploy/local/postgres.sh start
deploy/local/kafka.sh start

if [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
  echo "run: Switchboard is already running (pid $(cat "$PID_FILE")); 'make stop' stops it"
  exit 0
fi

mkdir -p "$HOME_DIR/run" "$HOME_DIR/log"
.venv/bin/honcho start -f deploy/local/Procfile -e deploy/local/dev.env -d . &
honcho_pid=$!
echo "$$" > "$PID_FILE"

# Ctrl-C, `make stop` (SIGTERM) or a service exiting: stop the services, then Kafka and PostgreSQL.
stop_all() {
  local rc=$1
  trap - INT TERM EXIT
  if kill -0 "$honcho_pid" 2>/dev/null; then
    kill -TERM "$honcho_pid"
  fi
  wait "$honcho_pid" 2>/dev/null || true
  rm -f "$PID_FILE"
  deploy/local/kafka.sh stop || true
  deploy/local/postgres.sh stop || true
  exit "$rc"
}
trap 'stop_all 0' INT TERM
trap 'stop_all $?' EXIT

.venv/bin/python -m deploy.local.wait_ready 120 \
  http://127.0.0.1:8090/readyz http://127.0.0.1:8080/readyz http://127.0.0.1:8081/readyz http://127.0.0.1:8082/readyz http://127.0.0.1:8083/readyz
ready_after=$(python3 -c "import time; print(f'{time.time() - $started:.1f}')")

set -a; . deploy/local/dev.env; set +a
cat <<MSG

Switchboard is ready (${ready_after}s after 'make run').
  ingest (webhooks)    http://127.0.0.1:8080/webhooks/whatsapp
  router API           http://127.0.0.1:8081/v1   (docs: http://127.0.0.1:8081/docs)
  router consumer      http://127.0.0.1:8083/metrics
  dispatcher           http://127.0.0.1:8082/metrics
  provider sandbox     http://127.0.0.1:8090/sandbox/requests
  Kafka                $SWITCHBOARD_KAFKA_BOOTSTRAP
  PostgreSQL           $SWITCHBOARD_DATABASE_URL
Development secrets (deploy/local/dev.env):
  admin token          $SWITCHBOARD_ADMIN_TOKEN
  Meta app secret      $SWITCHBOARD_META_APP_SECRET
  Meta verify token    $SWITCHBOARD_META_VERIFY_TOKEN
  WhatsApp account     phone_number_id 106540352242922
Metrics: each service's /metrics. Ctrl-C or 'make stop' stops everything.
MSG
wait "$honcho_pid"  # returns when honcho exits (a service died) or a trapped signal arrives
