"""Sends the same requests, framed as DMB's client frames them, to a
server and prints its replies normalised (expiry timestamps and exception
texts blanked, FLUSHCXX left out), one JSON line per request. Run against
DMB 0.2.1's own server and against zmqgo channels, the lines must match
except where zmqgo fixes a DMB defect (the test knows which).

    dmb_compare.py tcp://HOST:PORT
"""
import json
import re
import sys

import importlib.util
import os

spec = importlib.util.spec_from_file_location("peer", os.path.join(os.path.dirname(__file__), "dmb_peer.py"))
peer = importlib.util.module_from_spec(spec)
spec.loader.exec_module(peer)


def norm(frames):
    out = []
    for f in frames:
        f = re.sub(rb"\xa6expiry\xd7\xff.{8}", b"\xa6expiry<ts>", f, flags=re.S)
        f = re.sub(rb"\xa6expiry\xd6\xff.{4}", b"\xa6expiry<ts>", f, flags=re.S)
        if b"\xa9exception" in f:
            f = b"<exception>"
        out.append(f.hex() if not f.isascii() or not f.decode().isprintable() else f.decode())
    return out


def main(ep):
    p = peer.Peer(ep)
    n = [0]

    def mid():
        n[0] += 1
        return bytes([n[0]]) * 16

    def replies(sock, timeout=0.5):
        got = []
        while sock.poll(int(timeout * 1000)):
            f = sock.recv_multipart()
            if len(f) == 4 and f[2] == b"FLUSHCXX":
                continue
            got.append(norm(f[1:]))
            timeout = 0.2
        return got

    def data(name, ch, cmd, props, body=None):
        p.data_send(ch, cmd, props, body, mid())
        print(json.dumps([name, replies(p.data)]), flush=True)

    def sig(name, cmd, props):
        p.sig_send(cmd, props, mid())
        print(json.dumps([name, replies(p.sig)]), flush=True)

    data("send-ack", b"cmp.a", b"SENDCHAN", {"ttl": 60, "ack": True}, {"type": "x", "n": 1})
    data("send-noack", b"cmp.a", b"SENDCHAN", {"ttl": 60, "ack": False}, {"type": "y", "raw": b"\x00\xff"})
    data("send-empty-body", b"cmp.a", b"SENDCHAN", {"ttl": 60, "ack": False}, None)
    data("subscribe-delivers", b"cmp.a", b"SUBCHANX", {"subscriber_name": b"cmp.a"})
    data("send-float-ttl", b"cmp.a", b"SENDCHAN", {"ttl": 1.5, "ack": False}, {"type": "f"})
    data("subscribe-other-name", b"cmp.b", b"SUBCHANX", {"subscriber_name": b"alias"})
    data("send-to-alias", b"cmp.b", b"SENDCHAN", {"ttl": 60}, {"type": "z"})
    sig("groupadd", b"GROUPADD", {"group_name": b"cmp.g", "channel_name": b"cmp.a", "ack": True})
    sig("groupadd-noack", b"GROUPADD", {"group_name": b"cmp.g", "channel_name": b"cmp.b"})
    data("groupsend", b"cmp.g", b"SENDGRPX", {"ttl": 60}, {"type": "g"})
    sig("groupdis", b"GROUPDIS", {"group_name": b"cmp.g", "channel_name": b"cmp.b", "ack": True})
    data("groupsend-after-discard", b"cmp.g", b"SENDGRPX", {"ttl": 60}, {"type": "g2"})
    data("unknown-data-ack", b"cmp.a", b"BOGUSCMD", {"ack": True})
    data("unknown-data-noack", b"cmp.a", b"BOGUSCMD", {})
    data("subscribe-no-name-ack", b"cmp.a", b"SUBCHANX", {"ack": True})
    data("process-channel", b"cmp.p!1", b"SUBCHANX", {"subscriber_name": b"cmp.p!1", "ack": True})
    sig("perfmnce", b"PERFMNCE", {"ack": True})
    sig("unknown-sig-ack", b"NOSUCHXX", {"ack": True})
    sig("flush-ack", b"FLUSHXXX", {"ack": True})
    data("send-after-flush", b"cmp.a", b"SENDCHAN", {"ttl": 60, "ack": True}, {"type": "after"})
    p.close()


main(sys.argv[1])
