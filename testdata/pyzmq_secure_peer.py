#!/usr/bin/python3
"""A pyzmq (libzmq) socket with PLAIN or CURVE security, driven over
stdin/stdout: the peer for zmqgo's security interop tests
(security_interop_test.go). Run it with /usr/bin/python3, where Debian's
python3-zmq lives.

    pyzmq_secure_peer.py --type REQ (--bind tcp://127.0.0.1:* | --connect EP...)
        [--routing-id HEX] [--subscribe HEX]... [--router-mandatory]
        [--curve-server SECRET | --curve-client SERVERPUBLIC --curve-public PUBLIC --curve-secret SECRET
         | --plain-server | --plain-client USER:PASS]
        [--zap-user USER:PASS]... [--zap-curve-key PUBLIC]... [--zap-any-curve]
        [--heartbeat MS] [--timeout SECONDS]

--heartbeat MS sets ZMQ_HEARTBEAT_IVL to MS and ZMQ_HEARTBEAT_TIMEOUT and
ZMQ_HEARTBEAT_TTL to three times that.

Keys are Z85 (40 characters). Any --zap-* option starts a ZAP handler
(RFC 27) in this process, a REP socket bound at inproc://zeromq.zap.01 that
answers 200 (user id: the PLAIN user name or the Z85 CURVE key) or 400
"denied". Without one, libzmq refuses every PLAIN client and accepts every
CURVE client. For a REQ socket the user id is left empty: libzmq 4.3.4
hands a REQ socket's session the ZAP user id as a "credential" message before
the first reply, which its REQ state machine rejects, dropping the
connection (seen with pyzmq on both sides).

Protocol (one JSON command per line on stdin, one answer line on stdout),
after a first line "READY <endpoint>":

    {"op": "send", "frames": ["<hex>", ...]}       ->  SENT
    {"op": "try_send", "frames": [...], "timeout_ms": N}  ->  SENT | AGAIN
    {"op": "recv", "timeout_ms": N}                ->  MSG ["<hex>", ...] | TIMEOUT
    {"op": "recv_props", "timeout_ms": N}          ->  PROPS {"frames": [...], "User-Id": ..., ...} | TIMEOUT
    {"op": "event", "events": ["HANDSHAKE_FAILED_AUTH", ...], "timeout_ms": N}
                                                   ->  EVENT <NAME> <value> | TIMEOUT
    {"op": "zap_requests"}                         ->  ZAP <count>
    {"op": "close"} or end of stdin                ->  (closes everything, exits 0)

"event" returns the first monitor event (since the last "event" answer) of
one of the named kinds; value is libzmq's event value (the ZAP status for
HANDSHAKE_FAILED_AUTH). Errors print "ERROR <text>" and exit 1; a watchdog
ends the process after --timeout seconds.
"""

import argparse
import collections
import faulthandler
import json
import signal
import sys
import threading
import time

import zmq
from zmq.utils import z85
from zmq.utils.monitor import recv_monitor_message

TYPES = ("PAIR", "PUB", "SUB", "XPUB", "XSUB", "PUSH", "PULL",
         "REQ", "REP", "DEALER", "ROUTER")
OP_TIMEOUT_MS = 10000
ZAP_ENDPOINT = "inproc://zeromq.zap.01"

EVENT_NAMES = {getattr(zmq, n): n[len("EVENT_"):] for n in dir(zmq)
               if n.startswith("EVENT_") and n not in ("EVENT_ALL",)
               and isinstance(getattr(zmq, n), int)}


def out(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class ZapHandler(threading.Thread):
    """RFC 27 handler: accepts listed PLAIN users and CURVE keys."""

    def __init__(self, ctx, users, keys, any_curve, user_ids=True):
        super().__init__(daemon=True)
        self.user_ids = user_ids
        self.sock = ctx.socket(zmq.REP)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.bind(ZAP_ENDPOINT)
        self.users, self.keys, self.any_curve = users, keys, any_curve
        self.count = 0
        self.lock = threading.Lock()

    def run(self):
        try:
            while True:
                req = self.sock.recv_multipart()
                version, rid, _domain, _addr, _ident, mech = req[:6]
                creds = req[6:]
                status, user = b"400", b""
                if mech == b"PLAIN" and len(creds) == 2:
                    u, p = creds[0].decode(), creds[1].decode()
                    if self.users.get(u) == p:
                        status, user = b"200", creds[0]
                elif mech == b"CURVE" and len(creds) == 1:
                    k = z85.encode(creds[0]).decode()
                    if self.any_curve or k in self.keys:
                        status, user = b"200", k.encode()
                elif mech == b"NULL":
                    status = b"200"
                if not self.user_ids:
                    user = b""
                with self.lock:
                    self.count += 1
                self.sock.send_multipart([version, rid, status,
                                          b"OK" if status == b"200" else b"denied",
                                          user, b""])
        except zmq.ContextTerminated:
            pass
        finally:
            self.sock.close(linger=0)


class Monitor(threading.Thread):
    """Collects the socket's monitor events."""

    def __init__(self, sock):
        super().__init__(daemon=True)
        self.msock = sock.get_monitor_socket()
        self.events = collections.deque()
        self.cond = threading.Condition()

    def run(self):
        try:
            while True:
                ev = recv_monitor_message(self.msock)
                with self.cond:
                    self.events.append(ev)
                    self.cond.notify_all()
                if ev["event"] == zmq.EVENT_MONITOR_STOPPED:
                    break
        except zmq.ZMQError:
            pass
        finally:
            self.msock.close(linger=0)

    def wait(self, names, timeout_ms):
        deadline = time.monotonic() + timeout_ms / 1000
        with self.cond:
            while True:
                while self.events:
                    ev = self.events.popleft()
                    name = EVENT_NAMES.get(ev["event"], str(ev["event"]))
                    if name in names:
                        return "EVENT %s %d" % (name, ev["value"])
                left = deadline - time.monotonic()
                if left <= 0:
                    return "TIMEOUT"
                self.cond.wait(left)


def send(sock, frames):
    deadline = time.monotonic() + OP_TIMEOUT_MS / 1000
    delay = 0.001
    while True:
        try:
            sock.send_multipart(frames)
            return
        except zmq.ZMQError as e:
            if e.errno != zmq.EHOSTUNREACH or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.05)


def recv(sock, timeout_ms, copy=True):
    sock.setsockopt(zmq.RCVTIMEO, timeout_ms)
    try:
        return sock.recv_multipart(copy=copy)
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
    ap.add_argument("--curve-server", metavar="SECRET")
    ap.add_argument("--curve-client", metavar="SERVERPUBLIC")
    ap.add_argument("--curve-public", metavar="PUBLIC")
    ap.add_argument("--curve-secret", metavar="SECRET")
    ap.add_argument("--plain-server", action="store_true")
    ap.add_argument("--plain-client", metavar="USER:PASS")
    ap.add_argument("--zap-user", metavar="USER:PASS", action="append", default=[])
    ap.add_argument("--zap-curve-key", metavar="PUBLIC", action="append", default=[])
    ap.add_argument("--zap-any-curve", action="store_true")
    ap.add_argument("--heartbeat", type=int, metavar="MS")
    ap.add_argument("--timeout", type=float, default=20.0)
    args = ap.parse_args()

    faulthandler.dump_traceback_later(args.timeout, exit=True)
    faulthandler.register(signal.SIGUSR1, all_threads=True)

    ctx = zmq.Context()
    zap = None
    if args.zap_user or args.zap_curve_key or args.zap_any_curve:
        users = dict(u.split(":", 1) for u in args.zap_user)
        zap = ZapHandler(ctx, users, set(args.zap_curve_key), args.zap_any_curve,
                         user_ids=args.type != "REQ")
        zap.start()
    sock = ctx.socket(getattr(zmq, args.type))
    mon = Monitor(sock)
    mon.start()
    code = 0
    try:
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDTIMEO, OP_TIMEOUT_MS)
        if args.curve_server:
            sock.setsockopt(zmq.CURVE_SERVER, 1)
            sock.setsockopt(zmq.CURVE_SECRETKEY, args.curve_server.encode())
        elif args.curve_client:
            sock.setsockopt(zmq.CURVE_SERVERKEY, args.curve_client.encode())
            sock.setsockopt(zmq.CURVE_PUBLICKEY, args.curve_public.encode())
            sock.setsockopt(zmq.CURVE_SECRETKEY, args.curve_secret.encode())
        elif args.plain_server:
            sock.setsockopt(zmq.PLAIN_SERVER, 1)
        elif args.plain_client:
            user, pw = args.plain_client.split(":", 1)
            sock.setsockopt(zmq.PLAIN_USERNAME, user.encode())
            sock.setsockopt(zmq.PLAIN_PASSWORD, pw.encode())
        if args.routing_id is not None:
            sock.setsockopt(zmq.ROUTING_ID, bytes.fromhex(args.routing_id))
        if args.heartbeat:
            sock.setsockopt(zmq.HEARTBEAT_IVL, args.heartbeat)
            sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, 3 * args.heartbeat)
            sock.setsockopt(zmq.HEARTBEAT_TTL, 3 * args.heartbeat)
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

        for line in sys.stdin:
            if not line.strip():
                continue
            cmd = json.loads(line)
            op = cmd.get("op")
            timeout = int(cmd.get("timeout_ms", OP_TIMEOUT_MS))
            if op == "send":
                send(sock, [bytes.fromhex(f) for f in cmd["frames"]])
                out("SENT")
            elif op == "try_send":
                # A session refused during the handshake loses its pipe in
                # libzmq, so a PUSH may have nowhere to queue: AGAIN, not ERROR.
                sock.setsockopt(zmq.SNDTIMEO, timeout)
                try:
                    sock.send_multipart([bytes.fromhex(f) for f in cmd["frames"]])
                    out("SENT")
                except zmq.Again:
                    out("AGAIN")
                finally:
                    sock.setsockopt(zmq.SNDTIMEO, OP_TIMEOUT_MS)
            elif op == "recv":
                frames = recv(sock, timeout)
                out("TIMEOUT" if frames is None else
                    "MSG " + json.dumps([f.hex() for f in frames]))
            elif op == "recv_props":
                frames = recv(sock, timeout, copy=False)
                if frames is None:
                    out("TIMEOUT")
                else:
                    props = {"frames": [f.bytes.hex() for f in frames]}
                    for name in ("User-Id", "Socket-Type", "Peer-Address"):
                        try:
                            props[name] = frames[-1].get(name)
                        except zmq.ZMQError:
                            pass
                    out("PROPS " + json.dumps(props))
            elif op == "event":
                out(mon.wait(set(cmd["events"]), timeout))
            elif op == "zap_requests":
                out("ZAP %d" % (zap.count if zap else 0))
            elif op == "close":
                break
            else:
                raise ValueError("unknown op %r" % (op,))
    except Exception as e:
        msg = "%s %s: %s: %s" % (args.type, args.bind or " ".join(args.connect),
                                 type(e).__name__, e)
        out("ERROR " + msg)
        sys.stderr.write("pyzmq_secure_peer: " + msg + "\n")
        code = 1
    sock.disable_monitor()
    mon.join(5)
    sock.close(linger=0)
    ctx.term()
    return code


if __name__ == "__main__":
    sys.exit(main())
