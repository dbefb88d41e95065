#!/usr/bin/env bash
# The broker's CPU per direct message for several builds of zmqgo, in one
# run: each REV's `zmqgo broker` (and this tree's, as "now") is loaded in
# turn by this tree's `zmqgo broker-load --broker-pid` in another process,
# a fresh broker per run, the builds alternating; prints the medians of
# direct messages/s and of the broker's CPU per direct message (its threads'
# run time from /proc, over the direct messages only and over the whole
# broker-load run). The README's "Cost" table comes from it.
# Usage: bench/broker_builds.sh [-r RUNS] [-m MESSAGES] [-c CLIENTS] [-w WINDOW] [-u] [REV...]
#   defaults: 9 runs, 20 clients x 15000 messages, window 16; -u: without
#   --named (-m 2000 -u: the command the CPU goal was set with). Linux only (/proc).
set -euo pipefail
cd "$(dirname "$0")"
runs=9; messages=15000; clients=20; window=16; named=--named
while getopts "r:m:c:w:u" o; do
  case $o in
    r) runs=$OPTARG ;; m) messages=$OPTARG ;; c) clients=$OPTARG ;; w) window=$OPTARG ;; u) named= ;;
    *) sed -n '9,11p' "$0" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
mkdir -p bin
root=$(cd .. && pwd)
(cd "$root" && go build -o bench/bin/zmqgo ./cmd/zmqgo)
names=(); bins=()
for rev in "$@"; do
  sha=$(git -C "$root" rev-parse --short --verify -q "$rev^{commit}") || { echo "broker_builds.sh: no such revision: $rev" >&2; exit 2; }
  if [[ ! -x bin/zmqgo-$sha ]]; then
    tmp=$(mktemp -d)
    trap 'git -C "$root" worktree remove --force "$tmp" 2>/dev/null || true' EXIT # on failure or interrupt too
    git -C "$root" worktree add -q --detach "$tmp" "$sha"
    (cd "$tmp" && go build -o "$root/bench/bin/zmqgo-$sha" ./cmd/zmqgo)
    git -C "$root" worktree remove --force "$tmp"
    trap - EXIT
  fi
  names+=("$rev ($sha)"); bins+=("bin/zmqgo-$sha")
done
names+=("now (this tree)"); bins+=(bin/zmqgo)
port=$((20000 + RANDOM % 12000)) # below the kernel's ephemeral range
cpu() { cat /proc/"$1"/task/*/schedstat | awk '{s += $1} END {printf "%.0f", s}'; }
run() { # broker binary → "msgs/s direct-µs whole-µs"
  local ep="tcp://127.0.0.1:$port"; port=$((port+1))
  local log; log=$(mktemp)
  "$1" broker --bind "$ep" --rate 0 --stats-interval 0 2>"$log" &
  local pid=$!
  until grep -q "bound" "$log"; do
    if ! kill -0 $pid 2>/dev/null; then cat "$log" >&2; rm -f "$log"; exit 1; fi
    sleep 0.05
  done
  local c0 out; c0=$(cpu $pid)
  if ! out=$(bin/zmqgo broker-load --connect "$ep" $named --clients "$clients" --messages "$messages" \
      --window "$window" --broadcast 0 --broker-pid $pid); then
    kill $pid; wait $pid 2>/dev/null || true; cat "$log" >&2; rm -f "$log"; exit 1
  fi
  local c1; c1=$(cpu $pid)
  kill $pid; wait $pid 2>/dev/null || true; rm -f "$log"
  echo "$(echo "$out" | awk '/msgs\/s/ {print $(NF-1)}') $(echo "$out" | awk '/per direct message/ {print $(NF-4)}')" \
    "$(awk -v c=$((c1 - c0)) -v n=$((clients * messages)) 'BEGIN{printf "%.2f", c / n / 1000}')"
}
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $clients clients x $messages direct messages, window $window${named:+, named}, $runs runs each, interleaved"
declare -a R D W
for ((i=0; i<runs; i++)); do
  for j in "${!bins[@]}"; do
    read -r r d w < <(run "${bins[$j]}")
    R[$j]+="$r "; D[$j]+="$d "; W[$j]+="$w "
  done
done
printf "%-34s %12s %14s %12s\n" build "msgs/s" "broker µs/msg" "whole run"
for j in "${!bins[@]}"; do
  printf "%-34s %12s %14s %12s   (runs: %s)\n" "${names[$j]}" "$(echo "${R[$j]}" | median)" \
    "$(echo "${D[$j]}" | median)" "$(echo "${W[$j]}" | median)" "${D[$j]% }"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
