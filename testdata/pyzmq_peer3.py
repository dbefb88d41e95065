#!/usr/bin/python3
"""A pyzmq (libzmq) peer for zmqgo's interop3 and fault tests
(interop_xpub_ipc_proxy_test.go, fault_test.go). Run it with /usr/bin/python3, where
Debian's python3-zmq lives. Three modes:

  peer:  pyzmq_peer3.py peer --type T (--bind EP | --connect EP...)
                       [--subscribe HEX]... [--sndhwm N] [--rcvhwm N]
         Prints "READY <endpoint>" (LAST_ENDPOINT when it binds), then runs
         one JSON command per stdin line, one answer line each:
           {"op": "send", "frames": ["<hex>", ...]}    -> SENT
           {"op": "recv", "timeout_ms": N}             -> MSG ["<hex>", ...] | TIMEOUT
           {"op": "subscribe", "topic": "<hex>"}       -> OK   (SUB/XSUB setsockopt)
           {"op": "unsubscribe", "topic": "<hex>"}     -> OK
           {"op": "close"} or end of stdin             -> exits 0
         The answers are those of pyzmq_peer.py, so the same Go driver works.
         Between commands it calls into the socket every 20 ms, as an
         application in a poll loop would, so libzmq attaches new connections
         (a bound SUB otherwise never sends its subscriptions to a publisher
         that connects: libzmq issue #2267).

  sink:  pyzmq_peer3.py sink --type PULL --bind EP [--rcvhwm N]
         Prints "READY <endpoint>", then "GOT <frame 0 as text>" for every
         message received, one flushed line each, until stdin closes; then
         "DONE <count>" and exits 0. For the kill-and-restart test: what was
         printed is what the application had received when it was killed.

  proxy: pyzmq_peer3.py proxy --frontend T --frontend-bind EP
                              --backend T --backend-bind EP
         Binds both sockets, prints "READY <frontend endpoint> <backend
         endpoint>", and runs zmq.proxy_steerable (libzmq's zmq_proxy) in a
         thread with a PAIR control socket. Commands:
           {"op": "stats"}              -> STATS [8 integers] (libzmq's STATISTICS)
           {"op": "close"} or EOF       -> TERMINATE, then exits 0

Errors print "ERROR <text>" and exit 1. A watchdog ends the process (exit 1,
traceback on stderr) after --timeout seconds, so a stuck test never leaves
it behind.
"""

import argparse
import faulthandler
import json
import queue
import signal
import struct
import sys
import threading
import time

import zmq

TYPES = ("PAIR", "PUB", "SUB", "XPUB", "XSUB", "PUSH", "PULL",
         "REQ", "REP", "DEALER", "ROUTER")
OP_TIMEOUT_MS = 10000


def out(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def make_socket(ctx, args):
    s = ctx.socket(getattr(zmq, args.type))
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.SNDTIMEO, OP_TIMEOUT_MS)
    if getattr(args, "sndhwm", None) is not None:
        s.setsockopt(zmq.SNDHWM, args.sndhwm)
    if getattr(args, "rcvhwm", None) is not None:
        s.setsockopt(zmq.RCVHWM, args.rcvhwm)
    for topic in getattr(args, "subscribe", None) or []:
        s.setsockopt(zmq.SUBSCRIBE, bytes.fromhex(topic))
    if args.bind is not None:
        s.bind(args.bind)
        ep = s.getsockopt(zmq.LAST_ENDPOINT).decode()
    else:
        for e in args.connect:
            s.connect(e)
        ep = " ".join(args.connect)
    return s, ep


def stdin_lines():
    """Lines of stdin on a queue, None at the end, read by a thread."""
    q = queue.Queue()

    def reader():
        for line in sys.stdin:
            q.put(line)
        q.put(None)

    threading.Thread(target=reader, daemon=True).start()
    return q


def run_peer(ctx, args):
    sock, ep = make_socket(ctx, args)
    lines = stdin_lines()
    try:
        out("READY " + ep)
        while True:
            try:
                line = lines.get(timeout=0.02)
            except queue.Empty:
                # libzmq attaches a connection's pipe to the socket only when
                # the application calls into the socket (libzmq issue #2267):
                # a bound SUB left idle never sends its subscriptions to a
                # publisher that connects. Act like an application in a poll
                # loop.
                sock.getsockopt(zmq.EVENTS)
                continue
            if line is None:
                break
            if not line.strip():
                continue
            cmd = json.loads(line)
            op = cmd.get("op")
            if op == "send":
                sock.send_multipart([bytes.fromhex(f) for f in cmd["frames"]])
                out("SENT")
            elif op == "recv":
                sock.setsockopt(zmq.RCVTIMEO, int(cmd.get("timeout_ms", OP_TIMEOUT_MS)))
                try:
                    frames = sock.recv_multipart()
                except zmq.Again:
                    out("TIMEOUT")
                    continue
                out("MSG " + json.dumps([f.hex() for f in frames]))
            elif op in ("subscribe", "unsubscribe"):
                opt = zmq.SUBSCRIBE if op == "subscribe" else zmq.UNSUBSCRIBE
                sock.setsockopt(opt, bytes.fromhex(cmd["topic"]))
                out("OK")
            elif op == "close":
                break
            else:
                raise ValueError("unknown op %r" % (op,))
    finally:
        sock.close(linger=0)


def run_sink(ctx, args):
    sock, ep = make_socket(ctx, args)
    done = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    out("READY " + ep)
    n = 0
    try:
        while not done.is_set():
            if not sock.poll(50):
                continue
            while True:
                try:
                    frames = sock.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                n += 1
                # One flushed line per message: after a SIGKILL, the lines
                # out are exactly what the application had received.
                out("GOT " + frames[0].decode("ascii", "replace"))
        out("DONE %d" % n)
    finally:
        sock.close(linger=0)


def run_proxy(ctx, args):
    front = ctx.socket(getattr(zmq, args.frontend))
    back = ctx.socket(getattr(zmq, args.backend))
    for s in (front, back):
        s.setsockopt(zmq.LINGER, 0)
    front.bind(args.frontend_bind)
    back.bind(args.backend_bind)
    fep = front.getsockopt(zmq.LAST_ENDPOINT).decode()
    bep = back.getsockopt(zmq.LAST_ENDPOINT).decode()
    ctl_ep = "inproc://proxy-control"
    ctl_proxy = ctx.socket(zmq.PAIR)
    ctl_proxy.bind(ctl_ep)
    ctl = ctx.socket(zmq.PAIR)
    ctl.connect(ctl_ep)
    ctl.setsockopt(zmq.RCVTIMEO, OP_TIMEOUT_MS)
    result = {}

    def proxy():
        try:
            zmq.proxy_steerable(front, back, None, ctl_proxy)
        except zmq.ZMQError as e:
            result["error"] = e

    th = threading.Thread(target=proxy, daemon=True)
    th.start()
    out("READY %s %s" % (fep, bep))
    try:
        for line in sys.stdin:
            if not line.strip():
                continue
            op = json.loads(line).get("op")
            if op == "stats":
                ctl.send(b"STATISTICS")
                parts = ctl.recv_multipart()
                vals = [struct.unpack("=Q", p)[0] for p in parts]
                out("STATS " + json.dumps(vals))
            elif op == "close":
                break
            else:
                raise ValueError("unknown op %r" % (op,))
    finally:
        ctl.send(b"TERMINATE")
        th.join(OP_TIMEOUT_MS / 1000)
        for s in (front, back, ctl_proxy, ctl):
            s.close(linger=0)
    if th.is_alive():
        raise RuntimeError("proxy did not terminate")
    if "error" in result:
        raise result["error"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="mode", required=True)
    for mode in ("peer", "sink"):
        p = sub.add_parser(mode)
        p.add_argument("--type", required=True, choices=TYPES)
        where = p.add_mutually_exclusive_group(required=True)
        where.add_argument("--bind", metavar="ENDPOINT")
        where.add_argument("--connect", metavar="ENDPOINT", action="append")
        p.add_argument("--subscribe", metavar="HEX", action="append", default=[])
        p.add_argument("--sndhwm", type=int)
        p.add_argument("--rcvhwm", type=int)
        p.add_argument("--timeout", type=float, default=20.0)
    p = sub.add_parser("proxy")
    p.add_argument("--frontend", required=True, choices=TYPES)
    p.add_argument("--frontend-bind", required=True)
    p.add_argument("--backend", required=True, choices=TYPES)
    p.add_argument("--backend-bind", required=True)
    p.add_argument("--timeout", type=float, default=20.0)
    args = ap.parse_args()

    # A C-level watchdog thread: fires even while blocked inside libzmq.
    faulthandler.dump_traceback_later(args.timeout, exit=True)
    faulthandler.register(signal.SIGUSR1, all_threads=True)

    ctx = zmq.Context()
    try:
        {"peer": run_peer, "sink": run_sink, "proxy": run_proxy}[args.mode](ctx, args)
    except Exception as e:
        msg = "%s: %s: %s" % (args.mode, type(e).__name__, e)
        out("ERROR " + msg)
        sys.stderr.write("pyzmq_peer3: " + msg + "\n")
        ctx.destroy(linger=0)
        return 1
    t0 = time.monotonic()
    ctx.term()
    if time.monotonic() - t0 > 1:
        sys.stderr.write("pyzmq_peer3: term took %.1fs\n" % (time.monotonic() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
