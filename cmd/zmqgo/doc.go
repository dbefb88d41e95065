// Command zmqgo is a command-line ZeroMQ peer, built on
// github.com/zmqgo/zmq: it sends the lines it reads on stdin as messages
// and prints the messages it receives on stdout, one per line. It talks to
// any ZMTP 3.x peer, libzmq and its bindings included.
//
// Usage:
//
//	zmqgo SUBCOMMAND [flags]
//	zmqgo help [SUBCOMMAND]
//
// The subcommands are the socket types: pub, sub, push, pull, req, rep,
// dealer, router and pair. Each needs at least one --bind ADDR or
// --connect ADDR (both repeatable; ADDR is tcp://HOST:PORT or ipc://PATH).
// A bind to tcp port 0 picks a free port, ipc://* a temporary path; every
// bound endpoint is printed on stderr as "zmqgo: bound tcp://127.0.0.1:40123".
//
// Flags follow the subcommand and may be written -flag or --flag:
//
//	--bind ADDR, --connect ADDR   endpoints (repeatable)
//	-d, --delimiter STR           frame separator in lines (default tab; \t, \x1f... understood)
//	--hex                         frames are hex-encoded on stdin and stdout
//	--count N                     exit after N messages (sent by pub/push, received by
//	                              sub/pull/dealer/router/pair) or N round trips (req/rep)
//	--timeout D                   exit 1 after D without a message sent or received
//	--linger D                    at exit, wait up to D for queued messages (default 5s)
//	--verbose                     debug log of socket events on stderr
//	--subscribe PREFIX            sub: repeatable; default everything
//	--reply TEXT                  rep: fixed reply instead of the echo
//	--routing-id ID               req, rep, dealer, router: identity shown to ROUTER peers
//	--mandatory                   router: error, not drop, for an unknown routing id
//	--curve-server FILE           CURVE server with the secret key in FILE (zmqgo keygen --out)
//	--curve-client KEY            CURVE client of the server with public KEY (Z85, or a file)
//	--plain USER:PASS             PLAIN client
//	--plain-server FILE           PLAIN server accepting the user:password lines of FILE
//
// "zmqgo keygen" prints a new CURVE key pair in Z85; "zmqgo keygen --out
// PREFIX" writes PREFIX.key (the secret key, mode 0600) and PREFIX.pub.
//
// # Messages
//
// A line is one message, its frames separated by the delimiter: "a<TAB>b"
// is two frames, an empty line one empty frame. Frames are read and
// printed verbatim, so text is easy and a frame holding a newline or the
// delimiter cannot be told apart; with --hex every frame, in both
// directions, is hex-encoded instead (and so are --subscribe, --reply and
// --routing-id), which round-trips any bytes. A ROUTER line starts with the
// peer's routing id, always in hex since generated ids are binary (a zero
// byte and four more): router prints "0035872a79<TAB>hello", and the line
// "0035872a79<TAB>world" sends world back to that peer.
//
// # Ending
//
// pub and push send until stdin EOF or --count; req sends a line, prints
// the reply, and so on until EOF or --count round trips. dealer, router and
// pair send stdin and print what arrives at the same time, and stop at
// stdin EOF or, given --count N, once N messages have arrived. sub and pull
// run until --count messages, rep until --count round trips. The socket is
// then closed, giving queued messages up to --linger to be delivered (a
// connecting socket queues them until its peer is there), and zmqgo exits
// 0. SIGINT and SIGTERM end any subcommand the same way (a second signal
// ends it at once).
//
// Exit status is 0 on success, 1 on runtime errors (--timeout expired,
// address in use, bad stdin line, I/O errors) and 2 on usage errors
// (unknown subcommand, bad flag, missing or malformed endpoint, unsupported
// transport). Diagnostics go to stderr, prefixed "zmqgo: ".
//
// # Examples
//
// Pipeline:
//
//	zmqgo pull --bind 'tcp://*:5555'
//	seq 3 | zmqgo push --connect tcp://127.0.0.1:5555
//
// Publish-subscribe, ten weather messages then exit:
//
//	tail -f events.log | zmqgo pub --bind 'tcp://*:5556'
//	zmqgo sub --connect tcp://127.0.0.1:5556 --subscribe weather. --count 10
//
// Request-reply; rep echoes unless given --reply:
//
//	zmqgo rep --bind 'tcp://*:5557' --reply ok
//	printf 'hello\nworld\n' | zmqgo req --connect tcp://127.0.0.1:5557
//
// Dealer and router, answering by routing id:
//
//	zmqgo router --bind 'tcp://*:5558'
//	echo hi | zmqgo dealer --connect tcp://127.0.0.1:5558 --count 1
//
// Binary frames, and a script that must not hang:
//
//	echo '00ff<TAB>cafe' | zmqgo push --hex --connect tcp://127.0.0.1:5555
//	zmqgo pull --bind 'tcp://*:5555' --hex --count 1 --timeout 10s
//
// # Adding subcommands
//
// Subcommands live in the table in commands.go; each is a type
// implementing action (flag registration, validation, run) in its own file,
// as socketCmd in socket.go does for the socket subcommands. Tests drive
// the command in-process through run(ctx, args, stdin, stdout, stderr).
package main
