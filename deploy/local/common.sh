# shellcheck shell=bash
# Sourced by kafka.sh and postgres.sh (which set SERVICE first): where local state lives, and the
# helpers both need. State lives under SWITCHBOARD_HOME (default <repo>/.local).

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
HOME_DIR="${SWITCHBOARD_HOME:-$REPO_ROOT/.local}"
# Servers run with another cwd, so every path they are given must be absolute.
case "$HOME_DIR" in /*) ;; *) HOME_DIR="$PWD/$HOME_DIR" ;; esac
# shellcheck disable=SC2034  # used by the scripts that source this file
LOG_DIR="$HOME_DIR/log"
RUN_DIR="$HOME_DIR/run"

log() { printf '%s: %s\n' "$SERVICE" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# A typo in a port env var would otherwise surface as an obscure startup failure.
valid_port() { [[ "$1" =~ ^[0-9]{1,5}$ ]] && ((10#$1 >= 1 && 10#$1 <= 65535)); }

usage() {
  echo "usage: $0 install|start|stop|status" >&2
  exit 2
}

# Serialises concurrent start/stop calls (parallel test sessions, make run and a shell).
lock() {
  mkdir -p "$RUN_DIR"
  exec 9>"$RUN_DIR/$SERVICE.lock"
  flock -w 120 9 || die "another $SERVICE.sh is still running (lock $RUN_DIR/$SERVICE.lock)"
}
