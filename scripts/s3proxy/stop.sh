#!/usr/bin/env bash
# Stops the S3Proxy started by start.sh (KENEY_S3PROXY_PURGE=1 also deletes its data).
set -euo pipefail
# shellcheck source=common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"
if s3proxy_alive; then
  kill "$(cat "$pid_file")"
  for _ in $(seq 1 40); do kill -0 "$(cat "$pid_file")" 2>/dev/null || break; sleep 0.25; done
  kill -9 "$(cat "$pid_file")" 2>/dev/null || true
  echo "stop.sh: S3Proxy on port $port stopped."
fi
rm -f "$pid_file"
[[ "${KENEY_S3PROXY_PURGE:-}" == 1 ]] && rm -rf "$instance"
exit 0
