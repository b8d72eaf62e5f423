package standin

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/acquirer/h2hswitch/switch/journal"
)

// FuzzConfigAndDecide feeds hostile configuration text and payment input
// through validation and a decision: nothing may panic, an accepted
// configuration must compile, and no approval may break a hard rule.
func FuzzConfigAndDecide(f *testing.F) {
	f.Add([]byte(exampleYAML), "alfa", "M00000000000123", "5411", "purchase", int64(1000), "KZT")
	f.Add([]byte(exampleYAML), "alfa", "m00000000000999", "7995", "preauth", int64(5_000_000), "usd")
	f.Add([]byte("banks: {alfa: {enabled: true, types: [refund]}}"), "alfa", "", "", "refund", int64(1), "KZT")
	f.Add([]byte("banks: {x: {enabled: true, max_amount: {kzt: 1}, daily_count: 1, daily_amount: {KZT: 1}}}"), "x", "", "0000", "purchase", int64(1), "KZT")
	f.Add([]byte("banks: {alfa: {time_zone: '../../etc/passwd'}}"), "alfa", "", "", "", int64(-1), "")
	f.Add([]byte("banks:\n  a: &x {enabled: true}\n  b: *x\n"), "b", "", "", "purchase", int64(9), "KZT")

	store, err := journal.Open(context.Background(), journal.Config{DSN: filepath.Join(f.TempDir(), "journal.db")})
	if err != nil {
		f.Fatalf("opening journal: %v", err)
	}
	f.Cleanup(func() { _ = store.Close() })
	const panHash = "5f0e4a6c9b2d7e1f3a5c8b0d2e4f6a7c9e1b3d5f7a9c0e2b4d6f8a1c3e5b7d90"

	f.Fuzz(func(t *testing.T, doc []byte, bank, merchant, mcc, typ string, amount int64, currency string) {
		if len(doc) > 64<<10 {
			return // the configuration loader bounds files far below this
		}
		var cfg Config
		if err := yaml.Unmarshal(doc, &cfg); err != nil {
			return
		}
		verr := cfg.Validate()
		p, nerr := New(cfg, Options{Journal: store})
		if (verr == nil) != (nerr == nil) {
			t.Fatalf("Validate %v but New %v", verr, nerr)
		}
		if nerr != nil {
			return
		}
		in := Input{Bank: bank, MerchantID: merchant, MCC: mcc, Type: PaymentType(typ), Amount: amount,
			Currency: currency, PANHash: panHash}
		d, err := p.Decide(context.Background(), in)
		if err != nil {
			if d.Approve {
				t.Fatalf("approved with an error: %v", err)
			}
			return
		}
		if !d.Approve {
			if d.Reason == "" {
				t.Fatal("decline without a reason")
			}
			return
		}
		defer p.Release(d)
		if in.Type == Refund || (in.Type != Purchase && in.Type != Preauth) {
			t.Fatalf("approved a %q", in.Type)
		}
		if !IsStandInAuthCode(d.AuthCode) || amount <= 0 {
			t.Fatalf("approval %+v for amount %d", d, amount)
		}
		r := (*p.banks.Load())[bank].rulesFor(merchant)
		if !r.enabled || amount > r.maxAmount[strings.ToUpper(currency)] || r.mccDeny[mcc] {
			t.Fatalf("approval breaks the rules %+v", r)
		}
	})
}
