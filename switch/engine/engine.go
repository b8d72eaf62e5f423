// Package engine is the switch's payment engine: the payment state machine
// (Decide) and the orchestration of every operation the gateway asks for
// (authorize, capture, void, refund) and of the reversals the switch owes
// on its own (timeouts, late approvals).
//
// The engine's one unbreakable rule is write-ahead: the journal record of an
// operation — with everything needed to reverse or repeat it later — is
// durable before the first byte of its message is handed to a bank link. A
// debt to a bank (a reversal after a timeout, a void, a completion, a refund
// advice) is queued in the journal's store-and-forward table in the same
// transaction that records it, before the caller hears anything.
//
// The engine depends only on the small interfaces declared here (Link,
// Router, CardVault) plus the journal's Store; cmd/switchd wires the
// concrete bank links, routing table and vault.
package engine

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/moov-io/iso8583"
	"github.com/oklog/ulid/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/acquirer/h2hswitch/specs"
	"github.com/acquirer/h2hswitch/switch/banklink"
	"github.com/acquirer/h2hswitch/switch/currency"
	"github.com/acquirer/h2hswitch/switch/journal"
)

// Link is one bank's host-to-host link (switch/banklink.Link satisfies it).
// Send's errors must say whether the request surely never left (NotSent
// in Bank.NotSent) or may have reached the bank.
type Link interface {
	// Send writes the request and waits for its response.
	Send(ctx context.Context, msg *iso8583.Message) (*iso8583.Message, error)
	// NextSTAN allocates a STAN not outstanding on this link.
	NextSTAN(ctx context.Context) (string, error)
	// Usable reports whether the link has a signed-on connection.
	Usable() bool
}

// CardVault seals card data for the journal (journal/cardvault.Vault).
type CardVault interface {
	Seal(aad, pan, expiry string) (keyID uint32, ciphertext []byte, err error)
	Open(aad string, keyID uint32, ciphertext []byte) (pan, expiry string, err error)
	Hash(pan string) string
}

// RouteInput is what the routing table decides on. PANPrefix is at most the
// first 11 digits of the PAN: the router never needs more.
type RouteInput struct {
	PANPrefix  string
	Brand      string
	Amount     int64
	Currency   string
	MerchantID string
	MCC        string
	Type       PaymentType
}

// RouteDecision is the routing table's answer: the rule that matched ("" and
// NoRoute when none did) and the banks to try, in order. The engine skips
// banks that are not usable at the moment of sending.
type RouteDecision struct {
	Rule    string
	Banks   []string
	NoRoute bool
}

// Router chooses the banks for a new payment (routing.Holder, through an
// adapter in cmd/switchd). usable tells it which banks can take traffic now.
type Router interface {
	Route(in RouteInput, usable func(bank string) bool) RouteDecision
}

// Bank is one acquiring bank as the engine sees it.
type Bank struct {
	Name       string
	Dialect    *specs.Dialect
	Link       Link
	AcquirerID string // DE32
	// CutOff is the bank's daily clearing cut-off as a time of day in
	// Dialect.Location (Bank A 23h, Bank B 21h): a purchase can be voided
	// until the first cut-off after its approval.
	CutOff time.Duration
	// NotSent reports whether an error from Link.Send proves the request
	// never reached the bank. Any other error is taken as "maybe sent" and
	// owes a reversal. Nil: banklink.NotSent.
	NotSent func(error) bool
	// SyncTimeout bounds the one synchronous attempt of an advice (capture,
	// void, Bank B refund) before the answer goes back upstream; the SAF
	// worker repeats it afterwards. Zero: 10 s.
	SyncTimeout time.Duration
	// RepeatInterval is the longest delay between two attempts of an
	// unacknowledged reversal or advice (the contract's maximum: Bank A
	// 30 s, Bank B 20 s). Zero: 20 s.
	RepeatInterval time.Duration
	// RepeatMin is the delay before the first repeat; each further repeat
	// waits twice as long, up to RepeatInterval. Zero: RepeatInterval/8.
	RepeatMin time.Duration
}

// SAFPolicy tunes the store-and-forward worker.
type SAFPolicy struct {
	// Lease is how long a claimed item stays leased to this process. It
	// must exceed the longest attempt (every bank's SyncTimeout plus the
	// journal writes): another process takes an item over only after its
	// lease has expired. Zero: 2 minutes.
	Lease time.Duration
	// MaxAge moves an advice (completion, refund or stand-in advice) that
	// is still unacknowledged this long after it was queued to
	// dead-letter (after its latest failed attempt). Reversals are never
	// dead-lettered by age or count — the banks' rule is "repeat until
	// acknowledged" — they keep repeating at the bank's maximum interval
	// and raise h2hswitch_saf_overdue_total instead. Zero: 24 hours.
	MaxAge time.Duration
	// MaxAttempts moves an advice to dead-letter after this many failed
	// attempts (reversals: overdue alert, as with MaxAge). Zero: no limit
	// by count (MaxAge still applies).
	MaxAttempts int
	// Parallel bounds the items one pass sends at once. Zero: 8.
	Parallel int
	// RecoverEvery is how often the worker looks for operations left
	// without an outcome by a process that died (see Recover); zero: 30 s,
	// negative: never (run Recover at start only).
	RecoverEvery time.Duration
	// RecoverAfter is the age from which a pending operation is taken as
	// abandoned. It must cover the longest life of one attempt: the
	// pre-send budget (CommitTimeout), the link's slot wait and response
	// wait (2 × the bank's timeout) and the write of the answer
	// (WriteTimeout). Zero: exactly that for the slowest bank.
	RecoverAfter time.Duration
	// CommitTimeout is the pre-send budget of an authorization or online
	// refund: an attempt whose write-ahead record (and message log) took
	// longer than this since the operation was created is not sent (it
	// is failed over or declined instead). Zero: 30 s, the journal's own
	// bound on one commit.
	CommitTimeout time.Duration
	// WriteTimeout bounds the journal writes that record what happened
	// after a message was handed to a link (detached from the caller's
	// context). Zero: 15 s.
	WriteTimeout time.Duration
}

// Config wires an Engine.
type Config struct {
	Store  journal.Store
	Vault  CardVault
	Router Router
	Banks  []Bank
	// Reasons maps bank response codes onto normalized reasons.
	Reasons ReasonMapper
	// Owner names this process as a SAF lease owner (e.g. host:pid); it
	// must differ between processes sharing a journal. Empty: generated.
	Owner  string
	Logger zerolog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// SAF tunes the store-and-forward worker.
	SAF SAFPolicy
	// Metrics receives the engine's collectors; nil: not exported.
	Metrics prometheus.Registerer
	// Breaker, when set, is told the outcome of every bank exchange and
	// consulted (with Link.Usable) before a bank is used.
	Breaker Breaker
	// StandIn, when set, decides stand-in approvals when the winning
	// routing rule leaves no usable bank (and, if it says so, on a
	// timeout).
	StandIn StandIn
	// Sequences hands out the per-bank RRN counter in reserved blocks;
	// share it with the links' STANSequence. Nil: the engine's own, with
	// DefaultSequenceBlock.
	Sequences *Sequences
}

// Engine runs payments. It is safe for concurrent use.
type Engine struct {
	store   journal.Store
	vault   CardVault
	router  Router
	reasons ReasonMapper
	owner   string
	banks   map[string]*Bank
	log     zerolog.Logger
	now     func() time.Time
	ccy     *currency.Table
	saf     SAFPolicy
	m       *metrics
	breaker Breaker
	standIn StandIn
	seq     *Sequences

	// locks serializes operations on one payment inside this process; the
	// journal's optimistic versions serialize across processes.
	locksMu sync.Mutex
	locks   map[string]*paymentLock

	// unanswered indexes operations that may have reached a bank without
	// an answer (bank + STAN -> operation id), so that a late response is
	// matched without scanning the journal. Entries expire after
	// lateWindow; after a restart the journal scan is the fallback (the
	// reversal itself is durable either way).
	lateMu     sync.Mutex
	unanswered map[string]lateEntry

	// inFlight holds the authorizations and online refunds this process
	// has journaled and not yet settled (answer or timeout recorded).
	// Recover skips them: it must never decline and reverse a request
	// whose answer this process is still waiting for.
	inFlightMu sync.Mutex
	inFlight   map[string]struct{}

	// recoverPage is how many operations Recover reads per page.
	recoverPage int
}

// markInFlight records that this process is working on operation id; the
// returned function forgets it.
func (e *Engine) markInFlight(id string) func() {
	e.inFlightMu.Lock()
	e.inFlight[id] = struct{}{}
	e.inFlightMu.Unlock()
	return func() {
		e.inFlightMu.Lock()
		delete(e.inFlight, id)
		e.inFlightMu.Unlock()
	}
}

func (e *Engine) isInFlight(id string) bool {
	e.inFlightMu.Lock()
	defer e.inFlightMu.Unlock()
	_, ok := e.inFlight[id]
	return ok
}

// detached returns a context for the journal writes after a send: cut off
// from the caller's cancellation (a gateway that hangs up must not stop the
// switch recording an approval or the reversal it owes), bounded by
// SAFPolicy.WriteTimeout.
func (e *Engine) detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), e.saf.WriteTimeout)
}

type lateEntry struct {
	opID string
	at   time.Time
}

// lateWindow is how long a late response is matched through the in-memory
// index (banklink keeps a timed-out STAN reserved for as long by default).
const lateWindow = 10 * time.Minute

func lateKey(bank, stan string) string { return bank + "/" + stan }

// rememberUnanswered indexes op for HandleUnsolicited.
func (e *Engine) rememberUnanswered(op *journal.Operation) {
	now := e.now()
	e.lateMu.Lock()
	defer e.lateMu.Unlock()
	for k, v := range e.unanswered {
		if now.Sub(v.at) > lateWindow {
			delete(e.unanswered, k)
		}
	}
	e.unanswered[lateKey(op.Bank, op.STAN)] = lateEntry{opID: op.ID, at: now}
}

func (e *Engine) lookupUnanswered(bank, stan string) (string, bool) {
	e.lateMu.Lock()
	defer e.lateMu.Unlock()
	v, ok := e.unanswered[lateKey(bank, stan)]
	if !ok || e.now().Sub(v.at) > lateWindow {
		return "", false
	}
	return v.opID, true
}

type paymentLock struct {
	ch   chan struct{}
	refs int
}

// New validates cfg and builds an Engine.
func New(cfg Config) (*Engine, error) {
	if cfg.Store == nil {
		return nil, errors.New("engine: config: Store is required")
	}
	if cfg.Vault == nil {
		return nil, errors.New("engine: config: Vault is required")
	}
	if cfg.Router == nil {
		return nil, errors.New("engine: config: Router is required")
	}
	if cfg.Reasons == nil {
		return nil, errors.New("engine: config: Reasons is required")
	}
	if len(cfg.Banks) == 0 {
		return nil, errors.New("engine: config: at least one bank is required")
	}
	e := &Engine{
		store:       cfg.Store,
		vault:       cfg.Vault,
		router:      cfg.Router,
		reasons:     cfg.Reasons,
		owner:       cfg.Owner,
		banks:       make(map[string]*Bank, len(cfg.Banks)),
		log:         cfg.Logger,
		now:         cfg.Now,
		ccy:         currency.New(),
		locks:       make(map[string]*paymentLock),
		unanswered:  make(map[string]lateEntry),
		inFlight:    make(map[string]struct{}),
		recoverPage: 500,
		saf:         cfg.SAF,
		breaker:     cfg.Breaker,
		standIn:     cfg.StandIn,
		seq:         cfg.Sequences,
	}
	if e.seq == nil {
		e.seq = NewSequences(cfg.Store, DefaultSequenceBlock)
	}
	m, err := newMetrics(cfg.Metrics)
	if err != nil {
		return nil, err
	}
	e.m = m
	if e.now == nil {
		e.now = time.Now
	}
	if e.owner == "" {
		id, err := e.newID("engine_")
		if err != nil {
			return nil, err
		}
		e.owner = id
	}
	for i := range cfg.Banks {
		b := cfg.Banks[i]
		switch {
		case b.Name == "":
			return nil, fmt.Errorf("engine: config: banks[%d].name is empty", i)
		case b.Dialect == nil:
			return nil, fmt.Errorf("engine: config: banks.%s.dialect is missing", b.Name)
		case b.Link == nil:
			return nil, fmt.Errorf("engine: config: banks.%s.link is missing", b.Name)
		case b.AcquirerID == "" || len(b.AcquirerID) > 11 || !specs.IsDigits(b.AcquirerID):
			return nil, fmt.Errorf("engine: config: banks.%s.acquirer_id must be 1..11 digits", b.Name)
		case b.CutOff <= 0 || b.CutOff >= 24*time.Hour:
			return nil, fmt.Errorf("engine: config: banks.%s.cut_off must be a time of day", b.Name)
		}
		if _, dup := e.banks[b.Name]; dup {
			return nil, fmt.Errorf("engine: config: bank %s configured twice", b.Name)
		}
		if b.SyncTimeout <= 0 {
			b.SyncTimeout = 10 * time.Second
		}
		if b.RepeatInterval <= 0 {
			b.RepeatInterval = 20 * time.Second
		}
		if b.RepeatMin <= 0 {
			b.RepeatMin = b.RepeatInterval / 8
		}
		if b.RepeatMin > b.RepeatInterval {
			return nil, fmt.Errorf("engine: config: banks.%s.repeat_min must not exceed repeat_interval", b.Name)
		}
		if b.NotSent == nil {
			b.NotSent = banklink.NotSent
		}
		e.banks[b.Name] = &b
	}
	if err := e.saf.setDefaults(e.banks); err != nil {
		return nil, err
	}
	return e, nil
}

func (p *SAFPolicy) setDefaults(banks map[string]*Bank) error {
	var longest time.Duration
	for _, b := range banks {
		longest = max(longest, b.SyncTimeout)
	}
	if p.Lease == 0 {
		p.Lease = 2 * time.Minute
	}
	if p.MaxAge == 0 {
		p.MaxAge = 24 * time.Hour
	}
	if p.Parallel <= 0 {
		p.Parallel = 8
	}
	if p.RecoverEvery == 0 {
		p.RecoverEvery = 30 * time.Second
	}
	if p.CommitTimeout == 0 {
		p.CommitTimeout = 30 * time.Second
	}
	if p.WriteTimeout == 0 {
		p.WriteTimeout = 15 * time.Second
	}
	// The longest one attempt can stay pending: its pre-send budget, the
	// link's wait for a connection slot and for the answer (each up to
	// the bank's timeout), and the write of the outcome.
	minRecover := 2*longest + p.CommitTimeout + p.WriteTimeout
	if p.RecoverAfter == 0 {
		p.RecoverAfter = minRecover
	}
	switch {
	case p.Lease < longest+5*time.Second:
		return fmt.Errorf("engine: config: saf.lease (%s) must exceed the longest bank timeout (%s) by at least 5s", p.Lease, longest)
	case p.MaxAge < 0:
		return errors.New("engine: config: saf.max_age must not be negative")
	case p.MaxAttempts < 0:
		return errors.New("engine: config: saf.max_attempts must not be negative")
	case p.CommitTimeout < 0 || p.WriteTimeout < 0:
		return errors.New("engine: config: saf.commit_timeout and saf.write_timeout must not be negative")
	case p.RecoverAfter < minRecover:
		return fmt.Errorf("engine: config: saf.recover_after (%s) must be at least 2 × the longest bank timeout (%s) + saf.commit_timeout (%s) + saf.write_timeout (%s) = %s",
			p.RecoverAfter, longest, p.CommitTimeout, p.WriteTimeout, minRecover)
	}
	return nil
}

// lock takes the in-process lock of one payment, waiting on ctx.
func (e *Engine) lock(ctx context.Context, id string) (func(), error) {
	e.locksMu.Lock()
	l := e.locks[id]
	if l == nil {
		l = &paymentLock{ch: make(chan struct{}, 1)}
		e.locks[id] = l
	}
	l.refs++
	e.locksMu.Unlock()
	release := func() {
		e.locksMu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(e.locks, id)
		}
		e.locksMu.Unlock()
	}
	select {
	case l.ch <- struct{}{}:
		return func() { <-l.ch; release() }, nil
	case <-ctx.Done():
		release()
		return nil, unavailable("waiting for another operation on the payment", ctx.Err())
	}
}

// newID returns prefix + a ULID with crypto/rand entropy: sortable by time,
// unguessable.
func (e *Engine) newID(prefix string) (string, error) {
	id, err := ulid.New(ulid.Timestamp(e.now()), rand.Reader)
	if err != nil {
		return "", fmt.Errorf("generating %s id: %w", prefix, err)
	}
	return prefix + id.String(), nil
}

func (e *Engine) bank(name string) (*Bank, error) {
	b, ok := e.banks[name]
	if !ok {
		return nil, fmt.Errorf("bank %q is not configured", name)
	}
	return b, nil
}
