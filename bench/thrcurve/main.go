// Command thrcurve is bench/thr under CURVE, the zmqgo side of
// bench/sidebyside_curve.sh: "thrcurve recv ENDPOINT COUNT SIZE" binds a
// CURVE-server PULL and prints msgs/s, "thrcurve send ENDPOINT COUNT SIZE"
// connects a CURVE-client PUSH. Keys: libzmq's test-suite pairs.
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/zmqgo/zmq"
)

const (
	serverPublic = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
	serverSecret = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"
	clientPublic = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"
	clientSecret = "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs"
)

func main() {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: thrcurve recv|send ENDPOINT COUNT SIZE")
		os.Exit(2)
	}
	count, _ := strconv.Atoi(os.Args[3])
	size, _ := strconv.Atoi(os.Args[4])
	ctx := context.Background()
	switch os.Args[1] {
	case "recv":
		sec, err := zmq.ParseCurveSecretKey(serverSecret)
		check(err)
		s, err := zmq.NewSocket(zmq.Pull, zmq.WithLinger(0), zmq.WithCurveServer(sec))
		check(err)
		check(s.Bind(os.Args[2]))
		fmt.Println("READY", s.LastEndpoint())
		_, err = s.Recv(ctx)
		check(err)
		start := time.Now()
		for i := 1; i < count; i++ {
			m, err := s.Recv(ctx)
			check(err)
			if len(m.Frames[0]) != size {
				check(fmt.Errorf("got %d bytes, want %d", len(m.Frames[0]), size))
			}
			m.Release() // its buffer serves a later receive
		}
		el := time.Since(start).Seconds()
		fmt.Printf("RESULT %.0f msgs/s %.1f MB/s\n", float64(count-1)/el, float64(count-1)*float64(size)/el/1e6)
		s.Close()
	case "send":
		spub, err := zmq.ParseCurvePublicKey(serverPublic)
		check(err)
		cpub, err := zmq.ParseCurvePublicKey(clientPublic)
		check(err)
		csec, err := zmq.ParseCurveSecretKey(clientSecret)
		check(err)
		s, err := zmq.NewSocket(zmq.Push, zmq.WithLinger(-1), zmq.WithCurveClient(spub, cpub, csec))
		check(err)
		check(s.Connect(os.Args[2]))
		msg := zmq.NewMsg(make([]byte, size))
		for i := 0; i < count; i++ {
			check(s.Send(ctx, msg))
		}
		check(s.Close())
	default:
		check(fmt.Errorf("unknown mode %q", os.Args[1]))
	}
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "thrcurve:", err)
		os.Exit(1)
	}
}
