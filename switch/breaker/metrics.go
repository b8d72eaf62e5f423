package breaker

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the breakers' Prometheus collectors:
//
//	h2hswitch_breaker_state{bank,state}                 1 for the circuit's current state, 0 for the others
//	h2hswitch_breaker_transitions_total{bank,from,to}   state changes
//
// A nil *Metrics records nothing.
type Metrics struct {
	state       *prometheus.GaugeVec
	transitions *prometheus.CounterVec
}

// NewMetrics registers the breaker collectors with reg, reusing collectors
// already registered there.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	if reg == nil {
		return nil, errors.New("breaker: metrics need a registry")
	}
	st := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "h2hswitch", Subsystem: "breaker", Name: "state",
		Help: "Circuit state per bank: 1 for the current state (closed, open, half_open), 0 for the others.",
	}, []string{"bank", "state"})
	tr := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "h2hswitch", Subsystem: "breaker", Name: "transitions_total",
		Help: "Circuit state changes per bank.",
	}, []string{"bank", "from", "to"})
	m := &Metrics{}
	if err := reg.Register(st); err != nil {
		existing, ok := alreadyRegistered[*prometheus.GaugeVec](err)
		if !ok {
			return nil, fmt.Errorf("breaker: registering metrics: %w", err)
		}
		st = existing
	}
	if err := reg.Register(tr); err != nil {
		existing, ok := alreadyRegistered[*prometheus.CounterVec](err)
		if !ok {
			return nil, fmt.Errorf("breaker: registering metrics: %w", err)
		}
		tr = existing
	}
	m.state, m.transitions = st, tr
	return m, nil
}

func alreadyRegistered[C prometheus.Collector](err error) (C, bool) {
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		c, ok := are.ExistingCollector.(C)
		return c, ok
	}
	var zero C
	return zero, false
}

func (m *Metrics) set(bank string, cur State) {
	if m == nil {
		return
	}
	for s := Closed; s <= HalfOpen; s++ {
		v := 0.0
		if s == cur {
			v = 1
		}
		m.state.WithLabelValues(bank, s.String()).Set(v)
	}
}

func (m *Metrics) transition(bank string, from, to State) {
	if m == nil {
		return
	}
	m.transitions.WithLabelValues(bank, from.String(), to.String()).Inc()
	m.set(bank, to)
}
