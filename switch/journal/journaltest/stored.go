package journaltest

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/acquirer/h2hswitch/switch/journal"
)

// testStoredMatchesReadBack: StoredPayment / StoredOperation (what the
// engine answers with instead of reading a payment back after writing it)
// equal what the store returns, including text the journal masks or
// repairs and times it rounds; and a new idempotency key's record equals the
// stored row although Begin no longer reads it back.
func testStoredMatchesReadBack(t *testing.T, open Opener, _ options) {
	s := open(t)
	ctx := ctxT(t)
	v := testVault(t)
	almaty := time.FixedZone("ALMT", 5*3600)

	p := newPayment(t, v, "stored-1", 5000)
	p.Description = "refund for 4000000000000010 \xff broken\x00nul " + strings.Repeat("long ", 200)
	p.OrderID = "INV-\x00-1"
	p.TransmissionTime = time.Date(2026, 11, 27, 1, 2, 3, 456789123, time.UTC)
	p.LocalTime = p.TransmissionTime.In(almaty)
	op := authOp(5000)
	op.PaymentID = p.ID
	op.LastError = "card 4000000000000010 bad \xfe"
	op.TransmissionTime, op.LocalTime = p.TransmissionTime, p.LocalTime
	op.CreatedAt = time.Date(2026, 11, 27, 1, 2, 3, 999, almaty)
	if err := s.Write(ctx, journal.InsertPayment(p), journal.InsertOperation(op)); err != nil {
		t.Fatalf("writing payment: %v", err)
	}
	compare := func(stage string) {
		t.Helper()
		got, err := s.GetPayment(ctx, p.ID)
		if err != nil {
			t.Fatalf("%s: GetPayment: %v", stage, err)
		}
		if want := journal.StoredPayment(p); !reflect.DeepEqual(want, got) {
			t.Errorf("%s: StoredPayment differs from the read-back:\nwant %+v\ngot  %+v", stage, want, got)
		}
		gotOp, err := s.GetOperation(ctx, op.ID)
		if err != nil {
			t.Fatalf("%s: GetOperation: %v", stage, err)
		}
		if want := journal.StoredOperation(op); !reflect.DeepEqual(want, gotOp) {
			t.Errorf("%s: StoredOperation differs from the read-back:\nwant %+v\ngot  %+v", stage, want, gotOp)
		}
	}
	compare("after insert")
	if strings.Contains(journal.StoredPayment(p).Description, "4000000000000010") {
		t.Fatal("StoredPayment kept a full PAN in the description")
	}

	p.Status, p.AuthCode, p.ResponseCode, p.Reason = journal.PaymentApproved, "A1B2C3", "00", "approved \x00"
	p.NetworkTransactionID = "NTI-1"
	op.Status, op.AuthCode, op.ResponseCode, op.LatencyMS = journal.OpApproved, "A1B2C3", "00", 42
	op.NextAttemptAt = time.Date(2026, 11, 27, 2, 0, 0, 1, almaty)
	if err := s.Write(ctx, journal.SavePayment(p), journal.SaveOperation(op)); err != nil {
		t.Fatalf("saving payment: %v", err)
	}
	compare("after save")

	k := journal.IdempotencyBegin{Client: "gw", RequestID: "stored-1", BodyHash: journal.BodyHash([]byte(`{"x":1}`)),
		Method: "POST", Path: "/v1/payments/4000000000000010"}
	res, err := s.BeginIdempotency(ctx, k)
	if err != nil || res.Outcome != journal.IdemNew {
		t.Fatalf("BeginIdempotency: %v %v", res.Outcome, err)
	}
	rec, err := s.GetIdempotency(ctx, k.Client, k.RequestID)
	if err != nil {
		t.Fatalf("GetIdempotency: %v", err)
	}
	if !reflect.DeepEqual(res.Record, *rec) {
		t.Errorf("new key's record differs from the stored row:\nbegin %+v\nread  %+v", res.Record, *rec)
	}
}

// testMessagesInOneWrite: a message log entry written in the same Write as
// its payment and operation (as the engine does for the write-ahead record)
// commits or fails with them; CheckMessage refuses what AppendMessage
// refuses, before anything is written.
func testMessagesInOneWrite(t *testing.T, open Opener, _ options) {
	s := open(t)
	ctx := ctxT(t)
	v := testVault(t)
	p := newPayment(t, v, "msg-1", 100)
	op := authOp(100)
	op.PaymentID = p.ID
	m := &journal.Message{PaymentID: p.ID, Bank: "alfa", Direction: journal.DirOut, MTI: "0100", STAN: "000001",
		Fields: map[string]string{"0": "0100", "2": "4000000000000010", "11": "000001"}}
	if err := journal.CheckMessage(m); err != nil {
		t.Fatalf("CheckMessage of a valid message: %v", err)
	}
	m.OperationID = op.ID // set by InsertOperation's id assignment below
	if err := s.Write(ctx, journal.InsertPayment(p), journal.InsertOperation(op), journal.AppendMessage(m)); err != nil {
		t.Fatalf("write-ahead with its message: %v", err)
	}
	msgs, err := s.ListMessages(ctx, p.ID)
	if err != nil || len(msgs) != 1 || msgs[0].Fields["2"] == "4000000000000010" || msgs[0].ID != m.ID {
		t.Fatalf("ListMessages: %+v %v", msgs, err)
	}

	bad := &journal.Message{PaymentID: p.ID, Bank: "alfa", Direction: journal.DirIn, MTI: "01x0"}
	if journal.CheckMessage(bad) == nil {
		t.Fatal("CheckMessage accepted MTI 01x0")
	}
	if journal.CheckMessage(&journal.Message{PaymentID: p.ID, Direction: "sideways", MTI: "0110"}) == nil {
		t.Fatal("CheckMessage accepted an unknown direction")
	}
	p2 := newPayment(t, v, "msg-2", 100)
	if err := s.Write(ctx, journal.InsertPayment(p2), journal.AppendMessage(bad)); err == nil {
		t.Fatal("Write with a malformed message succeeded")
	}
	if _, err := s.GetPayment(ctx, p2.ID); err == nil {
		t.Fatal("the payment of a refused write was stored")
	}
}

// testSaveIndexedColumns: SavePayment / SaveOperation store a changed bank,
// STAN or RRN (failover, a STAN allocated at the first attempt) as well as
// an unchanged one, keep the bank/RRN and bank/STAN look-ups right, and
// still refuse a stale version whether or not those columns changed.
func testSaveIndexedColumns(t *testing.T, open Opener, _ options) {
	s := open(t)
	ctx := ctxT(t)
	v := testVault(t)
	p := newPayment(t, v, "idx-1", 700)
	p.STAN, p.RRN = "000101", "633100000101"
	op := authOp(700)
	op.PaymentID, op.STAN, op.RRN = p.ID, "000101", "633100000101"
	if err := s.Write(ctx, journal.InsertPayment(p), journal.InsertOperation(op)); err != nil {
		t.Fatal(err)
	}
	stale, staleOp := *p, *op

	// Unchanged indexed columns.
	p.Status, op.Status = journal.PaymentApproved, journal.OpApproved
	if err := s.Write(ctx, journal.SavePayment(p), journal.SaveOperation(op)); err != nil {
		t.Fatalf("save with unchanged bank/STAN/RRN: %v", err)
	}
	// Changed ones: another bank, STAN and RRN.
	p.Bank, p.STAN, p.RRN = "sber", "000202", "633100000202"
	op.Bank, op.STAN, op.RRN = "sber", "000202", "633100000202"
	if err := s.Write(ctx, journal.SavePayment(p), journal.SaveOperation(op)); err != nil {
		t.Fatalf("save with changed bank/STAN/RRN: %v", err)
	}
	got, err := s.GetPayment(ctx, p.ID)
	if err != nil || got.Bank != "sber" || got.RRN != "633100000202" || got.STAN != "000202" || got.Status != journal.PaymentApproved || got.Version != 3 {
		t.Fatalf("payment after saves: %+v %v", got, err)
	}
	ops, err := s.FindOperationsBySTAN(ctx, "sber", "000202", 10)
	if err != nil || len(ops) != 1 || ops[0].ID != op.ID || ops[0].RRN != "633100000202" || ops[0].Version != 3 {
		t.Fatalf("look-up by the new bank and STAN: %+v %v", ops, err)
	}
	if old, err := s.FindOperationsBySTAN(ctx, "alfa", "000101", 10); err != nil || len(old) != 0 {
		t.Fatalf("look-up by the old bank and STAN still finds %d operations (%v)", len(old), err)
	}
	// Stale versions are refused, with the indexed columns as stored
	// (narrow statement) and as changed (full statement).
	stale.Status, staleOp.Status = journal.PaymentDeclined, journal.OpDeclined
	for _, c := range []struct {
		name string
		m    journal.Mutation
	}{
		{"payment, old bank", journal.SavePayment(&stale)},
		{"operation, old bank", journal.SaveOperation(&staleOp)},
	} {
		if err := s.Write(ctx, c.m); !errors.Is(err, journal.ErrVersionConflict) {
			t.Errorf("%s: stale save gave %v, want a version conflict", c.name, err)
		}
	}
	stale2, staleOp2 := *got, *ops[0]
	stale2.Version, staleOp2.Version = 2, 2
	if err := s.Write(ctx, journal.SavePayment(&stale2)); !errors.Is(err, journal.ErrVersionConflict) {
		t.Errorf("stale payment with the stored bank/RRN: %v, want a version conflict", err)
	}
	if err := s.Write(ctx, journal.SaveOperation(&staleOp2)); !errors.Is(err, journal.ErrVersionConflict) {
		t.Errorf("stale operation with the stored bank/STAN/RRN: %v, want a version conflict", err)
	}
}
