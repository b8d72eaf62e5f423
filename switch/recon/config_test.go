package recon

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acquirer/h2hswitch/specs/calendar"
)

// TestProblemsNameTheKey: every invalid reconciliation or settlement key is
// reported with its path, all at once.
func TestProblemsNameTheKey(t *testing.T) {
	banks := map[string]string{"alfa": "h2h87-ascii", "sber": "h2h87-binary"}
	if p := Problems(ReconConfig{}, SettlementConfig{}, banks); len(p) != 0 {
		t.Fatalf("defaults: %v", p)
	}
	rc := ReconConfig{
		Store:        StoreConfig{Driver: "mysql", Schema: "Bad-Name"},
		LookbackDays: 401, MaxFileBytes: 1 << 20, MaxUploadBytes: 2 << 20, MaxBreaks: -1,
	}
	rc.Calendars = map[string]calendar.Config{"alfa": {CutOff: "25:00"}, "vtb": {}}
	sc := SettlementConfig{DefaultRate: "2.55555%", MerchantRates: map[string]string{"M1": "101%"}, Currency: "kzt"}
	got := strings.Join(Problems(rc, sc, banks), "\n")
	for _, key := range []string{"recon.store.driver:", "recon.store.schema:", "recon.lookback_days:", "recon.max_upload_bytes:",
		"recon.max_breaks:", "recon.calendars.alfa:", "recon.calendars.vtb: no such bank", "settlement.default_rate:",
		"settlement.currency:"} {
		if !strings.Contains(got, key) {
			t.Errorf("no problem for %s in:\n%s", key, got)
		}
	}
	// The first bad rate stops the rate table; a good default reaches the merchant's.
	sc.DefaultRate = "2.5%"
	if got := strings.Join(Problems(ReconConfig{}, sc, banks), "\n"); !strings.Contains(got, "settlement.merchant_rates.M1:") {
		t.Errorf("merchant rate: %s", got)
	}
}

// TestLoadFileConfigRefusesBadValues: switchctl refuses a configuration
// whose reconciliation keys are invalid, naming them.
func TestLoadFileConfigRefusesBadValues(t *testing.T) {
	path := filepath.Join(t.TempDir(), "switch.yaml")
	yaml := "journal: {driver: sqlite, dsn: ./j.db}\nbanks:\n  alfa: {dialect: h2h87-ascii}\nrecon:\n  lookback_days: 500\nsettlement:\n  default_rate: abc\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadFileConfig(path)
	if err == nil || !strings.Contains(err.Error(), "recon.lookback_days") || !strings.Contains(err.Error(), "settlement.default_rate") {
		t.Fatalf("err = %v", err)
	}
	ok := "journal: {driver: sqlite, dsn: ./j.db}\nbanks:\n  alfa: {dialect: h2h87-ascii}\nsettlement:\n  merchant_rates: {M00000000000456: \"2.0%\"}\n"
	if err := os.WriteFile(path, []byte(ok), 0o600); err != nil {
		t.Fatal(err)
	}
	fc, err := LoadFileConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if fc.MaxUploadBytes() != DefaultMaxUploadBytes || fc.StoreConfig().DSN != "recon.db" {
		t.Errorf("defaults: upload %d, store %+v", fc.MaxUploadBytes(), fc.StoreConfig())
	}
	cfg, err := fc.ServiceConfig()
	if err != nil {
		t.Fatal(err)
	}
	rt, err := newRateTable(cfg.Settlement)
	if err != nil || rt.rate("M00000000000456").String() != "2%" || rt.rate("M1").String() != "2.5%" {
		t.Errorf("rates: %v %v", rt, err)
	}
}
