// Command switchd is the acquirer switch: it loads its configuration,
// opens the journal, connects to the banks, loads the routing table and
// serves the upstream API. SIGHUP reloads the routing table; SIGTERM or
// SIGINT drains requests, signs off the bank links and closes the journal.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	_ "time/tzdata" // Asia/Almaty even on hosts without a tz database

	"github.com/acquirer/h2hswitch/switch/app"
	"github.com/acquirer/h2hswitch/switch/config"
)

func main() {
	path := flag.String("config", "configs/switch.yaml", "configuration file (YAML); SWITCH_* variables override its keys")
	flag.Parse()
	if err := run(*path); err != nil {
		fmt.Fprintln(os.Stderr, "switchd:", err)
		os.Exit(1)
	}
}

func run(path string) error {
	cfg, warnings, err := config.Load(path)
	if err != nil {
		return err
	}
	log := newLogger(cfg.Log)
	for _, w := range warnings {
		log.Warn().Msg(w)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hupSig := make(chan os.Signal, 1)
	signal.Notify(hupSig, syscall.SIGHUP)
	defer signal.Stop(hupSig)
	hup := make(chan struct{}, 1)
	go func() {
		for range hupSig {
			select {
			case hup <- struct{}{}:
			default: // a reload is already pending
			}
		}
	}()

	a, err := app.Build(ctx, cfg, log)
	if err != nil {
		return err
	}
	return a.Run(ctx, hup)
}
