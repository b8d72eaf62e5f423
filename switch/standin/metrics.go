package standin

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the stand-in Prometheus collectors:
//
//	h2hswitch_standin_decisions_total{bank,decision,reason}   decision = approved | declined
//	h2hswitch_standin_losses_total{bank}                       stand-in advices the bank declined
//	h2hswitch_standin_loss_amount_total{bank,currency}         their amounts, minor units
//
// A nil *Metrics records nothing.
type Metrics struct {
	decisions  *prometheus.CounterVec
	losses     *prometheus.CounterVec
	lossAmount *prometheus.CounterVec
}

// NewMetrics registers the stand-in collectors with reg. Collectors already
// registered (a second Policy on the same registry) are reused.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	if reg == nil {
		return nil, errors.New("standin: metrics need a registry")
	}
	d := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "h2hswitch", Subsystem: "standin", Name: "decisions_total",
		Help: "Stand-in decisions by bank, decision (approved, declined) and reason (the rule that declined; within_limits for approvals).",
	}, []string{"bank", "decision", "reason"})
	l := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "h2hswitch", Subsystem: "standin", Name: "losses_total",
		Help: "Stand-in approvals whose advice the bank declined: money the processor may not recover.",
	}, []string{"bank"})
	la := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "h2hswitch", Subsystem: "standin", Name: "loss_amount_total",
		Help: "Amounts of stand-in approvals whose advice the bank declined, in minor units of the currency.",
	}, []string{"bank", "currency"})
	m := &Metrics{}
	var err error
	if m.decisions, err = register(reg, d); err != nil {
		return nil, err
	}
	if m.losses, err = register(reg, l); err != nil {
		return nil, err
	}
	if m.lossAmount, err = register(reg, la); err != nil {
		return nil, err
	}
	return m, nil
}

func register(reg prometheus.Registerer, c *prometheus.CounterVec) (*prometheus.CounterVec, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				return existing, nil
			}
		}
		return nil, fmt.Errorf("standin: registering metrics: %w", err)
	}
	return c, nil
}

func (m *Metrics) decision(bank string, d Decision) {
	if m == nil {
		return
	}
	if d.Approve {
		m.decisions.WithLabelValues(bank, "approved", ReasonWithinLimits).Inc()
		return
	}
	m.decisions.WithLabelValues(bank, "declined", d.Reason).Inc()
}

func (m *Metrics) loss(bank, currency string, amount int64) {
	if m == nil {
		return
	}
	m.losses.WithLabelValues(bank).Inc()
	if amount > 0 {
		m.lossAmount.WithLabelValues(bank, currency).Add(float64(amount))
	}
}
