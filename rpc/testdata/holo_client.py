#!/usr/bin/python3
"""A pyzmq client that speaks to a Thing as hololinked 0.3.12's client does.

It does what ClientFactory.zmq and the ObjectProxy it builds do on the wire
(zmqgo's rpc/testdata/hololinked-frames.txt): a ROUTER with identity
"{server}|{thing}|{access point}|{8 hex}|sync", HANDSHAKE every 500 ms
until answered, get_thing_description first, snake_case execution contexts
(with ZMQProperty.get's "invocation_timeout" typo), events on a SUB at the
TD's event form href. It then runs the demo Thing's checks and exits 0, or
prints what failed and exits 1. One JSON line per step goes to stdout.

Usage: holo_client.py --connect tcp://127.0.0.1:PORT [--server demo] [--thing demo]
"""
import argparse
import builtins
import json
import sys
import time
import uuid

import zmq


def out(**kw):
    print(json.dumps(kw), flush=True)


def fail(msg):
    out(step="FAILED", error=msg)
    sys.exit(1)


class Client:
    def __init__(self, server, thing, ap):
        self.server, self.thing, self.ap = server, thing, ap
        self.id = "%s|%s|%s|%s|sync" % (server, thing, ap, uuid.uuid4().hex[:8])
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.ROUTER)
        self.sock.setsockopt_string(zmq.IDENTITY, self.id)
        self.sock.connect(ap)
        self.cache = {}

    def header(self, mtype, thing="", objekt="", op="", sec=None, ct="application/json"):
        return {"messageType": mtype, "messageID": str(uuid.uuid4()), "senderID": self.id,
                "receiverID": self.server,
                "serverExecutionContext": sec if sec is not None else
                {"invokationTimeout": 5, "executionTimeout": 5, "oneway": False},
                "thingExecutionContext": {"fetch_execution_logs": False} if mtype == "OPERATION" else
                {"fetchExecutionLogs": False},
                "thingID": thing, "objekt": objekt, "operation": op, "payloadContentType": ct,
                "preencodedPayloadContentType": "text/plain"}

    def send(self, header, payload=b"null", pre=b""):
        self.sock.send_multipart([self.server.encode(), b"", json.dumps(header, separators=(",", ":")).encode(),
                                  payload, pre])
        return header["messageID"]

    def recv(self, mid, timeout):
        if mid in self.cache:
            return self.cache.pop(mid)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not self.sock.poll(int(left * 1000) + 1):
                return None
            frames = self.sock.recv_multipart()
            if len(frames) != 5:
                continue  # hololinked's client logs and ignores these
            h = json.loads(frames[2])
            if h["messageID"] == mid:
                return h, frames
            self.cache[h["messageID"]] = (h, frames)

    def handshake(self, timeout=60):
        start, tries = time.monotonic(), 0
        while time.monotonic() - start < timeout:
            tries += 1
            mid = self.send(self.header("HANDSHAKE"))
            r = self.recv(mid, 0.5)
            if r is not None:
                if r[0]["messageType"] != "HANDSHAKE" or r[1][0] != self.server.encode():
                    fail("bad handshake reply %r" % (r[1],))
                return tries
        fail("no handshake reply")

    def op(self, objekt, op, value=None, sec=None, ct="application/json", payload=None, wait=10):
        if sec is None:
            sec = {"invokation_timeout": 5.0, "execution_timeout": 5.0}
        if payload is None:
            payload = json.dumps(value, separators=(",", ":")).encode()
        mid = self.send(self.header("OPERATION", self.thing, objekt, op, sec, ct), payload)
        if sec.get("oneway"):
            return mid
        r = self.recv(mid, wait)
        if r is None:
            fail("no reply to %s %s" % (op, objekt))
        h, frames = r
        if frames[0] != self.server.encode() or h["receiverID"] != self.id or h["senderID"] != self.server:
            fail("reply addressed wrongly: %r" % (frames[:3],))
        body = json.loads(frames[3])
        t = h["messageType"]
        if t == "REPLY":
            return body
        if t == "TIMEOUT":
            raise TimeoutError(body)
        if t in ("EXCEPTION", "INVALID_MESSAGE"):
            e = body["exception"]
            # hololinked's client: the builtin type, server traceback in the notes
            exc = getattr(builtins, e["type"], Exception)(e["message"])
            exc.__notes__ = list(e["traceback"])
            exc.invalid = t == "INVALID_MESSAGE"
            raise exc
        fail("unexpected reply type %s" % t)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--connect", required=True)
    ap.add_argument("--server", default="demo")
    ap.add_argument("--thing", default="demo")
    a = ap.parse_args()
    c = Client(a.server, a.thing, a.connect)
    out(step="handshake", tries=c.handshake())

    td = c.op("get_thing_description", "invokeaction",
              {"ignore_errors": False, "protocol": a.connect.split("://")[0].upper(), "skip_names": []})
    # What ClientFactory.zmq and the affordances' from_TD read.
    if td.get("id") != a.thing:
        fail("TD id %r" % td.get("id"))
    for kind in ("properties", "actions", "events"):
        for name, aff in td.get(kind, {}).items():
            for f in aff.get("forms", []):
                if not {"href", "op", "contentType"} <= set(f):
                    fail("TD %s %s form %r" % (kind, name, f))
    if td["properties"]["count"]["type"] != "number" or "sleep_for" not in td["actions"]:
        fail("TD content %r" % td)
    ev_href = td["events"]["tick"]["forms"][0]["href"]
    out(step="td", properties=list(td["properties"]), actions=sorted(td["actions"]), event_href=ev_href)

    # ZMQProperty.get sends the "invocation_timeout" typo
    v = c.op("count", "readproperty", sec={"invocation_timeout": 5.0, "execution_timeout": 5.0})
    if v != 1:
        fail("count = %r" % v)
    if c.op("count", "writeproperty", 42) is not None:
        fail("writeproperty reply")
    if c.op("count", "readproperty") != 42:
        fail("count after write")
    # ObjectProxy.read/write_multiple_properties: the _get/_set_properties actions
    c.op("_set_properties", "invokeaction", {"count": 43})
    if c.op("_get_properties", "invokeaction", {"names": ["count"]}) != {"count": 43}:
        fail("_get_properties")
    if c.op("_get_properties", "invokeaction", {}) != {"count": 43}:
        fail("_get_properties (all)")
    out(step="properties", ok=True)

    r = c.op("sleep_for", "invokeaction", {"seconds": 0.2})
    if r != {"slept": 0.2}:
        fail("sleep_for %r" % r)
    r = c.op("sleep_for", "invokeaction", {"__args__": [0.05]})
    if r != {"slept": 0.05}:
        fail("sleep_for positional %r" % r)
    out(step="actions", ok=True)

    try:
        c.op("fail", "invokeaction", {})
        fail("fail() did not raise")
    except ValueError as e:
        if str(e) != "deliberate failure from Demo.fail" or not e.__notes__:
            fail("exception %r %r" % (e, e.__notes__))
    try:
        c.op("nope", "readproperty")
        fail("unknown property did not raise")
    except KeyError:
        pass
    c.thing = "ghost"
    try:
        c.op("count", "readproperty", sec={})
        fail("unknown thing did not raise")
    except KeyError as e:
        if not e.invalid:
            fail("unknown thing: not INVALID_MESSAGE")
    c.thing = a.thing
    out(step="exceptions", ok=True)

    start = time.monotonic()
    try:
        c.op("sleep_for", "invokeaction", {"seconds": 3}, sec={"invokation_timeout": 5.0, "execution_timeout": 0.3})
        fail("no execution timeout")
    except TimeoutError as e:
        if e.args[0] != "execution":
            fail("timeout kind %r" % e.args[0])
    took = time.monotonic() - start
    # zmqgo frees the queue at the timeout; hololinked would block it for 3 s
    start = time.monotonic()
    c.op("count", "readproperty")
    out(step="timeout", execution_s=round(took, 3), next_reply_s=round(time.monotonic() - start, 3))

    # msgpack request payload (0x07 is 7)
    c.op("count", "writeproperty", ct="application/msgpack", payload=b"\x07")
    if c.op("count", "readproperty") != 7:
        fail("msgpack write")
    out(step="msgpack", ok=True)

    # events: SUB at the TD's href, topic "{thing}/{event}"
    if ev_href.startswith("tcp://"):
        ev_href = "tcp://" + a.connect[len("tcp://"):].rsplit(":", 1)[0] + ":" + ev_href.rsplit(":", 1)[1]
    sub = c.ctx.socket(zmq.SUB)
    sub.setsockopt_string(zmq.IDENTITY, "%s|tick|sync|%s" % (a.thing, uuid.uuid4().hex[:8]))
    sub.connect(ev_href)
    sub.setsockopt(zmq.SUBSCRIBE, (a.thing + "/tick").encode())
    got, deadline = None, time.monotonic() + 10
    while got is None and time.monotonic() < deadline:
        c.op("emit", "invokeaction", {"value": 7})
        if sub.poll(200):
            got = sub.recv_multipart()
    if got is None:
        fail("no event")
    h = json.loads(got[2])
    if got[0] != (a.thing + "/tick").encode() or h["messageType"] != "EVENT" or json.loads(got[3]) != {"value": 7}:
        fail("event %r" % got)
    # the last-value cache: a late subscriber gets the last value at once
    late = c.ctx.socket(zmq.SUB)
    late.connect(ev_href)
    late.setsockopt(zmq.SUBSCRIBE, (a.thing + "/tick").encode())
    lvc = late.recv_multipart() if late.poll(3000) else None
    out(step="events", header=h, last_value=json.loads(lvc[3]) if lvc else None)

    # oneway: the action runs, nothing is replied
    while sub.poll(100):
        sub.recv_multipart()
    mid = c.op("emit", "invokeaction", {"value": 8}, sec={"invokation_timeout": 5.0, "execution_timeout": 5.0,
                                                            "oneway": True})
    if c.recv(mid, 0.3) is not None:
        fail("oneway got a reply")
    if not sub.poll(3000) or json.loads(sub.recv_multipart()[3]) != {"value": 8}:
        fail("oneway emit did not run")
    out(step="oneway", ok=True)
    for s in (sub, late, c.sock):
        s.close(0)
    c.ctx.term()
    out(step="done")


if __name__ == "__main__":
    main()
