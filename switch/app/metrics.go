package app

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/acquirer/h2hswitch/routing"
	"github.com/acquirer/h2hswitch/switch/banklink"
	"github.com/acquirer/h2hswitch/switch/engine"
	"github.com/acquirer/h2hswitch/switch/journal"
)

// metrics are the collectors the assembly itself owns: routing decisions
// and table reloads (the router and engine are wired here) and journal
// commit latency (through journal.Hooks). Label values come from closed
// sets: configured bank names and the operator's rule names.
type metrics struct {
	decisions *prometheus.CounterVec
	noRoute   prometheus.Counter
	reloads   *prometheus.CounterVec
	version   prometheus.Gauge
	commit    *prometheus.HistogramVec
	batch     prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "h2hswitch", Subsystem: "routing", Name: "decisions_total",
			Help: "Routing decisions for new payments by winning rule and first usable bank (\"none\" when the rule left no usable bank).",
		}, []string{"rule", "bank"}),
		noRoute: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "h2hswitch", Subsystem: "routing", Name: "no_route_total",
			Help: "Payments no routing rule matched (declined issuer_unavailable).",
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "h2hswitch", Subsystem: "routing", Name: "reloads_total",
			Help: "Routing table load attempts by result (ok, refused).",
		}, []string{"result"}),
		version: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "h2hswitch", Subsystem: "routing", Name: "table_version",
			Help: "The operator's version number of the routing table in force.",
		}),
		commit: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "h2hswitch", Subsystem: "journal", Name: "commit_seconds",
			Help:    "Journal group-commit transaction latency by result (ok, error).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"result"}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "h2hswitch", Subsystem: "journal", Name: "commit_batch_size",
			Help:    "Writes per journal group-commit transaction.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256},
		}),
	}
	for _, c := range []prometheus.Collector{m.decisions, m.noRoute, m.reloads, m.version, m.commit, m.batch} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering switch metrics: %w", err)
		}
	}
	return m, nil
}

// journalHooks feeds commit statistics into the histograms.
func (m *metrics) journalHooks() *journal.Hooks {
	return &journal.Hooks{OnCommit: func(batch int, took time.Duration, err error) {
		result := "ok"
		if err != nil {
			result = "error"
		}
		m.commit.WithLabelValues(result).Observe(took.Seconds())
		m.batch.Observe(float64(batch))
	}}
}

// onReload counts routing table loads and exports the version in force.
func (m *metrics) onReload(in routing.Info, err error) {
	if err != nil {
		m.reloads.WithLabelValues("refused").Inc()
	} else {
		m.reloads.WithLabelValues("ok").Inc()
	}
	m.version.Set(float64(in.Version))
}

// countingRouter counts the decisions of the router it wraps.
type countingRouter struct {
	next engine.Router
	m    *metrics
}

func (r countingRouter) Route(in engine.RouteInput, usable func(bank string) bool) engine.RouteDecision {
	d := r.next.Route(in, usable)
	if d.NoRoute {
		r.m.noRoute.Inc()
		return d
	}
	bank := "none"
	for _, b := range d.Banks {
		if usable(b) {
			bank = b
			break
		}
	}
	r.m.decisions.WithLabelValues(d.Rule, bank).Inc()
	return d
}

// linkInFlight exports a bank link's requests awaiting a response, read
// from the link's own atomics at scrape time.
func linkInFlight(l *banklink.Link) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "h2hswitch", Subsystem: "banklink", Name: "in_flight",
		Help:        "Requests written to the bank and awaiting its response.",
		ConstLabels: prometheus.Labels{"bank": l.Bank()},
	}, func() float64 { return float64(l.Health().InFlight) })
}
