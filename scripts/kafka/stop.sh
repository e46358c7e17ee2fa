#!/usr/bin/env bash
# Stops the broker that start.sh started for this port (KENEY_KAFKA_PORT, default 9092): a controlled shutdown
# (SIGTERM), then SIGKILL if it has not exited within KENEY_KAFKA_STOP_TIMEOUT seconds (default 60).
# Data is kept; KENEY_KAFKA_PURGE=1 also deletes this instance's data and logs.
# KENEY_KAFKA_STOP_SIGNAL=KILL kills it at once instead (a crash, for recovery tests).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

pid="$(cat "$pid_file" 2>/dev/null || true)"
if [[ -n "$pid" ]] && broker_alive "$pid"; then
  signal="${KENEY_KAFKA_STOP_SIGNAL:-TERM}"
  [[ "$signal" == TERM || "$signal" == KILL ]] || { echo "stop.sh: KENEY_KAFKA_STOP_SIGNAL must be TERM or KILL." >&2; exit 1; }
  kill "-$signal" "$pid"
  deadline=$(( $(date +%s) + ${KENEY_KAFKA_STOP_TIMEOUT:-60} ))
  while process_running "$pid"; do
    if (( $(date +%s) >= deadline )); then
      echo "stop.sh: the broker (pid $pid) did not stop within ${KENEY_KAFKA_STOP_TIMEOUT:-60} s; killing it." >&2
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  echo "stop.sh: Kafka on $host:$port stopped (pid $pid)."
else
  echo "stop.sh: no Kafka of ours is running on $host:$port."
fi
rm -f "$pid_file"
if [[ "${KENEY_KAFKA_PURGE:-0}" == 1 ]]; then rm -rf "$instance"; echo "stop.sh: deleted $instance."; fi
