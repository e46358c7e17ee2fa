#!/usr/bin/env bash
# Fetches S3Proxy's jars (pom.xml) from Maven Central into .work/s3proxy/libs, through the ~/.m2 cache.
# Idempotent: returns at once when the jars of this pom.xml are already there.
#
# Environment:
#   KENEY_S3PROXY_WORK   where S3Proxy lives (default: <repository>/.work/s3proxy)
#   MAVEN_ARGS           extra arguments for mvn
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=../lib/maven-fetch.sh
source "$root/scripts/lib/maven-fetch.sh"
maven_fetch "S3Proxy" "$here/pom.xml" "${KENEY_S3PROXY_WORK:-$root/.work/s3proxy}" 's3proxy-*.jar'
