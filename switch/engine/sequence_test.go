package engine

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/acquirer/h2hswitch/switch/journal"
)

func openSeqStore(t *testing.T, path string) journal.Store {
	t.Helper()
	s, err := journal.Open(context.Background(), journal.Config{Driver: journal.DriverSQLite, DSN: path})
	if err != nil {
		t.Fatalf("opening journal: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// Two processes (two Sequences on one journal file) hand out each value at
// most once, even when used concurrently, and each process's values grow;
// the journal's counter moves once per block, not per value.
func TestSequencesBlocksAreDisjoint(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	a := NewSequences(openSeqStore(t, path), 10)
	b := NewSequences(openSeqStore(t, path), 10)
	ctx := context.Background()

	var mu sync.Mutex
	seen := map[int64]string{}
	var wg sync.WaitGroup
	for w := range 8 {
		seqs, who := a, "a"
		if w%2 == 1 {
			seqs, who = b, "b"
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := int64(0)
			for range 50 {
				v, err := seqs.Next(ctx, "stan:alfa")
				if err != nil {
					t.Errorf("Next: %v", err)
					return
				}
				if v <= last {
					t.Errorf("%s: value %d after %d in one goroutine", who, v, last)
				}
				last = v
				mu.Lock()
				if prev, dup := seen[v]; dup {
					t.Errorf("value %d handed out twice (%s and %s)", v, prev, who)
				}
				seen[v] = who
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != 400 {
		t.Fatalf("handed out %d distinct values, want 400", len(seen))
	}
	// 400 values in blocks of 10 took 40 reservations: the counter stands
	// at a multiple of the block (no value reserved one at a time).
	store := openSeqStore(t, path)
	next, err := store.NextSequence(ctx, "stan:alfa")
	if err != nil {
		t.Fatal(err)
	}
	if (next-1)%10 != 0 || next <= 400 {
		t.Fatalf("journal counter after 400 values in blocks of 10 is %d; want a multiple of 10 above 400, plus 1", next-1)
	}
	// Counters are independent.
	v, err := a.Next(ctx, "rrn:alfa")
	if err != nil || v != 1 {
		t.Fatalf("first value of another counter: %d %v", v, err)
	}
}

// A process that stops loses the rest of its block: the next process
// starts after it, never inside it.
func TestSequencesRestartSkipsUnusedBlock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	ctx := context.Background()
	first := NewSequences(openSeqStore(t, path), 100)
	for want := int64(1); want <= 3; want++ {
		if v, err := first.Next(ctx, "rrn:sber"); err != nil || v != want {
			t.Fatalf("Next = %d, %v; want %d", v, err, want)
		}
	}
	second := NewSequences(openSeqStore(t, path), 100)
	if v, err := second.Next(ctx, "rrn:sber"); err != nil || v != 101 {
		t.Fatalf("after a restart Next = %d, %v; want 101", v, err)
	}
}

// STANSequence with Blocks wraps its counter into 1..999999 like the
// per-value source does.
func TestSTANSequenceWithBlocks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	store := openSeqStore(t, path)
	ctx := context.Background()
	if _, err := store.ReserveSequence(ctx, "stan:alfa", 999_998); err != nil {
		t.Fatal(err)
	}
	src := STANSequence{Store: store, Bank: "alfa", Blocks: NewSequences(store, 5)}
	var got []uint32
	for range 3 {
		v, err := src.NextSTAN(ctx)
		if err != nil {
			t.Fatalf("NextSTAN: %v", err)
		}
		got = append(got, v)
	}
	if got[0] != 999_999 || got[1] != 1 || got[2] != 2 {
		t.Fatalf("STANs across the wrap = %v, want [999999 1 2]", got)
	}
}
