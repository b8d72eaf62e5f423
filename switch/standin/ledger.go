package standin

import (
	"sync"
	"time"
)

// ledger holds the in-process reservations that close the race between
// concurrent stand-in decisions for one card.
//
// A decision reads the card's stand-in payments of the day from the journal,
// then, under mu, adds the reservations the journal may not show yet and
// reserves its own. A reservation is pending until the caller reports the
// payment durable in the journal (commit) or not (release). A committed
// reservation is still counted by every decision whose journal read began
// before the commit — that read may have missed the row — and is dropped once
// no such decision is running. A reservation whose auth code the read found
// on a stand-in payment is not counted again, so a payment counts exactly
// once (were the engine to journal another code, it would count twice: the
// safe side). Nothing is held across the journal read, so mu is only ever
// held for map work.
type ledger struct {
	mu     sync.Mutex
	seq    uint64
	active map[uint64]int // read-start sequence -> decisions running from it
	byCard map[cardKey]map[uint64]*reservation
	byID   map[uint64]*reservation
}

// cardKey is one card at one bank on one bank-local day.
type cardKey struct {
	bank    string
	panHash string
	day     int64 // Unix seconds of the local midnight starting the day
}

type reservation struct {
	id        uint64
	key       cardKey
	currency  string
	amount    int64
	authCode  string
	committed uint64    // sequence of the commit; 0 while pending
	expires   time.Time // a pending reservation nobody settles lapses then
}

func newLedger() *ledger {
	return &ledger{
		active: make(map[uint64]int),
		byCard: make(map[cardKey]map[uint64]*reservation),
		byID:   make(map[uint64]*reservation),
	}
}

// begin marks the start of a journal read and returns its sequence.
func (l *ledger) begin() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	l.active[l.seq]++
	return l.seq
}

// end marks the decision started at start as finished.
func (l *ledger) end(start uint64, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.active[start]--; l.active[start] <= 0 {
		delete(l.active, start)
	}
	l.pruneLocked(now)
}

// usage is what the reservations add to a journal read begun at start.
type usage struct {
	count  int64
	amount int64 // in the decision's currency
	codes  map[string]bool
}

// usageLocked sums the reservations of key a read begun at start may not
// have seen. journaled holds the auth codes of the stand-in payments the
// read found: a reservation whose payment the read already saw (its code is
// there) is not counted twice. Callers hold mu.
func (l *ledger) usageLocked(key cardKey, currency string, start uint64, now time.Time, journaled map[string]bool) usage {
	u := usage{codes: map[string]bool{}}
	for _, r := range l.byCard[key] {
		u.codes[r.authCode] = true
		if r.committed == 0 && now.After(r.expires) {
			continue
		}
		if r.committed != 0 && r.committed <= start {
			continue // durable before the read began: the read counted it
		}
		if journaled[r.authCode] {
			continue // the read saw its payment
		}
		u.count++
		if r.currency == currency {
			u.amount += r.amount
		}
	}
	return u
}

// reserveLocked records a pending reservation and returns its id.
func (l *ledger) reserveLocked(key cardKey, currency string, amount int64, code string, expires time.Time) uint64 {
	l.seq++
	r := &reservation{id: l.seq, key: key, currency: currency, amount: amount, authCode: code, expires: expires}
	m := l.byCard[key]
	if m == nil {
		m = make(map[uint64]*reservation)
		l.byCard[key] = m
	}
	m[r.id] = r
	l.byID[r.id] = r
	return r.id
}

// commit marks a reservation's payment durable in the journal. Unknown or
// already settled ids are ignored.
func (l *ledger) commit(id uint64, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r, ok := l.byID[id]; ok && r.committed == 0 {
		l.seq++
		r.committed = l.seq
	}
	l.pruneLocked(now)
}

// release drops a reservation whose payment was not journaled as a
// stand-in approval.
func (l *ledger) release(id uint64, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r, ok := l.byID[id]; ok {
		l.dropLocked(r)
	}
	l.pruneLocked(now)
}

// pending reports how many reservations are held (tests, metrics).
func (l *ledger) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.byID)
}

// pruneLocked drops committed reservations every running read can see in
// the journal and pending ones past their expiry.
func (l *ledger) pruneLocked(now time.Time) {
	oldest := l.seq + 1
	for s := range l.active {
		oldest = min(oldest, s)
	}
	for _, r := range l.byID {
		switch {
		case r.committed != 0 && r.committed < oldest:
			l.dropLocked(r)
		case r.committed == 0 && now.After(r.expires):
			l.dropLocked(r)
		}
	}
}

func (l *ledger) dropLocked(r *reservation) {
	delete(l.byID, r.id)
	if m := l.byCard[r.key]; m != nil {
		delete(m, r.id)
		if len(m) == 0 {
			delete(l.byCard, r.key)
		}
	}
}
