// Package ledger is the bank simulator's record of what it approved: every
// purchase and pre-authorization with its current state (authorized,
// completed, reversed, partially reversed, refunded), the keys the bank's
// clearing file needs, and the network transaction IDs it issued.
//
// It never holds a full PAN: cards are kept as the 6+4 masked form plus a
// keyed hash (HMAC-SHA-256 with a per-ledger random key) so that a network
// transaction ID can be bound to the card it was issued for. The ledger is
// safe for concurrent use; every operation takes one short mutex hold.
package ledger

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"sort"
	"sync"
	"time"
)

// Kind is what was authorized.
type Kind string

const (
	KindPurchase Kind = "purchase"
	KindPreauth  Kind = "preauth"
)

// State is a transaction's current state.
type State string

const (
	StateAuthorized        State = "authorized"
	StateCompleted         State = "completed"
	StateReversed          State = "reversed"
	StatePartiallyReversed State = "partially_reversed"
)

// Response codes the ledger decides. They are the same in both dialects.
const (
	CodeApproved      = "00"
	CodeInvalidAmount = "13"
	CodeNotFound      = "25"
	CodeDuplicate     = "94"
)

// Key identifies one message as DE90 names it: STAN, DE7 and the acquiring
// institution ID without leading zeros.
type Key struct {
	STAN       string
	DE7        string
	AcquirerID string
}

// Txn is one approved purchase or pre-authorization.
type Txn struct {
	ID         int64     `json:"id"`
	Kind       Kind      `json:"kind"`
	StandIn    bool      `json:"stand_in,omitempty"` // recorded from a stand-in advice
	MTI        string    `json:"mti"`
	STAN       string    `json:"stan"`
	DE7        string    `json:"transmission_time"`
	AcquirerID string    `json:"acquirer_id"`
	RRN        string    `json:"rrn"`
	TerminalID string    `json:"terminal_id"`
	MerchantID string    `json:"merchant_id"`
	MaskedPAN  string    `json:"card"`
	PANHash    string    `json:"-"`
	AuthCode   string    `json:"auth_code"`
	LocalTime  time.Time `json:"local_time"`
	Amount     int64     `json:"amount"`     // as approved
	Authorized int64     `json:"authorized"` // what remains after partial reversals
	Currency   string    `json:"currency"`   // ISO 4217 numeric
	State      State     `json:"state"`
	// Response is "sent", "late" (rule 98) or "withheld" (rule 99).
	Response             string      `json:"response"`
	NetworkTransactionID string      `json:"network_transaction_id,omitempty"`
	Completion           *Completion `json:"completion,omitempty"`
	Refunds              []Refund    `json:"refunds,omitempty"`
	ReversalSTANs        []string    `json:"reversal_stans,omitempty"`
	RecordedAt           time.Time   `json:"recorded_at"`
}

// Completion is the capture of a pre-authorization.
type Completion struct {
	STAN      string    `json:"stan"`
	DE7       string    `json:"transmission_time"`
	RRN       string    `json:"rrn"`
	LocalTime time.Time `json:"local_time"`
	Amount    int64     `json:"amount"`
}

// Refund is one refund of a purchase or completed pre-authorization.
type Refund struct {
	STAN       string    `json:"stan"`
	DE7        string    `json:"transmission_time"`
	RRN        string    `json:"rrn"`
	LocalTime  time.Time `json:"local_time"`
	Amount     int64     `json:"amount"`
	Currency   string    `json:"currency"`
	Reversed   bool      `json:"reversed,omitempty"`
	ReversedBy string    `json:"reversed_by,omitempty"`
}

// Cleared is the amount that clears for a transaction: the completed amount
// of a completed pre-authorization, the remaining amount of a purchase, and
// zero for a reversed or uncompleted one.
func (t *Txn) Cleared() int64 {
	switch {
	case t.State == StateReversed:
		return 0
	case t.Kind == KindPreauth:
		if t.Completion == nil {
			return 0
		}
		return t.Completion.Amount
	default:
		return t.Authorized
	}
}

// Refunded is the sum of the refunds that stand.
func (t *Txn) Refunded() int64 {
	var s int64
	for _, r := range t.Refunds {
		if !r.Reversed {
			s += r.Amount
		}
	}
	return s
}

type adviceKey struct{ stan, rrn, acq string }

type ref struct {
	txn        *Txn
	refund     int // index into txn.Refunds, -1 when the key names the txn
	completion bool
}

// Ledger holds the approved transactions of one simulator instance.
type Ledger struct {
	mu      sync.Mutex
	nextID  int64
	txns    []*Txn
	byKey   map[Key]ref
	byRRN   map[string]*Txn
	advices map[adviceKey]*Txn
	ntids   map[string]string // network transaction ID -> PAN hash
	rng     *mrand.Rand
	hashKey []byte
}

// New returns an empty ledger. seed makes authorization codes and network
// transaction IDs reproducible.
func New(seed uint64) *Ledger {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		// crypto/rand never fails on supported platforms; a fixed key would
		// only weaken the hash, never expose a PAN.
		copy(k, "banksim-ledger-fallback-hash-key")
	}
	return &Ledger{
		byKey:   make(map[Key]ref),
		byRRN:   make(map[string]*Txn),
		advices: make(map[adviceKey]*Txn),
		ntids:   make(map[string]string),
		rng:     mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		hashKey: k,
	}
}

// HashPAN returns the ledger's keyed hash of a PAN.
func (l *Ledger) HashPAN(pan []byte) string {
	m := hmac.New(sha256.New, l.hashKey)
	m.Write(pan)
	return hex.EncodeToString(m.Sum(nil))
}

const alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

func (l *Ledger) randString(n int, alphabet string) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[l.rng.IntN(len(alphabet))]
	}
	return string(b)
}

// Approval is what the host approved, to be recorded.
type Approval struct {
	Kind       Kind
	MTI        string
	Key        Key
	RRN        string
	TerminalID string
	MerchantID string
	MaskedPAN  string
	PANHash    string
	LocalTime  time.Time
	Amount     int64
	Currency   string
	Response   string // "sent", "late" or "withheld"
	// IssueNTID asks for a network transaction ID (initial stored credential).
	IssueNTID bool
	// AuthCode is set for stand-in advices (the switch's stand-in code); the
	// ledger generates one otherwise.
	AuthCode string
	StandIn  bool
}

// Approve records an approval and returns its authorization code and, when
// asked, a fresh 15-digit network transaction ID. A second message with the
// same key is a duplicate transmission (94) and changes nothing.
func (l *Ledger) Approve(a Approval, now time.Time) (authCode, ntid, code string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, code := l.approveLocked(a, now)
	if t == nil {
		return "", "", code
	}
	return t.AuthCode, t.NetworkTransactionID, code
}

func (l *Ledger) approveLocked(a Approval, now time.Time) (*Txn, string) {
	if _, dup := l.byKey[a.Key]; dup {
		return nil, CodeDuplicate
	}
	l.nextID++
	t := &Txn{
		ID: l.nextID, Kind: a.Kind, StandIn: a.StandIn, MTI: a.MTI,
		STAN: a.Key.STAN, DE7: a.Key.DE7, AcquirerID: a.Key.AcquirerID,
		RRN: a.RRN, TerminalID: a.TerminalID, MerchantID: a.MerchantID,
		MaskedPAN: a.MaskedPAN, PANHash: a.PANHash, AuthCode: a.AuthCode,
		LocalTime: a.LocalTime, Amount: a.Amount, Authorized: a.Amount,
		Currency: a.Currency, State: StateAuthorized, Response: a.Response,
		RecordedAt: now,
	}
	if t.AuthCode == "" {
		t.AuthCode = l.randString(6, alnum)
	}
	if a.IssueNTID {
		for {
			t.NetworkTransactionID = l.randString(15, alnum[:10])
			if _, taken := l.ntids[t.NetworkTransactionID]; !taken {
				break
			}
		}
		l.ntids[t.NetworkTransactionID] = a.PANHash
	}
	l.txns = append(l.txns, t)
	l.byKey[a.Key] = ref{txn: t, refund: -1}
	if a.RRN != "" {
		l.byRRN[a.RRN] = t
	}
	return t, CodeApproved
}

// KnownNTID reports whether the ledger issued ntid for the card with this
// PAN hash.
func (l *Ledger) KnownNTID(ntid, panHash string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	h, ok := l.ntids[ntid]
	return ok && h == panHash
}

// Advice is a stand-in advice (0220/0120 and their repeats): the switch
// approved in the bank's name and the bank records it.
type Advice struct {
	Approval
	Original *Key // DE90, if any: the request the switch stood in for
}

// RecordAdvice records a stand-in advice. A repeat of an advice already
// recorded (same STAN, RRN and acquirer) is acknowledged again without a
// second record.
func (l *Ledger) RecordAdvice(a Advice, now time.Time) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	ak := adviceKey{a.Key.STAN, a.RRN, a.Key.AcquirerID}
	if t, ok := l.advices[ak]; ok {
		// A repeat (0221/0121) with a new DE7: index it too so that later
		// references to either attempt find the transaction.
		if _, taken := l.byKey[a.Key]; !taken {
			l.byKey[a.Key] = ref{txn: t, refund: -1}
		}
		return CodeApproved
	}
	a.StandIn = true
	t, code := l.approveLocked(a.Approval, now)
	if t == nil {
		return code
	}
	l.advices[ak] = t
	if a.Original != nil {
		if _, taken := l.byKey[*a.Original]; !taken {
			l.byKey[*a.Original] = ref{txn: t, refund: -1}
		}
	}
	return code
}

// Completion request: capture of a pre-authorization named by Original.
type CompletionRequest struct {
	Key       Key // the completion's own STAN/DE7/acquirer
	RRN       string
	LocalTime time.Time
	Amount    int64
	Original  Key
}

// Complete captures a pre-authorization: 25 when it is unknown, reversed,
// not a pre-authorization or already completed by another message; 13 when
// the amount exceeds what is authorized; 00 otherwise, and 00 again for a
// repeat of the completion already applied.
func (l *Ledger) Complete(c CompletionRequest) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	r, ok := l.byKey[c.Original]
	if !ok || r.refund >= 0 || r.completion {
		return CodeNotFound
	}
	t := r.txn
	if t.Kind != KindPreauth {
		return CodeNotFound
	}
	if t.Completion != nil {
		if t.Completion.STAN == c.Key.STAN {
			l.byKey[c.Key] = ref{txn: t, refund: -1, completion: true}
			return CodeApproved
		}
		return CodeNotFound
	}
	if t.State == StateReversed {
		return CodeNotFound
	}
	if c.Amount > t.Authorized {
		return CodeInvalidAmount
	}
	t.Completion = &Completion{STAN: c.Key.STAN, DE7: c.Key.DE7, RRN: c.RRN, LocalTime: c.LocalTime, Amount: c.Amount}
	t.State = StateCompleted
	l.byKey[c.Key] = ref{txn: t, refund: -1, completion: true}
	return CodeApproved
}

// RefundRequest is a refund of the purchase or completion named by Original.
type RefundRequest struct {
	Key       Key
	RRN       string
	LocalTime time.Time
	Amount    int64
	Currency  string
	Original  Key
	Repeat    bool // 0221: acknowledge again if already stored
}

// Refund stores a refund: 25 when the original is unknown, reversed or an
// uncompleted pre-authorization; 13 when the refunds would exceed the
// cleared amount; 94 for a non-repeat resend of a stored refund.
func (l *Ledger) Refund(rr RefundRequest) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r, ok := l.byKey[rr.Key]; ok {
		if r.refund >= 0 && rr.Repeat {
			return CodeApproved
		}
		return CodeDuplicate
	}
	r, ok := l.byKey[rr.Original]
	if !ok || r.refund >= 0 {
		return CodeNotFound
	}
	t := r.txn
	if rr.Repeat {
		for i, f := range t.Refunds {
			if f.STAN == rr.Key.STAN && f.RRN == rr.RRN {
				l.byKey[rr.Key] = ref{txn: t, refund: i}
				return CodeApproved
			}
		}
	}
	if t.State == StateReversed || (t.Kind == KindPreauth && t.Completion == nil) {
		return CodeNotFound
	}
	if rr.Amount+t.Refunded() > t.Cleared() {
		return CodeInvalidAmount
	}
	t.Refunds = append(t.Refunds, Refund{
		STAN: rr.Key.STAN, DE7: rr.Key.DE7, RRN: rr.RRN, LocalTime: rr.LocalTime,
		Amount: rr.Amount, Currency: rr.Currency,
	})
	l.byKey[rr.Key] = ref{txn: t, refund: len(t.Refunds) - 1}
	return CodeApproved
}

// ReversalRequest reverses the authorization (or Bank A online refund) named
// by Original. Replacement is DE95's remaining amount; nil for a full
// reversal.
type ReversalRequest struct {
	STAN        string // the reversal's own STAN, the same on every repeat
	Original    Key
	OriginalMTI string
	Replacement *int64
}

// Reverse applies a reversal. It answers 00 the first time and again for a
// repeat of the same reversal (same STAN, same original), never applying it
// twice; 25 for an unknown or already reversed original, or one that has
// been completed or refunded since; 13 for a DE95 above what is authorized.
func (l *Ledger) Reverse(rv ReversalRequest) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	r, ok := l.byKey[rv.Original]
	if !ok || r.completion {
		return CodeNotFound
	}
	t := r.txn
	if r.refund >= 0 {
		f := &t.Refunds[r.refund]
		if f.Reversed {
			if f.ReversedBy == rv.STAN {
				return CodeApproved
			}
			return CodeNotFound
		}
		f.Reversed, f.ReversedBy = true, rv.STAN
		return CodeApproved
	}
	// DE90's MTI must name the same kind of message: 01xx for a
	// pre-authorization (0100, or the 0120 advice of a stand-in one), 02xx
	// for a purchase (0200 or its 0220 advice).
	if rv.OriginalMTI != "" && (len(rv.OriginalMTI) != 4 || rv.OriginalMTI[:2] != t.MTI[:2]) {
		return CodeNotFound
	}
	for _, s := range t.ReversalSTANs {
		if s == rv.STAN {
			return CodeApproved
		}
	}
	if t.State == StateReversed || t.Completion != nil || t.Refunded() > 0 {
		return CodeNotFound
	}
	if rv.Replacement == nil || *rv.Replacement == 0 {
		t.State, t.Authorized = StateReversed, 0
	} else {
		if *rv.Replacement > t.Authorized {
			return CodeInvalidAmount
		}
		if *rv.Replacement < t.Authorized {
			t.Authorized = *rv.Replacement
			t.State = StatePartiallyReversed
		}
	}
	t.ReversalSTANs = append(t.ReversalSTANs, rv.STAN)
	return CodeApproved
}

// Snapshot returns deep copies of all transactions, in the order recorded.
func (l *Ledger) Snapshot() []Txn {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Txn, len(l.txns))
	for i, t := range l.txns {
		out[i] = t.clone()
	}
	return out
}

// ByRRN returns a copy of the transaction with this RRN.
func (l *Ledger) ByRRN(rrn string) (Txn, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.byRRN[rrn]
	if !ok {
		return Txn{}, false
	}
	return t.clone(), true
}

// Len is the number of recorded transactions.
func (l *Ledger) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.txns)
}

// Reset forgets everything (test and demo use, through the control API).
func (l *Ledger) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.txns = nil
	l.byKey = make(map[Key]ref)
	l.byRRN = make(map[string]*Txn)
	l.advices = make(map[adviceKey]*Txn)
	l.ntids = make(map[string]string)
}

func (t *Txn) clone() Txn {
	c := *t
	if t.Completion != nil {
		cc := *t.Completion
		c.Completion = &cc
	}
	c.Refunds = append([]Refund(nil), t.Refunds...)
	c.ReversalSTANs = append([]string(nil), t.ReversalSTANs...)
	return c
}

// SortByTime orders transactions by local time, then ID, for stable output.
func SortByTime(ts []Txn) {
	sort.SliceStable(ts, func(i, j int) bool {
		if !ts[i].LocalTime.Equal(ts[j].LocalTime) {
			return ts[i].LocalTime.Before(ts[j].LocalTime)
		}
		return ts[i].ID < ts[j].ID
	})
}

// String is for logs; it carries only the masked card.
func (t *Txn) String() string {
	return fmt.Sprintf("txn %d %s %s stan=%s rrn=%s card=%s amount=%d state=%s", t.ID, t.Kind, t.MTI, t.STAN, t.RRN, t.MaskedPAN, t.Amount, t.State)
}
