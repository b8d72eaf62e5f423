package journal

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Migrations are embedded .sql files per driver named NNNN_name.sql. Each
// pending one runs in the same transaction as its schema_migrations row, so
// a crash mid-migration leaves the schema as it was. Applied versions are
// skipped on restart; a database carrying a version this binary does not
// know is refused (an older binary must not write a newer schema).
//
//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFS embed.FS

// pgMigrationLock is the advisory lock key that serializes migrations of
// switch processes starting together on one PostgreSQL database.
const pgMigrationLock = 0x6a6f75726e616c // "journal"

type migration struct {
	version int64
	name    string
	sql     string
}

func loadMigrations(driver string) ([]migration, error) {
	dir := "migrations/" + driver
	entries, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return nil, fmt.Errorf("journal: reading embedded migrations: %w", err)
	}
	var out []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.ParseInt(num, 10, 64)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("journal: migration %s: name must be NNNN_name.sql", e.Name())
		}
		b, err := fs.ReadFile(migrationFS, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("journal: reading migration %s: %w", e.Name(), err)
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i := 1; i < len(out); i++ {
		if out[i].version == out[i-1].version {
			return nil, fmt.Errorf("journal: two migrations with version %d", out[i].version)
		}
	}
	return out, nil
}

// SchemaVersion is the newest migration this binary carries for a driver.
func SchemaVersion(driver string) (int64, error) {
	ms, err := loadMigrations(driver)
	if err != nil {
		return 0, err
	}
	if len(ms) == 0 {
		return 0, nil
	}
	return ms[len(ms)-1].version, nil
}

func migrate(ctx context.Context, be backend, now func() time.Time) (err error) {
	ms, err := loadMigrations(be.name())
	if err != nil {
		return err
	}
	t, err := be.begin(ctx)
	if err != nil {
		return fmt.Errorf("journal: migrating: beginning transaction: %w", err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, t.rollback(ctx))
		}
	}()
	if be.name() == DriverPostgres {
		if _, err := t.exec(ctx, `SELECT pg_advisory_xact_lock(?)`, int64(pgMigrationLock)); err != nil {
			return fmt.Errorf("journal: migrating: taking the migration lock: %w", err)
		}
	}
	if _, err := t.exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
 version BIGINT NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_us BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("journal: migrating: creating schema_migrations: %w", err)
	}
	applied := map[int64]bool{}
	rows, err := t.query(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return fmt.Errorf("journal: migrating: reading schema_migrations: %w", err)
	}
	var maxApplied int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return fmt.Errorf("journal: migrating: reading schema_migrations: %w", err)
		}
		applied[v] = true
		maxApplied = max(maxApplied, v)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("journal: migrating: reading schema_migrations: %w", err)
	}
	if len(ms) > 0 && maxApplied > ms[len(ms)-1].version {
		return fmt.Errorf("journal: database schema version %d is newer than this binary's %d", maxApplied, ms[len(ms)-1].version)
	}
	for _, m := range ms {
		if applied[m.version] {
			continue
		}
		if _, err := t.exec(ctx, m.sql); err != nil {
			return fmt.Errorf("journal: applying migration %s: %w", m.name, err)
		}
		if _, err := t.exec(ctx, `INSERT INTO schema_migrations (version, name, applied_us) VALUES (?, ?, ?)`,
			m.version, m.name, toUS(now())); err != nil {
			return fmt.Errorf("journal: recording migration %s: %w", m.name, err)
		}
	}
	if err := t.commit(ctx); err != nil {
		return fmt.Errorf("journal: migrating: committing: %w", err)
	}
	return nil
}
