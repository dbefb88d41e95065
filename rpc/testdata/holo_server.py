#!/usr/bin/python3
"""A pyzmq server that replies as hololinked 0.3.12's RPC server does.

hololinked is not installable here, so this stands in for it in zmqgo's
tests and benchmark. It follows the observed protocol (zmqgo's
rpc/testdata/hololinked-frames.txt) and the shape of hololinked's asyncio
server loop (core/zmq/rpc_server.py): a receive loop that parses each JSON
header strictly, starts an invocation-timeout task per request and queues a
job; a per-Thing coordinator that releases the job, starts an
execution-timeout task and hands the operation to the Thing's runner; the
runner deserializes the payload, executes and serializes the reply. One
request per Thing at a time (hololinked's QueuedScheduler).

Serves the demo Thing: property count, actions sleep_for, fail, emit, event
tick; get_thing_description; EXIT stops it (as hololinked does).

Usage: holo_server.py --bind tcp://127.0.0.1:0|ipc://PATH.ipc [--id demo]
Prints {"requests": EP, "events": EP} on stdout once bound.
"""
import argparse
import asyncio
import json
import socket
import sys
import traceback
import uuid

import msgpack
import zmq
import zmq.asyncio

REQUEST_KEYS = ["messageType", "messageID", "senderID", "receiverID", "serverExecutionContext",
                "thingExecutionContext", "thingID", "objekt", "operation", "payloadContentType",
                "preencodedPayloadContentType"]
REQUIRED = REQUEST_KEYS[:4]
DEFAULT_SEC = {"invokationTimeout": 5, "executionTimeout": 5, "oneway": False}


def dumps(v):
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False).encode()


def loads(b, content_type):
    if content_type == "application/msgpack":
        return msgpack.unpackb(b)
    if content_type == "text/plain":
        return b.decode()
    return json.loads(b) if b else None


class Demo:
    id = "demo"

    def __init__(self, server):
        self.server = server
        self.count = 1

    async def sleep_for(self, seconds=0.1):
        await asyncio.sleep(seconds)
        return {"slept": seconds}

    async def fail(self):
        raise ValueError("deliberate failure from Demo.fail")

    async def emit(self, value=0):
        self.server.publish(self.id + "/tick", {"value": value})
        return value

    async def ping(self):
        return None

    # every hololinked Thing has these two actions (core/meta.py); its
    # client reads and writes several properties through them
    async def _get_properties(self, **kwargs):
        if not kwargs:
            return {"count": self.count}
        names = kwargs.get("names")
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",")]
        out = {}
        for n in names or []:
            if n != "count":
                raise AttributeError("property %s does not exist" % n)
            out[n] = self.count
        return out

    async def _set_properties(self, **values):
        for n, v in values.items():
            if n != "count":
                raise AttributeError("property %s does not exist" % n)
            self.count = v


class Server:
    def __init__(self, sid, bind):
        self.id = sid
        self.ctx = zmq.asyncio.Context()
        self.router = self.ctx.socket(zmq.ROUTER)
        self.router.setsockopt_string(zmq.IDENTITY, sid)
        self.pub = self.ctx.socket(zmq.PUB)
        self.pub.setsockopt_string(zmq.IDENTITY, sid + "/event-publisher")
        if bind.startswith("ipc://"):
            # hololinked's layout: NAME.ipc and NAME.event-publisher.ipc
            self.req_ep = bind
            self.ev_ep = bind[:-len(".ipc")] + ".event-publisher.ipc" if bind.endswith(".ipc") else bind + ".events"
            self.router.bind(self.req_ep)
            self.pub.bind(self.ev_ep)
        else:
            host, port = bind[len("tcp://"):].rsplit(":", 1)
            port = int(port)
            while True:
                if port == 0:
                    p = self.router.bind_to_random_port("tcp://" + host)
                else:
                    self.router.bind(bind)
                    p = port
                try:
                    self.pub.bind("tcp://%s:%d" % (host, p + 1))
                    break
                except zmq.ZMQError:
                    if port:
                        raise
                    self.router.unbind(self.router.getsockopt_string(zmq.LAST_ENDPOINT))
            self.req_ep = "tcp://%s:%d" % (host, p)
            self.ev_ep = "tcp://%s:%d" % (host, p + 1)
        self.thing = Demo(self)
        self.queue = asyncio.Queue()
        self.run = True

    def publish(self, topic, value):
        header = {"messageType": "EVENT", "messageID": str(uuid.uuid4()), "senderID": self.id + "/event-publisher",
                  "eventID": topic, "payloadContentType": "application/json",
                  "preencodedPayloadContentType": "text/plain"}
        self.pub.send_multipart([topic.encode(), b"", dumps(header), dumps(value), b""])

    async def send(self, req, mtype, payload, pre=b""):
        header = {"messageType": mtype, "messageID": req["messageID"], "receiverID": req["senderID"],
                  "senderID": self.id, "payloadContentType": "application/json",
                  "preencodedPayloadContentType": "text/plain"}
        await self.router.send_multipart([req["senderID"].encode(), b"", dumps(header), payload, pre])

    async def send_exception(self, req, mtype, ex, tb=None):
        payload = {"exception": {"message": str(ex), "type": type(ex).__name__,
                                 "traceback": tb or ["NoneType: None"], "notes": None}}
        await self.send(req, mtype, dumps(payload))

    async def timeout(self, req, event, seconds, kind):
        # hololinked's _process_timeouts
        try:
            await asyncio.wait_for(event.wait(), seconds)
            return False
        except asyncio.TimeoutError:
            await self.send(req, "TIMEOUT", dumps(kind))
            return True

    async def receive(self):
        loop = asyncio.get_running_loop()
        while self.run:
            frames = await self.router.recv_multipart()
            try:
                header = json.loads(frames[2])
                # msgspec Struct(**header): unknown or missing keys fail (no reply)
                if set(header) - set(REQUEST_KEYS) or any(k not in header for k in REQUIRED):
                    raise TypeError("bad header keys")
                header.setdefault("serverExecutionContext", DEFAULT_SEC)
            except Exception:
                continue
            if len(frames) != 5:
                await self.send_exception(header, "INVALID_MESSAGE", ValueError(
                    "message length 5 does not match the number of message parts %d" % len(frames)))
                continue
            mtype = header["messageType"]
            if mtype == "HANDSHAKE":
                await self.send(header, "HANDSHAKE", b"null")
                continue
            if mtype == "EXIT":
                self.run = False
                break
            try:
                sec = header["serverExecutionContext"]
                inv = sec.get("invokation_timeout", None)
                event = task = None
                if inv is not None:
                    event = asyncio.Event()
                    task = loop.create_task(self.timeout(header, event, inv, "invokation"))
                if header.get("thingID") != self.thing.id:
                    raise KeyError(header.get("thingID"))
                self.queue.put_nowait((header, frames[3], frames[4], task, event))
            except Exception as ex:
                loop.create_task(self.send_exception(header, "INVALID_MESSAGE", ex))

    async def coordinate(self):
        # hololinked's tunnel_message_to_things + run_thing_instance
        loop = asyncio.get_running_loop()
        while self.run:
            header, payload, pre, task, event = await self.queue.get()
            sec = header["serverExecutionContext"]
            if event is not None:
                event.set()
                if await task:
                    continue
            exe = sec.get("execution_timeout", None)
            done = etask = None
            if exe is not None:
                done = asyncio.Event()
                etask = loop.create_task(self.timeout(header, done, exe, "execution"))
            runner = loop.create_task(self.execute(header, payload, pre))
            reply = await runner
            if done is not None:
                done.set()
                if await etask:
                    continue
            if sec.get("oneway", False):
                continue
            await self.send(header, *reply)

    async def execute(self, header, payload, pre):
        t = self.thing
        objekt, op = header.get("objekt", ""), header.get("operation", "")
        try:
            value = loads(payload, header.get("payloadContentType", "application/json"))
            if op == "readproperty":
                if objekt != "count":
                    raise KeyError(objekt)
                result = t.count
            elif op == "writeproperty":
                if objekt != "count":
                    raise KeyError(objekt)
                t.count = pre if pre else value
                result = None
            elif op == "invokeaction" and objekt == "get_thing_description":
                result = self.td((value or {}).get("protocol", "IPC"))
            elif op == "invokeaction":
                kwargs = dict(value or {})
                args = tuple(kwargs.pop("__args__", ()))
                if pre:
                    args = (pre,) + args
                if objekt not in ("sleep_for", "fail", "emit", "ping", "_get_properties", "_set_properties"):
                    raise KeyError(objekt)
                result = await getattr(t, objekt)(*args, **kwargs)
            elif op in ("readmultipleproperties", "readallproperties"):
                result = {"count": t.count}
            else:
                raise NotImplementedError("Unimplemented execution path for Thing %s for operation %s" % (t.id, op))
            return "REPLY", dumps(result)
        except Exception as ex:
            payload = {"exception": {"message": str(ex), "type": type(ex).__name__,
                                     "traceback": traceback.format_exc().splitlines(), "notes": None}}
            return "EXCEPTION", dumps(payload)

    def td(self, protocol):
        host = socket.gethostname()
        req = self.req_ep.replace("0.0.0.0", host)
        ev = self.ev_ep.replace("0.0.0.0", host)

        def form(op, href=req):
            return {"href": href, "op": op, "contentType": "application/json"}
        return {
            "context": ["https://www.w3.org/2022/wot/td/v1.1"], "id": "demo", "title": "Demo",
            "properties": {"count": {"description": "a plain number property", "default": 1, "type": "number",
                                     "forms": [form("readproperty"), form("writeproperty")]}},
            "actions": {n: {"synchronous": True, "forms": [form("invokeaction")]}
                        for n in ("emit", "fail", "sleep_for", "ping", "get_thing_model")},
            "events": {"tick": {"forms": [form("subscribeevent", ev)]}},
        }


async def echo(bind):
    # rpcbench's floor: a ROUTER under asyncio returning every message as it came
    ctx = zmq.asyncio.Context()
    router = ctx.socket(zmq.ROUTER)
    if bind.startswith("tcp://") and bind.endswith(":0"):
        p = router.bind_to_random_port(bind[:-2])
        bind = bind[:-1] + str(p)
    else:
        router.bind(bind)
    print(json.dumps({"requests": bind}), flush=True)
    while True:
        await router.send_multipart(await router.recv_multipart())


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bind", default="tcp://127.0.0.1:0")
    ap.add_argument("--id", default="demo")
    ap.add_argument("--echo", action="store_true", help="only echo messages (rpcbench's floor)")
    a = ap.parse_args()
    if a.echo:
        await echo(a.bind)
        return
    s = Server(a.id, a.bind)
    print(json.dumps({"requests": s.req_ep, "events": s.ev_ep}), flush=True)
    coord = asyncio.get_running_loop().create_task(s.coordinate())
    await s.receive()
    coord.cancel()
    s.router.close(0)
    s.pub.close(0)
    s.ctx.term()


if __name__ == "__main__":
    asyncio.run(main())
