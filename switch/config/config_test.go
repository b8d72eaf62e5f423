package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const validYAML = `
api:
  listen: 127.0.0.1:8080
  clients:
    gateway:
      token: test-gateway-token-0123456789
      role: gateway
      rate_limit: 100
    ops:
      token: test-operator-token-0123456789
      role: operator
      rate_limit: 5
journal:
  driver: sqlite
  dsn: ./data/journal.db
  current_key_id: "1"
  pan_keys:
    "1": AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=
  hmac_key: AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=
routing:
  file: configs/routes.yaml
banks:
  alfa:
    dialect: h2h87-ascii
    addr: 127.0.0.1:9001
    acquirer_id: "400001"
  sber:
    dialect: h2h87-binary
    addr: 127.0.0.1:9002
    acquirer_id: "500002"
`

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "switch.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func problemsOf(t *testing.T, err error) []string {
	t.Helper()
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("want *config.Error, got %v", err)
	}
	return ce.Problems
}

func TestLoadValidAppliesDialectDefaults(t *testing.T) {
	cfg, _, err := Load(writeConfig(t, validYAML))
	if err != nil {
		t.Fatal(err)
	}
	a, b := cfg.Banks["alfa"], cfg.Banks["sber"]
	if a.Connections != 4 || a.Timeout != 15*time.Second || a.RepeatInterval != 30*time.Second {
		t.Errorf("alfa defaults: %+v", a)
	}
	if b.Connections != 8 || b.Timeout != 8*time.Second || b.RepeatInterval != 20*time.Second {
		t.Errorf("sber defaults: %+v", b)
	}
	if a.EchoInterval != 30*time.Second || a.ReadTimeout != 90*time.Second {
		t.Errorf("alfa timers: %+v", a)
	}
	if cfg.API.BodyLimit != 64<<10 || cfg.Journal.Driver != "sqlite" {
		t.Errorf("api/journal defaults: %+v %+v", cfg.API, cfg.Journal)
	}
	if got := len(cfg.Journal.PANKeyBytes()[1]); got != 32 {
		t.Errorf("pan key length %d", got)
	}
	if cfg.API.Clients["ops"].Role != RoleOperator || cfg.API.Clients["gateway"].RateLimit != 100 {
		t.Errorf("clients: %+v", cfg.API.Clients)
	}
	if !slices.Equal(cfg.BankNames(), []string{"alfa", "sber"}) {
		t.Errorf("BankNames %v", cfg.BankNames())
	}
}

func TestEnvOverridesNestedKeys(t *testing.T) {
	path := writeConfig(t, validYAML)
	t.Setenv("SWITCH_JOURNAL_DSN", "/tmp/other.db")
	t.Setenv("SWITCH_BANKS_ALFA_ADDR", "10.0.0.1:7001")
	t.Setenv("SWITCH_BANKS_ALFA_READ_TIMEOUT", "120s")
	t.Setenv("SWITCH_BANKS_ALFA_TLS_ENABLED", "true")
	t.Setenv("SWITCH_BANKS_ALFA_TLS_SERVER_NAME", "h2h.bank-a.kz")
	t.Setenv("SWITCH_BANKS_SBER_CONNECTIONS", "2")
	t.Setenv("SWITCH_API_CLIENTS_GATEWAY_TOKEN", "prod-token-from-env-abcdefghijkl")
	t.Setenv("SWITCH_API_LISTEN", "0.0.0.0:8443")
	// A bank and a key that exist only in the environment.
	t.Setenv("SWITCH_BANKS_HALYK_BANK_DIALECT", "h2h87-ascii")
	t.Setenv("SWITCH_BANKS_HALYK_BANK_ADDR", "10.0.0.3:7003")
	t.Setenv("SWITCH_BANKS_HALYK_BANK_ACQUIRER_ID", "700007")
	t.Setenv("SWITCH_JOURNAL_PAN_KEYS_2", "HyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4=")
	t.Setenv("SWITCH_JOURNAL_CURRENT_KEY_ID", "2")
	t.Setenv("SWITCH_NO_SUCH_THING", "x")

	cfg, warnings, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Banks["alfa"]
	if a.Addr != "10.0.0.1:7001" || a.ReadTimeout != 120*time.Second || !a.TLS.Enabled || a.TLS.ServerName != "h2h.bank-a.kz" {
		t.Errorf("alfa not overridden: %+v", a)
	}
	if a.AcquirerID != "400001" || a.Dialect != "h2h87-ascii" {
		t.Errorf("alfa file values lost: %+v", a)
	}
	if cfg.Banks["sber"].Connections != 2 {
		t.Errorf("sber connections %d", cfg.Banks["sber"].Connections)
	}
	h, ok := cfg.Banks["halyk_bank"]
	if !ok || h.Addr != "10.0.0.3:7003" || h.AcquirerID != "700007" || h.Connections != 4 {
		t.Errorf("env-only bank: %v %+v", ok, h)
	}
	if cfg.Journal.DSN != "/tmp/other.db" || cfg.Journal.CurrentKey() != 2 || len(cfg.Journal.PANKeyBytes()) != 2 {
		t.Errorf("journal: %+v", cfg.Journal)
	}
	if cfg.API.Clients["gateway"].Token != "prod-token-from-env-abcdefghijkl" || cfg.API.Listen != "0.0.0.0:8443" {
		t.Errorf("api: %+v", cfg.API)
	}
	if !slices.ContainsFunc(warnings, func(w string) bool { return strings.Contains(w, "SWITCH_NO_SUCH_THING") }) {
		t.Errorf("no warning for unknown variable: %v", warnings)
	}
}

func TestValidationNamesEveryKey(t *testing.T) {
	text := strings.NewReplacer(
		"dialect: h2h87-binary", "dialect: h2h87-bin",
		"addr: 127.0.0.1:9001", "addr: nowhere",
		`acquirer_id: "500002"`, `acquirer_id: "50A"`,
		"role: operator", "role: admin",
		"rate_limit: 100", "rate_limit: 0",
		"driver: sqlite", "driver: mysql",
		`current_key_id: "1"`, `current_key_id: "9"`,
		`"1": AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=`, `"1": AAECAw==`,
		"  file: configs/routes.yaml", "  file: \"\"",
	).Replace(validYAML)
	text += "    unexpected: 1\n" // under banks.sber
	text += "frobnicate: true\n"
	_, _, err := Load(writeConfig(t, text))
	got := problemsOf(t, err)
	want := []string{
		`banks.sber.dialect: unknown dialect "h2h87-bin"`,
		`banks.alfa.addr: "nowhere" is not host:port`,
		`banks.sber.acquirer_id: required, 1..11 digits`,
		`api.clients.ops.role: unknown role "admin"`,
		`api.clients.gateway.rate_limit: 0 out of range`,
		`journal.driver: unknown driver "mysql"`,
		`journal.current_key_id: key id "9" is not in journal.pan_keys`,
		`journal.pan_keys.1: decodes to 4 bytes, want 32`,
		`routing.file: required`,
		`banks.sber.unexpected: unknown key`,
		`frobnicate: unknown key`,
	}
	for _, w := range want {
		if !slices.ContainsFunc(got, func(p string) bool { return strings.HasPrefix(p, w) }) {
			t.Errorf("missing problem %q in:\n%s", w, strings.Join(got, "\n"))
		}
	}
	for _, p := range got {
		if strings.Contains(p, "AAECAw") {
			t.Errorf("problem leaks key material: %s", p)
		}
	}
}

func TestValidationBankTimersAndTLS(t *testing.T) {
	text := validYAML + `
    echo_interval: 2m
    read_timeout: 1m
    connections: 100
    tls:
      enabled: true
      ca_file: /nonexistent/ca.pem
      cert_file: /nonexistent/cert.pem
`
	_, _, err := Load(writeConfig(t, text))
	got := problemsOf(t, err)
	for _, w := range []string{
		"banks.sber.read_timeout: 1m0s must exceed echo_interval 2m0s",
		"banks.sber.connections: 100 out of range 1..64",
		"banks.sber.tls: cert_file and key_file must be set together",
		"banks.sber.tls.ca_file: cannot read /nonexistent/ca.pem",
	} {
		if !slices.ContainsFunc(got, func(p string) bool { return strings.HasPrefix(p, w) }) {
			t.Errorf("missing problem %q in:\n%s", w, strings.Join(got, "\n"))
		}
	}
}

func TestDuplicateTokensAndMissingSections(t *testing.T) {
	text := `
api:
  listen: 127.0.0.1:8080
  clients:
    a: {token: same-token-0123456789abcdef, role: gateway, rate_limit: 1}
    b: {token: same-token-0123456789abcdef, role: operator, rate_limit: 1}
    c: {token: short, role: gateway, rate_limit: 1}
journal:
  dsn: x
  hmac_key: "%%%"
routing:
  file: r.yaml
`
	_, _, err := Load(writeConfig(t, text))
	got := problemsOf(t, err)
	for _, w := range []string{
		"api.clients.b.token: same token as api.clients.a",
		"api.clients.c.token: too short",
		"banks: at least one bank is required",
		"journal.pan_keys: at least one key is required",
		"journal.current_key_id: required",
		"journal.hmac_key: not valid base64",
	} {
		if !slices.ContainsFunc(got, func(p string) bool { return strings.HasPrefix(p, w) }) {
			t.Errorf("missing problem %q in:\n%s", w, strings.Join(got, "\n"))
		}
	}
}

func TestExampleConfigLoadsWithDemoWarnings(t *testing.T) {
	cfg, warnings, err := Load(filepath.Join("..", "..", "configs", "switch.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Banks["alfa"].Dialect != "h2h87-ascii" || cfg.Banks["alfa"].Addr != "127.0.0.1:9001" ||
		cfg.Banks["sber"].Dialect != "h2h87-binary" || cfg.Banks["sber"].Addr != "127.0.0.1:9002" {
		t.Errorf("example banks: %+v", cfg.Banks)
	}
	if cfg.Routing.File != "configs/routes.yaml" || cfg.Journal.Driver != "sqlite" {
		t.Errorf("example routing/journal: %+v %+v", cfg.Routing, cfg.Journal)
	}
	if !slices.ContainsFunc(warnings, func(w string) bool { return strings.Contains(w, "api.clients.gateway.token: DEMO") }) ||
		!slices.ContainsFunc(warnings, func(w string) bool { return strings.Contains(w, "journal.hmac_key: DEMO") }) {
		t.Errorf("demo warnings missing: %v", warnings)
	}
}

func TestEnvKeyPrefersLongestField(t *testing.T) {
	cases := map[string]string{
		"banks_alfa_timeout":          "banks.alfa.timeout",
		"banks_alfa_read_timeout":     "banks.alfa.read_timeout",
		"banks_my_bank_tls_ca_file":   "banks.my_bank.tls.ca_file",
		"api_clients_gw_1_rate_limit": "api.clients.gw_1.rate_limit",
		"journal_pan_keys_k7":         "journal.pan_keys.k7",
		"metrics_listen":              "metrics.listen",
	}
	for in, want := range cases {
		if got, ok := envKey(in); !ok || got != want {
			t.Errorf("envKey(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	if got, ok := envKey("banks__addr"); ok {
		t.Errorf("envKey(banks__addr) = %q", got)
	}
}

func TestPANKeyIDsAreIntegers(t *testing.T) {
	text := strings.Replace(validYAML, `    "1": AAEC`, `    k1: AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=
    "1": AAEC`, 1)
	_, _, err := Load(writeConfig(t, text))
	got := problemsOf(t, err)
	if len(got) != 1 || !strings.HasPrefix(got[0], `journal.pan_keys.k1: key id "k1" is not an integer`) {
		t.Errorf("problems %q", got)
	}
	for in, ok := range map[string]bool{"1": true, "4294967295": true, "0": false, "01": false, "4294967296": false, "-1": false, "": false} {
		if _, err := KeyID(in); (err == nil) != ok {
			t.Errorf("KeyID(%q) err %v", in, err)
		}
	}
}
