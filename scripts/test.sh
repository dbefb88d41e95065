#!/usr/bin/env bash
# Runs every test of zmqgo, with the real ZeroMQ peers they talk to.
# Installs the peers from Debian's packages when they are missing, so it works
# on a fresh Debian machine (as root, or with sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
/usr/bin/python3 -c 'import zmq' 2>/dev/null || need+=(python3-zmq)
/usr/bin/python3 -c 'import txzmq' 2>/dev/null || need+=(python3-txzmq)
[ -e /usr/include/zmq.h ] || need+=(libzmq3-dev)
/usr/bin/python3 -c 'import msgpack' 2>/dev/null || need+=(python3-msgpack)
/usr/bin/python3 -c 'import django' 2>/dev/null || need+=(python3-django)
/usr/bin/python3 -c 'import channels' 2>/dev/null || need+=(python3-django-channels)
/usr/bin/python3 -c 'import channels_redis' 2>/dev/null || need+=(python3-channels-redis)
command -v redis-server >/dev/null || need+=(redis-server)
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  echo "test.sh: installing test peers: ${need[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
echo "test.sh: libzmq $(/usr/bin/python3 -c 'import zmq; print(zmq.zmq_version())') via pyzmq $(/usr/bin/python3 -c 'import zmq; print(zmq.__version__)')"

go vet ./...
# CGO_ENABLED=1 only for the race detector; the module itself uses no cgo.
go test -race -count=1 -timeout 15m ./...
# The root package once more with lock-order assertions (LOCKS.md; no -race, to keep it quick).
go test -tags lockorder -count=1 .
