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
# shellcheck source=../lib/maven-fetch.sh
source "$root/scripts/lib/maven-fetch.sh"
maven_fetch "Kafka broker" "$here/pom.xml" "${KENEY_KAFKA_WORK:-$root/.work/kafka}" 'kafka_2.13-*.jar'
