package banksim

import (
	"github.com/acquirer/h2hswitch/simulators/settlement"
	"github.com/acquirer/h2hswitch/specs/calendar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acquirer/h2hswitch/simulators/wire"
)

func TestLoadConfigFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "b.yaml")
	yml := `dialect: h2h87-binary
listen: 127.0.0.1:0
control: 127.0.0.1:9102
log_level: debug
acquirer_id: "12345"
late_delay: 2s
echo_interval: 150ms
echo_timeout: 1s
amount_rules:
  "33": "65"
  "51": approve
fees:
  percent: "1.5"
  fixed_per_sale: {KZT: 3000}
calendar:
  cut_off: "20:00"
  holidays: ["2026-12-16", "2026-12-17"]
auth_code_seed: 42
`
	if err := os.WriteFile(p, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	fc, err := LoadConfigFile(p)
	if err != nil {
		t.Fatal(err)
	}
	c := fc.Config
	if c.Dialect != wire.DialectBinary || fc.Control != "127.0.0.1:9102" || fc.LogLevel != "debug" ||
		c.LateDelay != 2*time.Second || c.EchoInterval != 150*time.Millisecond || c.EchoTimeout != time.Second ||
		c.AmountRules["33"] != "65" || c.Fees.Percent != "1.5" || c.Fees.FixedPerSale["KZT"] != 3000 ||
		c.Calendar.CutOff != "20:00" || len(c.Calendar.Holidays) != 2 || c.AuthCodeSeed != 42 || c.AcquirerID != "12345" {
		t.Fatalf("loaded %+v", fc)
	}
	if _, err := New(c); err != nil {
		t.Fatalf("loaded config does not validate: %v", err)
	}

	if err := os.WriteFile(p, []byte("dialect: h2h87-ascii\nlate_dealy: 2s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfigFile(p); err == nil || !strings.Contains(err.Error(), "late_dealy") {
		t.Fatalf("misspelt key: %v", err)
	}
}

func TestConfigValidation(t *testing.T) {
	for key, cfg := range map[string]Config{
		"dialect":         {Dialect: "h2h93"},
		"late_delay":      {Dialect: wire.DialectASCII, LateDelay: -time.Second},
		"acquirer_id":     {Dialect: wire.DialectASCII, AcquirerID: "12AB"},
		"card_rules":      {Dialect: wire.DialectASCII, CardRules: map[string]string{"4000000000000010": "5"}},
		"fees":            {Dialect: wire.DialectASCII, Fees: settlement.Fees{Percent: "x"}},
		"calendar":        {Dialect: wire.DialectASCII, Calendar: calendar.Config{CutOff: "25:00"}},
		"max_connections": {Dialect: wire.DialectASCII, MaxConnections: -1},
	} {
		_, err := New(cfg)
		if err == nil || !strings.Contains(err.Error(), key) && !strings.Contains(err.Error(), strings.ReplaceAll(key, "calendar", "cut_off")) {
			t.Errorf("%s: error %v does not name the key", key, err)
		}
	}
}
