// Package broker is a message broker over ROUTER/DEALER: clients register
// by name and send each other direct messages and broadcasts, list the
// clients and ping the broker, in JSON messages. It speaks the protocol of
// the router-dealer pattern (examples/broker) unchanged, so a txZMQ DEALER
// client written for that protocol works with it as it is; brokers
// federate into a tree and route messages between their clients as in the
// multi-hop pattern (examples/multihop). `zmqgo broker` runs one.
//
//	b, err := broker.New(broker.Config{Bind: []string{"tcp://127.0.0.1:5555"}})
//	if err != nil {
//		log.Fatal(err) // the port is taken (by `zmqgo broker`?), say
//	}
//	defer b.Close()
//
//	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
//	defer cancel()
//	c, err := broker.NewClient("tcp://127.0.0.1:5555", broker.WithHandler(
//		func(ctx context.Context, m broker.Message) { fmt.Println(m.From, m.Text()) }))
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer c.Close()
//	if _, err := c.Register(ctx, "alice"); err != nil {
//		log.Fatal(err)
//	}
//	status, err := c.Send(ctx, "bob", "hi Bob")
//	if err != nil {
//		log.Fatal(err) // no client named bob yet, say
//	}
//	fmt.Println(status) // delivered
//
// # Protocol
//
// Every message is one ZeroMQ frame holding a JSON object, whose "type"
// says what it is. A client's DEALER sends the frame alone (as txZMQ's
// ZmqDealerConnection.sendMsg does), so the broker's ROUTER receives
// [routing id, json] and answers [routing id, json]. A client that puts an
// empty delimiter frame first (a REQ socket, or a DEALER imitating one)
// gets its replies with one too. Clients send:
//
//	register        {name}
//	direct_message  {target, content}
//	broadcast       {content}
//	list_clients
//	ping
//
// and each request gets one reply, in order:
//
//	registration_ack        {status: "success", client_id, message}
//	delivery_confirmation   {target, status: delivered|forwarded|failed}
//	broadcast_confirmation  {recipients}
//	client_list             {clients: [{name, connected_since, last_activity, message_count}], total}
//	pong                    {timestamp, stats: {received, sent, errors}}
//	error                   {message, timestamp}
//
// What clients send each other arrives unasked:
//
//	direct_message  {from, content, timestamp}   (and route_path, if it crossed brokers)
//	broadcast       {from, content, timestamp}   (likewise)
//	routing_error   {destination, original_sender, route_path, error,
//	                failed_destination, failed_route, content, timestamp}
//
// Two optional request fields, which the Go client sends and the seed's
// clients do not (their replies are the seed's, byte for byte): a
// request_id (a number or a string of at most 64 bytes) is echoed in the
// reply, so that a client pairs replies with requests whatever was lost on
// the way; a register with "limits": true gets max_msg_size, the broker's
// Config.MaxMsgSize, in its registration_ack. Other extra fields are
// ignored, as the seed's broker does.
//
// content is any JSON value, passed on as it is. Timestamps are seconds
// since the Unix epoch, as Python's time.time(). Only register, list_clients
// and ping are allowed before registering. message_count counts a client's
// messages since it registered, the register included.
//
// # Clients that go, names, queues
//
// Liveness comes from the connection, not from traffic: a client that
// registers and then only listens keeps its name as long as its
// connection is alive. The broker sends a ZMTP PING to each peer every
// Config.Heartbeat and drops one that sends nothing within
// Config.HeartbeatTimeout (a killed process, a stopped one, a cable
// pulled), and a client is forgotten when its connection ends: at once,
// or, if it chose its own routing id (it may reconnect under it and carry
// on, if it has the same identity: see Security), after Heartbeat +
// HeartbeatTimeout without a connection. Peers that cannot answer PINGs
// (ZMTP 3.0) are forgotten after Config.Expire of silence instead (a ping
// message is enough). A forgotten client vanishes from client_list and
// its name is free again.
//
// A name belongs to one live client: another client asking for it gets an
// error; the client that holds it may register again, under the same name
// or a new one. Names that look alike are one name: the broker compares
// them with surrounding white space trimmed, in Unicode NFKC with case
// folding, so "dup", "DUP", "dup " and "ｄup" cannot be held by two
// clients, and a direct_message to "DUP" reaches the holder of "dup"
// (who is shown as it registered). Names with invisible characters
// (U+200B and other format characters, controls) are refused.
//
// Each client has a queue of Config.QueueSize messages and
// Config.QueueBytes bytes at the broker (the ROUTER's send high-water
// marks), and all queues together hold at most Config.TotalBytes. The broker never waits for a client:
// what does not fit is dropped and counted (Stats.Dropped; the sender of a
// direct message gets the status "failed"), so a client that stops reading
// loses messages and no one else is held up. A broadcast reaches thousands
// of clients the same way: queued for each, at once.
//
// # Bad input
//
// Whatever a client sends harms only itself, and every bad request gets
// one error reply saying what is wrong, counted once in the errors of the
// stats under its reason (Stats.ErrorsByReason): an empty message
// ("empty message", empty_message); more than one frame after an optional
// empty delimiter ("expected one frame, got 2", frame_count); a message
// that is not JSON, not an object, or has fields of the wrong type
// (invalid_json); an unknown type (unknown_type); missing fields
// (bad_request). A message larger than Config.MaxMsgSize gets "message too
// large: N bytes, at most M" (too_large) up to a hard cap of HardCapFactor
// times that; past the cap the connection is cut, logged and counted
// (too_large_cut). Each client may send Config.Rate messages a second on
// average, Config.Burst at once (a token bucket); the messages over the
// limit are answered with an error (rate_limited) and not carried out.
//
// # Federation
//
// A broker given Config.Upstream connects to those brokers as a DEALER and
// forms a tree with them: a broker's upstream sees it as a peer of its
// ROUTER, like a client, that speaks the federation messages (the
// multi-hop pattern's):
//
//	register             {node, routes}: a broker tells its upstream every
//	                     client name reachable through it (its own clients
//	                     and those below it); repeated when they change and
//	                     every Config.AnnounceInterval, in parts
//	                     (generation, part, parts) if the list is long
//	message              {destination, original_sender, route_path, content, timestamp}
//	federated_broadcast  {original_sender, route_path, content, timestamp}
//	routing_error        {destination, original_sender, route_path, error,
//	                     failed_destination, failed_route, content, timestamp}
//
// Each broker keeps a routing table from the names announced to it to the
// broker below that announced them. A direct message for a name that is
// not a client here goes down if the table has it, up otherwise; the
// sender's confirmation says "forwarded". Every broker on the way appends
// its name to route_path; the target gets the direct_message with
// route_path. A broker that can send a message neither down nor up (the
// root, or a broker whose upstream sent it something it no longer has)
// sends a routing_error back to the original sender. A broadcast goes to
// every client of every broker of the tree. Brokers are not rate-limited,
// and must each have their own Config.Name. A broker joins an upstream one
// only if the upstream lists its identity in Config.FederationPeers (see
// Security); Config.UpstreamSecurity says how it logs in. With several upstreams the
// broker announces itself to each and sends up through the first one that
// is connected.
//
// Names are unique per broker and per subtree: a client cannot take a
// name that a broker below announced. Two clients on unrelated brokers may
// still take the same name at the same moment; the broker above them then
// routes it to the one that was announced first.
//
// # Scaling out on Redis
//
// Brokers given the same Config.Redis (`zmqgo broker --redis URL`) are
// nodes of one broker: a client of any node reaches the clients of every
// node by name, and nothing changes in the protocol. Redis may be one
// server, a Sentinel master or a Cluster (go-redis's UniversalClient; see
// ParseRedisURL). Without Config.Redis all state stays in memory, as
// above. Each node picks a random id at start (a restarted node is a new
// node) and keeps these keys, all under RedisConfig.Prefix, whose hash tag
// ({b}) puts them in one Cluster slot so that the scripts below may touch
// several:
//
//	name:<name key>    string "<node>/<routing id>", a lease (SET NX PX)
//	nodes              sorted set: node id → lease deadline (ms)
//	clients:<node>     hash: name → {connected_since, last_activity,
//	                   message_count}, a lease
//	inbox:<node>       stream: direct messages to the node's clients and
//	                   answers to the node (MAXLEN ~ RedisConfig.StreamLen)
//	broadcast          stream: every broadcast, read by every node (MAXLEN ~)
//	epoch              random, set once: a new one means Redis lost its data
//
// Each structure is chosen for the guarantee it gives:
//
//   - Names: a register claims the name with SET NX PX, atomic, so two
//     nodes racing for one cannot both win (the loser's client gets "name
//     ... is taken"). The lease (RedisConfig.Lease, default 15 s) is
//     renewed every Lease/3 by one script for all of a node's names; a name
//     goes back at once when its client leaves (compare and delete, so a
//     slow node never deletes a name that moved on), and within one lease
//     when its node dies. A register while Redis is unreachable is refused
//     (ErrStoreUnavailable): uniqueness could not be promised.
//   - Direct messages go through streams, not pub/sub. Pub/sub is
//     at-most-once with no memory: a subscriber whose connection blips (a
//     failover, the network, the output-buffer limit of a slow reader)
//     silently misses messages. A stream keeps entries until trimmed, and
//     its one reader, the node, resumes from the last entry it handled
//     after a reconnection: nothing lost, nothing repeated. No consumer
//     group: an inbox has exactly one reader, and no other node could take
//     over a dead node's clients (they were connections to it), so
//     XREADGROUP's redelivery would cost round trips for nobody. A message
//     for a client of another node is one script (look the name up, XADD
//     to its node's inbox); the owner node queues it for its client and
//     answers in the sender node's inbox (one entry for all the messages
//     from that node in one read), and only then is the
//     sender told "delivered": the same promise as on one node (queued for
//     the target). No ack within RedisConfig.ConfirmTimeout (default 5 s)
//     is "failed" (the message may still arrive late: failed means not
//     confirmed). "forwarded" stays the federation's status.
//   - Broadcasts: the sender's node delivers to its own clients, then
//     appends the broadcast once to the broadcast stream, which every
//     other node reads in order from where it stopped. A client is a
//     connection to exactly one node and each node handles each entry
//     once, so each client gets each broadcast exactly once. Each node
//     answers with the number of its clients reached; broadcast_confirmation
//     comes when every live node answered (or at the confirm timeout) with
//     the sum.
//   - list_clients: the live nodes are those whose deadline in nodes is
//     ahead; one script reads their clients hashes. A node writes a
//     client's entry before its registration_ack (so a client that knows
//     it is registered is listed on every node), deletes it at departure,
//     and rewrites its entries at each renewal, so another node's
//     last_activity and message_count are up to Lease/3 old.
//
// Replies to one client stay in request order: a request waiting for
// another node or for Redis holds back that client's later replies, at
// most Config.QueueSize of them (beyond, replies are dropped and counted,
// as at a full queue).
//
// Faults. Redis unreachable: the node logs one warning per outage (and
// "reachable again" after), shows it in Stats.Cluster, in the metrics
// (zmqgo_broker_redis_up, zmqgo_broker_redis_outages_total) and on the
// status page; its local clients go on as before; cross-node direct
// messages are answered "failed" at once, broadcasts reach the local
// clients, list_clients lists them, registrations are refused. go-redis
// reconnects by itself and the node resumes without a restart. If Redis
// came back empty (a new epoch), the node re-claims its clients' names at
// once and reads the streams from their start; a name another node's
// client claimed in between is lost by the late client, which gets an
// error and is forgotten. A node killed: its names, its entry and its
// inbox expire within one lease; messages sent to its clients meanwhile
// are never acknowledged, so their senders get "failed" and no confirmed
// message is lost. A slow node: its inbox is capped in Redis (MAXLEN ~),
// and the other nodes hold only the pending requests, at most QueueSize
// per client, each for at most ConfirmTimeout: their memory stays bounded.
//
// A node of a Redis cluster cannot have an Upstream (the tree and the
// cluster would be two routing systems for one name); downstream brokers
// may join a node. Use the federation tree for ZeroMQ-only deployments
// with no Redis to run, and a Redis cluster when one broker is not enough
// and operators should be able to add, restart and lose nodes freely.
//
// # Security
//
// What a broker admits, and on what grounds:
//
//   - Connections. With Config.Security empty anyone who can reach the
//     port may connect (NULL security): bind to 127.0.0.1 or a private
//     network. With zmq.WithCurveServer every connection is encrypted and
//     the broker authenticated, and a peer that does not speak CURVE to
//     its key gets no further than the handshake; with zmq.WithPlainServer
//     and a ZAP handler each client logs in with a user name and password
//     (in clear: trusted networks only). Each connection's identity is the
//     user id its ZAP handler gave it (zmq.Msg.UserID): the PLAIN user
//     name, or with zmq.Authenticator the client's CURVE key in Z85. Go
//     clients connect with WithCurve or WithPlain; `zmqgo broker
//     --curve-server FILE` and `--plain-server FILE` do the broker's side.
//   - Names. With Config.Names a client registers only the names its
//     identity is allowed (NameRules; `--names FILE`), and is told so
//     otherwise; the refusals are counted (Stats.NamesRefused). Without
//     it any free name is anyone's, first come, first served.
//   - Brokers. Federation is closed unless configured: a peer is treated
//     as a downstream broker, whose announced names are routed to it and
//     whose federated messages and broadcasts are passed on, only if its
//     identity is in Config.FederationPeers (`--federation-peers FILE`);
//     the shape of its messages proves nothing. Any other peer sending
//     register{node}, message, routing_error or federated_broadcast gets
//     an error; each attempt is counted (Stats.FederationRefused) and
//     logged. Even an admitted broker announces at most Config.MaxRoutes
//     names, each a valid name; admitted brokers are trusted for the
//     senders they name (original_sender).
//   - Routing ids. The broker's ROUTER has handover off: a newcomer that
//     announces the routing id of a connected client is refused, so no one
//     can take over a live client's connection, its messages or its
//     replies. A client-chosen routing id reused after its connection
//     ended keeps the registration only for the same identity (a client
//     reconnecting); under another identity the registration is dropped
//     (Stats.TakenOver) and the newcomer starts unregistered. Under NULL
//     security every client has the same, empty, identity: use generated
//     routing ids (the default) or authenticate.
//   - Size and rate. Every request is bounded by Config.MaxMsgSize and each
//     client's rate by Config.Rate; see Bad input.
//
// # Operations
//
// A Broker logs with log/slog (Config.Logger): its start and stop, brokers
// joining and leaving, clients whose queue overflows (once per overflow),
// and, every Config.StatsInterval, its throughput and counts. Close hands
// on what was received, then gives queued messages up to Config.Linger to
// be written. All state is in memory.
//
// Broker.HTTPHandler is the operator's endpoint (`zmqgo broker --http`):
// Prometheus metrics at /metrics (zmqgo_broker_..., read from the broker
// at scrape time), a live status page at / and its data at /api/status
// (Broker.Status). Stats has the same counters, by message type and by
// error reason too.
package broker
