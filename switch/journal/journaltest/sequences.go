package journaltest

import (
	"sort"
	"sync"
	"testing"

	"github.com/acquirer/h2hswitch/switch/journal"
)

func testSequences(t *testing.T, open Opener, _ options) {
	s := open(t)
	ctx := ctxT(t)
	first, err := s.NextSequence(ctx, "stan:alfa")
	if err != nil || first != 1 {
		t.Fatalf("first value %d %v, want 1", first, err)
	}
	if n, err := s.NextSequence(ctx, "stan:sber"); err != nil || n != 1 {
		t.Fatalf("second counter starts at %d %v, want 1", n, err)
	}
	const workers, each = 16, 40
	vals := collect(t, workers, each, func(i int) ([]int64, error) {
		if i%4 == 0 {
			// Block reservations interleave with single values.
			f, err := s.ReserveSequence(ctx, "stan:alfa", 10)
			if err != nil {
				return nil, err
			}
			out := make([]int64, 10)
			for j := range out {
				out[j] = f + int64(j)
			}
			return out, nil
		}
		n, err := s.NextSequence(ctx, "stan:alfa")
		return []int64{n}, err
	})
	assertUniqueRun(t, vals, 2)
	_, err = s.ReserveSequence(ctx, "stan:alfa", 0)
	wantErr(t, "empty block", err, journal.ErrInvalid)
	_, err = s.NextSequence(ctx, "")
	wantErr(t, "no name", err, journal.ErrInvalid)
}

// testSequencesAcrossStores: two Store instances on one database (two
// switch processes) never hand out the same value.
func testSequencesAcrossStores(t *testing.T, open Opener, _ options) {
	a, b := open(t), open(t)
	ctx := ctxT(t)
	vals := collect(t, 8, 40, func(i int) ([]int64, error) {
		s := a
		if i%2 == 1 {
			s = b
		}
		n, err := s.NextSequence(ctx, "rrn")
		return []int64{n}, err
	})
	assertUniqueRun(t, vals, 1)
}

// collect runs fn each times in each of workers goroutines.
func collect(t *testing.T, workers, each int, fn func(i int) ([]int64, error)) []int64 {
	t.Helper()
	var mu sync.Mutex
	var all []int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				vs, err := fn(w*each + i)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				all = append(all, vs...)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("sequence: %v", err)
	}
	return all
}

// assertUniqueRun checks that vals are exactly from, from+1, ... with no
// duplicate and no gap.
func assertUniqueRun(t *testing.T, vals []int64, from int64) {
	t.Helper()
	sort.Slice(vals, func(i, j int) bool { return vals[i] < vals[j] })
	for i, v := range vals {
		if v != from+int64(i) {
			t.Fatalf("values not a gapless unique run from %d: position %d holds %d (previous %d)", from, i, v, vals[max(i-1, 0)])
		}
	}
}
