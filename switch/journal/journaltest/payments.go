package journaltest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/acquirer/h2hswitch/switch/journal"
)

func testPaymentCRUD(t *testing.T, open Opener, _ options) {
	s := open(t)
	ctx := ctxT(t)
	v := testVault(t)
	p := newPayment(t, v, reqID(t, 1), 150000)
	p.TransmissionTime = time.Date(2026, 11, 27, 5, 15, 0, 0, time.UTC)
	op := authOp(150000)
	mustCreate(t, s, p, op)
	if p.Version != 1 || p.CreatedAt.IsZero() || op.PaymentID != p.ID || op.Version != 1 {
		t.Fatalf("after create: version %d created %v op payment %q op version %d", p.Version, p.CreatedAt, op.PaymentID, op.Version)
	}
	got, err := s.GetPayment(ctx, p.ID)
	if err != nil {
		t.Fatalf("GetPayment: %v", err)
	}
	if got.Amount != 150000 || got.Merchant != p.Merchant || got.Card.MaskedPAN != "400000******0010" ||
		got.Card.Brand != "visa" || got.Card.PANHash != p.Card.PANHash || got.Status != journal.PaymentPending ||
		!got.TransmissionTime.Equal(p.TransmissionTime) || got.Version != 1 || got.OrderID != "INV-1001" {
		t.Fatalf("GetPayment returned %+v", got)
	}
	byReq, err := s.GetPaymentByRequestID(ctx, "gw", p.RequestID)
	if err != nil || byReq.ID != p.ID {
		t.Fatalf("GetPaymentByRequestID: %v %v", byReq, err)
	}
	_, err = s.GetPayment(ctx, "pay_unknown")
	wantErr(t, "GetPayment unknown", err, journal.ErrNotFound)

	// The same (client, request_id) cannot create a second payment.
	dup := newPayment(t, v, p.RequestID, 1000)
	wantErr(t, "duplicate request_id", s.CreatePayment(ctx, dup, nil), journal.ErrDuplicate)

	// Approve, with optimistic locking.
	stale := *got
	got.Status, got.AuthCode, got.ResponseCode, got.RRN, got.STAN = journal.PaymentApproved, "A1B2C3", "00", "633100000123", "000123"
	got.NetworkTransactionID = "123456789012345"
	if err := s.UpdatePayment(ctx, got); err != nil {
		t.Fatalf("UpdatePayment: %v", err)
	}
	if got.Version != 2 {
		t.Fatalf("version after update %d, want 2", got.Version)
	}
	stale.Status = journal.PaymentDeclined
	wantErr(t, "stale update", s.UpdatePayment(ctx, &stale), journal.ErrVersionConflict)
	ghost := *got
	ghost.ID = "pay_01JDX3M0Q2K7V8F4T5Z6A1B2C3"
	wantErr(t, "update unknown", s.UpdatePayment(ctx, &ghost), journal.ErrNotFound)

	again, err := s.GetPayment(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if again.Status != journal.PaymentApproved || again.AuthCode != "A1B2C3" || again.Version != 2 ||
		again.NetworkTransactionID != "123456789012345" || again.RRN != "633100000123" {
		t.Fatalf("after update: %+v", again)
	}

	// Invalid records are refused before they reach the database.
	bad := newPayment(t, v, reqID(t, 2), 0)
	wantErr(t, "zero amount", s.CreatePayment(ctx, bad, nil), journal.ErrInvalid)
	clearPAN := newPayment(t, v, reqID(t, 3), 100)
	clearPAN.Card.MaskedPAN = testPAN
	wantErr(t, "clear PAN as mask", s.CreatePayment(ctx, clearPAN, nil), journal.ErrInvalid)
	unsealed := newPayment(t, v, reqID(t, 4), 100)
	unsealed.Card.Ciphertext = nil
	wantErr(t, "unsealed card", s.CreatePayment(ctx, unsealed, nil), journal.ErrInvalid)

	// A PAN typed into free text is masked.
	leaky := newPayment(t, v, reqID(t, 5), 700)
	leaky.Description = "card " + testPAN2 + " please"
	mustCreate(t, s, leaky, nil)
	lk, err := s.GetPayment(ctx, leaky.ID)
	if err != nil {
		t.Fatal(err)
	}
	if lk.Description != "card 510000******0008 please" {
		t.Fatalf("description stored as %q", lk.Description)
	}

	// Listing and per-card activity.
	declined := newPayment(t, v, reqID(t, 6), 999)
	declined.Status = journal.PaymentDeclined
	mustCreate(t, s, declined, nil)
	voided := newPayment(t, v, reqID(t, 7), 888)
	voided.Status, voided.VoidedAmount = journal.PaymentVoided, 888
	mustCreate(t, s, voided, nil)
	list, err := s.ListPayments(ctx, journal.PaymentFilter{Client: "gw", PANHash: p.Card.PANHash})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 4 {
		t.Fatalf("ListPayments by card: %d payments, want 4", len(list))
	}
	for i := 1; i < len(list); i++ {
		if list[i-1].ID >= list[i].ID {
			t.Fatal("ListPayments not in id order")
		}
	}
	page, err := s.ListPayments(ctx, journal.PaymentFilter{PANHash: p.Card.PANHash, AfterID: list[0].ID, Limit: 1})
	if err != nil || len(page) != 1 || page[0].ID != list[1].ID {
		t.Fatalf("ListPayments page: %v %v", page, err)
	}
	byRRN, err := s.ListPayments(ctx, journal.PaymentFilter{Bank: "alfa", RRN: "633100000123"})
	if err != nil || len(byRRN) != 1 || byRRN[0].ID != p.ID {
		t.Fatalf("ListPayments by RRN: %v %v", byRRN, err)
	}
	// A bank answering bytes that are not text must not make the outcome
	// unrecordable.
	again.AuthCode, again.BankResponseCode = "A1\xffC\x00", "0\x00"
	if err := s.UpdatePayment(ctx, again); err != nil {
		t.Fatalf("UpdatePayment with binary garbage from the bank: %v", err)
	}
	garbled, err := s.GetPayment(ctx, p.ID)
	if err != nil || garbled.AuthCode != "A1\uFFFDC\uFFFD" || garbled.BankResponseCode != "0\uFFFD" {
		t.Fatalf("garbage stored as %q %q (%v)", garbled.AuthCode, garbled.BankResponseCode, err)
	}
	act, err := s.CardActivity(ctx, p.Card.PANHash, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if act.Count != 2 || act.Amount != 150000+700 {
		t.Fatalf("CardActivity = %+v, want 2 payments of 150700", act)
	}
}

func testOperations(t *testing.T, open Opener, _ options) {
	s := open(t)
	ctx := ctxT(t)
	v := testVault(t)
	p := newPayment(t, v, reqID(t, 1), 150000)
	auth := authOp(150000)
	mustCreate(t, s, p, auth)

	auth.Status, auth.STAN, auth.RRN, auth.ResponseCode, auth.LatencyMS = journal.OpApproved, "000123", "633100000123", "00", 84
	auth.TransmissionTime = time.Date(2026, 11, 27, 5, 15, 0, 0, time.UTC)
	if err := s.UpdateOperation(ctx, auth); err != nil {
		t.Fatalf("UpdateOperation: %v", err)
	}
	capture := &journal.Operation{PaymentID: p.ID, Kind: journal.OpCapture, RequestID: "cap-1", RefOperationID: auth.ID,
		Bank: "alfa", MTI: "0220", Amount: 120000, Currency: "KZT", Status: journal.OpPending}
	if err := s.AddOperation(ctx, capture); err != nil {
		t.Fatalf("AddOperation: %v", err)
	}
	refund := &journal.Operation{PaymentID: p.ID, Kind: journal.OpRefund, RequestID: "ref-1", Bank: "alfa", MTI: "0200",
		Amount: 50000, Currency: "KZT", Status: journal.OpSent}
	if err := s.AddOperation(ctx, refund); err != nil {
		t.Fatalf("AddOperation refund: %v", err)
	}
	if len(refund.ID) != len("ref_")+26 || refund.ID[:4] != "ref_" || capture.ID[:3] != "op_" {
		t.Fatalf("operation ids %q %q", capture.ID, refund.ID)
	}
	ops, err := s.ListOperations(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != 3 || ops[0].ID != auth.ID || ops[1].ID != capture.ID || ops[2].ID != refund.ID {
		t.Fatalf("ListOperations order: %v", ops)
	}
	if ops[0].Status != journal.OpApproved || ops[0].LatencyMS != 84 || ops[0].RRN != "633100000123" ||
		!ops[0].TransmissionTime.Equal(auth.TransmissionTime) || ops[0].Version != 2 || ops[1].RefOperationID != auth.ID {
		t.Fatalf("stored authorization %+v", ops[0])
	}
	got, err := s.GetOperation(ctx, refund.ID)
	if err != nil || got.Amount != 50000 || got.Kind != journal.OpRefund {
		t.Fatalf("GetOperation: %+v %v", got, err)
	}
	stale := *got
	got.Status, got.Attempts, got.NextAttemptAt = journal.OpQueued, 1, time.Now().Add(time.Minute).Truncate(time.Microsecond)
	if err := s.UpdateOperation(ctx, got); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "stale operation", s.UpdateOperation(ctx, &stale), journal.ErrVersionConflict)

	pending, err := s.ListOperationsByStatus(ctx, []journal.OpStatus{journal.OpPending, journal.OpQueued}, time.Time{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 2 || pending[0].ID != capture.ID || pending[1].ID != refund.ID || !pending[1].NextAttemptAt.Equal(got.NextAttemptAt) {
		t.Fatalf("ListOperationsByStatus: %v", pending)
	}
	orphan := authOp(1)
	orphan.PaymentID = "pay_01JDX3M0Q2K7V8F4T5Z6A1B2C3"
	wantErr(t, "operation of unknown payment", s.AddOperation(ctx, orphan), journal.ErrNotFound)
	bad := authOp(1)
	bad.PaymentID, bad.Status = p.ID, "weird"
	wantErr(t, "bad status", s.AddOperation(ctx, bad), journal.ErrInvalid)
}

func testWriteAtomic(t *testing.T, open Opener, _ options) {
	s := open(t)
	ctx := ctxT(t)
	v := testVault(t)
	p := newPayment(t, v, reqID(t, 1), 5000)
	mustCreate(t, s, p, nil)
	stale := *p
	p.Status = journal.PaymentApproved
	if err := s.UpdatePayment(ctx, p); err != nil {
		t.Fatal(err)
	}
	// A stale update in the same Write must take the enqueue down with it.
	stale.Status = journal.PaymentDeclined
	it := &journal.SAFItem{Bank: "alfa", Kind: journal.SAFReversal, PaymentID: p.ID}
	op := &journal.Operation{PaymentID: p.ID, Kind: journal.OpReversal, Bank: "alfa", MTI: "0400", Amount: 5000,
		Currency: "KZT", Status: journal.OpQueued}
	err := s.Write(ctx, journal.InsertOperation(op), journal.EnqueueSAF(it), journal.SavePayment(&stale))
	wantErr(t, "atomic write", err, journal.ErrVersionConflict)
	if _, err := s.GetOperation(ctx, op.ID); !errors.Is(err, journal.ErrNotFound) {
		t.Fatalf("operation of a failed Write was stored: %v", err)
	}
	if _, err := s.GetSAF(ctx, it.ID); !errors.Is(err, journal.ErrNotFound) {
		t.Fatalf("SAF item of a failed Write was stored: %v", err)
	}
	if stale.Version != p.Version-1 {
		t.Fatalf("failed Write changed the in-memory version to %d", stale.Version)
	}
}

// testConcurrentWriters: 64 writers at once, some of them doomed
// (duplicates): every good write is durable, every bad one fails alone.
func testConcurrentWriters(t *testing.T, open Opener, _ options) {
	s := open(t)
	ctx := ctxT(t)
	v := testVault(t)
	const writers = 64
	base := make([]*journal.Payment, writers)
	for i := range base {
		base[i] = newPayment(t, v, reqID(t, i), int64(100+i))
	}
	// Pre-create the odd ones so that their second insert is a duplicate.
	for i := 1; i < writers; i += 2 {
		mustCreate(t, s, base[i], nil)
	}
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := base[i]
			if i%2 == 1 {
				cp := *p
				cp.Version, cp.CreatedAt, cp.UpdatedAt = 0, time.Time{}, time.Time{}
				p = &cp
			}
			errs[i] = s.CreatePayment(ctx, p, authOp(p.Amount))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if i%2 == 0 && err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
		if i%2 == 1 && !errors.Is(err, journal.ErrDuplicate) {
			t.Errorf("writer %d (duplicate): got %v", i, err)
		}
	}
	for i := 0; i < writers; i += 2 {
		ops, err := s.ListOperations(ctx, base[i].ID)
		if err != nil || len(ops) != 1 {
			t.Fatalf("payment %d: %d operations, %v", i, len(ops), err)
		}
	}
	for i := 1; i < writers; i += 2 {
		ops, err := s.ListOperations(ctx, base[i].ID)
		if err != nil || len(ops) != 0 {
			t.Fatalf("duplicate payment %d left %d operations, %v", i, len(ops), err)
		}
	}
}
