package journal

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PostgreSQL through a pgx pool. Committers run batch transactions on pool
// connections in READ COMMITTED; multi-process safety comes from row locks
// (sequences: INSERT .. ON CONFLICT DO UPDATE .. RETURNING; SAF claims:
// FOR UPDATE SKIP LOCKED; idempotency: ON CONFLICT DO NOTHING, which waits
// for a concurrent inserter of the same key to commit).
type pgBackend struct {
	pool *pgxpool.Pool
}

// pgUniqueViolation is SQLSTATE unique_violation.
const (
	pgUniqueViolation     = "23505"
	pgForeignKeyViolation = "23503"
)

func openPostgres(ctx context.Context, cfg Config) (backend, error) {
	pc, err := pgxpool.ParseConfig(cfg.DSN)
	if err != nil {
		// pgx's parse errors can echo the DSN (password); keep them out.
		return nil, errors.New("journal.dsn: not a valid PostgreSQL connection string")
	}
	pc.MaxConns = int32(cfg.MaxConns)
	if cfg.Schema != "" {
		pc.ConnConfig.RuntimeParams["search_path"] = cfg.Schema
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("journal: connecting to postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("journal: connecting to postgres %s:%d: %w", pc.ConnConfig.Host, pc.ConnConfig.Port, err)
	}
	return &pgBackend{pool: pool}, nil
}

func (b *pgBackend) name() string { return DriverPostgres }

func (b *pgBackend) begin(ctx context.Context) (tx, error) {
	t, err := b.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return nil, err
	}
	return pgTx{t}, nil
}

func (b *pgBackend) reader() querier { return pgPool{b.pool} }

func (b *pgBackend) isUnique(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == pgUniqueViolation
}

func (b *pgBackend) isForeignKey(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == pgForeignKeyViolation
}

func (b *pgBackend) claimSQL() string {
	return rebindDollar(fmt.Sprintf(claimSQLBase, "FOR UPDATE SKIP LOCKED"))
}

func (b *pgBackend) ping(ctx context.Context) error { return b.pool.Ping(ctx) }

func (b *pgBackend) close() error {
	b.pool.Close()
	return nil
}

type pgRows struct{ pgx.Rows }

func (r pgRows) Close() { r.Rows.Close() }

type pgPool struct{ p *pgxpool.Pool }

func (p pgPool) exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := p.p.Exec(ctx, rebindDollar(q), textArgs(args)...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func (p pgPool) query(ctx context.Context, q string, args ...any) (rowIter, error) {
	rows, err := p.p.Query(ctx, rebindDollar(q), textArgs(args)...)
	if err != nil {
		return nil, err
	}
	return pgRows{rows}, nil
}

type pgTx struct{ t pgx.Tx }

func (t pgTx) exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := t.t.Exec(ctx, rebindDollar(q), textArgs(args)...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func (t pgTx) query(ctx context.Context, q string, args ...any) (rowIter, error) {
	rows, err := t.t.Query(ctx, rebindDollar(q), textArgs(args)...)
	if err != nil {
		return nil, err
	}
	return pgRows{rows}, nil
}

func (t pgTx) commit(ctx context.Context) error { return t.t.Commit(ctx) }

func (t pgTx) rollback(ctx context.Context) error {
	err := t.t.Rollback(ctx)
	if errors.Is(err, pgx.ErrTxClosed) {
		return nil
	}
	return err
}
