package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/acquirer/h2hswitch/specs"
	"github.com/acquirer/h2hswitch/switch/bankmsg"
)

func TestFormatRRN(t *testing.T) {
	// The contract's example: 27 Nov 2026 is day 331 of a year ending in 6.
	if got := FormatRRN(time.Date(2026, 11, 27, 10, 15, 0, 0, almaty), 123); got != "633100000123" {
		t.Fatalf("FormatRRN = %s", got)
	}
	if got := FormatRRN(time.Date(2030, 1, 1, 0, 0, 0, 0, almaty), 100_000_007); got != "000100000007" {
		t.Fatalf("FormatRRN wraps the sequence: %s", got)
	}
	if got := FormatRRN(time.Date(2027, 12, 31, 23, 59, 0, 0, almaty), 99_999_999); !rrnRE.MatchString(got) || got != "736599999999" {
		t.Fatalf("FormatRRN = %s", got)
	}
}

func TestLogFieldsMasksCardData(t *testing.T) {
	now := time.Date(2026, 11, 27, 5, 15, 0, 0, time.UTC)
	req := &bankmsg.Request{
		Op: specs.OpPurchase, STAN: "000123", RRN: "633100000123", TransmissionTime: now, LocalTime: now.In(almaty),
		PAN: "4000000000000010", Expiry: "2812", CardSource: bankmsg.SourceKeyed, Amount: 150000, CurrencyNumeric: "398",
		MCC: "5411", AcquirerID: "123456", TerminalID: "T0000123", MerchantID: "M00000000000123",
		MerchantName: "DEMO SHOP", MerchantCity: "ALMATY", MerchantCountry: "KZ",
		ThreeDS: &bankmsg.ThreeDS{ECI: "05", AuthenticationValue: "AAABBJg0VhI0VniQEjRWAAAAAAA=", DSTransactionID: "f25084f0-5b16-4c0a-ae5d-b24808a95e4b", Version: "2.2.0"},
		CVV:     "9713",
	}
	for _, dialect := range []string{specs.DialectASCII, specs.DialectBinary} {
		t.Run(dialect, func(t *testing.T) {
			d := mustDialect(t, dialect)
			msg, err := bankmsg.Encode(d, req)
			if err != nil {
				t.Fatal(err)
			}
			f := logFields(msg)
			if f["0"] != "0200" || f["11"] != "000123" || f["37"] != "633100000123" {
				t.Fatalf("fields %v", f)
			}
			if f["2"] != "400000******0010" {
				t.Fatalf("DE2 = %q", f["2"])
			}
			if _, ok := f["14"]; ok {
				t.Fatal("expiry logged")
			}
			for k, v := range f {
				if strings.Contains(v, "9713") || strings.Contains(v, "AAABBJg0VhI0") || strings.Contains(v, "4000000000000010") {
					t.Fatalf("field %s leaks card data: %q", k, v)
				}
			}
			if dialect == specs.DialectASCII {
				if f["48.01"] != "05" || f["48.03"] == "" {
					t.Fatalf("non-secret DE48 tags missing: %v", f)
				}
				if _, ok := f["48.92"]; ok {
					t.Fatal("CVV tag logged")
				}
			} else {
				v := f["126"]
				if len(v) != specs.DE126Len || v[1:3] != "05" || strings.TrimSpace(v[3:43]) != "" || strings.TrimSpace(v[87:]) != "" {
					t.Fatalf("DE126 = %q", v)
				}
			}
		})
	}
}
