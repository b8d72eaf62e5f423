package e2e

import (
	"fmt"
	"sync"
	"testing"
)

// TestPostgresJournal runs the payment lifecycle and an idempotent replay
// across a restart on the PostgreSQL journal (a fresh schema).
func TestPostgresJournal(t *testing.T) {
	t.Parallel()
	pg := pgJournal(t)
	e := newEnv(t, routesKZTAlfa)
	s := e.startSwitch(pg)
	for _, b := range []*bank{e.alfa, e.sber} {
		declinedP := s.pay(req{ID: uniq("pgd"), Amount: 100051, Currency: bankCurrency[b.name], PAN: "4000000000000010", CVV: "9417"}.json())
		checkOutcome(t, declinedP, declined("insufficient_funds", 5051, "51", ""))
		body := req{ID: uniq("pg"), Type: "preauth", Amount: 200000, Currency: bankCurrency[b.name], PAN: "4000000000000010", CVV: "9417"}.json()
		p := s.pay(body)
		if p["status"] != "approved" || p["bank"] != b.name {
			t.Fatalf("%s preauth: %v", b.name, p)
		}
		id := p["id"].(string)
		st, c := s.call("POST", "/v1/payments/"+id+"/capture", gatewayToken, fmt.Sprintf(`{"request_id":%q,"amount":150000}`, uniq("cap")))
		if st != 200 || c["captured_amount"] != 150000.0 {
			t.Fatalf("%s capture: %d %v", b.name, st, c)
		}
		st, r := s.call("POST", "/v1/payments/"+id+"/refunds", gatewayToken, fmt.Sprintf(`{"request_id":%q,"amount":150000}`, uniq("ref")))
		if st != 200 || r["status"] != "approved" {
			t.Fatalf("%s refund: %d %v", b.name, st, r)
		}
		st, over := s.call("POST", "/v1/payments/"+id+"/refunds", gatewayToken, fmt.Sprintf(`{"request_id":%q,"amount":1}`, uniq("over")))
		if st != 409 || errCode(over) != "invalid_state" {
			t.Fatalf("%s over-refund: %d %v", b.name, st, over)
		}
		// Restart on the same schema: the replay is answered from it.
		s.shutdown()
		sent := len(b.tap.sent("0100", "0200", "0220", "0400", "0420"))
		s = e.startSwitch(pg)
		st, again := s.call("POST", "/v1/payments", gatewayToken, body)
		if st != 200 || again["id"] != id {
			t.Fatalf("%s replay after restart: %d %v", b.name, st, again)
		}
		if n := len(b.tap.sent("0100", "0200", "0220", "0400", "0420")); n != sent {
			t.Errorf("%s: the replay sent %d messages to the bank", b.name, n-sent)
		}
	}
}

// TestTwoSwitchesSharePostgres: two switch processes on one PostgreSQL
// journal take STANs and RRNs from the journal's per-bank sequences, so the
// banks never see one twice.
func TestTwoSwitchesSharePostgres(t *testing.T) {
	t.Parallel()
	pg := pgJournal(t)
	e := newEnv(t, routesKZTAlfa)
	s1, s2 := e.startSwitch(pg), e.startSwitch(pg)
	var wg sync.WaitGroup
	for i := range 12 {
		for _, s := range []*sw{s1, s2} {
			wg.Go(func() {
				cur := []string{"KZT", "USD"}[i%2]
				p := s.pay(req{ID: uniq("two"), Amount: 150000 + int64(i)*100, Currency: cur, PAN: "4000000000000010", CVV: "9417"}.json())
				if p["status"] != "approved" {
					t.Errorf("payment: %v", p)
				}
			})
		}
	}
	wg.Wait()
	for _, b := range []*bank{e.alfa, e.sber} {
		stans, rrns := map[string]int{}, map[string]int{}
		auths := 0
		for _, f := range b.tap.sent() {
			if f.MTI == "" {
				t.Errorf("%s received an undecodable frame", b.name)
				continue
			}
			stans[f.Fields[11]]++
			if f.MTI == "0200" {
				auths++
				rrns[f.Fields[37]]++
			}
		}
		if auths != 12 {
			t.Errorf("%s received %d purchases, want 12", b.name, auths)
		}
		for k, n := range stans {
			if n > 1 {
				t.Errorf("%s: STAN %s used %d times by two switches", b.name, k, n)
			}
		}
		for k, n := range rrns {
			if n > 1 {
				t.Errorf("%s: RRN %s used %d times", b.name, k, n)
			}
		}
	}
}
