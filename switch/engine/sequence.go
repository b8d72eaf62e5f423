package engine

import (
	"context"
	"fmt"
	"sync"

	"github.com/acquirer/h2hswitch/switch/journal"
)

// DefaultSequenceBlock is how many values of a journal counter (STAN, RRN)
// one process reserves at a time.
const DefaultSequenceBlock = 1000

// SequenceStore is the part of journal.Store that Sequences needs.
type SequenceStore interface {
	ReserveSequence(ctx context.Context, name string, n int64) (first int64, err error)
}

// Sequences hands out journal counter values (per-bank STAN and RRN) from
// blocks reserved in the journal, one durable write per block instead of
// one per value: the counter row was a write on every payment's critical
// path and, on PostgreSQL, a row lock every payment of a bank queued on.
// Each process reserves its own blocks, so two processes sharing a journal
// still never hand out the same value; the values a process reserved and
// did not use before it stopped are skipped, which uniqueness allows.
// Within a process values are handed out in increasing order.
type Sequences struct {
	store SequenceStore
	block int64

	mu       sync.Mutex
	counters map[string]*seqBlock
}

// seqBlock is one counter's reserved range [next, end). Its mutex is held
// while a new block is being reserved, so only one reservation per counter
// is in flight and other counters are not held up.
type seqBlock struct {
	mu   sync.Mutex
	next int64
	end  int64
}

// NewSequences returns a block allocator over store; block < 1 means
// DefaultSequenceBlock (at most 1,000,000, the journal's limit).
func NewSequences(store SequenceStore, block int64) *Sequences {
	if block < 1 {
		block = DefaultSequenceBlock
	}
	block = min(block, 1_000_000)
	return &Sequences{store: store, block: block, counters: make(map[string]*seqBlock)}
}

// Next returns the next value of counter name, reserving a new block in the
// journal when this process's block is used up.
func (s *Sequences) Next(ctx context.Context, name string) (int64, error) {
	s.mu.Lock()
	c := s.counters[name]
	if c == nil {
		c = &seqBlock{}
		s.counters[name] = c
	}
	s.mu.Unlock()

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.next >= c.end {
		first, err := s.store.ReserveSequence(ctx, name, s.block)
		if err != nil {
			return 0, fmt.Errorf("reserving a block of %d values of %s: %w", s.block, name, err)
		}
		c.next, c.end = first, first+s.block
	}
	v := c.next
	c.next++
	return v, nil
}

// stanSequence is the journal counter of a bank's STANs.
func stanSequence(bank string) string { return "stan:" + bank }

var _ SequenceStore = journal.Store(nil)
