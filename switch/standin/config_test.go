package standin

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/viper"
	"gopkg.in/yaml.v3"
)

// exampleYAML is the configuration docs/standin.md shows.
const exampleYAML = `
banks:
  alfa:
    enabled: true
    time_zone: Asia/Almaty
    types: [purchase, preauth]
    max_amount: {KZT: 5000000, USD: 20000}
    daily_count: 3
    daily_amount: {KZT: 10000000, USD: 50000}
    mcc_deny: ["7995", "6051", "4829", "6211"]
    merchant_initiated: false
    on_timeout: false
    merchants:
      M00000000000123:
        max_amount: {KZT: 20000000}
        daily_amount: {KZT: 40000000}
        merchant_initiated: true
      M00000000000999:
        enabled: false
  sber:
    enabled: false
`

func TestExampleConfigYAML(t *testing.T) {
	var cfg Config
	if err := yaml.Unmarshal([]byte(exampleYAML), &cfg); err != nil {
		t.Fatalf("yaml: %v", err)
	}
	checkExample(t, cfg)
}

// The switch loads its configuration with viper, which lower-cases every
// map key: currencies and merchant ids must still match.
func TestExampleConfigViper(t *testing.T) {
	v := viper.New()
	v.SetConfigType("yaml")
	if err := v.ReadConfig(bytes.NewBufferString(exampleYAML)); err != nil {
		t.Fatalf("viper: %v", err)
	}
	var cfg Config
	if err := v.Unmarshal(&cfg); err != nil {
		t.Fatalf("viper unmarshal: %v", err)
	}
	if _, upper := cfg.Banks["alfa"].MaxAmount["KZT"]; upper {
		t.Fatal("viper kept the key case; this test no longer covers lower-cased keys")
	}
	checkExample(t, cfg)
}

func checkExample(t *testing.T, cfg Config) {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("example config invalid: %v", err)
	}
	banks, problems := compile(cfg)
	if len(problems) > 0 {
		t.Fatalf("compile: %v", problems)
	}
	alfa := banks["alfa"]
	if alfa.loc.String() != "Asia/Almaty" || !alfa.base.enabled || alfa.base.dailyCount != 3 ||
		alfa.base.maxAmount["KZT"] != 5_000_000 || alfa.base.dailyAmount["USD"] != 50_000 ||
		!alfa.base.mccDeny["6051"] || alfa.base.mit || alfa.base.onTimeout {
		t.Fatalf("alfa rules %+v", alfa.base)
	}
	m := alfa.rulesFor("m00000000000123")
	if m.maxAmount["KZT"] != 20_000_000 || m.dailyAmount["KZT"] != 40_000_000 || !m.mit ||
		m.dailyCount != 3 || !m.mccDeny["7995"] || !m.enabled {
		t.Fatalf("merchant override %+v", m)
	}
	if _, ok := m.maxAmount["USD"]; ok {
		t.Fatal("an override's max_amount must replace the bank's, not merge with it")
	}
	if alfa.rulesFor("M00000000000999").enabled {
		t.Fatal("merchant override enabled: false not applied")
	}
	if banks["sber"].base.enabled {
		t.Fatal("sber enabled")
	}
}

func TestValidateNamesEveryKey(t *testing.T) {
	cfg := Config{Banks: map[string]BankConfig{
		"alfa": {
			TimeZone: "Mars/Olympus",
			Rules: Rules{
				Enabled:     ptr(true),
				Types:       []string{"purchase", "refund", "cashback"},
				MaxAmount:   map[string]int64{"KZT": -1, "XXQ": 5, "USD": 100},
				DailyCount:  ptr[int64](0),
				DailyAmount: map[string]int64{"KZT": 100},
				MCCAllow:    []string{"541"},
				MCCDeny:     []string{"79a5"},
			},
			Merchants: map[string]Rules{
				"M1":                    {MaxAmount: map[string]int64{"EUR": 100}},
				"m1":                    {},
				"WAY-TOO-LONG-MERCHANT": {},
				"M2":                    {Types: []string{}},
			},
		},
		"sber": {Rules: Rules{Enabled: ptr(true)}},
	}}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	want := []string{
		"standin.banks.alfa.time_zone:",
		"standin.banks.alfa.types[1]: refunds are never stood in",
		"standin.banks.alfa.types[2]:",
		"standin.banks.alfa.max_amount.KZT: must be a positive amount",
		"standin.banks.alfa.max_amount.XXQ:",
		"standin.banks.alfa.daily_count: must be at least 1",
		"standin.banks.alfa.daily_amount.USD: required",
		"standin.banks.alfa.mcc_allow[0]:",
		"standin.banks.alfa.mcc_deny[0]:",
		"standin.banks.alfa.merchants.M1.daily_amount.EUR: required",
		"standin.banks.alfa.merchants.m1: merchant M1 has more than one override",
		"standin.banks.alfa.merchants.WAY-TOO-LONG-MERCHANT:",
		"standin.banks.alfa.merchants.M2.types: stand-in is enabled but no payment type",
		"standin.banks.sber.max_amount: required",
		"standin.banks.sber.daily_count: required",
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("missing %q in:\n%v", w, err)
		}
	}
	if _, err := New(cfg, Options{Journal: newEnv(t).store}); err == nil {
		t.Fatal("New accepted an invalid config")
	}
}

func TestRefundsRefusedWhateverTheConfigSays(t *testing.T) {
	for _, types := range [][]string{{"refund"}, {"purchase", "REFUND"}, {" refund "}} {
		cfg := baseConfig()
		b := cfg.Banks["alfa"]
		b.Types = types
		cfg.Banks["alfa"] = b
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "refunds are never stood in") {
			t.Fatalf("types %q: %v", types, err)
		}
		// In a merchant override too.
		cfg = baseConfig()
		b = cfg.Banks["alfa"]
		b.Merchants = map[string]Rules{"M1": {Types: types}}
		cfg.Banks["alfa"] = b
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "standin.banks.alfa.merchants.M1.types") {
			t.Fatalf("override types %q: %v", types, err)
		}
	}
}

func TestDisabledBankNeedsNoLimits(t *testing.T) {
	cfg := Config{Banks: map[string]BankConfig{"sber": {}, "alfa": {Rules: Rules{Enabled: ptr(false)}}}}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("disabled banks: %v", err)
	}
	if err := (Config{}).Validate(); err != nil {
		t.Fatalf("empty config: %v", err)
	}
}

func TestUpdateKeepsRulesOnInvalidConfig(t *testing.T) {
	e := newEnv(t)
	p := e.policy(baseConfig())
	bad := baseConfig()
	b := bad.Banks["alfa"]
	b.DailyCount = ptr[int64](-5)
	bad.Banks["alfa"] = b
	if err := p.Update(bad); err == nil || !strings.Contains(err.Error(), "standin.banks.alfa.daily_count") {
		t.Fatalf("Update(bad) = %v", err)
	}
	wantApprove(t, decide(t, p, e.input(panA, 1000)))

	off := baseConfig()
	b = off.Banks["alfa"]
	b.Enabled = ptr(false)
	off.Banks["alfa"] = b
	if err := p.Update(off); err != nil {
		t.Fatalf("Update: %v", err)
	}
	wantDecline(t, decide(t, p, e.input(panA, 1000)), ReasonDisabled)
}
