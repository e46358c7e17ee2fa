#!/usr/bin/env bash
# Runs a throw-away Orthanc (Debian packages orthanc + orthanc-dicomweb) on loopback, for tests and benches.
#   scripts/services/orthanc.sh start|stop|status|config
# Environment (all optional):
#   KENEY_ORTHANC_WORK       working directory (config, storage, log, pid)   default: <repo>/.work/orthanc
#   KENEY_ORTHANC_HTTP_PORT  REST + DICOMweb port                             default: 8042
#   KENEY_ORTHANC_DICOM_PORT DIMSE port                                       default: 4242
#   KENEY_ORTHANC_AET        Orthanc's AE title                               default: ORTHANC
#   KENEY_DICOM_AET          our AE title, registered as a modality (C-MOVE)  default: KENEY
#   KENEY_DICOM_PORT         our DIMSE port (where Orthanc sends C-MOVE)      default: 11112
# Install once: apt-get update && apt-get install -y orthanc orthanc-dicomweb
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
work="${KENEY_ORTHANC_WORK:-$repo/.work/orthanc}"
http_port="${KENEY_ORTHANC_HTTP_PORT:-8042}"
dicom_port="${KENEY_ORTHANC_DICOM_PORT:-4242}"
aet="${KENEY_ORTHANC_AET:-ORTHANC}"
our_aet="${KENEY_DICOM_AET:-KENEY}"
our_port="${KENEY_DICOM_PORT:-11112}"
orthanc_bin="${KENEY_ORTHANC_BIN:-/usr/sbin/Orthanc}"
plugin="/usr/share/orthanc/plugins/libOrthancDicomWeb.so"
pid_file="$work/orthanc.pid"

write_config() {
  mkdir -p "$work/storage"
  cat > "$work/orthanc.json" <<JSON
{
  "Name": "keney-test-orthanc",
  "StorageDirectory": "$work/storage",
  "IndexDirectory": "$work/storage",
  "StorageCompression": false,
  "HttpPort": $http_port,
  "RemoteAccessAllowed": false,
  "AuthenticationEnabled": false,
  "DicomServerEnabled": true,
  "DicomAet": "$aet",
  "DicomPort": $dicom_port,
  "DicomCheckCalledAet": false,
  "DicomAlwaysAllowStore": true,
  "DicomAlwaysAllowEcho": true,
  "DicomModalities": { "$our_aet": ["$our_aet", "127.0.0.1", $our_port] },
  "OverwriteInstances": true,
  "ConcurrentJobs": 1,
  "HttpThreadsCount": 8,
  "SaveJobs": false,
  "Plugins": ["$plugin"],
  "DicomWeb": { "Enable": true, "Root": "/dicom-web/", "EnableWado": true, "Ssl": false, "StudiesMetadata": "Full", "SeriesMetadata": "Full" }
}
JSON
}

running() {
  [[ -f "$pid_file" ]] && kill -0 "$(cat "$pid_file")" 2>/dev/null
}

case "${1:-}" in
  start)
    if running; then echo "Orthanc already running (pid $(cat "$pid_file")) on http://127.0.0.1:$http_port"; exit 0; fi
    if [[ ! -x "$orthanc_bin" ]]; then
      echo "Orthanc is not installed: apt-get update && apt-get install -y orthanc orthanc-dicomweb" >&2
      exit 1
    fi
    [[ -f "$plugin" ]] || { echo "The DICOMweb plugin is missing: apt-get install -y orthanc-dicomweb" >&2; exit 1; }
    write_config
    nohup "$orthanc_bin" --logdir="$work" "$work/orthanc.json" >"$work/stdout.log" 2>&1 &
    echo $! > "$pid_file"
    for _ in $(seq 1 120); do
      if curl -sf "http://127.0.0.1:$http_port/system" >/dev/null 2>&1; then
        echo "Orthanc ready: http://127.0.0.1:$http_port (DICOMweb /dicom-web), DIMSE $aet@127.0.0.1:$dicom_port, work dir $work"
        exit 0
      fi
      if ! running; then echo "Orthanc exited at start; see $work/stdout.log and $work/*.log" >&2; tail -20 "$work/stdout.log" >&2 || true; exit 1; fi
      sleep 0.5
    done
    echo "Orthanc did not answer on http://127.0.0.1:$http_port within 60 s; see $work" >&2
    exit 1
    ;;
  stop)
    if running; then
      pid="$(cat "$pid_file")"
      kill "$pid"
      for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
      kill -9 "$pid" 2>/dev/null || true
      echo "Orthanc stopped"
    fi
    rm -f "$pid_file"
    ;;
  status)
    if running; then echo "running (pid $(cat "$pid_file"))"; else echo "stopped"; exit 1; fi
    ;;
  config)
    write_config
    cat "$work/orthanc.json"
    ;;
  *)
    echo "usage: $0 start|stop|status|config" >&2
    exit 2
    ;;
esac
