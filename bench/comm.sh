#!/usr/bin/env bash
# Side-by-side collective benchmark: OmniSpark's TCP (loopback), Unix-socket and in-process
# transports against PyTorch gloo.
#
#   bench/comm.sh [--transport tcp,uds,inproc] [--world 2,4]
#                 [--op all_reduce,all_gather,reduce_scatter,all_to_all] [--sizes 64M]
#                 [--repeats 3] [--warmup 2] [--iters 5] [--tcp-congestion auto|system|<algorithm>]
#
# Needs `mvn -B -DskipTests package` first (it runs `bin/omnispark bench comm`) and Debian's
# python3-torch for bench/peers/gloo_comm.py. Each repeat runs one JVM that alternates the
# transports case by case, then the gloo peer over the same cases, so that machine load hits all
# of them alike. Raw JSON lines go to stderr; stdout gets a markdown table of the medians per case
# and each transport's speed-up over gloo: per repeat gloo's time / its time (equivalently the
# ratio of bus bandwidths), median over the repeats. --tcp-congestion goes to OmniSpark only (gloo
# keeps the system's; see docs/comm.md for comparing both under one algorithm).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TRANSPORT=tcp,uds,inproc; WORLD=2,4; OPS=all_reduce,all_gather,reduce_scatter,all_to_all; SIZES=64M
REPEATS=3; WARMUP=2; ITERS=5; CONGESTION=auto
while [ $# -gt 0 ]; do
  if [ $# -lt 2 ]; then echo "comm.sh: $1 needs a value" >&2; exit 2; fi
  case "$1" in
    --transport) TRANSPORT="$2";; --world) WORLD="$2";; --op|--ops) OPS="$2";; --sizes) SIZES="$2";;
    --repeats) REPEATS="$2";; --warmup) WARMUP="$2";; --iters) ITERS="$2";;
    --tcp-congestion) CONGESTION="$2";;
    *) echo "comm.sh: unknown flag $1" >&2; exit 2;;
  esac; shift 2
done
COMMON=(--world "$WORLD" --op "$OPS" --sizes "$SIZES" --warmup "$WARMUP" --iters "$ITERS")
OUT="$(mktemp)"; RUN="$(mktemp)"; ERR="$(mktemp)"; trap 'rm -f "$OUT" "$RUN" "$ERR"' EXIT
# Runs one side; on failure shows why (the logs are hidden otherwise) and stops.
side() {
  if ! "$@" >"$RUN" 2>"$ERR"; then
    echo "comm.sh: failed: $*" >&2; tail -n 5 "$ERR" >&2; exit 2
  fi
  grep '^{' "$RUN" | tee -a "$OUT" >&2
}
for i in $(seq "$REPEATS"); do
  side "$HERE/bin/omnispark" bench comm --transport "$TRANSPORT" --tcp-congestion "$CONGESTION" "${COMMON[@]}"
  side /usr/bin/python3 "$HERE/bench/peers/gloo_comm.py" "${COMMON[@]}"
done
/usr/bin/python3 - "$OUT" "$REPEATS" <<'PY'
import json, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    # in file order, so the i-th entry of every case comes from repeat i
    runs.setdefault((r["op"], r["world"], r["bytes"], r["transport"]), []).append(r)
print(f"medians of {sys.argv[2]} alternating runs; vs gloo = median over repeats of gloo's time / "
      "this transport's time in the same repeat")
print("| op | world | bytes | transport | time_ms | busbw_GBps | vs gloo |")
print("|---|---|---|---|---|---|---|")
for key in sorted(runs):
    op, world, nbytes, transport = key
    ms = statistics.median(r["time_ms"] for r in runs[key])
    bus = statistics.median(r["busbw_GBps"] for r in runs[key])
    gloo = runs.get((op, world, nbytes, "gloo"))
    ratio = "" if not gloo or transport == "gloo" else "%.2fx" % statistics.median(
        g["time_ms"] / r["time_ms"] for g, r in zip(gloo, runs[key]))
    print(f"| {op} | {world} | {nbytes} | {transport} | {ms:.1f} | {bus:.3f} | {ratio} |")
PY
