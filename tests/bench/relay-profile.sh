#!/bin/bash
# Where the CPU of a relay-network run goes (issue 18, BENCHMARKS.md §3–5 "Where the CPU goes").
# Runs what loadgen-once.mjs runs — a fresh `sotto-relay dev --ephemeral` (5 relays) and its
# `loadgen` (--duration 6 --warmup 1 --drain 3 --pairs 10) — and, from the loadgen's "set up"
# line to its exit, snapshots each thread's CPU time (/proc/PID/task/*/stat) and its time spent
# runnable but waiting for a CPU (schedstat), and with PERF=1 samples both processes with
# `perf record -F 499 -g` for 7 s. Then `relay-profile.py OUT...` splits the CPU per delivered
# message. Run it under the bench lock:
#
#   flock /tmp/bench.lock tests/bench/relay-profile.sh target/release/sotto-relay 300 1 /tmp/p300
set -u
BIN=$1 RATE=$2 SEED=$3 OUT=$4
mkdir -p "$OUT"
HTTP=18270
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
"$BIN" dev --ephemeral --relays 5 --http 127.0.0.1:$HTTP --ws-base-port 19371 --web-root "$ROOT" \
  >"$OUT/dev.log" 2>&1 &
DEV=$!
for _ in $(seq 100); do grep -q "Sotto is running" "$OUT/dev.log" && break; sleep 0.1; done
"$BIN" loadgen --directory http://127.0.0.1:$HTTP/directory.json --seed "$SEED" --rate "$RATE" \
  --duration 6 --warmup 1 --drain 3 --pairs 10 >"$OUT/loadgen.log" 2>&1 &
LG=$!
for _ in $(seq 1200); do grep -q "^set up" "$OUT/loadgen.log" && break; sleep 0.05; done
# pid, thread name, utime, stime (ticks), run time, run-queue wait (ns)
snap() {
  for p in $DEV $LG; do for t in /proc/$p/task/*; do
    echo "$p $(tr ' ' _ <"$t/comm") $(cut -d' ' -f14,15 "$t/stat") $(cut -d' ' -f1,2 "$t/schedstat")"
  done; done 2>/dev/null
}
snap >"$OUT/cpu0"; date +%s.%N >"$OUT/t0"; head -1 /proc/stat >"$OUT/sys0"
echo "$DEV $LG" >"$OUT/pids"
if [ -n "${PERF:-}" ]; then
  perf record -F 499 -g -p "$DEV,$LG" -o "$OUT/perf.data" -- sleep 7 >"$OUT/perf.log" 2>&1 &
  PP=$!
fi
while kill -0 $LG 2>/dev/null; do
  snap >"$OUT/cpu1.tmp"
  # Keep the last snapshot that still saw the loadgen's threads.
  if grep -q "^$LG .* .* .* .* " "$OUT/cpu1.tmp"; then
    mv "$OUT/cpu1.tmp" "$OUT/cpu1"; date +%s.%N >"$OUT/t1"; head -1 /proc/stat >"$OUT/sys1"
  fi
  sleep 0.2
done
wait $LG
[ -n "${PERF:-}" ] && wait "$PP"
kill $DEV; wait $DEV
grep '^LOADGEN_JSON ' "$OUT/loadgen.log" | sed 's/^LOADGEN_JSON //' >"$OUT/result.json"
