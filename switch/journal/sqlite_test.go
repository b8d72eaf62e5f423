package journal_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/acquirer/h2hswitch/switch/journal"
	"github.com/acquirer/h2hswitch/switch/journal/journaltest"
)

// sqliteEnv hands each test its own journal file; later opens for the same
// test reopen that file.
type sqliteEnv struct {
	mu    sync.Mutex
	paths map[*testing.T]string
}

func newSQLiteEnv() *sqliteEnv { return &sqliteEnv{paths: map[*testing.T]string{}} }

func (e *sqliteEnv) path(t *testing.T) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	p, ok := e.paths[t]
	if !ok {
		p = filepath.Join(t.TempDir(), "data", "journal.db")
		e.paths[t] = p
		t.Cleanup(func() {
			e.mu.Lock()
			delete(e.paths, t)
			e.mu.Unlock()
		})
	}
	return p
}

func (e *sqliteEnv) open(t *testing.T) journal.Store {
	t.Helper()
	s, err := journal.Open(context.Background(), journal.Config{Driver: journal.DriverSQLite, DSN: e.path(t)})
	if err != nil {
		t.Fatalf("opening sqlite journal: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// dump returns the database file and its WAL (committed data may still be
// only in the WAL).
func (e *sqliteEnv) dump(t *testing.T) []byte {
	t.Helper()
	p := e.path(t)
	var all []byte
	for _, f := range []string{p, p + "-wal", p + "-shm"} {
		b, err := os.ReadFile(f)
		if err != nil && !os.IsNotExist(err) {
			t.Fatalf("reading %s: %v", f, err)
		}
		all = append(all, b...)
	}
	return all
}

func TestSQLiteConformance(t *testing.T) {
	e := newSQLiteEnv()
	journaltest.Run(t, e.open, journaltest.WithDump(e.dump))
}

func TestSQLiteDurabilitySettings(t *testing.T) {
	e := newSQLiteEnv()
	s := e.open(t)
	if err := s.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The file is created private to the switch's user.
	fi, err := os.Stat(e.path(t))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("journal file mode %v, want 0600", fi.Mode().Perm())
	}
	// WAL mode is on the file itself (the WAL exists after a write).
	if _, err := s.NextSequence(context.Background(), "x"); err != nil {
		t.Fatal(err)
	}
	head, err := os.ReadFile(e.path(t))
	if err != nil {
		t.Fatal(err)
	}
	// Header bytes 18-19 are the read/write format versions: 2 means WAL.
	if len(head) < 20 || head[18] != 2 || head[19] != 2 || !bytes.HasPrefix(head, []byte("SQLite format 3\x00")) {
		t.Fatalf("journal file is not a WAL-mode SQLite database")
	}
}

func TestConfigValidation(t *testing.T) {
	cases := []struct {
		cfg  journal.Config
		want string
	}{
		{journal.Config{Driver: "mysql"}, "journal.driver"},
		{journal.Config{Driver: journal.DriverPostgres}, "journal.dsn"},
		{journal.Config{Driver: journal.DriverSQLite, DSN: "x.db", Synchronous: "NORMAL"}, "journal.synchronous"},
		{journal.Config{Driver: journal.DriverSQLite, DSN: "x.db", Synchronous: "OFF"}, "journal.synchronous"},
		{journal.Config{Driver: journal.DriverPostgres, DSN: "postgres://x", Schema: "a;drop"}, "journal.schema"},
		{journal.Config{Driver: journal.DriverSQLite, DSN: "file:x.db?mode=memory"}, "journal.dsn"},
		{journal.Config{Driver: journal.DriverSQLite, DSN: "x.db", MaxBatch: -1}, "journal.max_batch"},
	}
	for _, c := range cases {
		_, err := journal.Open(context.Background(), c.cfg)
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte(c.want)) {
			t.Errorf("Open(%+v) = %v, want an error naming %s", c.cfg, err, c.want)
		}
	}
}
