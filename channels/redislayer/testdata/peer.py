# A channels_redis RedisChannelLayer driven by JSON lines on stdin, for the
# Go interop tests. argv[1] is a JSON object of RedisChannelLayer keyword
# arguments. Each request line {"op": ..., ...} gets one reply line
# {"ok": ...} or {"error": "ExceptionName: text"}. Bytes travel as
# {"$bytes": "hex"}.
import asyncio
import json
import sys

import msgpack
from channels.exceptions import ChannelFull
from channels_redis.core import RedisChannelLayer
from channels_redis.utils import _consistent_hash


def from_json(v):
    if isinstance(v, dict):
        if set(v) == {"$bytes"}:
            return bytes.fromhex(v["$bytes"])
        return {k: from_json(x) for k, x in v.items()}
    if isinstance(v, list):
        return [from_json(x) for x in v]
    return v


def sorted_dicts(v):
    if isinstance(v, dict):
        return {k: sorted_dicts(v[k]) for k in sorted(v)}
    if isinstance(v, list):
        return [sorted_dicts(x) for x in v]
    return v


def described(msg):
    # The message re-packed (so Go can compare exact types) and each
    # top-level value's Python type.
    return {
        "packed": msgpack.packb(sorted_dicts(msg), use_bin_type=True).hex(),
        "types": {k: type(v).__name__ for k, v in msg.items()},
    }


async def handle(layer, req):
    op = req["op"]
    if op == "new_channel":
        return await layer.new_channel(req.get("prefix", "specific"))
    if op == "send":
        await layer.send(req["channel"], from_json(req["msg"]))
        return True
    if op == "receive":
        msg = await asyncio.wait_for(layer.receive(req["channel"]), req.get("timeout", 5))
        return described(msg)
    if op == "group_add":
        await layer.group_add(req["group"], req["channel"])
        return True
    if op == "group_discard":
        await layer.group_discard(req["group"], req["channel"])
        return True
    if op == "group_send":
        await layer.group_send(req["group"], from_json(req["msg"]))
        return True
    if op == "flush":
        await layer.flush()
        return True
    if op == "pack":
        return layer.serialize(sorted_dicts(from_json(req["msg"])))[12:].hex()
    if op == "unpack":
        return described(layer.deserialize(bytes.fromhex(req["data"])))
    if op == "hash":
        return _consistent_hash(req["value"], req["ring"])
    if op == "time_group_send":
        # n group sends, timed here so process start-up is not counted.
        import time
        t0 = time.perf_counter()
        for _ in range(req["n"]):
            await layer.group_send(req["group"], from_json(req["msg"]))
        return time.perf_counter() - t0
    if op == "time_send_receive":
        import time
        t0 = time.perf_counter()
        for i in range(req["n"]):
            await layer.send(req["channel"], {"type": "x", "i": i})
            await layer.receive(req["channel"])
        return time.perf_counter() - t0
    if op == "group_key":
        return layer._group_key(req["group"]).decode()
    raise ValueError("unknown op " + op)


async def main():
    layer = RedisChannelLayer(**json.loads(sys.argv[1]))
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        req = json.loads(line)
        try:
            reply = {"ok": await handle(layer, req)}
        except asyncio.TimeoutError:
            reply = {"error": "TimeoutError"}
        except ChannelFull:
            reply = {"error": "ChannelFull"}
        except Exception as e:  # reported to the Go test
            reply = {"error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
    await layer.close_pools()


asyncio.run(main())
