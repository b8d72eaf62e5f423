package api

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/acquirer/h2hswitch/switch/recon/reconhttp"
)

// TestOpenAPIMatchesRoutes keeps docs/openapi.yaml and the registered
// handlers in step: every documented path+method is served, and every
// served one is documented.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "docs", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string                               `yaml:"openapi"`
		Paths   map[string]map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("docs/openapi.yaml: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	methods := []string{"get", "put", "post", "delete", "patch", "head", "options", "trace"}
	var documented []string
	for path, item := range doc.Paths {
		for m, op := range item {
			if !slices.Contains(methods, m) {
				continue
			}
			if _, ok := op["responses"]; !ok {
				t.Errorf("%s %s has no responses", m, path)
			}
			documented = append(documented, strings.ToUpper(m)+" "+path)
		}
	}
	// The assembly (switch/app) mounts the reconciliation endpoints as
	// operator routes; the document covers them too.
	var recon []OperatorRoute
	for _, rt := range (&reconhttp.Handlers{}).Routes() {
		recon = append(recon, OperatorRoute{Method: rt.Method, Pattern: rt.Pattern, Handler: rt.Handler})
	}
	h := newHarness(t, func(o *Options) { o.MetricsHandler = http.NotFoundHandler(); o.Operator = recon })
	served := h.s.Routes()
	slices.Sort(documented)
	slices.Sort(served)
	for _, d := range documented {
		if !slices.Contains(served, d) {
			t.Errorf("documented but not served: %s", d)
		}
	}
	for _, s := range served {
		if !slices.Contains(documented, s) {
			t.Errorf("served but not documented: %s", s)
		}
	}
	if len(served) < 16 {
		t.Errorf("only %d routes served", len(served))
	}
}
