"""A peer speaking django-message-broker 0.2.1's protocol exactly as DMB's
client does (two DEALERs, an explicit empty delimiter, msgpack frames as
msgspec 0.3.2 writes them), with pyzmq and python3-msgpack from Debian.

    dmb_peer.py suite tcp://HOST:PORT     every command on both sockets
    dmb_peer.py recv  tcp://HOST:PORT CHANNEL   print one message's body (JSON)
    dmb_peer.py send  tcp://HOST:PORT CHANNEL JSON
    dmb_peer.py gsend tcp://HOST:PORT GROUP JSON
    dmb_peer.py bench tcp://HOST:PORT N   send/receive pairs, prints msgs/s

Exit status 0 when every check passed; a failed check prints what and
exits 1.
"""
import datetime
import json
import sys
import time
import uuid

import msgpack
import zmq


def enc(v):
    # msgspec 0.3.2: bytes -> bin, str -> str, datetime -> timestamp ext.
    return msgpack.packb(v, use_bin_type=True, datetime=True)


def dec(b):
    return msgpack.unpackb(b, raw=False, timestamp=3, strict_map_key=False)


def check(cond, what):
    if not cond:
        print("FAIL:", what, file=sys.stderr, flush=True)
        sys.exit(1)


class Peer:
    def __init__(self, endpoint):
        host_port = endpoint[len("tcp://"):]
        host, port = host_port.rsplit(":", 1)
        self.ctx = zmq.Context()
        self.data = self.ctx.socket(zmq.DEALER)
        self.sig = self.ctx.socket(zmq.DEALER)
        for s in (self.data, self.sig):
            s.setsockopt(zmq.LINGER, 1000)
            s.setsockopt(zmq.SNDHWM, 100)
        self.data.connect("tcp://%s:%s" % (host, port))
        self.sig.connect("tcp://%s:%d" % (host, int(port) + 1))

    def close(self):
        self.data.close()
        self.sig.close()
        self.ctx.term()

    # DataMessage.send: ["", channel, command, id, sequence, props, body]
    def data_send(self, channel, command, props, body=None, mid=None):
        mid = mid or uuid.uuid4().bytes
        ebody = enc(body) if body else b"{}"
        self.data.send_multipart([b"", channel, command, mid, enc(0), enc(props), ebody])
        return mid

    # SignallingMessage.send: ["", id, command, props]
    def sig_send(self, command, props, mid=None):
        mid = mid or uuid.uuid4().bytes
        self.sig.send_multipart([b"", mid, command, enc(props)])
        return mid

    def recv(self, sock, timeout=5.0):
        check(sock.poll(int(timeout * 1000)), "no message within %ss" % timeout)
        frames = sock.recv_multipart()
        check(frames[0] == b"", "no delimiter: %r" % frames)
        return frames[1:]

    def nothing(self, sock, timeout=0.2):
        return not sock.poll(int(timeout * 1000))

    def data_recv(self, timeout=5.0):
        f = self.recv(self.data, timeout)
        check(len(f) == 6, "data message of %d frames" % len(f))
        return f

    def sig_recv(self, timeout=5.0):
        f = self.recv(self.sig, timeout)
        check(len(f) == 3, "signalling message of %d frames" % len(f))
        return f

    def sig_request(self, command, props):
        mid = self.sig_send(command, props)
        f = self.sig_recv()
        while f[1] == b"FLUSHCXX":
            f = self.sig_recv()
        check(f[0] == mid, "%s reply id %r" % (command, f[0]))
        return f


def suite(endpoint):
    p = Peer(endpoint)
    q = Peer(endpoint)

    # HARTBEAT on both ports.
    mid = p.data_send(b"", b"HARTBEAT", {})
    f = p.data_recv()
    check(f[1] == b"HARTBEAT" and f[2] == mid, "data HARTBEAT reply %r" % f)
    f = p.sig_request(b"HARTBEAT", {})
    check(f[1] == b"HARTBEAT", "signalling HARTBEAT reply %r" % f)

    # SENDCHAN as the layer sends it (ttl int, ack False): no reply; queued.
    body = {"type": "chat.message", "text": "hello", "n": 3, "raw": b"\x00\x01"}
    mid = p.data_send(b"py.chan", b"SENDCHAN", {"ttl": 60, "ack": False}, body)
    check(p.nothing(p.data), "reply to an unacked SENDCHAN")
    # SUBCHANX as the layer sends it: DELIVERY named by the subscriber.
    q.data_send(b"py.chan", b"SUBCHANX", {"subscriber_name": b"py.chan"})
    f = q.data_recv()
    check(f[0] == b"py.chan" and f[1] == b"DELIVERY" and f[2] == mid, "DELIVERY frames %r" % f[:3])
    check(f[3] == b"\x00", "sequence %r" % f[3])
    check(f[5] == enc(body), "body not passed through: %r" % f[5])
    check(dec(f[5]) == body, "body %r" % dec(f[5]))
    props = dec(f[4])
    check(list(props) == ["ttl", "ack", "expiry"], "delivery props %r" % props)
    check(b"\xa6expiry\xd7\xff" in f[4] or b"\xa6expiry\xd6\xff" in f[4], "expiry not a timestamp ext: %r" % f[4])
    exp = props["expiry"]
    now = datetime.datetime.now(datetime.timezone.utc)
    check(datetime.timedelta(seconds=55) < exp - now < datetime.timedelta(seconds=61), "expiry %s vs now %s" % (exp, now))

    # DMB's empty body b"{}" passes through untouched; float ttl honoured.
    p.data_send(b"py.chan", b"SENDCHAN", {"ttl": 0.5, "ack": False}, None)
    f = q.data_recv()
    check(f[5] == b"{}", "empty body %r" % f[5])
    exp = dec(f[4])["expiry"]
    check(exp - datetime.datetime.now(datetime.timezone.utc) < datetime.timedelta(seconds=0.6), "fractional ttl: %s" % exp)

    # ack asked: COMPLETE with the id; a bad name: EXCEPTON with the id.
    mid = p.data_send(b"py.chan", b"SENDCHAN", {"ttl": 60, "ack": True}, {"type": "x"})
    f = p.data_recv()
    check(f[1] == b"COMPLETE" and f[2] == mid and f[0] == b"py.chan" and f[4] == b"\x80" and f[5] == b"{}", "COMPLETE %r" % f)
    q.data_recv()
    mid = p.data_send(b"bad name", b"SENDCHAN", {"ttl": 60, "ack": True}, {"type": "x"})
    f = p.data_recv()
    check(f[1] == b"EXCEPTON" and f[2] == mid and dec(f[4])["exception"].startswith("TypeError("), "EXCEPTON %r" % f)

    # Round robin between two subscribers of one channel.
    p.data_send(b"py.rr", b"SUBCHANX", {"subscriber_name": b"py.rr"})
    q.data_send(b"py.rr", b"SUBCHANX", {"subscriber_name": b"py.rr"})
    p.sig_request(b"HARTBEAT", {})  # the subscriptions are in
    q.sig_request(b"HARTBEAT", {})
    for i in range(4):
        p.data_send(b"py.rr", b"SENDCHAN", {"ttl": 60, "ack": False}, {"n": i})
    got = [dec(p.data_recv()[5])["n"], dec(p.data_recv()[5])["n"], dec(q.data_recv()[5])["n"], dec(q.data_recv()[5])["n"]]
    check(sorted(got) == [0, 1, 2, 3] and got[0] < got[1] and got[2] < got[3], "round robin %r" % got)

    # USUBCHAN (DMB's client never sends it; ours works).
    mid = q.data_send(b"py.rr", b"USUBCHAN", {"subscriber_name": b"py.rr", "ack": True})
    f = q.data_recv()
    check(f[1] == b"COMPLETE" and f[2] == mid, "USUBCHAN %r" % f)
    p.data_send(b"py.rr", b"SENDCHAN", {"ttl": 60, "ack": False}, {"n": 9})
    check(dec(p.data_recv()[5])["n"] == 9, "after USUBCHAN")
    check(q.nothing(q.data), "delivery after USUBCHAN")

    # GROUPADD / GROUPDIS as the layer sends them: COMPLETE echoing the props.
    props = {"group_name": b"py.group", "channel_name": b"py.g1", "ack": True}
    f = p.sig_request(b"GROUPADD", props)
    check(f[1] == b"COMPLETE" and f[2] == enc(props), "GROUPADD reply %r" % f)
    p.sig_request(b"GROUPADD", {"group_name": b"py.group", "channel_name": b"py.g2", "ack": True})
    p.sig_request(b"GROUPADD", {"group_name": "py.group", "channel_name": "py.g3", "ack": True})  # str names too
    f = p.sig_request(b"GROUPDIS", {"group_name": b"py.group", "channel_name": b"py.g3", "ack": True})
    check(f[1] == b"COMPLETE", "GROUPDIS %r" % f)
    # A failing GROUPADD: EXCEPTON, id echoed (DMB echoed GROUPADD: its client hung).
    f = p.sig_request(b"GROUPADD", {"group_name": b"bad group", "channel_name": b"x", "ack": True})
    check(f[1] == b"EXCEPTON" and "exception" in dec(f[2]), "failing GROUPADD %r" % f)
    f = p.sig_request(b"GROUPLST", {"group_name": b"py.group"})
    check(f[1] == b"COMPLETE" and dec(f[2])["channels"] == ["py.g1", "py.g2"], "GROUPLST %r" % dec(f[2]))

    # SENDGRPX as the layer sends it (ttl, no ack) reaches every member.
    q.data_send(b"py.g1", b"SUBCHANX", {"subscriber_name": b"py.g1"})
    q.data_send(b"py.g2", b"SUBCHANX", {"subscriber_name": b"py.g2"})
    gbody = {"type": "group.message"}
    mid = p.data_send(b"py.group", b"SENDGRPX", {"ttl": 60}, gbody)
    names = sorted(f[0] for f in (q.data_recv(), q.data_recv()))
    check(names == [b"py.g1", b"py.g2"], "group delivery %r" % names)
    f = p.sig_request(b"CHANINFO", {"channel_name": b"py.g1"})
    info = dec(f[2])
    check(info["subscribers"] == 1 and info["groups"] == ["py.group"] and info["capacity"] == 100, "CHANINFO %r" % info)

    # PERFMNCE -> PERFRPRT with counters.
    f = p.sig_request(b"PERFMNCE", {})
    rep = dec(f[2])
    check(f[1] == b"PERFRPRT" and rep["messages_in"] >= 9 and rep["groups"] == 1, "PERFRPRT %r" % rep)
    # PRINTXXX, acknowledged when asked.
    f = p.sig_request(b"PRINTXXX", {"ack": True})
    check(f[1] == b"COMPLETE", "PRINTXXX %r" % f)
    # Unknown command with ack: EXCEPTON.
    f = p.sig_request(b"NOSUCHXX", {"ack": True})
    check(f[1] == b"EXCEPTON", "unknown command %r" % f)

    # Garbage on both ports: the server goes on.
    p.data.send_multipart([b"", b"x"])
    p.data.send_multipart([b"no delimiter"])
    p.sig.send_multipart([b"", b"id", b"GROUPADD", b"\xc1"])
    f = p.sig_recv()
    check(f[0] == b"id" and f[1] == b"EXCEPTON", "garbage props %r" % f)

    # FLUSHXXX as the layer sends it (no ack), then with ack; FLUSHCXX to peers.
    p.sig_send(b"FLUSHXXX", {})
    f = q.sig_recv()
    check(f[1] == b"FLUSHCXX", "FLUSHCXX %r" % f)
    f = p.sig_request(b"FLUSHXXX", {"ack": True})
    check(f[1] == b"COMPLETE", "FLUSHXXX ack %r" % f)
    f = p.sig_request(b"GROUPLST", {"group_name": b"py.group"})
    check(dec(f[2])["channels"] == [], "group after flush %r" % dec(f[2]))

    p.close()
    q.close()
    print("ok")


def recv_one(endpoint, channel):
    p = Peer(endpoint)
    p.data_send(channel.encode(), b"SUBCHANX", {"subscriber_name": channel.encode()})
    f = p.data_recv(10)
    check(f[1] == b"DELIVERY" and f[0] == channel.encode(), "DELIVERY %r" % f[:2])
    body = dec(f[5])
    print(json.dumps(body, default=lambda b: b.hex()))
    p.close()


def send_one(endpoint, command, name, body):
    p = Peer(endpoint)
    mid = p.data_send(name.encode(), command, {"ttl": 60, "ack": True}, json.loads(body))
    f = p.data_recv()
    check(f[1] == b"COMPLETE" and f[2] == mid, "reply %r" % f)
    p.close()


def bench(endpoint, n):
    p = Peer(endpoint)
    q = Peer(endpoint)
    q.data_send(b"bench.py", b"SUBCHANX", {"subscriber_name": b"bench.py"})
    q.sig_request(b"HARTBEAT", {})
    body = {"type": "bench", "text": "x" * 64}
    t0 = time.perf_counter()
    window = 100
    sent = got = 0
    while got < n:
        while sent < n and sent - got < window:
            p.data_send(b"bench.py", b"SENDCHAN", {"ttl": 60, "ack": False}, body)
            sent += 1
        q.data_recv(30)
        got += 1
    dt = time.perf_counter() - t0
    print(json.dumps({"n": n, "seconds": dt, "per_sec": n / dt}))
    p.close()
    q.close()


if __name__ == "__main__":
    mode, ep = sys.argv[1], sys.argv[2]
    if mode == "suite":
        suite(ep)
    elif mode == "recv":
        recv_one(ep, sys.argv[3])
    elif mode == "send":
        send_one(ep, b"SENDCHAN", sys.argv[3], sys.argv[4])
    elif mode == "gsend":
        send_one(ep, b"SENDGRPX", sys.argv[3], sys.argv[4])
    elif mode == "bench":
        bench(ep, int(sys.argv[3]))
