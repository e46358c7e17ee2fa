#!/usr/bin/env bash
# Starts S3Proxy on loopback (default 127.0.0.1:9000), storing objects under .work/s3proxy/data, with SigV4
# credentials keney / keney-secret-key. Idempotent; waits until it answers. Stop with stop.sh.
# Environment: KENEY_S3PROXY_PORT (9000), KENEY_S3PROXY_WORK (<repo>/.work/s3proxy).
set -euo pipefail
# shellcheck source=common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"
"$here/fetch.sh" >/dev/null
if s3proxy_alive; then
  echo "start.sh: S3Proxy already running on 127.0.0.1:$port (pid $(cat "$pid_file"))."
  exit 0
fi
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
  echo "start.sh: port $port is taken by another process: set KENEY_S3PROXY_PORT." >&2
  exit 1
fi
mkdir -p "$instance/data"
cat >"$instance/s3proxy.conf" <<CONF
s3proxy.endpoint=http://127.0.0.1:$port
s3proxy.authorization=aws-v2-or-v4
s3proxy.identity=keney
s3proxy.credential=keney-secret-key
jclouds.provider=filesystem
jclouds.filesystem.basedir=$instance/data
CONF
started=$(date +%s%N)
nohup java -Xms64m -Xmx256m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -Dlogback.configurationFile="$here/logback.xml" -cp "$work/libs/*" org.gaul.s3proxy.Main --properties "$instance/s3proxy.conf" >"$instance/s3proxy.log" 2>&1 &
echo $! >"$pid_file"
for _ in $(seq 1 240); do
  if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
    echo "start.sh: S3Proxy ready on 127.0.0.1:$port (pid $(cat "$pid_file"), data $instance/data, $(( ($(date +%s%N) - started) / 1000000 )) ms)."
    exit 0
  fi
  kill -0 "$(cat "$pid_file")" 2>/dev/null || { echo "start.sh: S3Proxy exited; its log:" >&2; tail -n 30 "$instance/s3proxy.log" >&2; exit 1; }
  sleep 0.25
done
echo "start.sh: S3Proxy did not answer within 60 s; see $instance/s3proxy.log" >&2
kill "$(cat "$pid_file")" 2>/dev/null || true
exit 1
