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
port=$((20000 + RANDOM % 20000))
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
cpu() { local s=0; for p in "$@"; do s=$((s + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo $s; }
rport=$port; port=$((port+1))
redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" --daemonize no >"$dir/redis.log" 2>&1 &
rpid=$!; pids+=("$rpid")
until grep -q "Ready to accept" "$dir/redis.log"; do sleep 0.05; done
run() { # name nodes redis? → prints a result block
  local name=$1 nodes=$2 redis=$3
  local eps=() bpids=() i prefix="bench$port:{b}:"
  for ((i=0; i<nodes; i++)); do
    local ep="tcp://127.0.0.1:$port"; port=$((port+1))
    local args=(broker --bind "$ep" --rate 0 --stats-interval 0 --queue 10000)
    [ "$redis" = yes ] && args+=(--redis "redis://127.0.0.1:$rport/0" --redis-prefix "$prefix")
    bin/zmqgo "${args[@]}" 2>"$dir/b$port.log" &
    bpids+=($!); pids+=($!)
    until grep -q "bound" "$dir/b$port.log" 2>/dev/null; do sleep 0.05; done
    eps+=(--connect "$ep")
  done
  local watch=("${bpids[@]}"); [ "$redis" = yes ] && watch+=("$rpid")
  local c0; c0=$(cpu "${watch[@]}")
  local out; out=$(bin/zmqgo broker-load "${eps[@]}" --clients "$clients" --messages "$messages" --broadcast 0)
  local c1; c1=$(cpu "${watch[@]}")
  local bout; bout=$(bin/zmqgo broker-load "${eps[@]}" --clients 0 --broadcast "$broadcast")
  for p in "${bpids[@]}"; do kill "$p"; wait "$p" 2>/dev/null || true; done
  echo "== $name"
  echo "$out" | sed -n '2,3p'
  awk -v c=$((c1 - c0)) -v t="$tick" -v n=$((clients * messages)) 'BEGIN{printf "  CPU (brokers + redis-server) per direct message: %.1f µs\n", c / t / n * 1e6}'
  echo "$bout"
}
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $clients clients x $messages direct messages of 100 bytes, window 16; broadcast to $broadcast clients"
run "single broker, no Redis" 1 no
run "1 node on Redis" 1 yes
run "3 nodes on one Redis" 3 yes
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
