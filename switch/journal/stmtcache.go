package journal

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// maxCachedStmts bounds the prepared statements kept per database handle.
// The store's SQL is a small fixed set of texts (a few vary with a filter's
// shape); a text beyond the bound simply runs unprepared.
const maxCachedStmts = 256

// stmtCache keeps one prepared *sql.Stmt per SQL text for a database/sql
// handle. database/sql prepares such a statement again on each pool
// connection it meets, and Tx.StmtContext reuses the one prepared on the
// transaction's own connection.
type stmtCache struct {
	db      *sql.DB
	mu      sync.Mutex
	m       map[string]*sql.Stmt
	pending map[string]struct{} // texts seen inside a transaction, to prepare after it
	closed  bool
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: make(map[string]*sql.Stmt), pending: make(map[string]struct{})}
}

// lookup returns the cached statement for q, or nil.
func (c *stmtCache) lookup(q string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[q]
}

// want records q for preparePending. Only for the writer, whose single
// connection is held by the transaction that saw q.
func (c *stmtCache) want(q string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed && len(c.m)+len(c.pending) < maxCachedStmts {
		c.pending[q] = struct{}{}
	}
}

// preparePending prepares the texts recorded by want; it runs after a
// transaction ended, when the writer's connection is free again. A text
// that fails to prepare is dropped: it keeps running unprepared.
func (c *stmtCache) preparePending(ctx context.Context) {
	c.mu.Lock()
	if len(c.pending) == 0 || c.closed {
		c.mu.Unlock()
		return
	}
	qs := make([]string, 0, len(c.pending))
	for q := range c.pending {
		qs = append(qs, q)
	}
	clear(c.pending)
	c.mu.Unlock()
	for _, q := range qs {
		st, err := c.db.PrepareContext(ctx, q)
		if err != nil {
			continue
		}
		c.add(q, st)
	}
}

// prepared returns the cached statement for q, preparing it on first use
// (pool handles only: a Prepare on the writer inside its transaction would
// wait for the connection the transaction holds). nil, nil means "run it
// unprepared" (cache full or closed).
func (c *stmtCache) prepared(ctx context.Context, q string) (*sql.Stmt, error) {
	c.mu.Lock()
	st, full := c.m[q], len(c.m) >= maxCachedStmts || c.closed
	c.mu.Unlock()
	if st != nil || full {
		return st, nil
	}
	st, err := c.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	return c.add(q, st), nil
}

// add caches st under q unless another caller did first or the cache is
// full or closed; it returns the statement to use (nil: run unprepared).
func (c *stmtCache) add(q string, st *sql.Stmt) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.m[q]; old != nil {
		_ = st.Close()
		return old
	}
	if c.closed || len(c.m) >= maxCachedStmts {
		_ = st.Close()
		return nil
	}
	c.m[q] = st
	return st
}

func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	var errs []error
	for q, st := range c.m {
		errs = append(errs, st.Close())
		delete(c.m, q)
	}
	return errors.Join(errs...)
}
