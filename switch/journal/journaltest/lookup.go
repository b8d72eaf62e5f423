package journaltest

import (
	"fmt"
	"testing"
	"time"

	"github.com/acquirer/h2hswitch/switch/journal"
)

// testFindBySTAN: late responses are matched by bank + STAN, newest first,
// whatever the number of older timed-out operations.
func testFindBySTAN(t *testing.T, open Opener, _ options) {
	s := open(t)
	ctx := ctxT(t)
	v := testVault(t)
	base := time.Now().Add(-time.Hour).Truncate(time.Microsecond)
	var want []string // operations of alfa/000042, oldest first
	for i := range 5 {
		p := newPayment(t, v, reqID(t, i), 1000)
		op := authOp(1000)
		op.STAN, op.RRN, op.Status, op.CreatedAt = "000042", fmt.Sprintf("6331000001%02d", i), journal.OpTimeout, base.Add(time.Duration(i)*time.Minute)
		if i == 3 {
			op.Bank, p.Bank = "sber", "sber" // same STAN, other bank
		} else {
			want = append(want, "")
		}
		mustCreate(t, s, p, op)
		if i != 3 {
			want[len(want)-1] = op.ID
		}
	}
	other := newPayment(t, v, reqID(t, 9), 1000)
	o := authOp(1000)
	o.STAN, o.Status = "000043", journal.OpTimeout
	mustCreate(t, s, other, o)

	got, err := s.FindOperationsBySTAN(ctx, "alfa", "000042", 0)
	if err != nil {
		t.Fatalf("FindOperationsBySTAN: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("FindOperationsBySTAN: %d operations, want %d", len(got), len(want))
	}
	for i, op := range got {
		if w := want[len(want)-1-i]; op.ID != w || op.Bank != "alfa" || op.STAN != "000042" {
			t.Fatalf("FindOperationsBySTAN[%d] = %s (%s/%s), want %s (newest first)", i, op.ID, op.Bank, op.STAN, w)
		}
	}
	newest, err := s.FindOperationsBySTAN(ctx, "alfa", "000042", 1)
	if err != nil || len(newest) != 1 || newest[0].ID != want[len(want)-1] {
		t.Fatalf("FindOperationsBySTAN limit 1: %v %v", newest, err)
	}
	none, err := s.FindOperationsBySTAN(ctx, "alfa", "999999", 0)
	if err != nil || len(none) != 0 {
		t.Fatalf("FindOperationsBySTAN unknown STAN: %v %v", none, err)
	}
	_, err = s.FindOperationsBySTAN(ctx, "", "000042", 0)
	wantErr(t, "FindOperationsBySTAN without bank", err, journal.ErrInvalid)
}

// testPaging: operations and in-flight keys can be listed page by page, so
// rows a caller cannot settle never hide newer ones.
func testPaging(t *testing.T, open Opener, _ options) {
	s := open(t)
	ctx := ctxT(t)
	v := testVault(t)
	base := time.Now().Add(-time.Hour).Truncate(time.Microsecond)
	var ids []string
	for i := range 5 {
		p := newPayment(t, v, reqID(t, i), 1000)
		op := authOp(1000)
		// Two share a creation time: the id breaks the tie.
		op.CreatedAt = base.Add(time.Duration(i/2) * time.Second)
		mustCreate(t, s, p, op)
		ids = append(ids, op.ID)
	}
	all, err := s.ListOperationsByStatus(ctx, []journal.OpStatus{journal.OpPending}, time.Time{}, 0)
	if err != nil || len(all) != 5 {
		t.Fatalf("ListOperationsByStatus: %d %v", len(all), err)
	}
	var paged []string
	var cur journal.OpCursor
	for range 10 {
		page, err := s.ListOperationsByStatusAfter(ctx, []journal.OpStatus{journal.OpPending}, time.Time{}, cur, 2)
		if err != nil {
			t.Fatalf("ListOperationsByStatusAfter: %v", err)
		}
		if len(page) == 0 {
			break
		}
		for _, op := range page {
			paged = append(paged, op.ID)
		}
		last := page[len(page)-1]
		cur = journal.OpCursor{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	if fmt.Sprint(paged) != fmt.Sprint(opIDs(all)) {
		t.Fatalf("paged operations %v, want %v", paged, opIDs(all))
	}
	before, err := s.ListOperationsByStatusAfter(ctx, []journal.OpStatus{journal.OpPending}, base, journal.OpCursor{}, 0)
	if err != nil || len(before) != 2 {
		t.Fatalf("ListOperationsByStatusAfter before %v: %d %v", base, len(before), err)
	}

	for i := range 5 {
		k := journal.IdempotencyBegin{Client: fmt.Sprintf("gw%d", i%2), RequestID: reqID(t, i), BodyHash: journal.BodyHash([]byte("{}")),
			Method: "POST", Path: "/v1/payments/x/refunds"}
		if _, err := s.BeginIdempotency(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	keys, err := s.ListInFlightIdempotency(ctx, time.Time{}, 0)
	if err != nil || len(keys) != 5 {
		t.Fatalf("ListInFlightIdempotency: %d %v", len(keys), err)
	}
	seen := map[string]bool{}
	var ic journal.IdemCursor
	for range 10 {
		page, err := s.ListInFlightIdempotencyAfter(ctx, time.Time{}, ic, 2)
		if err != nil {
			t.Fatalf("ListInFlightIdempotencyAfter: %v", err)
		}
		if len(page) == 0 {
			break
		}
		for _, k := range page {
			if seen[k.Client+"/"+k.RequestID] {
				t.Fatalf("key %s/%s listed twice", k.Client, k.RequestID)
			}
			seen[k.Client+"/"+k.RequestID] = true
		}
		last := page[len(page)-1]
		ic = journal.IdemCursor{CreatedAt: last.CreatedAt, Client: last.Client, RequestID: last.RequestID}
	}
	if len(seen) != 5 {
		t.Fatalf("paging in-flight keys saw %d keys, want 5", len(seen))
	}
}

func opIDs(ops []*journal.Operation) []string {
	out := make([]string, len(ops))
	for i, op := range ops {
		out[i] = op.ID
	}
	return out
}
