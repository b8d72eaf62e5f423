package api

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the API's Prometheus collectors. Label values come from
// closed sets (route patterns, payment types, status codes, reasons and
// error codes), never from request data.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
	replays  *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "h2hswitch", Subsystem: "api", Name: "requests_total",
			Help: "Upstream API requests by endpoint, payment/operation type, HTTP status and reason (decline reason or error code).",
		}, []string{"endpoint", "type", "status", "reason"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "h2hswitch", Subsystem: "api", Name: "request_duration_seconds",
			Help:    "Upstream API request latency by endpoint.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 20, 30},
		}, []string{"endpoint"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "h2hswitch", Subsystem: "api", Name: "in_flight_requests",
			Help: "Upstream API requests being served.",
		}),
		replays: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "h2hswitch", Subsystem: "api", Name: "idempotent_replays_total",
			Help: "POSTs answered from a stored result, by how they were found (stored, waited).",
		}, []string{"how"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.inFlight, m.replays} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
