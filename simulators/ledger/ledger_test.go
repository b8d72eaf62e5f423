package ledger

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func approval(stan string, kind Kind, amount int64) Approval {
	return Approval{Kind: kind, MTI: "0200", Key: Key{STAN: stan, DE7: "1127050000", AcquirerID: "1"},
		RRN: "6331000" + stan[1:], TerminalID: "T1", MerchantID: "M1", MaskedPAN: "400000******0010",
		Amount: amount, Currency: "398", Response: "sent"}
}

func TestConcurrentApprovalsAreUniqueAndReproducible(t *testing.T) {
	run := func() map[string]string {
		l := New(7)
		var wg sync.WaitGroup
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				for i := 0; i < 200; i++ {
					a := approval(fmt.Sprintf("%06d", g*1000+i), KindPurchase, 100)
					if _, _, code := l.Approve(a, time.Now()); code != CodeApproved {
						t.Errorf("approve: %s", code)
					}
					if _, _, code := l.Approve(a, time.Now()); code != CodeDuplicate {
						t.Errorf("duplicate: %s", code)
					}
				}
			}(g)
		}
		wg.Wait()
		if l.Len() != 1600 {
			t.Fatalf("len %d", l.Len())
		}
		codes := map[string]string{}
		for _, tx := range l.Snapshot() {
			if len(tx.AuthCode) != 6 {
				t.Fatalf("auth code %q", tx.AuthCode)
			}
			codes[tx.STAN] = tx.AuthCode
		}
		return codes
	}
	a := run()
	// Same seed, same sequence of codes (order of draws differs between
	// runs, so compare the multiset).
	seen := map[string]int{}
	for _, c := range a {
		seen[c]++
	}
	for _, c := range run() {
		seen[c]--
	}
	for c, n := range seen {
		if n != 0 {
			t.Fatalf("auth code %s differs between runs with one seed", c)
		}
	}
}

func TestNTIDBoundToCard(t *testing.T) {
	l := New(1)
	h1, h2 := l.HashPAN([]byte("4000000000000010")), l.HashPAN([]byte("4000000000000028"))
	if h1 == h2 || len(h1) != 64 {
		t.Fatal("hash")
	}
	if New(1).HashPAN([]byte("4000000000000010")) == h1 {
		t.Fatal("PAN hash is not keyed per ledger")
	}
	a := approval("000001", KindPurchase, 100)
	a.PANHash, a.IssueNTID = h1, true
	_, ntid, _ := l.Approve(a, time.Now())
	if len(ntid) != 15 || !l.KnownNTID(ntid, h1) || l.KnownNTID(ntid, h2) || l.KnownNTID("000000000000000", h1) {
		t.Fatalf("ntid %q binding", ntid)
	}
}

func TestSnapshotIsACopy(t *testing.T) {
	l := New(1)
	l.Approve(approval("000001", KindPurchase, 1000), time.Now())
	l.Refund(RefundRequest{Key: Key{STAN: "000002", DE7: "1", AcquirerID: "1"}, Amount: 100, Original: Key{STAN: "000001", DE7: "1127050000", AcquirerID: "1"}})
	s := l.Snapshot()
	s[0].Refunds[0].Amount = 999
	s[0].State = StateReversed
	if tx, _ := l.ByRRN("633100000001"); tx.Refunds[0].Amount != 100 || tx.State != StateAuthorized {
		t.Fatalf("snapshot aliases the ledger: %+v", tx)
	}
	l.Reset()
	if l.Len() != 0 {
		t.Fatal("reset")
	}
}
