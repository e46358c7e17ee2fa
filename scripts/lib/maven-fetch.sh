# Fetching a Java program's jars from Maven Central (sourced by scripts/kafka/fetch.sh and scripts/s3proxy/fetch.sh).
#
#   maven_fetch NAME POM WORK JAR_GLOB
#
# copies the dependencies of POM into WORK/libs through the ~/.m2 cache. Idempotent: when WORK/libs already holds
# the jars of this very POM (its sha256 is stamped there), returns at once without starting Maven. A fetch goes to a
# staging folder swapped in whole at the end, so a half-finished one never leaves a broken libs/ behind.
# MAVEN_ARGS adds arguments to mvn (e.g. "-o" offline, "-Dmaven.repo.local=/cache/m2").
maven_fetch() {
  local name="$1" pom="$2" work="$3" jar_glob="$4"
  local libs="$work/libs" stamp="$work/libs/.pom.sha256" want staging started_ns
  command -v mvn >/dev/null || { echo "fetch.sh: mvn not found: install Maven (apt-get install maven) and a JDK 17+." >&2; return 1; }
  want="$(sha256sum "$pom" | cut -d' ' -f1)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    echo "fetch.sh: $name jars already in $libs ($(find "$libs" -name '*.jar' | wc -l) jars)."
    return 0
  fi
  mkdir -p "$work"
  staging="$(mktemp -d "$work/libs.staging.XXXXXX")"
  started_ns=$(date +%s%N)
  # shellcheck disable=SC2086 # MAVEN_ARGS is a list of arguments on purpose.
  if ! mvn -B -q ${MAVEN_ARGS:-} -f "$pom" dependency:copy-dependencies -DoutputDirectory="$staging" >"$work/fetch.log" 2>&1; then
    echo "fetch.sh: Maven could not fetch $name; its output is in $work/fetch.log:" >&2
    tail -n 30 "$work/fetch.log" >&2
    rm -rf "$staging"
    return 1
  fi
  if ! compgen -G "$staging/$jar_glob" >/dev/null; then
    echo "fetch.sh: Maven finished but $jar_glob is missing from $staging." >&2
    rm -rf "$staging"
    return 1
  fi
  echo "$want" >"$staging/.pom.sha256"
  rm -rf "$libs.old"
  if [[ -d "$libs" ]]; then mv "$libs" "$libs.old"; fi
  mv "$staging" "$libs"
  rm -rf "$libs.old"
  echo "fetch.sh: $(find "$libs" -name '*.jar' | wc -l) $name jars in $libs ($(( ($(date +%s%N) - started_ns) / 1000000 )) ms)."
}
