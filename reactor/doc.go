// Package reactor is txZMQ's programming model in Go: a factory, endpoints
// to bind or connect, one connection type per ZeroMQ pattern, handlers that
// get the incoming messages, and futures with timeouts for requests. It
// speaks txZMQ 0.8's wire formats, so Go and Twisted programs talk to each
// other unchanged. It is built on package zmq's public API only.
//
// # Model
//
// A Factory runs one event loop, a goroutine. Every handler of its
// connections, every future callback and every function given to Call or
// CallLater runs there, one at a time, in the order the events happened:
// as under Twisted, handler code shares state without locks. A handler that
// panics is logged (WithLogger; silent by default) and the loop goes on.
// Sending is safe from any goroutine, handlers included, and never blocks
// for long: a full send queue is an error (ErrQueueFull), not a wait,
// unless WithSendTimeout allows one.
//
//	f := reactor.NewFactory()
//	f.RegisterForShutdown() // SIGINT, SIGTERM
//	sub, err := reactor.NewSubConnection(f, func(message, tag []byte) {
//		fmt.Printf("%s: %s\n", tag, message)
//	}, reactor.Connect("tcp://127.0.0.1:5556"))
//	if err != nil {
//		log.Fatal(err)
//	}
//	sub.Subscribe([]byte("weather."))
//	<-f.Done()
//
// # From txZMQ
//
// Class by class:
//
//	txZMQ                            reactor
//	-----                            -------
//	ZmqFactory()                     NewFactory(opts...)
//	  .shutdown()                      (*Factory).Shutdown()
//	  .registerForShutdown()           (*Factory).RegisterForShutdown(); <-f.Done()
//	  .lingerPeriod = ms               WithLingerPeriod(d)  (default 100 ms, as txZMQ)
//	  .connections                     (*Factory).Connections()
//	reactor.callLater(s, fn)         (*Factory).CallLater(d, fn) *Timer; Timer.Cancel, Timer.Active
//	reactor.callLater(0, fn),        (*Factory).Call(fn)
//	  callFromThread(fn)
//	ZmqEndpoint(type, address)       Endpoint{Type, Address}
//	ZmqEndpointType.bind / .connect  BindType / ConnectType; Bind(addr), Connect(addr)
//	ZmqConnection                    Connection (embedded in every connection type)
//	  Conn(factory, endpoint,          NewXxxConnection(f, [handler,] Bind(a), Connect(b), WithIdentity(id), ...)
//	       identity=id)
//	  .addEndpoints([...])             (*Connection).AddEndpoints(eps...)
//	  .shutdown()                      (*Connection).Shutdown()
//	  .endpoints                       (*Connection).Endpoints(), Addr()
//	  .highWaterMark                   WithHighWaterMark(n)
//	  .tcpKeepalive, ...Count,         WithTCPKeepalive(TCPKeepalive{Enable, Count, Idle, Interval})
//	     ...Idle, ...Interval
//	  .reconnectInterval(Max)          WithReconnectInterval(d), WithReconnectIntervalMax(d)
//	ZmqPubConnection                 PubConnection
//	  .publish(message, tag)           Publish(message, tag)
//	ZmqSubConnection                 SubConnection
//	  .subscribe / .unsubscribe        Subscribe(tag) / Unsubscribe(tag)
//	  .gotMessage(message, tag)        handler func(message, tag []byte)
//	ZmqPushConnection.push(msg)      PushConnection.Push(parts...)
//	ZmqPullConnection.onPull(msg)    PullConnection, handler func(parts [][]byte)
//	ZmqREQConnection                 ReqConnection
//	  .sendMsg(*parts, timeout=s)      SendMsg(ctx, parts...) *Future  (timeout: ctx deadline)
//	  .defaultRequestTimeout           WithRequestTimeout(d)
//	  Deferred                         Future: Wait(ctx), Then(cb), Cancel(), Done()
//	  ZmqRequestTimeoutError           ErrRequestTimeout
//	  CancelledError                   ErrCanceled
//	ZmqREPConnection                 RepConnection
//	  .gotMessage(msgId, *parts)       handler func(id []byte, parts [][]byte)
//	  .reply(msgId, *parts)            Reply(id, parts...)
//	ZmqRouterConnection              RouterConnection
//	  .sendMsg(recipient, msg)         SendMsg(recipient, message)
//	  .sendMultipart(recipient, parts) SendMultipart(recipient, parts)
//	  .gotMessage(sender, *parts)      handler func(sender []byte, parts [][]byte)
//	ZmqDealerConnection              DealerConnection
//	  .sendMsg(msg)                    SendMsg(message)
//	  .sendMultipart(parts)            SendMultipart(parts)
//	  .gotMessage(*parts)              handler func(parts [][]byte)
//	ZMQError EAGAIN on send          ErrQueueFull
//
// A txZMQ echo service:
//
//	class Echo(ZmqREPConnection):
//	    def gotMessage(self, messageId, *messageParts):
//	        self.reply(messageId, *messageParts)
//
//	factory = ZmqFactory()
//	factory.registerForShutdown()
//	Echo(factory, ZmqEndpoint(ZmqEndpointType.bind, "tcp://*:5555"))
//	reactor.run()
//
// and the same in Go:
//
//	f := reactor.NewFactory()
//	f.RegisterForShutdown()
//	var echo *reactor.RepConnection
//	echo, err := reactor.NewRepConnection(f, func(id []byte, parts [][]byte) {
//		echo.Reply(id, parts...)
//	})
//	if err == nil {
//		err = echo.AddEndpoints(reactor.Bind("tcp://*:5555"))
//	}
//	if err != nil {
//		log.Fatal(err)
//	}
//	<-f.Done()
//
// Where Python subclasses a connection and overrides gotMessage (or onPull),
// Go passes the handler to the constructor. A handler that uses its own
// connection (a REP that replies) must not run before the variable holding
// the connection is set, so, as above, create such a connection without
// endpoints and add them once the variable is set: nothing can arrive
// before that.
//
// # Wire formats (txZMQ 0.8)
//
//   - PUB sends one frame: tag + "\x00" + message (WithTagSeparator changes
//     the separator). SUB splits it at the first separator, and also accepts
//     the two-frame form [tag, message] that other ZeroMQ publishers send.
//   - ReqConnection is a DEALER sending [id, "", parts...], the id being a
//     fresh 16-byte UUID; the reply is [id, "", parts...].
//   - RepConnection is a ROUTER: it receives [routing..., id, "", parts...]
//     and replies [routing..., id, "", parts...].
//   - ROUTER and DEALER connections send and receive raw frames.
//
// # Differences from txZMQ
//
//   - High-water mark: without WithHighWaterMark the engine's default of
//     1000 messages applies (txZMQ's class attribute is 0, no limit).
//   - A full send queue is ErrQueueFull whatever the type except PUB, which
//     drops by definition; ROUTER and REP connections also report a
//     recipient that is not connected (zmq.ErrHostUnreachable), where
//     txZMQ's ROUTER drops the message silently.
//   - Request timeouts come from the context given to SendMsg.
//   - Transports are those of package zmq.
package reactor
