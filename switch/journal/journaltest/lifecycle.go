package journaltest

import (
	"context"
	"errors"
	"testing"

	"github.com/acquirer/h2hswitch/switch/journal"
)

func testReopen(t *testing.T, open Opener, _ options) {
	ctx := ctxT(t)
	v := testVault(t)
	s := open(t)
	p := newPayment(t, v, reqID(t, 1), 4200)
	auth := authOp(4200)
	mustCreate(t, s, p, auth)
	if _, err := s.BeginIdempotency(ctx, journal.IdempotencyBegin{Client: "gw", RequestID: p.RequestID, BodyHash: "h1"}); err != nil {
		t.Fatal(err)
	}
	seq, err := s.ReserveSequence(ctx, "stan:alfa", 5)
	if err != nil {
		t.Fatal(err)
	}
	it := &journal.SAFItem{Bank: "alfa", Kind: journal.SAFCompletion, PaymentID: p.ID, Payload: []byte("{}")}
	if err := s.Enqueue(ctx, it); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// Two restarts: migrations must be idempotent.
	for round := range 2 {
		s = open(t)
		if err := s.Ping(ctx); err != nil {
			t.Fatalf("round %d Ping: %v", round, err)
		}
		got, err := s.GetPayment(ctx, p.ID)
		if err != nil || got.Amount != 4200 {
			t.Fatalf("round %d payment: %v", round, err)
		}
		ops, err := s.ListOperations(ctx, p.ID)
		if err != nil || len(ops) != 1 || ops[0].ID != auth.ID {
			t.Fatalf("round %d operations: %v", round, err)
		}
		res, err := s.BeginIdempotency(ctx, journal.IdempotencyBegin{Client: "gw", RequestID: p.RequestID, BodyHash: "h1"})
		if err != nil || res.Outcome != journal.IdemInProgress {
			t.Fatalf("round %d idempotency key: %v %v", round, res.Outcome, err)
		}
		n, err := s.NextSequence(ctx, "stan:alfa")
		if err != nil || n != seq+5+int64(round) {
			t.Fatalf("round %d sequence continued at %d, want %d", round, n, seq+5+int64(round))
		}
		if _, err := s.GetSAF(ctx, it.ID); err != nil {
			t.Fatalf("round %d SAF item: %v", round, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func testClosed(t *testing.T, open Opener, _ options) {
	s := open(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := s.NextSequence(ctxT(t), "x")
	wantErr(t, "write after Close", err, journal.ErrClosed)

	s = open(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.NextSequence(ctx, "x"); !errors.Is(err, context.Canceled) {
		t.Fatalf("write with a cancelled context: %v", err)
	}
	// A cancelled write was not applied.
	n, err := s.NextSequence(ctxT(t), "x")
	if err != nil || n != 1 {
		t.Fatalf("sequence after a cancelled write: %d %v", n, err)
	}
}

// testNoCardDataAtRest runs a full payment life and scans the raw database.
func testNoCardDataAtRest(t *testing.T, open Opener, o options) {
	s := open(t)
	ctx := ctxT(t)
	v := testVault(t)
	p := newPayment(t, v, reqID(t, 1), 150000)
	auth := authOp(150000)
	mustCreate(t, s, p, auth)
	for _, m := range []*journal.Message{
		{PaymentID: p.ID, OperationID: auth.ID, Bank: "alfa", Direction: journal.DirOut, MTI: "0100",
			Fields: map[string]string{"2": testPAN, "14": testExpiry, "48": bankADE48(), "126": bankBDE126()}},
		{PaymentID: p.ID, OperationID: auth.ID, Bank: "alfa", Direction: journal.DirIn, MTI: "0110",
			Fields: map[string]string{"2": testPAN, "39": "00"}},
	} {
		if err := s.LogMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	auth.Status, auth.LastError = journal.OpApproved, "debug: card "+testPAN
	p.Status, p.Reason = journal.PaymentApproved, "approved"
	if err := s.Write(ctx, journal.SaveOperation(auth), journal.SavePayment(p)); err != nil {
		t.Fatal(err)
	}
	if err := s.Enqueue(ctx, &journal.SAFItem{Bank: "alfa", Kind: journal.SAFCompletion, PaymentID: p.ID,
		Payload: []byte(`{"de2":"` + testPAN + `"}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.BeginIdempotency(ctx, journal.IdempotencyBegin{Client: "gw", RequestID: p.RequestID, BodyHash: "h",
		Path: "/v1/payments?pan=" + testPAN}); err != nil {
		t.Fatal(err)
	}
	assertNoCardData(t, o, testPAN)
}
