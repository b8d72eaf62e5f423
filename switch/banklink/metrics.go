package banklink

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the link's optional Prometheus collectors. Several links share
// one registry: a collector already registered by another link is reused.
type metrics struct {
	roundTrip *prometheus.HistogramVec // bank, mti
	results   *prometheus.CounterVec   // bank, result
	conns     *prometheus.GaugeVec     // bank, state
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	rt := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "h2hswitch", Subsystem: "banklink", Name: "round_trip_seconds",
		Help:    "Time from Send accepting a request until the bank's response arrived (includes waiting for a free slot).",
		Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2, 4, 8, 15},
	}, []string{"bank", "mti"})
	res := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "h2hswitch", Subsystem: "banklink", Name: "requests_total",
		Help: "Requests sent through the link by outcome (ok, timeout, connection_lost, not_sent), and unsolicited messages dropped or whose callback panicked (unsolicited_dropped, unsolicited_panic).",
	}, []string{"bank", "result"})
	conns := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "h2hswitch", Subsystem: "banklink", Name: "connections",
		Help: "Connections to the bank by state (up = connected, signed_on = usable).",
	}, []string{"bank", "state"})
	var err error
	m := &metrics{}
	if m.roundTrip, err = register(reg, rt); err != nil {
		return nil, err
	}
	if m.results, err = register(reg, res); err != nil {
		return nil, err
	}
	if m.conns, err = register(reg, conns); err != nil {
		return nil, err
	}
	return m, nil
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		var zero C
		return zero, fmt.Errorf("registering banklink metrics: %w", err)
	}
	return c, nil
}
