package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/acquirer/h2hswitch/simulators/wire"
)

const (
	cryptogram = "AgAAAAAABk4DWZ4C28yUQAAAAAA="
	cavv       = "AAABBJg0VhI0VniQEjRWAAAAAAA="
	dsTxnID    = "f25084f0-5b16-4c0a-ae5d-b24808a95e4b"
	tokenPAN   = "4895370000000106"
)

var ntidPattern = regexp.MustCompile(`^[0-9]{15}$`)

// request returns the one authorization request the bank received for rrn.
func request(t *testing.T, b *bank, rrn string) frame {
	t.Helper()
	for _, f := range b.tap.withRRN(rrn) {
		if f.MTI == "0100" || f.MTI == "0200" {
			return f
		}
	}
	t.Fatalf("no authorization with RRN %s at %s", rrn, b.name)
	return frame{}
}

func de48(t *testing.T, f frame) map[string]string {
	t.Helper()
	tlvs, err := wire.ParseDE48([]byte(f.Fields[48]))
	if err != nil {
		t.Fatalf("DE48 %q: %v", f.Fields[48], err)
	}
	m := map[string]string{}
	for _, e := range tlvs {
		m[e.Tag] = e.Value
	}
	return m
}

func pad(s string, n int) string { return s + strings.Repeat(" ", n-len(s)) }

// de126 builds Bank B's 91-character e-commerce data from its parts.
func de126(wallet, eci, authValue, ds, version, cvv string) string {
	return pad(wallet, 1) + pad(eci, 2) + pad(authValue, 40) + pad(ds, 36) + pad(version, 8) + pad(cvv, 4)
}

func checkFields(t *testing.T, f frame, want map[int]string) {
	t.Helper()
	for n, v := range want {
		got, ok := f.Fields[n]
		if v == "" {
			if ok {
				t.Errorf("DE%d = %q, want absent", n, got)
			}
			continue
		}
		if got != v {
			t.Errorf("DE%d = %q, want %q", n, got, v)
		}
	}
}

// TestWalletThreeDSStoredCredentialAtEachBank: network tokens, 3-D Secure
// and stored credentials reach each bank in its own fields, and the network
// transaction id of an initial payment is returned and accepted on a
// merchant-initiated subsequent one.
func TestWalletThreeDSStoredCredentialAtEachBank(t *testing.T) {
	t.Parallel()
	e := newEnv(t, routesKZTAlfa)
	s := e.startSwitch(journalOpts{})
	const threeDS = `"three_ds":{"version":"2.2.0","eci":"05","authentication_value":"` + cavv + `","ds_transaction_id":"` + dsTxnID + `"}`

	t.Run("alfa/wallet", func(t *testing.T) {
		p := s.pay(req{ID: uniq("ap"), Amount: 150000, Token: `"network_token":{"token":"` + tokenPAN + `","expiry":"2812","cryptogram":"` + cryptogram + `","wallet":"apple_pay","eci":"07"}`}.json())
		if p["status"] != "approved" || p["bank"] != "alfa" {
			t.Fatalf("%v", p)
		}
		f := request(t, e.alfa, p["rrn"].(string))
		checkFields(t, f, map[int]string{2: tokenPAN, 22: "812", 25: "59"})
		tags := de48(t, f)
		if tags["01"] != "07" || tags["10"] != "AP" || tags["11"] != cryptogram || tags["92"] != "" || tags["20"] != "" {
			t.Errorf("DE48 %v", tags)
		}
	})
	t.Run("sber/wallet", func(t *testing.T) {
		p := s.pay(req{ID: uniq("gp"), Amount: 150000, Currency: "USD", Token: `"network_token":{"token":"` + tokenPAN + `","expiry":"2812","cryptogram":"` + cryptogram + `","wallet":"google_pay","eci":"07"}`}.json())
		if p["status"] != "approved" || p["bank"] != "sber" {
			t.Fatalf("%v", p)
		}
		f := request(t, e.sber, p["rrn"].(string))
		checkFields(t, f, map[int]string{2: tokenPAN, 22: "817", 25: "59", 48: "", 61: "",
			126: de126("G", "07", cryptogram, "", "", "")})
	})
	t.Run("alfa/3ds", func(t *testing.T) {
		p := s.pay(req{ID: uniq("3a"), Amount: 150000, PAN: "4000000000000010", CVV: "7351", Extra: threeDS}.json())
		f := request(t, e.alfa, p["rrn"].(string))
		checkFields(t, f, map[int]string{22: "810", 25: "59"})
		tags := de48(t, f)
		if tags["01"] != "05" || tags["02"] != cavv || tags["03"] != dsTxnID || tags["04"] != "2.2.0" || tags["92"] != "7351" || tags["10"] != "" {
			t.Errorf("DE48 %v", tags)
		}
	})
	t.Run("sber/3ds", func(t *testing.T) {
		p := s.pay(req{ID: uniq("3b"), Amount: 150000, Currency: "USD", PAN: "4000000000000010", CVV: "7351", Extra: threeDS}.json())
		f := request(t, e.sber, p["rrn"].(string))
		checkFields(t, f, map[int]string{22: "812", 25: "59", 48: "", 126: de126(" ", "05", cavv, dsTxnID, "2.2.0", "7351")})
	})

	for _, b := range []*bank{e.alfa, e.sber} {
		t.Run(b.name+"/stored-credential", func(t *testing.T) {
			cur := bankCurrency[b.name]
			initial := s.pay(req{ID: uniq("sci"), Amount: 150000, Currency: cur, PAN: "4000000000000028", CVV: "7351",
				Extra: `"stored_credential":{"initiator":"cardholder","type":"recurring","sequence":"initial"}`}.json())
			ntid, _ := initial["network_transaction_id"].(string)
			if initial["status"] != "approved" || !ntidPattern.MatchString(ntid) {
				t.Fatalf("initial stored-credential payment: %v", initial)
			}
			f := request(t, b, initial["rrn"].(string))
			if b.name == "alfa" {
				checkFields(t, f, map[int]string{22: "810", 25: "59"})
				if tags := de48(t, f); tags["20"] != "CR" || tags["21"] != "I" || tags["22"] != "" || tags["92"] != "7351" {
					t.Errorf("initial DE48 %v", tags)
				}
			} else {
				checkFields(t, f, map[int]string{22: "812", 25: "59", 61: pad("C20", 18)})
			}

			sub := s.pay(req{ID: uniq("scs"), Amount: 99000, Currency: cur, PAN: "4000000000000028",
				Extra: fmt.Sprintf(`"stored_credential":{"initiator":"merchant","type":"recurring","sequence":"subsequent","network_transaction_id":%q}`, ntid)}.json())
			if sub["status"] != "approved" {
				t.Fatalf("merchant-initiated subsequent payment: %v", sub)
			}
			f = request(t, b, sub["rrn"].(string))
			if b.name == "alfa" {
				checkFields(t, f, map[int]string{22: "102", 25: "08"})
				if tags := de48(t, f); tags["20"] != "MR" || tags["21"] != "S" || tags["22"] != ntid || tags["92"] != "" {
					t.Errorf("subsequent DE48 %v", tags)
				}
			} else {
				checkFields(t, f, map[int]string{22: "100", 25: "08", 61: "M21" + ntid, 126: ""})
			}

			// A network transaction id the bank never issued.
			bogus := s.pay(req{ID: uniq("scb"), Amount: 99000, Currency: cur, PAN: "4000000000000028",
				Extra: `"stored_credential":{"initiator":"merchant","type":"unscheduled","sequence":"subsequent","network_transaction_id":"999999999999999"}`}.json())
			if b.name == "alfa" {
				checkOutcome(t, bogus, declined("invalid_transaction", 5012, "12", ""))
			} else {
				checkOutcome(t, bogus, declined("recurring_revoked", 5210, "05", "R0"))
			}
		})
	}
}
