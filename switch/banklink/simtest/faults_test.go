package simtest

import (
	"bufio"
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/moov-io/iso8583"

	"github.com/acquirer/h2hswitch/simulators/banksim"
	"github.com/acquirer/h2hswitch/simulators/ledger"
	"github.com/acquirer/h2hswitch/specs"
	"github.com/acquirer/h2hswitch/switch/banklink"
	"github.com/acquirer/h2hswitch/switch/bankmsg"
)

// TestReconnectAfterSimulatorRestart stops the simulator, starts a new one
// on the same port and expects the link to carry traffic again.
func TestReconnectAfterSimulatorRestart(t *testing.T) {
	for _, bc := range bankCases {
		t.Run(bc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, bc.dialect, nil, nil)
			addr := e.sim.Addr()
			e.exchange(e.auth(specs.OpPurchase, 100000), "0210", "00")
			before := e.link.Health().Reconnects

			if err := e.sim.Close(); err != nil {
				t.Fatalf("stopping simulator: %v", err)
			}
			waitFor(t, "the link to notice the host is gone", func() bool { return !e.link.Usable() })
			res := e.send(e.auth(specs.OpPurchase, 100000))
			if !errors.Is(res.err, banklink.ErrNoConnection) || !banklink.NotSent(res.err) {
				t.Fatalf("Send with the host down: %v, want ErrNoConnection (not sent)", res.err)
			}

			e.sim = startSim(t, bc.dialect, func(c *banksim.Config) { c.Listen = addr })
			ctx, cancel := context.WithTimeout(context.Background(), waitShort)
			defer cancel()
			if err := e.link.WaitUsable(ctx); err != nil {
				t.Fatalf("link did not come back: %v", err)
			}
			r := e.auth(specs.OpPurchase, 110000)
			e.exchange(r, "0210", "00")
			if tx := e.txn(r.RRN); tx.Amount != 110000 {
				t.Errorf("new host's ledger: %s", tx.String())
			}
			st := e.sim.Stats()
			if st.Accepted != 1 || st.LedgerTxns != 1 {
				t.Errorf("new host stats: %+v", st)
			}
			if bc.dialect == specs.DialectBinary && st.SignOns != 1 {
				t.Errorf("the new connection was not signed on again: %d sign-ons", st.SignOns)
			}
			if h := e.link.Health(); h.Reconnects <= before {
				t.Errorf("Health.Reconnects %d, was %d", h.Reconnects, before)
			}
		})
	}
}

// TestBankBSignOnEnforced: the link signs on before anything else; a raw
// client that skips sign-on gets 91 and nothing is recorded.
func TestBankBSignOnEnforced(t *testing.T) {
	t.Parallel()
	e := newEnv(t, specs.DialectBinary, nil, nil)
	if st := e.sim.Stats(); st.SignOns != 1 || st.Received != 1 || st.NotSignedOn != 0 {
		t.Fatalf("after WaitUsable the host saw %+v, want exactly one message, the sign-on", st)
	}
	e.exchange(e.auth(specs.OpPurchase, 100000), "0210", "00")

	// A client that does not sign on.
	c := dialRaw(t, e.d, e.sim.Addr())
	r := e.auth(specs.OpPurchase, 100000)
	resp := c.roundTrip(t, r)
	if mti, _ := resp.GetMTI(); mti != "0210" {
		t.Fatalf("raw purchase answered %s", mti)
	}
	if rc, _ := resp.GetString(39); rc != "91" {
		t.Fatalf("purchase before sign-on: DE39 %q, want 91", rc)
	}
	if _, ok := e.sim.Ledger().ByRRN(r.RRN); ok {
		t.Error("a purchase on a connection not signed on was recorded")
	}
	if st := e.sim.Stats(); st.NotSignedOn != 1 {
		t.Errorf("NotSignedOn %d, want 1", st.NotSignedOn)
	}
	// Signed on, the same connection carries traffic.
	on := c.roundTrip(t, e.network(specs.OpSignOn))
	if rc, _ := on.GetString(39); rc != "00" {
		t.Fatalf("raw sign-on: DE39 %q", rc)
	}
	r2 := e.auth(specs.OpPurchase, 100000)
	if rc, _ := c.roundTrip(t, r2).GetString(39); rc != "00" {
		t.Fatalf("purchase after sign-on: DE39 %q, want 00", rc)
	}
	e.txn(r2.RRN)
}

// TestHostEchoesAnswered: the simulator sends 0800 301 every 100 ms and
// closes a connection whose 0810 is 150 ms late; the link answers them all
// and keeps its one connection.
func TestHostEchoesAnswered(t *testing.T) {
	for _, bc := range bankCases {
		t.Run(bc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, bc.dialect, func(c *banksim.Config) {
				c.EchoInterval = 100 * time.Millisecond
				c.EchoTimeout = 150 * time.Millisecond
			}, nil)
			waitFor(t, "six host echoes", func() bool { return e.sim.Stats().EchoesSent >= 6 })
			st := e.sim.Stats()
			if st.EchoesAnswered < st.EchoesSent-1 || st.EchoTimeouts != 0 || st.Accepted != 1 || st.Connections != 1 {
				t.Fatalf("host stats: %+v", st)
			}
			if h := e.link.Health(); h.Reconnects != 0 || !e.link.Usable() {
				t.Fatalf("link health: %+v", h)
			}
			e.exchange(e.auth(specs.OpPurchase, 100000), "0210", "00")
		})
	}
}

// TestDroppedConnectionFailsPromptly: a connection dropped with requests
// in flight fails them at once with ErrConnectionLost (maybe sent), far
// below the 5 s timeout, and the link reconnects.
func TestDroppedConnectionFailsPromptly(t *testing.T) {
	for _, bc := range bankCases {
		t.Run(bc.name+"/rule 97", func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, bc.dialect, nil, func(c *banklink.Config) { c.Timeout = 5 * time.Second })
			r := e.auth(specs.OpPurchase, 100097)
			res := e.send(r)
			checkLost(t, res)
			if _, ok := e.sim.Ledger().ByRRN(r.RRN); ok {
				t.Error("rule 97 recorded the transaction")
			}
			if st := e.sim.Stats(); st.ClosedByRule97 != 1 {
				t.Errorf("ClosedByRule97 %d", st.ClosedByRule97)
			}
			e.waitUsable()
			e.exchange(e.auth(specs.OpPurchase, 100000), "0210", "00")
		})
		t.Run(bc.name+"/drop connections", func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, bc.dialect, nil, func(c *banklink.Config) { c.Timeout = 5 * time.Second })
			if err := e.sim.SetFaults(banksim.Faults{Delay: 3 * time.Second}); err != nil {
				t.Fatal(err)
			}
			received := e.sim.Stats().Received
			var wg sync.WaitGroup
			results := make([]result, 3)
			for i := range results {
				r := e.auth(specs.OpPurchase, 100000+int64(i)*100)
				wg.Add(1)
				go func() {
					defer wg.Done()
					results[i] = e.sendNoFatal(r)
				}()
			}
			waitFor(t, "the host to receive the requests", func() bool { return e.sim.Stats().Received >= received+3 })
			if n := e.sim.DropConnections(); n != 1 {
				t.Fatalf("DropConnections closed %d connections", n)
			}
			wg.Wait()
			for _, res := range results {
				checkLost(t, res)
			}
			if err := e.sim.SetFaults(banksim.Faults{}); err != nil {
				t.Fatal(err)
			}
			e.waitUsable()
			e.exchange(e.auth(specs.OpPurchase, 100000), "0210", "00")
		})
	}
}

func checkLost(t *testing.T, res result) {
	t.Helper()
	if !errors.Is(res.err, banklink.ErrConnectionLost) || !banklink.MaybeSent(res.err) {
		t.Fatalf("Send: %v, want ErrConnectionLost (maybe sent)", res.err)
	}
	if res.took > time.Second {
		t.Errorf("ErrConnectionLost after %s; the timeout is 5s, a dropped connection must fail at once", res.took)
	}
}

// TestNoAnswerThenReversal: the host stops answering -> ErrTimeout; the
// 0400/0420 the switch then owes clears the transaction at the host.
func TestNoAnswerThenReversal(t *testing.T) {
	for _, bc := range bankCases {
		t.Run(bc.name+"/stop answering", func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, bc.dialect, nil, func(c *banklink.Config) { c.Timeout = 300 * time.Millisecond })
			if err := e.sim.SetFaults(banksim.Faults{StopAnswering: true}); err != nil {
				t.Fatal(err)
			}
			r := e.auth(specs.OpPurchase, 100000)
			checkTimeout(t, e.send(r), 300*time.Millisecond)
			// The reversal goes unanswered too; its repeat, once the host
			// answers again, reuses its STAN.
			rev := e.follow(specs.OpReversal, r, "0200", r.Amount)
			checkTimeout(t, e.send(rev), 300*time.Millisecond)
			if err := e.sim.SetFaults(banksim.Faults{}); err != nil {
				t.Fatal(err)
			}
			// The host dropped both: the original is unknown to it, which
			// (25) ends the repeats as well as 00 would.
			res := e.exchange(e.repeat(rev), bc.revResp, "25")
			if got, _ := res.req.GetMTI(); got != bc.revRepeatMTI {
				t.Errorf("repeat sent as %s", got)
			}
			if _, ok := e.sim.Ledger().ByRRN(r.RRN); ok {
				t.Error("a request the host never answered was recorded")
			}
		})
		t.Run(bc.name+"/rule 99 lost response", func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, bc.dialect, nil, func(c *banklink.Config) { c.Timeout = 300 * time.Millisecond })
			r := e.auth(specs.OpPurchase, 100099)
			checkTimeout(t, e.send(r), 300*time.Millisecond)
			if tx := e.txn(r.RRN); tx.State != ledger.StateAuthorized || tx.Response != "withheld" {
				t.Fatalf("ledger before the reversal: %s response=%s", tx.String(), tx.Response)
			}
			rev := e.follow(specs.OpReversal, r, "0200", r.Amount)
			res := e.exchange(rev, bc.revResp, "00")
			if got, _ := res.req.GetMTI(); got != bc.revMTI {
				t.Errorf("reversal sent as %s", got)
			}
			if tx := e.txn(r.RRN); tx.State != ledger.StateReversed || tx.Cleared() != 0 {
				t.Errorf("ledger after the reversal: %s", tx.String())
			}
		})
	}
}

func checkTimeout(t *testing.T, res result, timeout time.Duration) {
	t.Helper()
	if !errors.Is(res.err, banklink.ErrTimeout) || !banklink.MaybeSent(res.err) {
		t.Fatalf("Send: %v, want ErrTimeout (maybe sent)", res.err)
	}
	if res.took < timeout || res.took > timeout+2*time.Second {
		t.Errorf("ErrTimeout after %s, timeout %s", res.took, timeout)
	}
}

// TestLateResponseReachesOnUnsolicited: rule 98 answers after the link's
// timeout; the late 0210 goes to OnUnsolicited, and the reversal the
// switch owes cancels the approval at the host.
func TestLateResponseReachesOnUnsolicited(t *testing.T) {
	for _, bc := range bankCases {
		t.Run(bc.name, func(t *testing.T) {
			t.Parallel()
			late := make(chan *iso8583.Message, 4)
			e := newEnv(t, bc.dialect,
				func(c *banksim.Config) { c.LateDelay = 500 * time.Millisecond },
				func(c *banklink.Config) { c.Timeout = 150 * time.Millisecond },
				banklink.WithOnUnsolicited(func(bank string, m *iso8583.Message) {
					if bank == "alfa" || bank == "sber" {
						late <- m
					}
				}))
			r := e.auth(specs.OpPurchase, 100098)
			checkTimeout(t, e.send(r), 150*time.Millisecond)
			var m *iso8583.Message
			select {
			case m = <-late:
			case <-time.After(waitShort):
				t.Fatal("the late response never reached OnUnsolicited")
			}
			resp, err := bankmsg.DecodeResponse(e.d, m)
			if err != nil {
				t.Fatalf("decoding the late response: %v", err)
			}
			if resp.MTI != "0210" || resp.STAN != r.STAN || resp.RRN != r.RRN || resp.ResponseCode != "00" || resp.AuthCode == "" {
				t.Fatalf("late response: %+v", resp)
			}
			if tx := e.txn(r.RRN); tx.Response != "late" || tx.State != ledger.StateAuthorized {
				t.Fatalf("ledger: %s response=%s", tx.String(), tx.Response)
			}
			// A late approval is never left standing.
			e.exchange(e.follow(specs.OpReversal, r, "0200", r.Amount), bc.revResp, "00")
			if tx := e.txn(r.RRN); tx.State != ledger.StateReversed {
				t.Errorf("ledger after the reversal: %s", tx.String())
			}
		})
	}
}

func (e *env) waitUsable() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitShort)
	defer cancel()
	if err := e.link.WaitUsable(ctx); err != nil {
		e.t.Fatalf("link did not become usable again: %v", err)
	}
}

// sendNoFatal is send for other goroutines: encoding errors are returned.
func (e *env) sendNoFatal(r *bankmsg.Request) result {
	msg, err := bankmsg.Encode(e.d, r)
	if err != nil {
		return result{err: err}
	}
	ctx, cancel := e.ctx()
	defer cancel()
	start := time.Now()
	raw, err := e.link.Send(ctx, msg)
	return result{req: msg, raw: raw, err: err, took: time.Since(start)}
}

// rawClient speaks the dialect over a plain TCP connection, with no link
// in between: what a careless client would do.
type rawClient struct {
	d    *specs.Dialect
	conn net.Conn
	br   *bufio.Reader
}

func dialRaw(t *testing.T, d *specs.Dialect, addr string) *rawClient {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatalf("dialing the simulator: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &rawClient{d: d, conn: conn, br: bufio.NewReader(conn)}
}

func (c *rawClient) roundTrip(t *testing.T, r *bankmsg.Request) *iso8583.Message {
	t.Helper()
	msg, err := bankmsg.Encode(c.d, r)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	if err := c.conn.SetDeadline(time.Now().Add(waitShort)); err != nil {
		t.Fatal(err)
	}
	if err := c.d.WriteMessage(c.conn, msg); err != nil {
		t.Fatalf("writing: %v", err)
	}
	resp, err := c.d.ReadMessage(c.br)
	if err != nil {
		t.Fatalf("reading: %v", err)
	}
	checkEcho(t, c.d, msg, resp)
	return resp
}
