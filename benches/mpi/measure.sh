#!/bin/bash
# The MPI measurements of BENCHMARKS.md ("More than one process (MPI,
# issue 18)"): `lintrain train` on one seeded probe-like dataset as one
# process and as `mpirun -n 2 lintrain train --distributed`, on this
# machine (the ranks talk through Open MPI's shared memory, or loopback
# TCP where a case says so).
#
#   benches/mpi/measure.sh LINTRAIN [OUT]
#
# LINTRAIN is a binary built with `--features mpi`; OUT (default
# benches/results/2026-12-02-mpi.json) gets one JSON object per line: a
# "host" line, a "run" line per lintrain run (its case, its round, its
# wall time, the JSON history's per-iteration or per-epoch seconds, its own
# CPU time, other processes' CPU time and the hypervisor's steal over the
# run), an "ordered_sum" line per run of the MPI-only timing, and
# "summary" and "ordered_sum_summary" lines (medians with min and max).
# The summaries are also printed as a table.
#
# Other processes: before each run the script waits (at most WAIT seconds,
# default 600) until the CPUs are idle over a second. A run during which
# other processes used more than 0.1 CPU-seconds and 10% of its wall time
# is kept with "disturbed": true and run again, at most RETRIES more times
# (default 2); the summary takes the last run of each case and round.
#
# The cases, each run ROUNDS times (default 7), one round after another so
# that drift in the host's speed hits every case alike:
#   lbfgs-*   --solver lbfgs --max-iter 30 --tol 0 (30 iterations): the
#             median seconds per iteration of the history; the history's
#             seconds over the objective evaluations (counted once, in a
#             warm-up run without --json, whose log reports them); the wall
#             time of the whole process;
#   sgdB-*    Adam, --batch-size B per rank (256 and 4096; for K = 1 also
#             512, the global batch of K = 2 at 256), 3 epochs: samples/s of
#             the median epoch (every rank's rows / the epoch's seconds, as
#             the engine's epoch line reports it);
# and for each: k1-t2 one process, 2 threads (the default on 2 vCPUs);
# k1-t1 one process, RAYON_NUM_THREADS=1; k1-dist `--distributed` without
# mpirun (MPI's singleton: one rank, its reductions are no-ops but the SGD
# path still reads and writes the gradient each step); k2 `mpirun -n 2`
# (each rank takes 1 core); k2-tcp the same over loopback TCP
# (`--mca btl self,tcp`, no shared memory).
# Then benches/mpi/ordered_sum.c (built with mpicc) times the reduction
# alone on 2 ranks, at this P and at the probe shapes' P, three times each.
#
# Data: DIR (default /tmp/lintrain-mpi-bench) gets x.npy (N x D float32,
# x = 0.15 * mu_y + N(0, 1), mu_c ~ N(0, 1), seeded) and y.npy (int64
# labels, C classes), written once by PYTHON (default
# /work/pyvenv/bin/python, else python3; needs numpy). N, D and C default to
# 200000, 256 and 20. Every run is --backend cpu --no-standardize. About
# 5 minutes on the 2-vCPU development host when nothing else runs.
set -euo pipefail
lintrain=$(realpath "$1")
out=${2:-benches/results/2026-12-02-mpi.json}
here=$(cd "$(dirname "$0")" && pwd)
dir=${DIR:-/tmp/lintrain-mpi-bench}
rounds=${ROUNDS:-7}
n=${N:-200000}
d=${D:-256}
c=${C:-20}
python=${PYTHON:-/work/pyvenv/bin/python}
[ -x "$python" ] || python=python3
mpirun=(mpirun --allow-run-as-root)

mkdir -p "$dir"
if [ ! -f "$dir/x.npy" ] || [ "$(cat "$dir/shape" 2>/dev/null)" != "$n $d $c" ]; then
  "$python" - "$dir" "$n" "$d" "$c" <<'EOF'
import sys
import numpy as np
out, n, d, c = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = np.random.default_rng(18)
mu = rng.standard_normal((c, d), dtype=np.float32)
y = rng.integers(0, c, size=n)
x = rng.standard_normal((n, d), dtype=np.float32)
x += np.float32(0.15) * mu[y]
np.save(f"{out}/x.npy", x)
np.save(f"{out}/y.npy", y.astype(np.int64))
EOF
  echo "$n $d $c" > "$dir/shape"
fi

: > "$out"
load() { cut -d' ' -f1-3 /proc/loadavg; }
# The share of the CPUs busy over one second (from /proc/stat), in percent.
busy() {
  local a b
  a=($(head -1 /proc/stat)); sleep 1; b=($(head -1 /proc/stat))
  local total=0 idle=$(( b[4] + b[5] - a[4] - a[5] ))
  for i in 1 2 3 4 5 6 7 8; do total=$(( total + b[i] - a[i] )); done
  echo $(( 100 * (total - idle) / (total > 0 ? total : 1) ))
}
# Waits, at most WAIT seconds (default 600), until the CPUs are at most
# 10% busy over a second; prints how busy the last second was.
wait_quiet() {
  local waited=0 now
  now=$(busy)
  while [ "$now" -gt 10 ] && [ "$waited" -lt "${WAIT:-600}" ]; do
    sleep 4; waited=$((waited + 5)); now=$(busy)
  done
  echo "$now"
}
cpu=$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)
printf '{"kind": "host", "cpu": "%s", "cpus": %d, "mem_gib": %s, "mpirun": "%s", "lintrain": "%s", "n": %d, "d": %d, "c": %d, "load_at_start": "%s", "date": "%s"}\n' \
  "$cpu" "$(nproc)" "$(awk '/MemTotal/{printf "%.1f", $2/1048576}' /proc/meminfo)" \
  "$(mpirun --version | head -1)" "$("$lintrain" --version)" "$n" "$d" "$c" "$(load)" \
  "$(date -u +%FT%TZ)" >> "$out"
echo "load average at start: $(load)"

common=(train --data "$dir/x.npy" --labels "$dir/y.npy" --backend cpu --no-standardize)
lbfgs=(--solver lbfgs --max-iter 30 --tol 0)
sgd=(--optimizer adam --lr 0.001 --epochs 3)

# one_run CASE ROUND PREFIX... -- FLAGS...: runs lintrain under PREFIX
# (env, mpirun) with --json FLAGS, appends a "run" line; again while other
# processes disturbed it, at most RETRIES more times.
one_run() {
  local case=$1 round=$2 attempt
  shift 2
  for attempt in $(seq 0 "${RETRIES:-2}"); do
    wait_quiet > /dev/null
    if run_once "$case" "$round" "$attempt" "$@"; then
      return
    fi
  done
}

# run_once CASE ROUND ATTEMPT PREFIX... -- FLAGS...: one run; fails when
# other processes disturbed it.
run_once() {
  local case=$1 round=$2 attempt=$3
  shift 3
  local prefix=()
  while [ "$1" != -- ]; do prefix+=("$1"); shift; done
  shift
  local log json times start end before after verdict=0
  log=$(mktemp)
  json=$(mktemp)
  times=$(mktemp)
  before=$(head -1 /proc/stat)
  start=$(date +%s.%N)
  /usr/bin/time -f "%U %S" -o "$times" \
    "${prefix[@]}" "$lintrain" "${common[@]}" --json "$@" > "$json" 2> "$log"
  end=$(date +%s.%N)
  after=$(head -1 /proc/stat)
  "$python" - "$case" "$round" "$attempt" "$start" "$end" "$json" "$log" "$times" \
    "$before" "$after" >> "$out" <<'EOF' || verdict=$?
import json, re, sys
case, round_, attempt, start, end, path, log, times, before, after = sys.argv[1:]
# The CPU time of every process in the run (lintrain, or mpirun and its
# ranks), and from /proc/stat the machine's busy time and the hypervisor's
# steal over the run (USER_HZ = 100): the busy time beyond the run's own is
# other processes' (and the kernel's on their behalf).
own = sum(float(v) for v in open(times).read().split()[-2:])
b, a = ([int(v) for v in line.split()[1:]] for line in (before, after))
delta = [y - x for x, y in zip(b, a)]
busy = (delta[0] + delta[1] + delta[2] + delta[5] + delta[6] + delta[7]) / 100
report = json.load(open(path))
history = report["history"]
text = open(log).read()
line = next((l.strip() for l in text.splitlines() if l.startswith("distributed:")), None)
wall = float(end) - float(start)
others = busy - own
disturbed = others > max(0.1, 0.1 * wall)
print(json.dumps({
    "kind": "run", "case": case, "round": int(round_), "attempt": int(attempt),
    "disturbed": disturbed,
    "wall_s": round(wall, 3),
    "train_s": report["seconds"],
    "history_s": [r["seconds"] for r in history],
    "logged_samples_per_s": [float(m) for m in re.findall(r"([0-9.]+) samples/s", text)],
    "final_loss": history[-1]["train_loss"],
    "final_acc": report["final"]["train_acc"],
    "cpu_s": round(own, 2),
    "others_cpu_s": round(others, 2),
    "steal_s": delta[7] / 100,
    "distributed_line": line,
}))
sys.exit(3 if disturbed else 0)
EOF
  rm -f "$log" "$json" "$times"
  if [ "$verdict" = 3 ]; then
    echo "  $case: disturbed by other processes" >&2
    return 1
  fi
  [ "$verdict" = 0 ]
}

env1=(env RAYON_NUM_THREADS=1)
k2=("${mpirun[@]}" -n 2)
k2tcp=("${mpirun[@]}" --mca btl self,tcp -n 2)

# Warm-up (the page cache), and the L-BFGS runs' objective evaluations,
# which only the text log reports: one run without --json for K = 1 and 2.
for k in 1 2; do
  echo "warm-up, K = $k"
  log=$(mktemp)
  if [ "$k" = 1 ]; then
    "$lintrain" "${common[@]}" "${lbfgs[@]}" > "$log" 2>&1
  else
    "${k2[@]}" "$lintrain" "${common[@]}" "${lbfgs[@]}" --distributed > "$log" 2>&1
  fi
  evaluations=$(grep -o '([0-9]* objective evaluations)' "$log" | tr -dc 0-9)
  echo "{\"kind\": \"lbfgs_evaluations\", \"ranks\": $k, \"evaluations\": $evaluations}" >> "$out"
  rm -f "$log"
done

for round in $(seq "$rounds"); do
  echo "round $round of $rounds (load $(load))"
  echo "{\"kind\": \"round\", \"round\": $round, \"load\": \"$(load)\", \"date\": \"$(date -u +%FT%TZ)\"}" >> "$out"
  one_run lbfgs-k1-t2 "$round" env -- "${lbfgs[@]}"
  one_run lbfgs-k1-t1 "$round" "${env1[@]}" -- "${lbfgs[@]}"
  one_run lbfgs-k1-dist "$round" env -- "${lbfgs[@]}" --distributed
  one_run lbfgs-k2 "$round" "${k2[@]}" -- "${lbfgs[@]}" --distributed
  one_run lbfgs-k2-tcp "$round" "${k2tcp[@]}" -- "${lbfgs[@]}" --distributed
  one_run sgd512-k1-t2 "$round" env -- "${sgd[@]}" --batch-size 512
  for b in 256 4096; do
    one_run "sgd$b-k1-t2" "$round" env -- "${sgd[@]}" --batch-size "$b"
    one_run "sgd$b-k1-t1" "$round" "${env1[@]}" -- "${sgd[@]}" --batch-size "$b"
    one_run "sgd$b-k1-dist" "$round" env -- "${sgd[@]}" --batch-size "$b" --distributed
    one_run "sgd$b-k2" "$round" "${k2[@]}" -- "${sgd[@]}" --batch-size "$b" --distributed
  done
  one_run sgd256-k2-tcp "$round" "${k2tcp[@]}" -- "${sgd[@]}" --batch-size 256 --distributed
done

# The reduction alone: this P ((D+1)C + 2, an L-BFGS evaluation's) and the
# probe shapes' (D+1)C, on 2 ranks through shared memory and TCP.
bin=$(mktemp)
echo "the reduction alone"
mpicc -O2 -o "$bin" "$here/ordered_sum.c"
for btl in sm tcp; do
  mca=()
  [ "$btl" = tcp ] && mca=(--mca btl self,tcp)
  for p in $(( (d + 1) * c + 2 )) $((769 * 10)) $((769 * 1000)) $((4097 * 1000)); do
    inner=$(( p > 100000 ? 5 : 100 ))
    for attempt in 1 2 3; do
      wait_quiet > /dev/null
      result=$("${mpirun[@]}" "${mca[@]}" -n 2 "$bin" "$p" 11 "$inner")
      echo "{\"kind\": \"ordered_sum\", \"transport\": \"$btl\", ${result#\{}" >> "$out"
    done
  done
done
rm -f "$bin"

echo "load average at end: $(load)"
echo "{\"kind\": \"end\", \"load\": \"$(load)\", \"date\": \"$(date -u +%FT%TZ)\"}" >> "$out"
"$python" - "$out" "$n" <<'EOF'
import json, statistics, sys
path, n = sys.argv[1], int(sys.argv[2])
lines = [json.loads(l) for l in open(path)]
# The last attempt of each case and round (the earlier ones were disturbed).
last = {}
for l in lines:
    if l["kind"] == "run":
        last[(l["case"], l["round"])] = l
runs = list(last.values())
evaluations = {l["ranks"]: l["evaluations"] for l in lines if l["kind"] == "lbfgs_evaluations"}
def spread(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}
summaries = []
for case in dict.fromkeys(r["case"] for r in runs):
    mine = [r for r in runs if r["case"] == case]
    s = {"kind": "summary", "case": case, "rounds": len(mine),
         "disturbed": sum(r["disturbed"] for r in mine),
         "wall_s": spread([r["wall_s"] for r in mine]),
         "train_s": spread([r["train_s"] for r in mine])}
    if case.startswith("lbfgs"):
        # Each run's median iteration (most evaluate once; the first, and
        # those whose line search backtracks, twice).
        s["ms_per_iteration"] = spread(
            [1e3 * statistics.median(r["history_s"]) for r in mine])
        s["iterations"] = len(mine[0]["history_s"])
        s["evaluations"] = evaluations[2 if "-k2" in case else 1]
        # The iterations' seconds over the objective evaluations in them.
        s["ms_per_evaluation"] = spread(
            [1e3 * sum(r["history_s"]) / s["evaluations"] for r in mine])
    else:
        s["samples_per_s"] = spread(
            [n / statistics.median(r["history_s"]) for r in mine])
    s["final_loss"] = mine[0]["final_loss"]
    s["distributed_line"] = mine[0]["distributed_line"]
    summaries.append(s)
sums = [l for l in lines if l["kind"] == "ordered_sum"]
for key in dict.fromkeys((l["transport"], l["values"]) for l in sums):
    mine = [l for l in sums if (l["transport"], l["values"]) == key]
    summaries.append({"kind": "ordered_sum_summary", "transport": key[0], "values": key[1],
                      "bytes_per_rank": mine[0]["bytes_per_rank"],
                      "us": spread([l["us_median"] for l in mine])})
with open(path, "a") as f:
    for s in summaries:
        f.write(json.dumps(s) + "\n")
fmt = lambda v, k=1.0, p=1: f"{v['median']*k:.{p}f} ({v['min']*k:.{p}f}-{v['max']*k:.{p}f})"
print(f"{'case':16} {'ms/iteration or samples/s':28} {'ms/evaluation':22} {'train s':20} {'wall s':20}")
for s in summaries:
    if s["kind"] != "summary":
        continue
    if "ms_per_iteration" in s:
        rate, per_eval = fmt(s["ms_per_iteration"]), fmt(s["ms_per_evaluation"])
    else:
        rate, per_eval = fmt(s["samples_per_s"], 1e-3, 0) + " k", ""
    print(f"{s['case']:16} {rate:28} {per_eval:22} {fmt(s['train_s'], p=2):20} {fmt(s['wall_s'], p=2):20}")
print("kept runs disturbed by other processes:",
      {s["case"]: s["disturbed"] for s in summaries if s.get("disturbed")} or "none")
for s in summaries:
    if s["kind"] == "ordered_sum_summary":
        print(f"ordered sum {s['transport']:3} P={s['values']:8}: {fmt(s['us'])} us "
              f"(medians of 11 blocks; median, min, max of 3 runs)")
EOF
