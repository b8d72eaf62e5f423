package api

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestOperatorRoutes: extra operator routes (the reconciliation endpoints)
// are behind the operator token, are not bound by the 64 KiB payment body
// limit, and a bad or duplicate registration is refused at start.
func TestOperatorRoutes(t *testing.T) {
	upload := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		_, _ = w.Write([]byte(strconv.FormatInt(n, 10)))
	})
	h := newHarness(t, func(o *Options) {
		o.Operator = []OperatorRoute{{Method: http.MethodPost, Pattern: "/v1/admin/recon", Handler: upload}}
	})
	body := strings.Repeat("A;", 300<<10) // 600 KiB, far beyond BodyLimit
	if rec := h.do("POST", "/v1/admin/recon", opToken, body); rec.Code != 200 || rec.Body.String() != strconv.Itoa(len(body)) {
		t.Errorf("operator upload: %d %q", rec.Code, rec.Body.String())
	}
	if rec := h.do("POST", "/v1/admin/recon", gwToken, "x"); rec.Code != http.StatusForbidden {
		t.Errorf("gateway token: %d", rec.Code)
	}
	if rec := h.do("POST", "/v1/admin/recon", "", "x"); rec.Code != http.StatusUnauthorized {
		t.Errorf("no token: %d", rec.Code)
	}
	if rec := h.do("GET", "/v1/admin/recon", opToken, ""); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("unregistered method: %d", rec.Code)
	}
	if !strings.Contains(strings.Join(h.s.Routes(), ","), "POST /v1/admin/recon") {
		t.Errorf("routes %v", h.s.Routes())
	}

	good := Options{Payments: newMemPayments(), Idempotency: newMemIdem(), IdempotencyKey: make([]byte, 32),
		Clients:  []Client{{Name: "ops", Token: opToken, Role: RoleOperator, RateLimit: 1}},
		Registry: prometheus.NewRegistry(), Operator: []OperatorRoute{{Method: "GET", Pattern: "/v1/admin/settlement", Handler: upload}}}
	if _, err := New(good); err != nil {
		t.Fatalf("valid operator route refused: %v", err)
	}
	for _, bad := range [][]OperatorRoute{
		{{Method: "POST", Pattern: "/v1/payments/x", Handler: upload}},
		{{Method: "POST", Pattern: "/v1/admin/recon"}},
		{{Method: "GET", Pattern: "/v1/admin/banks", Handler: upload}},
	} {
		o := Options{Payments: newMemPayments(), Idempotency: newMemIdem(), IdempotencyKey: make([]byte, 32),
			Clients:  []Client{{Name: "ops", Token: opToken, Role: RoleOperator, RateLimit: 1}},
			Registry: prometheus.NewRegistry(), Operator: bad}
		if _, err := New(o); err == nil {
			t.Errorf("operator routes %+v accepted", bad)
		}
	}
}
