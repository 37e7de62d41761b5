#!/usr/bin/env bash
# Local single-node Apache Kafka (KRaft, combined broker+controller) for Switchboard dev and tests.
#
#   deploy/local/kafka.sh install   resolve the broker jars from Maven Central (once; cached)
#   deploy/local/kafka.sh start     install + format if needed, start, wait until 127.0.0.1:PORT accepts
#   deploy/local/kafka.sh stop      SIGTERM by pid, SIGKILL after 30 s
#   deploy/local/kafka.sh status    exit 0 when running, 1 otherwise
#
# Env: SWITCHBOARD_HOME (default <repo>/.local), SWITCHBOARD_KAFKA_PORT (9092),
#      SWITCHBOARD_KAFKA_CONTROLLER_PORT (9093).
# The broker is assembled from Maven jars because the Apache download mirrors are not reachable here.
set -euo pipefail

SERVICE=kafka
# shellcheck source=deploy/local/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

KAFKA_PORT="${SWITCHBOARD_KAFKA_PORT:-9092}"
CONTROLLER_PORT="${SWITCHBOARD_KAFKA_CONTROLLER_PORT:-9093}"

POM="$SCRIPT_DIR/kafka/pom.xml"
LOG4J_CONF="$SCRIPT_DIR/kafka/log4j2.properties"
MAVEN_DEP_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

KAFKA_DIR="$HOME_DIR/kafka"
LIB_DIR="$KAFKA_DIR/lib"
DATA_DIR="$KAFKA_DIR/data"
CONF_FILE="$KAFKA_DIR/server.properties"
CLUSTER_ID_FILE="$KAFKA_DIR/cluster.id"
# Controller endpoint the data dir was formatted with: a dynamic (--standalone) quorum records it.
FORMAT_PORT_FILE="$KAFKA_DIR/controller.port"
# Hash of the pom the jars came from, so editing the pom triggers a fresh resolve.
LIB_STAMP="$LIB_DIR/.pom.sha256"
LOG_FILE="$LOG_DIR/kafka.log"
PID_FILE="$RUN_DIR/kafka.pid"

READY_TIMEOUT=60
STOP_TIMEOUT=30
LOG_ROTATE_BYTES=$((50 * 1024 * 1024))


valid_port "$KAFKA_PORT" || die "invalid port '$KAFKA_PORT'"
valid_port "$CONTROLLER_PORT" || die "invalid port '$CONTROLLER_PORT'"


# --- process helpers -------------------------------------------------------

# kill -0 alone is not enough: the detached broker is reparented to pid 1, which here can
# take a while to reap it, and a zombie still answers kill -0.
alive() {
  local state
  kill -0 "$1" 2>/dev/null || return 1
  state="$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null || true)"
  [[ -n "$state" && "$state" != Z ]]
}


# Prints the broker pid when the pid file names a live kafka.Kafka process using OUR config.
# Matching the command line guards against a recycled pid after a reboot or crash.
running_pid() {
  local pid cmdline
  [[ -f "$PID_FILE" ]] || return 1
  pid="$(tr -dc '0-9' <"$PID_FILE")"
  [[ -n "$pid" ]] || return 1
  alive "$pid" || return 1
  cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
  [[ "$cmdline" == *kafka.Kafka*"$CONF_FILE"* ]] || return 1
  echo "$pid"
}

# TCP connect to 127.0.0.1:$1; refused connects on loopback return at once, timeout covers the rest.
port_open() {
  # shellcheck disable=SC2016  # $1 is expanded by the inner bash, on purpose
  timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null
}

# --- install ---------------------------------------------------------------

pom_hash() { sha256sum "$POM" | cut -d' ' -f1; }

jars_current() {
  compgen -G "$LIB_DIR/kafka_2.13-*.jar" >/dev/null || return 1
  [[ -f "$LIB_STAMP" && "$(cat "$LIB_STAMP")" == "$(pom_hash)" ]]
}

cmd_install() {
  command -v java >/dev/null || die "java not found (Kafka 4.x needs Java 17+: apt-get install openjdk-17-jre-headless)"
  if jars_current; then
    log "jars present in $LIB_DIR ($(find "$LIB_DIR" -name '*.jar' | wc -l) jars); nothing to do"
    return 0
  fi
  if running_pid >/dev/null; then
    die "the broker is running on the old jars; run '$0 stop' before re-installing"
  fi
  command -v mvn >/dev/null || die "mvn not found (apt-get install maven)"
  mkdir -p "$KAFKA_DIR"

  # Resolve into a temp dir and move it into place at the end, so an interrupted download
  # never leaves a lib dir that looks complete.
  local tmp
  # Leftovers of an interrupted run (we hold the lock, so none is in use).
  rm -rf "$KAFKA_DIR"/lib.tmp.* "$LIB_DIR.old"
  tmp="$(mktemp -d "$KAFKA_DIR/lib.tmp.XXXXXX")"
  # shellcheck disable=SC2064  # expand $tmp now: it is local and gone by the time EXIT fires
  trap "rm -rf '$tmp'" EXIT
  log "resolving Kafka jars with Maven (a cold ~/.m2 downloads ~45 MB from Maven Central)"
  chmod 755 "$tmp"
  # Debian's Maven 3.8 prints bare ANSI resets even with -q and no tty: strip them.
  mvn -B -q -Dstyle.color=never -f "$POM" "$MAVEN_DEP_PLUGIN:copy-dependencies" \
    -DincludeScope=runtime -DoutputDirectory="$tmp" 2>&1 | sed 's/\x1b\[[0-9;]*m//g' >&2 \
    || die "maven could not resolve the jars listed in $POM"
  compgen -G "$tmp/kafka_2.13-*.jar" >/dev/null || die "maven finished but no kafka_2.13 jar was copied"
  pom_hash >"$tmp/.pom.sha256"

  if [[ -d "$LIB_DIR" ]]; then mv "$LIB_DIR" "$LIB_DIR.old"; fi
  mv "$tmp" "$LIB_DIR"
  rm -rf "$LIB_DIR.old"
  trap - EXIT
  log "installed $(find "$LIB_DIR" -name '*.jar' | wc -l) jars into $LIB_DIR"
}

# --- config + format -------------------------------------------------------

# Kafka's own G1 flags; heap sized for a 2-core dev box. Logging config passed explicitly
# because the jars carry none.
JAVA=(java -Xms256m -Xmx512m
  -XX:+UseSerialGC
  -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true
  -Dlog4j2.configurationFile="$LOG4J_CONF"
  -cp "$LIB_DIR/*")

java_cmd() { "${JAVA[@]}" "$@"; }

# Regenerated on every start so port env vars take effect; the data dir is what persists.
write_config() {
  mkdir -p "$KAFKA_DIR" "$DATA_DIR"
  cat >"$CONF_FILE.tmp" <<EOF
# Generated by deploy/local/kafka.sh on every start: edit the script, not this file.
# Single combined KRaft node, dynamic quorum (formatted with --standalone).
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DATA_DIR

# One broker: every internal topic must have replication factor 1, or consumer groups
# fail with COORDINATOR_NOT_AVAILABLE and idempotent producers cannot initialise.
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# 50 partitions each (the defaults) only slow the first group/transaction on a small box.
offsets.topic.num.partitions=8
transaction.state.log.num.partitions=8

# Topics are created explicitly with the partition count the app wants.
auto.create.topics.enable=false
num.partitions=8
# Consumers in tests join at once; no reason to wait 3 s before the first rebalance.
group.initial.rebalance.delay.ms=0

# 2-core machine: keep thread pools small.
num.network.threads=2
num.io.threads=4
background.threads=4
num.recovery.threads.per.data.dir=1
num.replica.fetchers=1

# Local data is disposable; smaller segments let the 24 h retention actually delete something.
log.retention.hours=24
log.segment.bytes=67108864
EOF
  mv "$CONF_FILE.tmp" "$CONF_FILE"
}

ensure_cluster_id() {
  if [[ -s "$CLUSTER_ID_FILE" ]]; then return 0; fi
  local id
  if [[ -f "$DATA_DIR/meta.properties" ]]; then
    # Already formatted: the id in meta.properties is the truth; recover the file from it.
    id="$(sed -n 's/^cluster\.id=//p' "$DATA_DIR/meta.properties")"
  else
    id="$(java_cmd kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)"
  fi
  [[ "$id" =~ ^[A-Za-z0-9_][A-Za-z0-9_-]{21}$ ]] || die "could not obtain a cluster id (got '$id')"
  echo "$id" >"$CLUSTER_ID_FILE"
}

ensure_formatted() {
  ensure_cluster_id
  if [[ -f "$DATA_DIR/meta.properties" ]]; then
    local formatted_port
    formatted_port="$(cat "$FORMAT_PORT_FILE" 2>/dev/null || echo "$CONTROLLER_PORT")"
    if [[ "$formatted_port" != "$CONTROLLER_PORT" ]]; then
      die "data dir was formatted with controller port $formatted_port, not $CONTROLLER_PORT;" \
        "use the old port or delete $KAFKA_DIR/data and $FORMAT_PORT_FILE to start empty"
    fi
    return 0
  fi
  local out
  log "formatting $DATA_DIR (cluster id $(cat "$CLUSTER_ID_FILE"))"
  if ! out="$(java_cmd kafka.tools.StorageTool format --standalone \
    -t "$(cat "$CLUSTER_ID_FILE")" -c "$CONF_FILE" 2>&1)"; then
    printf '%s\n' "$out" >&2
    die "storage format failed"
  fi
  echo "$CONTROLLER_PORT" >"$FORMAT_PORT_FILE"
}

# --- start / stop / status -------------------------------------------------

ready_line() { echo "kafka ready at 127.0.0.1:$KAFKA_PORT (pid $1)"; }

# Waits for the listener; fails early if the process dies. $2 = log offset to show from.
wait_ready() {
  local pid="$1" offset="$2" deadline=$((SECONDS + READY_TIMEOUT))
  while ((SECONDS < deadline)); do
    if ! alive "$pid"; then
      log "broker process $pid exited during startup; log tail:"
      tail -c +"$((offset + 1))" "$LOG_FILE" | tail -n 40 >&2
      rm -f "$PID_FILE"
      return 1
    fi
    if port_open "$KAFKA_PORT"; then return 0; fi
    sleep 0.5
  done
  log "127.0.0.1:$KAFKA_PORT not accepting connections after ${READY_TIMEOUT}s; log tail:"
  tail -c +"$((offset + 1))" "$LOG_FILE" | tail -n 40 >&2
  return 1
}

cmd_start() {
  local pid offset p
  if pid="$(running_pid)"; then
    log "already running (pid $pid)"
    # A concurrent start may still be booting it: wait for the port all the same.
    wait_ready "$pid" "$(stat -c %s "$LOG_FILE" 2>/dev/null || echo 0)" || exit 1
    ready_line "$pid"
    return 0
  fi
  rm -f "$PID_FILE"
  # Someone else's broker on our port would pass the readiness check: refuse instead.
  for p in "$KAFKA_PORT" "$CONTROLLER_PORT"; do
    if port_open "$p"; then die "127.0.0.1:$p is already in use by another process"; fi
  done

  jars_current || cmd_install
  write_config
  ensure_formatted

  mkdir -p "$LOG_DIR" "$RUN_DIR"
  # Rotate once it gets big: the broker appends to this file across restarts.
  if [[ -f "$LOG_FILE" ]] && (($(stat -c %s "$LOG_FILE") > LOG_ROTATE_BYTES)); then
    mv -f "$LOG_FILE" "$LOG_FILE.1"
  fi
  offset="$(stat -c %s "$LOG_FILE" 2>/dev/null || echo 0)"
  printf '\n===== kafka.sh start %s =====\n' "$(date -Is)" >>"$LOG_FILE"

  # setsid: own session, so the caller's Ctrl-C / process-group kill does not reach the broker.
  # 9>&-: the broker must not inherit (and so hold) our lock.
  # The inner bash writes its own pid and execs java, so the pid file names java even if
  # setsid had to fork.
  rm -f "$PID_FILE.new"
  # shellcheck disable=SC2016  # expanded by the inner bash, on purpose
  nohup setsid bash -c 'echo "$$" >"$1"; shift; exec "$@"' _ "$PID_FILE.new" \
    "${JAVA[@]}" kafka.Kafka "$CONF_FILE" \
    >>"$LOG_FILE" 2>&1 </dev/null 9>&- &

  local _
  for _ in $(seq 1 50); do
    [[ -s "$PID_FILE.new" ]] && break
    sleep 0.1
  done
  [[ -s "$PID_FILE.new" ]] || die "broker did not start (no pid after 5 s); see $LOG_FILE"
  mv "$PID_FILE.new" "$PID_FILE"
  pid="$(cat "$PID_FILE")"

  if ! wait_ready "$pid" "$offset"; then
    cmd_stop >/dev/null 2>&1 || true
    die "broker did not become ready; full log: $LOG_FILE"
  fi
  ready_line "$pid"
}

cmd_stop() {
  local pid deadline
  if ! pid="$(running_pid)"; then
    rm -f "$PID_FILE"
    log "not running"
    return 0
  fi
  log "stopping pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  # Controlled shutdown of a combined node takes a few seconds; give it $STOP_TIMEOUT.
  deadline=$((SECONDS + STOP_TIMEOUT))
  while alive "$pid" && ((SECONDS < deadline)); do sleep 0.2; done
  if alive "$pid"; then
    log "still alive after ${STOP_TIMEOUT}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    deadline=$((SECONDS + 10))
    while alive "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
    if alive "$pid"; then die "pid $pid survived SIGKILL (stuck in the kernel?); pid file kept"; fi
  fi
  rm -f "$PID_FILE"
  log "stopped"
}

cmd_status() {
  local pid
  if pid="$(running_pid)"; then
    if port_open "$KAFKA_PORT"; then
      echo "kafka running at 127.0.0.1:$KAFKA_PORT (pid $pid)"
    else
      echo "kafka running (pid $pid), 127.0.0.1:$KAFKA_PORT not accepting connections yet"
    fi
    return 0
  fi
  echo "kafka not running"
  return 1
}

[[ $# -eq 1 ]] || usage
case "$1" in
  install) lock; cmd_install ;;
  start) lock; cmd_start ;;
  stop) lock; cmd_stop ;;
  status) cmd_status ;;
  *) usage ;;
esac
