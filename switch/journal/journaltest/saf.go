package journaltest

import (
	"testing"
	"time"

	"github.com/acquirer/h2hswitch/switch/journal"
)

func enqueueN(t *testing.T, s journal.Store, p *journal.Payment, n int, next time.Time) []*journal.SAFItem {
	t.Helper()
	var items []*journal.SAFItem
	for i := range n {
		it := &journal.SAFItem{Bank: "alfa", Kind: journal.SAFReversal, PaymentID: p.ID,
			Payload: []byte(`{"mti":"0400","stan":"000123","amount":150000}`), NextAttemptAt: next.Add(time.Duration(i) * time.Millisecond)}
		if err := s.Enqueue(ctxT(t), it); err != nil {
			t.Fatalf("Enqueue: %v", err)
		}
		if it.State != journal.SAFQueued || it.ID[:4] != "saf_" {
			t.Fatalf("enqueued item %+v", it)
		}
		items = append(items, it)
	}
	return items
}

func testSAFLifecycle(t *testing.T, open Opener, _ options) {
	s := open(t)
	ctx := ctxT(t)
	p := newPayment(t, testVault(t), reqID(t, 1), 150000)
	mustCreate(t, s, p, nil)
	past := time.Now().Add(-time.Minute)
	due := enqueueN(t, s, p, 3, past)
	future := enqueueN(t, s, p, 1, time.Now().Add(time.Hour))[0]

	got, err := s.ClaimDue(ctx, "node-a", 2, time.Minute)
	if err != nil {
		t.Fatalf("ClaimDue: %v", err)
	}
	if len(got) != 2 || got[0].ID != due[0].ID || got[1].ID != due[1].ID {
		t.Fatalf("ClaimDue returned %v, want the two most overdue", ids(got))
	}
	for _, it := range got {
		if it.State != journal.SAFInProgress || it.LeaseOwner != "node-a" || it.Attempts != 1 || !it.LeaseUntil.After(time.Now()) ||
			string(it.Payload) != `{"mti":"0400","stan":"000123","amount":150000}` {
			t.Fatalf("claimed item %+v", it)
		}
	}
	rest, err := s.ClaimDue(ctx, "node-a", 10, time.Minute)
	if err != nil || len(rest) != 1 || rest[0].ID != due[2].ID {
		t.Fatalf("second claim: %v %v (the future item must wait)", ids(rest), err)
	}

	// Done, rescheduled, dead.
	if err := s.CompleteSAF(ctx, due[0].ID, "node-a"); err != nil {
		t.Fatalf("CompleteSAF: %v", err)
	}
	wantErr(t, "complete twice", s.CompleteSAF(ctx, due[0].ID, "node-a"), journal.ErrLeaseLost)
	next := time.Now().Add(30 * time.Second).Truncate(time.Microsecond)
	if err := s.RescheduleSAF(ctx, due[1].ID, "node-a", next, "timeout after 30s"); err != nil {
		t.Fatalf("RescheduleSAF: %v", err)
	}
	wantErr(t, "reschedule by a stranger", s.RescheduleSAF(ctx, due[2].ID, "node-b", next, "x"), journal.ErrLeaseLost)
	if err := s.DeadSAF(ctx, due[2].ID, "node-a", "bank answered 30 (format error)"); err != nil {
		t.Fatalf("DeadSAF: %v", err)
	}
	wantErr(t, "complete unknown", s.CompleteSAF(ctx, "saf_unknown", "node-a"), journal.ErrNotFound)

	r, err := s.GetSAF(ctx, due[1].ID)
	if err != nil || r.State != journal.SAFQueued || !r.NextAttemptAt.Equal(next) || r.LastError != "timeout after 30s" ||
		r.LeaseOwner != "" || r.Attempts != 1 {
		t.Fatalf("rescheduled item %+v %v", r, err)
	}
	list, err := s.ListSAF(ctx, journal.SAFFilter{})
	if err != nil {
		t.Fatal(err)
	}
	// Default listing: everything not done, by next attempt.
	if len(list) != 3 || list[0].ID != due[2].ID || list[1].ID != due[1].ID || list[2].ID != future.ID {
		t.Fatalf("ListSAF: %v", ids(list))
	}
	doneList, err := s.ListSAF(ctx, journal.SAFFilter{States: []journal.SAFState{journal.SAFDone}, Bank: "alfa", PaymentID: p.ID})
	if err != nil || len(doneList) != 1 || doneList[0].ID != due[0].ID {
		t.Fatalf("ListSAF done: %v %v", ids(doneList), err)
	}

	// Operator retry makes queued and dead items due now.
	if err := s.MakeDue(ctx, future.ID); err != nil {
		t.Fatalf("MakeDue: %v", err)
	}
	if err := s.MakeDue(ctx, due[2].ID); err != nil {
		t.Fatalf("MakeDue dead: %v", err)
	}
	wantErr(t, "MakeDue done", s.MakeDue(ctx, due[0].ID), journal.ErrInvalidState)
	wantErr(t, "MakeDue unknown", s.MakeDue(ctx, "saf_nope"), journal.ErrNotFound)
	got, err = s.ClaimDue(ctx, "node-a", 10, time.Minute)
	if err != nil || len(got) != 2 {
		t.Fatalf("claim after MakeDue: %v %v", ids(got), err)
	}
	seen := map[string]int{}
	for _, it := range got {
		seen[it.ID] = it.Attempts
	}
	if seen[future.ID] != 1 || seen[due[2].ID] != 2 {
		t.Fatalf("claimed after MakeDue with attempts %v", seen)
	}
	wantErr(t, "MakeDue in progress", s.MakeDue(ctx, future.ID), journal.ErrInvalidState)
	if err := s.ExtendLease(ctx, future.ID, "node-a", time.Hour); err != nil {
		t.Fatalf("ExtendLease: %v", err)
	}
	ext, err := s.GetSAF(ctx, future.ID)
	if err != nil || ext.LeaseUntil.Before(time.Now().Add(50*time.Minute)) {
		t.Fatalf("extended lease %v %v", ext.LeaseUntil, err)
	}
	_, err = s.ClaimDue(ctx, "", 1, time.Minute)
	wantErr(t, "claim without owner", err, journal.ErrInvalid)
}

// testSAFLeaseTakeover: two processes; a live lease is never taken, an
// expired one is, and the old owner can then no longer finish the item.
func testSAFLeaseTakeover(t *testing.T, open Opener, _ options) {
	a, b := open(t), open(t)
	ctx := ctxT(t)
	p := newPayment(t, testVault(t), reqID(t, 1), 150000)
	mustCreate(t, a, p, nil)
	items := enqueueN(t, a, p, 2, time.Now().Add(-time.Second))

	short, err := a.ClaimDue(ctx, "node-a", 1, 150*time.Millisecond)
	if err != nil || len(short) != 1 || short[0].ID != items[0].ID {
		t.Fatalf("node-a short claim: %v %v", ids(short), err)
	}
	long, err := a.ClaimDue(ctx, "node-a", 1, time.Hour)
	if err != nil || len(long) != 1 || long[0].ID != items[1].ID {
		t.Fatalf("node-a long claim: %v %v", ids(long), err)
	}
	none, err := b.ClaimDue(ctx, "node-b", 10, time.Minute)
	if err != nil || len(none) != 0 {
		t.Fatalf("node-b took live leases: %v %v", ids(none), err)
	}
	time.Sleep(250 * time.Millisecond)
	taken, err := b.ClaimDue(ctx, "node-b", 10, time.Minute)
	if err != nil || len(taken) != 1 || taken[0].ID != items[0].ID || taken[0].LeaseOwner != "node-b" || taken[0].Attempts != 2 {
		t.Fatalf("node-b takeover of the expired lease: %+v %v", taken, err)
	}
	wantErr(t, "old owner completes", a.CompleteSAF(ctx, items[0].ID, "node-a"), journal.ErrLeaseLost)
	if err := b.CompleteSAF(ctx, items[0].ID, "node-b"); err != nil {
		t.Fatalf("new owner completes: %v", err)
	}
	if err := a.CompleteSAF(ctx, items[1].ID, "node-a"); err != nil {
		t.Fatalf("node-a completes its live lease: %v", err)
	}
}

// testSAFEnqueueWithOperation: recording a timeout and enqueueing its
// reversal is one transaction.
func testSAFEnqueueWithOperation(t *testing.T, open Opener, _ options) {
	s := open(t)
	ctx := ctxT(t)
	p := newPayment(t, testVault(t), reqID(t, 1), 150000)
	auth := authOp(150000)
	mustCreate(t, s, p, auth)
	auth.Status, auth.LastError = journal.OpTimeout, "no answer in 30s"
	p.Status, p.Reason = journal.PaymentDeclined, "issuer_unavailable"
	rev := &journal.Operation{ID: journal.NewID(journal.PrefixOperation), PaymentID: p.ID, Kind: journal.OpReversal, RefOperationID: auth.ID, Bank: "alfa", MTI: "0400",
		Amount: 150000, Currency: "KZT", Status: journal.OpQueued}
	item := &journal.SAFItem{Bank: "alfa", Kind: journal.SAFReversal, PaymentID: p.ID, OperationID: rev.ID,
		Payload: []byte(`{"pan":"` + testPAN + `","amount":150000}`)}
	err := s.Write(ctx, journal.SaveOperation(auth), journal.SavePayment(p), journal.InsertOperation(rev), journal.EnqueueSAF(item))
	if err != nil {
		t.Fatalf("timeout + enqueue: %v", err)
	}
	got, err := s.GetSAF(ctx, item.ID)
	if err != nil || got.OperationID != rev.ID {
		t.Fatalf("SAF item %+v %v", got, err)
	}
	// The payload must never carry a clear PAN (the engine's bug, caught).
	if string(got.Payload) != `{"pan":"400000******0010","amount":150000}` {
		t.Fatalf("payload stored as %s", got.Payload)
	}
	op, err := s.GetOperation(ctx, auth.ID)
	if err != nil || op.Status != journal.OpTimeout {
		t.Fatalf("timed-out authorization %+v %v", op, err)
	}
	claimed, err := s.ClaimDue(ctx, "node-a", 10, time.Minute)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %v %v", ids(claimed), err)
	}
	// The bank's acknowledgement and the item's completion go together.
	rev.Status, rev.ResponseCode = journal.OpAcknowledged, "00"
	if err := s.Write(ctx, journal.SaveOperation(rev), journal.FinishSAF(item.ID, "node-a")); err != nil {
		t.Fatalf("ack + finish: %v", err)
	}
	got, err = s.GetSAF(ctx, item.ID)
	if err != nil || got.State != journal.SAFDone {
		t.Fatalf("after ack: %+v %v", got, err)
	}
}

func ids(items []*journal.SAFItem) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	return out
}
