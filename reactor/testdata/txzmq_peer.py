#!/usr/bin/python3
"""A txZMQ 0.8 peer for the reactor package's interop tests.

Runs one txZMQ connection of the given kind under the Twisted reactor and
is remote-controlled over stdin/stdout, one JSON object per line; every
bytes value travels as base64.

    txzmq_peer.py KIND [--bind ADDR]... [--connect ADDR]... [--identity ID]
                       [--subscribe TAG]... [--timeout SECONDS]

KIND is pub, sub, push, pull, req, rep, router or dealer. Once its
endpoints are set up it prints {"event": "ready", "endpoints": [...]}, with
bound wildcard ports resolved. Commands (stdin) run in order, each answered by
{"event": "ack", "seq": N} when it carries "seq"; a send that finds no peer
yet (EAGAIN) is retried every 10 ms for up to 10 s:

    {"op": "publish", "message": B, "tag": B}           pub
    {"op": "subscribe", "tag": B} / "unsubscribe"       sub
    {"op": "push", "parts": [B...]}                      push
    {"op": "request", "ref": R, "parts": [B...], "timeout": S|null}   req
    {"op": "reply", "id": B, "parts": [B...]}            rep
    {"op": "send_msg", "recipient": B, "message": B}     router
    {"op": "send_msg", "message": B}                     dealer
    {"op": "send_multipart", ["recipient": B,] "parts": [B...]}
    {"op": "send", "parts": [B...]}                      any: raw ZmqConnection.send
    {"op": "quit"}

Events (stdout): "message" {tag, message} (sub), "pull" {parts}, "reply"
{ref, parts} or "request_error" {ref, error} (req), "request" {id, parts}
(rep), "router" {sender, parts}, "dealer" {parts}, "error" {error}.
End of input shuts the peer down too.
"""
import argparse
import base64
import collections
import json
import sys

from twisted.internet import reactor, stdio
from twisted.protocols.basic import LineReceiver

import zmq
from txzmq import (ZmqEndpoint, ZmqEndpointType, ZmqFactory,
                   ZmqPubConnection, ZmqSubConnection, ZmqPushConnection,
                   ZmqPullConnection, ZmqREQConnection, ZmqREPConnection,
                   ZmqRouterConnection, ZmqDealerConnection)


def b64(b):
    return base64.b64encode(b).decode('ascii')


def unb64(s):
    return base64.b64decode(s)


control = None


def emit(**event):
    control.transport.write(json.dumps(event).encode() + b'\n')


class Sub(ZmqSubConnection):
    def gotMessage(self, message, tag):
        emit(event='message', tag=b64(tag), message=b64(message))


class Pull(ZmqPullConnection):
    def onPull(self, message):
        emit(event='pull', parts=[b64(p) for p in message])


class Rep(ZmqREPConnection):
    def gotMessage(self, messageId, *messageParts):
        emit(event='request', id=b64(messageId),
             parts=[b64(p) for p in messageParts])


class Router(ZmqRouterConnection):
    def gotMessage(self, sender, *parts):
        emit(event='router', sender=b64(sender), parts=[b64(p) for p in parts])


class Dealer(ZmqDealerConnection):
    def gotMessage(self, *parts):
        emit(event='dealer', parts=[b64(p) for p in parts])


KINDS = {
    'pub': ZmqPubConnection, 'sub': Sub, 'push': ZmqPushConnection,
    'pull': Pull, 'req': ZmqREQConnection, 'rep': Rep,
    'router': Router, 'dealer': Dealer,
}


class Control(LineReceiver):
    delimiter = b'\n'
    MAX_LENGTH = 1 << 26
    RETRIES = 1000  # 10 ms apart

    def __init__(self, factory, conn):
        self.factory = factory
        self.conn = conn
        self.stopping = False
        self.queue = collections.deque()
        self.retrying = False

    def lineReceived(self, line):
        if line.strip():
            self.queue.append(json.loads(line))
            if not self.retrying:
                self.drain()

    def drain(self, tries=0):
        """Run queued commands in order. A send that finds no peer yet
        (txZMQ sends with NOBLOCK: EAGAIN while nobody has connected to a
        bound peer) is retried, holding up the commands behind it."""
        self.retrying = False
        while self.queue:
            cmd = self.queue[0]
            try:
                self.execute(cmd)
            except zmq.Again:
                if tries < self.RETRIES:
                    self.retrying = True
                    reactor.callLater(0.01, self.drain, tries + 1)
                    return
                emit(event='error', error='EAGAIN after retries: %r' % cmd)
            except Exception as e:  # report, keep serving
                emit(event='error', error=repr(e))
            tries = 0
            self.queue.popleft()
            if 'seq' in cmd:
                emit(event='ack', seq=cmd['seq'])

    def execute(self, cmd):
        op, c = cmd['op'], self.conn
        parts = [unb64(p) for p in cmd.get('parts', [])]
        if op == 'publish':
            c.publish(unb64(cmd['message']), unb64(cmd['tag']))
        elif op == 'subscribe':
            c.subscribe(unb64(cmd['tag']))
        elif op == 'unsubscribe':
            c.unsubscribe(unb64(cmd['tag']))
        elif op == 'push':
            c.push(parts)
        elif op == 'request':
            ref = cmd['ref']
            d = c.sendMsg(*parts, timeout=cmd.get('timeout'))
            d.addCallbacks(
                lambda reply: emit(event='reply', ref=ref,
                                   parts=[b64(p) for p in reply]),
                lambda failure: emit(event='request_error', ref=ref,
                                     error=failure.getErrorMessage() or
                                     failure.type.__name__))
        elif op == 'reply':
            c.reply(unb64(cmd['id']), *parts)
        elif op == 'send_msg':
            if 'recipient' in cmd:
                c.sendMsg(unb64(cmd['recipient']), unb64(cmd['message']))
            else:
                c.sendMsg(unb64(cmd['message']))
        elif op == 'send_multipart':
            if 'recipient' in cmd:
                c.sendMultipart(unb64(cmd['recipient']), parts)
            else:
                c.sendMultipart(parts)
        elif op == 'send':
            c.send(parts)
        elif op == 'quit':
            self.stop()
        else:
            raise ValueError('unknown op %r' % op)

    def stop(self):
        if self.stopping:
            return
        self.stopping = True
        # Let the reactor write what is queued, then go.
        reactor.callLater(0, self.factory.shutdown)
        reactor.callLater(0, reactor.stop)

    def connectionLost(self, reason):
        self.queue.clear()
        self.stop()


def main():
    global control
    ap = argparse.ArgumentParser()
    ap.add_argument('kind', choices=sorted(KINDS))
    ap.add_argument('--bind', action='append', default=[])
    ap.add_argument('--connect', action='append', default=[])
    ap.add_argument('--identity')
    ap.add_argument('--subscribe', action='append', default=[])
    ap.add_argument('--timeout', type=float,
                    help='default request timeout (req)')
    args = ap.parse_args()

    factory = ZmqFactory()
    factory.registerForShutdown()
    cls = KINDS[args.kind]
    if args.timeout is not None:
        cls.defaultRequestTimeout = args.timeout
    identity = args.identity.encode() if args.identity else None
    conn = cls(factory, identity=identity)
    endpoints = []
    for addr in args.bind:
        conn.addEndpoints([ZmqEndpoint(ZmqEndpointType.bind, addr)])
        endpoints.append(conn.socket.getsockopt(zmq.LAST_ENDPOINT).decode())
    for addr in args.connect:
        conn.addEndpoints([ZmqEndpoint(ZmqEndpointType.connect, addr)])
        endpoints.append(addr)
    for tag in args.subscribe:
        conn.subscribe(tag.encode())

    control = Control(factory, conn)
    stdio.StandardIO(control)
    emit(event='ready', endpoints=endpoints, kind=args.kind)
    reactor.run()


if __name__ == '__main__':
    sys.exit(main())
