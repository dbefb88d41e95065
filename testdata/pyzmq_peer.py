#!/usr/bin/python3
"""A pyzmq (libzmq) socket driven over stdin/stdout, the peer for zmqgo's
interop tests (interop_test.go). Run it with /usr/bin/python3, where Debian's
python3-zmq lives.

    pyzmq_peer.py --type REQ (--bind tcp://127.0.0.1:* | --connect ENDPOINT...)
                  [--routing-id HEX] [--subscribe HEX]... [--router-mandatory]
                  [--timeout SECONDS]

Once bound or connected it prints one line "READY <endpoint>" (the resolved
LAST_ENDPOINT when it binds, so port 0 / "*" works; --connect may be given
more than once). Then it reads one JSON
command per line on stdin and answers each with one line on stdout:

    {"op": "send", "frames": ["<hex>", ...]}   ->  SENT
    {"op": "recv", "timeout_ms": 10000}        ->  MSG ["<hex>", ...]  |  TIMEOUT
    {"op": "close"} or end of stdin            ->  (closes the socket, exits 0)

Frames are hex so any bytes survive the text protocol. A send on a ROUTER with
--router-mandatory retries on EHOSTUNREACH (the peer's handshake has not
finished yet) with a short backoff until its deadline. Any error prints
"ERROR <text>" on stdout and a message on stderr, and exits 1. A watchdog ends
the process (exit 1, traceback on stderr) after --timeout seconds so a stuck
test never leaves it behind; SIGUSR1 prints a traceback.
"""

import argparse
import faulthandler
import json
import signal
import sys
import time

import zmq

TYPES = ("PAIR", "PUB", "SUB", "XPUB", "XSUB", "PUSH", "PULL",
         "REQ", "REP", "DEALER", "ROUTER")
OP_TIMEOUT_MS = 10000  # per send/recv, below the Go side's wait for an answer


def out(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def send(sock, frames):
    deadline = time.monotonic() + OP_TIMEOUT_MS / 1000
    delay = 0.001
    while True:
        try:
            sock.send_multipart(frames)
            return
        except zmq.ZMQError as e:
            # EHOSTUNREACH only comes from ROUTER_MANDATORY: the routing id is
            # not known until the handshake completes, so back off and retry.
            if e.errno != zmq.EHOSTUNREACH or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.05)


def recv(sock, timeout_ms):
    sock.setsockopt(zmq.RCVTIMEO, timeout_ms)
    try:
        return sock.recv_multipart()
    except zmq.Again:
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--type", required=True, choices=TYPES)
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--bind", metavar="ENDPOINT")
    where.add_argument("--connect", metavar="ENDPOINT", action="append")
    ap.add_argument("--routing-id", metavar="HEX")
    ap.add_argument("--subscribe", metavar="HEX", action="append", default=[])
    ap.add_argument("--router-mandatory", action="store_true")
    ap.add_argument("--timeout", type=float, default=20.0)
    args = ap.parse_args()

    # A C-level watchdog thread: fires even while blocked inside libzmq.
    faulthandler.dump_traceback_later(args.timeout, exit=True)
    # The Go side sends SIGUSR1 before killing a stuck peer: say where it is.
    faulthandler.register(signal.SIGUSR1, all_threads=True)

    ctx = zmq.Context()
    sock = ctx.socket(getattr(zmq, args.type))
    try:
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDTIMEO, OP_TIMEOUT_MS)
        if args.routing_id is not None:
            sock.setsockopt(zmq.ROUTING_ID, bytes.fromhex(args.routing_id))
        if args.router_mandatory:
            sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
        for topic in args.subscribe:
            sock.setsockopt(zmq.SUBSCRIBE, bytes.fromhex(topic))
        if args.bind is not None:
            sock.bind(args.bind)
            endpoint = sock.getsockopt(zmq.LAST_ENDPOINT).decode()
        else:
            for ep in args.connect:
                sock.connect(ep)
            endpoint = " ".join(args.connect)
        out("READY " + endpoint)

        for line in sys.stdin:  # end of stdin: close and exit
            if not line.strip():
                continue
            cmd = json.loads(line)
            op = cmd.get("op")
            if op == "send":
                send(sock, [bytes.fromhex(f) for f in cmd["frames"]])
                out("SENT")
            elif op == "recv":
                frames = recv(sock, int(cmd.get("timeout_ms", OP_TIMEOUT_MS)))
                if frames is None:
                    out("TIMEOUT")
                else:
                    out("MSG " + json.dumps([f.hex() for f in frames]))
            elif op == "close":
                break
            else:
                raise ValueError("unknown op %r" % (op,))
    except Exception as e:  # report anything, then fail
        msg = "%s %s: %s: %s" % (args.type, args.bind or " ".join(args.connect),
                                 type(e).__name__, e)
        out("ERROR " + msg)
        sys.stderr.write("pyzmq_peer: " + msg + "\n")
        sock.close(linger=0)
        ctx.term()
        return 1
    t0 = time.monotonic()
    sock.close(linger=0)
    ctx.term()
    if time.monotonic() - t0 > 1:
        sys.stderr.write("pyzmq_peer: close+term took %.1fs\n" % (time.monotonic() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
