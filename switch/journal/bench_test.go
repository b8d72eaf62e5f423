package journal_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/acquirer/h2hswitch/switch/journal"
	"github.com/acquirer/h2hswitch/switch/journal/cardvault"
)

// benchWriters is the number of concurrent writers the commit benchmarks
// model (payments in flight at once).
const benchWriters = 64

// BenchmarkCommitSQLite measures durable commits (payment + authorization
// operation, the write that precedes every authorization) with 64
// concurrent writers on a SQLite journal with synchronous=FULL.
func BenchmarkCommitSQLite(b *testing.B) {
	dir := b.TempDir()
	benchCommit(b, journal.Config{Driver: journal.DriverSQLite, DSN: dir + "/journal.db"})
}

// BenchmarkCommitPostgres is the same against PostgreSQL.
func BenchmarkCommitPostgres(b *testing.B) {
	e := newPGEnv(b)
	benchCommit(b, e.config(b))
}

func benchCommit(b *testing.B, cfg journal.Config) {
	var txns, writes atomic.Int64
	cfg.Hooks = &journal.Hooks{OnCommit: func(n int, _ time.Duration, err error) {
		if err == nil {
			txns.Add(1)
			writes.Add(int64(n))
		}
	}}
	s, err := journal.Open(context.Background(), cfg)
	if err != nil {
		b.Fatalf("opening journal: %v", err)
	}
	defer s.Close()
	key, hkey := make([]byte, 32), make([]byte, 32)
	_, _ = rand.Read(key)
	_, _ = rand.Read(hkey)
	v, err := cardvault.New(cardvault.Config{CurrentKeyID: 1, Keys: map[uint32][]byte{1: key}, HashKey: hkey})
	if err != nil {
		b.Fatal(err)
	}
	var (
		mu   sync.Mutex
		hist = hdrhistogram.New(1, int64(time.Minute/time.Microsecond), 3)
		seq  atomic.Int64
	)
	b.SetParallelism(max(1, benchWriters/runtime.GOMAXPROCS(0)))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		local := hdrhistogram.New(1, int64(time.Minute/time.Microsecond), 3)
		ctx := context.Background()
		for pb.Next() {
			n := seq.Add(1)
			id := journal.NewPaymentID()
			card, err := journal.SealCard(v, id, "4000000000000010", "2812", "")
			if err != nil {
				b.Error(err)
				return
			}
			p := &journal.Payment{ID: id, Client: "bench", RequestID: fmt.Sprintf("r-%d", n), Type: journal.TypePurchase,
				Status: journal.PaymentPending, Amount: 150000, Currency: "KZT", Card: card, Bank: "alfa",
				Merchant: journal.Merchant{ID: "M00000000000123", TerminalID: "T0000123", MCC: "5411", Name: "DEMO SHOP", City: "ALMATY", Country: "KZ"}}
			op := &journal.Operation{Kind: journal.OpAuthorization, Bank: "alfa", MTI: "0200", Amount: 150000, Currency: "KZT", Status: journal.OpPending}
			t0 := time.Now()
			if err := s.CreatePayment(ctx, p, op); err != nil {
				b.Error(err)
				return
			}
			_ = local.RecordValue(time.Since(t0).Microseconds())
		}
		mu.Lock()
		hist.Merge(local)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "commits/s")
	b.ReportMetric(float64(hist.ValueAtQuantile(50))/1000, "p50_ms")
	b.ReportMetric(float64(hist.ValueAtQuantile(99))/1000, "p99_ms")
	if t := txns.Load(); t > 0 {
		b.ReportMetric(float64(writes.Load())/float64(t), "writes/txn")
	}
}
