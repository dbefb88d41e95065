// Package channels is a Django Channels layer server, wire-compatible
// with django-message-broker (DMB) 0.2.1, and a Go client for it.
//
// A Django project keeps DMB's layer and points it at a Server:
//
//	CHANNEL_LAYERS = {"default": {
//	    "BACKEND": "django_message_broker.ChannelsServerLayer",
//	    "CONFIG": {"ip_address": "127.0.0.1", "port": 5556},
//	}}
//
// The Server binds two ROUTER sockets: data on the port, signalling on the
// port after it. Data messages are [envelope, "", channel, command, id,
// sequence, properties, body]; signalling messages are [envelope, "", id,
// command, properties]. Properties are msgpack maps encoded as msgspec
// 0.3.2 encodes them (bytes as bin, datetimes as the timestamp
// extension); bodies pass through untouched. A reply goes out only when
// the request's properties hold a true "ack", except for the requests
// that exist to be answered (HARTBEAT, PERFMNCE and our GROUPLST and
// CHANINFO).
//
// Where DMB's server falls short the Server does what channels_redis does:
// channels have a capacity (SENDCHAN over it is refused with EXCEPTON
// ChannelFull, group sends skip full channels), group membership expires
// after a configurable time, names are validated, fractional TTLs are
// honoured, failing signalling requests get EXCEPTON (DMB echoed the
// request, and its client waited forever), and a subscriber whose
// connection closes or stops answering heartbeats stops receiving
// deliveries at once instead of a day later.
//
// With Config.Redis set (`zmqgo channels --redis URL`) the Server keeps
// channels, groups, capacities and expiry in Redis, in channels_redis
// 4.0's layout through package redislayer, so any number of Servers,
// Django processes using channels_redis.core.RedisChannelLayer and Go
// services share one channel space. A process channel ("!") is claimed in
// Redis by the Server its subscriber is attached to, and messages for it
// reach that Server's inbox, whoever sends them; see redis.go for the keys
// and why they are lists. While Redis is unreachable a Server delivers
// between its own clients' process channels, refuses the rest with
// StoreUnavailable, reports the outage (Stats.StoreUp, the log, /metrics)
// and resumes by itself.
//
// Layer is the Go side of the same protocol, with Send, Receive,
// NewChannel, GroupAdd, GroupDiscard, GroupSend and Flush, plus
// GroupChannels and ChannelInfo, which channels' layers do not offer.
package channels
