package chaos

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestChaosReduced runs a reduced matrix in `make test`: a real switchd
// (built from this tree) with lost responses, then SIGKILLed mid-load and
// restarted, each compared payment by payment with the simulators'
// ledgers. The full matrix (every case, PostgreSQL, more payments) is
// `make chaos`.
func TestChaosReduced(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs switchd processes")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "switchd")
	build := exec.Command("go", "build", "-o", bin, "github.com/acquirer/h2hswitch/cmd/switchd")
	build.Env = os.Environ()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building switchd: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var log strings.Builder
	results := Run(ctx, Options{
		Switchd: bin, Dir: dir, Payments: 40, Workers: 4, Seed: 1,
		Cases: []string{"lost-response-99", "switchd-sigkill"}, Log: &log,
	})
	var table strings.Builder
	Table(&table, results)
	t.Logf("\n%s", table.String())
	if len(results) != 2 {
		t.Fatalf("ran %d cases, want 2", len(results))
	}
	for _, r := range results {
		if !r.Pass() {
			t.Errorf("%s failed: %v\n%s", r.Case, r.Err, log.String())
			if r.Report != nil {
				for _, m := range r.Report.Mismatches {
					t.Errorf("%s: %s", r.Case, m)
				}
			}
		}
	}
}
