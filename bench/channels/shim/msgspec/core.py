import datetime

import msgpack


def _default(obj):
    if isinstance(obj, datetime.datetime):
        return msgpack.Timestamp.from_unix(obj.timestamp())
    raise TypeError("cannot encode %r" % type(obj))


def _ext(code, data):
    if code == -1:
        return datetime.datetime.fromtimestamp(msgpack.Timestamp.from_bytes(data).to_unix())
    return msgpack.ExtType(code, data)


def encode(obj):
    return msgpack.packb(obj, use_bin_type=True, default=_default)


def decode(buf):
    u = msgpack.Unpacker(raw=False, ext_hook=_ext, strict_map_key=False)
    u.feed(buf)
    return u.unpack()  # msgspec 0.3.2 ignored what followed
