package journal

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Group commit. Callers hand their mutations to a committer goroutine and
// wait for their own ack. The committer takes the first waiting request,
// then keeps collecting while more callers are known to be submitting
// (bounded by maxBatch items and maxWait), applies everything in one
// transaction and commits once: one fsync for the whole batch. A caller
// alone is committed at once (no added latency at low load).
//
// If any request of a batch fails, the batch is rolled back and each of its
// requests is retried in a transaction of its own, so one bad write never
// fails its neighbours. Mutations therefore must be re-runnable: they only
// touch the database in apply and publish in-memory effects in done.

type writeReq struct {
	ctx  context.Context
	muts []Mutation
	res  chan error // buffered 1
}

type committer struct {
	be       backend
	in       chan *writeReq
	maxBatch int
	maxWait  time.Duration
	now      func() time.Time
	hooks    *Hooks

	submitting atomic.Int64 // callers inside write()
	closing    chan struct{}
	closeOnce  sync.Once
	wg         sync.WaitGroup
	mu         sync.RWMutex // guards closed against sends
	closed     bool
}

func newCommitter(be backend, workers, maxBatch int, maxWait time.Duration, now func() time.Time, hooks *Hooks) *committer {
	c := &committer{
		be:       be,
		in:       make(chan *writeReq, maxBatch*workers),
		maxBatch: maxBatch,
		maxWait:  maxWait,
		now:      now,
		hooks:    hooks,
		closing:  make(chan struct{}),
	}
	for range workers {
		c.wg.Add(1)
		go c.loop()
	}
	return c
}

// write submits muts and waits until they are committed or ctx ends.
func (c *committer) write(ctx context.Context, muts ...Mutation) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.submitting.Add(1)
	defer c.submitting.Add(-1)
	r := &writeReq{ctx: ctx, muts: muts, res: make(chan error, 1)}
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		return ErrClosed
	}
	select {
	case c.in <- r:
		c.mu.RUnlock()
	case <-ctx.Done():
		c.mu.RUnlock()
		return ctx.Err()
	}
	select {
	case err := <-r.res:
		return err
	case <-ctx.Done():
		// The batch may still commit it; the caller must re-read.
		return fmt.Errorf("waiting for journal commit: %w", ctx.Err())
	}
}

func (c *committer) close() {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		close(c.in) // no sender can be inside the select: they hold RLock
		c.mu.Unlock()
		c.wg.Wait()
	})
}

func (c *committer) loop() {
	defer c.wg.Done()
	batch := make([]*writeReq, 0, c.maxBatch)
	for {
		first, ok := <-c.in
		if !ok {
			return
		}
		batch = append(batch[:0], first)
		batch = c.collect(batch)
		c.run(batch)
		for i := range batch {
			batch[i] = nil
		}
	}
}

// collect adds requests already queued, then lingers up to maxWait while
// more callers are submitting than the batch holds.
func (c *committer) collect(batch []*writeReq) []*writeReq {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for len(batch) < c.maxBatch {
		select {
		case r, ok := <-c.in:
			if !ok {
				return batch
			}
			batch = append(batch, r)
			continue
		default:
		}
		if c.maxWait <= 0 || c.submitting.Load() <= int64(len(batch)) {
			return batch
		}
		if timer == nil {
			timer = time.NewTimer(c.maxWait)
		}
		select {
		case r, ok := <-c.in:
			if !ok {
				return batch
			}
			batch = append(batch, r)
		case <-timer.C:
			return batch
		}
	}
	return batch
}

// run commits a batch, falling back to one transaction per request when the
// batch fails.
func (c *committer) run(batch []*writeReq) {
	live := batch[:0:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			// Abandoned before it was applied: never write it.
			r.res <- err
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	start := c.now()
	err := c.apply(live)
	if c.hooks != nil && c.hooks.OnCommit != nil {
		c.hooks.OnCommit(len(live), time.Since(start), err)
	}
	if err == nil {
		for _, r := range live {
			for _, m := range r.muts {
				m.done()
			}
			r.res <- nil
		}
		return
	}
	var me *mutationError
	if len(live) == 1 || !errors.As(err, &me) {
		// Begin or commit failed (database locked or gone): retrying each
		// request alone would fail the same way, slower. All get the error.
		for _, r := range live {
			r.res <- err
		}
		return
	}
	for _, r := range live {
		err := c.apply([]*writeReq{r})
		if err == nil {
			for _, m := range r.muts {
				m.done()
			}
		}
		r.res <- err
	}
}

// apply runs the requests in one transaction. The transaction itself is
// bounded by a timeout, not by any caller's context: one caller giving up
// must not abort its neighbours' writes.
func (c *committer) apply(reqs []*writeReq) (err error) {
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	t, err := c.be.begin(ctx)
	if err != nil {
		return fmt.Errorf("journal: beginning transaction: %w", err)
	}
	defer func() {
		if err != nil {
			if rbErr := t.rollback(ctx); rbErr != nil && !errors.Is(rbErr, context.Canceled) {
				err = errors.Join(err, fmt.Errorf("journal: rolling back: %w", rbErr))
			}
		}
	}()
	now := c.now()
	for _, r := range reqs {
		for _, m := range r.muts {
			if err := applyOne(ctx, m, &txCtx{q: t, be: c.be, now: now}); err != nil {
				return &mutationError{err}
			}
		}
	}
	if err := t.commit(ctx); err != nil {
		return fmt.Errorf("journal: committing: %w", err)
	}
	return nil
}

// mutationError marks a batch failure caused by one of its mutations (as
// opposed to the transaction itself): only then are the requests retried
// one by one.
type mutationError struct{ err error }

func (e *mutationError) Error() string { return e.err.Error() }
func (e *mutationError) Unwrap() error { return e.err }

// applyOne runs one mutation, turning a panic (a bug) into an error so that
// the committer goroutine, and with it every writer, survives.
func applyOne(ctx context.Context, m Mutation, t *txCtx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("journal: internal error applying a mutation: %v", p)
		}
	}()
	return m.apply(ctx, t)
}

// commitTimeout bounds one batch transaction (including waiting for locks
// another process holds).
const commitTimeout = 30 * time.Second

// txCtx is what a mutation sees: the transaction, the backend (for error
// classification and dialect SQL) and the batch's clock.
type txCtx struct {
	q   querier
	be  backend
	now time.Time
}
