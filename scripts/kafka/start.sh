#!/usr/bin/env bash
# Starts a single-node Kafka (KRaft, combined broker + controller) for development and tests, in the background,
# and returns once it accepts topic creation. Idempotent: a broker already running for this port is left as is.
# Data survives restarts (stop.sh then start.sh); KENEY_KAFKA_FRESH=1 starts from an empty log.
#
# Environment (all optional):
#   KENEY_KAFKA_PORT             client listener port (default 9092)
#   KENEY_KAFKA_CONTROLLER_PORT  KRaft controller listener port (default: client port + 1)
#   KENEY_KAFKA_HOST             listener address (default 127.0.0.1; the broker is for this machine only)
#   KENEY_KAFKA_WORK             jars and broker data (default <repository>/.work/kafka)
#   KENEY_KAFKA_HEAP             JVM heap options (default "-Xms256m -Xmx512m")
#   KENEY_KAFKA_START_TIMEOUT    seconds to wait for readiness (default 120)
#   KENEY_KAFKA_FRESH=1          delete this instance's data first
#   JAVA_HOME                    the JDK (17+) to use; otherwise `java` on PATH
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
command -v "$java" >/dev/null || { echo "start.sh: no java found: install a JDK 17+ or set JAVA_HOME." >&2; exit 1; }
java_major="$("$java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)"
if [[ -z "$java_major" || "$java_major" -lt 17 ]]; then
  echo "start.sh: Kafka 4 needs Java 17 or newer; $java is version ${java_major:-unknown}. Set JAVA_HOME to a JDK 17+." >&2
  exit 1
fi

[[ -f "$libs/.pom.sha256" ]] || "$here/fetch.sh"

if [[ -f "$pid_file" ]]; then
  pid="$(cat "$pid_file")"
  if broker_alive "$pid" && port_open "$host" "$port"; then
    echo "start.sh: Kafka is already running on $host:$port (pid $pid)."
    exit 0
  fi
  if broker_alive "$pid"; then
    echo "start.sh: a broker of this instance (pid $pid) is running but not answering on $host:$port; stop it with scripts/kafka/stop.sh." >&2
    exit 1
  fi
  rm -f "$pid_file"
fi
for p in "$port" "$controller_port"; do
  if port_open "$host" "$p"; then
    echo "start.sh: port $host:$p is already in use by another program; choose other ports with KENEY_KAFKA_PORT (and KENEY_KAFKA_CONTROLLER_PORT)." >&2
    exit 1
  fi
done

if [[ "${KENEY_KAFKA_FRESH:-0}" == 1 ]]; then rm -rf "$instance/data"; fi
mkdir -p "$instance/data" "$instance/logs"

cat >"$instance/server.properties" <<PROPERTIES
# Written by scripts/kafka/start.sh: a single-node KRaft broker + controller for development and tests.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$host:$controller_port
listeners=PLAINTEXT://$host:$port,CONTROLLER://$host:$controller_port
advertised.listeners=PLAINTEXT://$host:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$instance/data
# Topics are created by their owners (the change log creates its own, with explicit partitions and retention).
auto.create.topics.enable=false
# One node: internal topics cannot have more replicas than that.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# A 2-core CI machine: few threads.
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
background.threads=4
PROPERTIES

java_opts=(
  ${KENEY_KAFKA_HEAP:--Xms256m -Xmx512m}
  -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true
  -Dlog4j2.configurationFile="$here/log4j2.xml" -Dkafka.logs.dir="$instance/logs"
  -cp "$libs/*"
)

if [[ ! -f "$instance/data/meta.properties" ]]; then
  # A new cluster id (a Kafka Uuid: 16 random bytes, URL-safe base64 without padding), then format the storage.
  cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
  "$java" "${java_opts[@]}" kafka.tools.StorageTool format --ignore-formatted \
    --cluster-id "$cluster_id" --config "$instance/server.properties" >"$instance/logs/format.out" 2>&1 || {
    echo "start.sh: formatting the storage in $instance/data failed:" >&2
    cat "$instance/logs/format.out" >&2
    exit 1
  }
fi

server_log="$instance/logs/server.log"
log_offset=$(stat -c %s "$server_log" 2>/dev/null || echo 0)
started_ns=$(date +%s%N)
# setsid: the broker outlives this script and the caller's terminal or job; stop.sh ends it by its pid.
setsid nohup "$java" "${java_opts[@]}" kafka.Kafka "$instance/server.properties" \
  >"$instance/logs/kafka.out" 2>&1 </dev/null &
pid=$!
echo "$pid" >"$pid_file"

deadline=$(( $(date +%s) + ${KENEY_KAFKA_START_TIMEOUT:-120} ))
until port_open "$host" "$port" && tail -c "+$((log_offset + 1))" "$server_log" 2>/dev/null | grep -q 'Kafka Server started'; do
  if ! process_running "$pid"; then
    rm -f "$pid_file"
    echo "start.sh: the broker exited while starting. Last lines of $instance/logs/kafka.out and server.log:" >&2
    tail -n 20 "$instance/logs/kafka.out" >&2
    tail -n 40 "$server_log" 2>/dev/null | grep -E 'ERROR|FATAL|Exception' >&2 || true
    exit 1
  fi
  if (( $(date +%s) >= deadline )); then
    echo "start.sh: the broker did not become ready within ${KENEY_KAFKA_START_TIMEOUT:-120} s; stopping it. See $server_log." >&2
    kill "$pid" 2>/dev/null || true
    exit 1
  fi
  sleep 0.2
done
echo "start.sh: Kafka ready on $host:$port (pid $pid, data $instance/data, $(( ($(date +%s%N) - started_ns) / 1000000 )) ms)."
