package engine

import (
	"testing"
	"time"

	"github.com/acquirer/h2hswitch/simulators/ledger"
	"github.com/acquirer/h2hswitch/switch/journal"
	"github.com/acquirer/h2hswitch/switch/journal/cardvault"
)

// A crash after the write-ahead record and the send, before the answer was
// recorded: Recover declines the payment and queues its reversal, and the
// SAF worker reverses the approval the host holds.
func TestRecoverPendingAuthorization(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	const pan = "4000000000000010"
	in := purchaseInput("crash", TypePurchase, 7000, pan)
	b, _ := h.eng.bank("alfa")

	// What Authorize does up to the send (the "crashed" process).
	id, _ := h.eng.newID(journal.PrefixPayment)
	keyID, ct, err := h.vault.Seal(id, pan, "2812")
	if err != nil {
		t.Fatal(err)
	}
	p := &journal.Payment{ID: id, Client: in.Client, RequestID: in.RequestID, Type: journal.TypePurchase, Status: journal.PaymentPending,
		Amount: in.Amount, Currency: "KZT", Merchant: in.Merchant, Route: "default",
		Card: journal.Card{MaskedPAN: cardvault.MaskPAN(pan), Brand: "visa", PANHash: h.vault.Hash(pan), KeyID: keyID, Ciphertext: ct, Source: "keyed"}}
	a := &authAttempt{e: h.eng, in: &in, p: p, pan: pan, expiry: "2812", src: "keyed", ccyNumeric: "398"}
	stan, err := b.Link.NextSTAN(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	rrn, err := h.eng.nextRRN(h.ctx, b, now)
	if err != nil {
		t.Fatal(err)
	}
	req := a.request(b, stan, rrn, now)
	msg, mti, err := encode(b, req)
	if err != nil {
		t.Fatal(err)
	}
	p.Bank, p.AcquirerID, p.STAN, p.RRN, p.TransmissionTime, p.LocalTime = b.Name, b.AcquirerID, stan, rrn, req.TransmissionTime, req.LocalTime
	op := &journal.Operation{PaymentID: id, Kind: journal.OpAuthorization, Bank: b.Name, MTI: mti, STAN: stan, RRN: rrn,
		TransmissionTime: req.TransmissionTime, LocalTime: req.LocalTime, Amount: in.Amount, Currency: "KZT", Status: journal.OpPending}
	op.ID, _ = h.eng.newID(journal.PrefixOperation)
	if err := a.journalAttempt(h.ctx, op); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Link.Send(h.ctx, msg); err != nil { // approved at the host; the answer is "lost"
		t.Fatal(err)
	}
	if txn, ok := h.simA.Ledger().ByRRN(rrn); !ok || txn.State == ledger.StateReversed {
		t.Fatalf("host should hold the approval: %+v", txn)
	}

	// Too young: an in-flight request is left alone.
	if n, err := h.eng.Recover(h.ctx, time.Hour); err != nil || n != 0 {
		t.Fatalf("Recover(young) = %d, %v", n, err)
	}
	time.Sleep(20 * time.Millisecond)
	n, err := h.eng.Recover(h.ctx, 10*time.Millisecond)
	if err != nil || n != 1 {
		t.Fatalf("Recover = %d, %v", n, err)
	}
	got, err := h.eng.Get(h.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != journal.PaymentDeclined || got.Reason != "issuer_unavailable" {
		t.Fatalf("recovered payment %s %s", got.Status, got.Reason)
	}
	if revs := h.op(id, journal.OpReversal); len(revs) != 1 || revs[0].Status != journal.OpQueued {
		t.Fatalf("reversal %+v", revs)
	}
	if n, err := h.eng.ProcessSAF(h.ctx, 10); err != nil || n != 1 {
		t.Fatalf("ProcessSAF = %d, %v", n, err)
	}
	if txn, _ := h.simA.Ledger().ByRRN(rrn); txn.State != ledger.StateReversed {
		t.Fatalf("host state %s", txn.State)
	}
	// Nothing left to recover.
	if n, err := h.eng.Recover(h.ctx, 10*time.Millisecond); err != nil || n != 0 {
		t.Fatalf("second Recover = %d, %v", n, err)
	}
}
