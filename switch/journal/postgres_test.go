package journal_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/acquirer/h2hswitch/switch/journal"
	"github.com/acquirer/h2hswitch/switch/journal/journaltest"
)

const defaultPGDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// pgDSN returns the test database, skipping only when SWITCH_TEST_PG=off
// says so explicitly: an unreachable PostgreSQL fails the tests.
func pgDSN(tb testing.TB) string {
	tb.Helper()
	if os.Getenv("SWITCH_TEST_PG") == "off" {
		tb.Skip("SWITCH_TEST_PG=off")
	}
	if dsn := os.Getenv("SWITCH_TEST_PG_DSN"); dsn != "" {
		return dsn
	}
	return defaultPGDSN
}

// pgEnv gives each test a fresh schema journal_test_<random>, dropped when
// the test ends; later opens for the same test use the same schema.
type pgEnv struct {
	dsn     string
	mu      sync.Mutex
	schemas map[testing.TB]string
}

func newPGEnv(tb testing.TB) *pgEnv {
	return &pgEnv{dsn: pgDSN(tb), schemas: map[testing.TB]string{}}
}

func (e *pgEnv) admin(tb testing.TB, sql string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, e.dsn)
	if err != nil {
		tb.Fatalf("PostgreSQL at %s is unreachable (set SWITCH_TEST_PG=off to skip): %v", e.dsn, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
}

func (e *pgEnv) schema(tb testing.TB) string {
	e.mu.Lock()
	s, ok := e.schemas[tb]
	e.mu.Unlock()
	if ok {
		return s
	}
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	s = "journal_test_" + hex.EncodeToString(b)
	e.admin(tb, "CREATE SCHEMA "+s)
	tb.Cleanup(func() {
		e.admin(tb, "DROP SCHEMA "+s+" CASCADE")
		e.mu.Lock()
		delete(e.schemas, tb)
		e.mu.Unlock()
	})
	e.mu.Lock()
	e.schemas[tb] = s
	e.mu.Unlock()
	return s
}

func (e *pgEnv) config(tb testing.TB) journal.Config {
	return journal.Config{Driver: journal.DriverPostgres, DSN: e.dsn, Schema: e.schema(tb), MaxConns: 4}
}

func (e *pgEnv) open(t *testing.T) journal.Store {
	t.Helper()
	s, err := journal.Open(context.Background(), e.config(t))
	if err != nil {
		t.Fatalf("opening postgres journal: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// dump renders every row of every table of the test's schema as text
// (bytea shows as hex, which the suite also searches).
func (e *pgEnv) dump(t *testing.T) []byte {
	t.Helper()
	schema := e.schema(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, e.dsn)
	if err != nil {
		t.Fatalf("connecting for dump: %v", err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = $1`, schema)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	for _, tbl := range tables {
		var text *string
		q := fmt.Sprintf(`SELECT string_agg(t::text, E'\n') FROM %s.%s t`, pgx.Identifier{schema}.Sanitize(), pgx.Identifier{tbl}.Sanitize())
		if err := conn.QueryRow(ctx, q).Scan(&text); err != nil {
			t.Fatalf("dumping %s: %v", tbl, err)
		}
		if text != nil {
			out = append(out, *text...)
			out = append(out, '\n')
		}
	}
	return out
}

func TestPostgresConformance(t *testing.T) {
	e := newPGEnv(t)
	journaltest.Run(t, e.open, journaltest.WithDump(e.dump))
}
