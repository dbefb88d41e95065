#!/usr/bin/python3
"""A bare pyzmq client of hololinked's ZMQ RPC, for trying rpcthing without
hololinked installed. It sends what hololinked's client sends.

  client.py --connect ADDR [--server ID] THING read PROPERTY
  client.py --connect ADDR [--server ID] THING write PROPERTY JSON
  client.py --connect ADDR [--server ID] THING invoke ACTION [JSON-OBJECT]

Prints the reply's messageType and payload; exits 1 unless it is REPLY.
"""
import argparse
import json
import sys
import uuid

import zmq


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--connect", required=True)
    ap.add_argument("--server")
    ap.add_argument("thing")
    ap.add_argument("op", choices=["read", "write", "invoke"])
    ap.add_argument("name")
    ap.add_argument("value", nargs="?")
    a = ap.parse_args()
    server = a.server or a.thing
    me = "%s|%s|%s|%s|sync" % (server, a.thing, a.connect, uuid.uuid4().hex[:8])
    sock = zmq.Context.instance().socket(zmq.ROUTER)
    sock.setsockopt_string(zmq.IDENTITY, me)
    sock.connect(a.connect)

    def send(mtype, objekt="", op="", payload=b"null"):
        mid = str(uuid.uuid4())
        header = {"messageType": mtype, "messageID": mid, "senderID": me, "receiverID": server,
                  "serverExecutionContext": {"invokation_timeout": 5.0, "execution_timeout": 5.0},
                  "thingExecutionContext": {"fetch_execution_logs": False}, "thingID": a.thing,
                  "objekt": objekt, "operation": op, "payloadContentType": "application/json",
                  "preencodedPayloadContentType": "text/plain"}
        sock.send_multipart([server.encode(), b"", json.dumps(header).encode(), payload, b""])
        return mid

    def recv(mid, ms):
        while sock.poll(ms):
            frames = sock.recv_multipart()
            h = json.loads(frames[2])
            if h["messageID"] == mid:
                return h["messageType"], frames[3]
        return None

    for _ in range(20):  # HANDSHAKE every 500 ms until answered, as hololinked's client
        if recv(send("HANDSHAKE"), 500):
            break
    else:
        sys.exit("no handshake reply")
    op = {"read": "readproperty", "write": "writeproperty", "invoke": "invokeaction"}[a.op]
    default = b"{}" if a.op == "invoke" else b"null"
    reply = recv(send("OPERATION", a.name, op, a.value.encode() if a.value else default), 15000)
    if reply is None:
        sys.exit("no reply")
    print(reply[0], reply[1].decode())
    sys.exit(0 if reply[0] == "REPLY" else 1)


if __name__ == "__main__":
    main()
