package app

import (
	"net/http"
	"net/http/pprof"
)

// metricsMux is what the metrics listener serves: /metrics, and
// /debug/pprof when metrics.pprof is set.
func (a *App) metricsMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", a.metrics)
	if a.cfg.Metrics.PProf {
		registerPProf(mux)
	}
	return mux
}

// registerPProf adds Go's profiler endpoints to the metrics listener's mux
// (metrics.pprof). Explicit routes, not net/http/pprof's init side effect
// on http.DefaultServeMux, so nothing is exposed unless configured.
func registerPProf(mux *http.ServeMux) {
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
}
