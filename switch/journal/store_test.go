package journal_test

import (
	"bytes"
	"context"
	"database/sql"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acquirer/h2hswitch/switch/journal"
)

// TestSQLiteRefusesNewerSchema: a binary must not write a schema a newer
// binary migrated.
func TestSQLiteRefusesNewerSchema(t *testing.T) {
	e := newSQLiteEnv()
	s := e.open(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", e.path(t))
	if err != nil {
		t.Fatal(err)
	}
	var applied int
	if err := db.QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&applied); err != nil {
		t.Fatal(err)
	}
	want, err := journal.SchemaVersion(journal.DriverSQLite)
	if err != nil || int64(applied) != want {
		t.Fatalf("%d migrations recorded, binary has %d (%v)", applied, want, err)
	}
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, name, applied_us) VALUES (9999, '9999_future.sql', 0)`); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = journal.Open(context.Background(), journal.Config{DSN: e.path(t)})
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("Open on a newer schema: %v", err)
	}
}

// TestSQLiteDumpSeesClearText proves the conformance suite's at-rest scan
// can see a PAN in the SQLite file, so its "not found" means something.
func TestSQLiteDumpSeesClearText(t *testing.T) {
	e := newSQLiteEnv()
	s := e.open(t)
	if _, err := s.NextSequence(context.Background(), "x"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", e.path(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`INSERT INTO sequences (name, value) VALUES ('leak 4000000000000010', 1)`); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(e.dump(t), []byte("4000000000000010")) {
		t.Fatal("dump does not show text written to the database")
	}
}

// TestGroupCommitBatches: concurrent writers share transactions, and each
// still gets its own result.
func TestGroupCommitBatches(t *testing.T) {
	var maxBatch, txns atomic.Int64
	e := newSQLiteEnv()
	s, err := journal.Open(context.Background(), journal.Config{DSN: e.path(t), Hooks: &journal.Hooks{
		OnCommit: func(n int, _ time.Duration, err error) {
			txns.Add(1)
			for {
				m := maxBatch.Load()
				if int64(n) <= m || maxBatch.CompareAndSwap(m, int64(n)) {
					break
				}
			}
		}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const writers = 64
	var wg sync.WaitGroup
	got := make([]int64, writers)
	errs := make([]error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = s.NextSequence(context.Background(), "batch")
		}()
	}
	wg.Wait()
	seen := map[int64]bool{}
	for i := range writers {
		if errs[i] != nil || seen[got[i]] || got[i] < 1 || got[i] > writers {
			t.Fatalf("writer %d: %d %v", i, got[i], errs[i])
		}
		seen[got[i]] = true
	}
	if maxBatch.Load() < 2 || txns.Load() >= writers {
		t.Fatalf("64 concurrent writes took %d transactions, largest batch %d: no group commit", txns.Load(), maxBatch.Load())
	}
}

// TestWriteContextDeadline: a caller whose context ends while waiting gets
// its context error; the store keeps working for others.
func TestWriteContextDeadline(t *testing.T) {
	e := newSQLiteEnv()
	s := e.open(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	time.Sleep(time.Millisecond)
	if _, err := s.NextSequence(ctx, "d"); err == nil || ctx.Err() == nil {
		t.Fatalf("expired context: %v", err)
	}
	if n, err := s.NextSequence(context.Background(), "d"); err != nil || n != 1 {
		t.Fatalf("after an expired write: %d %v", n, err)
	}
}
