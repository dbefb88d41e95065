"""Runs django-message-broker 0.2.1's own server (ChannelsServer) from a
source tree, under Python 3.11, for the benchmark.

    dmb_server.py DMB_SOURCE_DIR PORT

Two shims, nothing else changed: msgspec 0.3.2 (absent from Debian) from
shim/, and asyncio.wait given tasks where DMB passes bare coroutines
(Python 3.11 refuses those, and DMB's queues never deliver)."""
import asyncio
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "shim"))
sys.path.insert(0, sys.argv[1])

_wait = asyncio.wait


async def wait(fs, *args, **kwargs):
    return await _wait([asyncio.ensure_future(f) for f in fs], *args, **kwargs)


asyncio.wait = wait  # before DMB's "from asyncio import wait"

from django_message_broker.server.channels_server import ChannelsServer  # noqa: E402

print("dmb server on", sys.argv[2], flush=True)
ChannelsServer(ip_address="127.0.0.1", port=int(sys.argv[2])).start()
