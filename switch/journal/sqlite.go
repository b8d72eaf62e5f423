package journal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// SQLite: one file in WAL mode. Writes go through a single connection
// (SQLite has one writer; the committer is its only user) whose transactions
// start IMMEDIATE so that another process is waited for (busy_timeout) at
// BEGIN rather than failing at the first write. Reads use a separate pool
// that WAL lets run beside the writer.
type sqliteBackend struct {
	w *sql.DB
	r *sql.DB
	// Prepared statements (SQLite parses and plans a statement's text on
	// every unprepared call, which was a quarter of the switch's CPU).
	// The writer has one connection, held by the open transaction, so a
	// statement first seen inside a transaction is prepared once that
	// transaction has ended (stmtCache.pending).
	ws *stmtCache
	rs *stmtCache
	// ckpt copies the WAL into the database file in the background
	// (checkpointer), so that the committer does not stall on it.
	ckpt *checkpointer
}

func sqliteDSN(path string, cfg Config, write bool) string {
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", cfg.BusyTimeout.Milliseconds()))
	q.Add("_pragma", "synchronous("+strings.ToUpper(cfg.Synchronous)+")")
	q.Add("_pragma", "foreign_keys(1)")
	if write {
		q.Set("_txlock", "immediate")
		// The checkpointer runs checkpoints beside the writer; the
		// writer checkpoints itself only if the WAL grows past this
		// many pages (≈ 80 MB) because the checkpointer fell behind.
		q.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", walAutoCheckpointPages))
	} else {
		q.Add("_pragma", "query_only(1)")
	}
	return "file:" + path + "?" + q.Encode()
}

func openSQLite(ctx context.Context, cfg Config) (backend, error) {
	path := cfg.DSN
	if strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("journal.dsn: give the SQLite journal as a plain file path, got %q", path)
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("journal: creating directory for %s: %w", path, err)
		}
	}
	w, err := sql.Open("sqlite", sqliteDSN(path, cfg, true))
	if err != nil {
		return nil, fmt.Errorf("journal: opening sqlite %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	// Create the file and switch it to WAL before readers open it.
	if err := w.PingContext(ctx); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("journal: opening sqlite %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("journal: restricting permissions of %s: %w", path, err)
	}
	var mode string
	if err := w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || !strings.EqualFold(mode, "wal") {
		_ = w.Close()
		return nil, fmt.Errorf("journal: sqlite %s is not in WAL mode (%q): %v", path, mode, err)
	}
	r, err := sql.Open("sqlite", sqliteDSN(path, cfg, false))
	if err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("journal: opening sqlite %s for reading: %w", path, err)
	}
	r.SetMaxOpenConns(cfg.MaxConns)
	r.SetMaxIdleConns(cfg.MaxConns)
	c, err := sql.Open("sqlite", sqliteDSN(path, cfg, false))
	if err != nil {
		_ = r.Close()
		_ = w.Close()
		return nil, fmt.Errorf("journal: opening sqlite %s for checkpoints: %w", path, err)
	}
	c.SetMaxOpenConns(1)
	return &sqliteBackend{w: w, r: r, ws: newStmtCache(w), rs: newStmtCache(r), ckpt: startCheckpointer(c, checkpointEvery)}, nil
}

func (b *sqliteBackend) name() string { return DriverSQLite }

func (b *sqliteBackend) begin(ctx context.Context) (tx, error) {
	t, err := b.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return &sqlTx{t: t, stmts: b.ws}, nil
}

func (b *sqliteBackend) reader() querier { return sqlDB{db: b.r, stmts: b.rs} }

func (b *sqliteBackend) isUnique(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

func (b *sqliteBackend) isForeignKey(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

func (b *sqliteBackend) claimSQL() string { return fmt.Sprintf(claimSQLBase, "") }

func (b *sqliteBackend) ping(ctx context.Context) error { return b.r.PingContext(ctx) }

func (b *sqliteBackend) close() error {
	return errors.Join(b.ckpt.stop(), b.rs.close(), b.ws.close(), b.r.Close(), b.w.Close())
}

// database/sql adapters.

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }

type sqlDB struct {
	db    *sql.DB
	stmts *stmtCache
}

func (d sqlDB) exec(ctx context.Context, q string, args ...any) (int64, error) {
	st, err := d.stmts.prepared(ctx, q)
	if err != nil {
		return 0, err
	}
	var res sql.Result
	if st != nil {
		res, err = st.ExecContext(ctx, textArgs(args)...)
	} else {
		res, err = d.db.ExecContext(ctx, q, textArgs(args)...)
	}
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (d sqlDB) query(ctx context.Context, q string, args ...any) (rowIter, error) {
	st, err := d.stmts.prepared(ctx, q)
	if err != nil {
		return nil, err
	}
	var rows *sql.Rows
	if st != nil {
		rows, err = st.QueryContext(ctx, textArgs(args)...)
	} else {
		rows, err = d.db.QueryContext(ctx, q, textArgs(args)...)
	}
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

// sqlTx is a write transaction on the writer's single connection. Its
// statements come from the writer's cache; one not cached yet runs
// unprepared and is queued for preparing after the transaction.
type sqlTx struct {
	t     *sql.Tx
	stmts *stmtCache
}

func (t *sqlTx) stmt(ctx context.Context, q string) *sql.Stmt {
	if st := t.stmts.lookup(q); st != nil {
		return t.t.StmtContext(ctx, st)
	}
	t.stmts.want(q)
	return nil
}

func (t *sqlTx) exec(ctx context.Context, q string, args ...any) (int64, error) {
	var (
		res sql.Result
		err error
	)
	if st := t.stmt(ctx, q); st != nil {
		res, err = st.ExecContext(ctx, textArgs(args)...)
	} else {
		res, err = t.t.ExecContext(ctx, q, textArgs(args)...)
	}
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (t *sqlTx) query(ctx context.Context, q string, args ...any) (rowIter, error) {
	var (
		rows *sql.Rows
		err  error
	)
	if st := t.stmt(ctx, q); st != nil {
		rows, err = st.QueryContext(ctx, textArgs(args)...)
	} else {
		rows, err = t.t.QueryContext(ctx, q, textArgs(args)...)
	}
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (t *sqlTx) commit(ctx context.Context) error {
	err := t.t.Commit()
	t.stmts.preparePending(ctx)
	return err
}

func (t *sqlTx) rollback(ctx context.Context) error {
	err := t.t.Rollback()
	t.stmts.preparePending(ctx)
	if errors.Is(err, sql.ErrTxDone) {
		return nil
	}
	return err
}
