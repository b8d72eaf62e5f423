package app

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/acquirer/h2hswitch/switch/config"
)

// /debug/pprof is served on the metrics listener only when metrics.pprof
// is set; /metrics always is.
func TestMetricsMuxPProfOptIn(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("m 1\n")) })
	for _, on := range []bool{false, true} {
		a := &App{cfg: &config.Config{Metrics: config.Metrics{Listen: "127.0.0.1:0", PProf: on}}, metrics: metrics}
		srv := httptest.NewServer(a.metricsMux())
		get := func(path string) (int, string) {
			resp, err := http.Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			if err != nil {
				t.Fatal(err)
			}
			return resp.StatusCode, string(b)
		}
		if code, body := get("/metrics"); code != http.StatusOK || body != "m 1\n" {
			t.Errorf("pprof=%v: /metrics answered %d %q", on, code, body)
		}
		code, body := get("/debug/pprof/")
		if on && (code != http.StatusOK || !strings.Contains(body, "goroutine")) {
			t.Errorf("pprof on: /debug/pprof/ answered %d", code)
		}
		if !on && code != http.StatusNotFound {
			t.Errorf("pprof off: /debug/pprof/ answered %d, want 404", code)
		}
		if code, _ := get("/debug/pprof/cmdline"); on != (code == http.StatusOK) {
			t.Errorf("pprof=%v: /debug/pprof/cmdline answered %d", on, code)
		}
		srv.Close()
	}
}
