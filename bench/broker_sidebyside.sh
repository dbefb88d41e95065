#!/usr/bin/env bash
# Side by side, in one run: `zmqgo broker` and the router-dealer example's
# Python MessageBroker (txZMQ, bench/broker/seed_broker.py, under Debian's
# python3-txzmq), each its own process, each loaded by `zmqgo broker-load`
# in another process (the same clients: named identities, which the seed
# needs). Prints direct messages/s and the broker's CPU time per direct
# message (its threads' run time from /proc/PID/task/*/schedstat), and the
# ratios. The CPU is counted over the direct messages only (broker-load
# --broker-pid); "whole run" also counts the connections, registrations and
# broker-load's rate-limit probe (as many pings as one client's messages).
# Usage: bench/broker_sidebyside.sh [RUNS] [CLIENTS] [MESSAGES] [WINDOW]  (defaults: 3 20 2000 16;
# WINDOW: requests in flight per client, broker-load's --window)
set -euo pipefail
cd "$(dirname "$0")"
runs=${1:-3}; clients=${2:-20}; messages=${3:-2000}; window=${4:-16}
mkdir -p bin
(cd .. && go build -o bench/bin/zmqgo ./cmd/zmqgo)
python=/usr/bin/python3
$python -c 'import txzmq' || { echo "need Debian's python3-txzmq" >&2; exit 1; }
# Below the kernel's ephemeral range (32768-): no client connection holds it.
port=$((20000 + RANDOM % 12000))
# The process's CPU time in ns: the sum of its threads' run time
# (/proc/PID/task/*/schedstat), finer than utime+stime's 10 ms ticks.
cpu() { cat /proc/"$1"/task/*/schedstat | awk '{s += $1} END {printf "%.0f", s}'; }
run() { # impl → "msgs/s µs-per-msg µs-per-msg-whole-run"
  local ep="tcp://127.0.0.1:$port"; port=$((port+1))
  local log; log=$(mktemp)
  case $1 in
    zmqgo) bin/zmqgo broker --bind "$ep" --rate 0 --stats-interval 0 2>"$log" & ;;
    seed) $python broker/seed_broker.py "$ep" >"$log" 2>&1 & ;;
  esac
  local pid=$!
  until grep -q "bound\|listening" "$log"; do
    if ! kill -0 $pid 2>/dev/null; then cat "$log" >&2; rm -f "$log"; exit 1; fi # it could not bind, say
    sleep 0.05
  done
  local c0; c0=$(cpu $pid)
  local out
  if ! out=$(bin/zmqgo broker-load --connect "$ep" --named --clients "$clients" --messages "$messages" --window "$window" --broadcast 0 --broker-pid $pid); then
    kill $pid; wait $pid 2>/dev/null || true; cat "$log" >&2; rm -f "$log"; exit 1
  fi
  local c1; c1=$(cpu $pid)
  kill $pid; wait $pid 2>/dev/null || true; rm -f "$log"
  local rate; rate=$(echo "$out" | awk '/msgs\/s/ {print $(NF-1)}')
  local direct; direct=$(echo "$out" | awk '/per direct message/ {print $(NF-4)}')
  local n=$((clients * messages))
  echo "$rate $direct $(awk -v c=$((c1 - c0)) -v n="$n" 'BEGIN{printf "%.2f", c / n / 1000}')"
}
# How busy the CPUs are with other work, over one second while nothing of
# this script runs: the figures are only comparable between quiet runs
# (another process taking CPU time slows zmqgo's side, bounded by the CPUs,
# more than the seed's).
busy() {
  local a b; a=($(head -1 /proc/stat)); sleep 1; b=($(head -1 /proc/stat))
  awk -v u=$(( (b[1]+b[2]+b[3]+b[6]+b[7]+b[8]) - (a[1]+a[2]+a[3]+a[6]+a[7]+a[8]) )) \
      -v i=$(( (b[4]+b[5]) - (a[4]+a[5]) )) 'BEGIN{printf "%.0f", (u+i) ? 100*u/(u+i) : 0}'
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
busy0=$(busy)
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); CPUs busy with other work: ${busy0}%; $clients clients x $messages direct messages, window $window, $runs runs each, interleaved"
zr=(); zc=(); zw=(); sr=(); sc=(); sw=()
for ((i=0; i<runs; i++)); do
  read -r r c w < <(run zmqgo); zr+=("$r"); zc+=("$c"); zw+=("$w")
  read -r r c w < <(run seed); sr+=("$r"); sc+=("$c"); sw+=("$w")
done
mzr=$(printf '%s\n' "${zr[@]}" | median); mzc=$(printf '%s\n' "${zc[@]}" | median)
msr=$(printf '%s\n' "${sr[@]}" | median); msc=$(printf '%s\n' "${sc[@]}" | median)
mzw=$(printf '%s\n' "${zw[@]}" | median); msw=$(printf '%s\n' "${sw[@]}" | median)
printf "%-28s %16s %16s\n" "" "zmqgo broker" "seed (txZMQ)"
printf "%-28s %16s %16s   ratio %.1fx\n" "direct messages/s (median)" "$mzr" "$msr" "$(awk -v a="$mzr" -v b="$msr" 'BEGIN{print a/b}')"
printf "%-28s %16s %16s   ratio %.1fx\n" "broker CPU µs per message" "$mzc" "$msc" "$(awk -v a="$msc" -v b="$mzc" 'BEGIN{print a/b}')"
printf "%-28s %16s %16s   ratio %.1fx\n" "  the same, whole run" "$mzw" "$msw" "$(awk -v a="$msw" -v b="$mzw" 'BEGIN{print a/b}')"
echo "runs: zmqgo ${zr[*]} msgs/s, ${zc[*]} µs (whole run ${zw[*]}); seed ${sr[*]} msgs/s, ${sc[*]} µs (whole run ${sw[*]})"
busy1=$(busy)
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); CPUs busy with other work after the runs: ${busy1}%"
if (( busy0 > 10 || busy1 > 10 )); then
  echo "warning: other processes were using the CPUs; these figures are not those of a quiet machine" >&2
fi
