// Command banksim runs a reference bank host simulator (Bank A's ASCII or
// Bank B's binary ISO 8583 dialect) with its HTTP control API. All
// behaviour lives in package simulators/banksim; see docs/simulator.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/acquirer/h2hswitch/simulators/banksim"
	"github.com/acquirer/h2hswitch/simulators/control"
)

func main() {
	cmd, _ := newCommand()
	if err := cmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "banksim:", err)
		os.Exit(1)
	}
}

type flags struct {
	config, dialect, listen, control, acquirerID, logLevel string
	lateDelay, echoInterval, echoTimeout                   time.Duration
	maxConns                                               int
	feePercent, cutOff, timeZone, tlsCert, tlsKey          string
	feeFixed, amountRules                                  map[string]string
	holidays, workingDays                                  []string
	seed                                                   uint64
}

// newCommand builds the command; the flags it binds are returned for tests.
func newCommand() (*cobra.Command, *flags) {
	f := new(flags)
	cmd := &cobra.Command{
		Use:   "banksim",
		Short: "Reference bank host simulator (ISO 8583 h2h87-ascii / h2h87-binary)",
		Long: `banksim simulates an acquiring bank's host-to-host ISO 8583 host.
Outcomes are chosen by the request: test cards and the last two digits of the
amount (see docs/simulator.md). Flags override the YAML file given by --config;
card_rules (test PANs with a fixed answer) are set in that file only.

Control API (HTTP/JSON on --control, no authentication: keep it on localhost):
  GET /health                      status, dialect and counters
  GET|POST|DELETE /faults          faults in force; POST changes the fields given:
                                   {"stop_answering":true} {"delay_ms":800}
                                   {"refuse_connections":true} {"garbage":"framed"|"raw"}
                                   {"stop_echoes":true}
  POST /faults/drop-connections    close every open connection now
  GET /ledger[?rrn=...]            approved transactions; DELETE /ledger forgets them
  GET /clearing?date=YYYY-MM-DD    the clearing file of a settlement day
  POST /clearing                   the same with injected chargebacks and breaks`,
		Example: `  banksim --dialect h2h87-ascii --listen 127.0.0.1:9001 --control 127.0.0.1:9101
  banksim --config banksim-b.yaml --echo-interval 5s   # YAML keys as in docs/simulator.md`,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(cmd, *f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", "YAML configuration file (keys as in docs/simulator.md)")
	fl.StringVar(&f.dialect, "dialect", "", "h2h87-ascii (Bank A) or h2h87-binary (Bank B)")
	fl.StringVar(&f.listen, "listen", "127.0.0.1:9001", "ISO 8583 listen address")
	fl.StringVar(&f.control, "control", "127.0.0.1:9101", "HTTP control API listen address (empty: off)")
	fl.StringVar(&f.acquirerID, "acquirer-id", "", "the only DE32 accepted and Bank B's clearing header ID (empty: any)")
	fl.DurationVar(&f.lateDelay, "late-delay", banksim.DefaultLateDelay, "delay of the answer to amounts ending in 98")
	fl.DurationVar(&f.echoInterval, "echo-interval", 0, "host 0800 301 interval per signed-on connection (default 20s for Bank B, off for Bank A; negative: off)")
	fl.DurationVar(&f.echoTimeout, "echo-timeout", banksim.DefaultEchoTimeout, "close a connection whose 0810 to a host echo is later than this")
	fl.IntVar(&f.maxConns, "max-connections", 0, "maximum concurrent connections (0: no cap)")
	fl.StringVar(&f.feePercent, "fee-percent", "", "fee per sale in percent, half up to the minor unit (default 2.0 for A, 1.8 for B)")
	fl.StringToStringVar(&f.feeFixed, "fee-fixed", nil, "fixed fee per sale in minor units by currency, e.g. KZT=2500 (Bank B default)")
	fl.StringVar(&f.cutOff, "cut-off", "", "clearing cut-off, bank time HH:MM (default 23:00 for A, 21:00 for B)")
	fl.StringVar(&f.timeZone, "time-zone", "", "bank time zone (default Asia/Almaty)")
	fl.StringSliceVar(&f.holidays, "holidays", nil, "bank holidays, YYYY-MM-DD, comma separated")
	fl.StringSliceVar(&f.workingDays, "working-days", nil, "Saturdays or Sundays declared business days, YYYY-MM-DD, comma separated")
	fl.StringToStringVar(&f.amountRules, "amount-rule", nil, "override an amount rule: last two digits=code|approve|close|late|silent, e.g. 51=05")
	fl.Uint64Var(&f.seed, "auth-code-seed", 0, "seed of authorization codes and network transaction IDs")
	fl.StringVar(&f.tlsCert, "tls-cert", "", "PEM certificate file: serve TLS 1.2+ (with --tls-key); default plain TCP")
	fl.StringVar(&f.tlsKey, "tls-key", "", "PEM private key file of --tls-cert")
	fl.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	return cmd, f
}

func run(cmd *cobra.Command, f flags) error {
	fc, err := buildConfig(cmd, f)
	if err != nil {
		return err
	}
	lvl, err := zerolog.ParseLevel(fc.LogLevel)
	if err != nil {
		return fmt.Errorf("log_level: %w", err)
	}
	log := zerolog.New(os.Stderr).Level(lvl).With().Timestamp().Logger()
	fc.Config.Logger = log
	sim, err := banksim.New(fc.Config)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := sim.Start(ctx); err != nil {
		return err
	}
	defer sim.Close()

	errc := make(chan error, 1)
	var srv *http.Server
	if fc.Control != "" {
		ln, err := net.Listen("tcp", fc.Control)
		if err != nil {
			return fmt.Errorf("control: listening on %s: %w", fc.Control, err)
		}
		// Bounded timeouts: a stuck client must not hold the control API open.
		// Writes get minutes because a large clearing file takes a while.
		srv = &http.Server{Handler: control.NewHandler(sim, log), ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout: 30 * time.Second, WriteTimeout: 5 * time.Minute, IdleTimeout: 2 * time.Minute}
		log.Info().Str("addr", ln.Addr().String()).Msg("control API listening")
		go func() { errc <- srv.Serve(ln) }()
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("control API: %w", err)
		}
	}
	log.Info().Msg("shutting down")
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}
	return sim.Close()
}

// buildConfig merges the YAML file (if any) and the flags the user set.
func buildConfig(cmd *cobra.Command, f flags) (banksim.FileConfig, error) {
	var fc banksim.FileConfig
	if f.config != "" {
		var err error
		if fc, err = banksim.LoadConfigFile(f.config); err != nil {
			return fc, err
		}
	}
	changed := cmd.Flags().Changed
	cfg := &fc.Config
	if changed("dialect") || cfg.Dialect == "" {
		cfg.Dialect = f.dialect
	}
	if changed("listen") || cfg.Listen == "" {
		cfg.Listen = f.listen
	}
	if changed("control") || (fc.Control == "" && f.config == "") {
		fc.Control = f.control
	}
	if changed("acquirer-id") {
		cfg.AcquirerID = f.acquirerID
	}
	if changed("late-delay") {
		cfg.LateDelay = f.lateDelay
	}
	if changed("echo-interval") {
		cfg.EchoInterval = f.echoInterval
	}
	if changed("echo-timeout") {
		cfg.EchoTimeout = f.echoTimeout
	}
	if changed("max-connections") {
		cfg.MaxConnections = f.maxConns
	}
	if changed("fee-percent") {
		cfg.Fees.Percent = f.feePercent
	}
	if changed("fee-fixed") {
		cfg.Fees.FixedPerSale = map[string]int64{}
		for cur, v := range f.feeFixed {
			var n int64
			if _, err := fmt.Sscan(v, &n); err != nil {
				return fc, fmt.Errorf("--fee-fixed %s: %q is not an integer", cur, v)
			}
			cfg.Fees.FixedPerSale[strings.ToUpper(cur)] = n
		}
	}
	if changed("cut-off") {
		cfg.Calendar.CutOff = f.cutOff
	}
	if changed("time-zone") {
		cfg.Calendar.TimeZone = f.timeZone
	}
	if changed("holidays") {
		cfg.Calendar.Holidays = f.holidays
	}
	if changed("working-days") {
		cfg.Calendar.WorkingDays = f.workingDays
	}
	if changed("amount-rule") {
		if cfg.AmountRules == nil {
			cfg.AmountRules = map[string]string{}
		}
		for k, v := range f.amountRules {
			cfg.AmountRules[k] = v
		}
	}
	if changed("tls-cert") {
		cfg.TLSCertFile = f.tlsCert
	}
	if changed("tls-key") {
		cfg.TLSKeyFile = f.tlsKey
	}
	if changed("auth-code-seed") {
		cfg.AuthCodeSeed = f.seed
	}
	if changed("log-level") || fc.LogLevel == "" {
		fc.LogLevel = f.logLevel
	}
	return fc, nil
}
