#!/usr/bin/env bash
# Start, stop or ask about a standalone ZooKeeper on loopback, from Debian's `zookeeper`
# package, for development and tests (DESIGN.md section 8).
#
#   scripts/zookeeper.sh start  [--port P] [--dir D] [--tick-ms N] [--max-session-ms N] [--timeout S]
#   scripts/zookeeper.sh stop   [--dir D] [--timeout S]
#   scripts/zookeeper.sh status [--dir D] [--port P]
#
# The directory holds zoo.cfg, data/, zookeeper.pid and zookeeper.log. Defaults: port 2181,
# dir ${TMPDIR:-/tmp}/fleet-zookeeper-<uid>, tick 200 ms (the server accepts session timeouts
# from 2 ticks = 400 ms, so tests can use timeouts of a few seconds), max session 60 s.
# `start` installs the package when it is missing and this runs as root; otherwise it says
# exactly what to install. It waits (bounded by --timeout, default 30 s) until the server
# answers `ruok` with `imok`. Exit codes: 0 done/running, 1 failure, 2 usage, 3 not running.
set -euo pipefail

ZK_JAR=/usr/share/java/zookeeper.jar
SLF4J_JAR=/usr/share/java/slf4j-simple.jar

usage() {
  sed -n '5,7p' "$0" | sed 's/^#   //' >&2
  exit 2
}

[ "$#" -ge 1 ] || usage
cmd=$1
shift
port=2181
port_given=0
dir="${TMPDIR:-/tmp}/fleet-zookeeper-$(id -u)"
tick_ms=200
max_session_ms=60000
timeout_s=30
while [ "$#" -gt 0 ]; do
  case "$1" in
    --port) port=${2:?--port needs a value}; port_given=1; shift 2 ;;
    --dir) dir=${2:?--dir needs a value}; shift 2 ;;
    --tick-ms) tick_ms=${2:?--tick-ms needs a value}; shift 2 ;;
    --max-session-ms) max_session_ms=${2:?--max-session-ms needs a value}; shift 2 ;;
    --timeout) timeout_s=${2:?--timeout needs a value}; shift 2 ;;
    -h|--help) usage ;;
    *) echo "zookeeper.sh: unknown argument: $1" >&2; usage ;;
  esac
done
for n in "$port" "$tick_ms" "$max_session_ms" "$timeout_s"; do
  case "$n" in
    ''|*[!0-9]*) echo "zookeeper.sh: not a whole number: $n" >&2; exit 2 ;;
  esac
done
if [ "$port" -lt 1 ] || [ "$port" -gt 65535 ]; then
  echo "zookeeper.sh: port $port is out of range 1-65535" >&2
  exit 2
fi

cfg="$dir/zoo.cfg"
pidfile="$dir/zookeeper.pid"
log="$dir/zookeeper.log"

# stop and status talk to the port the directory's server was started with.
if [ "$cmd" != start ] && [ "$port_given" -eq 0 ] && [ -f "$cfg" ]; then
  cfg_port=$(sed -n 's/^clientPort=\([0-9][0-9]*\)$/\1/p' "$cfg")
  [ -n "$cfg_port" ] && port=$cfg_port
fi

# Answers 0 when the server on the port says imok.
ruok() {
  local reply
  # shellcheck disable=SC2016 # $1 expands in the inner bash, on purpose
  reply=$(timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf ruok >&3 && cat <&3' _ "$port" 2>/dev/null) || true
  [ "$reply" = imok ]
}

# Answers 0 when something accepts TCP connections on the port.
port_open() {
  # shellcheck disable=SC2016 # $1 expands in the inner bash, on purpose
  timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$port" 2>/dev/null
}

# The pid in the pid file, when that process is alive and is our server (not a recycled pid).
our_pid() {
  local pid cmdline
  [ -f "$pidfile" ] || return 1
  pid=$(cat "$pidfile")
  case "$pid" in ''|*[!0-9]*) return 1 ;; esac
  kill -0 "$pid" 2>/dev/null || return 1
  if [ -r "/proc/$pid/cmdline" ]; then
    cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline")
    case "$cmdline" in
      *"QuorumPeerMain $cfg"*) ;;
      *) return 1 ;;
    esac
  fi
  echo "$pid"
}

ensure_installed() {
  local missing=()
  command -v java >/dev/null 2>&1 || missing+=(default-jre-headless)
  [ -e "$ZK_JAR" ] || missing+=(zookeeper)
  [ -e "$SLF4J_JAR" ] || missing+=(libslf4j-java)
  [ "${#missing[@]}" -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "zookeeper.sh: missing Debian packages: ${missing[*]}" >&2
    echo "zookeeper.sh: install them with: sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
  echo "zookeeper.sh: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

start() {
  local pid deadline
  if pid=$(our_pid); then
    if ruok; then
      echo "zookeeper: already running (pid $pid) on 127.0.0.1:$port, dir $dir"
      return 0
    fi
    echo "zookeeper.sh: pid $pid from $pidfile is running but 127.0.0.1:$port does not answer ruok; stop it first" >&2
    exit 1
  fi
  if port_open; then
    if ruok; then
      echo "zookeeper.sh: 127.0.0.1:$port already serves a ZooKeeper that was not started from $dir" >&2
    else
      echo "zookeeper.sh: 127.0.0.1:$port is already in use by another program" >&2
    fi
    exit 1
  fi
  ensure_installed
  mkdir -p "$dir/data"
  cat >"$cfg" <<EOF
# Written by scripts/zookeeper.sh; rewritten on every start.
tickTime=$tick_ms
minSessionTimeout=$((2 * tick_ms))
maxSessionTimeout=$max_session_ms
dataDir=$dir/data
clientPort=$port
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=ruok
maxClientCnxns=0
autopurge.snapRetainCount=3
autopurge.purgeInterval=1
EOF
  # zookeeper.jar's manifest names its own dependencies; slf4j-simple is the log binding.
  nohup java -Xms32m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Dorg.slf4j.simpleLogger.showDateTime=true \
    -Dzookeeper.jmx.log4j.disable=true \
    -cp "$ZK_JAR:$SLF4J_JAR" org.apache.zookeeper.server.quorum.QuorumPeerMain "$cfg" \
    >"$log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$pidfile"
  deadline=$((SECONDS + timeout_s))
  until ruok; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "zookeeper.sh: the server exited during start; last lines of $log:" >&2
      tail -n 20 "$log" >&2 || true
      rm -f "$pidfile"
      exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "zookeeper.sh: no imok from 127.0.0.1:$port within ${timeout_s} s; stopping it (log: $log)" >&2
      kill "$pid" 2>/dev/null || true
      rm -f "$pidfile"
      exit 1
    fi
    sleep 0.05
  done
  echo "zookeeper: running (pid $pid) on 127.0.0.1:$port, dir $dir"
}

stop() {
  local pid deadline
  if ! pid=$(our_pid); then
    rm -f "$pidfile"
    echo "zookeeper: not running (dir $dir)"
    return 0
  fi
  kill "$pid" 2>/dev/null || true
  deadline=$((SECONDS + timeout_s))
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "zookeeper.sh: pid $pid did not stop within ${timeout_s} s; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.05
  done
  rm -f "$pidfile"
  echo "zookeeper: stopped (pid $pid)"
}

status() {
  local pid
  if pid=$(our_pid); then
    if ruok; then
      echo "zookeeper: running (pid $pid) on 127.0.0.1:$port, answers imok"
      return 0
    fi
    echo "zookeeper: pid $pid is running but 127.0.0.1:$port does not answer ruok"
    exit 1
  fi
  echo "zookeeper: not running (dir $dir)"
  exit 3
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) usage ;;
esac
