#!/usr/bin/python3
"""A txZMQ client of the broker, written for the router-dealer pattern's
protocol as a Twisted program would be, for the broker's interop test.

    txzmq_client.py --connect ENDPOINT [--identity ID] [--plain USER:PASS]

BrokerClient below is the client proper: a ZmqDealerConnection that sends
one JSON frame per request and decodes what comes back. The rest drives
it from the test: commands on stdin, one per line,

    register NAME
    direct TARGET TEXT...
    broadcast TEXT...
    list
    ping
    raw TEXT...          (sent as it is: bad input)
    quit

and every message from the broker printed on stdout as one JSON line,
after a first line "ready".
"""
import argparse
import json
import sys

from twisted.internet import reactor, stdio
from twisted.protocols.basic import LineReceiver

import zmq
from txzmq import ZmqEndpoint, ZmqEndpointType, ZmqFactory, ZmqDealerConnection


class BrokerClient(ZmqDealerConnection):
    """A client of the message broker."""

    def __init__(self, factory, endpoint, on_message, identity=None, plain=None):
        self.plain = plain
        ZmqDealerConnection.__init__(self, factory, endpoint, identity=identity)
        self.on_message = on_message

    def addEndpoints(self, endpoints):
        # Security options must be set before the socket connects.
        if self.plain:
            user, _, password = self.plain.partition(':')
            self.socket.plain_username = user.encode()
            self.socket.plain_password = password.encode()
        ZmqDealerConnection.addEndpoints(self, endpoints)

    def send_json(self, obj):
        self.sendMsg(json.dumps(obj).encode('utf-8'))

    def register(self, name):
        self.send_json({'type': 'register', 'name': name})

    def direct(self, target, content):
        self.send_json({'type': 'direct_message', 'target': target, 'content': content})

    def broadcast(self, content):
        self.send_json({'type': 'broadcast', 'content': content})

    def list_clients(self):
        self.send_json({'type': 'list_clients'})

    def ping(self):
        self.send_json({'type': 'ping'})

    def gotMessage(self, *parts):
        self.on_message(json.loads(parts[-1].decode('utf-8')))


def emit(obj):
    sys.stdout.write(json.dumps(obj, sort_keys=True) + '\n')
    sys.stdout.flush()


class Control(LineReceiver):
    delimiter = b'\n'

    def __init__(self, factory, client):
        self.factory = factory
        self.client = client
        self.stopping = False

    def lineReceived(self, line):
        words = line.decode('utf-8').split(' ')
        op, rest = words[0], words[1:]
        c = self.client
        try:
            if op == 'register':
                c.register(rest[0])
            elif op == 'direct':
                c.direct(rest[0], ' '.join(rest[1:]))
            elif op == 'broadcast':
                c.broadcast(' '.join(rest))
            elif op == 'list':
                c.list_clients()
            elif op == 'ping':
                c.ping()
            elif op == 'raw':
                c.sendMsg(' '.join(rest).encode('utf-8'))
            elif op == 'quit':
                self.stop()
            elif op:
                emit({'test_error': 'unknown command %r' % op})
        except zmq.Again:
            emit({'test_error': 'EAGAIN'})

    def stop(self):
        if self.stopping:
            return
        self.stopping = True
        reactor.callLater(0, self.factory.shutdown)
        reactor.callLater(0, reactor.stop)

    def connectionLost(self, reason):
        self.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--connect', required=True)
    ap.add_argument('--identity')
    ap.add_argument('--plain')
    args = ap.parse_args()
    factory = ZmqFactory()
    identity = args.identity.encode() if args.identity else None
    client = BrokerClient(factory, ZmqEndpoint(ZmqEndpointType.connect, args.connect), emit, identity=identity,
                          plain=args.plain)
    stdio.StandardIO(Control(factory, client))
    emit('ready')
    reactor.run()


if __name__ == '__main__':
    main()
