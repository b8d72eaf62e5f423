package adapt

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/acquirer/h2hswitch/switch/api"
	"github.com/acquirer/h2hswitch/switch/engine"
	"github.com/acquirer/h2hswitch/switch/journal"
)

func openJournal(t *testing.T, path string) journal.Store {
	t.Helper()
	s, err := journal.Open(t.Context(), journal.Config{Driver: journal.DriverSQLite, DSN: path})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestIdempotencyOnJournal checks the adapter against the real SQLite
// journal: new, in progress, conflict, replay after a reopen, release.
func TestIdempotencyOnJournal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.db")
	st := openJournal(t, path)
	a := Idempotency{Store: st}
	ctx := t.Context()
	b := api.IdemBegin{Client: "gw", RequestID: "r1", BodyHash: "h1", Method: "POST", Path: "/v1/payments"}
	if oc, _, err := a.Begin(ctx, b); err != nil || oc != api.IdemNew {
		t.Fatalf("first begin: %v %v", oc, err)
	}
	if oc, _, err := a.Begin(ctx, b); err != nil || oc != api.IdemInProgress {
		t.Fatalf("second begin: %v %v", oc, err)
	}
	other := b
	other.BodyHash = "h2"
	if oc, _, err := a.Begin(ctx, other); err != nil || oc != api.IdemConflict {
		t.Fatalf("other body: %v %v", oc, err)
	}
	if err := a.Complete(ctx, api.IdemCompletion{Client: "gw", RequestID: "r1", HTTPStatus: 200, Response: []byte(`{"id":"pay_x"}`), PaymentID: "pay_x"}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = openJournal(t, path)
	defer st.Close()
	a = Idempotency{Store: st}
	oc, rec, err := a.Begin(ctx, b)
	if err != nil || oc != api.IdemReplay || !rec.Done || rec.HTTPStatus != 200 || string(rec.Response) != `{"id":"pay_x"}` || rec.PaymentID != "pay_x" {
		t.Fatalf("replay after reopen: %v %+v %v", oc, rec, err)
	}
	// A released in-flight key starts afresh.
	b2 := api.IdemBegin{Client: "gw", RequestID: "r2", BodyHash: "h", Method: "POST", Path: "/v1/payments"}
	if oc, _, _ := a.Begin(ctx, b2); oc != api.IdemNew {
		t.Fatalf("r2: %v", oc)
	}
	if err := a.Release(ctx, "gw", "r2"); err != nil {
		t.Fatal(err)
	}
	if oc, _, _ := a.Begin(ctx, b2); oc != api.IdemNew {
		t.Fatalf("r2 after release: %v", oc)
	}
}

func TestSAFRetryErrors(t *testing.T) {
	st := openJournal(t, filepath.Join(t.TempDir(), "j.db"))
	defer st.Close()
	s := SAF{Store: st}
	err := s.RetrySAF(t.Context(), "saf_01JDX3M0Q2K7V8F4T5Z6A1B2C3")
	if !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("unknown item: %v", err)
	}
	items, err := s.ListSAF(t.Context())
	if err != nil || len(items) != 0 {
		t.Fatalf("list: %v %v", items, err)
	}
}

func TestEngineErrorMapping(t *testing.T) {
	cases := []struct {
		in    error
		check func(error) bool
	}{
		{&engine.Error{Kind: engine.KindNotFound, Message: "x"}, func(e error) bool { return errors.Is(e, api.ErrNotFound) }},
		{&engine.Error{Kind: engine.KindInvalidState, Message: "use a refund"}, func(e error) bool {
			var se *api.StateError
			return errors.As(e, &se) && se.Message == "use a refund"
		}},
		{&engine.Error{Kind: engine.KindInvalidInput, Field: "amount", Message: "bad"}, func(e error) bool {
			var fe *api.FieldError
			return errors.As(e, &fe) && fe.Field == "amount"
		}},
		{&engine.Error{Kind: engine.KindUnavailable, Message: "no journal", Err: context.DeadlineExceeded}, func(e error) bool {
			return errors.Is(e, api.ErrOverloaded) && errors.Is(e, context.DeadlineExceeded)
		}},
		{errors.New("disk full"), func(e error) bool {
			return !errors.Is(e, api.ErrOverloaded) && !errors.Is(e, api.ErrNotFound) && e.Error() == "disk full"
		}},
	}
	for _, c := range cases {
		if got := apiError(c.in); !c.check(got) {
			t.Errorf("apiError(%v) = %v", c.in, got)
		}
	}
}

// The stale-key listing pages through the journal with its cursor: keys
// left in flight are seen once each, whatever the page size.
func TestStaleKeysPageThroughJournal(t *testing.T) {
	st := openJournal(t, filepath.Join(t.TempDir(), "j.db"))
	defer st.Close()
	ctx := t.Context()
	idem := Idempotency{Store: st}
	for _, rid := range []string{"k1", "k2", "k3", "k4", "k5"} {
		if oc, _, err := idem.Begin(ctx, api.IdemBegin{Client: "gw", RequestID: rid, BodyHash: "h", Method: "POST", Path: "/v1/payments/pay_x/refunds"}); err != nil || oc != api.IdemNew {
			t.Fatalf("begin %s: %v %v", rid, oc, err)
		}
	}
	src := StaleKeys{Store: st}
	seen := map[string]bool{}
	var after api.StaleKey
	for range 10 {
		page, err := src.StaleInFlight(ctx, time.Now(), after, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, k := range page {
			if seen[k.RequestID] {
				t.Fatalf("key %s listed twice", k.RequestID)
			}
			seen[k.RequestID] = true
		}
		after = page[len(page)-1]
	}
	if len(seen) != 5 {
		t.Fatalf("saw %d keys, want 5", len(seen))
	}
}
