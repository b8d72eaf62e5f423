package banksim

import (
	"testing"
	"time"

	"github.com/acquirer/h2hswitch/simulators/ledger"
	"github.com/acquirer/h2hswitch/simulators/wire"
)

func code(t *testing.T, c *client, m *wire.Msg, want string) *wire.Msg {
	t.Helper()
	r := c.roundTrip(m)
	if r.Get(39) != want {
		t.Errorf("%s stan %s: DE39 %q, want %q", m.MTI(), m.Get(11), r.Get(39), want)
	}
	return r
}

func TestRefunds(t *testing.T) {
	for _, d := range dialects {
		t.Run(d, func(t *testing.T) {
			s := startSim(t, d, nil)
			c := dialSignedOn(t, s)
			buy := c.auth(authOpts{amount: 150000})
			code(t, c, buy, "00")
			r := code(t, c, c.refund(buy, 50000), "00")
			wantMTI := "0210"
			if d == wire.DialectBinary {
				wantMTI = "0230"
			}
			if r.MTI() != wantMTI || r.Has(38) {
				t.Fatalf("refund answer %s with DE38 %v", r.MTI(), r.Has(38))
			}
			code(t, c, c.refund(buy, 100001), "13") // 50000 + 100001 > 150000
			code(t, c, c.refund(buy, 100000), "00") // exactly the rest
			code(t, c, c.refund(buy, 1), "13")
			ghost := c.auth(authOpts{amount: 1000})
			code(t, c, c.refund(ghost, 100), "25")

			// A refund of an uncompleted preauth is not possible; after the
			// completion it is, against the completed amount.
			pre := c.auth(authOpts{mti: "0100", amount: 20000})
			code(t, c, pre, "00")
			code(t, c, c.refund(pre, 100), "25")
			comp := c.follow("0220", "000000", pre, 15000, "")
			comp.Set(38, "ABC123")
			code(t, c, comp, "00")
			code(t, c, c.refund(comp, 15001), "13")
			code(t, c, c.refund(comp, 15000), "00")

			tx, _ := s.Ledger().ByRRN(buy.Get(37))
			if tx.Refunded() != 150000 || len(tx.Refunds) != 2 {
				t.Fatalf("refunds %+v", tx.Refunds)
			}
			if d == wire.DialectBinary {
				// A repeated refund advice is acknowledged, not stored twice.
				b2 := c.auth(authOpts{amount: 3000})
				code(t, c, b2, "00")
				first := c.refund(b2, 1000)
				code(t, c, first, "00")
				rep := c.follow("0221", "200000", b2, 1000, first.Get(11))
				rep.Set(37, first.Get(37))
				rep.Set(7, "1127070000")
				code(t, c, rep, "00")
				tx, _ := s.Ledger().ByRRN(b2.Get(37))
				if len(tx.Refunds) != 1 {
					t.Fatalf("repeat stored twice: %+v", tx.Refunds)
				}
			}
		})
	}
}

func TestCompletions(t *testing.T) {
	for _, d := range dialects {
		t.Run(d, func(t *testing.T) {
			s := startSim(t, d, nil)
			c := dialSignedOn(t, s)
			pre := c.auth(authOpts{mti: "0100", amount: 50000})
			auth := code(t, c, pre, "00").Get(38)
			over := c.follow("0220", "000000", pre, 50001, "")
			over.Set(38, auth)
			code(t, c, over, "13")
			comp := c.follow("0220", "000000", pre, 40000, "")
			comp.Set(38, auth)
			r := code(t, c, comp, "00")
			if r.MTI() != "0230" {
				t.Fatalf("MTI %s", r.MTI())
			}
			// The repeat (0221, same STAN, new DE7) is acknowledged again and
			// not applied twice; another completion is refused.
			rep := c.follow("0221", "000000", pre, 40000, comp.Get(11))
			rep.Set(38, auth)
			rep.Set(7, "1127063000")
			code(t, c, rep, "00")
			other := c.follow("0220", "000000", pre, 100, "")
			other.Set(38, auth)
			code(t, c, other, "25")
			unknown := c.auth(authOpts{mti: "0100", amount: 100})
			uc := c.follow("0220", "000000", unknown, 100, "")
			uc.Set(38, "ZZZZZZ")
			code(t, c, uc, "25")
			// Completing a purchase is not a thing.
			buy := c.auth(authOpts{amount: 100})
			code(t, c, buy, "00")
			bc := c.follow("0220", "000000", buy, 100, "")
			bc.Set(38, "ZZZZZZ")
			code(t, c, bc, "25")

			tx, _ := s.Ledger().ByRRN(pre.Get(37))
			if tx.State != ledger.StateCompleted || tx.Completion == nil || tx.Completion.Amount != 40000 || tx.Completion.STAN != comp.Get(11) {
				t.Fatalf("preauth after completion: %+v %+v", tx, tx.Completion)
			}
			if tx.Completion.LocalTime.Hour() != 11 {
				t.Fatalf("completion local time %s", tx.Completion.LocalTime)
			}
		})
	}
}

func TestReversals(t *testing.T) {
	for _, d := range dialects {
		t.Run(d, func(t *testing.T) {
			s := startSim(t, d, func(c *Config) { c.LateDelay = 500 * time.Millisecond })
			c := dialSignedOn(t, s)
			wantMTI := "0410"
			if d == wire.DialectBinary {
				wantMTI = "0430"
			}
			buy := c.auth(authOpts{amount: 10000})
			code(t, c, buy, "00")
			rev := c.reversal(buy, false, "", nil)
			r := code(t, c, rev, "00")
			if r.MTI() != wantMTI {
				t.Fatalf("MTI %s", r.MTI())
			}
			// The repeat of the same reversal answers as the first time.
			code(t, c, c.reversal(buy, true, rev.Get(11), nil), "00")
			code(t, c, c.reversal(buy, false, rev.Get(11), nil), "00")
			// A different reversal of the same original: already reversed.
			code(t, c, c.reversal(buy, false, "", nil), "25")
			// Unknown original, and a declined one (never recorded).
			code(t, c, c.reversal(c.auth(authOpts{amount: 1000}), false, "", nil), "25")
			dec := c.auth(authOpts{amount: 1051})
			code(t, c, dec, "51")
			code(t, c, c.reversal(dec, false, "", nil), "25")
			tx, _ := s.Ledger().ByRRN(buy.Get(37))
			if tx.State != ledger.StateReversed || tx.Cleared() != 0 {
				t.Fatalf("after reversal %+v", tx)
			}

			// Partial reversal of a preauth through DE95, then completion
			// limited to what remains.
			pre := c.auth(authOpts{mti: "0100", amount: 50000})
			code(t, c, pre, "00")
			rem := int64(30000)
			code(t, c, c.reversal(pre, false, "", &rem), "00")
			tooMuch := int64(40000)
			code(t, c, c.reversal(pre, false, "", &tooMuch), "13")
			over := c.follow("0220", "000000", pre, 30001, "")
			over.Set(38, "AAAAAA")
			code(t, c, over, "13")
			comp := c.follow("0220", "000000", pre, 30000, "")
			comp.Set(38, "AAAAAA")
			code(t, c, comp, "00")
			// A reversal of a completed preauth is refused.
			code(t, c, c.reversal(pre, false, "", nil), "25")
			tx, _ = s.Ledger().ByRRN(pre.Get(37))
			if tx.Authorized != 30000 || tx.Completion.Amount != 30000 {
				t.Fatalf("partial: %+v", tx)
			}
			// Partial reversal of a purchase clears the rest.
			p2 := c.auth(authOpts{amount: 8000})
			code(t, c, p2, "00")
			rem = 5000
			code(t, c, c.reversal(p2, false, "", &rem), "00")
			tx, _ = s.Ledger().ByRRN(p2.Get(37))
			if tx.State != ledger.StatePartiallyReversed || tx.Cleared() != 5000 {
				t.Fatalf("partial purchase: %+v", tx)
			}

			// Reversal of a 99 (never answered) cancels it.
			lost := c.auth(authOpts{amount: 20099})
			c.send(lost)
			c.expectSilence(100 * time.Millisecond)
			code(t, c, c.reversal(lost, false, "", nil), "00")
			tx, _ = s.Ledger().ByRRN(lost.Get(37))
			if tx.State != ledger.StateReversed {
				t.Fatalf("99 after reversal: %s", tx.State)
			}
			// Reversal of a 98 before its late answer: the reversal is
			// answered at once, the late approval still arrives afterwards
			// (the switch must not let it stand), and the ledger says
			// reversed.
			lateReq := c.auth(authOpts{amount: 20098})
			c.send(lateReq)
			lrev := c.reversal(lateReq, false, "", nil)
			c.send(lrev)
			first, err := c.recv(time.Second)
			if err != nil || first.Get(11) != lrev.Get(11) || first.Get(39) != "00" {
				t.Fatalf("reversal of 98: %v %v", first, err)
			}
			second, err := c.recv(time.Second)
			if err != nil || second.Get(11) != lateReq.Get(11) || second.Get(39) != "00" {
				t.Fatalf("late approval: %v %v", second, err)
			}
			tx, _ = s.Ledger().ByRRN(lateReq.Get(37))
			if tx.State != ledger.StateReversed {
				t.Fatalf("98 after reversal: %s", tx.State)
			}
		})
	}
}

func TestReversalOfBankARefund(t *testing.T) {
	s := startSim(t, wire.DialectASCII, nil)
	c := dial(t, s)
	buy := c.auth(authOpts{amount: 10000})
	code(t, c, buy, "00")
	rf := c.refund(buy, 4000)
	code(t, c, rf, "00")
	code(t, c, c.reversal(rf, false, "", nil), "00")
	tx, _ := s.Ledger().ByRRN(buy.Get(37))
	if tx.Refunded() != 0 || !tx.Refunds[0].Reversed {
		t.Fatalf("refund after its reversal: %+v", tx.Refunds)
	}
	// The full amount can be refunded again.
	code(t, c, c.refund(buy, 10000), "00")
}

func TestStandInAdvices(t *testing.T) {
	for _, d := range dialects {
		t.Run(d, func(t *testing.T) {
			s := startSim(t, d, nil)
			c := dialSignedOn(t, s)
			// The switch stood in for a purchase and a preauth the bank never saw.
			orig := c.auth(authOpts{amount: 12345})
			adv := c.follow("0220", "000000", orig, 12345, "")
			adv.Set(37, orig.Get(37))
			adv.Set(38, "SI0001")
			adv.Set(39, "00")
			r := code(t, c, adv, "00")
			if r.MTI() != "0230" {
				t.Fatalf("MTI %s", r.MTI())
			}
			rep := c.follow("0221", "000000", orig, 12345, adv.Get(11))
			rep.Set(37, orig.Get(37))
			rep.Set(38, "SI0001")
			rep.Set(39, "00")
			rep.Set(7, "1127070000")
			code(t, c, rep, "00")

			porig := c.auth(authOpts{mti: "0100", amount: 5000})
			padv := c.follow("0120", "000000", porig, 5000, "")
			padv.Set(37, porig.Get(37))
			padv.Set(38, "SI0002")
			padv.Set(39, "00")
			if r := code(t, c, padv, "00"); r.MTI() != "0130" {
				t.Fatalf("MTI %s", r.MTI())
			}
			prep := c.follow("0121", "000000", porig, 5000, padv.Get(11))
			prep.Set(37, porig.Get(37))
			prep.Set(38, "SI0002")
			prep.Set(39, "00")
			prep.Set(7, "1127071000")
			code(t, c, prep, "00")

			txs := s.Ledger().Snapshot()
			if len(txs) != 2 {
				t.Fatalf("%d transactions recorded, want 2", len(txs))
			}
			if txs[0].AuthCode != "SI0001" || !txs[0].StandIn || txs[0].Kind != ledger.KindPurchase {
				t.Fatalf("advice record %+v", txs[0])
			}
			if txs[1].Kind != ledger.KindPreauth {
				t.Fatalf("preauth advice record %+v", txs[1])
			}
			// The stand-in preauth can be completed by reference to the
			// original 0100 the switch stood in for.
			comp := c.follow("0220", "000000", porig, 5000, "")
			comp.Set(38, "SI0002")
			code(t, c, comp, "00")
			// The stand-in purchase can be voided by reference to its 0200;
			// a reversal naming it as a preauth finds nothing.
			wrong := c.reversal(orig, false, "", nil)
			wrong.Set(90, "0100"+wrong.Get(90)[4:])
			code(t, c, wrong, "25")
			code(t, c, c.reversal(orig, false, "", nil), "00")
			if tx, _ := s.Ledger().ByRRN(orig.Get(37)); tx.State != ledger.StateReversed {
				t.Fatalf("stand-in purchase after reversal: %s", tx.State)
			}
		})
	}
}
