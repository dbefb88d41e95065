package broker

// The broker's counters by message type and by error reason: fixed tables
// indexed by small integers, so that counting costs an increment on the
// loop and the metrics (metrics.go) read them at scrape time only.

// msgType indexes the counters of messages by their "type".
type msgType uint8

const (
	mtRegister msgType = iota
	mtDirectMessage
	mtBroadcast
	mtListClients
	mtPing
	mtRegistrationAck
	mtDeliveryConfirmation
	mtBroadcastConfirmation
	mtClientList
	mtPong
	mtError
	mtRoutingError
	mtFedMessage
	mtFedBroadcast
	mtOther // a type this broker does not know, or no type at all
	numMsgTypes
)

var msgTypeNames = [numMsgTypes]string{
	TypeRegister, TypeDirectMessage, TypeBroadcast, TypeListClients, TypePing,
	TypeRegistrationAck, TypeDeliveryConfirmation, TypeBroadcastConfirmation, TypeClientList, TypePong,
	TypeError, TypeRoutingError, typeMessage, typeFedBroadcast, "other",
}

func (t msgType) String() string { return msgTypeNames[t] }

// msgTypeOf maps a message's "type" to its counter.
func msgTypeOf(typ string) msgType {
	switch typ {
	case TypeDirectMessage:
		return mtDirectMessage
	case TypeRegister:
		return mtRegister
	case TypeBroadcast:
		return mtBroadcast
	case TypePing:
		return mtPing
	case TypeListClients:
		return mtListClients
	case typeMessage:
		return mtFedMessage
	case typeFedBroadcast:
		return mtFedBroadcast
	case TypeRoutingError:
		return mtRoutingError
	case TypeError:
		return mtError
	}
	return mtOther
}

// reason says why a request was refused or a message lost: the label of
// Stats.ErrorsByReason and of zmqgo_broker_errors_total.
type reason uint8

const (
	rsEmpty          reason = iota // a request of one empty frame
	rsFrames                       // a request of more than one frame
	rsTooLarge                     // over MaxMsgSize: answered
	rsTooLargeCut                  // over the hard cap (MaxMsgSize × hardCapFactor): connection cut
	rsInvalid                      // not a JSON object, or a field of the wrong type
	rsRateLimited                  // over the client's rate limit
	rsUnknownType                  // a type the broker does not handle
	rsNotRegistered                // a request that needs a registered name
	rsNameTaken                    // register of a name another client holds
	rsBadRequest                   // a field missing or malformed
	rsNoRoute                      // a direct message to a name nobody has
	rsQueueFull                    // the recipient's queue (messages or bytes) was full
	rsGone                         // the recipient's connection had closed
	rsFederation                   // a malformed or undeliverable federation message
	rsInternal                     // an encoding or socket failure
	rsNameNotAllowed               // register of a name Config.Names does not allow the identity
	rsNotAdmitted                  // a federation message from a peer not admitted as a broker
	numReasons
)

var reasonNames = [numReasons]string{
	"empty_message", "frame_count", "too_large", "too_large_cut", "invalid_json", "rate_limited",
	"unknown_type", "not_registered", "name_taken", "bad_request", "no_route", "queue_full",
	"peer_gone", "federation", "internal", "name_not_allowed", "not_admitted",
}

func (r reason) String() string { return reasonNames[r] }

// counters are the state's tables.
type counters struct {
	received [numMsgTypes]uint64
	sent     [numMsgTypes]uint64
	dropped  [numMsgTypes]uint64
	errors   [numReasons]uint64
}

func tableMap(t []uint64, names []string) map[string]uint64 {
	m := make(map[string]uint64, len(t))
	for i, n := range t {
		if n != 0 {
			m[names[i]] = n
		}
	}
	return m
}
