#!/usr/bin/env bash
# bench/sidebyside.sh under CURVE: PUSH/PULL throughput over tcp loopback,
# zmqgo and libzmq (each side its own process, CURVE server = the PULL that
# binds), interleaved A B A B so machine noise hits both.
# Usage: bench/sidebyside_curve.sh [RUNS] [SIZES...]   (defaults: 3 runs; 16 65536)
set -euo pipefail
cd "$(dirname "$0")"
runs=${1:-3}; shift || true
sizes=${*:-16 65536}
mkdir -p bin
go build -o bin/thr-zmqgo-curve ./thrcurve
gcc -O2 -o bin/thr-libzmq-curve c/thr_curve.c -lzmq
count_for() { case $1 in 16|256) echo 1000000;; 4096) echo 200000;; *) echo 20000;; esac; }
port=$((20000 + RANDOM % 20000))
run() { # impl size count → msgs/s
  local ep="tcp://127.0.0.1:$port"; port=$((port+1))
  local out; out=$(mktemp)
  "bin/thr-$1-curve" recv "$ep" "$3" "$2" >"$out" &
  local rp=$!
  until grep -q READY "$out"; do sleep 0.05; done
  "bin/thr-$1-curve" send "$ep" "$3" "$2"
  wait $rp
  awk '/RESULT/ {print $2}' "$out"; rm -f "$out"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf "%-8s %14s %14s %8s\n" size zmqgo libzmq ratio
for size in $sizes; do
  n=$(count_for "$size"); z=(); l=()
  for ((i=0; i<runs; i++)); do z+=("$(run zmqgo "$size" "$n")"); l+=("$(run libzmq "$size" "$n")"); done
  mz=$(printf '%s\n' "${z[@]}" | median); ml=$(printf '%s\n' "${l[@]}" | median)
  printf "%-8s %14s %14s %8.2f   (zmqgo runs: %s; libzmq runs: %s)\n" "$size" "$mz" "$ml" "$(awk -v a="$mz" -v b="$ml" 'BEGIN{print a/b}')" "${z[*]}" "${l[*]}"
done
