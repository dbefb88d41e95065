"""A pyzmq DEALER that sends the broker each message given on the command
line and prints each reply's JSON on stdout, one a line.

Each argument is a message: frames separated by '|'; a frame "N*c" is the
character c repeated N times. A message given as "cut:..." expects no
reply (the broker cuts the connection): the script prints "cut" once the
DEALER has reconnected and a ping is answered again.
"""
import json
import sys

import zmq


def frames(spec):
    out = []
    for f in spec.split("|") if spec else [""]:
        if "*" in f and f.split("*", 1)[0].isdigit():
            n, c = f.split("*", 1)
            out.append(c.encode() * int(n))
        else:
            out.append(f.encode())
    return out


def main():
    addr = sys.argv[1]
    ctx = zmq.Context()
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.RCVTIMEO, 20000)
    s.connect(addr)
    for spec in sys.argv[2:]:
        if spec.startswith("cut:"):
            s.send_multipart(frames(spec[4:]))
            # A ping may be lost with the connection: ask until one is
            # answered on the new connection.
            done = False
            while not done:
                s.send(b'{"type":"ping"}')
                while s.poll(500):
                    if json.loads(s.recv_multipart()[-1])["type"] == "pong":
                        done = True
                        break
            print("cut", flush=True)
            continue
        s.send_multipart(frames(spec))
        print(s.recv_multipart()[-1].decode(), flush=True)
    s.close()
    ctx.term()


main()
