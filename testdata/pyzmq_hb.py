"""A libzmq (pyzmq) PAIR peer with ZMTP heartbeats, for zmqgo's heartbeat tests.

usage: pyzmq_hb.py bind|connect ENDPOINT IVL_MS TIMEOUT_MS TTL_MS SECONDS

Prints "READY <endpoint>", then echoes every message back, and prints
"EVENT <name>" for connection events of its socket (from a libzmq monitor),
until SECONDS pass or stdin closes. Exits 0.
"""
import sys
import threading
import time

import zmq
import zmq.utils.monitor as zmon


def main():
    mode, ep, ivl, tmo, ttl, secs = sys.argv[1:7]
    ctx = zmq.Context()
    s = ctx.socket(zmq.PAIR)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.HEARTBEAT_IVL, int(ivl))
    s.setsockopt(zmq.HEARTBEAT_TIMEOUT, int(tmo))
    s.setsockopt(zmq.HEARTBEAT_TTL, int(ttl))
    mon = s.get_monitor_socket(zmq.EVENT_CONNECTED | zmq.EVENT_ACCEPTED | zmq.EVENT_DISCONNECTED
                               | zmq.EVENT_HANDSHAKE_SUCCEEDED)
    if mode == "bind":
        s.bind(ep)
        ep = s.getsockopt(zmq.LAST_ENDPOINT).decode()
    else:
        s.connect(ep)
    print("READY", ep, flush=True)
    done = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    poller = zmq.Poller()
    poller.register(s, zmq.POLLIN)
    poller.register(mon, zmq.POLLIN)
    end = time.monotonic() + float(secs)
    while not done.is_set() and time.monotonic() < end:
        for sock, _ in poller.poll(50):
            if sock is s:
                s.send_multipart(s.recv_multipart())
            else:
                ev = zmon.recv_monitor_message(mon)
                name = {zmq.EVENT_CONNECTED: "CONNECTED", zmq.EVENT_ACCEPTED: "ACCEPTED",
                        zmq.EVENT_DISCONNECTED: "DISCONNECTED",
                        zmq.EVENT_HANDSHAKE_SUCCEEDED: "HANDSHAKE_SUCCEEDED"}.get(ev["event"], str(ev["event"]))
                print("EVENT", name, flush=True)
    s.disable_monitor()
    mon.close()
    s.close()
    ctx.term()


if __name__ == "__main__":
    main()
