// Package banklink keeps the switch's persistent ISO 8583 connections to one
// acquiring bank: it dials them (TCP or TLS), signs them on where the dialect
// requires, keeps them alive with echoes, reconnects with back-off, owns STAN
// allocation, matches responses to requests and hands late or unmatched
// messages to a callback. See docs/banklink.md for the design.
//
// Each connection is an iso8583-connection Connection used as a transport
// (its read and write loops, idle and read-timeout timers); request/response
// matching is the link's own, because iso8583-connection's matching keys by
// DE11 alone, silently replaces a pending request with the same key, cannot
// tell "not written" from "maybe written" and can lose a response that races
// its send timeout.
package banklink

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moov-io/iso8583"
	connection "github.com/moov-io/iso8583-connection"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/acquirer/h2hswitch/specs"
)

// Option configures a Link beyond its Config.
type Option func(*options)

type options struct {
	log           zerolog.Logger
	stans         STANSource
	onUnsolicited func(bank string, msg *iso8583.Message)
	reg           prometheus.Registerer
}

// WithLogger sets the logger (default: disabled). The link logs bank, MTI,
// STAN and connection id, never a PAN or any other card data.
func WithLogger(l zerolog.Logger) Option { return func(o *options) { o.log = l } }

// WithSTANSource replaces the default in-memory STAN counter.
func WithSTANSource(s STANSource) Option { return func(o *options) { o.stans = s } }

// WithOnUnsolicited sets the callback that receives every decoded response
// that matches no outstanding request (late responses after ErrTimeout or
// ErrConnectionLost, responses to unknown STANs) and every host-originated
// message other than network management. It is called from a connection's
// goroutine; it must not block for long.
func WithOnUnsolicited(f func(bank string, msg *iso8583.Message)) Option {
	return func(o *options) { o.onUnsolicited = f }
}

// WithMetrics registers the link's Prometheus collectors with reg.
func WithMetrics(reg prometheus.Registerer) Option { return func(o *options) { o.reg = reg } }

// Link is one bank's set of persistent connections. Safe for concurrent use.
type Link struct {
	cfg     Config
	dialect *specs.Dialect
	tlsConf *tls.Config
	log     zerolog.Logger
	stans   STANSource
	onUnsol func(bank string, msg *iso8583.Message)
	// unsolSlots bounds the callbacks running at once: iso8583-connection
	// starts a goroutine per inbound message, and a flooding host must not
	// turn that into unbounded goroutines and journal load.
	unsolSlots chan struct{}
	m          *metrics

	ctx    context.Context // cancelled by Close: stops dialling, sign-on, echoes
	cancel context.CancelFunc
	slotWG sync.WaitGroup // slot supervisors
	sessWG sync.WaitGroup // session watchers

	mu        sync.Mutex
	pending   map[string]*pending  // by STAN
	late      map[string]lateEntry // by STAN: timed out or lost, reserved for LateWindow
	sessions  []*session           // by slot; nil while the slot is down
	rr        int                  // rotates the tie-break among equally loaded connections
	wake      chan struct{}        // closed and replaced when a slot frees or a connection becomes usable
	wakeTaken bool                 // someone waits on wake
	closing   bool
	lastSweep time.Time

	closed     atomic.Bool
	up         atomic.Int32
	signedOn   atomic.Int32
	inFlight   atomic.Int64
	lastEcho   atomic.Int64 // unix nanos
	reconnects atomic.Uint64
	connSeq    atomic.Uint64
	timeouts   minuteWindow
	lost       minuteWindow
}

type session struct {
	id     string
	slot   int
	opened time.Time
	conn   *connection.Connection // set before ready is closed
	ready  chan struct{}
	gone   chan struct{} // closed once the link has dropped the session

	usable    atomic.Bool
	echoBusy  atomic.Bool
	echoFails atomic.Int32

	dead     bool // guarded by Link.mu
	inflight int  // guarded by Link.mu
}

type reqState int

const (
	stateReserved reqState = iota // STAN held, no connection
	stateBound                    // connection chosen, write in progress
	stateWritten                  // on the wire, awaiting response
)

type pending struct {
	stan     string
	mti      string
	key      string // matchKey of the expected response
	rrn      string // DE37 of the request, "" when it has none
	internal bool   // network management originated by the link
	state    reqState
	sess     *session
	done     chan result // capacity 1; receives exactly one result
}

type result struct {
	msg *iso8583.Message
	err error
}

type lateEntry struct {
	key      string
	rrn      string
	until    time.Time
	internal bool
}

// Open validates cfg (after filling its defaults), checks it against the
// dialect and starts connecting in the background. Use Usable or WaitUsable
// to learn when the link can carry traffic, and Close to sign off and stop.
func Open(cfg Config, dialect *specs.Dialect, opts ...Option) (*Link, error) {
	if dialect == nil || dialect.Spec == nil || dialect.Framing == nil {
		return nil, fmt.Errorf("banklink %q: dialect with spec and framing is required", cfg.Bank)
	}
	if cfg.Dialect == "" {
		cfg.Dialect = dialect.Name
	}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Dialect != dialect.Name {
		return nil, fmt.Errorf("banklink %q: dialect: config says %q but %q was given", cfg.Bank, cfg.Dialect, dialect.Name)
	}
	tlsConf, err := cfg.buildTLS()
	if err != nil {
		return nil, err
	}
	o := options{log: zerolog.Nop()}
	for _, opt := range opts {
		opt(&o)
	}
	if o.stans == nil {
		o.stans = NewCounterSTANSource(0)
	}
	l := &Link{
		cfg:        cfg,
		dialect:    dialect,
		tlsConf:    tlsConf,
		log:        o.log.With().Str("component", "banklink").Str("bank", cfg.Bank).Logger(),
		stans:      o.stans,
		onUnsol:    o.onUnsolicited,
		unsolSlots: make(chan struct{}, maxUnsolicitedInFlight),
		pending:    make(map[string]*pending),
		late:       make(map[string]lateEntry),
		sessions:   make([]*session, cfg.Connections),
		wake:       make(chan struct{}),
	}
	if o.reg != nil {
		if l.m, err = newMetrics(o.reg); err != nil {
			return nil, fmt.Errorf("banklink %q: %w", cfg.Bank, err)
		}
		l.updateGauges()
	}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	for slot := range cfg.Connections {
		l.slotWG.Add(1)
		go l.runSlot(slot)
	}
	return l, nil
}

// Bank returns the configured bank name.
func (l *Link) Bank() string { return l.cfg.Bank }

// Config returns the effective configuration (defaults applied).
func (l *Link) Config() Config { return l.cfg }

// Usable reports whether at least one connection is signed on and the link
// is not closing.
func (l *Link) Usable() bool { return !l.closed.Load() && l.signedOn.Load() > 0 }

// Health returns a snapshot of the link's state.
func (l *Link) Health() Health {
	now := time.Now()
	h := Health{
		Bank:               l.cfg.Bank,
		Dialect:            l.cfg.Dialect,
		Configured:         l.cfg.Connections,
		Up:                 int(l.up.Load()),
		SignedOn:           int(l.signedOn.Load()),
		InFlight:           int(l.inFlight.Load()),
		TimeoutsLastMinute: l.timeouts.sum(now),
		LostLastMinute:     l.lost.sum(now),
		Reconnects:         l.reconnects.Load(),
		Closed:             l.closed.Load(),
	}
	if ns := l.lastEcho.Load(); ns != 0 {
		h.LastEcho = time.Unix(0, ns)
	}
	return h
}

// WaitUsable blocks until the link is usable, ctx ends or the link closes.
func (l *Link) WaitUsable(ctx context.Context) error {
	for {
		l.mu.Lock()
		if l.closing {
			l.mu.Unlock()
			return ErrClosed
		}
		if l.signedOn.Load() > 0 {
			l.mu.Unlock()
			return nil
		}
		ch := l.takeWakeLocked()
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("waiting for bank %q to become usable: %w", l.cfg.Bank, ctx.Err())
		}
	}
}

// NextSTAN returns a STAN (6 digits) from the link's STANSource that is not
// outstanding on this link and not reserved for a late response.
func (l *Link) NextSTAN(ctx context.Context) (string, error) {
	const maxCandidates = 10000
	for range maxCandidates {
		v, err := l.stans.NextSTAN(ctx)
		if err != nil {
			return "", fmt.Errorf("bank %q: allocating STAN: %w", l.cfg.Bank, err)
		}
		v, ok := foldSTAN(v)
		if !ok {
			continue
		}
		stan := formatSTAN(v)
		l.mu.Lock()
		busy := l.stanBusyLocked(stan, time.Now())
		l.mu.Unlock()
		if !busy {
			return stan, nil
		}
	}
	return "", fmt.Errorf("bank %q: allocating STAN: no free STAN among %d candidates", l.cfg.Bank, maxCandidates)
}

func (l *Link) stanBusyLocked(stan string, now time.Time) bool {
	if _, ok := l.pending[stan]; ok {
		return true
	}
	le, ok := l.late[stan]
	return ok && now.Before(le.until)
}

// Send writes msg on one usable connection and waits for its response, at
// most the bank's Timeout after the write and never past ctx's deadline. If
// msg has no DE11, a STAN is allocated and set; a repeat (0401, 0421, 0221,
// 0121) carries its first attempt's STAN, which Send accepts once that
// attempt has timed out. Errors: see ErrNotSent and ErrMaybeSent. A response
// is returned whatever its DE39; interpreting it is the caller's business.
func (l *Link) Send(ctx context.Context, msg *iso8583.Message) (*iso8583.Message, error) {
	if l.closed.Load() {
		l.count("not_sent")
		return nil, notSent(ErrClosed, "", nil)
	}
	if msg == nil {
		return nil, notSent(ErrInvalidMessage, "nil message", nil)
	}
	mti, err := msg.GetMTI()
	if err != nil {
		return nil, notSent(ErrInvalidMessage, "reading MTI", err)
	}
	if _, ok := responseMTI(mti); !ok {
		return nil, notSent(ErrInvalidMessage, fmt.Sprintf("MTI %q is not a request or advice", mti), nil)
	}
	var stan string
	if raw := fieldOf(msg, 11); raw == "" {
		if stan, err = l.NextSTAN(ctx); err != nil {
			return nil, notSent(ErrSTANUnavailable, "", err)
		}
		if err := msg.Field(11, stan); err != nil {
			return nil, notSent(ErrInvalidMessage, "setting DE11", err)
		}
	} else if stan, err = normalizeSTAN(raw); err != nil {
		return nil, notSent(ErrInvalidMessage, "DE11", err)
	}
	frame, err := encode(l.dialect.Framing, msg)
	if err != nil {
		return nil, notSent(ErrInvalidMessage, "", err)
	}
	p, err := l.reserve(stan, mti, fieldOf(msg, 37), false)
	if err != nil {
		l.count("not_sent")
		return nil, err
	}
	start := time.Now()
	resp, err := l.exchange(ctx, p, frame, nil, l.cfg.Timeout)
	switch {
	case err == nil:
		l.count("ok")
		if l.m != nil {
			l.m.roundTrip.WithLabelValues(l.cfg.Bank, mti).Observe(time.Since(start).Seconds())
		}
	case errors.Is(err, ErrTimeout):
		l.timeouts.add(time.Now())
		l.count("timeout")
	case errors.Is(err, ErrConnectionLost):
		l.lost.add(time.Now())
		l.count("connection_lost")
	default:
		l.count("not_sent")
	}
	return resp, err
}

func (l *Link) count(res string) {
	if l.m != nil {
		l.m.results.WithLabelValues(l.cfg.Bank, res).Inc()
	}
}

// reserve makes stan outstanding for a request of type mti carrying DE37
// rrn ("" for none).
func (l *Link) reserve(stan, mti, rrn string, internal bool) (*pending, error) {
	key := matchKey(mti, stan)
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closing && !internal {
		return nil, notSent(ErrClosed, "", nil)
	}
	if _, ok := l.pending[stan]; ok {
		return nil, notSent(ErrSTANInUse, "STAN "+stan, nil)
	}
	if le, ok := l.late[stan]; ok && now.Before(le.until) {
		// Only a repeat (MTI ending in 1: 0401, 0421, 0221, 0121) of the
		// request that timed out, expecting the same response, may take the
		// STAN over; a late answer to the first attempt then completes the
		// repeat, which is what the caller wants.
		if le.key != key || !isRepeatMTI(mti) {
			return nil, notSent(ErrSTANInUse, "STAN "+stan+" awaits a late response", nil)
		}
		delete(l.late, stan)
	}
	p := &pending{stan: stan, mti: mti, key: key, rrn: rrn, internal: internal, done: make(chan result, 1)}
	l.pending[stan] = p
	return p, nil
}

// exchange writes frame for p on target (or the least loaded usable
// connection) and waits for the result.
func (l *Link) exchange(ctx context.Context, p *pending, frame []byte, target *session, timeout time.Duration) (*iso8583.Message, error) {
	var s *session
	for attempt := 1; ; attempt++ {
		var err error
		if target != nil {
			err = l.bindTo(p, target)
			s = target
		} else {
			s, err = l.acquire(ctx, p, timeout)
		}
		if err != nil {
			l.release(p)
			return nil, err
		}
		if cerr := ctx.Err(); cerr != nil {
			// Do not turn a caller that already gave up into a reversal.
			l.unbind(p)
			l.release(p)
			return nil, notSent(ErrCanceled, "", cerr)
		}
		_, werr := s.conn.Write(frame)
		if werr == nil {
			break
		}
		if errors.Is(werr, connection.ErrConnectionClosed) {
			// The connection was closed before the writer took the frame:
			// nothing left. Try another connection.
			if !l.unbind(p) {
				// A stray response with this STAN completed p meanwhile.
				r := <-p.done
				return r.msg, r.err
			}
			if target != nil || attempt >= l.cfg.Connections {
				l.release(p)
				return nil, notSent(ErrNoConnection, "connection "+s.id+" closed before write", werr)
			}
			continue
		}
		// The socket write failed: part of the frame may have left.
		if l.abandon(p) {
			l.log.Warn().Str("conn", s.id).Str("mti", p.mti).Str("stan", p.stan).Err(werr).Msg("write failed")
			return nil, maybeSent(ErrConnectionLost, "writing on "+s.id, werr)
		}
		r := <-p.done
		return r.msg, r.err
	}

	l.mu.Lock()
	if l.pending[p.stan] == p {
		if s.dead {
			// The connection died between our write and now; its watcher
			// skipped us because we were still writing.
			l.finishLocked(p)
			l.quarantineLocked(p)
			l.mu.Unlock()
			l.log.Warn().Str("conn", s.id).Str("mti", p.mti).Str("stan", p.stan).Msg("connection lost with request pending")
			return nil, maybeSent(ErrConnectionLost, "connection "+s.id+" closed", nil)
		}
		p.state = stateWritten
	}
	l.mu.Unlock()
	if !p.internal {
		l.log.Debug().Str("conn", s.id).Str("mti", p.mti).Str("stan", p.stan).Msg("request sent")
	}

	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var cause error
	select {
	case r := <-p.done:
		return r.msg, r.err
	case <-timer.C:
	case <-ctx.Done():
		cause = ctx.Err()
	}
	if l.abandon(p) {
		l.log.Warn().Str("conn", s.id).Str("mti", p.mti).Str("stan", p.stan).Msg("no response in time")
		return nil, maybeSent(ErrTimeout, fmt.Sprintf("MTI %s STAN %s on %s", p.mti, p.stan, s.id), cause)
	}
	r := <-p.done // completed concurrently with the timer; the result is in flight
	return r.msg, r.err
}

// acquire binds p to the usable connection with the fewest requests in
// flight, waiting for a free slot up to ctx or maxWait.
func (l *Link) acquire(ctx context.Context, p *pending, maxWait time.Duration) (*session, error) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		l.mu.Lock()
		if l.closing && !p.internal {
			l.mu.Unlock()
			return nil, notSent(ErrClosed, "", nil)
		}
		var best *session
		anyUsable := false
		n := len(l.sessions)
		l.rr++
		for i := range n {
			s := l.sessions[(l.rr+i)%n]
			if s == nil || s.dead || !s.usable.Load() {
				continue
			}
			anyUsable = true
			if s.inflight >= l.cfg.MaxInFlight {
				continue
			}
			if best == nil || s.inflight < best.inflight {
				best = s
			}
		}
		if best != nil {
			l.bindLocked(p, best)
			l.mu.Unlock()
			return best, nil
		}
		if !anyUsable {
			l.mu.Unlock()
			return nil, notSent(ErrNoConnection, "bank "+l.cfg.Bank, nil)
		}
		ch := l.takeWakeLocked()
		l.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(maxWait)
		}
		select {
		case <-ch:
		case <-timer.C:
			return nil, notSent(ErrBusy, fmt.Sprintf("no free slot within %s", maxWait), nil)
		case <-ctx.Done():
			return nil, notSent(ErrBusy, "waiting for a free slot", ctx.Err())
		}
	}
}

func (l *Link) bindTo(p *pending, s *session) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s.dead {
		return notSent(ErrNoConnection, "connection "+s.id+" closed", nil)
	}
	l.bindLocked(p, s)
	return nil
}

func (l *Link) bindLocked(p *pending, s *session) {
	p.sess = s
	p.state = stateBound
	s.inflight++
	l.inFlight.Add(1)
}

// unbind returns p to the reserved state after a write that never
// happened. It returns false if p is no longer pending.
func (l *Link) unbind(p *pending) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pending[p.stan] != p {
		return false
	}
	if p.sess != nil {
		p.sess.inflight--
		l.inFlight.Add(-1)
		p.sess = nil
		l.notifyLocked()
	}
	p.state = stateReserved
	return true
}

// release drops a request that was never written; its STAN is free at once.
func (l *Link) release(p *pending) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pending[p.stan] == p {
		l.finishLocked(p)
	}
}

// abandon ends a request that may have been written and got no answer; its
// STAN is reserved for LateWindow. It returns false if p was completed
// concurrently (its result is then in p.done).
func (l *Link) abandon(p *pending) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pending[p.stan] != p {
		return false
	}
	l.finishLocked(p)
	l.quarantineLocked(p)
	return true
}

func (l *Link) finishLocked(p *pending) {
	delete(l.pending, p.stan)
	if p.sess != nil {
		p.sess.inflight--
		l.inFlight.Add(-1)
		l.notifyLocked()
	}
}

func (l *Link) quarantineLocked(p *pending) {
	now := time.Now()
	l.late[p.stan] = lateEntry{key: p.key, rrn: p.rrn, until: now.Add(l.cfg.LateWindow), internal: p.internal}
	if now.Sub(l.lastSweep) > time.Minute {
		l.lastSweep = now
		for stan, le := range l.late {
			if !now.Before(le.until) {
				delete(l.late, stan)
			}
		}
	}
}

func (l *Link) takeWakeLocked() <-chan struct{} {
	l.wakeTaken = true
	return l.wake
}

func (l *Link) notifyLocked() {
	if l.wakeTaken {
		close(l.wake)
		l.wake = make(chan struct{})
		l.wakeTaken = false
	}
}

// Close stops new traffic, waits (up to ctx) for requests in flight, signs
// each connection off where the dialect requires it (up to SignOffTimeout)
// and closes the connections. Requests still outstanding when ctx ends fail
// with ErrConnectionLost.
func (l *Link) Close(ctx context.Context) error {
	l.mu.Lock()
	if l.closing {
		l.mu.Unlock()
		return nil
	}
	l.closing = true
	l.closed.Store(true)
	l.notifyLocked()
	l.mu.Unlock()

	l.cancel()
	l.slotWG.Wait() // no session is opened after this

	drainErr := l.drain(ctx)

	l.mu.Lock()
	sessions := make([]*session, 0, len(l.sessions))
	for _, s := range l.sessions {
		if s != nil && !s.dead {
			sessions = append(sessions, s)
		}
	}
	l.mu.Unlock()

	var wg sync.WaitGroup
	for _, s := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.closeSession(ctx, s)
		}()
	}
	wg.Wait()
	l.sessWG.Wait()
	l.log.Info().Msg("link closed")
	if drainErr != nil {
		return fmt.Errorf("closing bank link %q: %w", l.cfg.Bank, drainErr)
	}
	return nil
}

// drain waits until no request from Send is outstanding.
func (l *Link) drain(ctx context.Context) error {
	for {
		l.mu.Lock()
		busy := 0
		for _, p := range l.pending {
			if !p.internal {
				busy++
			}
		}
		if busy == 0 {
			l.mu.Unlock()
			return nil
		}
		ch := l.takeWakeLocked()
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("%d requests still outstanding: %w", busy, ctx.Err())
		}
	}
}

func (l *Link) closeSession(ctx context.Context, s *session) {
	l.setUnusable(s)
	if l.dialect.SignOn {
		sctx, cancel := context.WithTimeout(ctx, l.cfg.SignOffTimeout)
		resp, err := l.network(sctx, s, nmSignOff, l.cfg.SignOffTimeout)
		cancel()
		switch {
		case err != nil:
			l.log.Warn().Str("conn", s.id).Err(err).Msg("sign-off unanswered")
		case fieldOf(resp, 39) != "00":
			l.log.Warn().Str("conn", s.id).Str("rc", fieldOf(resp, 39)).Msg("sign-off refused")
		default:
			l.log.Info().Str("conn", s.id).Msg("signed off")
		}
	}
	if err := s.conn.Close(); err != nil {
		l.log.Warn().Str("conn", s.id).Err(err).Msg("closing connection")
	}
	<-s.gone
}

// network sends an 0800 with DE70 code on s and waits up to timeout.
func (l *Link) network(ctx context.Context, s *session, code string, timeout time.Duration) (*iso8583.Message, error) {
	stan, err := l.NextSTAN(ctx)
	if err != nil {
		return nil, notSent(ErrSTANUnavailable, "", err)
	}
	msg := iso8583.NewMessage(l.dialect.Spec)
	msg.MTI("0800")
	for _, f := range []struct {
		id int
		v  string
	}{{7, transmissionTime(time.Now())}, {11, stan}, {70, code}} {
		if err := msg.Field(f.id, f.v); err != nil {
			return nil, notSent(ErrInvalidMessage, fmt.Sprintf("setting DE%d", f.id), err)
		}
	}
	frame, err := encode(l.dialect.Framing, msg)
	if err != nil {
		return nil, notSent(ErrInvalidMessage, "", err)
	}
	p, err := l.reserve(stan, "0800", "", true)
	if err != nil {
		return nil, err
	}
	return l.exchange(ctx, p, frame, s, timeout)
}

// dial opens the TCP or TLS connection.
func (l *Link) dial(ctx context.Context) (net.Conn, error) {
	d := &net.Dialer{Timeout: l.cfg.ConnectTimeout, KeepAlive: 30 * time.Second}
	if l.tlsConf != nil {
		td := &tls.Dialer{NetDialer: d, Config: l.tlsConf}
		return td.DialContext(ctx, "tcp", l.cfg.Address)
	}
	return d.DialContext(ctx, "tcp", l.cfg.Address)
}
