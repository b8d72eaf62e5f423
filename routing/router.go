package routing

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/rs/zerolog"
)

// DefaultDebounce is how long Watch waits after the last change event in
// the table's directory before reloading, so that an editor's write,
// rename and chmod become one reload.
const DefaultDebounce = 250 * time.Millisecond

// RouterConfig configures a Router.
type RouterConfig struct {
	// Path is the table file read by Reload and watched by Watch.
	Path string
	// Options are the validation settings (configured banks, currencies).
	Options Options
	// Logger receives one line per table put in force and per refused
	// table.
	Logger zerolog.Logger
	// Debounce for Watch; 0 means DefaultDebounce.
	Debounce time.Duration
	// OnReload, if set, is called after every load attempt with the table
	// in force afterwards and the attempt's error (nil on success), e.g.
	// to count reload failures in a metric. It runs with the load lock
	// held, so it must be quick and must not call Load or Reload.
	OnReload func(in Info, err error)
	// Now is the clock for LoadedAt; nil means time.Now.
	Now func() time.Time
}

// Info describes the table in force, for GET /v1/admin/routes.
type Info struct {
	Version  int64     `json:"version"`
	Checksum string    `json:"checksum"`
	Path     string    `json:"path,omitempty"`
	LoadedAt time.Time `json:"loaded_at"`
	// Rules are shared with the table and must not be modified.
	Rules []RuleSpec `json:"rules"`
}

// loaded is a table with where and when it was put in force.
type loaded struct {
	table    *Table
	path     string
	loadedAt time.Time
}

// Router holds the routing table in force and replaces it atomically on
// reload. Decisions read it without locks; loads are serialized.
type Router struct {
	cfg RouterConfig
	cur atomic.Pointer[loaded]
	mu  sync.Mutex // serializes loads so check-and-swap is atomic
	// path is the file Reload reads: cfg.Path, or the last path given to
	// Load that was put in force. Guarded by mu.
	path string
}

// NewRouter returns a Router with no table in force yet; call Load or
// Reload before routing payments (until then every decision is no route).
func NewRouter(cfg RouterConfig) (*Router, error) {
	if cfg.Debounce < 0 {
		return nil, fmt.Errorf("routing: debounce must not be negative, got %s", cfg.Debounce)
	}
	if cfg.Debounce == 0 {
		cfg.Debounce = DefaultDebounce
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if len(cfg.Options.Banks) == 0 {
		return nil, errors.New("routing: no banks configured; a table could name none")
	}
	return &Router{cfg: cfg, path: cfg.Path}, nil
}

// ReadFile reads a table file, refusing files over MaxTableBytes before
// reading them whole.
func ReadFile(path string) ([]byte, error) {
	// Refuse FIFOs and devices before opening: opening a FIFO blocks.
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("open routing table: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("open routing table %s: not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open routing table: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxTableBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read routing table %s: %w", path, err)
	}
	if len(b) > MaxTableBytes {
		return nil, fmt.Errorf("read routing table %s: larger than %d bytes", path, MaxTableBytes)
	}
	return b, nil
}

// LoadFile reads, validates and compiles a table file.
func LoadFile(path string, opts Options) (*Table, error) {
	b, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	t, err := Compile(b, opts)
	if err != nil {
		return nil, fmt.Errorf("load routing table %s: %w", path, err)
	}
	return t, nil
}

// Load reads the table at path and puts it in force if it is valid; the
// path becomes the one Reload reads. An invalid table is refused with every
// problem listed (errors.As finds the *ValidationError) and the table in
// force stays. It returns the table in force afterwards.
func (r *Router) Load(path string) (Info, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.loadLocked(path)
}

// Reload re-reads the router's table file, as on SIGHUP, on POST
// /v1/admin/routes/reload and when Watch sees a change. A file identical
// to the table in force (same checksum) changes nothing.
func (r *Router) Reload() (Info, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.path == "" {
		return r.info(r.cur.Load()), errors.New("reload routing table: no file path configured")
	}
	return r.loadLocked(r.path)
}

func (r *Router) loadLocked(path string) (Info, error) {
	old := r.cur.Load()
	t, unchanged, err := r.read(path, old)
	if err != nil {
		ev := r.cfg.Logger.Error().Err(err).Str("path", path)
		if old != nil {
			ev = ev.Int64("version_in_force", old.table.version).Str("checksum_in_force", old.table.checksum)
		}
		ev.Msg("routing table refused; the table in force stays")
		in := r.info(old)
		r.notify(in, err)
		return in, err
	}
	r.path = path
	if unchanged {
		r.cfg.Logger.Debug().Str("path", path).Str("checksum", old.table.checksum).Msg("routing table unchanged")
		in := r.info(old)
		r.notify(in, nil)
		return in, nil
	}
	l := &loaded{table: t, path: path, loadedAt: r.cfg.Now()}
	r.cur.Store(l)
	ev := r.cfg.Logger.Info().Str("path", path).Int64("version", t.version).
		Str("checksum", t.checksum).Int("rules", len(t.rules))
	if old != nil {
		ev = ev.Int64("previous_version", old.table.version).Str("previous_checksum", old.table.checksum)
	}
	ev.Msg("routing table in force")
	in := r.info(l)
	r.notify(in, nil)
	return in, nil
}

// read loads path unless its bytes are those of the table in force from
// the same path, which saves re-parsing a large table on every event.
func (r *Router) read(path string, old *loaded) (*Table, bool, error) {
	b, err := ReadFile(path)
	if err != nil {
		return nil, false, err
	}
	sum := sha256.Sum256(b)
	checksum := hex.EncodeToString(sum[:])
	if old != nil && old.path == path && old.table.checksum == checksum {
		return old.table, true, nil
	}
	t, err := compileSource(b, checksum, r.cfg.Options)
	if err != nil {
		return nil, false, fmt.Errorf("load routing table %s: %w", path, err)
	}
	return t, false, nil
}

func (r *Router) notify(in Info, err error) {
	if r.cfg.OnReload != nil {
		r.cfg.OnReload(in, err)
	}
}

func (r *Router) info(l *loaded) Info {
	if l == nil {
		return Info{}
	}
	return Info{
		Version:  l.table.version,
		Checksum: l.table.checksum,
		Path:     l.path,
		LoadedAt: l.loadedAt,
		Rules:    l.table.specs,
	}
}

// Current describes the table in force; false when none has been loaded.
func (r *Router) Current() (Info, bool) {
	l := r.cur.Load()
	return r.info(l), l != nil
}

// Table returns the compiled table in force, or nil.
func (r *Router) Table() *Table {
	if l := r.cur.Load(); l != nil {
		return l.table
	}
	return nil
}

// Decide routes a payment with the table in force (see Table.Decide); with
// no table in force every payment is no route.
func (r *Router) Decide(in Input, usable func(bank string) bool, rnd Rand) Decision {
	t := r.Table()
	if t == nil {
		return noRoute()
	}
	return t.Decide(in, usable, rnd)
}

// Explain explains a decision with the table in force (see Table.Explain).
func (r *Router) Explain(in Input, usable func(bank string) bool, rnd Rand) (Explanation, error) {
	t := r.Table()
	if t == nil {
		return Explanation{}, errors.New("explain route: no routing table in force")
	}
	return t.Explain(in, usable, rnd), nil
}

// Validate checks a table body against the router's options without
// putting it in force (POST /v1/admin/routes/validate).
func (r *Router) Validate(src []byte) error {
	return Validate(src, r.cfg.Options)
}

// Compile compiles a table body against the router's options without
// putting it in force, for a validate answer that also shows the table's
// version, checksum and rules.
func (r *Router) Compile(src []byte) (*Table, error) {
	return Compile(src, r.cfg.Options)
}

// Watch reloads the table when its file changes, until ctx is done. It
// watches the file's directory rather than the file, so that editors that
// save by renaming a new file over the old one, and configuration mounts
// that swap a symlink, are seen; events are debounced and a reload of an
// unchanged file is a no-op. A refused table is logged and the table in
// force stays. Watch returns nil when ctx is done, or an error if the
// directory cannot be watched.
func (r *Router) Watch(ctx context.Context) error {
	r.mu.Lock()
	path := r.path
	r.mu.Unlock()
	if path == "" {
		return errors.New("watch routing table: no file path configured")
	}
	dir := filepath.Dir(path)
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch routing table: %w", err)
	}
	defer w.Close()
	if err := w.Add(dir); err != nil {
		return fmt.Errorf("watch routing table directory %s: %w", dir, err)
	}
	// The file may have changed between the load at start and the watch
	// taking hold: re-read it once now (an unchanged file is not parsed
	// again), so no edit falls into that gap.
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return errors.New("watch routing table: watcher closed")
			}
			if !relevant(ev, path) {
				continue
			}
			timer.Reset(r.cfg.Debounce)
		case err, ok := <-w.Errors:
			if !ok {
				return errors.New("watch routing table: watcher closed")
			}
			r.cfg.Logger.Warn().Err(err).Str("dir", dir).Msg("routing table watch error")
		case <-timer.C:
			// Errors are logged and reported by the load itself.
			_, _ = r.Reload()
		}
	}
}

// relevant says whether a directory event may have changed the table: an
// event on the file itself, or on a ".."-prefixed entry, which is how
// Kubernetes configuration mounts swap their contents.
func relevant(ev fsnotify.Event, path string) bool {
	if filepath.Clean(ev.Name) == filepath.Clean(path) {
		return true
	}
	return strings.HasPrefix(filepath.Base(ev.Name), "..")
}
