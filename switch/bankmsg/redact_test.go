package bankmsg

import (
	"fmt"
	"strings"
	"testing"

	"github.com/acquirer/h2hswitch/specs"
)

// A Request printed with any verb, as a careless log line would, shows the
// card only masked and never the CVV, the authentication value or the
// cryptogram.
func TestRequestFormattingHidesCardData(t *testing.T) {
	const (
		pan        = "4000000000000010"
		cvv        = "987"
		cavv       = "AAABBEg0VhI0VniQEjRWAAAAAAA="
		cryptogram = "AgAAAAAABk4DWZ4C28yUQAAAAAA="
	)
	r := Request{Op: specs.OpPurchase, STAN: "000123", RRN: "633100000123", PAN: pan, CVV: cvv, Amount: 150000,
		CurrencyNumeric: "398", ThreeDS: &ThreeDS{ECI: "05", AuthenticationValue: cavv},
		Wallet: &Wallet{Kind: WalletApplePay, Cryptogram: cryptogram}}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		for _, v := range []any{r, &r, *r.ThreeDS, r.Wallet} {
			out := fmt.Sprintf(verb, v)
			for _, secret := range []string{pan, cvv, cavv, cryptogram} {
				if strings.Contains(out, secret) {
					t.Errorf("%s of %T leaks %q: %s", verb, v, secret, out)
				}
			}
		}
	}
	if got := fmt.Sprint(r); !strings.Contains(got, "400000******0010") || !strings.Contains(got, "stan=000123") {
		t.Errorf("String lost the masked card or STAN: %s", got)
	}
	if maskPAN("4000") != "****" {
		t.Errorf("short PAN not fully masked: %s", maskPAN("4000"))
	}
}
