# Shared settings of start.sh and stop.sh (sourced, not run). One S3Proxy per port: <work>/server-<port>/ holds its
# s3proxy.conf, data/, s3proxy.log and s3proxy.pid.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="${KENEY_S3PROXY_WORK:-$root/.work/s3proxy}"
port="${KENEY_S3PROXY_PORT:-9000}"
instance="$work/server-$port"
pid_file="$instance/s3proxy.pid"

# Is the pid in the pid file a running S3Proxy of this instance? (A stale pid file's pid may have been reused.)
s3proxy_alive() {
  [[ -f "$pid_file" ]] || return 1
  local pid
  pid="$(cat "$pid_file")"
  [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "org.gaul.s3proxy.Main --properties $instance/s3proxy.conf"
}
