// Package api is the switch's upstream HTTP API (contract upstream-api.md):
// payments, captures, voids, refunds and look-ups for the gateway, the
// operator endpoints, health, readiness and metrics.
//
// The package owns the HTTP concerns — bearer-token authentication and
// roles, per-client rate limits, body limits, strict JSON decoding, every
// field rule, idempotency by request_id, the error format, the access log and
// request metrics — and reaches the rest of the switch only through the small
// interfaces in types.go, which cmd/switchd wires to the engine, journal,
// routing holder and bank links.
package api

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/acquirer/h2hswitch/switch/currency"
)

// Roles of clients.
const (
	RoleGateway  = "gateway"
	RoleOperator = "operator"
)

// Client is an upstream API client and its bearer token.
type Client struct {
	Name      string
	Token     string
	Role      string  // RoleGateway or RoleOperator
	RateLimit float64 // requests per second (burst: one second's worth)
}

// Options configure a Server. Payments, Idempotency and IdempotencyKey are
// required; a nil Routes, Banks or SAF makes its endpoints answer 503.
type Options struct {
	Payments    Payments
	Idempotency IdempotencyStore
	Routes      Routes
	Banks       Banks
	SAF         SAF
	Readiness   []Check

	Clients []Client
	// BodyLimit is the largest request body (default and maximum 64 KiB).
	BodyLimit int64
	// MaxInFlight bounds concurrent authenticated requests (default 1024).
	MaxInFlight int
	// ReplayWait bounds a replay's wait for its in-flight original
	// (default 30 s).
	ReplayWait time.Duration
	// IdempotencyKey keys the HMAC of request bodies kept with request_ids
	// (at least 32 bytes), so a stored hash reveals nothing about card data.
	IdempotencyKey []byte
	// Location is the banks' time zone (Asia/Almaty): card expiry is
	// checked and times are rendered in it. Default: Asia/Almaty, or a fixed
	// +05:00 zone when tzdata is missing.
	Location *time.Location
	Logger   zerolog.Logger
	// Registry receives the API's collectors (required).
	Registry prometheus.Registerer
	// MetricsHandler, when set, is served unauthenticated at GET /metrics.
	MetricsHandler http.Handler
	// Operator are further operator-only endpoints the assembly mounts
	// (reconciliation and settlement, switch/recon/reconhttp). They get the
	// operator token check, rate limit, concurrency bound, access log and
	// metrics of every admin route, but not BodyLimit: each reads its own
	// body within its own bound (a clearing file is hundreds of MiB).
	Operator []OperatorRoute
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// OperatorRoute is an extra operator endpoint: a Go 1.22 pattern under
// /v1/admin/ and its handler.
type OperatorRoute struct {
	Method, Pattern string
	Handler         http.Handler
}

// Server is the API. Create it with New; serve Handler().
type Server struct {
	payments   Payments
	idem       IdempotencyStore
	routes     Routes
	banks      Banks
	saf        SAF
	checks     []Check
	clients    []clientState
	bodyLimit  int64
	replayWait time.Duration
	hashKey    []byte
	loc        *time.Location
	log        zerolog.Logger
	metrics    *metrics
	now        func() time.Time
	currencies *currency.Table

	sem      chan struct{}
	draining atomic.Bool

	mu       sync.Mutex
	inflight map[idemKey]*inflightCall
	bg       sync.WaitGroup // idempotency records being stored after their answer

	mux      *http.ServeMux
	pathMux  *http.ServeMux    // method-less patterns, to tell 405 from 404
	allow    map[string]string // pattern -> its Allow header, for 405
	routeSet []string
}

type clientState struct {
	Client
	tokenHash [32]byte
	bucket    *bucket
}

// access is who may call a route.
type access int

const (
	accessPublic   access = iota + 1 // no token
	accessGateway                    // gateway token
	accessReader                     // gateway (own payments) or operator (any)
	accessOperator                   // operator token
)

type route struct {
	method, pattern string
	access          access
	typ             string // metrics "type" label for fixed-type endpoints
	h               func(w http.ResponseWriter, r *http.Request, ri *reqInfo)
}

// New builds a Server.
func New(o Options) (*Server, error) {
	switch {
	case o.Payments == nil:
		return nil, errors.New("api: Options.Payments is required")
	case o.Idempotency == nil:
		return nil, errors.New("api: Options.Idempotency is required")
	case len(o.IdempotencyKey) < 32:
		return nil, errors.New("api: Options.IdempotencyKey must be at least 32 bytes")
	case o.Registry == nil:
		return nil, errors.New("api: Options.Registry is required")
	case len(o.Clients) == 0:
		return nil, errors.New("api: at least one client is required")
	}
	s := &Server{
		payments: o.Payments, idem: o.Idempotency, routes: o.Routes, banks: o.Banks, saf: o.SAF,
		checks: o.Readiness, bodyLimit: o.BodyLimit, replayWait: o.ReplayWait,
		hashKey: append([]byte(nil), o.IdempotencyKey...), loc: o.Location, log: o.Logger, now: o.Now,
		currencies: currency.New(), inflight: map[idemKey]*inflightCall{},
	}
	if s.bodyLimit <= 0 || s.bodyLimit > 64<<10 {
		s.bodyLimit = 64 << 10
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 1024
	}
	s.sem = make(chan struct{}, o.MaxInFlight)
	if s.replayWait <= 0 {
		s.replayWait = 30 * time.Second
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.loc == nil {
		s.loc = AlmatyLocation()
	}
	now := s.now()
	for _, c := range o.Clients {
		if c.Role != RoleGateway && c.Role != RoleOperator {
			return nil, fmt.Errorf("api: client %s: unknown role %q", c.Name, c.Role)
		}
		if c.Token == "" || c.RateLimit <= 0 {
			return nil, fmt.Errorf("api: client %s: token and a positive rate limit are required", c.Name)
		}
		s.clients = append(s.clients, clientState{Client: c, tokenHash: sha256.Sum256([]byte(c.Token)), bucket: newBucket(c.RateLimit, now)})
	}
	m, err := newMetrics(o.Registry)
	if err != nil {
		return nil, fmt.Errorf("api: registering metrics: %w", err)
	}
	s.metrics = m

	s.mux, s.pathMux = http.NewServeMux(), http.NewServeMux()
	routes := s.routeTable()
	if o.MetricsHandler != nil {
		mh := o.MetricsHandler
		routes = append(routes, route{method: http.MethodGet, pattern: "/metrics", access: accessPublic,
			h: func(w http.ResponseWriter, r *http.Request, _ *reqInfo) { mh.ServeHTTP(w, r) }})
	}
	for _, or := range o.Operator {
		if or.Handler == nil || or.Method == "" || !strings.HasPrefix(or.Pattern, "/v1/admin/") {
			return nil, fmt.Errorf("api: operator route %s %s: a method, a handler and a /v1/admin/ pattern are required", or.Method, or.Pattern)
		}
		h := or.Handler
		routes = append(routes, route{method: or.Method, pattern: or.Pattern, access: accessOperator, typ: "admin",
			h: func(w http.ResponseWriter, r *http.Request, _ *reqInfo) { h.ServeHTTP(w, r) }})
	}
	seenPath, seenRoute := map[string]bool{}, map[string]bool{}
	methods := map[string][]string{}
	for _, rt := range routes {
		methods[rt.pattern] = append(methods[rt.pattern], rt.method)
		if rt.method == http.MethodGet {
			methods[rt.pattern] = append(methods[rt.pattern], http.MethodHead) // a GET pattern serves HEAD too
		}
		if seenRoute[rt.method+" "+rt.pattern] {
			return nil, fmt.Errorf("api: route %s %s registered twice", rt.method, rt.pattern)
		}
		seenRoute[rt.method+" "+rt.pattern] = true
		s.mux.Handle(rt.method+" "+rt.pattern, s.wrap(rt))
		s.routeSet = append(s.routeSet, rt.method+" "+rt.pattern)
		if !seenPath[rt.pattern] {
			seenPath[rt.pattern] = true
			s.pathMux.Handle(rt.pattern, http.NotFoundHandler())
		}
	}
	s.allow = make(map[string]string, len(methods))
	for p, ms := range methods {
		slices.Sort(ms)
		s.allow[p] = strings.Join(slices.Compact(ms), ", ")
	}
	return s, nil
}

// AlmatyLocation is Asia/Almaty, or a fixed +05:00 zone when the tz database
// is unavailable (cmd/switchd embeds time/tzdata).
func AlmatyLocation() *time.Location {
	if loc, err := time.LoadLocation("Asia/Almaty"); err == nil {
		return loc
	}
	return time.FixedZone("+05", 5*3600)
}

func (s *Server) routeTable() []route {
	return []route{
		{method: "POST", pattern: "/v1/payments", access: accessGateway, h: s.handleAuthorize},
		{method: "GET", pattern: "/v1/payments", access: accessReader, typ: "lookup", h: s.handleGetByRequestID},
		{method: "GET", pattern: "/v1/payments/{id}", access: accessReader, typ: "lookup", h: s.handleGet},
		{method: "POST", pattern: "/v1/payments/{id}/capture", access: accessGateway, typ: "capture", h: s.handleCapture},
		{method: "POST", pattern: "/v1/payments/{id}/void", access: accessGateway, typ: "void", h: s.handleVoid},
		{method: "POST", pattern: "/v1/payments/{id}/refunds", access: accessGateway, typ: "refund", h: s.handleRefund},
		{method: "GET", pattern: "/v1/admin/banks", access: accessOperator, typ: "admin", h: s.handleBanks},
		{method: "GET", pattern: "/v1/admin/routes", access: accessOperator, typ: "admin", h: s.handleRoutes},
		{method: "POST", pattern: "/v1/admin/routes/validate", access: accessOperator, typ: "admin", h: s.handleRoutesValidate},
		{method: "POST", pattern: "/v1/admin/routes/reload", access: accessOperator, typ: "admin", h: s.handleRoutesReload},
		{method: "GET", pattern: "/v1/admin/routes/explain", access: accessOperator, typ: "admin", h: s.handleRoutesExplain},
		{method: "GET", pattern: "/v1/admin/saf", access: accessOperator, typ: "admin", h: s.handleSAFList},
		{method: "POST", pattern: "/v1/admin/saf/{id}/retry", access: accessOperator, typ: "admin", h: s.handleSAFRetry},
		{method: "GET", pattern: "/healthz", access: accessPublic, h: s.handleHealthz},
		{method: "GET", pattern: "/readyz", access: accessPublic, h: s.handleReadyz},
	}
}

// Routes lists the registered "METHOD /pattern" pairs (the OpenAPI
// document's paths must equal them).
func (s *Server) Routes() []string { return append([]string(nil), s.routeSet...) }

// Handler is the API's http.Handler.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := s.mux.Handler(r); pattern != "" {
			s.mux.ServeHTTP(w, r)
			return
		}
		// Unknown path or method: still the contract's JSON error body.
		ae := &apiError{Status: http.StatusNotFound, Code: codeNotFound, Message: "no such endpoint"}
		if _, p := s.pathMux.Handler(r); p != "" {
			ae = &apiError{Status: http.StatusMethodNotAllowed, Code: codeMethodNotAllowed, Message: "method not allowed on this endpoint"}
			w.Header().Set("Allow", s.allow[p]) // RFC 9110: a 405 lists what the endpoint takes
		}
		s.log.Info().Str("method", r.Method).Int("status", ae.Status).Msg("unrouted request")
		writeJSON(w, ae.Status, ae.body())
	})
}

// Drain makes every new authenticated request answer 503 shutting_down and
// /readyz answer 503, while requests already running finish. Call it before
// http.Server.Shutdown so keep-alive connections stop feeding new work.
func (s *Server) Drain() { s.draining.Store(true) }

// Wait waits until the idempotency records of answered requests are
// stored (they are written after the answer goes out), or ctx ends. Call
// it after the HTTP server has shut down, before closing the journal.
func (s *Server) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		s.bg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for idempotency records to be stored: %w", ctx.Err())
	}
}

// reqInfo collects what the access log and metrics report about a request.
type reqInfo struct {
	httpID    string
	client    string
	requestID string
	paymentID string
	typ       string
	reason    string // decline reason or error code
	replayed  bool
	// bank, stan and maskedPAN identify the payment at its bank in the
	// access log (the PAN only ever in its 6+4 masked form).
	bank, stan, maskedPAN string
}

// describe takes the payment's bank-side identifiers for the access log.
func (ri *reqInfo) describe(p *Payment) {
	if p == nil {
		return
	}
	ri.paymentID, ri.bank, ri.stan, ri.maskedPAN = p.ID, p.Bank, p.STAN, p.MaskedPAN
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) wrap(rt route) http.Handler {
	endpoint := rt.method + " " + rt.pattern
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ri := &reqInfo{httpID: r.Header.Get("X-Request-Id"), typ: rt.typ}
		if !requestIDPattern.MatchString(ri.httpID) {
			ri.httpID = ulid.Make().String()
		}
		w.Header().Set("X-Request-Id", ri.httpID)
		sw := &statusWriter{ResponseWriter: w}
		s.metrics.inFlight.Inc()
		defer func() {
			if p := recover(); p != nil {
				// A bug must not leak a stack or a body; the panic value
				// is not logged either, as it could hold request data.
				s.log.Error().Str("route", endpoint).Str("http_request_id", ri.httpID).Msg("handler panic")
				if sw.status == 0 {
					s.fail(sw, ri, &apiError{Status: http.StatusInternalServerError, Code: codeInternal, Message: "internal error"})
				}
			}
			s.metrics.inFlight.Dec()
			s.observe(endpoint, r, sw.status, ri, time.Since(start))
		}()
		if rt.access != accessPublic {
			if s.draining.Load() {
				s.fail(sw, ri, classify(ErrShuttingDown))
				return
			}
			if !s.admit(sw, r, rt.access, ri) {
				return
			}
			select {
			case s.sem <- struct{}{}:
				defer func() { <-s.sem }()
			default:
				s.fail(sw, ri, overloaded())
				return
			}
		}
		rt.h(sw, r, ri)
	})
}

// admit authenticates, checks the role and the client's rate.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, a access, ri *reqInfo) bool {
	c := s.authenticate(r)
	if c == nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="switch"`)
		s.fail(w, ri, &apiError{Status: http.StatusUnauthorized, Code: codeUnauthorized, Message: "missing or invalid bearer token"})
		return false
	}
	ri.client = c.Name
	allowed := false
	switch a {
	case accessGateway:
		allowed = c.Role == RoleGateway
	case accessReader:
		allowed = true
	case accessOperator:
		allowed = c.Role == RoleOperator
	}
	if !allowed {
		s.fail(w, ri, &apiError{Status: http.StatusForbidden, Code: codeForbidden, Message: "this token's role (" + c.Role + ") may not call this endpoint"})
		return false
	}
	if ok, wait := c.bucket.allow(s.now()); !ok {
		secs := int(wait/time.Second) + 1
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		s.fail(w, ri, &apiError{Status: http.StatusTooManyRequests, Code: codeRateLimited, Message: "rate limit exceeded; retry later"})
		return false
	}
	return true
}

// authenticate finds the client whose token the request carries. Every
// configured token is compared, in constant time over fixed-length hashes,
// so timing reveals neither a token's content nor its length or position.
func (s *Server) authenticate(r *http.Request) *clientState {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return nil
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(token)))
	var found *clientState
	for i := range s.clients {
		if subtle.ConstantTimeCompare(sum[:], s.clients[i].tokenHash[:]) == 1 {
			found = &s.clients[i]
		}
	}
	return found
}

func (s *Server) fail(w http.ResponseWriter, ri *reqInfo, e *apiError) {
	ri.reason = e.Code
	writeJSON(w, e.Status, e.body())
}

func (s *Server) observe(endpoint string, r *http.Request, status int, ri *reqInfo, d time.Duration) {
	st := strconv.Itoa(status)
	s.metrics.requests.WithLabelValues(endpoint, ri.typ, st, ri.reason).Inc()
	s.metrics.duration.WithLabelValues(endpoint).Observe(d.Seconds())
	// The access log: identifiers and outcome only, never bodies or query
	// strings (explain's query carries a PAN prefix).
	ev := s.log.Info()
	if status >= 500 {
		ev = s.log.Warn()
	}
	ev.Str("http_request_id", ri.httpID).
		Str("method", r.Method).
		Str("route", endpoint).
		Str("path", maskDigitRuns(r.URL.Path)).
		Str("client", ri.client).
		Str("request_id", ri.requestID).
		Str("payment_id", ri.paymentID).
		Str("bank", ri.bank).
		Str("stan", ri.stan).
		Str("masked_pan", ri.maskedPAN).
		Str("type", ri.typ).
		Int("status", status).
		Str("reason", ri.reason).
		Bool("replayed", ri.replayed).
		Float64("latency_ms", float64(d.Microseconds())/1000).
		Msg("request")
}

// bodyHash is the HMAC-SHA256 (hex) of the request's canonical form:
// method, path and the re-encoded parsed body.
func (s *Server) bodyHash(method, path string, canonical []byte) string {
	m := hmac.New(sha256.New, s.hashKey)
	m.Write([]byte(method))
	m.Write([]byte{' '})
	m.Write([]byte(path))
	m.Write([]byte{'\n'})
	m.Write(canonical)
	return fmt.Sprintf("%x", m.Sum(nil))
}

// serverCtx detaches work that must finish once begun (a payment whose
// client hung up still gets its result journaled) from the request.
func serverCtx(r *http.Request) context.Context { return context.WithoutCancel(r.Context()) }
