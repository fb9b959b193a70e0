#!/usr/bin/env bash
# Executes and checks the notebooks headless (notebooks/README.md says what is checked).
#
#   notebooks/run.sh            everything CI runs: set up, execute and check every Jupyter notebook,
#                               compile 04-cluster, check the Zeppelin note, prove a broken cell fails
#   notebooks/run.sh setup      only install the tools and write the Java kernel spec (then start
#                               Jupyter with the JUPYTER_PATH it prints)
#   notebooks/run.sh execute NB.ipynb ...   execute and check the given notebooks only
#
# Needs the packaged build (spark-trainer/target/classes and target/jars): `mvn -B verify` or
# `mvn -B -DskipTests package` first. Outputs (executed notebooks, HTML, logs) go to notebooks/target/.
set -euo pipefail
NB="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$NB")"
OUT="$NB/target"
# Debian's interpreter: the one its jupyter-nbconvert and python3-nbclient packages install into.
PY=/usr/bin/python3
KERNEL_NAME=omnispark-java
KERNEL_DIR="$OUT/jupyter/kernels/$KERNEL_NAME"
# The kernel's channel thread sometimes never answers at start-up (about 3 starts in 20); only that
# failure is retried, never a failing cell.
KERNEL_START_TRIES=3
# Jupyter notebooks that CI executes; 04-cluster needs a spark:// master, so CI only compiles its cells.
EXECUTED=(01-quickstart.ipynb)
COMPILED=(04-cluster.ipynb)
ZEPPELIN=(01-quickstart.zpln)

log() { echo "notebooks: $*" >&2; }
die() { log "error: $*"; exit 1; }

install_tools() {
  if ! "$PY" -c 'import nbconvert, nbclient, jupyter_client' 2>/dev/null; then
    [ "$(id -u)" = 0 ] || die "need Debian's jupyter-nbconvert jupyter-client python3-nbclient (run as root to install them)"
    log "installing jupyter-nbconvert jupyter-client python3-nbclient"
    apt-get update -qq && apt-get install -y -qq jupyter-nbconvert jupyter-client python3-nbclient >/dev/null
  fi
  [ -d "$ROOT/spark-trainer/target/jars" ] && [ -d "$ROOT/spark-trainer/target/classes" ] \
    || die "no build at $ROOT/spark-trainer/target; run 'mvn -B -DskipTests package' in $ROOT first"
  # The kernel jar, XChart, Zeppelin's note model and the Scala REPL, from Maven Central.
  mvn -B -q -f "$NB/tools/jupyter/pom.xml" package
  mvn -B -q -f "$NB/tools/zeppelin/pom.xml" package
}

# The JVM flags Spark 3.5 needs on Java 17, taken from bin/omnispark so there is one list.
spark_opens() {
  local opens
  opens="$(sed -n 's/^OPENS="\(.*\)"$/\1/p' "$ROOT/bin/omnispark")"
  [ -n "$opens" ] || die "could not read the OPENS flags from bin/omnispark"
  echo "$opens"
}

write_kernel_spec() {
  mkdir -p "$KERNEL_DIR" "$OUT/logs"
  cp "$NB/kernel/logging.properties" "$NB/kernel/log4j2.properties" "$KERNEL_DIR/"
  # shellcheck disable=SC2046
  KERNEL_DIR="$KERNEL_DIR" KERNEL_JAR="$OUT/kernel/rapaio-jupyter-kernel.jar" ROOT="$ROOT" OUT="$OUT" \
    OPENS="$(spark_opens)" "$PY" - <<'EOF'
import json, os
k, root, out = os.environ["KERNEL_DIR"], os.environ["ROOT"], os.environ["OUT"]
argv = ["java", "-Xmx4g"] + os.environ["OPENS"].split() + [
    "-Dai.djl.offline=true",
    "-Djava.awt.headless=true",
    "-Domnispark.home=" + root,
    "-Dlog4j2.configurationFile=" + os.path.join(k, "log4j2.properties"),
    "-Domnispark.notebook.log=" + os.path.join(out, "logs", "kernel.log"),
    # The kernel directory first: its logging.properties replaces the jar's.
    "-cp", k + ":" + os.environ["KERNEL_JAR"],
    "org.rapaio.jupyter.kernel.MainApp", "{connection_file}"]
classpath = ";".join([
    os.path.join(root, "spark-trainer/target/classes"),
    os.path.join(root, "spark-trainer/target/jars/*.jar"),
    os.path.join(out, "lib/*.jar")])
spec = {"argv": argv, "display_name": "OmniSpark (Java)", "language": "java",
        "interrupt_mode": "message",
        "env": {"RJK_CLASSPATH": classpath, "RJK_TIMEOUT_MILLIS": "-1"}}
with open(os.path.join(k, "kernel.json"), "w") as f:
    json.dump(spec, f, indent=1)
EOF
}

# execute NOTEBOOK OUT_DIR: runs every cell with the OmniSpark kernel into OUT_DIR/NAME.ipynb, retrying
# only a kernel that did not answer at start-up; then checks the outputs and exports HTML.
execute() {
  local nb="$1" dest="$2" name try rc err
  name="$(basename "$nb" .ipynb)"
  mkdir -p "$dest" "$OUT/logs"
  err="$OUT/logs/$name.nbconvert.log"
  for try in $(seq 1 "$KERNEL_START_TRIES"); do
    rc=0
    JUPYTER_PATH="$OUT/jupyter" timeout 900 "$PY" -m nbconvert --to notebook --execute \
      --ExecutePreprocessor.kernel_name="$KERNEL_NAME" --ExecutePreprocessor.timeout=600 \
      --output-dir "$dest" --output "$name" "$nb" >"$err" 2>&1 || rc=$?
    if [ "$rc" = 0 ]; then
      break
    fi
    if grep -q "Kernel didn't respond in [0-9]* seconds" "$err" && ! grep -q "CellExecutionError" "$err"; then
      log "$name: the kernel did not answer at start-up (try $try of $KERNEL_START_TRIES)"
      continue
    fi
    tail -n 60 "$err" >&2
    log "$name: a cell failed (full log: $err)"
    return 1
  done
  if [ "$rc" != 0 ]; then
    tail -n 20 "$err" >&2
    log "$name: the kernel did not start in $KERNEL_START_TRIES tries"
    return 1
  fi
  "$PY" "$NB/tools/check_outputs.py" "$dest/$name.ipynb" || return 1
  "$PY" -m nbconvert --to html --output-dir "$OUT/html" "$dest/$name.ipynb" >>"$err" 2>&1 \
    || { tail -n 20 "$err" >&2; log "$name: HTML export failed"; return 1; }
}

run_executed() {
  local nb start
  for nb in "${EXECUTED[@]}"; do
    start=$SECONDS
    execute "$NB/$nb" "$OUT/executed"
    log "$nb: executed and checked in $((SECONDS - start)) s; HTML in $OUT/html"
  done
}

# A deliberately broken copy of the quickstart must fail the runner: a compile error in one cell.
check_broken_cell_fails() {
  local copy="$OUT/broken/01-quickstart-broken.ipynb" start=$SECONDS
  mkdir -p "$OUT/broken"
  "$PY" "$NB/tools/break_cell.py" "$NB/01-quickstart.ipynb" "$copy"
  if "$0" execute "$copy" >"$OUT/logs/broken-run.log" 2>&1; then
    die "the runner accepted a notebook with a broken cell ($copy); see $OUT/logs/broken-run.log"
  fi
  grep -q "deliberately_broken" "$OUT/logs/broken-run.log" \
    || die "the broken copy failed, but not on its broken cell; see $OUT/logs/broken-run.log"
  log "a broken cell fails the runner, as it must ($((SECONDS - start)) s)"
}

# 04-cluster cannot run without a cluster; its code cells are compiled against the kernel's classpath.
run_compiled() {
  local nb start
  for nb in "${COMPILED[@]}"; do
    start=$SECONDS
    java -cp "$ROOT/spark-trainer/target/classes:$ROOT/spark-trainer/target/jars/*" \
      "$NB/tools/CompileCells.java" "$NB/$nb" "$OUT/compiled/$(basename "$nb" .ipynb)"
    log "$nb: code cells compiled in $((SECONDS - start)) s"
  done
}

run_zeppelin() {
  local note name start
  for note in "${ZEPPELIN[@]}"; do
    start=$SECONDS
    name="$(basename "$note" .zpln)"
    mkdir -p "$OUT/zeppelin"
    # Zeppelin's own parser reads the note and writes the paragraphs as the interpreter would get them.
    java -cp "$OUT/zeppelin-lib/*" "$NB/tools/ZeppelinNote.java" "$NB/$note" "$OUT/zeppelin/$name.paragraphs.json"
    # Then the Scala paragraphs run in one Scala REPL with `spark` bound, as Zeppelin's %spark does.
    java -Xmx4g $(spark_opens) -Dai.djl.offline=true -Domnispark.home="$ROOT" \
      -Dlog4j2.configurationFile="$KERNEL_DIR/log4j2.properties" \
      -Domnispark.notebook.log="$OUT/logs/zeppelin-$name.log" \
      -cp "$ROOT/spark-trainer/target/classes:$ROOT/spark-trainer/target/jars/*:$OUT/scala/*" \
      "$NB/tools/ZeppelinSpark.java" "$OUT/zeppelin/$name.paragraphs.json" "$OUT/zeppelin/$name"
    log "$note: parsed by Zeppelin and its paragraphs run in $((SECONDS - start)) s"
  done
}

cmd="${1:-all}"
case "$cmd" in
  setup)
    install_tools
    write_kernel_spec
    log "kernel '$KERNEL_NAME' written; start Jupyter with: JUPYTER_PATH=$OUT/jupyter jupyter notebook $NB"
    ;;
  execute)
    shift
    [ $# -gt 0 ] || die "execute takes one or more .ipynb files"
    [ -f "$KERNEL_DIR/kernel.json" ] || { install_tools; write_kernel_spec; }
    for nb in "$@"; do
      execute "$nb" "$OUT/executed-other"
    done
    ;;
  all)
    total=$SECONDS
    install_tools
    write_kernel_spec
    run_executed
    run_compiled
    run_zeppelin
    check_broken_cell_fails
    log "all notebook checks passed in $((SECONDS - total)) s"
    ;;
  *)
    die "unknown command '$cmd' (setup, execute NB.ipynb ..., or nothing for everything)"
    ;;
esac
