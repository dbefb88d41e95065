package broker

import "time"

// bucket is a token bucket: it holds up to burst tokens, refills at rate
// tokens a second, and each message takes one. A zero rate means no limit.
type bucket struct {
	tokens float64
	last   time.Time
}

// take reports whether a message may pass at now, and takes its token.
func (b *bucket) take(rate float64, burst int, now time.Time) bool {
	if rate <= 0 {
		return true
	}
	if b.last.IsZero() {
		b.tokens = float64(burst)
	} else if d := now.Sub(b.last); d > 0 {
		b.tokens = min(float64(burst), b.tokens+d.Seconds()*rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
