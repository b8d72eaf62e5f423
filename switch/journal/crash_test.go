package journal_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acquirer/h2hswitch/switch/journal"
	"github.com/acquirer/h2hswitch/switch/journal/cardvault"
)

// The crash tests run a child process (this test binary) that writes
// payments from 16 goroutines and prints each id once its write is
// acknowledged; the parent SIGKILLs it mid-stream, reopens the journal and
// checks that every acknowledged payment, with its operation, is there.

const (
	envCrashHelper = "JOURNAL_CRASH_HELPER"
	envCrashDriver = "JOURNAL_CRASH_DRIVER"
	envCrashDSN    = "JOURNAL_CRASH_DSN"
	envCrashSchema = "JOURNAL_CRASH_SCHEMA"
	ackPrefix      = "ACK "
	acksBeforeKill = 150
)

func TestSQLiteCrashKeepsAckedWrites(t *testing.T) {
	e := newSQLiteEnv()
	crashTest(t, journal.Config{Driver: journal.DriverSQLite, DSN: e.path(t)})
}

func TestPostgresCrashKeepsAckedWrites(t *testing.T) {
	e := newPGEnv(t)
	crashTest(t, e.config(t))
}

func crashTest(t *testing.T, cfg journal.Config) {
	// Create the schema first so that the child only appends.
	s, err := journal.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), envCrashHelper+"=1", envCrashDriver+"="+cfg.Driver, envCrashDSN+"="+cfg.DSN, envCrashSchema+"="+cfg.Schema)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []string
	sc := bufio.NewScanner(out)
	deadline := time.AfterFunc(60*time.Second, func() { _ = cmd.Process.Kill() })
	defer deadline.Stop()
	for sc.Scan() {
		if id, ok := strings.CutPrefix(sc.Text(), ackPrefix); ok {
			acked = append(acked, id)
			if len(acked) == acksBeforeKill {
				break
			}
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatalf("killing the writer: %v", err)
	}
	_ = cmd.Wait()
	if len(acked) < acksBeforeKill {
		t.Fatalf("writer acknowledged only %d payments before it ended", len(acked))
	}

	s, err = journal.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("reopening after the crash: %v", err)
	}
	defer s.Close()
	ctx := context.Background()
	for _, id := range acked {
		p, err := s.GetPayment(ctx, id)
		if err != nil {
			t.Fatalf("acknowledged payment %s lost in the crash: %v", id, err)
		}
		ops, err := s.ListOperations(ctx, p.ID)
		if err != nil || len(ops) != 1 {
			t.Fatalf("payment %s has %d operations after the crash (%v)", id, len(ops), err)
		}
	}
}

// TestCrashHelper is the child process of the crash tests; it does nothing
// in a normal run.
func TestCrashHelper(t *testing.T) {
	if os.Getenv(envCrashHelper) != "1" {
		t.Skip("child process of the crash tests")
	}
	cfg := journal.Config{Driver: os.Getenv(envCrashDriver), DSN: os.Getenv(envCrashDSN), Schema: os.Getenv(envCrashSchema)}
	s, err := journal.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	key, hkey := make([]byte, 32), make([]byte, 32)
	_, _ = rand.Read(key)
	_, _ = rand.Read(hkey)
	v, err := cardvault.New(cardvault.Config{CurrentKeyID: 1, Keys: map[uint32][]byte{1: key}, HashKey: hkey})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				id := journal.NewPaymentID()
				card, err := journal.SealCard(v, id, "4000000000000028", "2812", "")
				if err != nil {
					panic(err)
				}
				p := &journal.Payment{ID: id, Client: "crash", RequestID: fmt.Sprintf("c-%d-%d", w, i), Type: journal.TypePurchase,
					Status: journal.PaymentPending, Amount: 100, Currency: "KZT", Card: card}
				op := &journal.Operation{Kind: journal.OpAuthorization, MTI: "0200", Amount: 100, Currency: "KZT", Status: journal.OpPending}
				if err := s.CreatePayment(context.Background(), p, op); err != nil {
					panic(err)
				}
				mu.Lock()
				fmt.Println(ackPrefix + id)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}
