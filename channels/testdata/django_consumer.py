"""A real Django Channels consumer (Debian's python3-django 3.2 and
python3-django-channels 4.0) whose channel layer speaks django-message-
broker 0.2.1's protocol to a zmqgo channels server.

DMB's own layer needs msgspec 0.3 and tornado, which Debian lacks, so
DMBLayer below is a channel layer written for this test: it frames every
message as DMB's client does (two DEALERs, empty delimiter, msgpack), with
zmq.asyncio and msgpack.

    django_consumer.py tcp://HOST:PORT

Two websocket clients join the consumer's group "room"; one sends, both
get it. Then the script prints "joined" and waits for a line on stdin,
after which a message the Go side sent to the group must reach both.
Prints "ok" and exits 0 when all went well.
"""
import asyncio
import sys
import uuid

import django
import msgpack
import zmq
import zmq.asyncio
from django.conf import settings

ENDPOINT = sys.argv[1]
HOST, PORT = ENDPOINT[len("tcp://"):].rsplit(":", 1)

settings.configure(
    DEBUG=False,
    INSTALLED_APPS=["channels"],
    CHANNEL_LAYERS={"default": {
        "BACKEND": "__main__.DMBLayer",
        "CONFIG": {"ip_address": HOST, "port": int(PORT), "expiry": 60},
    }},
)
django.setup()

from asgiref.testing import ApplicationCommunicator  # noqa: E402
from channels.generic.websocket import AsyncJsonWebsocketConsumer  # noqa: E402
from channels.layers import BaseChannelLayer  # noqa: E402


def enc(v):
    return msgpack.packb(v, use_bin_type=True, datetime=True)


def dec(b):
    return msgpack.unpackb(b, raw=False, timestamp=3)


class DMBLayer(BaseChannelLayer):
    """The channel-layer API over DMB's wire protocol."""

    extensions = ["groups", "flush"]

    def __init__(self, expiry=60, group_expiry=86400, capacity=100, channel_capacity=None,
                 ip_address="127.0.0.1", port=5556):
        super().__init__(expiry=expiry, capacity=capacity, channel_capacity=channel_capacity)
        self.address = (ip_address, port)
        self.data = None

    def _start(self):
        if self.data is not None:
            return
        ctx = zmq.asyncio.Context.instance()
        self.data, self.sig = ctx.socket(zmq.DEALER), ctx.socket(zmq.DEALER)
        self.data.connect("tcp://%s:%d" % self.address)
        self.sig.connect("tcp://%s:%d" % (self.address[0], self.address[1] + 1))
        self.queues, self.waiting, self.subscribed = {}, {}, set()
        self.tasks = [asyncio.ensure_future(self._read(self.data, 6)), asyncio.ensure_future(self._read(self.sig, 3))]

    async def _read(self, sock, n):
        while True:
            frames = await sock.recv_multipart()
            frames = frames[1:]
            if len(frames) != n:
                continue
            if n == 6 and frames[1] == b"DELIVERY":
                self._queue(frames[0].decode()).put_nowait(dec(frames[5]))
                continue
            mid, cmd = (frames[2], frames[1]) if n == 6 else (frames[0], frames[1])
            fut = self.waiting.pop(mid, None)
            if fut and not fut.done():
                fut.set_result((cmd, frames))

    def _queue(self, name):
        if name not in self.queues:
            self.queues[name] = asyncio.Queue()
        return self.queues[name]

    async def _request(self, sock, frames, mid):
        fut = asyncio.get_running_loop().create_future()
        self.waiting[mid] = fut
        await sock.send_multipart([b""] + frames)
        cmd, reply = await asyncio.wait_for(fut, 10)
        if cmd == b"EXCEPTON":
            props = dec(reply[4] if len(reply) == 6 else reply[2])
            if props.get("exception", "").startswith("ChannelFull("):
                raise self.ChannelFull(props["exception"])
            raise RuntimeError(props.get("exception"))

    async def _data(self, channel, command, props, body):
        self._start()
        mid = uuid.uuid4().bytes
        props["ack"] = True
        await self._request(self.data, [channel.encode(), command, mid, enc(0), enc(props), enc(body) if body else b"{}"], mid)

    async def _signal(self, command, props):
        self._start()
        mid = uuid.uuid4().bytes
        props["ack"] = True
        await self._request(self.sig, [mid, command, enc(props)], mid)

    async def send(self, channel, message):
        assert self.valid_channel_name(channel)
        await self._data(channel, b"SENDCHAN", {"ttl": self.expiry}, message)

    async def receive(self, channel):
        assert self.valid_channel_name(channel)
        self._start()
        if channel not in self.subscribed:
            await self._data(channel, b"SUBCHANX", {"subscriber_name": channel.encode()}, None)
            self.subscribed.add(channel)
        return await self._queue(channel).get()

    async def new_channel(self, prefix="specific"):
        return "%s.py%s!%s" % (prefix, uuid.uuid4().hex[:8], uuid.uuid4().hex)

    async def group_add(self, group, channel):
        assert self.valid_group_name(group) and self.valid_channel_name(channel)
        await self._signal(b"GROUPADD", {"group_name": group.encode(), "channel_name": channel.encode()})

    async def group_discard(self, group, channel):
        await self._signal(b"GROUPDIS", {"group_name": group.encode(), "channel_name": channel.encode()})

    async def group_send(self, group, message):
        assert self.valid_group_name(group)
        await self._data(group, b"SENDGRPX", {"ttl": self.expiry}, message)

    async def flush(self):
        await self._signal(b"FLUSHXXX", {})

    async def close(self):
        pass


class Chat(AsyncJsonWebsocketConsumer):
    groups = ["room"]  # channels adds the consumer to it on connect

    async def receive_json(self, content):
        await self.channel_layer.group_send("room", {"type": "chat.message", "text": content["text"]})

    async def chat_message(self, event):
        await self.send_json({"text": event["text"]})


async def client():
    c = ApplicationCommunicator(Chat.as_asgi(), {"type": "websocket", "path": "/ws/", "headers": [], "subprotocols": [], "query_string": b""})
    await c.send_input({"type": "websocket.connect"})
    m = await c.receive_output(10)
    assert m["type"] == "websocket.accept", m
    return c


async def text_of(c):
    m = await c.receive_output(10)
    assert m["type"] == "websocket.send", m
    return m["text"]


async def main():
    a, b = await client(), await client()
    await a.send_input({"type": "websocket.receive", "text": '{"text": "hello room"}'})
    for c in (a, b):
        got = await text_of(c)
        assert got == '{"text": "hello room"}', got
    print("joined", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    for c in (a, b):
        got = await text_of(c)
        assert got == '{"text": "from go"}', got
    for c in (a, b):
        await c.send_input({"type": "websocket.disconnect", "code": 1000})
        await c.wait(5)
    print("ok", flush=True)


asyncio.run(main())
