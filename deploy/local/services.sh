# shellcheck shell=bash
# Sourced by run.sh and stop.sh: the ports `make run` uses, and stopping the service processes by the PIDs
# the supervisor (deploy/local/supervise.py) recorded in $SERVICES_PID_DIR.

SERVICES_PID_DIR="${SWITCHBOARD_HOME:-$PWD/.local}/run/services"
PG_PORT="${SWITCHBOARD_PG_PORT:-5432}"
KAFKA_PORT="${SWITCHBOARD_KAFKA_PORT:-9092}"
SANDBOX_PORT="${SWITCHBOARD_SANDBOX_PORT:-8090}"
INGEST_PORT="${SWITCHBOARD_INGEST_PORT:-8080}"
ROUTER_PORT="${SWITCHBOARD_ROUTER_PORT:-8081}"
DISPATCHER_PORT="${SWITCHBOARD_DISPATCHER_PORT:-8082}"
ROUTER_CONSUMER_PORT="${SWITCHBOARD_ROUTER_CONSUMER_PORT:-8083}"

# SIGTERM to every recorded service still alive, SIGKILL to those alive after 15 s. A pid file left by a
# supervisor that was itself killed may name a recycled pid: only our own Python processes are signalled.
stop_service_pids() {
  local file pid
  local -a pids=()
  for file in "$SERVICES_PID_DIR"/*.pid; do
    [ -f "$file" ] || continue
    pid="$(tr -dc '0-9' <"$file")"
    if [ -n "$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "python -m "; then
      pids+=("$pid")
    fi
    rm -f "$file"
  done
  ((${#pids[@]})) || return 0
  echo "stop: stopping leftover service processes ${pids[*]}" >&2
  kill -TERM "${pids[@]}" 2>/dev/null || true
  for _ in $(seq 1 150); do
    kill -0 "${pids[@]}" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "${pids[@]}" 2>/dev/null || true
}
