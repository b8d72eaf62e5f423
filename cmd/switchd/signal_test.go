package main

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets TestSignals run this test binary as switchd itself: with
// SWITCHD_TEST_MAIN=1 it is main(), flags and signals included.
func TestMain(m *testing.M) {
	if os.Getenv("SWITCHD_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestSignals runs switchd as a real process: SIGHUP reloads the routing
// table, SIGTERM drains, signs off, closes the journal and exits 0.
func TestSignals(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, startSim(t, "h2h87-ascii"), startSim(t, "h2h87-binary"))
	addr := freePort(t)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(raw), "listen: 127.0.0.1:0", "listen: "+addr, 1)
	cfg = strings.Replace(cfg, "log: {level: error, format: json}", "log: {level: info, format: json}", 1)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	out := &lockedBuffer{}
	cmd := exec.Command(os.Args[0], "-config", path)
	cmd.Env = append(os.Environ(), "SWITCHD_TEST_MAIN=1")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	reaped := false
	defer func() {
		if !reaped {
			_ = cmd.Process.Kill()
			<-exited
		}
	}()
	sw := &running{logs: &lockedBuffer{}, base: "http://" + addr}
	deadline := time.Now().Add(15 * time.Second)
	for {
		if st, _ := sw.callQuiet("GET", "/readyz"); st == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("switchd never became ready:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	// SIGHUP picks up a new table (the watcher may too: either proves the
	// file is read; the log line proves the signal was handled).
	if err := os.WriteFile(filepath.Join(dir, "routes.yaml"), []byte(strings.Replace(e2eRoutes, "version: 3", "version: 5", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for {
		_, routes := sw.call(t, "GET", "/v1/admin/routes", e2eOperator, "")
		if routes["version"] == 5.0 && strings.Contains(out.String(), "SIGHUP: routing table reloaded") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("SIGHUP did not reload the table: %v\n%s", routes, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	if st, p := sw.call(t, "POST", "/v1/payments", e2eGateway, payment("sig-1", 150000, "USD")); st != 200 || p["status"] != "approved" {
		t.Fatalf("payment: %d %v", st, p)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		reaped = true
		if err != nil {
			t.Fatalf("switchd exited with %v:\n%s", err, out.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("switchd did not exit on SIGTERM:\n%s", out.String())
	}
	logs := out.String()
	for _, want := range []string{"shutting down", `"bank":"sber"`, "link closed"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "4000000000000010") {
		t.Error("full PAN in the log")
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("the API still listens after exit")
	}
}

// callQuiet is a GET that tolerates a refused connection (start-up).
func (r *running) callQuiet(method, path string) (int, error) {
	req, err := http.NewRequest(method, r.base+path, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
