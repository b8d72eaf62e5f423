package engine

import (
	"io"
	"net"
	"sync"
	"testing"

	"github.com/acquirer/h2hswitch/specs"
	"github.com/acquirer/h2hswitch/switch/journal"
)

// seen is what the proxy found in the journal when a request reached it.
type seen struct {
	mti, stan string
	status    journal.OpStatus // "" when no operation with that STAN existed
}

// journalCheckingProxy is a TCP proxy between Bank A's link and its
// simulator. For every request it receives it looks the STAN up in the
// journal BEFORE forwarding it: the write-ahead rule says the operation is
// already durable then.
type journalCheckingProxy struct {
	mu   sync.Mutex
	seen []seen
}

func (p *journalCheckingProxy) start(t *testing.T, h *harness, target string) string {
	t.Helper()
	d := mustDialect(t, specs.DialectASCII)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				_ = c.Close()
				continue
			}
			go func() { _, _ = io.Copy(c, up); _ = c.Close() }()
			go func() {
				defer up.Close()
				for {
					frame, err := d.Framing.ReadMessage(c)
					if err != nil {
						return
					}
					if msg, err := d.Unpack(frame); err == nil {
						mti, _ := msg.GetMTI()
						stan, _ := msg.GetString(11)
						if mti != "0800" {
							p.record(h, mti, stan)
						}
					}
					if err := d.Framing.WriteMessage(up, frame); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func (p *journalCheckingProxy) record(h *harness, mti, stan string) {
	s := seen{mti: mti, stan: stan}
	ops, err := h.store.ListOperationsByStatus(h.ctx, []journal.OpStatus{journal.OpPending, journal.OpQueued, journal.OpSent}, h.eng.now(), 0)
	if err == nil {
		for _, op := range ops {
			if op.Bank == "alfa" && op.STAN == stan {
				s.status = op.Status
			}
		}
	}
	p.mu.Lock()
	p.seen = append(p.seen, s)
	p.mu.Unlock()
}

func TestJournalWrittenBeforeSend(t *testing.T) {
	proxy := &journalCheckingProxy{}
	h := newHarness(t, harnessOpts{addrA: func(h *harness, sim string) string { return proxy.start(t, h, sim) }})
	p := h.authorize(purchaseInput("wa-1", TypePreauth, 70000, "4000000000000010"))
	if p.Status != journal.PaymentApproved {
		t.Fatalf("preauth %s", p.Status)
	}
	if _, err := h.eng.Capture(h.ctx, OperationInput{PaymentID: p.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.eng.Refund(h.ctx, OperationInput{PaymentID: p.ID, Amount: i64(1000)}); err != nil {
		t.Fatal(err)
	}
	p2 := h.authorize(purchaseInput("wa-2", TypePurchase, 5000, "4000000000000010"))
	if _, err := h.eng.Void(h.ctx, OperationInput{PaymentID: p2.ID}); err != nil {
		t.Fatal(err)
	}
	proxy.mu.Lock()
	defer proxy.mu.Unlock()
	want := []struct {
		mti    string
		status journal.OpStatus
	}{
		{"0100", journal.OpPending}, {"0220", journal.OpQueued}, {"0200", journal.OpPending},
		{"0200", journal.OpPending}, {"0400", journal.OpQueued},
	}
	if len(proxy.seen) != len(want) {
		t.Fatalf("proxy saw %d requests: %+v", len(proxy.seen), proxy.seen)
	}
	for i, w := range want {
		if got := proxy.seen[i]; got.mti != w.mti || got.status != w.status {
			t.Errorf("request %d: %s with journal status %q, want %s with %q", i, got.mti, got.status, w.mti, w.status)
		}
	}
}

// Routing order with an unusable first bank: the payment goes to the next
// one; with no usable bank it is declined issuer_unavailable, and nothing
// is sent.
func TestFailoverToUsableBank(t *testing.T) {
	h := newHarness(t, harnessOpts{deadA: true})
	p := h.authorize(purchaseInput("fo-1", TypePurchase, 12300, "4000000000000010"))
	if p.Status != journal.PaymentApproved || p.Bank != "sber" || p.Route != "default" {
		t.Fatalf("payment %s at %s via %s", p.Status, p.Bank, p.Route)
	}
	only := newHarness(t, harnessOpts{deadA: true, routes: "version: 1\nrules:\n  - name: alfa-only\n    banks: [alfa]\n"})
	p = only.authorize(purchaseInput("fo-2", TypePurchase, 12300, "4000000000000010"))
	if p.Status != journal.PaymentDeclined || p.Reason != "issuer_unavailable" || p.Route != "alfa-only" || len(p.Operations) != 0 {
		t.Fatalf("payment %s %s via %s, ops %d", p.Status, p.Reason, p.Route, len(p.Operations))
	}
}
