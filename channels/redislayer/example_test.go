package redislayer_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/zmqgo/zmq/channels/redislayer"
)

// A Go service on the Redis a Django project's CHANNEL_LAYERS points
// channels_redis at: it sends to a consumer's channel, joins a group and
// reads what the group gets. (Not run: it needs a Redis on 6379.)
func Example() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()
	layer, err := redislayer.New(rdb, redislayer.Config{}) // channels_redis's defaults
	if err != nil {
		log.Fatal(err)
	}
	defer layer.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	err = layer.Send(ctx, "jobs", map[string]any{"type": "job.start", "id": 7})
	if errors.Is(err, redislayer.ErrChannelFull) {
		log.Print("consumers are behind")
	}

	me := layer.NewChannel("")
	layer.GroupAdd(ctx, "chat", me)
	defer layer.GroupDiscard(ctx, "chat", me)
	msg, err := layer.Receive(ctx, me)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(msg["type"])
}
