package config

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestReconSectionsValidated: the recon and settlement sections are part of
// the schema (unknown keys refused), validated with problems naming the
// key, and overridable from the environment.
func TestReconSectionsValidated(t *testing.T) {
	text := validYAML + `recon:
  store: {driver: mysql}
  lookback_days: 500
  max_upload_bytes: -1
  calendars:
    vtb: {holidays: ["2026-12-16"]}
    alfa: {cut_off: "24:61"}
  frobnicate: 1
settlement:
  default_rate: "2.5 percent"
  merchant_rates: {M00000000000456: "120%"}
  currency: kzt
`
	_, _, err := Load(writeConfig(t, text))
	got := problemsOf(t, err)
	for _, w := range []string{
		`recon.store.driver: "mysql" is not sqlite or postgres`,
		`recon.lookback_days:`,
		`recon.max_upload_bytes:`,
		`recon.calendars.vtb: no such bank in banks`,
		`recon.calendars.alfa:`,
		`recon.frobnicate: unknown key`,
		`settlement.default_rate:`,
		`settlement.currency:`,
	} {
		if !slices.ContainsFunc(got, func(p string) bool { return strings.HasPrefix(p, w) }) {
			t.Errorf("missing problem %q in:\n%s", w, strings.Join(got, "\n"))
		}
	}

	good := validYAML + `recon:
  store: {driver: sqlite, dsn: ./data/recon.db}
  lookback_days: 35
  calendars:
    alfa: {holidays: ["2026-12-16"]}
settlement:
  default_rate: "2.5%"
  merchant_rates: {M00000000000456: "2.0%"}
`
	t.Setenv("SWITCH_RECON_LOOKBACK_DAYS", "40")
	t.Setenv("SWITCH_SETTLEMENT_DEFAULT_RATE", "3%")
	cfg, _, err := Load(writeConfig(t, good))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Recon.LookbackDays != 40 || cfg.Settlement.DefaultRate != "3%" || cfg.Recon.Store.DSN != "./data/recon.db" ||
		len(cfg.Recon.Calendars["alfa"].Holidays) != 1 || len(cfg.Settlement.MerchantRates) != 1 {
		t.Errorf("recon %+v settlement %+v", cfg.Recon, cfg.Settlement)
	}
}

// TestExampleConfigHasReconSections: configs/switch.yaml carries example
// recon and settlement values, and they are valid.
func TestExampleConfigHasReconSections(t *testing.T) {
	cfg, _, err := Load(filepath.Join("..", "..", "configs", "switch.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Recon.Store.Driver == "" || cfg.Recon.LookbackDays == 0 || cfg.Settlement.DefaultRate == "" ||
		len(cfg.Settlement.MerchantRates) == 0 || cfg.Settlement.Currency != "KZT" {
		t.Errorf("example recon %+v settlement %+v", cfg.Recon, cfg.Settlement)
	}
}
