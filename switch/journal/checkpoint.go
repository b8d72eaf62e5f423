package journal

import (
	"context"
	"database/sql"
	"time"
)

// SQLite WAL checkpoints. By default the connection whose commit pushes the
// WAL past 1,000 pages copies it into the database file and fsyncs that
// file inside its commit; with one writer, that stalls every caller
// waiting on the group commit. Instead a background connection runs a
// PASSIVE checkpoint every checkpointEvery (it never blocks the writer or
// readers, and copies only frames no reader still needs), and the writer's
// own automatic checkpoint is kept only as a bound on the WAL's size.
// Durability is unchanged: a commit is durable once its WAL frames are
// fsynced (synchronous=FULL), whenever they are checkpointed.
const (
	checkpointEvery        = 200 * time.Millisecond
	walAutoCheckpointPages = 20000
)

type checkpointer struct {
	db     *sql.DB
	cancel context.CancelFunc
	done   chan struct{}
}

func startCheckpointer(db *sql.DB, every time.Duration) *checkpointer {
	ctx, cancel := context.WithCancel(context.Background())
	c := &checkpointer{db: db, cancel: cancel, done: make(chan struct{})}
	go c.run(ctx, every)
	return c
}

func (c *checkpointer) run(ctx context.Context, every time.Duration) {
	defer close(c.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// An error (the database busy with another process's
		// checkpoint, a closing handle) only means this round copied
		// nothing: the next one, or the writer's bound, catches up.
		_, _ = c.db.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
	}
}

// stop ends the background checkpoints and closes their connection.
func (c *checkpointer) stop() error {
	c.cancel()
	<-c.done
	return c.db.Close()
}
