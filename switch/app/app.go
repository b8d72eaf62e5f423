// Package app assembles the switch from its configuration: journal, card
// vault, bank links, routing table, payment engine and the upstream API,
// and runs it until its context ends. cmd/switchd is a thin main around it;
// the end-to-end tests build the very same assembly in-process.
package app

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moov-io/iso8583"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/acquirer/h2hswitch/routing"
	"github.com/acquirer/h2hswitch/specs"
	"github.com/acquirer/h2hswitch/specs/calendar"
	"github.com/acquirer/h2hswitch/specs/reasons"
	"github.com/acquirer/h2hswitch/switch/api"
	"github.com/acquirer/h2hswitch/switch/api/adapt"
	"github.com/acquirer/h2hswitch/switch/banklink"
	"github.com/acquirer/h2hswitch/switch/breaker"
	"github.com/acquirer/h2hswitch/switch/config"
	"github.com/acquirer/h2hswitch/switch/engine"
	"github.com/acquirer/h2hswitch/switch/journal"
	"github.com/acquirer/h2hswitch/switch/journal/cardvault"
	"github.com/acquirer/h2hswitch/switch/recon"
	"github.com/acquirer/h2hswitch/switch/standin"
)

const (
	// staleKeyAge is how old an in-flight idempotency key must be before it
	// is taken for one a crash left behind: far beyond any request's life
	// (bank timeouts with failover, replay wait, write timeout).
	staleKeyAge      = 10 * time.Minute
	staleKeyInterval = time.Minute
)

// App is one running switch: journal, bank links, routing table, engine and
// the HTTP API, assembled from the configuration.
type App struct {
	cfg    *config.Config
	log    zerolog.Logger
	reg    *prometheus.Registry
	store  journal.Store
	links  map[string]*banklink.Link
	router *routing.Router
	eng    *engine.Engine
	// breakers are the banks' circuit breakers (engine and operators).
	breakers *breaker.Set
	api      *api.Server
	// recon is reconciliation and settlement (operator endpoints).
	recon *recon.Opened
	// handler serves the API (and /metrics unless metrics.listen is set).
	handler http.Handler
	metrics http.Handler
}

// unsolicited forwards late bank responses to the engine once it exists:
// links start connecting before the engine is built.
type unsolicited struct {
	eng atomic.Pointer[engine.Engine]
	log zerolog.Logger
}

func (u *unsolicited) handle(bank string, msg *iso8583.Message) {
	if e := u.eng.Load(); e != nil {
		e.HandleUnsolicited(bank, msg)
		return
	}
	u.log.Warn().Str("bank", bank).Msg("unsolicited bank message before the engine started; the reversal owed (if any) is already durable in the journal")
}

// Build assembles the switch. On error everything opened so far is closed.
func Build(ctx context.Context, cfg *config.Config, log zerolog.Logger) (_ *App, err error) {
	a := &App{cfg: cfg, log: log, reg: prometheus.NewRegistry(), links: map[string]*banklink.Link{}}
	defer func() {
		if err != nil {
			a.close(context.Background())
		}
	}()
	a.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m, err := newMetrics(a.reg)
	if err != nil {
		return nil, err
	}
	a.metrics = promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{Registry: a.reg})

	j := cfg.Journal
	a.store, err = journal.Open(ctx, journal.Config{
		Driver: j.Driver, DSN: j.DSN, Schema: j.Schema, Synchronous: j.Synchronous, AllowUnsafeSync: j.AllowUnsafeSync,
		BusyTimeout: j.BusyTimeout, MaxConns: j.MaxConns, Committers: j.Committers, MaxBatch: j.MaxBatch, MaxWait: j.MaxWait,
		Hooks: m.journalHooks(),
	})
	if err != nil {
		return nil, fmt.Errorf("opening journal: %w", err)
	}
	vault, err := cardvault.New(cardvault.Config{CurrentKeyID: j.CurrentKey(), Keys: j.PANKeyBytes(), HashKey: j.HMACKeyBytes()})
	if err != nil {
		return nil, fmt.Errorf("building card vault: %w", err)
	}
	reasonTable, err := reasons.Default()
	if err != nil {
		return nil, fmt.Errorf("loading reason tables: %w", err)
	}

	un := &unsolicited{log: log}
	// STANs and RRNs come from blocks reserved in the journal (one write
	// per block, not per payment), shared by the links and the engine.
	seqs := engine.NewSequences(a.store, engine.DefaultSequenceBlock)
	var banks []engine.Bank
	for _, name := range cfg.BankNames() {
		b := cfg.Banks[name]
		d, err := specs.Lookup(b.Dialect)
		if err != nil {
			return nil, fmt.Errorf("banks.%s.dialect: %w", name, err)
		}
		link, err := banklink.Open(banklink.Config{
			Bank: name, Dialect: b.Dialect, Address: b.Addr, Connections: b.Connections, MaxInFlight: b.MaxInFlight,
			Timeout: b.Timeout, EchoInterval: b.EchoInterval, ReadTimeout: b.ReadTimeout,
			TLS: banklink.TLSConfig{Enabled: b.TLS.Enabled, CAFile: b.TLS.CAFile, CertFile: b.TLS.CertFile, KeyFile: b.TLS.KeyFile, ServerName: b.TLS.ServerName},
		}, d,
			banklink.WithLogger(log),
			banklink.WithMetrics(a.reg),
			banklink.WithSTANSource(engine.STANSequence{Store: a.store, Bank: name, Blocks: seqs}),
			banklink.WithOnUnsolicited(un.handle),
		)
		if err != nil {
			return nil, fmt.Errorf("opening bank link %s: %w", name, err)
		}
		a.links[name] = link
		if err := a.reg.Register(linkInFlight(link)); err != nil {
			return nil, fmt.Errorf("registering banks.%s metrics: %w", name, err)
		}
		cutOff, err := cutOffOf(b.Dialect)
		if err != nil {
			return nil, fmt.Errorf("banks.%s: %w", name, err)
		}
		banks = append(banks, engine.Bank{
			Name: name, Dialect: d, Link: link, AcquirerID: b.AcquirerID, CutOff: cutOff,
			SyncTimeout: b.Timeout, RepeatInterval: b.RepeatInterval, RepeatMin: b.RepeatMin,
		})
	}

	a.router, err = routing.NewRouter(routing.RouterConfig{
		Path: cfg.Routing.File, Options: routing.Options{Banks: cfg.BankNames()}, Logger: log, OnReload: m.onReload,
	})
	if err != nil {
		return nil, fmt.Errorf("building router: %w", err)
	}
	if _, err := a.router.Reload(); err != nil {
		return nil, fmt.Errorf("routing.file: %w", err)
	}

	a.breakers, err = newBreakers(cfg, a.reg)
	if err != nil {
		return nil, err
	}
	standInMetrics, err := standin.NewMetrics(a.reg)
	if err != nil {
		return nil, fmt.Errorf("registering stand-in metrics: %w", err)
	}
	standIn, err := standin.New(cfg.StandIn, standin.Options{Journal: a.store, Metrics: standInMetrics})
	if err != nil {
		return nil, fmt.Errorf("standin: %w", err)
	}

	host, _ := os.Hostname()
	a.eng, err = engine.New(engine.Config{
		Store: a.store, Vault: vault, Router: countingRouter{next: engine.RouterFrom(a.router, nil), m: m}, Banks: banks,
		Metrics: a.reg,
		Reasons: engine.ReasonFunc(func(dialect, code string) engine.Reason {
			r := reasonTable.Lookup(dialect, code)
			return engine.Reason{Reason: r.Reason, ReasonCode: r.ReasonCode, ResponseCode: r.ResponseCode, BankResponseCode: r.BankResponseCode}
		}),
		// host:pid plus a random part: two switches in one process (tests)
		// or a restarted container with the same PID never share a lease.
		Owner:  fmt.Sprintf("%s:%d:%s", host, os.Getpid(), journal.NewID("")[16:]),
		Logger: log,
		SAF: engine.SAFPolicy{
			Lease: cfg.SAF.Lease, MaxAge: cfg.SAF.MaxAge, MaxAttempts: cfg.SAF.MaxAttempts, Parallel: cfg.SAF.Parallel,
			RecoverEvery: cfg.SAF.RecoverEvery, RecoverAfter: cfg.SAF.RecoverAfter,
			CommitTimeout: cfg.SAF.CommitTimeout, WriteTimeout: cfg.SAF.WriteTimeout,
		},
		Breaker:   a.breakers,
		StandIn:   standIn,
		Sequences: seqs,
	})
	if err != nil {
		return nil, fmt.Errorf("building engine: %w", err)
	}
	un.eng.Store(a.eng)

	linkViews := make(map[string]adapt.Link, len(a.links))
	for n, l := range a.links {
		linkViews[n] = l
	}
	bankView := adapt.Banks{Links: linkViews, Breakers: a.breakers}
	clients := make([]api.Client, 0, len(cfg.API.Clients))
	for _, name := range sortedClientNames(cfg) {
		c := cfg.API.Clients[name]
		clients = append(clients, api.Client{Name: name, Token: c.Token, Role: c.Role, RateLimit: c.RateLimit})
	}
	opts := api.Options{
		Payments:    adapt.Payments{Engine: a.eng, Messages: reasonTable},
		Idempotency: adapt.Idempotency{Store: a.store},
		Routes:      adapt.Routes{Router: a.router, Usable: bankView.Usable},
		Banks:       bankView,
		SAF:         adapt.SAF{Store: a.store},
		Readiness: []api.Check{
			{Name: "journal", Check: a.store.Ping},
			{Name: "banks", Check: bankView.AnyUsable},
		},
		Clients:        clients,
		BodyLimit:      cfg.API.BodyLimit,
		MaxInFlight:    cfg.API.MaxInFlight,
		ReplayWait:     cfg.API.ReplayWait,
		IdempotencyKey: idempotencyKey(j.HMACKeyBytes()),
		Logger:         log.With().Str("component", "api").Logger(),
		Registry:       a.reg,
	}
	if cfg.Metrics.Listen == "" {
		opts.MetricsHandler = a.metrics
	}
	var reconRoutes []api.OperatorRoute
	if a.recon, reconRoutes, err = openRecon(ctx, cfg, a.store); err != nil {
		return nil, err
	}
	opts.Operator = reconRoutes
	a.api, err = api.New(opts)
	if err != nil {
		return nil, fmt.Errorf("building API: %w", err)
	}
	a.handler = a.api.Handler()
	return a, nil
}

// Handler is the upstream API (and /metrics when metrics.listen is empty).
func (a *App) Handler() http.Handler { return a.handler }

// MetricsHandler serves the switch's Prometheus registry.
func (a *App) MetricsHandler() http.Handler { return a.metrics }

// Registry is the switch's own Prometheus registry (never the global one).
func (a *App) Registry() *prometheus.Registry { return a.reg }

// Close releases what Build opened when the App is not going to be served
// (Serve closes everything itself on return).
func (a *App) Close(ctx context.Context) { a.close(ctx) }

// newBreakers builds one circuit breaker per configured bank (breakers.<bank>
// or the defaults).
func newBreakers(cfg *config.Config, reg prometheus.Registerer) (*breaker.Set, error) {
	m, err := breaker.NewMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("registering breaker metrics: %w", err)
	}
	confs := make(map[string]breaker.Config, len(cfg.Banks))
	for _, name := range cfg.BankNames() {
		confs[name] = cfg.Breakers[name]
	}
	set, err := breaker.NewSet(confs, breaker.Options{Metrics: m})
	if err != nil {
		return nil, fmt.Errorf("breakers: %w", err)
	}
	return set, nil
}

// idempotencyKey derives the API's body-hash key from the journal's HMAC
// key, so one secret covers both and the two uses never share a key.
func idempotencyKey(hmacKey []byte) []byte {
	m := hmac.New(sha256.New, hmacKey)
	m.Write([]byte("h2hswitch/api/idempotency-body-hash/v1"))
	return m.Sum(nil)
}

// cutOffOf is the bank's daily clearing cut-off by dialect (Bank A 23:00,
// Bank B 21:00 Asia/Almaty).
func cutOffOf(dialect string) (time.Duration, error) {
	var cc calendar.Config
	switch dialect {
	case "h2h87-ascii":
		cc = calendar.BankA()
	case "h2h87-binary":
		cc = calendar.BankB()
	default:
		return 0, fmt.Errorf("no clearing calendar for dialect %q", dialect)
	}
	cal, err := calendar.New(cc)
	if err != nil {
		return 0, fmt.Errorf("building calendar: %w", err)
	}
	return cal.CutOff(), nil
}

func sortedClientNames(cfg *config.Config) []string {
	return slices.Sorted(maps.Keys(cfg.API.Clients))
}

// Run serves until ctx ends (SIGTERM/SIGINT), reloading routes on each
// value from hup (SIGHUP), then shuts down gracefully.
func (a *App) Run(ctx context.Context, hup <-chan struct{}) error {
	apiLn, err := net.Listen("tcp", a.cfg.API.Listen)
	if err != nil {
		return fmt.Errorf("api.listen: %w", err)
	}
	var metricsLn net.Listener
	if a.cfg.Metrics.Listen != "" {
		if metricsLn, err = net.Listen("tcp", a.cfg.Metrics.Listen); err != nil {
			apiLn.Close()
			return fmt.Errorf("metrics.listen: %w", err)
		}
	}
	return a.Serve(ctx, apiLn, metricsLn, hup)
}

// Serve is Run on listeners the caller opened (metricsLn may be nil: then
// /metrics is on the API listener unless metrics.listen was configured, in
// which case it is not served). It returns once the switch has drained and
// closed its links and journal.
func (a *App) Serve(ctx context.Context, apiLn, metricsLn net.Listener, hup <-chan struct{}) error {
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() {
		// Its first pass also settles what a crash left pending (Recover)
		// and resumes every queued item whose lease has expired.
		if err := a.eng.RunSAF(workCtx, a.cfg.SAF.Interval, a.cfg.SAF.Batch); err != nil && !errors.Is(err, context.Canceled) {
			a.log.Error().Err(err).Msg("SAF worker stopped")
		}
	})
	wg.Go(func() { a.recoverKeys(workCtx) })
	wg.Go(func() {
		if err := a.router.Watch(workCtx); err != nil {
			a.log.Error().Err(err).Msg("routing table watch stopped; SIGHUP and the reload endpoint still work")
		}
	})
	wg.Go(func() {
		for {
			select {
			case <-workCtx.Done():
				return
			case <-hup:
				if _, err := a.router.Reload(); err != nil {
					a.log.Error().Err(err).Msg("SIGHUP: routing table refused; the table in force stays")
				} else {
					a.log.Info().Msg("SIGHUP: routing table reloaded")
				}
			}
		}
	})

	// WriteTimeout leaves room for a replay's wait and a payment's bank
	// round trips with failover; it only cuts off a connection that hangs.
	apiSrv := &http.Server{Handler: a.handler, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: a.cfg.API.ReplayWait + time.Minute, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 16 << 10}
	errc := make(chan error, 2)
	go func() {
		var err error
		if t := a.cfg.API.TLS; t.CertFile != "" {
			err = apiSrv.ServeTLS(apiLn, t.CertFile, t.KeyFile)
		} else {
			err = apiSrv.Serve(apiLn)
		}
		errc <- err
	}()
	var metricsSrv *http.Server
	if metricsLn != nil {
		metricsSrv = newMetricsServer(a.metricsMux())
		go func() { errc <- metricsSrv.Serve(metricsLn) }()
	}
	a.log.Info().Str("api", apiLn.Addr().String()).Str("metrics", addrOf(metricsLn)).Msg("switch started")

	var runErr error
	select {
	case <-ctx.Done():
		a.log.Info().Msg("shutting down: draining requests")
	case runErr = <-errc:
		a.log.Error().Err(runErr).Msg("listener failed; shutting down")
	}

	// Drain: new requests get 503 shutting_down, in-flight ones finish.
	a.api.Drain()
	sdCtx, cancel := context.WithTimeout(context.Background(), a.cfg.API.ShutdownTimeout)
	defer cancel()
	if err := apiSrv.Shutdown(sdCtx); err != nil {
		a.log.Error().Err(err).Msg("API drain did not finish in time")
		apiSrv.Close()
	}
	if err := a.api.Wait(sdCtx); err != nil {
		a.log.Error().Err(err).Msg("idempotency records not all stored before shutdown (stale-key recovery settles them)")
	}
	if metricsSrv != nil {
		_ = metricsSrv.Shutdown(sdCtx)
	}
	stopWork()
	wg.Wait()
	a.close(sdCtx)
	if errors.Is(runErr, http.ErrServerClosed) {
		runErr = nil
	}
	return runErr
}

// recoverKeys settles idempotency keys a crash left in flight, at start and
// then every staleKeyInterval.
func (a *App) recoverKeys(ctx context.Context) {
	t := time.NewTicker(staleKeyInterval)
	defer t.Stop()
	for {
		settled, left, err := a.api.RecoverStaleKeys(ctx, adapt.StaleKeys{Store: a.store}, staleKeyAge)
		switch {
		case err != nil && ctx.Err() == nil:
			a.log.Error().Err(err).Msg("recovering stale idempotency keys")
		case settled > 0 || left > 0:
			a.log.Warn().Int("settled", settled).Int("left_for_engine", left).Msg("stale idempotency keys")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// newMetricsServer serves /metrics with every timeout set: a scraper (or
// anyone who reaches the port) that stalls while sending its request,
// reading the answer, or idling on a keep-alive connection never holds a
// connection open for long.
func newMetricsServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 60 * time.Second, MaxHeaderBytes: 16 << 10}
}

func addrOf(l net.Listener) string {
	if l == nil {
		return "(api listener)"
	}
	return l.Addr().String()
}

// close signs off and closes the links, then closes the journal last, so
// that anything the links' last answers record still reaches it.
func (a *App) close(ctx context.Context) {
	var wg sync.WaitGroup
	for name, l := range a.links {
		wg.Go(func() {
			if err := l.Close(ctx); err != nil {
				a.log.Warn().Err(err).Str("bank", name).Msg("closing bank link")
			}
		})
	}
	wg.Wait()
	if a.recon != nil {
		if err := a.recon.Close(); err != nil {
			a.log.Warn().Err(err).Msg("closing reconciliation")
		}
	}
	if a.store != nil {
		if err := a.store.Close(); err != nil {
			a.log.Error().Err(err).Msg("closing journal")
		}
	}
}
