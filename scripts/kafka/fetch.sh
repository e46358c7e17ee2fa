#!/usr/bin/env bash
# Fetches the Kafka broker's jars (pom.xml) from Maven Central into .work/kafka/libs, through the ~/.m2 cache.
# Idempotent: when the jars of this pom.xml are already there, returns at once without starting Maven.
#
# Environment:
#   KENEY_KAFKA_WORK   where the broker lives (default: <repository>/.work/kafka)
#   MAVEN_ARGS         extra arguments for mvn (e.g. "-o" offline, "-Dmaven.repo.local=/cache/m2")
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="${KENEY_KAFKA_WORK:-$root/.work/kafka}"
libs="$work/libs"
stamp="$libs/.pom.sha256"

command -v mvn >/dev/null || { echo "fetch.sh: mvn not found: install Maven (apt-get install maven) and a JDK 17+." >&2; exit 1; }

want="$(sha256sum "$here/pom.xml" | cut -d' ' -f1)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "fetch.sh: broker jars already in $libs ($(find "$libs" -name '*.jar' | wc -l) jars)."
  exit 0
fi

mkdir -p "$work"
staging="$(mktemp -d "$work/libs.staging.XXXXXX")"
trap 'rm -rf "$staging"' EXIT
started_ns=$(date +%s%N)
# shellcheck disable=SC2086 # MAVEN_ARGS is a list of arguments on purpose.
mvn -B -q ${MAVEN_ARGS:-} -f "$here/pom.xml" dependency:copy-dependencies -DoutputDirectory="$staging" >"$work/fetch.log" 2>&1 || {
  echo "fetch.sh: Maven could not fetch the broker's jars; its output is in $work/fetch.log:" >&2
  tail -n 30 "$work/fetch.log" >&2
  exit 1
}
compgen -G "$staging/kafka_2.13-*.jar" >/dev/null || { echo "fetch.sh: Maven finished but kafka_2.13 is missing from $staging." >&2; exit 1; }
echo "$want" >"$staging/.pom.sha256"
# Swap in the complete set at once: a half-finished fetch never leaves a broken libs/ behind.
rm -rf "$libs.old"
[[ -d "$libs" ]] && mv "$libs" "$libs.old"
mv "$staging" "$libs"
rm -rf "$libs.old"
trap - EXIT
echo "fetch.sh: $(find "$libs" -name '*.jar' | wc -l) jars in $libs ($(( ($(date +%s%N) - started_ns) / 1000000 )) ms)."
