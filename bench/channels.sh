#!/usr/bin/env bash
# zmqgo channels side by side with django-message-broker 0.2.1's own
# Python server, same load (bench/cmd/channelsload), same run.
#
#   bench/channels.sh [--dmb DMB_SOURCE_DIR] [--quick]
#
# DMB's source: --dmb DIR (a checkout of tag 0.2.1), else it is cloned
# into bench/bin/dmb. DMB's server runs under Debian's Python 3.11 with
# python3-tornado and python3-msgpack, through bench/channels/dmb_server.py
# (shims: msgspec 0.3.2's encoding, asyncio.wait given tasks).
set -euo pipefail
cd "$(dirname "$0")"
dmb="" quick=0
while [ $# -gt 0 ]; do
  case "$1" in
    --dmb) dmb="$2"; shift 2 ;;
    --quick) quick=1; shift ;;
    *) echo "usage: $0 [--dmb DIR] [--quick]" >&2; exit 2 ;;
  esac
done
/usr/bin/python3 -c 'import tornado, msgpack, zmq' 2>/dev/null || {
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get install -y -qq python3-tornado python3-msgpack python3-zmq >/dev/null
}
if [ -z "$dmb" ]; then
  dmb=bin/dmb
  [ -d "$dmb/django_message_broker" ] || git clone -q --depth 1 -b 0.2.1 \
    https://github.com/django-message-broker/django-message-broker "$dmb"
fi
mkdir -p bin
go build -o bin/channelsload ./cmd/channelsload
(cd .. && go build -o bench/bin/zmqgo ./cmd/zmqgo)

n=20000 rounds=20 dn=2000 drounds=5
[ $quick -eq 1 ] && n=2000 rounds=5 dn=500 drounds=2
port() { /usr/bin/python3 -c 'import socket
for p in range(41000, 60000, 2):
    a, b = socket.socket(), socket.socket()
    try:
        a.bind(("127.0.0.1", p)); b.bind(("127.0.0.1", p + 1)); print(p); break
    except OSError: pass
    finally: a.close(); b.close()'; }

echo "load before: $(uptime)" >&2
p=$(port)
bin/zmqgo channels --bind tcp://127.0.0.1:$p 2>/dev/null & zpid=$!
sleep 0.5
zres=$(bin/channelsload --connect tcp://127.0.0.1:$p --pid $zpid --name zmqgo --messages $n --rounds $rounds)
kill $zpid; wait $zpid 2>/dev/null || true

p=$(port)
/usr/bin/python3 channels/dmb_server.py "$dmb" $p >/dev/null 2>&1 & dpid=$!
sleep 2
dres=$(bin/channelsload --connect tcp://127.0.0.1:$p --pid $dpid --name dmb --messages $dn --rounds $drounds)
kill $dpid; wait $dpid 2>/dev/null || true
echo "load after: $(uptime)" >&2

/usr/bin/python3 - "$zres" "$dres" <<'PY'
import json, sys
z, d = json.loads(sys.argv[1]), json.loads(sys.argv[2])
rows = [
    ("send/receive pairs, messages/s (4 pairs, tcp)", "msgs_per_sec", True, "%.0f"),
    ("server CPU ms per 1000 messages (pairs)", "pairs_server_cpu_ms_per_1000", False, "%.1f"),
    ("group_send to %d channels, p50 ms" % z["group"], "fanout_p50_ms", False, "%.2f"),
    ("group_send to %d channels, max ms" % z["group"], "fanout_max_ms", False, "%.2f"),
    ("server CPU ms per 1000 deliveries (fan-out)", "fanout_server_cpu_ms_per_1000", False, "%.1f"),
]
print("| measure | zmqgo channels | DMB 0.2.1 server | zmqgo advantage |")
print("|---|---|---|---|")
for name, k, higher, f in rows:
    ratio = z[k] / d[k] if higher else (d[k] / z[k] if z[k] else float("inf"))
    print("| %s | %s | %s | %.0fx |" % (name, f % z[k], f % d[k], ratio))
print()
print("messages: zmqgo %d, DMB %d; fan-out rounds: zmqgo %d, DMB %d" % (z["messages"], d["messages"], z["fanout_rounds"], d["fanout_rounds"]))
PY
