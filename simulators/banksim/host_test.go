package banksim

import (
	"fmt"
	"testing"
	"time"

	"github.com/acquirer/h2hswitch/simulators/ledger"
	"github.com/acquirer/h2hswitch/simulators/wire"
)

func TestAmountRules(t *testing.T) {
	for _, d := range dialects {
		t.Run(d, func(t *testing.T) {
			s := startSim(t, d, nil)
			c := dialSignedOn(t, s)
			binary := d == wire.DialectBinary
			want := map[int64]string{
				5: "05", 14: "14", 51: "51", 54: "54", 57: "57", 59: "59", 61: "61",
				62: "62", 91: "91", 96: "96", 0: "00", 1: "00", 50: "00",
			}
			if binary {
				want[77], want[82] = "1A", "N7"
			} else {
				want[77], want[82] = "05", "82"
			}
			for digits, code := range want {
				for _, mti := range []string{"0100", "0200"} {
					amount := 100000 + digits
					req := c.auth(authOpts{mti: mti, amount: amount})
					r := c.roundTrip(req)
					if r.MTI() != mti[:2]+"10" {
						t.Fatalf("MTI %s for %s", r.MTI(), mti)
					}
					if got := r.Get(39); got != code {
						t.Errorf("%s amount %d: DE39 %q, want %q", mti, amount, got, code)
					}
					for _, f := range []int{3, 4, 7, 11, 37, 41, 42, 49} {
						if r.Get(f) != req.Get(f) {
							t.Errorf("DE%d not echoed: %q vs %q", f, r.Get(f), req.Get(f))
						}
					}
					if r.Has(2) {
						t.Error("DE2 echoed")
					}
					if approved := code == "00"; approved != r.Has(38) || approved && len(r.Get(38)) != 6 {
						t.Errorf("amount %d: DE38 %q", amount, r.Get(38))
					}
				}
			}
			approved := 0
			for _, tx := range s.Ledger().Snapshot() {
				if tx.Amount%100 != 0 && tx.Amount%100 != 1 && tx.Amount%100 != 50 {
					t.Errorf("declined amount %d recorded", tx.Amount)
				}
				approved++
			}
			if approved != 6 {
				t.Errorf("ledger holds %d approvals, want 6", approved)
			}
		})
	}
}

func TestRule97ClosesWithoutRecording(t *testing.T) {
	for _, d := range dialects {
		t.Run(d, func(t *testing.T) {
			s := startSim(t, d, nil)
			c := dialSignedOn(t, s)
			c.send(c.auth(authOpts{amount: 10097}))
			c.expectClosed(2 * time.Second)
			if n := s.Ledger().Len(); n != 0 {
				t.Fatalf("rule 97 recorded %d transactions", n)
			}
			// The host itself stays up.
			c2 := dialSignedOn(t, s)
			if r := c2.roundTrip(c2.auth(authOpts{amount: 10000})); r.Get(39) != "00" {
				t.Fatalf("after 97: %q", r.Get(39))
			}
		})
	}
}

func TestRule98LateAnd99Silent(t *testing.T) {
	for _, d := range dialects {
		t.Run(d, func(t *testing.T) {
			s := startSim(t, d, func(c *Config) { c.LateDelay = 500 * time.Millisecond })
			c := dialSignedOn(t, s)
			late := c.auth(authOpts{amount: 10098})
			start := time.Now()
			c.send(late)
			// A request sent after the late one is answered first: the late
			// answer does not hold up the connection.
			quick := c.auth(authOpts{amount: 10000})
			c.send(quick)
			r, err := c.recv(2 * time.Second)
			if err != nil || r.Get(11) != quick.Get(11) {
				t.Fatalf("first answer %v %v, want the quick one", r, err)
			}
			r, err = c.recv(2 * time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if r.Get(11) != late.Get(11) || r.Get(39) != "00" {
				t.Fatalf("late answer stan %s code %s", r.Get(11), r.Get(39))
			}
			if el := time.Since(start); el < 500*time.Millisecond {
				t.Fatalf("late answer after %s, want >= 500ms", el)
			}

			silent := c.auth(authOpts{amount: 10099})
			c.send(silent)
			c.expectSilence(500 * time.Millisecond)
			tx, ok := s.Ledger().ByRRN(silent.Get(37))
			if !ok || tx.Response != "withheld" || tx.State != ledger.StateAuthorized {
				t.Fatalf("rule 99 ledger entry %+v %v", tx, ok)
			}
			if tx, _ := s.Ledger().ByRRN(late.Get(37)); tx.Response != "late" {
				t.Fatalf("rule 98 ledger entry %+v", tx)
			}
		})
	}
}

func TestAmountRuleOverrides(t *testing.T) {
	s := startSim(t, wire.DialectASCII, func(c *Config) {
		c.AmountRules = map[string]string{"51": "approve", "33": "65", "05": "silent"}
	})
	c := dial(t, s)
	for amt, code := range map[int64]string{151: "00", 133: "65", 114: "14"} {
		if r := c.roundTrip(c.auth(authOpts{amount: amt})); r.Get(39) != code {
			t.Errorf("amount %d: %q want %q", amt, r.Get(39), code)
		}
	}
	c.send(c.auth(authOpts{amount: 105}))
	c.expectSilence(300 * time.Millisecond)
	if _, err := New(Config{Dialect: wire.DialectASCII, AmountRules: map[string]string{"5": "05"}}); err == nil {
		t.Fatal("one-digit rule key accepted")
	}
	if _, err := New(Config{Dialect: wire.DialectASCII, AmountRules: map[string]string{"05": "maybe"}}); err == nil {
		t.Fatal("bad rule value accepted")
	}
}

func TestCardRules(t *testing.T) {
	for _, d := range dialects {
		t.Run(d, func(t *testing.T) {
			binary := d == wire.DialectBinary
			s := startSim(t, d, nil)
			c := dialSignedOn(t, s)
			check := func(name string, o authOpts, want string) *wire.Msg {
				t.Helper()
				if o.amount == 0 {
					o.amount = 150000
				}
				r := c.roundTrip(c.auth(o))
				if r.Get(39) != want {
					t.Errorf("%s: DE39 %q, want %q", name, r.Get(39), want)
				}
				return r
			}
			for _, pan := range []string{cardVisa, cardVisa2, cardMC, cardMir, cardToken} {
				check("test card "+pan[:6], authOpts{pan: pan}, "00")
			}
			check("decline card", authOpts{pan: cardDecline}, "05")
			check("decline card wins over approve amount", authOpts{pan: cardDecline, amount: 100}, "05")
			check("Luhn failure", authOpts{pan: "4000000000000011"}, "14")
			check("expired last month", authOpts{expiry: "2610"}, "54")
			check("expires this month", authOpts{expiry: "2611"}, "00")
			check("bad month", authOpts{expiry: "2613"}, "30")
			cvvCode := "82"
			mitCode := "12"
			if binary {
				cvvCode, mitCode = "N7", "R0"
			}
			check("CVV 000", authOpts{cvv: "000"}, cvvCode)
			check("CVV 123", authOpts{cvv: "123"}, "00")
			check("MIT with unknown NTID", authOpts{sc: &wire.StoredCredential{Initiator: 'M', Type: '2', Subsequent: true, NetworkTransactionID: "123456789012345"}}, mitCode)
			check("MIT without NTID", authOpts{sc: &wire.StoredCredential{Initiator: 'M', Type: '2', Subsequent: true}}, mitCode)

			r := check("initial CIT", authOpts{pan: cardMC, sc: &wire.StoredCredential{Initiator: 'C', Type: '2'}}, "00")
			var ntid string
			if binary {
				ntid = r.Get(62)
			} else {
				tl, err := wire.ParseDE48(r.Bytes(48))
				if err != nil {
					t.Fatal(err)
				}
				ntid, _ = wire.FindDE48(tl, "22")
			}
			if len(ntid) != 15 {
				t.Fatalf("network transaction id %q, want 15 characters", ntid)
			}
			check("MIT with issued NTID", authOpts{pan: cardMC, sc: &wire.StoredCredential{Initiator: 'M', Type: '2', Subsequent: true, NetworkTransactionID: ntid}}, "00")
			check("MIT with NTID of another card", authOpts{pan: cardVisa, sc: &wire.StoredCredential{Initiator: 'M', Type: '2', Subsequent: true, NetworkTransactionID: ntid}}, mitCode)
			r = check("plain purchase", authOpts{}, "00")
			if r.Has(62) || r.Has(48) {
				t.Error("network transaction id on a purchase without stored credential")
			}
			for _, tx := range s.Ledger().Snapshot() {
				if len(tx.MaskedPAN) != 16 || tx.MaskedPAN[6:12] != "******" {
					t.Fatalf("ledger card %q is not masked 6+4", tx.MaskedPAN)
				}
			}
		})
	}
}

func TestFormatAndSessionErrors(t *testing.T) {
	for _, d := range dialects {
		t.Run(d, func(t *testing.T) {
			s := startSim(t, d, func(c *Config) { c.AcquirerID = testAcq })
			c := dialSignedOn(t, s)
			req := c.auth(authOpts{amount: 1000})
			req.Unset(43)
			if r := c.roundTrip(req); r.Get(39) != "30" {
				t.Errorf("missing DE43: %q", r.Get(39))
			}
			req = c.auth(authOpts{amount: 1000})
			req.Set(32, "999")
			if r := c.roundTrip(req); r.Get(39) != "03" {
				t.Errorf("foreign acquirer: %q", r.Get(39))
			}
			req = c.auth(authOpts{amount: 1000})
			req.Set(3, "310000")
			if r := c.roundTrip(req); r.Get(39) != "12" {
				t.Errorf("balance inquiry: %q", r.Get(39))
			}
			req = c.auth(authOpts{amount: 1000, mti: "0300"})
			if r := c.roundTrip(req); r.MTI() != "0310" || r.Get(39) != "12" {
				t.Errorf("0300: %s %q", r.MTI(), r.Get(39))
			}
			// Reversal MTI of the other bank.
			mti := "0420"
			if d == wire.DialectBinary {
				mti = "0400"
			}
			orig := c.auth(authOpts{amount: 1000})
			c.roundTrip(orig)
			if r := c.roundTrip(c.follow(mti, "000000", orig, 1000, "")); r.Get(39) != "12" {
				t.Errorf("%s: %q", mti, r.Get(39))
			}
			// Duplicate transmission of an approved request.
			if r := c.roundTrip(orig); r.Get(39) != "94" {
				t.Errorf("duplicate: %q", r.Get(39))
			}
			if r := c.roundTrip(c.network("999")); r.MTI() != "0810" || r.Get(39) != "12" {
				t.Errorf("unknown DE70: %s %q", r.MTI(), r.Get(39))
			}
			// A frame whose body does not decode gets 30 with the MTI echoed
			// when the MTI is readable.
			var raw []byte
			if d == wire.DialectBinary {
				raw = []byte{0x00, 0x0b, 0x02, 0x00, 0x00, 0x20, 0, 0, 0, 0, 0, 0, 0x99}
			} else {
				raw = []byte("0021020000200000000000000X")
			}
			if _, err := c.nc.Write(raw); err != nil {
				t.Fatal(err)
			}
			r, err := c.recv(2 * time.Second)
			if err != nil || r.MTI() != "0210" || r.Get(39) != "30" {
				t.Fatalf("undecodable frame: %v %v", r, err)
			}
			if s.Stats().FormatErrors != 1 {
				t.Fatalf("format errors %d", s.Stats().FormatErrors)
			}
			// An oversize length prefix drops the connection.
			if d == wire.DialectBinary {
				raw = []byte{0xff, 0xff}
			} else {
				raw = []byte("9999")
			}
			if _, err := c.nc.Write(raw); err != nil {
				t.Fatal(err)
			}
			c.expectClosed(2 * time.Second)
		})
	}
}

func TestSignOnEnforcement(t *testing.T) {
	s := startSim(t, wire.DialectBinary, nil)
	c := dial(t, s)
	req := c.auth(authOpts{amount: 1000})
	r := c.roundTrip(req)
	if r.MTI() != "0210" || r.Get(39) != "91" || r.Get(37) != req.Get(37) {
		t.Fatalf("before sign-on: %s %q", r.MTI(), r.Get(39))
	}
	if r := c.roundTrip(c.reversal(req, false, "", nil)); r.MTI() != "0430" || r.Get(39) != "91" {
		t.Fatalf("reversal before sign-on: %s %q", r.MTI(), r.Get(39))
	}
	if s.Ledger().Len() != 0 {
		t.Fatal("request on an unsigned connection was recorded")
	}
	// An echo is answered without sign-on.
	if r := c.roundTrip(c.network("301")); r.Get(39) != "00" || r.Get(70) != "301" || r.Get(7) != "1127050000" {
		t.Fatalf("echo: %q %q", r.Get(39), r.Get(70))
	}
	if r := c.roundTrip(c.network("001")); r.Get(39) != "00" || r.Get(70) != "001" {
		t.Fatalf("sign-on: %q", r.Get(39))
	}
	if r := c.roundTrip(c.auth(authOpts{amount: 1000})); r.Get(39) != "00" {
		t.Fatalf("after sign-on: %q", r.Get(39))
	}
	// Sign-on is per connection.
	c2 := dial(t, s)
	if r := c2.roundTrip(c2.auth(authOpts{amount: 1000})); r.Get(39) != "91" {
		t.Fatalf("second connection before its sign-on: %q", r.Get(39))
	}
	if r := c.roundTrip(c.network("002")); r.Get(39) != "00" {
		t.Fatalf("sign-off: %q", r.Get(39))
	}
	if r := c.roundTrip(c.auth(authOpts{amount: 1000})); r.Get(39) != "91" {
		t.Fatalf("after sign-off: %q", r.Get(39))
	}
}

func TestHostEcho(t *testing.T) {
	s := startSim(t, wire.DialectBinary, func(c *Config) {
		c.EchoInterval = 100 * time.Millisecond
		c.EchoTimeout = 200 * time.Millisecond
	})
	c := dial(t, s)
	// No echo before sign-on.
	c.expectSilence(300 * time.Millisecond)
	c.roundTrip(c.network("001"))
	for i := 0; i < 3; i++ {
		m, err := c.recv(time.Second)
		if err != nil {
			t.Fatalf("echo %d: %v", i, err)
		}
		if m.MTI() != "0800" || m.Get(70) != "301" || len(m.Get(7)) != 10 || len(m.Get(11)) != 6 {
			t.Fatalf("echo %d: %s %q", i, m.MTI(), m.Get(70))
		}
		ans := new(wire.Msg)
		ans.SetMTI("0810")
		for _, f := range []int{7, 11, 70} {
			ans.Set(f, m.Get(f))
		}
		ans.Set(39, "00")
		c.send(ans)
	}
	// An unsolicited response is ignored: no answer, connection kept.
	u := c.auth(authOpts{mti: "0110", amount: 1000})
	u.Set(39, "00")
	c.send(u)
	// Now stop answering echoes: the host closes within interval + timeout.
	start := time.Now()
	var err error
	for err == nil {
		var m *wire.Msg
		m, err = c.recv(time.Second)
		if err == nil && m.MTI() != "0800" {
			t.Fatalf("unexpected %s", m.MTI())
		}
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("connection closed after %s", el)
	}
	st := s.Stats()
	if st.EchoTimeouts != 1 || st.Unsolicited != 1 || st.EchoesSent < 4 {
		t.Fatalf("stats %+v", st)
	}
}

func TestEchoFromSwitchBankA(t *testing.T) {
	s := startSim(t, wire.DialectASCII, nil)
	c := dial(t, s)
	r := c.roundTrip(c.network("301"))
	if r.MTI() != "0810" || r.Get(39) != "00" || r.Get(70) != "301" {
		t.Fatalf("%s %q %q", r.MTI(), r.Get(39), r.Get(70))
	}
	if got := fmt.Sprint(r.Fields()); got != "[7 11 39 70]" {
		t.Fatalf("0810 fields %s", got)
	}
}
