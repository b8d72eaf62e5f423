// Command chaos runs the switch's failure matrix (bench/chaos): real
// switchd processes against the reference bank simulators, faults
// injected, queue drained, then the simulators' ledgers compared with the
// switch's journal payment by payment. It prints the table and exits 1 when
// any case fails or finds a mismatch.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/acquirer/h2hswitch/bench/chaos"
)

func main() {
	switchd := flag.String("switchd", "bin/switchd", "switchd binary (make build)")
	dir := flag.String("dir", "", "work directory for configs, journals and logs (default: a new temporary directory)")
	payments := flag.Int("payments", 120, "payments per case")
	workers := flag.Int("workers", 8, "concurrent gateway requests")
	pg := flag.String("pg", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "PostgreSQL DSN of the two-process case; empty skips it")
	cases := flag.String("cases", "", "comma-separated case names (default: all)")
	seed := flag.Uint64("seed", 0, "load seed (0: time-based)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *dir == "" {
		d, err := os.MkdirTemp("", "chaos-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "chaos:", err)
			os.Exit(2)
		}
		*dir = d
	}
	bin, err := filepath.Abs(*switchd)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(2)
	}
	o := chaos.Options{Switchd: bin, Dir: *dir, Payments: *payments, Workers: *workers, PostgresDSN: *pg, Seed: *seed, Log: os.Stderr}
	if *cases != "" {
		o.Cases = strings.Split(*cases, ",")
	}
	host, _ := os.Hostname()
	start := time.Now()
	results := chaos.Run(ctx, o)
	fmt.Printf("chaos matrix, %s, host %s, %d payments per case, work dir %s\n\n", start.UTC().Format(time.RFC3339), host, o.Payments, *dir)
	chaos.Table(os.Stdout, results)
	failed := false
	for _, r := range results {
		if !r.Pass() {
			failed = true
			if r.Err != nil {
				fmt.Printf("\n%s: %v\n", r.Case, r.Err)
			}
			if r.Report != nil {
				for _, m := range r.Report.Mismatches {
					fmt.Printf("%s: %s\n", r.Case, m)
				}
			}
		}
	}
	if failed {
		os.Exit(1)
	}
}
