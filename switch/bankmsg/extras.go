package bankmsg

import (
	"errors"
	"fmt"

	"github.com/acquirer/h2hswitch/specs"
)

// extrasData is the dialect-neutral, validated form of the e-commerce data
// that Bank A carries in DE48 and Bank B in DE61, DE63 and DE126.
type extrasData struct {
	eci, authValue, dsID, version string
	wallet                        string // "apple_pay" / "google_pay" or ""
	cryptogram                    string
	sc                            *StoredCredential
	ntid                          string // sent only where the dialect wants it
	subMerchant                   string
	cvv                           string
}

// gatherExtras validates the request's extras. auth is true for
// authorizations (0100/0200 purchase), which carry everything; a refund
// carries only the sub-merchant.
func gatherExtras(r *Request, auth bool) (extrasData, error) {
	var x extrasData
	if r.SubMerchantID != "" {
		v, err := ansVar("sub-merchant", "ID", r.SubMerchantID, 15)
		if err != nil {
			return x, err
		}
		x.subMerchant = v
	}
	if !auth {
		return x, nil
	}
	if r.ThreeDS != nil && r.Wallet != nil {
		return x, errors.New("e-commerce data: 3-D Secure and wallet data are mutually exclusive")
	}
	if t := r.ThreeDS; t != nil {
		if len(t.ECI) != 2 || !specs.IsDigits(t.ECI) {
			return x, errors.New("3-D Secure ECI: want 2 digits")
		}
		if _, err := ansVar("3-D Secure", "authentication value", t.AuthenticationValue, 40); err != nil {
			return x, err
		}
		if t.DSTransactionID != "" && len(t.DSTransactionID) != 36 {
			return x, errors.New("3-D Secure DS transaction ID: want 36 characters")
		}
		if _, err := ansVar("3-D Secure", "DS transaction ID", t.DSTransactionID, 36); err != nil {
			return x, err
		}
		if _, err := ansVar("3-D Secure", "version", t.Version, 8); err != nil {
			return x, err
		}
		x.eci, x.authValue, x.dsID, x.version = t.ECI, t.AuthenticationValue, t.DSTransactionID, t.Version
	}
	if w := r.Wallet; w != nil {
		if w.Kind != WalletApplePay && w.Kind != WalletGooglePay {
			return x, fmt.Errorf("wallet kind: want %s or %s", WalletApplePay, WalletGooglePay)
		}
		if w.Cryptogram == "" {
			return x, errors.New("wallet token cryptogram: required")
		}
		if _, err := ansVar("wallet", "token cryptogram", w.Cryptogram, 40); err != nil {
			return x, err
		}
		if w.ECI != "" && (len(w.ECI) != 2 || !specs.IsDigits(w.ECI)) {
			return x, errors.New("wallet ECI: want 2 digits")
		}
		x.wallet, x.cryptogram, x.eci = w.Kind, w.Cryptogram, w.ECI
	}
	if sc := r.StoredCredential; sc != nil {
		if sc.Initiator != InitiatorCardholder && sc.Initiator != InitiatorMerchant {
			return x, errors.New("stored credential initiator: want cardholder or merchant")
		}
		switch sc.Type {
		case CredentialOneClick, CredentialRecurring, CredentialUnscheduled:
		default:
			return x, errors.New("stored credential type: want one_click, recurring or unscheduled")
		}
		if sc.Sequence != SequenceInitial && sc.Sequence != SequenceSubsequent {
			return x, errors.New("stored credential sequence: want initial or subsequent")
		}
		if sc.Sequence == SequenceSubsequent {
			if sc.Initiator == InitiatorMerchant && sc.NetworkTransactionID == "" {
				return x, errors.New("stored credential network transaction ID: required on a merchant-initiated subsequent payment")
			}
			v, err := ansVar("stored credential", "network transaction ID", sc.NetworkTransactionID, 15)
			if err != nil {
				return x, err
			}
			x.ntid = v
		}
		x.sc = sc
	}
	if r.CVV != "" {
		if len(r.CVV) < 3 || len(r.CVV) > 4 || !specs.IsDigits(r.CVV) {
			return x, errors.New("CVV2: want 3 or 4 digits")
		}
		x.cvv = r.CVV
	}
	return x, nil
}

// extras renders the validated extras into the dialect's fields.
func (e *encoder) extras(auth bool) {
	if e.err != nil {
		return
	}
	x, err := gatherExtras(e.r, auth)
	if err != nil {
		e.fail(err)
		return
	}
	switch e.d.Private {
	case specs.PrivateDE48TLV:
		e.de48(x)
	case specs.PrivatePositional:
		e.positional(x)
	default:
		e.fail(fmt.Errorf("dialect %s: unknown private data layout", e.d.Name))
	}
}

func (e *encoder) de48(x extrasData) {
	t := map[string]string{
		specs.TagECI:             x.eci,
		specs.TagAuthValue:       x.authValue,
		specs.TagDSTransactionID: x.dsID,
		specs.TagThreeDSVersion:  x.version,
		specs.TagTokenCryptogram: x.cryptogram,
		specs.TagSubMerchant:     x.subMerchant,
		specs.TagCVV:             x.cvv,
	}
	switch x.wallet {
	case WalletApplePay:
		t[specs.TagWallet] = "AP"
	case WalletGooglePay:
		t[specs.TagWallet] = "GP"
	}
	if sc := x.sc; sc != nil {
		t[specs.TagStoredCredential] = initiatorLetter(sc.Initiator) + typeLetter(sc.Type)
		t[specs.TagStoredSequence] = "I"
		if sc.Sequence == SequenceSubsequent {
			t[specs.TagStoredSequence] = "S"
			// Bank A reads tag 22 only on merchant-initiated subsequent payments.
			if sc.Initiator == InitiatorMerchant {
				t[specs.TagNetworkTxnID] = x.ntid
			}
		}
	}
	v, err := specs.BuildDE48(t)
	if err != nil {
		e.fail(err)
		return
	}
	if v != "" {
		e.put(48, v)
	}
}

func (e *encoder) positional(x extrasData) {
	if sc := x.sc; sc != nil {
		s61 := specs.StoredCredential61{Initiator: initiatorLetter(sc.Initiator)[0], Type: '1', Sequence: '0'}
		switch sc.Type {
		case CredentialRecurring:
			s61.Type = '2'
		case CredentialUnscheduled:
			s61.Type = '3'
		}
		if sc.Sequence == SequenceSubsequent {
			s61.Sequence = '1'
			s61.NetworkTransactionID = x.ntid
		}
		e.field(61)(s61.Format())
	}
	if x.subMerchant != "" {
		e.put(63, x.subMerchant)
	}
	ec := specs.ECommerce126{ECI: x.eci, AuthValue: x.authValue, DSTransactionID: x.dsID, Version: x.version, CVV: x.cvv}
	switch x.wallet {
	case WalletApplePay:
		ec.Wallet, ec.AuthValue = 'A', x.cryptogram
	case WalletGooglePay:
		ec.Wallet, ec.AuthValue = 'G', x.cryptogram
	}
	if !ec.IsZero() {
		e.field(126)(ec.Format())
	}
}

func initiatorLetter(i string) string {
	if i == InitiatorMerchant {
		return "M"
	}
	return "C"
}

func typeLetter(t string) string {
	switch t {
	case CredentialRecurring:
		return "R"
	case CredentialUnscheduled:
		return "U"
	default:
		return "O"
	}
}
