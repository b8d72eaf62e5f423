package e2e

import (
	"bytes"
	"sync"
	"testing"
)

// TestIdempotentReplay: a replay answers the same status and body without a
// second bank message (the host's counters and the tap agree); N parallel
// identical requests make one bank message; a different body is 409.
func TestIdempotentReplay(t *testing.T) {
	t.Parallel()
	e := newEnv(t, routesKZTAlfa)
	s := e.startSwitch(journalOpts{})
	for _, b := range []*bank{e.alfa, e.sber} {
		t.Run(b.name, func(t *testing.T) {
			// Sequential replays of an approval and of a decline.
			for _, amount := range []int64{150000, 100051} {
				body := req{ID: uniq("idem"), Amount: amount, Currency: bankCurrency[b.name], PAN: "4000000000000010", CVV: "7351"}.json()
				st1, raw1 := s.do("POST", "/v1/payments", gatewayToken, body)
				before, sentBefore := b.sim.Stats().Received, len(b.tap.sent())
				for range 3 {
					st2, raw2 := s.do("POST", "/v1/payments", gatewayToken, body)
					if st2 != st1 || !bytes.Equal(raw1, raw2) {
						t.Fatalf("replay differs:\n%d %s\n%d %s", st1, raw1, st2, raw2)
					}
				}
				if after := b.sim.Stats().Received; after != before || len(b.tap.sent()) != sentBefore {
					t.Fatalf("a replay reached the bank: host received %d -> %d", before, after)
				}
			}

			// Concurrent identical requests: one bank message, one answer.
			body := req{ID: uniq("par"), Amount: 160000, Currency: bankCurrency[b.name], PAN: "4000000000000028", CVV: "7351"}.json()
			before := len(b.tap.sent("0200"))
			const n = 8
			var wg sync.WaitGroup
			sts := make([]int, n)
			raws := make([][]byte, n)
			for i := range n {
				wg.Go(func() { sts[i], raws[i] = s.do("POST", "/v1/payments", gatewayToken, body) })
			}
			wg.Wait()
			for i := range n {
				if sts[i] != 200 || !bytes.Equal(raws[i], raws[0]) {
					t.Fatalf("parallel answer %d: %d %s vs %s", i, sts[i], raws[i], raws[0])
				}
			}
			if got := len(b.tap.sent("0200")) - before; got != 1 {
				t.Fatalf("%d parallel identical requests sent %d messages to the bank, want 1", n, got)
			}
		})
	}

	t.Run("conflict", func(t *testing.T) {
		id := uniq("conf")
		first := s.pay(req{ID: id, Amount: 150000, PAN: "4000000000000010", CVV: "7351"}.json())
		sent := len(e.alfa.tap.sent())
		for _, changed := range []string{
			req{ID: id, Amount: 150001, PAN: "4000000000000010", CVV: "7351"}.json(),
			req{ID: id, Amount: 150000, PAN: "4000000000000028", CVV: "7351"}.json(),
		} {
			st, c := s.call("POST", "/v1/payments", gatewayToken, changed)
			if st != 409 || errCode(c) != "idempotency_conflict" {
				t.Errorf("changed body: %d %v", st, c)
			}
		}
		// The CVV is not part of the stored body hash (a CVV is not kept,
		// not even keyed-hashed: docs/acceptance.md): a retry that differs
		// only in it is a replay of the stored answer, never a new payment.
		st, again := s.call("POST", "/v1/payments", gatewayToken, req{ID: id, Amount: 150000, PAN: "4000000000000010", CVV: "7361"}.json())
		if st != 200 || again["id"] != first["id"] {
			t.Errorf("CVV-only difference: %d %v", st, again)
		}
		if len(e.alfa.tap.sent()) != sent {
			t.Error("a conflicting request reached the bank")
		}
	})

	t.Run("operations", func(t *testing.T) {
		p := s.pay(req{ID: uniq("opi"), Type: "preauth", Amount: 150000, PAN: "4000000000000010", CVV: "7351"}.json())
		capture := `{"request_id":"` + uniq("cap") + `","amount":100000}`
		st1, raw1 := s.do("POST", "/v1/payments/"+p["id"].(string)+"/capture", gatewayToken, capture)
		n := len(e.alfa.tap.sent("0220"))
		st2, raw2 := s.do("POST", "/v1/payments/"+p["id"].(string)+"/capture", gatewayToken, capture)
		if st1 != 200 || st2 != st1 || !bytes.Equal(raw1, raw2) || len(e.alfa.tap.sent("0220")) != n {
			t.Errorf("capture replay: %d %s / %d %s", st1, raw1, st2, raw2)
		}
	})
}
