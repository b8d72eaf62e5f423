package journal

import (
	"context"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The two drivers differ only in how they are opened, how a few statements
// are spelt and how their errors look; everything else is shared SQL run
// through these small interfaces (database/sql for SQLite, pgx for
// PostgreSQL).

// querier runs statements; the SQL is written with '?' placeholders and
// rebound by the backend.
type querier interface {
	exec(ctx context.Context, q string, args ...any) (rowsAffected int64, err error)
	query(ctx context.Context, q string, args ...any) (rowIter, error)
}

// rowIter is the part of sql.Rows / pgx.Rows the store uses.
type rowIter interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// tx is one write transaction.
type tx interface {
	querier
	commit(ctx context.Context) error
	rollback(ctx context.Context) error
}

// backend is a driver.
type backend interface {
	name() string
	// begin starts a write transaction.
	begin(ctx context.Context) (tx, error)
	// reader runs reads outside any write transaction.
	reader() querier
	// isUnique reports whether err is a unique-constraint violation.
	isUnique(err error) bool
	// isForeignKey reports whether err is a foreign-key violation.
	isForeignKey(err error) bool
	// claimSQL is ClaimDue's statement (dialect-specific locking).
	claimSQL() string
	ping(ctx context.Context) error
	close() error
}

// rebindDollar turns '?' placeholders into $1, $2 ... (PostgreSQL). The
// store's SQL never has '?' inside string literals.
func rebindDollar(q string) string {
	if !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// textArgs makes every string argument storable in a TEXT column of both
// databases: valid UTF-8 without NUL (PostgreSQL refuses both, and a bank
// answering garbage in DE38 must not make an approval unrecordable). Clean
// strings are passed through without copying.
func textArgs(args []any) []any {
	var out []any
	for i, a := range args {
		s, ok := a.(string)
		if !ok || (utf8.ValidString(s) && !strings.ContainsRune(s, 0)) {
			continue
		}
		if out == nil {
			out = append([]any(nil), args...)
		}
		out[i] = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
	}
	if out == nil {
		return args
	}
	return out
}

// queryOne runs q and scans its first row into dest; ErrNotFound when there
// is none.
func queryOne(ctx context.Context, q querier, sql string, args []any, dest ...any) error {
	rows, err := q.query(ctx, sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return ErrNotFound
	}
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	return rows.Err()
}

// Times are stored as microseconds since the Unix epoch (UTC), 0 meaning
// "not set": the same integer column type on both drivers, exact ordering,
// no time-zone surprises. Local times (DE12/13) keep their instant; the bank's
// zone is re-applied by the caller.
func toUS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromUS(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}
