"""DMB 0.2.1's own channel layer (django_message_broker.ChannelsServerLayer),
unchanged, against a server. DMB needs msgspec 0.3.2 (not in Debian: the
shim in bench/channels/shim stands in for it) and tornado (python3-tornado).

    dmb_layer.py DMB_SOURCE_DIR HOST:PORT

Prints "ok" when every step passed.
"""
import asyncio
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "bench", "channels", "shim"))
sys.path.insert(0, sys.argv[1])

from django_message_broker import ChannelsServerLayer  # noqa: E402

host, port = sys.argv[2].rsplit(":", 1)


async def main():
    layer = ChannelsServerLayer(ip_address=host, port=int(port))
    await layer.send("dmb.test", {"type": "hello", "n": 1})
    m = await asyncio.wait_for(layer.receive("dmb.test"), 10)
    assert m == {"type": "hello", "n": 1}, m
    ch = await layer.new_channel()
    await asyncio.wait_for(layer.group_add("dmb.group", ch), 10)
    await layer.group_send("dmb.group", {"type": "grp"})
    m = await asyncio.wait_for(layer.receive(ch), 10)
    assert m == {"type": "grp"}, m
    # From Go, through the group (the test sends on "go.ready").
    await asyncio.wait_for(layer.group_add("mixed", ch), 10)
    print("joined", ch, flush=True)
    m = await asyncio.wait_for(layer.receive(ch), 10)
    assert m == {"type": "from.go", "n": 2}, m
    await asyncio.wait_for(layer.group_discard("dmb.group", ch), 10)
    # A signalling request the server refuses (a name channels forbids).
    # When a handler of DMB's own server failed, it echoed the request and
    # this await never returned; our EXCEPTON releases it.
    await asyncio.wait_for(layer._group_add(b"bad group", b"x"), 10)
    await layer.flush()
    print("ok", flush=True)


asyncio.run(main())
