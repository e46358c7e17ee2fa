#!/usr/bin/env bash
# Stops the S3Proxy started by start.sh (KENEY_S3PROXY_PURGE=1 also deletes its data).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="${KENEY_S3PROXY_WORK:-$root/.work/s3proxy}"
port="${KENEY_S3PROXY_PORT:-9000}"
instance="$work/server-$port"
pid_file="$instance/s3proxy.pid"
if [[ -f "$pid_file" ]] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then
  kill "$(cat "$pid_file")"
  for _ in $(seq 1 40); do kill -0 "$(cat "$pid_file")" 2>/dev/null || break; sleep 0.25; done
  kill -9 "$(cat "$pid_file")" 2>/dev/null || true
  echo "stop.sh: S3Proxy on port $port stopped."
fi
rm -f "$pid_file"
[[ "${KENEY_S3PROXY_PURGE:-}" == 1 ]] && rm -rf "$instance"
exit 0
