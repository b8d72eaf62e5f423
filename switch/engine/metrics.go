package engine

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the engine's failure-story collectors. Labels come from
// closed sets (bank names from the configuration, SAF kinds, outcomes),
// never from request data.
type metrics struct {
	// timeouts counts authorizations and online refunds that may have
	// reached the bank unanswered (a reversal was queued for each).
	timeouts *prometheus.CounterVec
	// late counts responses that arrived after the switch gave up.
	late *prometheus.CounterVec
	// safAttempts counts SAF sends by bank, kind and result.
	safAttempts *prometheus.CounterVec
	// safDead counts items moved to dead-letter: the alert metric.
	safDead *prometheus.CounterVec
	// safOverdue counts repeats of reversals past saf.max_age or
	// saf.max_attempts (never dead-lettered): an alert metric.
	safOverdue *prometheus.CounterVec
	// recovered counts operations crash recovery declined and reversed.
	recovered prometheus.Counter
	// recoverFailures counts operations recovery could not settle (it
	// goes on with the others and retries them on its next run).
	recoverFailures prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		timeouts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "h2hswitch", Subsystem: "engine", Name: "unanswered_total",
			Help: "Requests that may have reached the bank without an answer (timeout, connection lost, unreadable answer); each owes a reversal.",
		}, []string{"bank", "kind"}),
		late: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "h2hswitch", Subsystem: "engine", Name: "late_responses_total",
			Help: "Bank responses that arrived after the switch's timeout, by bank and outcome (approved, declined, acknowledged, unmatched).",
		}, []string{"bank", "outcome"}),
		safAttempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "h2hswitch", Subsystem: "saf", Name: "attempts_total",
			Help: "Store-and-forward sends by bank, item kind and result (acknowledged, refused, unanswered, held).",
		}, []string{"bank", "kind", "result"}),
		safDead: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "h2hswitch", Subsystem: "saf", Name: "dead_letter_total",
			Help: "Store-and-forward items moved to dead-letter (need an operator: /v1/admin/saf). Alert on any increase.",
		}, []string{"bank", "kind", "cause"}),
		safOverdue: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "h2hswitch", Subsystem: "saf", Name: "overdue_total",
			Help: "Repeats of reversals still unacknowledged past saf.max_age or saf.max_attempts (they are never dead-lettered; they repeat at the bank's maximum interval). Alert on any increase.",
		}, []string{"bank", "kind", "cause"}),
		recoverFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "h2hswitch", Subsystem: "engine", Name: "recover_failures_total",
			Help: "Operations crash recovery could not settle on a run (retried on the next run). Alert on any increase.",
		}),
		recovered: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "h2hswitch", Subsystem: "engine", Name: "recovered_operations_total",
			Help: "Operations found journaled without an outcome (crash or dead peer) and declined with a reversal queued.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.timeouts, m.late, m.safAttempts, m.safDead, m.safOverdue, m.recovered, m.recoverFailures} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering engine metrics: %w", err)
		}
	}
	return m, nil
}
