package broker_test

import (
	"log"
	"time"

	"github.com/zmqgo/zmq/broker"
)

// Three nodes of one broker on one Redis (in one process here; in practice
// one per machine): a client of any node reaches the clients of all by
// name. Compiled, not run: it needs a Redis at 127.0.0.1:6379.
func ExampleRedisConfig() {
	var nodes []*broker.Broker
	for _, ep := range []string{"tcp://*:5555", "tcp://*:5556", "tcp://*:5557"} {
		b, err := broker.New(broker.Config{
			Bind: []string{ep},
			Redis: &broker.RedisConfig{
				URL:   "redis://127.0.0.1:6379/0",
				Lease: 10 * time.Second, // a dead node's names are free after 10 s
			},
		})
		if err != nil {
			log.Fatal(err)
		}
		defer b.Close()
		nodes = append(nodes, b)
	}
	// Stats.Cluster says whether Redis is reachable and counts the
	// cross-node traffic.
	log.Printf("Redis up: %v", nodes[0].Stats().Cluster.RedisUp)
}
