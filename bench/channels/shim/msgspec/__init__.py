"""Stand-in for msgspec 0.3.2, which Debian lacks: the msgpack encoding it
produced (bytes as bin, datetimes as the timestamp extension from
dt.timestamp(), naive local datetimes back; trailing bytes ignored), made
with python3-msgpack. Only for running DMB's server in the benchmark."""
