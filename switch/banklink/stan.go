package banklink

import (
	"context"
	"fmt"
	"strconv"
	"sync"
)

// MaxSTAN is the largest STAN; STANs run 1..MaxSTAN and wrap.
const MaxSTAN = 999999

// STANSource hands out STAN candidates for one bank. The link skips any
// candidate still outstanding (or reserved for a late response) on it. A
// source shared by several processes (the journal's per-bank sequence) keeps
// two processes from colliding; values outside 1..MaxSTAN are folded into
// that range.
type STANSource interface {
	NextSTAN(ctx context.Context) (uint32, error)
}

// CounterSTANSource is the default in-memory STANSource: 1, 2, ..., 999999, 1, ...
// The zero value starts at 1. Safe for concurrent use.
type CounterSTANSource struct {
	mu   sync.Mutex
	last uint32
}

// NewCounterSTANSource returns a counter whose first STAN is after last
// (last = 0 starts at 1), e.g. to resume after a restart.
func NewCounterSTANSource(last uint32) *CounterSTANSource {
	return &CounterSTANSource{last: last % MaxSTAN}
}

// NextSTAN implements STANSource.
func (c *CounterSTANSource) NextSTAN(context.Context) (uint32, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.last = c.last%MaxSTAN + 1
	return c.last, nil
}

// foldSTAN maps any positive counter value into 1..MaxSTAN; 0 stays invalid.
func foldSTAN(v uint32) (uint32, bool) {
	if v == 0 {
		return 0, false
	}
	return (v-1)%MaxSTAN + 1, true
}

func formatSTAN(v uint32) string { return fmt.Sprintf("%06d", v) }

// normalizeSTAN accepts a DE11 value as a dialect returns it (a Numeric field
// drops leading zeros) and returns it as 6 digits.
func normalizeSTAN(s string) (string, error) {
	if s == "" || len(s) > 6 {
		return "", fmt.Errorf("STAN %q: want 1 to 6 digits", s)
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return "", fmt.Errorf("STAN %q: want digits only", s)
	}
	if n == 0 {
		return "", fmt.Errorf("STAN 000000 is not valid")
	}
	return formatSTAN(uint32(n)), nil
}
