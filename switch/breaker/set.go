package breaker

import (
	"errors"
	"fmt"
	"sort"
)

// Set holds the breakers of every bank. It is built once and read
// concurrently; its breakers carry their own locks.
type Set struct {
	byBank map[string]*Breaker
}

// NewSet builds one breaker per bank from configs (a bank with a zero
// Config gets the defaults). Every problem is reported, each naming its key.
func NewSet(configs map[string]Config, opts Options) (*Set, error) {
	s := &Set{byBank: make(map[string]*Breaker, len(configs))}
	var problems []error
	for bank, cfg := range configs {
		if bank == "" {
			problems = append(problems, errors.New("banks: a bank name is empty"))
			continue
		}
		b, err := New(bank, cfg, opts)
		if err != nil {
			problems = append(problems, err)
			continue
		}
		s.byBank[bank] = b
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("breaker: invalid configuration: %w", errors.Join(problems...))
	}
	return s, nil
}

// Get returns the bank's breaker.
func (s *Set) Get(bank string) (*Breaker, bool) {
	b, ok := s.byBank[bank]
	return b, ok
}

// Allow is Get(bank).Allow(). A bank without a breaker is always allowed
// (its done is a no-op): the Set is built from the same bank list as the
// links, so that only happens for a bank that is not configured at all.
func (s *Set) Allow(bank string) (bool, func(Outcome)) {
	if b, ok := s.byBank[bank]; ok {
		return b.Allow()
	}
	return true, func(Outcome) {}
}

// ResponseOutcome is Get(bank).ResponseOutcome(code): the outcome of a
// bank's answer with response code code (Success unless the bank's
// failure_response_codes list it). A bank without a breaker: Success.
func (s *Set) ResponseOutcome(bank, code string) Outcome {
	if b, ok := s.byBank[bank]; ok {
		return b.ResponseOutcome(code)
	}
	return Success
}

// Usable combines the link's own usability (a signed-on connection) with
// the circuit: usable when the link is and the circuit is closed, or
// half-open with a probe slot free.
func (s *Set) Usable(bank string, linkUsable bool) bool {
	if !linkUsable {
		return false
	}
	if b, ok := s.byBank[bank]; ok {
		return b.Usable()
	}
	return true
}

// UsableFunc wraps a link-usability check (engine's usable, routing's
// usable) into one that also consults the circuits.
func (s *Set) UsableFunc(link func(bank string) bool) func(bank string) bool {
	return func(bank string) bool { return s.Usable(bank, link(bank)) }
}

// Statuses returns every breaker's status ordered by bank name.
func (s *Set) Statuses() []Status {
	out := make([]Status, 0, len(s.byBank))
	for _, b := range s.byBank {
		out = append(out, b.Status())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Bank < out[j].Bank })
	return out
}
