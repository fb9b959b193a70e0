#!/usr/bin/env bash
# Side-by-side collective benchmark: OmniSpark's TCP and in-process transports against PyTorch gloo.
#
#   bench/comm.sh [--world 2,4] [--ops all_reduce,all_gather,reduce_scatter,all_to_all]
#                 [--sizes 64M] [--repeats 3]
#
# Needs `mvn -B -o -q -pl parallel compile` (or package) first and Debian's python3-torch.
# The three runs alternate `repeats` times so that machine load hits all of them alike; the last
# lines are medians per case and the ratios against gloo. Raw JSON lines go to stderr.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORLD=2,4; OPS=all_reduce,all_gather,reduce_scatter,all_to_all; SIZES=64M; REPEATS=3
while [ $# -gt 0 ]; do
  case "$1" in
    --world) WORLD="$2";; --ops) OPS="$2";; --sizes) SIZES="$2";; --repeats) REPEATS="$2";;
    *) echo "unknown option $1" >&2; exit 2;;
  esac; shift 2
done
CPFILE="$HERE/parallel/target/comm-bench.classpath"
if [ ! -f "$CPFILE" ]; then
  (cd "$HERE/parallel" && mvn -B -o -q dependency:build-classpath -Dmdep.outputFile="$CPFILE" >/dev/null)
fi
JAVA=(java -Xmx8g -Dai.djl.offline=true -cp "$HERE/parallel/target/classes:$(cat "$CPFILE")"
      ai.omnispark.parallel.comm.CommBench --world "$WORLD" --ops "$OPS" --sizes "$SIZES")
OUT="$(mktemp)"
for i in $(seq "$REPEATS"); do
  "${JAVA[@]}" --transport tcp 2>/dev/null | grep -o '{.*}' | tee -a "$OUT" >&2
  "${JAVA[@]}" --transport inproc 2>/dev/null | grep -o '{.*}' | tee -a "$OUT" >&2
  /usr/bin/python3 "$HERE/bench/peers/gloo_comm.py" --world "$WORLD" --ops "$OPS" --sizes "$SIZES" \
    2>/dev/null | grep -o '{.*}' | tee -a "$OUT" >&2
done
/usr/bin/python3 - "$OUT" <<'PY'
import json, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    runs.setdefault((r["op"], r["world"], r["bytes"], r["transport"]), []).append(r)
print("| op | world | bytes | transport | median ms | bus GB/s | vs gloo |")
print("|---|---|---|---|---|---|---|")
for key in sorted(runs):
    op, world, nbytes, transport = key
    ms = statistics.median(r["ms"] for r in runs[key])
    bus = statistics.median(r["bus_gbps"] for r in runs[key])
    gloo = runs.get((op, world, nbytes, "gloo"))
    ratio = "" if not gloo or transport == "gloo" else "%.2fx" % (statistics.median(r["ms"] for r in gloo) / ms)
    print(f"| {op} | {world} | {nbytes} | {transport} | {ms:.1f} | {bus:.3f} | {ratio} |")
PY
rm -f "$OUT"
