#!/usr/bin/env bash
# Local PostgreSQL server for Switchboard dev and tests: a private cluster under $SWITCHBOARD_HOME (or
# keyed by it, see "where the cluster lives"), independent of Debian's system cluster and of systemd.
#
#   deploy/local/postgres.sh install   apt-get install postgresql if no initdb is found
#   deploy/local/postgres.sh start     install + initdb if needed, start, ensure role/db switchboard
#   deploy/local/postgres.sh stop [fast|smart|immediate]   pg_ctl stop -m MODE (default fast)
#   deploy/local/postgres.sh status    pg_ctl status (exit 0 running, non-zero otherwise)
#
# Env: SWITCHBOARD_HOME (default <repo>/.local), SWITCHBOARD_PG_PORT (5432),
#      SWITCHBOARD_PG_SHARED_ROOT (/var/lib/switchboard: where a cluster goes when $SWITCHBOARD_HOME is private).
set -euo pipefail

SERVICE=postgres
# shellcheck source=deploy/local/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

PG_PORT="${SWITCHBOARD_PG_PORT:-5432}"
STOP_MODE=fast

DB_NAME=switchboard
DB_USER=switchboard
DB_PASSWORD=switchboard

valid_port "$PG_PORT" || die "invalid port '$PG_PORT'"

# initdb refuses to run as root: as root the cluster belongs to the `postgres` OS user.
if ((EUID == 0)); then SERVER_USER=postgres; else SERVER_USER="$(id -un)"; fi

# --- where the cluster lives ---------------------------------------------------
# The server's user must reach its data dir, socket and log. Under $HOME_DIR when it can; when it cannot
# (root's clone in a 0700 home: as root the server is the `postgres` user), in a root-owned,
# world-traversable directory keyed by $HOME_DIR, so the user's home keeps its permissions. The choice is
# recorded in $LOCATION_FILE on the first start, so start, stop and status agree even if a permission
# changes later; a cluster already under $HOME_DIR stays there.
LOCATION_FILE="$HOME_DIR/postgres.location"
SHARED_ROOT="${SWITCHBOARD_PG_SHARED_ROOT:-/var/lib/switchboard}"

# True when the server's user can traverse every existing directory on the way to (and including) $1.
server_can_traverse() {
  ((EUID == 0)) || return 0
  id "$SERVER_USER" >/dev/null 2>&1 || die "OS user '$SERVER_USER' does not exist (it comes with Debian's postgresql package)"
  local path="" part
  local -a parts
  IFS=/ read -ra parts <<<"${1#/}"
  for part in "${parts[@]}"; do
    [[ -n "$part" ]] || continue
    path="$path/$part"
    # Not there yet: we create it, traversable unless our umask takes o+x away.
    [[ -e "$path" ]] || return $(($(umask) & 1))
    runuser -u "$SERVER_USER" -- test -x "$path" || return 1
  done
}

# Sets STATE_DIR, PGDATA_DIR, SOCKET_DIR, LOG_FILE.
resolve_location() {
  if [[ -s "$LOCATION_FILE" ]]; then
    STATE_DIR="$(cat "$LOCATION_FILE")"
  elif [[ -f "$HOME_DIR/pgdata/PG_VERSION" ]] || server_can_traverse "$HOME_DIR"; then
    STATE_DIR="$HOME_DIR"
  else
    STATE_DIR="$SHARED_ROOT/$(printf '%s' "$HOME_DIR" | sha256sum | cut -c1-16)"
  fi
  PGDATA_DIR="$STATE_DIR/pgdata"
  if [[ "$STATE_DIR" == "$HOME_DIR" ]]; then
    # Own subdir: it must be writable by the server's user, and run/ also holds other services' files.
    SOCKET_DIR="$RUN_DIR/postgres"
    LOG_FILE="$LOG_DIR/postgres.log"
  else
    SOCKET_DIR="$STATE_DIR/socket"
    LOG_FILE="$STATE_DIR/postgres.log"
  fi
}
resolve_location

# sun_path is 108 bytes: a deep SWITCHBOARD_HOME would make the socket path unusable.
_sock="$SOCKET_DIR/.s.PGSQL.$PG_PORT"
((${#_sock} < 108)) || die "socket path $_sock is too long for a unix socket; use a shorter SWITCHBOARD_HOME"

# Runs a server-side command as the server's user, from / so that it never trips over
# an unreadable cwd (root's home, say). fd 9 (our lock) is closed so the postmaster
# does not inherit it and hold the lock for its whole life.
as_server() {
  if ((EUID == 0)); then
    (cd / && runuser -u "$SERVER_USER" -- "$@") 9>&-
  else
    (cd / && "$@") 9>&-
  fi
}

# --- binaries --------------------------------------------------------------

# Sets BINDIR. An existing cluster pins the major version it was created with (PG_VERSION);
# otherwise the newest installed one is used.
find_bindir() {
  local want="" dir
  if [[ -f "$PGDATA_DIR/PG_VERSION" ]]; then
    want="$(cat "$PGDATA_DIR/PG_VERSION")"
    dir="/usr/lib/postgresql/$want/bin"
    if [[ -x "$dir/initdb" ]]; then BINDIR="$dir"; return 0; fi
    die "$PGDATA_DIR was created by PostgreSQL $want, which is not installed (apt-get install postgresql-$want)"
  fi
  dir="$(compgen -G '/usr/lib/postgresql/*/bin/initdb' | sort -V | tail -n 1 || true)"
  [[ -n "$dir" ]] || return 1
  BINDIR="$(dirname "$dir")"
}

# "VER NAME" of Debian system clusters online on our port (pg_lsclusters comes with the package).
debian_clusters_on_port() {
  command -v pg_lsclusters >/dev/null || return 0
  pg_lsclusters -h 2>/dev/null | awk -v p="$PG_PORT" '$3 == p && $4 ~ /^online/ { print $1, $2 }'
}

cmd_install() {
  if find_bindir; then
    log "found PostgreSQL binaries in $BINDIR; nothing to install"
    return 0
  fi
  local -a sudo=()
  if ((EUID != 0)); then
    command -v sudo >/dev/null || die "PostgreSQL is not installed and installing it needs root (no sudo found)"
    sudo=(sudo)
  fi
  log "installing Debian's postgresql package"
  "${sudo[@]}" apt-get update
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql
  find_bindir || die "apt-get installed postgresql but no /usr/lib/postgresql/*/bin/initdb appeared"

  # The package creates and may start its own 'main' cluster. We never use it; if it was just
  # started on our port (nothing of ours or theirs ran before this install), it would take our
  # port, so stop it. Its files and autostart setting are left as the package made them.
  local ver name
  while read -r ver name; do
    [[ -n "$ver" ]] || continue
    log "Debian's cluster $ver/$name was started by the package on port $PG_PORT; stopping it (pg_ctlcluster $ver $name stop)"
    "${sudo[@]}" pg_ctlcluster "$ver" "$name" stop || log "could not stop $ver/$name; start will report the clash"
  done < <(debian_clusters_on_port)
  log "installed PostgreSQL binaries in $BINDIR"
}

# --- cluster ---------------------------------------------------------------

# Directory owned by the server's user (root creates it, so parents can stay root-owned).
server_dir() {
  local dir="$1" mode="$2"
  if ((EUID == 0)); then
    install -d -o "$SERVER_USER" -g "$(id -gn "$SERVER_USER")" -m "$mode" "$dir"
    chown "$SERVER_USER:" "$dir"
  else
    mkdir -p "$dir"
    chmod "$mode" "$dir"
  fi
}

prepare_dirs() {
  mkdir -p "$HOME_DIR" "$LOG_DIR" "$RUN_DIR"
  if [[ "$STATE_DIR" != "$HOME_DIR" ]]; then
    ((EUID == 0)) || die "$STATE_DIR is only used as root"
    install -d -o root -g root -m 0755 "$SHARED_ROOT" "$STATE_DIR"
    echo "$HOME_DIR" >"$STATE_DIR/clone"  # which clone this cluster belongs to, for whoever finds it
    if [[ ! -s "$LOCATION_FILE" ]]; then
      log "user '$SERVER_USER' cannot traverse $HOME_DIR: the cluster lives in $STATE_DIR"
    fi
    # Where `make run` users look for the log.
    ln -sfn "$LOG_FILE" "$LOG_DIR/postgres.log"
  fi
  echo "$STATE_DIR" >"$LOCATION_FILE.tmp"
  mv "$LOCATION_FILE.tmp" "$LOCATION_FILE"
  # 0700: the socket trusts local connections as any role, so only the server's user (and root)
  # may reach it; everyone else goes through 127.0.0.1 with a password.
  server_dir "$SOCKET_DIR" 0700
  # pg_ctl -l opens the log as the server's user; log/ itself stays the invoking user's.
  touch "$LOG_FILE"
  if ((EUID == 0)); then chown "$SERVER_USER:" "$LOG_FILE"; fi
}

# initdb into a temp dir and move it into place, so a killed initdb never looks like a cluster.
ensure_initdb() {
  [[ -f "$PGDATA_DIR/PG_VERSION" ]] && return 0
  [[ ! -e "$PGDATA_DIR" ]] || die "$PGDATA_DIR exists but holds no cluster (no PG_VERSION); remove it and retry"
  local tmp="$PGDATA_DIR.initdb"
  rm -rf "$tmp"
  server_dir "$tmp" 0700
  log "initdb $PGDATA_DIR (superuser postgres; local socket trust, TCP scram-sha-256)"
  # C collation + UTF8: no dependency on installed locales, and the same sort order everywhere.
  if ! as_server "$BINDIR/initdb" -D "$tmp" -U postgres --encoding=UTF8 --no-locale \
    --auth-local=trust --auth-host=scram-sha-256 --data-checksums >"$tmp.log" 2>&1; then
    cat "$tmp.log" >&2
    rm -rf "$tmp"
    die "initdb failed"
  fi
  rm -f "$tmp.log"
  # Our settings live in a file of their own, rewritten on each start (see write_config).
  echo "include_if_exists = 'switchboard.conf'" >>"$tmp/postgresql.conf"
  mv "$tmp" "$PGDATA_DIR"
}

write_config() {
  local conf="$PGDATA_DIR/switchboard.conf"
  as_server tee "$conf.tmp" >/dev/null <<EOF
# Written by deploy/local/postgres.sh on every start: edit the script, not this file.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$SOCKET_DIR'
max_connections = 200
shared_buffers = 256MB
# Durability: a committed message must survive a crash; never trade it for speed here.
fsync = on
synchronous_commit = on
full_page_writes = on
# pg_ctl -l sends the server's stderr to $LOG_FILE.
logging_collector = off
log_destination = 'stderr'
log_line_prefix = '%m [%p] %q%u@%d '
log_timezone = 'UTC'
timezone = 'UTC'
# Per-statement costs for profiling and operations: SELECT * FROM pg_stat_statements.
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = all
EOF
  as_server mv "$conf.tmp" "$conf"
}

# --- start / stop / status -------------------------------------------------

# After a crash the dead postmaster lingers as a zombie until pid 1 reaps it (about 2 s on
# this machine kind); pg_ctl status, pg_ctl stop and postgres' own lock-file check all take a
# zombie for a live server. Wait for the reap instead of acting on that.
wait_for_crashed_postmaster() {
  local pid deadline=$((SECONDS + 15))
  pid="$(head -n 1 "$PGDATA_DIR/postmaster.pid" 2>/dev/null | tr -dc '0-9' || true)"
  [[ -n "$pid" ]] || return 0
  while [[ "$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null || true)" == Z ]] && ((SECONDS < deadline)); do
    sleep 0.2
  done
}

pg_running() {
  [[ -f "$PGDATA_DIR/PG_VERSION" ]] || return 1
  wait_for_crashed_postmaster
  as_server "$BINDIR/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1
}

port_open() {
  # shellcheck disable=SC2016  # $1 is expanded by the inner bash, on purpose
  timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null
}

# Our port taken by someone else would make the start fail with an opaque bind error.
check_port_free() {
  port_open "$PG_PORT" || return 0
  local clusters
  clusters="$(debian_clusters_on_port)"
  if [[ -n "$clusters" ]]; then
    local ver name
    read -r ver name <<<"$clusters"
    die "127.0.0.1:$PG_PORT is taken by Debian's system cluster $ver/$name (not ours); stop it with" \
      "'pg_ctlcluster $ver $name stop' or choose another port with SWITCHBOARD_PG_PORT"
  fi
  die "127.0.0.1:$PG_PORT is already in use by another process; choose another port with SWITCHBOARD_PG_PORT"
}

psql_admin() {
  "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCKET_DIR" -p "$PG_PORT" -U postgres -d postgres
}

ensure_role_and_db() {
  # CREATE DATABASE cannot run inside DO/transactions, hence \gexec for the conditional create.
  psql_admin <<SQL
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DB_USER') THEN
    CREATE ROLE $DB_USER;
  END IF;
END
\$\$;
ALTER ROLE $DB_USER WITH LOGIN CREATEDB PASSWORD '$DB_PASSWORD';
SELECT 'CREATE DATABASE $DB_NAME OWNER $DB_USER'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$DB_NAME')
\gexec
\connect $DB_NAME
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
GRANT pg_read_all_stats TO $DB_USER;
GRANT EXECUTE ON FUNCTION pg_stat_statements_reset(oid, oid, bigint) TO $DB_USER;
SQL
}


cmd_start() {
  find_bindir || cmd_install
  prepare_dirs
  ensure_initdb
  write_config
  if pg_running; then
    log "already running"
  else
    check_port_free
    local offset
    offset="$(stat -c %s "$LOG_FILE")"
    if ! as_server "$BINDIR/pg_ctl" -D "$PGDATA_DIR" -l "$LOG_FILE" -w -t 60 -s start; then
      log "pg_ctl start failed; log tail:"
      tail -c +"$((offset + 1))" "$LOG_FILE" | tail -n 30 >&2
      die "postgres did not start; full log: $LOG_FILE"
    fi
  fi
  ensure_role_and_db
  echo "postgres ready at postgresql://$DB_USER:$DB_PASSWORD@127.0.0.1:$PG_PORT/$DB_NAME"
}

cmd_stop() {
  if ! find_bindir || ! pg_running; then
    log "not running"
    return 0
  fi
  as_server "$BINDIR/pg_ctl" -D "$PGDATA_DIR" -m "$STOP_MODE" -w -t 60 -s stop
  log "stopped"
}

cmd_status() {
  if ! find_bindir; then
    echo "postgres not installed"
    return 4
  fi
  if [[ ! -f "$PGDATA_DIR/PG_VERSION" ]]; then
    echo "postgres not initialised ($PGDATA_DIR)"
    return 4
  fi
  local rc=0
  wait_for_crashed_postmaster
  as_server "$BINDIR/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1 || rc=$?
  if ((rc == 0)); then
    echo "postgres running at 127.0.0.1:$PG_PORT (pid $(head -n 1 "$PGDATA_DIR/postmaster.pid"))"
  else
    echo "postgres not running"
  fi
  return "$rc"
}

case "$*" in
  install) lock; cmd_install ;;
  start) lock; cmd_start ;;
  stop | "stop fast" | "stop smart" | "stop immediate") STOP_MODE="${2:-fast}"; lock; cmd_stop ;;
  status) cmd_status ;;
  *) echo "usage: $0 install|start|stop [fast|smart|immediate]|status" >&2; exit 2 ;;
esac
