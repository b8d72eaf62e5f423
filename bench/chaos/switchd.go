package chaos

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"text/template"
	"time"
)

// runSecrets are the API tokens and journal keys of one chaos case. They
// are generated at run time from crypto/rand — no key material lives in
// the source — and reach the case's switchd processes only through their
// config files (mode 0600 in the case's work directory). A chaos run needs
// no stable keys: every process of one case shares these, and nothing
// outlives the case.
type runSecrets struct {
	GatewayToken, OperatorToken string
	PANKey, HMACKey             string // base64 of 32 random bytes
}

func newRunSecrets() (runSecrets, error) {
	var s runSecrets
	for _, f := range []*string{&s.GatewayToken, &s.OperatorToken} {
		b := make([]byte, 24)
		if _, err := rand.Read(b); err != nil {
			return s, fmt.Errorf("generating an API token: %w", err)
		}
		*f = "CHAOS-" + hex.EncodeToString(b)
	}
	for _, f := range []*string{&s.PANKey, &s.HMACKey} {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return s, fmt.Errorf("generating a journal key: %w", err)
		}
		*f = base64.StdEncoding.EncodeToString(b)
	}
	return s, nil
}

// chaosRoutes sends the test Visa range to Bank A only and the test
// Mastercard range to Bank B only: no failover, so that "bank down" is
// really down for its cards.
const chaosRoutes = `version: 1
rules:
  - name: visa-to-alfa
    match:
      bins: ["400000-400099"]
    banks: [alfa]
  - name: mastercard-to-sber
    match:
      bins: ["510000-510099"]
    banks: [sber]
`

// switchConfig is the switchd configuration of a chaos run: short bank
// timeouts and repeat intervals, short SAF leases and recovery ages, so
// that the whole matrix runs in minutes.
var switchConfig = template.Must(template.New("switch").Parse(`api:
  listen: {{.API}}
  replay_wait: 2s
  shutdown_timeout: 5s
  clients:
    gateway: {token: "{{.GatewayToken}}", role: gateway, rate_limit: 100000}
    ops: {token: "{{.OperatorToken}}", role: operator, rate_limit: 1000}
log: {level: warn, format: json}
journal:
  driver: {{.Driver}}
  dsn: "{{.DSN}}"
{{- if .Schema}}
  schema: {{.Schema}}
{{- end}}
  current_key_id: "1"
  pan_keys: {"1": "{{.PANKey}}"}
  hmac_key: "{{.HMACKey}}"
routing: {file: {{.Routes}}}
saf:
  interval: 100ms
  lease: 6s
  recover_every: 1s
  commit_timeout: 1500ms
  write_timeout: 1500ms
  recover_after: 5s
banks:
  alfa:
    dialect: h2h87-ascii
    addr: {{.BankA}}
    connections: 2
    timeout: 1s
    acquirer_id: "123456"
    echo_interval: 1s
    read_timeout: 5s
    repeat_interval: 1s
    repeat_min: 200ms
  sber:
    dialect: h2h87-binary
    addr: {{.BankB}}
    connections: 2
    timeout: 1s
    acquirer_id: "654321"
    echo_interval: 1s
    read_timeout: 5s
    repeat_interval: 1s
    repeat_min: 200ms
breakers:
  alfa: {failure_threshold: 3, window: 10s, cool_down: 500ms, max_cool_down: 2s}
  sber: {failure_threshold: 3, window: 10s, cool_down: 500ms, max_cool_down: 2s}
standin:
  banks:
    alfa:
      enabled: true
      types: [purchase, preauth]
      max_amount: {KZT: 50000}
      daily_count: 3
      daily_amount: {KZT: 120000}
    sber:
      enabled: true
      types: [purchase]
      max_amount: {KZT: 50000}
      daily_count: 3
      daily_amount: {KZT: 120000}
`))

// recoverWindow is how long after a kill the survivors need at most to
// take over what the dead process left: recover_after + recover_every +
// the lease, with margin.
const recoverWindow = 5*time.Second + time.Second + 6*time.Second + 2*time.Second

type switchParams struct {
	API, Driver, DSN, Schema, Routes, BankA, BankB string
	runSecrets
}

// proc is one switchd process.
type proc struct {
	name    string
	bin     string
	cfgPath string
	api     string
	logPath string

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the current run ends
	running bool
}

// current returns the running command and its exit channel.
func (p *proc) current() (*exec.Cmd, chan struct{}, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd, p.exited, p.running
}

// alive reports whether the process is running.
func (p *proc) alive() bool {
	_, _, running := p.current()
	return running
}

// writeSwitchConfig writes the config and the routing table into dir.
func writeSwitchConfig(dir, name string, p switchParams) (string, error) {
	p.Routes = filepath.Join(dir, "routes.yaml")
	if err := os.WriteFile(p.Routes, []byte(chaosRoutes), 0o600); err != nil {
		return "", fmt.Errorf("writing routes: %w", err)
	}
	var b bytes.Buffer
	if err := switchConfig.Execute(&b, p); err != nil {
		return "", fmt.Errorf("rendering switch config: %w", err)
	}
	path := filepath.Join(dir, name+".yaml")
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		return "", fmt.Errorf("writing switch config: %w", err)
	}
	return path, nil
}

// start runs switchd and waits until /readyz answers 200.
func (p *proc) start(ctx context.Context) error {
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("opening %s: %w", p.logPath, err)
	}
	cmd := exec.Command(p.bin, "--config", p.cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = os.Environ()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("starting %s: %w", p.name, err)
	}
	exited := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.exited, p.running = cmd, exited, true
	p.mu.Unlock()
	go func() {
		_ = cmd.Wait()
		logf.Close()
		p.mu.Lock()
		p.running = false
		p.mu.Unlock()
		close(exited)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if ok := p.ready(ctx); ok {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("%s exited during start; log %s:\n%s", p.name, p.logPath, tail(p.logPath))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after 20s; log %s:\n%s", p.name, p.logPath, tail(p.logPath))
		}
	}
}

func (p *proc) ready(ctx context.Context) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.api+"/readyz", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() error {
	cmd, exited, running := p.current()
	if !running {
		return nil
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("killing %s: %w", p.name, err)
	}
	<-exited
	return nil
}

// stop sends SIGTERM (graceful drain) and waits, killing after 15 s.
func (p *proc) stop() error {
	cmd, exited, running := p.current()
	if !running {
		return nil
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stopping %s: %w", p.name, err)
	}
	select {
	case <-exited:
		return nil
	case <-time.After(15 * time.Second):
		return p.kill()
	}
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a free port: %w", err)
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// tail returns the last lines of a log file for error messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return strings.Join(lines, "\n")
}
