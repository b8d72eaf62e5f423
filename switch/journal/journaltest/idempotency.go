package journaltest

import (
	"sync"
	"testing"
	"time"

	"github.com/acquirer/h2hswitch/switch/journal"
)

func testIdempotency(t *testing.T, open Opener, _ options) {
	s := open(t)
	ctx := ctxT(t)
	k := journal.IdempotencyBegin{Client: "gw", RequestID: "gw-20261127-000123", BodyHash: journal.BodyHash([]byte(`{"a":1}`)),
		Method: "POST", Path: "/v1/payments"}
	res, err := s.BeginIdempotency(ctx, k)
	if err != nil {
		t.Fatalf("BeginIdempotency: %v", err)
	}
	if res.Outcome != journal.IdemNew || res.Record.State != journal.IdemInFlight || res.Record.BodyHash != k.BodyHash {
		t.Fatalf("first begin: %v %+v", res.Outcome, res.Record)
	}
	res, err = s.BeginIdempotency(ctx, k)
	if err != nil || res.Outcome != journal.IdemInProgress {
		t.Fatalf("second begin while in flight: %v %v", res.Outcome, err)
	}
	other := k
	other.BodyHash = journal.BodyHash([]byte(`{"a":2}`))
	res, err = s.BeginIdempotency(ctx, other)
	if err != nil || res.Outcome != journal.IdemConflict {
		t.Fatalf("begin with another body: %v %v", res.Outcome, err)
	}
	// Another client may use the same request_id.
	res, err = s.BeginIdempotency(ctx, journal.IdempotencyBegin{Client: "gw2", RequestID: k.RequestID, BodyHash: other.BodyHash})
	if err != nil || res.Outcome != journal.IdemNew {
		t.Fatalf("other client, same request_id: %v %v", res.Outcome, err)
	}
	inflight, err := s.ListInFlightIdempotency(ctx, time.Time{}, 0)
	if err != nil || len(inflight) != 2 {
		t.Fatalf("ListInFlightIdempotency: %d %v", len(inflight), err)
	}

	body := []byte(`{"id":"pay_x","status":"approved"}`)
	done := journal.IdempotencyCompletion{Client: "gw", RequestID: k.RequestID, HTTPStatus: 200, Response: body, PaymentID: "pay_x"}
	if err := s.CompleteIdempotency(ctx, done); err != nil {
		t.Fatalf("CompleteIdempotency: %v", err)
	}
	res, err = s.BeginIdempotency(ctx, k)
	if err != nil || res.Outcome != journal.IdemReplay || res.Record.HTTPStatus != 200 ||
		string(res.Record.Response) != string(body) || res.Record.PaymentID != "pay_x" {
		t.Fatalf("replay: %v %+v %v", res.Outcome, res.Record, err)
	}
	res, err = s.BeginIdempotency(ctx, other)
	if err != nil || res.Outcome != journal.IdemConflict {
		t.Fatalf("conflict after done: %v %v", res.Outcome, err)
	}
	wantErr(t, "complete twice", s.CompleteIdempotency(ctx, done), journal.ErrInvalidState)
	wantErr(t, "complete unknown", s.CompleteIdempotency(ctx, journal.IdempotencyCompletion{Client: "gw", RequestID: "nope", HTTPStatus: 200}), journal.ErrNotFound)
	wantErr(t, "release done", s.ReleaseIdempotency(ctx, "gw", k.RequestID), journal.ErrInvalidState)

	// A refused request (nothing sent) releases its key; a retry is new.
	if err := s.ReleaseIdempotency(ctx, "gw2", k.RequestID); err != nil {
		t.Fatalf("ReleaseIdempotency: %v", err)
	}
	res, err = s.BeginIdempotency(ctx, journal.IdempotencyBegin{Client: "gw2", RequestID: k.RequestID, BodyHash: k.BodyHash})
	if err != nil || res.Outcome != journal.IdemNew {
		t.Fatalf("begin after release: %v %v", res.Outcome, err)
	}
	rec, err := s.GetIdempotency(ctx, "gw", k.RequestID)
	if err != nil || rec.State != journal.IdemDone || rec.Method != "POST" || rec.Path != "/v1/payments" {
		t.Fatalf("GetIdempotency: %+v %v", rec, err)
	}
	if n, err := s.PurgeIdempotency(ctx, time.Now().Add(-time.Hour), 0); err != nil || n != 0 {
		t.Fatalf("purge with an old cut-off removed %d keys (%v)", n, err)
	}
	_, err = s.GetIdempotency(ctx, "gw", "unknown")
	wantErr(t, "GetIdempotency unknown", err, journal.ErrNotFound)
	_, err = s.BeginIdempotency(ctx, journal.IdempotencyBegin{Client: "gw", RequestID: "x"})
	wantErr(t, "begin without hash", err, journal.ErrInvalid)

	// Retention: done keys older than the cut-off go, in-flight ones stay.
	n, err := s.PurgeIdempotency(ctx, time.Now().Add(time.Hour), 0)
	if err != nil || n != 1 {
		t.Fatalf("PurgeIdempotency removed %d keys (%v), want the one done key", n, err)
	}
	if _, err := s.GetIdempotency(ctx, "gw", k.RequestID); err == nil {
		t.Fatal("purged key still readable")
	}
	if left, err := s.ListInFlightIdempotency(ctx, time.Time{}, 0); err != nil || len(left) != 1 {
		t.Fatalf("in-flight keys after purge: %d %v", len(left), err)
	}
	if n, err := s.PurgeIdempotency(ctx, time.Now().Add(time.Hour), 0); err != nil || n != 0 {
		t.Fatalf("second purge: %d %v", n, err)
	}

	// Completing atomically with a payment update.
	v := testVault(t)
	p := newPayment(t, v, "atomic-1", 100)
	mustCreate(t, s, p, nil)
	if _, err := s.BeginIdempotency(ctx, journal.IdempotencyBegin{Client: "gw", RequestID: "atomic-1", BodyHash: "h"}); err != nil {
		t.Fatal(err)
	}
	stale := *p
	p.Status = journal.PaymentApproved
	if err := s.UpdatePayment(ctx, p); err != nil {
		t.Fatal(err)
	}
	err = s.Write(ctx, journal.SavePayment(&stale), journal.FinishIdempotency(journal.IdempotencyCompletion{
		Client: "gw", RequestID: "atomic-1", HTTPStatus: 200, Response: []byte("{}"), PaymentID: p.ID}))
	wantErr(t, "stale payment with completion", err, journal.ErrVersionConflict)
	rec, err = s.GetIdempotency(ctx, "gw", "atomic-1")
	if err != nil || rec.State != journal.IdemInFlight {
		t.Fatalf("key completed although its payment update failed: %+v %v", rec, err)
	}
}

// testIdempotencyConcurrent: many callers begin the same key at once, on
// two stores sharing the database; exactly one may win.
func testIdempotencyConcurrent(t *testing.T, open Opener, _ options) {
	stores := []journal.Store{open(t), open(t)}
	ctx := ctxT(t)
	const callers = 32
	for round := range 3 {
		k := journal.IdempotencyBegin{Client: "gw", RequestID: reqID(t, round), BodyHash: "same"}
		outcomes := make([]journal.IdempotencyOutcome, callers)
		errs := make([]error, callers)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				res, err := stores[i%2].BeginIdempotency(ctx, k)
				outcomes[i], errs[i] = res.Outcome, err
			}()
		}
		close(start)
		wg.Wait()
		wins := 0
		for i := range callers {
			if errs[i] != nil {
				t.Fatalf("caller %d: %v", i, errs[i])
			}
			switch outcomes[i] {
			case journal.IdemNew:
				wins++
			case journal.IdemInProgress:
			default:
				t.Fatalf("caller %d: outcome %v", i, outcomes[i])
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d callers won the key, want exactly 1", round, wins)
		}
	}
}
