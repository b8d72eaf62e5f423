package app

import (
	"context"
	"fmt"

	"github.com/acquirer/h2hswitch/switch/api"
	"github.com/acquirer/h2hswitch/switch/config"
	"github.com/acquirer/h2hswitch/switch/journal"
	"github.com/acquirer/h2hswitch/switch/recon"
	"github.com/acquirer/h2hswitch/switch/recon/reconhttp"
)

// openRecon builds reconciliation from the configuration's recon and
// settlement sections, the same way switchctl does (recon.Open: the journal
// read through the read-only SQL adapter, the recon store), writing the
// payments' states back through the switch's own journal store. It returns
// the operator routes to mount.
func openRecon(ctx context.Context, cfg *config.Config, store journal.Store) (*recon.Opened, []api.OperatorRoute, error) {
	fc := &recon.FileConfig{
		Journal:    recon.JournalSection{Driver: cfg.Journal.Driver, DSN: cfg.Journal.DSN, Schema: cfg.Journal.Schema},
		Banks:      make(map[string]recon.BankSection, len(cfg.Banks)),
		Recon:      cfg.Recon,
		Settlement: cfg.Settlement,
	}
	for name, b := range cfg.Banks {
		fc.Banks[name] = recon.BankSection{Dialect: b.Dialect}
	}
	o, err := recon.Open(ctx, fc, store)
	if err != nil {
		return nil, nil, fmt.Errorf("opening reconciliation: %w", err)
	}
	h := &reconhttp.Handlers{Svc: o.Svc, MaxBody: fc.MaxUploadBytes()}
	var routes []api.OperatorRoute
	for _, rt := range h.Routes() {
		routes = append(routes, api.OperatorRoute{Method: rt.Method, Pattern: rt.Pattern, Handler: rt.Handler})
	}
	return o, routes, nil
}
