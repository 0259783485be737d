#!/bin/bash
# The streaming goals of BENCHMARKS.md ("Data larger than memory"): one
# epoch of `lintrain train` on DIR/x.npy (labels DIR/y.npy, written by
# make_embeddings.py) streamed under a memory budget and held in memory,
# each run's samples/s (its epoch line) and its peak RssAnon and VmHWM,
# sampled every 20 ms from /proc.
#
#   benches/streaming/measure.sh DIR [BUDGET [RUNS [BACKEND]]]
#
# BUDGET defaults to 512MiB, RUNS to 3, BACKEND to cpu. Set RESIDENT=0 to
# skip the resident runs (a file larger than memory), LINTRAIN to the binary
# (default: target/release/lintrain) and EXTRA to more train flags.
set -euo pipefail
dir=$1
budget=${2:-512MiB}
runs=${3:-3}
backend=${4:-cpu}
lintrain=${LINTRAIN:-target/release/lintrain}
flags=(train --data "$dir/x.npy" --labels "$dir/y.npy" --epochs 1 --batch-size 256
       --lr 0.05 --backend "$backend" ${EXTRA:-})

# Runs lintrain with the given budget; prints "samples/s RssAnon-MiB VmHWM-MiB seconds".
one_run() {
  local log
  log=$(mktemp)
  "$lintrain" "${flags[@]}" --memory-budget "$1" 2>"$log" >/dev/null &
  local pid=$! peak=0 hwm=0 a h
  while kill -0 "$pid" 2>/dev/null; do
    a=$(awk '/^RssAnon:/{print $2}' "/proc/$pid/status" 2>/dev/null || true)
    h=$(awk '/^VmHWM:/{print $2}' "/proc/$pid/status" 2>/dev/null || true)
    [ -n "$a" ] && [ "$a" -gt "$peak" ] && peak=$a
    [ -n "$h" ] && [ "$h" -gt "$hwm" ] && hwm=$h
    sleep 0.02
  done
  wait "$pid"
  local rate seconds
  rate=$(grep -o '[0-9]* samples/s' "$log" | tail -1 | cut -d' ' -f1)
  seconds=$(grep -o 'done in [0-9.]* s' "$log" | cut -d' ' -f3)
  head -1 "$log" >&2
  rm -f "$log"
  echo "$rate $((peak / 1024)) $((hwm / 1024)) $seconds"
}

echo "file: $(du -h "$dir/x.npy" | cut -f1) $dir/x.npy; host: $(nproc) CPUs, $(awk '/MemTotal/{printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
echo "mode budget run samples/s peak-RssAnon-MiB peak-VmHWM-MiB seconds"
for run in $(seq "$runs"); do
  echo "streamed $budget $run $(one_run "$budget")"
  if [ "${RESIDENT:-1}" = 1 ]; then
    echo "resident 64GiB $run $(one_run 64GiB)"
  fi
done
