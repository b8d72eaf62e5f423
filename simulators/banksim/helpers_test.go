package banksim

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acquirer/h2hswitch/simulators/wire"
)

var dialects = []string{wire.DialectASCII, wire.DialectBinary}

// testNow is the pinned host clock: Friday 27 November 2026, 10:00 Almaty.
var testNow = time.Date(2026, 11, 27, 5, 0, 0, 0, time.UTC)

const (
	cardVisa    = "4000000000000010"
	cardVisa2   = "4000000000000028"
	cardMC      = "5100000000000008"
	cardMir     = "2200000000000004"
	cardToken   = "4895370000000106"
	cardDecline = "4000000000000036"
	testAcq     = "12345"
)

func startSim(t *testing.T, dialect string, mod func(*Config)) *Sim {
	t.Helper()
	cfg := Config{
		Dialect:      dialect,
		LateDelay:    150 * time.Millisecond,
		EchoInterval: -1,
		Now:          func() time.Time { return testNow },
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("closing sim: %v", err)
		}
	})
	return s
}

// client is a minimal switch-side peer speaking the dialect's framing.
type client struct {
	t     *testing.T
	nc    net.Conn
	br    *bufio.Reader
	codec *wire.Codec
	stan  atomic.Uint32
}

func dial(t *testing.T, s *Sim) *client {
	t.Helper()
	nc, err := net.DialTimeout("tcp", s.Addr(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	codec, err := wire.NewCodec(s.Dialect())
	if err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, nc: nc, br: bufio.NewReader(nc), codec: codec}
	c.stan.Store(100)
	return c
}

// dialSignedOn dials and, for Bank B, signs on.
func dialSignedOn(t *testing.T, s *Sim) *client {
	c := dial(t, s)
	if c.codec.Binary() {
		r := c.roundTrip(c.network("001"))
		if r.Get(39) != "00" {
			t.Fatalf("sign-on answered %q", r.Get(39))
		}
	}
	return c
}

func (c *client) nextSTAN() string { return fmt.Sprintf("%06d", c.stan.Add(1)) }

func (c *client) send(m *wire.Msg) {
	c.t.Helper()
	b, err := c.codec.AppendFrame(nil, m)
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatal(err)
	}
}

func (c *client) recv(timeout time.Duration) (*wire.Msg, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(timeout))
	frame, err := c.codec.ReadFrame(c.br, nil)
	if err != nil {
		return nil, err
	}
	m := new(wire.Msg)
	if err := c.codec.Decode(frame, m); err != nil {
		return nil, err
	}
	return m, nil
}

func (c *client) roundTrip(m *wire.Msg) *wire.Msg {
	c.t.Helper()
	c.send(m)
	r, err := c.recv(2 * time.Second)
	if err != nil {
		c.t.Fatalf("waiting for answer to %s stan %s: %v", m.MTI(), m.Get(11), err)
	}
	if r.Get(11) != m.Get(11) {
		c.t.Fatalf("answer STAN %s, want %s", r.Get(11), m.Get(11))
	}
	return r
}

// expectSilence asserts that nothing arrives within d.
func (c *client) expectSilence(d time.Duration) {
	c.t.Helper()
	r, err := c.recv(d)
	if err == nil {
		c.t.Fatalf("unexpected message %s stan %s", r.MTI(), r.Get(11))
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		c.t.Fatalf("want a read timeout, got %v", err)
	}
}

// expectClosed asserts that the host closes the connection within d.
func (c *client) expectClosed(d time.Duration) {
	c.t.Helper()
	_, err := c.recv(d)
	var ne net.Error
	if err == nil || errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatalf("connection still open: %v", err)
	}
}

func (c *client) network(code string) *wire.Msg {
	m := new(wire.Msg)
	m.SetMTI("0800")
	m.Set(7, "1127050000")
	m.Set(11, c.nextSTAN())
	m.Set(70, code)
	return m
}

type authOpts struct {
	mti, proc, pan, expiry, cvv string
	// stored credential: initiator C/M, type, subsequent, ntid
	sc     *wire.StoredCredential
	amount int64
	rrn    string
	local  string // MMDDhhmmss, default 1127100000
}

// auth builds a 0100/0200 (or any MTI given) with every required field.
func (c *client) auth(o authOpts) *wire.Msg {
	if o.mti == "" {
		o.mti = "0200"
	}
	if o.proc == "" {
		o.proc = "000000"
	}
	if o.pan == "" {
		o.pan = cardVisa
	}
	if o.expiry == "" {
		o.expiry = "2812"
	}
	if o.local == "" {
		o.local = "1127100000"
	}
	stan := c.nextSTAN()
	if o.rrn == "" {
		o.rrn = "633100" + stan
	}
	m := new(wire.Msg)
	m.SetMTI(o.mti)
	m.Set(2, o.pan)
	m.Set(3, o.proc)
	m.Set(4, fmt.Sprintf("%012d", o.amount))
	m.Set(7, "1127050000")
	m.Set(11, stan)
	m.Set(12, o.local[4:])
	m.Set(13, o.local[:4])
	m.Set(14, o.expiry)
	m.Set(18, "5999")
	m.Set(22, "812")
	m.Set(25, "59")
	m.Set(32, testAcq)
	m.Set(37, o.rrn)
	m.Set(41, "T0000123")
	m.Set(42, "M00000000000123")
	m.Set(43, fmt.Sprintf("%-25s%-13s%s", "SHOP", "ALMATY", "KZ"))
	m.Set(49, "398")
	if c.codec.Binary() {
		if o.cvv != "" {
			m.Set(126, fmt.Sprintf("%-87s%-4s", " 05", o.cvv))
		}
		if o.sc != nil {
			seq := byte('0')
			if o.sc.Subsequent {
				seq = '1'
			}
			m.Set(61, fmt.Sprintf("%c%c%c%-15s", o.sc.Initiator, o.sc.Type, seq, o.sc.NetworkTransactionID))
		}
	} else {
		var tl []wire.TLV
		if o.sc != nil {
			typ := map[byte]string{'1': "O", '2': "R", '3': "U"}[o.sc.Type]
			seq := "I"
			if o.sc.Subsequent {
				seq = "S"
			}
			tl = append(tl, wire.TLV{Tag: "20", Value: string(o.sc.Initiator) + typ}, wire.TLV{Tag: "21", Value: seq})
			if o.sc.NetworkTransactionID != "" {
				tl = append(tl, wire.TLV{Tag: "22", Value: o.sc.NetworkTransactionID})
			}
		}
		if o.cvv != "" {
			tl = append(tl, wire.TLV{Tag: "92", Value: o.cvv})
		}
		if len(tl) > 0 {
			v, err := wire.BuildDE48(tl...)
			if err != nil {
				c.t.Fatal(err)
			}
			m.Set(48, v)
		}
	}
	return m
}

// follow builds a message referring to orig through DE90: completion,
// refund, reversal or advice, with the required fields.
func (c *client) follow(mti, proc string, orig *wire.Msg, amount int64, sameSTAN string) *wire.Msg {
	m := new(wire.Msg)
	m.SetMTI(mti)
	stan := sameSTAN
	if stan == "" {
		stan = c.nextSTAN()
	}
	for _, f := range []int{2, 14, 18, 22, 25, 32, 37, 41, 42, 43, 49} {
		if orig.Has(f) {
			m.Set(f, orig.Get(f))
		}
	}
	m.Set(3, proc)
	m.Set(4, fmt.Sprintf("%012d", amount))
	m.Set(7, "1127060000")
	m.Set(11, stan)
	m.Set(12, "110000")
	m.Set(13, "1127")
	m.Set(90, wire.BuildDE90(wire.Original{MTI: orig.MTI(), STAN: orig.Get(11), DE7: orig.Get(7), AcquirerID: testAcq}))
	return m
}

func (c *client) reversal(orig *wire.Msg, repeat bool, stan string, remaining *int64) *wire.Msg {
	mti := "0400"
	if c.codec.Binary() {
		mti = "0420"
	}
	if repeat {
		mti = mti[:3] + "1"
	}
	amt, _ := wire.ParseAmount(orig.Bytes(4))
	m := c.follow(mti, orig.Get(3), orig, amt, stan)
	m.Unset(12)
	m.Unset(13)
	if repeat {
		m.Set(7, "1127060030")
	}
	if remaining != nil {
		m.Set(95, fmt.Sprintf("%012d", *remaining)+strings.Repeat("0", 30))
	}
	return m
}

func (c *client) refund(orig *wire.Msg, amount int64) *wire.Msg {
	mti := "0200"
	if c.codec.Binary() {
		mti = "0220"
	}
	m := c.follow(mti, "200000", orig, amount, "")
	m.Set(37, "7331"+strings.TrimLeft(m.Get(11), "")+"00")
	return m
}
