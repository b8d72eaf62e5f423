package routing

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// logBuf is a goroutine-safe log sink: Watch logs from its own goroutine.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func tableV(version string, bank string) string {
	return "version: " + version + "\nrules:\n  - name: all\n    banks: [" + bank + "]\n"
}

func newTestRouter(t *testing.T, path string) (*Router, *logBuf) {
	t.Helper()
	logs := &logBuf{}
	r, err := NewRouter(RouterConfig{
		Path:     path,
		Options:  testBanks,
		Logger:   zerolog.New(logs),
		Debounce: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return r, logs
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestRouterLoadAndReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "routes.yaml")
	r, logs := newTestRouter(t, path)
	if _, ok := r.Current(); ok {
		t.Fatal("table in force before any load")
	}
	if _, err := r.Reload(); err == nil {
		t.Fatal("reload of a missing file succeeded")
	}

	writeFile(t, path, tableV("1", "alfa"))
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	r.cfg.Now = func() time.Time { return now }
	in, err := r.Reload()
	if err != nil {
		t.Fatal(err)
	}
	if in.Version != 1 || in.Checksum != sha(tableV("1", "alfa")) || in.Path != path || !in.LoadedAt.Equal(now) || len(in.Rules) != 1 {
		t.Errorf("info = %+v", in)
	}
	if !strings.Contains(logs.String(), `"version":1`) || !strings.Contains(logs.String(), `"checksum":"`+in.Checksum+`"`) ||
		!strings.Contains(logs.String(), "routing table in force") {
		t.Errorf("log = %s", logs)
	}
	if d := r.Decide(Input{}, nil, nil); d.Rule != "all" || d.Banks[0].Bank != "alfa" {
		t.Errorf("decision = %+v", d)
	}

	// An invalid table is refused with all its problems; the old one stays.
	writeFile(t, path, "version: 2\nrules:\n  - name: all\n    banks: [vtb]\n  - name: all\n    split: {alfa: 0}\n")
	in, err = r.Reload()
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 3 {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(err.Error(), "routes.yaml") {
		t.Errorf("error does not name the file: %v", err)
	}
	if in.Version != 1 {
		t.Errorf("after refused reload, info = %+v", in)
	}
	if cur, _ := r.Current(); cur.Version != 1 || r.Decide(Input{}, nil, nil).Banks[0].Bank != "alfa" {
		t.Errorf("table in force changed to %+v", cur)
	}
	if !strings.Contains(logs.String(), "routing table refused") || !strings.Contains(logs.String(), `"version_in_force":1`) {
		t.Errorf("log = %s", logs)
	}

	// Unchanged bytes: nothing swapped, loaded-at kept.
	writeFile(t, path, tableV("1", "alfa"))
	now = now.Add(time.Hour)
	if in, err = r.Reload(); err != nil || !in.LoadedAt.Equal(now.Add(-time.Hour)) {
		t.Errorf("unchanged reload: %+v %v", in, err)
	}

	// A valid table replaces the old one.
	writeFile(t, path, tableV("2", "sber"))
	if in, err = r.Reload(); err != nil || in.Version != 2 || !in.LoadedAt.Equal(now) {
		t.Fatalf("reload: %+v %v", in, err)
	}
	if d := r.Decide(Input{}, nil, nil); d.Banks[0].Bank != "sber" {
		t.Errorf("decision after reload = %+v", d)
	}
	if !strings.Contains(logs.String(), `"previous_version":1`) {
		t.Errorf("log = %s", logs)
	}

	// Load of another path makes it the reload path.
	other := filepath.Join(dir, "other.yaml")
	writeFile(t, other, tableV("9", "alfa"))
	if in, err = r.Load(other); err != nil || in.Version != 9 || in.Path != other {
		t.Fatalf("load other: %+v %v", in, err)
	}
	writeFile(t, other, tableV("10", "alfa"))
	if in, err = r.Reload(); err != nil || in.Version != 10 {
		t.Fatalf("reload other: %+v %v", in, err)
	}
	// A refused Load of a third path keeps both table and reload path.
	if _, err = r.Load(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Fatal("load of a missing file succeeded")
	}
	if in, err = r.Reload(); err != nil || in.Path != other {
		t.Errorf("reload path after refused load: %+v %v", in, err)
	}
}

func TestRouterValidateAndExplain(t *testing.T) {
	r, _ := newTestRouter(t, "")
	if _, err := r.Explain(Input{}, nil, nil); err == nil {
		t.Error("explain without a table succeeded")
	}
	if err := r.Validate([]byte(contractExample)); err != nil {
		t.Errorf("validate contract example: %v", err)
	}
	if tb, err := r.Compile([]byte(contractExample)); err != nil || tb.Version() != 7 || tb.Checksum() != sha(contractExample) {
		t.Errorf("compile contract example: %v", err)
	}
	if err := r.Validate([]byte(`{"version": 1, "rules": [{"name": "x", "banks": ["vtb"]}]}`)); err == nil {
		t.Error("validate accepted an unknown bank")
	}
	if _, err := r.Reload(); err == nil {
		t.Error("reload without a path succeeded")
	}
	if err := r.Watch(context.Background()); err == nil {
		t.Error("watch without a path succeeded")
	}
	if _, err := NewRouter(RouterConfig{}); err == nil {
		t.Error("router without banks accepted")
	}
}

func waitVersion(t *testing.T, r *Router, want int64, rewrite func()) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	next := time.Now()
	for time.Now().Before(deadline) {
		// Versions only grow in these tests, and a retry may publish a
		// later one.
		if in, _ := r.Current(); in.Version >= want {
			return
		}
		// The watcher may not be registered yet when the first write
		// happens; writing again is harmless.
		if time.Now().After(next) {
			rewrite()
			next = time.Now().Add(500 * time.Millisecond)
		}
		time.Sleep(10 * time.Millisecond)
	}
	in, _ := r.Current()
	t.Fatalf("version %d never came in force; in force: %d", want, in.Version)
}

func TestRouterWatch(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "routes.yaml")
	writeFile(t, path, tableV("1", "alfa"))
	r, logs := newTestRouter(t, path)
	var mu sync.Mutex
	var attempts []error
	r.cfg.OnReload = func(_ Info, err error) {
		mu.Lock()
		attempts = append(attempts, err)
		mu.Unlock()
	}
	if _, err := r.Load(path); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Watch(ctx) }()

	// Written in place.
	waitVersion(t, r, 2, func() { writeFile(t, path, tableV("2", "sber")) })

	// Saved the way editors do: a new file renamed over the old one.
	waitVersion(t, r, 3, func() {
		tmp := filepath.Join(dir, ".routes.yaml.swp")
		writeFile(t, tmp, tableV("3", "alfa"))
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	})

	// An invalid table written by the watcher's reload is refused and
	// version 3 stays; a later valid one goes in.
	writeFile(t, path, "version: 4\nrules: []\n")
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "routing table refused") {
		if time.Now().After(deadline) {
			t.Fatalf("invalid table never refused; log: %s", logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if in, _ := r.Current(); in.Version != 3 {
		t.Errorf("invalid table replaced the valid one: %+v", in)
	}
	mu.Lock()
	var refused int
	for _, err := range attempts {
		if err != nil {
			refused++
		}
	}
	mu.Unlock()
	if refused == 0 {
		t.Error("OnReload never saw the refusal")
	}
	waitVersion(t, r, 5, func() { writeFile(t, path, tableV("5", "alfa")) })

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("watch returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("watch did not stop on cancel")
	}
}

// The shipped example config must load with banks alfa and sber and route
// the simulators' test cards as its comments say.
func TestExampleConfig(t *testing.T) {
	tb, err := LoadFile(filepath.Join("..", "configs", "routes.yaml"), testBanks)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		in    Input
		rule  string
		first string
	}{
		{Input{PAN: "2200000000000004", Currency: "KZT"}, "mir-to-alfa", "alfa"},
		{Input{PAN: "2200000000000004", Currency: "USD"}, "mir-to-alfa", "alfa"},
		{Input{PAN: "4000000000000010", Currency: "KZT"}, "test-visa-onus", "alfa"},
		{Input{PAN: "4000000000000010", Currency: "USD"}, "usd-eur-to-sber", "sber"},
		{Input{PAN: "4000990000000006", Currency: "KZT"}, "test-visa-onus", "alfa"},
		{Input{PAN: "4895370000000106", Currency: "KZT"}, "visa-tokens", "alfa"},
		{Input{PAN: "5100000000000008", Currency: "KZT"}, "test-mastercard", "sber"},
		{Input{PAN: "4111110000000000", Currency: "KZT"}, "default", ""},
	}
	for _, c := range cases {
		d := tb.Decide(c.in, nil, nil)
		if d.Rule != c.rule || (c.first != "" && d.Banks[0].Bank != c.first) {
			t.Errorf("%s %s: %v, want %s first %s", MaskPAN(c.in.PAN), c.in.Currency, d, c.rule, c.first)
		}
	}
}

func TestReadFileBounds(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadFile(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: %v", err)
	}
	big := filepath.Join(dir, "big.yaml")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(MaxTableBytes + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := ReadFile(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("oversize file: %v", err)
	}
	if _, err := LoadFile(filepath.Join(dir, "none.yaml"), testBanks); err == nil {
		t.Error("missing file loaded")
	}
}

// Kubernetes mounts a ConfigMap as symlinks through "..data", which is
// swapped atomically to a new timestamped directory on update; the file's
// own name never sees an event.
func TestRouterWatchConfigMapSwap(t *testing.T) {
	dir := t.TempDir()
	version := func(n string) {
		ts := filepath.Join(dir, "..2026_11_27_"+n)
		if err := os.Mkdir(ts, 0o700); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(ts, "routes.yaml"), tableV(n, "alfa"))
		tmp := filepath.Join(dir, "..data_tmp")
		if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	version("1")
	path := filepath.Join(dir, "routes.yaml")
	if err := os.Symlink(filepath.Join("..data", "routes.yaml"), path); err != nil {
		t.Fatal(err)
	}
	r, _ := newTestRouter(t, path)
	if in, err := r.Reload(); err != nil || in.Version != 1 {
		t.Fatalf("initial load: %+v %v", in, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Watch(ctx) }()
	n := 2
	waitVersion(t, r, 2, func() {
		// Each retry publishes a new directory, as the kubelet does.
		version(strconv.Itoa(n))
		n++
	})
	cancel()
	if err := <-done; err != nil {
		t.Errorf("watch: %v", err)
	}
}
