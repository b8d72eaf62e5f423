package e2e

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/acquirer/h2hswitch/simulators/ledger"
)

// bankCurrency routes a payment to the bank under test with routesKZTAlfa.
var bankCurrency = map[string]string{"alfa": "KZT", "sber": "USD"}

func errCode(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func amount12(n int64) string { return fmt.Sprintf("%012d", n) }

// TestPreauthCaptureRefunds: preauth, partial capture, two partial refunds,
// then an over-refund refused with 409 invalid_state, on both banks; the
// host's ledger and the messages at the tap agree.
func TestPreauthCaptureRefunds(t *testing.T) {
	t.Parallel()
	e := newEnv(t, routesKZTAlfa)
	s := e.startSwitch(journalOpts{})
	for _, b := range []*bank{e.alfa, e.sber} {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			p := s.pay(req{ID: uniq("pre"), Type: "preauth", Amount: 200000, Currency: bankCurrency[b.name], PAN: "5100000000000008", CVV: "7351"}.json())
			if p["status"] != "approved" || p["type"] != "preauth" || p["bank"] != b.name {
				t.Fatalf("preauth: %v", p)
			}
			id, rrn := p["id"].(string), p["rrn"].(string)
			if f := b.tap.withRRN(rrn); len(f) != 1 || f[0].MTI != "0100" || f[0].Fields[4] != amount12(200000) {
				t.Fatalf("preauth at the bank: %+v", f)
			}

			st, c := s.call("POST", "/v1/payments/"+id+"/capture", gatewayToken, fmt.Sprintf(`{"request_id":%q,"amount":120000}`, uniq("cap")))
			if st != 200 || c["captured_amount"] != 120000.0 || c["status"] != "approved" {
				t.Fatalf("capture: %d %v", st, c)
			}
			// A second capture is refused: one capture per payment.
			st, c2 := s.call("POST", "/v1/payments/"+id+"/capture", gatewayToken, fmt.Sprintf(`{"request_id":%q,"amount":1000}`, uniq("cap2")))
			if st != 409 || errCode(c2) != "invalid_state" {
				t.Errorf("second capture: %d %v", st, c2)
			}
			tx, ok := b.sim.Ledger().ByRRN(rrn)
			if !ok || tx.State != ledger.StateCompleted || tx.Completion == nil || tx.Completion.Amount != 120000 {
				t.Fatalf("host after capture: %+v", tx)
			}
			completions := b.tap.sent("0220")
			if len(completions) == 0 || completions[len(completions)-1].Fields[90][:4] != "0100" {
				t.Errorf("completion at the bank: %+v", completions)
			}

			for i, amt := range []int64{20000, 30000} {
				st, r := s.call("POST", "/v1/payments/"+id+"/refunds", gatewayToken, fmt.Sprintf(`{"request_id":%q,"amount":%d}`, uniq("ref"+strconv.Itoa(i)), amt))
				if st != 200 || r["status"] != "approved" || r["amount"] != float64(amt) || r["payment_id"] != id || r["reason"] != "approved" {
					t.Fatalf("refund %d: %d %v", i, st, r)
				}
				if rr, _ := r["rrn"].(string); rr == rrn || !twelveDigits.MatchString(rr) {
					t.Errorf("refund rrn %q (payment %s): a refund has an RRN of its own", rr, rrn)
				}
			}
			// 120000 captured, 50000 refunded: 70001 is over.
			st, over := s.call("POST", "/v1/payments/"+id+"/refunds", gatewayToken, fmt.Sprintf(`{"request_id":%q,"amount":70001}`, uniq("over")))
			if st != 409 || errCode(over) != "invalid_state" {
				t.Fatalf("over-refund: %d %v", st, over)
			}
			// The refunds reach the bank in its dialect: Bank A online
			// 0200 200000, Bank B 0220 200000 advices.
			wantMTI := map[string]string{"alfa": "0200", "sber": "0220"}[b.name]
			if !eventually(func() bool {
				tx, _ := b.sim.Ledger().ByRRN(rrn)
				return tx.Refunded() == 50000
			}) {
				tx, _ := b.sim.Ledger().ByRRN(rrn)
				_, saf := s.call("GET", "/v1/admin/saf", operatorToken, "")
				t.Fatalf("refunds at the host: %+v\nsent: %+v\nSAF: %v", tx, b.tap.sent(wantMTI, "0221"), saf)
			}
			var refunds int
			for _, f := range b.tap.sent(wantMTI) {
				if f.Fields[3] == "200000" {
					refunds++
				}
			}
			if refunds != 2 {
				_, saf := s.call("GET", "/v1/admin/saf", operatorToken, "")
				t.Errorf("%d refund messages %s/200000 at the bank, want 2 (the over-refund must not be sent): %+v\nSAF %v", refunds, wantMTI, b.tap.sent(wantMTI, "0221"), saf)
			}

			st, g := s.call("GET", "/v1/payments/"+id, gatewayToken, "")
			ops, _ := g["operations"].([]any)
			if st != 200 || len(ops) < 4 {
				t.Fatalf("lookup: %d %v", st, g)
			}
			kinds := map[string]int{}
			for _, o := range ops {
				kinds[fmt.Sprint(o.(map[string]any)["kind"])]++
			}
			if kinds["authorization"] != 1 || kinds["capture"] != 1 || kinds["refund"] != 2 {
				t.Errorf("operations %v", kinds)
			}
			st, byReq := s.call("GET", "/v1/payments?request_id="+p["request_id"].(string), gatewayToken, "")
			if st != 200 || byReq["id"] != id {
				t.Errorf("lookup by request_id: %d %v", st, byReq)
			}
		})
	}
}

// TestVoids: a full void of a preauth and of a purchase, a partial void of
// a preauth (DE95 carries what stays authorized), and a capture after a
// full void refused.
func TestVoids(t *testing.T) {
	t.Parallel()
	e := newEnv(t, routesKZTAlfa)
	s := e.startSwitch(journalOpts{})
	reversal := map[string]string{"alfa": "0400", "sber": "0420"}
	for _, b := range []*bank{e.alfa, e.sber} {
		for _, typ := range []string{"preauth", "purchase"} {
			t.Run(b.name+"/full-"+typ, func(t *testing.T) {
				t.Parallel()
				p := s.pay(req{ID: uniq("v"), Type: typ, Amount: 300000, Currency: bankCurrency[b.name], PAN: "4000000000000010", CVV: "7351"}.json())
				id, rrn := p["id"].(string), p["rrn"].(string)
				st, v := s.call("POST", "/v1/payments/"+id+"/void", gatewayToken, fmt.Sprintf(`{"request_id":%q}`, uniq("void")))
				if st != 200 || v["status"] != "voided" || v["voided_amount"] != 300000.0 {
					t.Fatalf("void: %d %v", st, v)
				}
				waitFor(t, "the reversal at the host", func() bool {
					tx, _ := b.sim.Ledger().ByRRN(rrn)
					return tx.State == ledger.StateReversed
				})
				var rev []frame
				for _, f := range b.tap.withRRN(rrn) {
					if f.MTI == reversal[b.name] {
						rev = append(rev, f)
					}
				}
				if len(rev) != 1 || rev[0].Fields[4] != amount12(300000) || rev[0].Fields[90][:4] != map[string]string{"preauth": "0100", "purchase": "0200"}[typ] {
					t.Errorf("reversal at the bank: %+v", rev)
				}
				if _, partial := rev[0].Fields[95]; partial {
					t.Errorf("full reversal carries DE95")
				}
				st, c := s.call("POST", "/v1/payments/"+id+"/capture", gatewayToken, fmt.Sprintf(`{"request_id":%q}`, uniq("cap")))
				if st != 409 || errCode(c) != "invalid_state" {
					t.Errorf("capture of a voided payment: %d %v", st, c)
				}
			})
		}
		t.Run(b.name+"/partial-preauth", func(t *testing.T) {
			t.Parallel()
			p := s.pay(req{ID: uniq("pv"), Type: "preauth", Amount: 200000, Currency: bankCurrency[b.name], PAN: "2200000000000004", CVV: "7351"}.json())
			id, rrn := p["id"].(string), p["rrn"].(string)
			st, v := s.call("POST", "/v1/payments/"+id+"/void", gatewayToken, fmt.Sprintf(`{"request_id":%q,"amount":50000}`, uniq("pvoid")))
			if st != 200 || v["status"] != "approved" || v["voided_amount"] != 50000.0 {
				t.Fatalf("partial void: %d %v", st, v)
			}
			waitFor(t, "the partial reversal at the host", func() bool {
				tx, _ := b.sim.Ledger().ByRRN(rrn)
				return tx.Authorized == 150000
			})
			var rev []frame
			for _, f := range b.tap.withRRN(rrn) {
				if f.MTI == reversal[b.name] {
					rev = append(rev, f)
				}
			}
			if len(rev) != 1 || rev[0].Fields[4] != amount12(200000) || rev[0].Fields[95][:12] != amount12(150000) {
				t.Errorf("partial reversal at the bank: %+v", rev)
			}
			// The rest can still be captured.
			st, c := s.call("POST", "/v1/payments/"+id+"/capture", gatewayToken, fmt.Sprintf(`{"request_id":%q}`, uniq("cap")))
			if st != 200 || c["captured_amount"] != 150000.0 {
				t.Errorf("capture of the remainder: %d %v", st, c)
			}
		})
	}
}
