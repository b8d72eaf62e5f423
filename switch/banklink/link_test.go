package banklink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moov-io/iso8583"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/acquirer/h2hswitch/specs"
)

const testPAN = "4000000000000010" // simulator.md test card

func testConfig(bank, dialect, addr string) Config {
	return Config{
		Bank:           bank,
		Dialect:        dialect,
		Address:        addr,
		Connections:    2,
		MaxInFlight:    8,
		Timeout:        2 * time.Second,
		EchoInterval:   10 * time.Second,
		ReadTimeout:    30 * time.Second,
		ConnectTimeout: 2 * time.Second,
		SignOffTimeout: time.Second,
		BackoffMin:     10 * time.Millisecond,
		BackoffMax:     100 * time.Millisecond,
	}
}

func openLink(t *testing.T, cfg Config, d *specs.Dialect, opts ...Option) *Link {
	t.Helper()
	l, err := Open(cfg, d, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = l.Close(ctx)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.WaitUsable(ctx); err != nil {
		t.Fatalf("WaitUsable: %v", err)
	}
	return l
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// purchase builds a 0200 (or mti) with a PAN; stan "" lets the link allocate.
func purchase(t *testing.T, d *specs.Dialect, mti, stan string) *iso8583.Message {
	t.Helper()
	m := iso8583.NewMessage(d.Spec)
	m.MTI(mti)
	set := func(id int, v string) {
		if err := m.Field(id, v); err != nil {
			t.Fatalf("set DE%d: %v", id, err)
		}
	}
	set(2, testPAN)
	set(3, "000000")
	set(4, "000000150000")
	set(7, transmissionTime(time.Now()))
	set(37, "633100000123")
	if stan != "" {
		set(11, stan)
	}
	return m
}

func send(t *testing.T, l *Link, msg *iso8583.Message) (*iso8583.Message, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return l.Send(ctx, msg)
}

func TestSendReceiveBothDialects(t *testing.T) {
	for _, tc := range []struct{ bank, dialect string }{{"alfa", dialectA}, {"sber", dialectB}} {
		t.Run(tc.dialect, func(t *testing.T) {
			d := testDialect(t, tc.dialect)
			p := newPeer(t, d, nil)
			p.requireSignOn = d.SignOn
			l := openLink(t, testConfig(tc.bank, tc.dialect, p.addr), d)
			for i := range 5 {
				req := purchase(t, d, "0200", "")
				resp, err := send(t, l, req)
				if err != nil {
					t.Fatalf("send %d: %v", i, err)
				}
				if mti, _ := resp.GetMTI(); mti != "0210" {
					t.Fatalf("response MTI = %q, want 0210", mti)
				}
				if rc := fieldOf(resp, 39); rc != "00" {
					t.Fatalf("DE39 = %q, want 00 (91 would mean traffic before sign-on)", rc)
				}
				stan := fieldOf(req, 11)
				if len(stan) != 6 || fieldOf(resp, 11) != stan {
					t.Fatalf("request STAN %q (allocated by the link), response STAN %q", stan, fieldOf(resp, 11))
				}
			}
			waitFor(t, 3*time.Second, "both connections signed on", func() bool { return l.Health().SignedOn == 2 })
			h := l.Health()
			if h.Up != 2 || h.SignedOn != 2 || h.InFlight != 0 || h.Bank != tc.bank {
				t.Fatalf("health = %+v, want 2 up, 2 signed on, 0 in flight", h)
			}
		})
	}
}

func TestReconnectAfterPeerRestart(t *testing.T) {
	d := testDialect(t, dialectB)
	p := newPeer(t, d, nil)
	p.requireSignOn = true
	l := openLink(t, testConfig("sber", dialectB, p.addr), d)
	waitFor(t, 3*time.Second, "both connections signed on", func() bool { return l.Health().SignedOn == 2 })

	p.stop()
	waitFor(t, 3*time.Second, "link to notice the peer is gone", func() bool { return !l.Usable() })
	_, err := send(t, l, purchase(t, d, "0200", ""))
	if !errors.Is(err, ErrNoConnection) || !NotSent(err) || MaybeSent(err) {
		t.Fatalf("send while bank down: err = %v, want ErrNoConnection classed as not sent", err)
	}
	if h := l.Health(); h.Up != 0 || h.SignedOn != 0 {
		t.Fatalf("health while down = %+v", h)
	}

	p.restart()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.WaitUsable(ctx); err != nil {
		t.Fatalf("link did not come back: %v", err)
	}
	resp, err := send(t, l, purchase(t, d, "0200", ""))
	if err != nil || fieldOf(resp, 39) != "00" {
		t.Fatalf("send after reconnect: resp DE39 %q, err %v", fieldOf(resp, 39), err)
	}
	waitFor(t, 3*time.Second, "both connections back", func() bool { return l.Health().SignedOn == 2 })
	if h := l.Health(); h.Reconnects < 2 {
		t.Fatalf("Reconnects = %d, want >= 2", h.Reconnects)
	}
}

func TestSignOnBeforeAnyTraffic(t *testing.T) {
	d := testDialect(t, dialectB)
	p := newPeer(t, d, nil)
	p.requireSignOn = true
	cfg := testConfig("sber", dialectB, p.addr)
	cfg.Connections = 3
	l := openLink(t, cfg, d)
	waitFor(t, 3*time.Second, "3 connections signed on", func() bool { return l.Health().SignedOn == 3 })

	for range 6 {
		if _, err := send(t, l, purchase(t, d, "0200", "")); err != nil {
			t.Fatal(err)
		}
	}
	// The first message on every connection must have been the sign-on.
	first := map[*peerConn]string{}
	var n0200 int
	for len(p.recv) > 0 {
		r := <-p.recv
		if _, seen := first[r.pc]; !seen {
			first[r.pc] = r.mti + "/" + networkCode(r.msg)
		}
		if r.mti == "0200" {
			n0200++
		}
	}
	if len(first) != 3 || n0200 != 6 {
		t.Fatalf("peer saw %d connections and %d 0200s, want 3 and 6", len(first), n0200)
	}
	for pc, f := range first {
		if f != "0800/001" {
			t.Fatalf("connection %d: first message %s, want 0800/001", pc.id, f)
		}
	}
}

func TestSignOnRefusedKeepsLinkUnusable(t *testing.T) {
	d := testDialect(t, dialectB)
	p := newPeer(t, d, nil)
	p.requireSignOn = true
	p.refuseSignOn.Store(true)
	cfg := testConfig("sber", dialectB, p.addr)
	cfg.Connections = 1
	l, err := Open(cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())

	waitFor(t, 3*time.Second, "sign-on retried", func() bool { return p.accepted.Load() >= 3 })
	if l.Usable() || l.Health().SignedOn != 0 {
		t.Fatalf("link usable although every sign-on was refused: %+v", l.Health())
	}
	if _, err := send(t, l, purchase(t, d, "0200", "")); !errors.Is(err, ErrNoConnection) || !NotSent(err) {
		t.Fatalf("send on unsigned link: %v, want ErrNoConnection", err)
	}
	for len(p.recv) > 0 {
		if r := <-p.recv; r.mti != "0800" {
			t.Fatalf("peer received %s on a connection that never signed on", r.mti)
		}
	}
	p.refuseSignOn.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.WaitUsable(ctx); err != nil {
		t.Fatalf("link never signed on once the bank accepted: %v", err)
	}
}

func TestHostEchoAnswered(t *testing.T) {
	for _, name := range []string{dialectA, dialectB} {
		t.Run(name, func(t *testing.T) {
			d := testDialect(t, name)
			p := newPeer(t, d, nil)
			p.requireSignOn = d.SignOn
			cfg := testConfig("bank", name, p.addr)
			cfg.Connections = 1
			l := openLink(t, cfg, d)
			if !l.Health().LastEcho.IsZero() {
				t.Fatal("LastEcho set before any echo")
			}
			waitFor(t, time.Second, "peer to register the connection", func() bool { return len(p.openConns()) == 1 })
			pcs := p.openConns()
			echo := iso8583.NewMessage(d.Spec)
			echo.MTI("0800")
			for id, v := range map[int]string{7: "1127101500", 11: "777001", 70: "301"} {
				if err := echo.Field(id, v); err != nil {
					t.Fatal(err)
				}
			}
			sent := time.Now()
			if err := pcs[0].send(echo); err != nil {
				t.Fatal(err)
			}
			r := p.expect(2*time.Second, "0810 to the host echo", func(r received) bool { return r.mti == "0810" })
			if time.Since(sent) > time.Second {
				t.Fatalf("host echo answered after %s; Bank B closes after 5 s", time.Since(sent))
			}
			for id, want := range map[int]string{7: "1127101500", 11: "777001", 70: "301", 39: "00"} {
				if got := fieldOf(r.msg, id); got != want {
					t.Errorf("0810 DE%d = %q, want %q", id, got, want)
				}
			}
			waitFor(t, time.Second, "LastEcho", func() bool { return !l.Health().LastEcho.IsZero() })
		})
	}
}

func TestIdleEchoSent(t *testing.T) {
	d := testDialect(t, dialectA)
	p := newPeer(t, d, nil)
	cfg := testConfig("alfa", dialectA, p.addr)
	cfg.Connections = 1
	cfg.EchoInterval = 100 * time.Millisecond
	cfg.EchoTimeout = 500 * time.Millisecond
	cfg.ReadTimeout = 5 * time.Second
	l := openLink(t, cfg, d)
	start := time.Now()
	r := p.expect(2*time.Second, "idle echo", isNetwork(nmEcho))
	if fieldOf(r.msg, 7) == "" || len(fieldOf(r.msg, 11)) != 6 {
		t.Fatalf("echo lacks DE7/DE11: 7=%q 11=%q", fieldOf(r.msg, 7), fieldOf(r.msg, 11))
	}
	if el := time.Since(start); el < 50*time.Millisecond {
		t.Fatalf("echo after %s, before the idle interval", el)
	}
	waitFor(t, time.Second, "LastEcho", func() bool { return !l.Health().LastEcho.IsZero() })
	p.expect(2*time.Second, "second idle echo", isNetwork(nmEcho))
	if p.accepted.Load() != 1 {
		t.Fatalf("answered echoes must not cause reconnects; peer accepted %d", p.accepted.Load())
	}
}

func TestUnansweredEchoesReconnect(t *testing.T) {
	d := testDialect(t, dialectA)
	p := newPeer(t, d, nil)
	var echoes atomic.Int32
	p.setHandler(func(pc *peerConn, msg *iso8583.Message) bool {
		if networkCode(msg) == nmEcho && pc.id == 1 {
			echoes.Add(1)
			return true // first connection: echoes go unanswered
		}
		return false
	})
	cfg := testConfig("alfa", dialectA, p.addr)
	cfg.Connections = 1
	cfg.EchoInterval = 100 * time.Millisecond
	cfg.EchoTimeout = 100 * time.Millisecond
	cfg.ReadTimeout = 10 * time.Second
	openLink(t, cfg, d)
	closed := <-waitClosed(t, p, 5*time.Second)
	if closed.id != 1 {
		t.Fatalf("connection %d closed, want 1", closed.id)
	}
	if n := echoes.Load(); n != 3 {
		t.Fatalf("connection closed after %d unanswered echoes, want 3", n)
	}
	waitFor(t, 3*time.Second, "reconnect", func() bool { return p.accepted.Load() >= 2 })
}

func waitClosed(t *testing.T, p *peer, timeout time.Duration) <-chan *peerConn {
	t.Helper()
	out := make(chan *peerConn, 1)
	select {
	case pc := <-p.closedCh:
		out <- pc
	case <-time.After(timeout):
		t.Fatalf("no connection closed within %s", timeout)
	}
	return out
}

func TestReadTimeoutReconnects(t *testing.T) {
	d := testDialect(t, dialectA)
	p := newPeer(t, d, nil)
	p.setHandler(func(pc *peerConn, msg *iso8583.Message) bool { return pc.id == 1 }) // first connection: mute
	cfg := testConfig("alfa", dialectA, p.addr)
	cfg.Connections = 1
	cfg.EchoInterval = 100 * time.Millisecond
	cfg.EchoTimeout = 50 * time.Millisecond
	cfg.EchoMaxFailures = 1000
	cfg.ReadTimeout = 400 * time.Millisecond
	openLink(t, cfg, d)
	start := time.Now()
	<-waitClosed(t, p, 5*time.Second)
	if el := time.Since(start); el < 300*time.Millisecond {
		t.Fatalf("closed after %s, before read_timeout", el)
	}
	waitFor(t, 3*time.Second, "reconnect", func() bool { return p.accepted.Load() >= 2 })
}

func TestConnectionDropFailsPendingPromptly(t *testing.T) {
	d := testDialect(t, dialectA)
	p := newPeer(t, d, nil)
	p.setHandler(func(pc *peerConn, msg *iso8583.Message) bool {
		if mti, _ := msg.GetMTI(); mti == "0200" {
			time.Sleep(50 * time.Millisecond)
			pc.close() // like test amount 97: close without answering
			return true
		}
		return false
	})
	cfg := testConfig("alfa", dialectA, p.addr)
	cfg.Timeout = 5 * time.Second
	l := openLink(t, cfg, d)
	start := time.Now()
	_, err := send(t, l, purchase(t, d, "0200", ""))
	el := time.Since(start)
	if !errors.Is(err, ErrConnectionLost) || !MaybeSent(err) || NotSent(err) {
		t.Fatalf("err = %v, want ErrConnectionLost classed as maybe sent", err)
	}
	if el > time.Second {
		t.Fatalf("pending request failed after %s; want prompt (timeout is %s)", el, cfg.Timeout)
	}
	if h := l.Health(); h.LostLastMinute != 1 || h.InFlight != 0 {
		t.Fatalf("health = %+v, want 1 lost, 0 in flight", h)
	}
}

func TestTimeoutThenLateResponseReachesOnUnsolicited(t *testing.T) {
	d := testDialect(t, dialectA)
	p := newPeer(t, d, nil)
	p.setHandler(func(pc *peerConn, msg *iso8583.Message) bool {
		if mti, _ := msg.GetMTI(); mti == "0200" {
			time.Sleep(400 * time.Millisecond) // like test amount 98: approved late
			pc.reply(msg, "00")
			return true
		}
		return false
	})
	late := make(chan *iso8583.Message, 1)
	cfg := testConfig("alfa", dialectA, p.addr)
	cfg.Timeout = 150 * time.Millisecond
	l := openLink(t, cfg, d, WithOnUnsolicited(func(bank string, msg *iso8583.Message) {
		if bank != "alfa" {
			t.Errorf("OnUnsolicited bank = %q", bank)
		}
		late <- msg
	}))
	req := purchase(t, d, "0200", "")
	start := time.Now()
	_, err := send(t, l, req)
	if !errors.Is(err, ErrTimeout) || !MaybeSent(err) {
		t.Fatalf("err = %v, want ErrTimeout (maybe sent)", err)
	}
	if el := time.Since(start); el < 140*time.Millisecond || el > 2*time.Second {
		t.Fatalf("timed out after %s, want about %s", el, cfg.Timeout)
	}
	stan := fieldOf(req, 11)
	// While the late answer may still come, the STAN is not handed out again.
	for range 20 {
		s, err := l.NextSTAN(context.Background())
		if err != nil || s == stan {
			t.Fatalf("NextSTAN = %q, %v while %s awaits a late response", s, err, stan)
		}
	}
	if _, err := send(t, l, purchase(t, d, "0200", stan)); !errors.Is(err, ErrSTANInUse) || !NotSent(err) {
		t.Fatalf("new 0200 reusing a timed-out STAN: %v, want ErrSTANInUse", err)
	}
	select {
	case m := <-late:
		if mti, _ := m.GetMTI(); mti != "0210" || fieldOf(m, 11) != stan || fieldOf(m, 39) != "00" {
			t.Fatalf("late message MTI %s STAN %s DE39 %s", mti, fieldOf(m, 11), fieldOf(m, 39))
		}
	case <-time.After(3 * time.Second):
		t.Fatal("late response never reached OnUnsolicited")
	}
	if h := l.Health(); h.TimeoutsLastMinute != 1 {
		t.Fatalf("TimeoutsLastMinute = %d, want 1", h.TimeoutsLastMinute)
	}
}

func TestRepeatReusesSTANAfterTimeout(t *testing.T) {
	d := testDialect(t, dialectA)
	p := newPeer(t, d, nil)
	p.setHandler(func(pc *peerConn, msg *iso8583.Message) bool {
		mti, _ := msg.GetMTI()
		return mti == "0400" // the first attempt is lost; the 0401 is answered
	})
	cfg := testConfig("alfa", dialectA, p.addr)
	cfg.Timeout = 100 * time.Millisecond
	l := openLink(t, cfg, d)
	rev := purchase(t, d, "0400", "")
	if _, err := send(t, l, rev); !errors.Is(err, ErrTimeout) {
		t.Fatalf("0400: %v, want ErrTimeout", err)
	}
	stan := fieldOf(rev, 11)
	resp, err := send(t, l, purchase(t, d, "0401", stan))
	if err != nil {
		t.Fatalf("0401 with the 0400's STAN: %v", err)
	}
	if mti, _ := resp.GetMTI(); mti != "0410" || fieldOf(resp, 11) != stan {
		t.Fatalf("repeat answered by %s STAN %s", mti, fieldOf(resp, 11))
	}
}

func TestSTANOutstandingRefused(t *testing.T) {
	d := testDialect(t, dialectA)
	p := newPeer(t, d, nil)
	release := make(chan struct{})
	p.setHandler(func(pc *peerConn, msg *iso8583.Message) bool {
		if mti, _ := msg.GetMTI(); mti == "0200" {
			<-release
			pc.reply(msg, "00")
			return true
		}
		return false
	})
	l := openLink(t, testConfig("alfa", dialectA, p.addr), d)
	first := make(chan error, 1)
	go func() {
		_, err := send(t, l, purchase(t, d, "0200", "000042"))
		first <- err
	}()
	p.expect(2*time.Second, "first 0200", func(r received) bool { return r.mti == "0200" })

	_, err := send(t, l, purchase(t, d, "0200", "000042"))
	if !errors.Is(err, ErrSTANInUse) || !NotSent(err) {
		t.Fatalf("second send with outstanding STAN: %v, want ErrSTANInUse (not sent)", err)
	}
	for range 50 {
		if s, _ := l.NextSTAN(context.Background()); s == "000042" {
			t.Fatal("NextSTAN handed out an outstanding STAN")
		}
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatalf("first send: %v", err)
	}
	select {
	case r := <-p.recv:
		if r.mti == "0200" {
			t.Fatal("the refused duplicate reached the bank")
		}
	default:
	}
}

// seqSource hands out a fixed sequence, then repeats its last value.
type seqSource struct {
	mu  sync.Mutex
	seq []uint32
}

func (s *seqSource) NextSTAN(context.Context) (uint32, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.seq[0]
	if len(s.seq) > 1 {
		s.seq = s.seq[1:]
	}
	return v, nil
}

func TestNextSTANWrapsAndSkipsOutstanding(t *testing.T) {
	c := NewCounterSTANSource(999998)
	var got []uint32
	for range 3 {
		v, _ := c.NextSTAN(context.Background())
		got = append(got, v)
	}
	if fmt.Sprint(got) != "[999999 1 2]" {
		t.Fatalf("counter after 999998 gave %v, want [999999 1 2]", got)
	}

	d := testDialect(t, dialectA)
	p := newPeer(t, d, nil)
	release := make(chan struct{})
	defer close(release)
	p.setHandler(func(pc *peerConn, msg *iso8583.Message) bool {
		if mti, _ := msg.GetMTI(); mti == "0200" {
			<-release
			return true
		}
		return false
	})
	src := &seqSource{seq: []uint32{7, 0, 7, 1_000_006, 8}}
	cfg := testConfig("alfa", dialectA, p.addr)
	cfg.Timeout = 5 * time.Second
	l := openLink(t, cfg, d, WithSTANSource(src))
	go func() { _, _ = send(t, l, purchase(t, d, "0200", "")) }() // takes 000007 and hangs
	p.expect(2*time.Second, "0200", func(r received) bool { return r.mti == "0200" && fieldOf(r.msg, 11) == "000007" })
	// 0 is invalid, 7 is outstanding, 1_000_006 folds to 7, so 8 is next.
	s, err := l.NextSTAN(context.Background())
	if err != nil || s != "000008" {
		t.Fatalf("NextSTAN = %q, %v; want 000008", s, err)
	}
}

func TestInFlightBound(t *testing.T) {
	d := testDialect(t, dialectA)
	p := newPeer(t, d, nil)
	release := make(chan struct{})
	p.setHandler(func(pc *peerConn, msg *iso8583.Message) bool {
		if mti, _ := msg.GetMTI(); mti == "0200" {
			<-release
			pc.reply(msg, "00")
			return true
		}
		return false
	})
	cfg := testConfig("alfa", dialectA, p.addr)
	cfg.Connections = 1
	cfg.MaxInFlight = 2
	l := openLink(t, cfg, d)
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := send(t, l, purchase(t, d, "0200", ""))
			errs <- err
		}()
	}
	waitFor(t, 2*time.Second, "2 in flight", func() bool { return l.Health().InFlight == 2 })

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	_, err := l.Send(ctx, purchase(t, d, "0200", ""))
	cancel()
	if !errors.Is(err, ErrBusy) || !NotSent(err) {
		t.Fatalf("third send: %v, want ErrBusy (not sent)", err)
	}
	// A waiting sender gets the slot as soon as one frees.
	third := make(chan error, 1)
	go func() {
		_, err := send(t, l, purchase(t, d, "0200", ""))
		third <- err
	}()
	time.Sleep(50 * time.Millisecond)
	close(release)
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if err := <-third; err != nil {
		t.Fatalf("waiting sender: %v", err)
	}
	n := 0
	for len(p.recv) > 0 {
		if r := <-p.recv; r.mti == "0200" {
			n++
		}
	}
	if n != 3 {
		t.Fatalf("peer received %d 0200s, want 3 (the refused one must not be sent)", n)
	}
}

func TestSignOffOnClose(t *testing.T) {
	d := testDialect(t, dialectB)
	p := newPeer(t, d, nil)
	p.requireSignOn = true
	cfg := testConfig("sber", dialectB, p.addr)
	l, err := Open(cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.WaitUsable(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*time.Second, "both signed on", func() bool { return l.Health().SignedOn == 2 })
	if err := l.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	signOffs := map[*peerConn]bool{}
	for len(p.recv) > 0 {
		if r := <-p.recv; r.mti == "0800" && networkCode(r.msg) == nmSignOff {
			signOffs[r.pc] = true
		}
	}
	if len(signOffs) != 2 {
		t.Fatalf("sign-off seen on %d connections, want 2", len(signOffs))
	}
	waitFor(t, 2*time.Second, "connections closed", func() bool { return len(p.openConns()) == 0 })
	if _, err := send(t, l, purchase(t, d, "0200", "")); !errors.Is(err, ErrClosed) || !NotSent(err) {
		t.Fatalf("send after Close: %v, want ErrClosed", err)
	}
	if l.Usable() || !l.Health().Closed {
		t.Fatal("closed link reports usable")
	}
}

func TestUnmatchedResponseReachesOnUnsolicited(t *testing.T) {
	d := testDialect(t, dialectA)
	p := newPeer(t, d, nil)
	got := make(chan *iso8583.Message, 1)
	cfg := testConfig("alfa", dialectA, p.addr)
	cfg.Connections = 1
	openLink(t, cfg, d, WithOnUnsolicited(func(_ string, m *iso8583.Message) { got <- m }))
	waitFor(t, time.Second, "peer to register the connection", func() bool { return len(p.openConns()) == 1 })
	m := iso8583.NewMessage(d.Spec)
	m.MTI("0210")
	for id, v := range map[int]string{7: "1127101500", 11: "123456", 39: "00"} {
		if err := m.Field(id, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.openConns()[0].send(m); err != nil {
		t.Fatal(err)
	}
	select {
	case u := <-got:
		if fieldOf(u, 11) != "123456" {
			t.Fatalf("unsolicited STAN %q", fieldOf(u, 11))
		}
	case <-time.After(2 * time.Second):
		t.Fatal("unmatched 0210 not passed to OnUnsolicited")
	}
}

func TestLogsCarryNoPAN(t *testing.T) {
	d := testDialect(t, dialectA)
	p := newPeer(t, d, nil)
	p.setHandler(func(pc *peerConn, msg *iso8583.Message) bool {
		if mti, _ := msg.GetMTI(); mti == "0200" && fieldOf(msg, 11) == "000900" {
			pc.close()
			return true
		}
		return false
	})
	var buf syncBuffer
	log := zerolog.New(&buf).Level(zerolog.DebugLevel)
	cfg := testConfig("alfa", dialectA, p.addr)
	cfg.Timeout = 200 * time.Millisecond
	l := openLink(t, cfg, d, WithLogger(log))
	if _, err := send(t, l, purchase(t, d, "0200", "")); err != nil {
		t.Fatal(err)
	}
	_, _ = send(t, l, purchase(t, d, "0200", "000900"))
	if !strings.Contains(buf.String(), `"stan":"000900"`) {
		t.Fatalf("expected the lost request to be logged by STAN; log:\n%s", buf.String())
	}
	if strings.Contains(buf.String(), testPAN) || strings.Contains(buf.String(), testPAN[6:]) {
		t.Fatal("log contains the PAN")
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestMetrics(t *testing.T) {
	d := testDialect(t, dialectA)
	p := newPeer(t, d, nil)
	reg := prometheus.NewRegistry()
	l := openLink(t, testConfig("alfa", dialectA, p.addr), d, WithMetrics(reg))
	if _, err := send(t, l, purchase(t, d, "0200", "")); err != nil {
		t.Fatal(err)
	}
	// A second link on the same registry shares the collectors.
	p2 := newPeer(t, d, nil)
	openLink(t, testConfig("other", dialectA, p2.addr), d, WithMetrics(reg))
	waitFor(t, 2*time.Second, "gauges", func() bool { return l.Health().SignedOn == 2 })

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var samples uint64
	gauge := -1.0
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			switch mf.GetName() {
			case "h2hswitch_banklink_round_trip_seconds":
				if labels["bank"] == "alfa" && labels["mti"] == "0200" {
					samples = m.GetHistogram().GetSampleCount()
				}
			case "h2hswitch_banklink_connections":
				if labels["bank"] == "alfa" && labels["state"] == "signed_on" {
					gauge = m.GetGauge().GetValue()
				}
			}
		}
	}
	if samples != 1 || gauge != 2 {
		t.Fatalf("round-trip samples %d, signed-on gauge %v; want 1 and 2", samples, gauge)
	}
}

func TestConfigValidationNamesKey(t *testing.T) {
	for _, tc := range []struct {
		key    string
		mutate func(c *Config)
	}{
		{"connections", func(c *Config) { c.Connections = 5 }},
		{"address", func(c *Config) { c.Address = "nohost" }},
		{"dialect", func(c *Config) { c.Dialect = "h2h93" }},
		{"bank", func(c *Config) { c.Bank = "" }},
		{"read_timeout", func(c *Config) { c.ReadTimeout = c.EchoInterval }},
		{"backoff_max", func(c *Config) { c.BackoffMax = time.Millisecond }},
		{"tls.cert_file", func(c *Config) { c.TLS = TLSConfig{Enabled: true, CertFile: "x.pem"} }},
		{"tls.min_version", func(c *Config) { c.TLS = TLSConfig{Enabled: true, MinVersion: "1.0"} }},
		{"timeout", func(c *Config) { c.Timeout = -time.Second }},
	} {
		t.Run(tc.key, func(t *testing.T) {
			c := Config{Bank: "alfa", Dialect: dialectA, Address: "127.0.0.1:9000"}
			c.ApplyDefaults()
			tc.mutate(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.key+":") {
				t.Fatalf("Validate() = %v, want an error naming %q", err, tc.key)
			}
		})
	}
	c := Config{Bank: "sber", Dialect: dialectB, Address: "bank-b:7001"}
	c.ApplyDefaults()
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	if c.Connections != 8 || c.Timeout != 8*time.Second || c.EchoInterval != 30*time.Second || c.ReadTimeout != 90*time.Second {
		t.Fatalf("Bank B defaults = %d conns, %s timeout, %s echo, %s read", c.Connections, c.Timeout, c.EchoInterval, c.ReadTimeout)
	}
	a := Config{Bank: "alfa", Dialect: dialectA, Address: "bank-a:7000"}
	a.ApplyDefaults()
	if a.Connections != 4 || a.Timeout != 15*time.Second {
		t.Fatalf("Bank A defaults = %d conns, %s timeout", a.Connections, a.Timeout)
	}
}

func TestSendRespectsContextDeadline(t *testing.T) {
	d := testDialect(t, dialectA)
	p := newPeer(t, d, nil)
	p.setHandler(func(pc *peerConn, msg *iso8583.Message) bool {
		mti, _ := msg.GetMTI()
		return mti == "0200" // never answered
	})
	cfg := testConfig("alfa", dialectA, p.addr)
	cfg.Timeout = 5 * time.Second
	l := openLink(t, cfg, d)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := l.Send(ctx, purchase(t, d, "0200", ""))
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) || !MaybeSent(err) {
		t.Fatalf("err = %v, want ErrTimeout wrapping context.DeadlineExceeded", err)
	}
	if el := time.Since(start); el > time.Second {
		t.Fatalf("returned after %s; ctx deadline was 150ms", el)
	}
}

func TestCloseDrainsInFlight(t *testing.T) {
	d := testDialect(t, dialectB)
	p := newPeer(t, d, nil)
	p.requireSignOn = true
	p.setHandler(func(pc *peerConn, msg *iso8583.Message) bool {
		if mti, _ := msg.GetMTI(); mti == "0200" {
			time.Sleep(300 * time.Millisecond)
			pc.reply(msg, "00")
			return true
		}
		return false
	})
	cfg := testConfig("sber", dialectB, p.addr)
	cfg.Connections = 1
	l, err := Open(cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.WaitUsable(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := send(t, l, purchase(t, d, "0200", ""))
		done <- err
	}()
	p.expect(2*time.Second, "0200", func(r received) bool { return r.mti == "0200" })
	if err := l.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("request in flight during Close: %v", err)
	}
	p.expect(time.Second, "sign-off after the drain", isNetwork(nmSignOff))
}

func TestCancelledContextSendsNothing(t *testing.T) {
	d := testDialect(t, dialectA)
	p := newPeer(t, d, nil)
	cfg := testConfig("alfa", dialectA, p.addr)
	cfg.Connections = 1
	l := openLink(t, cfg, d)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := l.Send(ctx, purchase(t, d, "0200", "000077"))
	if !errors.Is(err, ErrCanceled) || !NotSent(err) {
		t.Fatalf("err = %v, want ErrCanceled (not sent)", err)
	}
	// The STAN is free again and nothing reached the bank.
	resp, err := send(t, l, purchase(t, d, "0200", "000077"))
	if err != nil || fieldOf(resp, 11) != "000077" {
		t.Fatalf("resend with the same STAN: %v", err)
	}
	n := 0
	for len(p.recv) > 0 {
		if r := <-p.recv; r.mti == "0200" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("bank received %d 0200s, want 1", n)
	}
}

// A host flooding unmatched responses cannot run more than
// maxUnsolicitedInFlight callbacks at once; the rest wait for a slot, and a
// panicking callback does not take the link down.
func TestUnsolicitedCallbacksBounded(t *testing.T) {
	d := testDialect(t, dialectA)
	p := newPeer(t, d, nil)
	cfg := testConfig("alfa", dialectA, p.addr)
	cfg.Connections = 1
	var running, peak, seen atomic.Int64
	release := make(chan struct{})
	l := openLink(t, cfg, d, WithOnUnsolicited(func(_ string, m *iso8583.Message) {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			old := peak.Load()
			if n <= old || peak.CompareAndSwap(old, n) {
				break
			}
		}
		seen.Add(1)
		if fieldOf(m, 11) == "000001" {
			panic("callback bug")
		}
		<-release
	}))
	waitFor(t, time.Second, "peer to register the connection", func() bool { return len(p.openConns()) == 1 })
	const flood = maxUnsolicitedInFlight + 16
	for i := 1; i <= flood; i++ {
		m := iso8583.NewMessage(d.Spec)
		m.MTI("0210")
		for id, v := range map[int]string{7: "1127101500", 11: fmt.Sprintf("%06d", i), 39: "00"} {
			if err := m.Field(id, v); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.openConns()[0].send(m); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 2*time.Second, "callbacks to fill every slot", func() bool { return running.Load() == maxUnsolicitedInFlight })
	time.Sleep(100 * time.Millisecond) // give any excess callback the chance to start
	if got := peak.Load(); got > maxUnsolicitedInFlight {
		t.Fatalf("%d callbacks ran at once, bound is %d", got, maxUnsolicitedInFlight)
	}
	close(release)
	waitFor(t, 3*time.Second, "every message to reach the callback", func() bool { return seen.Load() == flood })
	if !l.Usable() {
		t.Fatal("link unusable after a panicking callback")
	}
}
