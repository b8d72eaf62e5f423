package engine

import (
	"context"
	"fmt"

	"github.com/acquirer/h2hswitch/routing"
	"github.com/acquirer/h2hswitch/specs/reasons"
	"github.com/acquirer/h2hswitch/switch/journal"
)

// RoutingTable is what the engine needs of routing.Router.
type RoutingTable interface {
	Decide(in routing.Input, usable func(bank string) bool, rnd routing.Rand) routing.Decision
}

// RouterFrom adapts a routing table (routing.Router) to Router. rnd may be
// nil (routing then uses math/rand/v2's concurrency-safe functions).
func RouterFrom(t RoutingTable, rnd routing.Rand) Router {
	return routingAdapter{t: t, rnd: rnd}
}

type routingAdapter struct {
	t   RoutingTable
	rnd routing.Rand
}

func (a routingAdapter) Route(in RouteInput, usable func(bank string) bool) RouteDecision {
	d := a.t.Decide(routing.Input{
		PAN: in.PANPrefix, Brand: in.Brand, Amount: in.Amount, Currency: in.Currency,
		MerchantID: in.MerchantID, MCC: in.MCC, Type: string(in.Type),
	}, usable, a.rnd)
	out := RouteDecision{Rule: d.Rule, NoRoute: d.NoRoute, Banks: make([]string, 0, len(d.Banks))}
	for _, b := range d.Banks {
		out.Banks = append(out.Banks, b.Bank)
	}
	return out
}

// STANSequence is a banklink.STANSource backed by the journal's per-bank
// counter, so that two switch processes sharing one journal never hand
// out the same STAN.
//
// With Blocks set (the switch shares the engine's Config.Sequences), values
// come from blocks this process reserved, one journal write per block;
// without, every STAN is its own journal write.
type STANSequence struct {
	Store  journal.Store
	Bank   string
	Blocks *Sequences
}

// NextSTAN returns the next STAN (1..999999, wrapping).
func (s STANSequence) NextSTAN(ctx context.Context) (uint32, error) {
	var (
		v   int64
		err error
	)
	if s.Blocks != nil {
		v, err = s.Blocks.Next(ctx, stanSequence(s.Bank))
	} else {
		v, err = s.Store.NextSequence(ctx, stanSequence(s.Bank))
	}
	if err != nil {
		return 0, fmt.Errorf("allocating STAN for %s: %w", s.Bank, err)
	}
	return uint32(journal.SequenceValue(v, 999_999)), nil
}

// ReasonTable is what the engine needs of specs/reasons.Table.
type ReasonTable interface {
	Lookup(dialect, bankCode string) reasons.Reason
}

// ReasonsFrom adapts the specs/reasons tables to ReasonMapper.
func ReasonsFrom(t ReasonTable) ReasonMapper {
	return ReasonFunc(func(dialect, code string) Reason {
		r := t.Lookup(dialect, code)
		return Reason{Reason: r.Reason, ReasonCode: r.ReasonCode, ResponseCode: r.ResponseCode, BankResponseCode: r.BankResponseCode}
	})
}
