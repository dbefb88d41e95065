// Command thr measures one-way throughput between two processes: run
// "thr recv ENDPOINT COUNT SIZE" (binds, prints msgs/s) and
// "thr send ENDPOINT COUNT SIZE" (connects). One frame per message.
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/zmqgo/zmq"
)

func main() {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: thr recv|send ENDPOINT COUNT SIZE")
		os.Exit(2)
	}
	count, _ := strconv.Atoi(os.Args[3])
	size, _ := strconv.Atoi(os.Args[4])
	ctx := context.Background()
	switch os.Args[1] {
	case "recv":
		s, err := zmq.NewSocket(zmq.Pull, zmq.WithLinger(0))
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
		s, err := zmq.NewSocket(zmq.Push, zmq.WithLinger(-1))
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
		fmt.Fprintln(os.Stderr, "thr:", err)
		os.Exit(1)
	}
}
