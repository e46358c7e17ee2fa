#!/usr/bin/env bash
# Fetches S3Proxy's jars (pom.xml) from Maven Central into .work/s3proxy/libs, through the ~/.m2 cache.
# Idempotent: returns at once when the jars of this pom.xml are already there.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="${KENEY_S3PROXY_WORK:-$root/.work/s3proxy}"
libs="$work/libs"
stamp="$libs/.pom.sha256"
command -v mvn >/dev/null || { echo "fetch.sh: mvn not found: install Maven and a JDK 17+." >&2; exit 1; }
want="$(sha256sum "$here/pom.xml" | cut -d' ' -f1)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "fetch.sh: S3Proxy jars already in $libs."
  exit 0
fi
mkdir -p "$work"
staging="$(mktemp -d "$work/libs.staging.XXXXXX")"
trap 'rm -rf "$staging"' EXIT
# shellcheck disable=SC2086
mvn -B -q ${MAVEN_ARGS:-} -f "$here/pom.xml" dependency:copy-dependencies -DoutputDirectory="$staging" >"$work/fetch.log" 2>&1 || {
  echo "fetch.sh: Maven could not fetch S3Proxy; see $work/fetch.log:" >&2
  tail -n 30 "$work/fetch.log" >&2
  exit 1
}
compgen -G "$staging/s3proxy-*.jar" >/dev/null || { echo "fetch.sh: s3proxy jar missing from $staging." >&2; exit 1; }
echo "$want" >"$staging/.pom.sha256"
rm -rf "$libs.old"
[[ -d "$libs" ]] && mv "$libs" "$libs.old"
mv "$staging" "$libs"
rm -rf "$libs.old"
trap - EXIT
echo "fetch.sh: $(find "$libs" -name '*.jar' | wc -l) jars in $libs."
