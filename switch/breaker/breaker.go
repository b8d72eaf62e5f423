// Package breaker is the per-bank circuit breaker: it stops the switch from
// sending payments to a bank link that keeps failing, so that they fail over
// or are stood in at once instead of each waiting out the bank's timeout.
//
// A circuit is closed (traffic flows) until FailureThreshold consecutive
// failures — timeouts, lost connections, no usable connection; never a
// bank's decline, a declined 05 comes from a healthy bank — fall within
// Window. It then opens: nothing is sent for CoolDown. After the cool-down it
// is half-open: up to Probes requests are let through; when they all succeed
// it closes, when one fails it opens again with the cool-down multiplied by
// CoolDownFactor (capped at MaxCoolDown).
//
// Use:
//
//	ok, done := br.Allow()
//	if !ok { /* treat the bank as unusable */ }
//	resp, err := link.Send(ctx, msg)
//	done(breaker.Classify(err)) // exactly once per allowed request
//
// Transitions happen when they are observed (Allow, Usable, Status), using
// the injected clock; nothing runs in the background.
package breaker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/acquirer/h2hswitch/switch/banklink"
)

// State of a circuit.
type State int32

// States. Their String values are those of /v1/admin/banks "circuit".
const (
	Closed State = iota
	Open
	HalfOpen
)

// String names the state as the admin API shows it.
func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case Open:
		return "open"
	case HalfOpen:
		return "half_open"
	}
	return "unknown"
}

// Outcome is what a request allowed through the breaker came to.
type Outcome int

// Outcomes.
const (
	// Success: the bank answered (whatever its response code).
	Success Outcome = iota + 1
	// Failure: the link or the bank failed (timeout, connection lost, no
	// usable connection).
	Failure
	// Ignore: the request says nothing about the bank (the caller gave up
	// before sending, our own message was invalid, the link was saturated
	// or shutting down).
	Ignore
)

// String names the outcome.
func (o Outcome) String() string {
	switch o {
	case Success:
		return "success"
	case Failure:
		return "failure"
	case Ignore:
		return "ignore"
	}
	return "unknown"
}

// Classify maps an error of banklink's Send onto an outcome: nil is
// Success; ErrTimeout, ErrConnectionLost and ErrNoConnection are Failure;
// a caller's cancellation and the link's own not-sent conditions (busy,
// invalid message, STAN trouble, closing) are Ignore. Any other error is a
// Failure: a link that fails in a way nobody classified is not healthy.
func Classify(err error) Outcome {
	switch {
	case err == nil:
		return Success
	case errors.Is(err, context.Canceled), errors.Is(err, banklink.ErrCanceled):
		// The caller gave up (client disconnect, shutdown): not the bank's fault.
		return Ignore
	case errors.Is(err, banklink.ErrTimeout), errors.Is(err, banklink.ErrConnectionLost),
		errors.Is(err, banklink.ErrNoConnection), errors.Is(err, context.DeadlineExceeded):
		return Failure
	case errors.Is(err, banklink.ErrBusy), errors.Is(err, banklink.ErrInvalidMessage),
		errors.Is(err, banklink.ErrSTANInUse), errors.Is(err, banklink.ErrSTANUnavailable),
		errors.Is(err, banklink.ErrClosed):
		return Ignore
	}
	return Failure
}

// Defaults of Config.
const (
	DefaultFailureThreshold = 5
	DefaultWindow           = 30 * time.Second
	DefaultCoolDown         = 15 * time.Second
	DefaultMaxCoolDown      = 2 * time.Minute
	DefaultCoolDownFactor   = 2.0
	DefaultProbes           = 1
	DefaultProbeTimeout     = time.Minute
)

// Config tunes one bank's breaker. Zero values take the defaults.
type Config struct {
	// FailureThreshold consecutive failures open the circuit (default 5)...
	FailureThreshold int `yaml:"failure_threshold" mapstructure:"failure_threshold"`
	// ...when they all fall within Window (default 30s).
	Window time.Duration `yaml:"window" mapstructure:"window"`
	// CoolDown is how long the circuit stays open the first time (15s).
	CoolDown time.Duration `yaml:"cool_down" mapstructure:"cool_down"`
	// CoolDownFactor multiplies the cool-down each time a probe fails
	// (default 2; 1 keeps it constant), up to MaxCoolDown (default 2m).
	CoolDownFactor float64       `yaml:"cool_down_factor" mapstructure:"cool_down_factor"`
	MaxCoolDown    time.Duration `yaml:"max_cool_down" mapstructure:"max_cool_down"`
	// Probes is how many requests a half-open circuit lets through at once;
	// it closes when that many have succeeded in a row (default 1).
	Probes int `yaml:"probes" mapstructure:"probes"`
	// ProbeTimeout: a probe not reported within it counts as failed (a
	// safety net for a lost done call; keep it above the bank's timeout).
	// Default 1m.
	ProbeTimeout time.Duration `yaml:"probe_timeout" mapstructure:"probe_timeout"`
	// FailureResponseCodes are bank response codes (DE39) that count as a
	// failure rather than a healthy answer, e.g. ["91", "96"] when the
	// bank's host answers "issuer inoperative" while its back end is down.
	// Default none: every answer is a sign of a healthy link.
	FailureResponseCodes []string `yaml:"failure_response_codes" mapstructure:"failure_response_codes"`
}

// WithDefaults returns c with zero values replaced by the defaults.
func (c Config) WithDefaults() Config {
	if c.FailureThreshold == 0 {
		c.FailureThreshold = DefaultFailureThreshold
	}
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.CoolDown == 0 {
		c.CoolDown = DefaultCoolDown
	}
	if c.MaxCoolDown == 0 {
		c.MaxCoolDown = max(DefaultMaxCoolDown, c.CoolDown)
	}
	if c.CoolDownFactor == 0 {
		c.CoolDownFactor = DefaultCoolDownFactor
	}
	if c.Probes == 0 {
		c.Probes = DefaultProbes
	}
	if c.ProbeTimeout == 0 {
		c.ProbeTimeout = DefaultProbeTimeout
	}
	return c
}

// Validate checks c after defaults; key is where c sits in the switch's
// configuration (e.g. "banks.alfa.breaker") and prefixes every problem.
func (c Config) Validate(key string) error {
	c = c.WithDefaults()
	var problems []error
	bad := func(k, format string, args ...any) {
		problems = append(problems, fmt.Errorf("%s.%s: %s", key, k, fmt.Sprintf(format, args...)))
	}
	if c.FailureThreshold < 1 || c.FailureThreshold > 1000 {
		bad("failure_threshold", "must be 1..1000")
	}
	if c.Window <= 0 {
		bad("window", "must be positive")
	}
	if c.CoolDown <= 0 {
		bad("cool_down", "must be positive")
	}
	if c.MaxCoolDown < c.CoolDown {
		bad("max_cool_down", "must not be below cool_down (%s)", c.CoolDown)
	}
	if c.CoolDownFactor < 1 || c.CoolDownFactor > 100 {
		bad("cool_down_factor", "must be 1..100")
	}
	if c.Probes < 1 || c.Probes > 100 {
		bad("probes", "must be 1..100")
	}
	if c.ProbeTimeout <= 0 {
		bad("probe_timeout", "must be positive")
	}
	for i, code := range c.FailureResponseCodes {
		if len(code) != 2 {
			bad(fmt.Sprintf("failure_response_codes[%d]", i), "%q is not a two-character response code", code)
		} else if code == "00" {
			bad(fmt.Sprintf("failure_response_codes[%d]", i), "00 is an approval")
		}
	}
	return errors.Join(problems...)
}

// Options are a breaker's collaborators.
type Options struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Metrics may be nil.
	Metrics *Metrics
}

// Breaker is one bank's circuit. It is safe for concurrent use; every call
// takes one short mutex.
type Breaker struct {
	bank    string
	cfg     Config
	now     func() time.Time
	metrics *Metrics
	failRsp map[string]bool

	mu        sync.Mutex
	state     State
	gen       uint64      // bumped on every transition; outcomes of older generations are dropped
	since     time.Time   // when the current state was entered
	failures  []time.Time // closed: times of the current run of consecutive failures (last FailureThreshold)
	coolDown  time.Duration
	retryAt   time.Time // open: when the first probe may go
	probes    map[uint64]time.Time
	probeSeq  uint64
	successes int // half-open: probes succeeded in a row
	opens     uint64
}

// New builds a breaker for bank.
func New(bank string, cfg Config, opts Options) (*Breaker, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate("banks." + bank + ".breaker"); err != nil {
		return nil, err
	}
	b := &Breaker{
		bank: bank, cfg: cfg, now: opts.Now, metrics: opts.Metrics,
		failRsp:  make(map[string]bool, len(cfg.FailureResponseCodes)),
		failures: make([]time.Time, 0, cfg.FailureThreshold),
		coolDown: cfg.CoolDown,
		probes:   make(map[uint64]time.Time),
	}
	for _, c := range cfg.FailureResponseCodes {
		b.failRsp[strings.ToUpper(c)] = true
	}
	if b.now == nil {
		b.now = time.Now
	}
	b.since = b.now()
	b.metrics.set(bank, Closed)
	return b, nil
}

// Bank names the breaker's bank.
func (b *Breaker) Bank() string { return b.bank }

// ResponseOutcome classifies a bank's answer with response code code: a
// Success unless the code is one of Config.FailureResponseCodes.
func (b *Breaker) ResponseOutcome(code string) Outcome {
	if b.failRsp[strings.ToUpper(code)] {
		return Failure
	}
	return Success
}

// Allow asks to send one request. When ok, the caller must call done
// exactly once with the request's outcome (later calls are ignored); when
// not ok, done is a no-op and the bank must be treated as unusable.
func (b *Breaker) Allow() (ok bool, done func(Outcome)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	b.advanceLocked(now)
	switch b.state {
	case Closed:
		return true, b.doneFunc(b.gen, 0)
	case HalfOpen:
		if len(b.probes) < b.cfg.Probes {
			b.probeSeq++
			b.probes[b.probeSeq] = now
			return true, b.doneFunc(b.gen, b.probeSeq)
		}
	}
	return false, func(Outcome) {}
}

// Usable reports whether Allow would let a request through now: closed, or
// half-open with a probe slot free. It takes no slot.
func (b *Breaker) Usable() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.advanceLocked(b.now())
	return b.state == Closed || (b.state == HalfOpen && len(b.probes) < b.cfg.Probes)
}

// State returns the current state.
func (b *Breaker) State() State {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.advanceLocked(b.now())
	return b.state
}

// Status is a breaker's state for operators.
type Status struct {
	Bank  string
	State State
	// Since is when the circuit entered State.
	Since time.Time
	// ConsecutiveFailures counts the current run of failures (closed).
	ConsecutiveFailures int
	// CoolDown is the current cool-down and RetryAt when an open circuit
	// lets its first probe through (zero unless open).
	CoolDown time.Duration
	RetryAt  time.Time
	// ProbesInFlight are half-open probes not yet reported.
	ProbesInFlight int
	// Opens counts how many times the circuit opened since start.
	Opens uint64
}

// Status returns the breaker's status.
func (b *Breaker) Status() Status {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.advanceLocked(b.now())
	s := Status{
		Bank: b.bank, State: b.state, Since: b.since, ConsecutiveFailures: len(b.failures),
		CoolDown: b.coolDown, ProbesInFlight: len(b.probes), Opens: b.opens,
	}
	if b.state == Open {
		s.RetryAt = b.retryAt
	}
	return s
}

// Reset closes the circuit at once (an operator's override).
func (b *Breaker) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state != Closed {
		b.transitionLocked(Closed, b.now())
	}
	b.failures = b.failures[:0]
}

func (b *Breaker) doneFunc(gen, probe uint64) func(Outcome) {
	var used atomic.Bool
	return func(o Outcome) {
		if used.Swap(true) {
			return
		}
		b.record(gen, probe, o)
	}
}

// record applies the outcome of a request admitted in generation gen
// (probe is its probe id, 0 when admitted closed).
func (b *Breaker) record(gen, probe uint64, o Outcome) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	b.advanceLocked(now)
	if gen != b.gen {
		// Admitted before the last transition: the state it reports on is
		// gone (e.g. a slow success from before the circuit opened).
		return
	}
	switch b.state {
	case Closed:
		switch o {
		case Success:
			b.failures = b.failures[:0]
		case Failure:
			b.failLocked(now)
		}
	case HalfOpen:
		delete(b.probes, probe)
		switch o {
		case Success:
			b.successes++
			if b.successes >= b.cfg.Probes {
				b.transitionLocked(Closed, now)
			}
		case Failure:
			b.reopenLocked(now)
		}
	}
}

// failLocked records one failure while closed and opens the circuit when
// the last FailureThreshold consecutive failures fall within Window.
func (b *Breaker) failLocked(now time.Time) {
	if len(b.failures) == b.cfg.FailureThreshold {
		copy(b.failures, b.failures[1:])
		b.failures = b.failures[:len(b.failures)-1]
	}
	b.failures = append(b.failures, now)
	if len(b.failures) == b.cfg.FailureThreshold && now.Sub(b.failures[0]) <= b.cfg.Window {
		b.coolDown = b.cfg.CoolDown
		b.transitionLocked(Open, now)
	}
}

// reopenLocked opens a half-open circuit again with a longer cool-down.
func (b *Breaker) reopenLocked(now time.Time) {
	next := time.Duration(float64(b.coolDown) * b.cfg.CoolDownFactor)
	b.coolDown = min(max(next, b.coolDown), b.cfg.MaxCoolDown)
	b.transitionLocked(Open, now)
}

// advanceLocked takes the transitions that time alone causes: an open
// circuit whose cool-down is over becomes half-open; a half-open circuit
// whose probe was never reported within ProbeTimeout opens again.
func (b *Breaker) advanceLocked(now time.Time) {
	if b.state == Open && !now.Before(b.retryAt) {
		b.transitionLocked(HalfOpen, now)
	}
	if b.state == HalfOpen {
		for _, started := range b.probes {
			if now.Sub(started) >= b.cfg.ProbeTimeout {
				b.reopenLocked(now)
				return
			}
		}
	}
}

func (b *Breaker) transitionLocked(to State, now time.Time) {
	from := b.state
	b.state = to
	b.gen++
	b.since = now
	b.failures = b.failures[:0]
	clear(b.probes)
	b.successes = 0
	switch to {
	case Open:
		b.opens++
		b.retryAt = now.Add(b.coolDown)
	case Closed:
		b.coolDown = b.cfg.CoolDown
	}
	b.metrics.transition(b.bank, from, to)
}
