package banklink

import (
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// Health is a snapshot of one link for the router and operators. Every
// figure comes from atomics: calling Health or Usable per request is cheap.
type Health struct {
	Bank       string
	Dialect    string
	Configured int // connections configured
	Up         int // connections open (TCP/TLS established)
	SignedOn   int // connections usable (signed on where the dialect requires it)
	InFlight   int // requests written and awaiting a response
	// LastEcho is the last successful echo on any connection, in either
	// direction (zero if none yet).
	LastEcho           time.Time
	TimeoutsLastMinute int // Send calls that ended in ErrTimeout
	LostLastMinute     int // requests failed with ErrConnectionLost
	Reconnects         uint64
	Closed             bool
}

// minuteWindow counts events over the last 60 seconds in per-second buckets,
// lock-free.
type minuteWindow struct {
	buckets [60]struct {
		sec   atomic.Int64
		count atomic.Int64
	}
}

func (w *minuteWindow) add(now time.Time) {
	sec := now.Unix()
	b := &w.buckets[sec%60]
	if old := b.sec.Load(); old != sec {
		// First event of this second in this bucket: reset it. A racing
		// writer may lose one count at the bucket boundary; acceptable for a
		// health figure.
		if b.sec.CompareAndSwap(old, sec) {
			b.count.Store(0)
		}
	}
	b.count.Add(1)
}

func (w *minuteWindow) sum(now time.Time) int {
	sec := now.Unix()
	total := int64(0)
	for i := range w.buckets {
		b := &w.buckets[i]
		if s := b.sec.Load(); s > sec-60 && s <= sec {
			total += b.count.Load()
		}
	}
	return int(total)
}

// backoff is capped exponential back-off with jitter: the n-th delay is
// drawn uniformly from [d/2, d] where d = min(max, min*2^n). Half-jitter keeps
// a floor (no hammering) while spreading N connections' reconnects apart.
type backoff struct {
	min, max time.Duration
	n        int
}

func (b *backoff) next() time.Duration {
	d := b.min
	for i := 0; i < b.n && d < b.max; i++ {
		d *= 2
	}
	d = min(d, b.max)
	if b.n < 62 {
		b.n++
	}
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + rand.N(d-half+1)
}

func (b *backoff) reset() { b.n = 0 }
