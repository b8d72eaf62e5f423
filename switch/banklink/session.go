package banklink

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/moov-io/iso8583"
	connection "github.com/moov-io/iso8583-connection"
)

var errReadTimeout = errors.New("nothing received within read_timeout")

// runSlot keeps one connection slot open until the link closes: dial, sign
// on, wait for the session to end, back off, repeat.
func (l *Link) runSlot(slot int) {
	defer l.slotWG.Done()
	b := backoff{min: l.cfg.BackoffMin, max: l.cfg.BackoffMax}
	// A session that lived this long was healthy: the next failure starts
	// the back-off afresh. A host that accepts and drops at once keeps
	// growing it.
	stable := min(l.cfg.BackoffMax, 10*time.Second)
	for l.ctx.Err() == nil {
		s, err := l.open(slot)
		if err != nil {
			if l.ctx.Err() != nil {
				return
			}
			d := b.next()
			l.log.Warn().Int("slot", slot).Err(err).Dur("retry_in", d).Msg("connection attempt failed")
			if !sleepCtx(l.ctx, d) {
				return
			}
			continue
		}
		select {
		case <-s.gone:
		case <-l.ctx.Done():
			return // Close owns the live session from here
		}
		l.reconnects.Add(1)
		if time.Since(s.opened) >= stable {
			b.reset()
		}
		if !sleepCtx(l.ctx, b.next()) {
			return
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// open dials, wraps the connection in iso8583-connection, registers the
// session and signs it on; on success the session is usable.
func (l *Link) open(slot int) (*session, error) {
	dctx, cancel := context.WithTimeout(l.ctx, l.cfg.ConnectTimeout)
	nc, err := l.dial(dctx)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", l.cfg.Address, err)
	}
	s := &session{
		id:     fmt.Sprintf("%s-%d.%d", l.cfg.Bank, slot, l.connSeq.Add(1)),
		slot:   slot,
		opened: time.Now(),
		ready:  make(chan struct{}),
		gone:   make(chan struct{}),
	}
	log := l.log.With().Str("conn", s.id).Logger()
	conn, err := connection.NewFrom(&deadlineConn{Conn: nc, writeTimeout: l.cfg.WriteTimeout},
		l.dialect.Spec, nil, nil,
		connection.SetMessageReader(&frameReader{
			dialect: l.dialect,
			onBad: func(err error) {
				log.Warn().Err(err).Msg("discarded undecodable message from host")
			},
		}),
		connection.SetMessageWriter(frameWriter{l.dialect.Framing}),
		connection.SetRequestIDGenerator(requestIDGenerator{}),
		connection.IdleTime(l.cfg.EchoInterval),
		connection.ReadTimeout(l.cfg.ReadTimeout),
		connection.PingHandler(func(*connection.Connection) {
			<-s.ready
			l.idleEcho(s)
		}),
		connection.ReadTimeoutHandler(func(c *connection.Connection) {
			log.Warn().Dur("read_timeout", l.cfg.ReadTimeout).Msg("nothing received, reconnecting")
			c.TriggerFailure(errReadTimeout)
		}),
		connection.InboundMessageHandler(func(_ *connection.Connection, msg *iso8583.Message) {
			<-s.ready
			l.inbound(s, msg)
		}),
		connection.ErrorHandler(func(err error) {
			// Errors here are socket and framing errors; message content
			// never reaches them (undecodable frames go to onBad).
			log.Debug().Err(err).Msg("connection error")
		}),
	)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("setting up connection %s: %w", s.id, err)
	}
	s.conn = conn
	close(s.ready)

	l.mu.Lock()
	if l.closing {
		l.mu.Unlock()
		conn.Close()
		return nil, ErrClosed
	}
	l.sessions[slot] = s
	l.up.Add(1)
	l.sessWG.Add(1)
	l.mu.Unlock()
	l.updateGauges()
	go l.watch(s)
	log.Info().Msg("connected")

	if l.dialect.SignOn {
		if err := l.signOn(s); err != nil {
			conn.Close()
			<-s.gone
			return nil, fmt.Errorf("connection %s: %w", s.id, err)
		}
		log.Info().Msg("signed on")
	}
	if !l.makeUsable(s) {
		<-s.gone
		return nil, fmt.Errorf("connection %s closed while signing on", s.id)
	}
	return s, nil
}

func (l *Link) signOn(s *session) error {
	ctx, cancel := context.WithTimeout(l.ctx, l.cfg.SignOnTimeout)
	defer cancel()
	resp, err := l.network(ctx, s, nmSignOn, l.cfg.SignOnTimeout)
	if err != nil {
		return fmt.Errorf("signing on: %w", err)
	}
	if rc := fieldOf(resp, 39); rc != "00" {
		return fmt.Errorf("signing on: bank answered DE39 %q", rc)
	}
	return nil
}

// watch drops the session as soon as iso8583-connection reports it closed.
func (l *Link) watch(s *session) {
	defer l.sessWG.Done()
	<-s.conn.Done()
	l.drop(s)
}

// drop marks s dead and fails every request written on it with
// ErrConnectionLost at once, rather than leaving it to its timeout.
func (l *Link) drop(s *session) {
	l.mu.Lock()
	s.dead = true
	if s.usable.Swap(false) {
		l.signedOn.Add(-1)
	}
	l.up.Add(-1)
	if l.sessions[s.slot] == s {
		l.sessions[s.slot] = nil
	}
	var failed []*pending
	for _, p := range l.pending {
		if p.sess == s && p.state == stateWritten {
			failed = append(failed, p)
		}
	}
	for _, p := range failed {
		l.finishLocked(p)
		l.quarantineLocked(p)
	}
	l.notifyLocked()
	l.mu.Unlock()

	for _, p := range failed {
		p.done <- result{err: maybeSent(ErrConnectionLost, "connection "+s.id+" closed", nil)}
		if !p.internal {
			l.log.Warn().Str("conn", s.id).Str("mti", p.mti).Str("stan", p.stan).Msg("connection lost with request pending")
		}
	}
	close(s.gone)
	l.updateGauges()
	l.log.Info().Str("conn", s.id).Int("failed_pending", len(failed)).Msg("connection closed")
}

func (l *Link) makeUsable(s *session) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s.dead || l.closing {
		return false
	}
	if !s.usable.Swap(true) {
		l.signedOn.Add(1)
	}
	l.notifyLocked()
	defer l.updateGauges()
	return true
}

func (l *Link) setUnusable(s *session) {
	l.mu.Lock()
	if s.usable.Swap(false) {
		l.signedOn.Add(-1)
	}
	l.mu.Unlock()
	l.updateGauges()
}

func (l *Link) updateGauges() {
	if l.m == nil {
		return
	}
	l.m.conns.WithLabelValues(l.cfg.Bank, "up").Set(float64(l.up.Load()))
	l.m.conns.WithLabelValues(l.cfg.Bank, "signed_on").Set(float64(l.signedOn.Load()))
}

// inbound dispatches one decoded message from the host.
func (l *Link) inbound(s *session, msg *iso8583.Message) {
	mti, _ := msg.GetMTI()
	switch {
	case isResponseMTI(mti):
		l.deliver(s, mti, msg)
	case mti == "0800":
		l.answerNetwork(s, msg)
	default:
		l.log.Warn().Str("conn", s.id).Str("mti", mti).Str("stan", fieldOf(msg, 11)).Msg("unsolicited request from host")
		l.unsolicited(msg)
	}
}

// deliver completes the request msg answers, or hands msg to OnUnsolicited.
func (l *Link) deliver(s *session, mti string, msg *iso8583.Message) {
	raw := fieldOf(msg, 11)
	stan, err := normalizeSTAN(raw)
	if err == nil {
		key := matchKey(mti, stan)
		l.mu.Lock()
		if p := l.pending[stan]; p != nil && p.key == key && p.sess != nil && sameRRN(p.rrn, msg) {
			sentOn := p.sess
			l.finishLocked(p)
			l.mu.Unlock()
			p.done <- result{msg: msg}
			if sentOn != s {
				l.log.Warn().Str("conn", s.id).Str("sent_on", sentOn.id).Str("mti", mti).Str("stan", stan).
					Msg("response arrived on another connection")
			}
			return
		}
		le, late := l.late[stan]
		late = late && le.key == key && sameRRN(le.rrn, msg)
		if late {
			delete(l.late, stan)
		}
		l.mu.Unlock()
		if late && le.internal {
			l.log.Info().Str("conn", s.id).Str("mti", mti).Str("stan", stan).Msg("late response to network management message")
			return
		}
		if late {
			l.log.Warn().Str("conn", s.id).Str("mti", mti).Str("stan", stan).Str("rc", fieldOf(msg, 39)).Msg("late response")
			l.unsolicited(msg)
			return
		}
	}
	l.log.Warn().Str("conn", s.id).Str("mti", mti).Str("stan", raw).Str("rc", fieldOf(msg, 39)).Msg("response matches no outstanding request")
	l.unsolicited(msg)
}

// sameRRN reports whether a response may answer a request with DE37 rrn:
// both documents match by DE11 and call a response whose echoed DE11/DE37
// matches no outstanding request unsolicited. A response that omits DE37
// is matched by MTI and STAN alone (some hosts drop it on a format error
// 30); one that echoes a different DE37 answers someone else.
func sameRRN(rrn string, msg *iso8583.Message) bool {
	got := fieldOf(msg, 37)
	return rrn == "" || got == "" || got == rrn
}

// Bounds on unsolicited-message callbacks: how many run at once, and how
// long a message waits for a free slot before it is dropped (loudly).
const (
	maxUnsolicitedInFlight = 64
	unsolicitedSlotWait    = 2 * time.Second
)

// unsolicited hands msg to the OnUnsolicited callback, at most
// maxUnsolicitedInFlight at a time. A message that finds no slot within
// unsolicitedSlotWait is dropped with an error log and a metric: only a
// flooding host gets there, and every timed-out request already has its
// reversal queued by the engine, so a dropped late answer costs no money.
func (l *Link) unsolicited(msg *iso8583.Message) {
	if l.onUnsol == nil {
		l.log.Error().Msg("no OnUnsolicited callback configured: unsolicited message only logged")
		return
	}
	t := time.NewTimer(unsolicitedSlotWait)
	defer t.Stop()
	select {
	case l.unsolSlots <- struct{}{}:
	case <-t.C:
		mti, _ := msg.GetMTI()
		l.log.Error().Str("mti", mti).Str("stan", fieldOf(msg, 11)).Str("rc", fieldOf(msg, 39)).
			Msg("unsolicited message dropped: too many callbacks in flight")
		l.count("unsolicited_dropped")
		return
	}
	defer func() { <-l.unsolSlots }()
	defer func() {
		// A panicking callback must not take the connection's reader down.
		if r := recover(); r != nil {
			l.log.Error().Msg("OnUnsolicited callback panicked")
			l.count("unsolicited_panic")
		}
	}()
	l.onUnsol(l.cfg.Bank, msg)
}

// answerNetwork answers a host-originated 0800 at once: 0810 echoing DE7,
// DE11 and DE70 with DE39 00 for an echo (301), 12 for any code the
// contract does not define for the host.
func (l *Link) answerNetwork(s *session, req *iso8583.Message) {
	code := networkCode(req)
	rc := "00"
	if code != nmEcho {
		rc = "12"
	}
	resp := iso8583.NewMessage(l.dialect.Spec)
	resp.MTI("0810")
	for _, id := range []int{7, 11, 70} {
		if v := fieldOf(req, id); v != "" {
			if err := resp.Field(id, v); err != nil {
				l.log.Warn().Str("conn", s.id).Int("de", id).Err(err).Msg("cannot echo field in 0810")
			}
		}
	}
	if err := resp.Field(39, rc); err != nil {
		l.log.Error().Str("conn", s.id).Err(err).Msg("building 0810")
		return
	}
	frame, err := encode(l.dialect.Framing, resp)
	if err != nil {
		l.log.Error().Str("conn", s.id).Err(err).Msg("encoding 0810")
		return
	}
	if _, err := s.conn.Write(frame); err != nil {
		l.log.Warn().Str("conn", s.id).Err(err).Msg("answering host 0800")
		return
	}
	if rc == "00" {
		l.lastEcho.Store(time.Now().UnixNano())
	}
	l.log.Debug().Str("conn", s.id).Str("nmic", code).Str("stan", fieldOf(req, 11)).Str("rc", rc).Msg("answered host 0800")
}

// idleEcho sends 0800/301 on a usable connection the writer found idle for
// EchoInterval; EchoMaxFailures failures in a row close the connection.
func (l *Link) idleEcho(s *session) {
	if !s.usable.Load() || !s.echoBusy.CompareAndSwap(false, true) {
		return
	}
	defer s.echoBusy.Store(false)
	resp, err := l.network(l.ctx, s, nmEcho, l.cfg.EchoTimeout)
	if l.ctx.Err() != nil {
		return
	}
	if err == nil && fieldOf(resp, 39) == "00" {
		s.echoFails.Store(0)
		l.lastEcho.Store(time.Now().UnixNano())
		return
	}
	n := s.echoFails.Add(1)
	ev := l.log.Warn().Str("conn", s.id).Int32("consecutive", n)
	if err != nil {
		ev = ev.Err(err)
	} else {
		ev = ev.Str("rc", fieldOf(resp, 39))
	}
	ev.Msg("echo failed")
	if int(n) >= l.cfg.EchoMaxFailures {
		s.conn.TriggerFailure(fmt.Errorf("%d consecutive echo failures", n))
	}
}
