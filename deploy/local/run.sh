#!/usr/bin/env bash
# `make run`: install what is missing, start PostgreSQL and Kafka, then the Switchboard processes under
# deploy/local/supervise.py, which restarts any that dies. Ctrl-C here, or `make stop` from another shell,
# stops everything this started.
#
# Ports follow SWITCHBOARD_PG_PORT, SWITCHBOARD_KAFKA_PORT, SWITCHBOARD_KAFKA_CONTROLLER_PORT,
# SWITCHBOARD_{SANDBOX,INGEST,ROUTER,DISPATCHER,ROUTER_CONSUMER}_PORT, so a second stack can run beside
# the first (with its own SWITCHBOARD_HOME).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=deploy/local/services.sh
source deploy/local/services.sh

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

# dev.env is written for the default ports; what depends on a port follows it here (a value the caller
# set wins, as it does over dev.env's).
sandbox="http://127.0.0.1:$SANDBOX_PORT"
export SWITCHBOARD_KAFKA_BOOTSTRAP="${SWITCHBOARD_KAFKA_BOOTSTRAP:-127.0.0.1:$KAFKA_PORT}"
export SWITCHBOARD_DATABASE_URL="${SWITCHBOARD_DATABASE_URL:-postgresql://switchboard:switchboard@127.0.0.1:$PG_PORT/switchboard}"
for api in WHATSAPP MESSENGER INSTAGRAM; do
  export "SWITCHBOARD_${api}_API_BASE=$(printenv "SWITCHBOARD_${api}_API_BASE" || echo "$sandbox/v21.0")"
done
for api in TWILIO LINE TELEGRAM; do
  export "SWITCHBOARD_${api}_API_BASE=$(printenv "SWITCHBOARD_${api}_API_BASE" || echo "$sandbox")"
done
export SWITCHBOARD_WEBCHAT_API_BASE="${SWITCHBOARD_WEBCHAT_API_BASE:-$sandbox/webchat}"
export SWITCHBOARD_ORDERS_API_BASE="${SWITCHBOARD_ORDERS_API_BASE:-$sandbox/commerce}"
export SWITCHBOARD_SMTP_PORT="${SWITCHBOARD_SMTP_PORT:-${SWITCHBOARD_SANDBOX_SMTP_PORT:-2525}}"
export SWITCHBOARD_SANDBOX_SMTP_PORT="$SWITCHBOARD_SMTP_PORT"
export SWITCHBOARD_SANDBOX_INGEST_URL="${SWITCHBOARD_SANDBOX_INGEST_URL:-http://127.0.0.1:$INGEST_PORT}"
export SWITCHBOARD_HOME="$HOME_DIR"

mkdir -p "$HOME_DIR/run" "$HOME_DIR/log"
.venv/bin/python -m deploy.local.supervise --procfile deploy/local/Procfile --env-file deploy/local/dev.env \
  --pid-dir "$SERVICES_PID_DIR" &
supervisor_pid=$!
echo "$$" > "$PID_FILE"

# Ctrl-C, `make stop` (SIGTERM), a closed terminal or the supervisor exiting: stop the services, then Kafka and PostgreSQL.
stop_all() {
  local rc=$1
  trap - INT TERM HUP EXIT
  if kill -0 "$supervisor_pid" 2>/dev/null; then
    kill -TERM "$supervisor_pid"
  fi
  wait "$supervisor_pid" 2>/dev/null || true
  stop_service_pids  # only when the supervisor itself was killed: it removes its pid files on a clean stop
  rm -f "$PID_FILE"
  deploy/local/kafka.sh stop || true
  deploy/local/postgres.sh stop || true
  exit "$rc"
}
trap 'stop_all 0' INT TERM HUP
trap 'stop_all $?' EXIT

.venv/bin/python -m deploy.local.wait_ready 120 "$sandbox/readyz" "http://127.0.0.1:$INGEST_PORT/readyz" \
  "http://127.0.0.1:$ROUTER_PORT/readyz" "http://127.0.0.1:$DISPATCHER_PORT/readyz" \
  "http://127.0.0.1:$ROUTER_CONSUMER_PORT/readyz"
ready_after=$(python3 -c "import time; print(f'{time.time() - $started:.1f}')")

# What the services were given: the caller's value, else dev.env's.
setting() { printenv "$1" || sed -n "s/^$1=//p" deploy/local/dev.env; }
cat <<MSG

Switchboard is ready (${ready_after}s after 'make run').
  ingest (webhooks)    http://127.0.0.1:$INGEST_PORT/webhooks/whatsapp
  router API           http://127.0.0.1:$ROUTER_PORT/v1   (docs: http://127.0.0.1:$ROUTER_PORT/docs)
  router consumer      http://127.0.0.1:$ROUTER_CONSUMER_PORT/metrics
  dispatcher           http://127.0.0.1:$DISPATCHER_PORT/metrics
  provider sandbox     $sandbox/sandbox/requests
  Kafka                $SWITCHBOARD_KAFKA_BOOTSTRAP
  PostgreSQL           $SWITCHBOARD_DATABASE_URL
  service PIDs         $SERVICES_PID_DIR/<name>.pid (a process that dies is restarted)
Development secrets (deploy/local/dev.env):
  admin token          $(setting SWITCHBOARD_ADMIN_TOKEN)
  Meta app secret      $(setting SWITCHBOARD_META_APP_SECRET)
  Meta verify token    $(setting SWITCHBOARD_META_VERIFY_TOKEN)
  WhatsApp account     phone_number_id 106540352242922
Metrics: each service's /metrics. Ctrl-C or 'make stop' stops everything.
MSG
wait "$supervisor_pid"  # returns when the supervisor exits or a trapped signal arrives
