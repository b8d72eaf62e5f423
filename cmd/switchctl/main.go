// Command switchctl is the operator's command line: reconciliation of the
// banks' clearing files (recon), merchant settlement (settlement) and the
// reconciliation benchmark (bench-recon). The commands live in package
// switch/recon/cli.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	_ "time/tzdata" // Asia/Almaty even on hosts without a tz database

	"github.com/acquirer/h2hswitch/switch/recon/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := cli.Execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
