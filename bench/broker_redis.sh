#!/usr/bin/env bash
# `zmqgo broker` scaled out on Redis, in one run, each configuration loaded
# by `zmqgo broker-load` in another process:
#   single   one broker, no Redis (the baseline)
#   1 node   one broker with --redis
#   3 nodes  three brokers on one Redis; the load's clients spread over
#            them round-robin, so every direct message crosses nodes
# Prints direct messages/s, delivery latency p50/p99, the CPU time per
# direct message of the brokers and redis-server together
# (utime+stime from /proc/PID/stat), and a broadcast to BROADCAST clients.
# redis-server is a private one on a free port, no persistence.
# Usage: bench/broker_redis.sh [CLIENTS] [MESSAGES] [BROADCAST]  (defaults: 30 2000 3000)
set -euo pipefail
cd "$(dirname "$0")"
clients=${1:-30}; messages=${2:-2000}; broadcast=${3:-3000}
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
mkdir -p bin
(cd .. && go build -o bench/bin/zmqgo ./cmd/zmqgo)
tick=$(getconf CLK_TCK)
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
cpu() { local s=0; for p in "$@"; do s=$((s + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo $s; }
rport=$((20000 + RANDOM % 20000))
redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" --daemonize no >"$dir/redis.log" 2>&1 &
rpid=$!; pids+=("$rpid")
until grep -q "Ready to accept" "$dir/redis.log" 2>/dev/null; do
  kill -0 "$rpid" 2>/dev/null || { cat "$dir/redis.log" >&2; exit 1; }
  sleep 0.05
done
run() { # name nodes redis? → prints a result block
  local name=$1 nodes=$2 redis=$3
  local eps=() bpids=() i prefix="bench$RANDOM$RANDOM:{b}:"
  for ((i=0; i<nodes; i++)); do
    local args=(broker --bind tcp://127.0.0.1:0 --rate 0 --stats-interval 0 --queue 10000)
    [ "$redis" = yes ] && args+=(--redis "redis://127.0.0.1:$rport/0" --redis-prefix "$prefix")
    local log="$dir/b$i-$RANDOM.log"
    bin/zmqgo "${args[@]}" 2>"$log" &
    local pid=$!; bpids+=($pid); pids+=($pid)
    until grep -q "bound" "$log" 2>/dev/null; do
      kill -0 $pid 2>/dev/null || { cat "$log" >&2; exit 1; }
      sleep 0.05
    done
    eps+=(--connect "$(sed -n 's/^zmqgo: bound //p' "$log")")
  done
  local b0 r0 b1 r1; b0=$(cpu "${bpids[@]}"); r0=$(cpu "$rpid")
  local out; out=$(bin/zmqgo broker-load "${eps[@]}" --clients "$clients" --messages "$messages" --broadcast 0)
  b1=$(cpu "${bpids[@]}"); r1=$(cpu "$rpid")
  local bout; bout=$(bin/zmqgo broker-load "${eps[@]}" --clients 0 --broadcast "$broadcast")
  for p in "${bpids[@]}"; do kill "$p"; wait "$p" 2>/dev/null || true; done
  echo "== $name"
  echo "$out" | sed -n '2,3p'
  awk -v b=$((b1 - b0)) -v r=$((r1 - r0)) -v t="$tick" -v n=$((clients * messages)) \
    'BEGIN{printf "  CPU per direct message: brokers %.1f µs, redis-server %.1f µs\n", b / t / n * 1e6, r / t / n * 1e6}'
  echo "$bout"
}
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $clients clients x $messages direct messages of 100 bytes, window 16; broadcast to $broadcast clients"
run "single broker, no Redis" 1 no
run "1 node on Redis" 1 yes
run "3 nodes on one Redis" 3 yes
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
