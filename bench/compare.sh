#!/usr/bin/env bash
# The side-by-side comparison of issue 6: zmqgo, libzmq and go-zeromq/zmq4,
# interleaved, then the slow-consumer memory check. Prints markdown.
#
#   bench/compare.sh             # full: 3 runs of 1 s per case (~8-10 min on 2 cores)
#   bench/compare.sh --quick     # smoke test: 1 run of 0.25 s per case (~2 min)
#   bench/compare.sh --transports tcp --patterns pushpull --sizes 16   # any compare flag
#   bench/compare.sh --baseline 33e131b   # also zmqgo as of that commit, interleaved,
#                                         # and an after/before table (see README.md)
#
# Needs go, gcc and libzmq's headers (Debian: libzmq3-dev). Binaries go to
# bench/bin (ignored by git).
set -euo pipefail
cd "$(dirname "$0")"
quick=
for a in "$@"; do [[ $a == --quick || $a == -quick ]] && quick=1; done
go run ./cmd/compare "$@"
if [[ -n $quick ]]; then
  go run ./cmd/slowconsumer --no-build --secs 1
else
  go run ./cmd/slowconsumer --no-build
fi
