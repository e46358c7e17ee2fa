# Shared settings of start.sh and stop.sh (sourced, not run). One broker instance per client port:
# <work>/broker-<port>/ holds its server.properties, data/, logs/ and kafka.pid.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="${KENEY_KAFKA_WORK:-$root/.work/kafka}"
libs="$work/libs"
host="${KENEY_KAFKA_HOST:-127.0.0.1}"
port="${KENEY_KAFKA_PORT:-9092}"
controller_port="${KENEY_KAFKA_CONTROLLER_PORT:-$((port + 1))}"
instance="$work/broker-$port"
pid_file="$instance/kafka.pid"

# Is this pid a running broker of this instance? (Guards against a stale pid file whose pid was reused.)
broker_alive() {
  local pid="$1"
  [[ -n "$pid" ]] && process_running "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "kafka.Kafka $instance/server.properties"
}

# Is this process running (and not a zombie waiting to be reaped)?
process_running() {
  local state
  state="$(sed -n 's/^[0-9]* (.*) \([A-Z]\).*/\1/p' "/proc/$1/stat" 2>/dev/null)"
  [[ -n "$state" && "$state" != Z && "$state" != X ]]
}

# Does something accept TCP connections on host:port?
port_open() {
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}
