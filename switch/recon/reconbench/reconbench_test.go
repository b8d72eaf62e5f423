package reconbench

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/acquirer/h2hswitch/switch/recon"
)

// TestRunSmall runs the benchmark pipeline on 3000 payments of each bank and
// checks the planted breaks: payment 50 left out of the file, payment 51
// cleared 1 tiyn high, one row unknown to the journal; 60 refunds (every
// 50th payment from 7) and 300 completed pre-authorizations all match.
func TestRunSmall(t *testing.T) {
	for _, bank := range []string{"alfa", "sber"} {
		t.Run(bank, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			rep, err := Run(ctx, Params{Rows: 3000, Bank: bank, Dir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			want := map[recon.Category]int64{
				recon.Matched:           2998, // 3000 − missing − mismatch
				recon.RefundMatched:     60,
				recon.MissingInClearing: 1,
				recon.AmountMismatch:    1,
				recon.UnknownInJournal:  1,
			}
			if len(rep.Counts) != len(want) {
				t.Fatalf("counts %v, want %v", rep.Counts, want)
			}
			for c, n := range want {
				if rep.Counts[c] != n {
					t.Fatalf("%s: %d, want %d (all: %v)", c, rep.Counts[c], n, rep.Counts)
				}
			}
			if rep.Breaks != 3 || rep.PeakRSSKiB <= 0 || rep.RowsPerSecond <= 0 {
				t.Fatalf("report %+v", rep)
			}
		})
	}
}

// BenchmarkRecon1M reconciles a 1 000 000-row clearing file against a
// journal holding those payments (RECON_BENCH_ROWS overrides the size,
// RECON_BENCH_BANK the bank). Run with
//
//	go test -run X -bench Recon1M -benchtime 1x -timeout 30m ./switch/recon/reconbench
func BenchmarkRecon1M(b *testing.B) {
	rows := 1_000_000
	if s := os.Getenv("RECON_BENCH_ROWS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatal(err)
		}
		rows = n
	}
	bank := os.Getenv("RECON_BENCH_BANK")
	for range b.N {
		rep, err := Run(context.Background(), Params{Rows: rows, Bank: bank, Dir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(rep.RowsPerSecond, "rows/s")
		b.ReportMetric(rep.ReconElapsed.Seconds(), "recon-s")
		b.ReportMetric(float64(rep.PeakRSSKiB)/1024, "peak-MiB")
		b.ReportMetric(rep.LoadElapsed.Seconds(), "load-s")
		b.Log(rep.String())
	}
}
