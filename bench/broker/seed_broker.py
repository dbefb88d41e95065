"""The router-dealer example's MessageBroker (the txZMQ seed's "Router Usage
Example"), as written there, for side-by-side measurement with zmqgo
broker. Only the bind endpoint is an argument (the seed binds
tcp://*:5555). Its routing ids must be text (it decodes them as UTF-8): run
clients with named identities (zmqgo broker-load --named). Run it under
Debian's python3-txzmq: /usr/bin/python3 seed_broker.py tcp://127.0.0.1:PORT
"""
import json
import sys
import time

from twisted.internet import reactor
from txzmq import ZmqEndpoint, ZmqEndpointType, ZmqFactory, ZmqRouterConnection


class MessageBroker(ZmqRouterConnection):
    """Central message broker using ROUTER socket."""

    def __init__(self, factory, endpoint):
        super().__init__(factory, endpoint)
        self.clients = {}  # Track connected clients
        self.message_stats = {'received': 0, 'sent': 0, 'errors': 0}
        print("Message broker started")

    def gotMessage(self, sender_id, *message):
        """Handle incoming message from any client."""
        self.message_stats['received'] += 1
        sender_str = sender_id.decode('utf-8') if sender_id else 'unknown'

        try:
            # Parse message
            msg_data = json.loads(message[0].decode('utf-8'))
            msg_type = msg_data.get('type')

            print(f"Received {msg_type} from {sender_str}")

            # Update client registry
            if sender_id not in self.clients:
                self.clients[sender_id] = {
                    'first_seen': time.time(),
                    'last_seen': time.time(),
                    'message_count': 0
                }

            self.clients[sender_id]['last_seen'] = time.time()
            self.clients[sender_id]['message_count'] += 1

            # Route message based on type
            if msg_type == 'register':
                self.handle_registration(sender_id, msg_data)
            elif msg_type == 'direct_message':
                self.handle_direct_message(sender_id, msg_data)
            elif msg_type == 'broadcast':
                self.handle_broadcast(sender_id, msg_data)
            elif msg_type == 'list_clients':
                self.handle_list_clients(sender_id)
            elif msg_type == 'ping':
                self.handle_ping(sender_id, msg_data)
            else:
                self.send_error(sender_id, f"Unknown message type: {msg_type}")

        except Exception as e:
            print(f"Error processing message from {sender_str}: {e}")
            self.message_stats['errors'] += 1
            self.send_error(sender_id, f"Message processing error: {e}")

    def handle_registration(self, client_id, msg_data):
        """Handle client registration."""
        client_name = msg_data.get('name', 'unnamed')
        self.clients[client_id]['name'] = client_name

        response = {
            'type': 'registration_ack',
            'status': 'success',
            'client_id': client_id.decode('utf-8'),
            'message': f'Registered as {client_name}'
        }
        self.send_response(client_id, response)

    def handle_direct_message(self, sender_id, msg_data):
        """Route message to specific recipient."""
        target_name = msg_data.get('target')
        content = msg_data.get('content')

        # Find target client by name
        target_id = None
        for cid, info in self.clients.items():
            if info.get('name') == target_name:
                target_id = cid
                break

        if target_id:
            # Forward message to target
            forward_msg = {
                'type': 'direct_message',
                'from': self.clients[sender_id].get('name', 'unknown'),
                'content': content,
                'timestamp': time.time()
            }
            self.send_response(target_id, forward_msg)

            # Confirm to sender
            confirm_msg = {
                'type': 'delivery_confirmation',
                'target': target_name,
                'status': 'delivered'
            }
            self.send_response(sender_id, confirm_msg)
        else:
            self.send_error(sender_id, f"Target client '{target_name}' not found")

    def handle_broadcast(self, sender_id, msg_data):
        """Broadcast message to all connected clients except sender."""
        content = msg_data.get('content')
        sender_name = self.clients[sender_id].get('name', 'unknown')

        broadcast_msg = {
            'type': 'broadcast',
            'from': sender_name,
            'content': content,
            'timestamp': time.time()
        }

        sent_count = 0
        for client_id in self.clients:
            if client_id != sender_id:  # Don't send to sender
                self.send_response(client_id, broadcast_msg)
                sent_count += 1

        # Confirm to sender
        confirm_msg = {
            'type': 'broadcast_confirmation',
            'recipients': sent_count
        }
        self.send_response(sender_id, confirm_msg)

    def handle_list_clients(self, requester_id):
        """Send list of connected clients."""
        client_list = []
        for client_id, info in self.clients.items():
            client_list.append({
                'name': info.get('name', 'unnamed'),
                'connected_since': info['first_seen'],
                'last_activity': info['last_seen'],
                'message_count': info['message_count']
            })

        response = {
            'type': 'client_list',
            'clients': client_list,
            'total': len(client_list)
        }
        self.send_response(requester_id, response)

    def handle_ping(self, client_id, msg_data):
        """Respond to ping with pong."""
        response = {
            'type': 'pong',
            'timestamp': time.time(),
            'stats': self.message_stats
        }
        self.send_response(client_id, response)

    def send_response(self, client_id, response_data):
        """Send response to specific client."""
        message = json.dumps(response_data).encode('utf-8')
        self.sendMsg(client_id, message)
        self.message_stats['sent'] += 1

    def send_error(self, client_id, error_message):
        """Send error response to client."""
        error_response = {
            'type': 'error',
            'message': error_message,
            'timestamp': time.time()
        }
        self.send_response(client_id, error_response)


# Start message broker
factory = ZmqFactory()
factory.registerForShutdown()
endpoint = ZmqEndpoint(ZmqEndpointType.bind, sys.argv[1] if len(sys.argv) > 1 else "tcp://*:5555")
broker = MessageBroker(factory, endpoint)
print("Message broker listening on", endpoint.address, flush=True)
reactor.run()
