package bankmsg

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	iso8583errors "github.com/moov-io/iso8583/errors"

	"github.com/acquirer/h2hswitch/specs"
)

// The framing prefix in front of a golden message, worked out by hand.
func TestGoldenFramedEcho(t *testing.T) {
	t.Run("Bank A", func(t *testing.T) {
		d := mustDialect(t, specs.DialectASCII)
		msg, err := Encode(d, &Request{Op: specs.OpEcho, STAN: "000200", TransmissionTime: t0})
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := d.WriteMessage(&buf, msg); err != nil {
			t.Fatal(err)
		}
		// 4 MTI + 32 bitmaps + 10 DE7 + 6 DE11 + 3 DE70 = 55 bytes.
		want := "0055" + "0800" + "8220000000000000" + "0400000000000000" + "1127101500" + "000200" + "301"
		if buf.String() != want {
			t.Errorf("framed\n got %q\nwant %q", buf.String(), want)
		}
		got, err := d.ReadMessage(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := got.GetString(70); v != "301" {
			t.Errorf("DE70 after read = %q", v)
		}
	})
	t.Run("Bank B", func(t *testing.T) {
		d := mustDialect(t, specs.DialectBinary)
		msg, err := Encode(d, &Request{Op: specs.OpSignOn, STAN: "000201", TransmissionTime: t0})
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := d.MessageWriter().WriteMessage(&buf, msg); err != nil {
			t.Fatal(err)
		}
		// 2 MTI + 16 bitmaps + 5 DE7 + 3 DE11 + 2 DE70 = 28 = 0x001C.
		want := "001c" + "0800" + "8220000000000000" + "0400000000000000" + "1127101500" + "000201" + "0001"
		if got := hex.EncodeToString(buf.Bytes()); got != want {
			t.Errorf("framed\n got %s\nwant %s", got, want)
		}
		got, err := d.MessageReader().ReadMessage(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := got.GetString(70); v != "001" {
			t.Errorf("DE70 after read = %q", v)
		}
	})
}

// Bank A accepts a lowercase hex bitmap on receive and sends uppercase.
func TestBankALowercaseBitmap(t *testing.T) {
	d := mustDialect(t, specs.DialectASCII)
	// 0110 of the golden fixture with its bitmap in lowercase.
	withLetters := "0110" + "322000000ec18000" + "000000" + "000000150000" + "1127101500" + "000123" +
		"633100000123" + "A1B2C3" + "00" + "T0000123" + "M00000000000123" + "020" + "22015987654321098765" + "398"
	msg, err := d.Unpack([]byte(withLetters))
	if err != nil {
		t.Fatalf("unpack: %v", err)
	}
	resp, err := decodeResponseAt(d, msg, goldenNow)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if resp.ResponseCode != "00" || resp.NetworkTransactionID != "987654321098765" || resp.AuthCode != "A1B2C3" {
		t.Errorf("decoded %+v", resp)
	}
	out, err := d.Pack(msg)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(out), "0110322000000EC18000") {
		t.Errorf("repacked bitmap not uppercase: %q", out[:20])
	}

	// The 0400 reversal fixture with both bitmaps in lowercase.
	raw := string(wireBytes(t, d, aReversal))
	raw = strings.Replace(raw, "F220000108C08000", "f220000108c08000", 1)
	rev, err := d.Unpack([]byte(raw))
	if err != nil {
		t.Fatalf("unpack lowercase 0400: %v", err)
	}
	if v, _ := rev.GetString(90); v != aDE90("0200", "000125", "1127101500").val {
		t.Errorf("DE90 = %q", v)
	}
}

// Unknown DE48 tags in a response are ignored; known ones still read.
func TestBankAUnknownDE48TagsIgnored(t *testing.T) {
	d := mustDialect(t, specs.DialectASCII)
	de48 := "05" + "003" + "abc" + "22015" + "987654321098765" + "77" + "002" + "zz"
	raw := "0110" + "322000000EC18000" + "000000" + "000000150000" + "1127101500" + "000123" +
		"633100000123" + "A1B2C3" + "00" + "T0000123" + "M00000000000123" + "035" + de48 + "398"
	msg, err := d.Unpack([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := decodeResponseAt(d, msg, goldenNow)
	if err != nil {
		t.Fatal(err)
	}
	if resp.NetworkTransactionID != "987654321098765" {
		t.Errorf("NTID = %q", resp.NetworkTransactionID)
	}
}

func TestWalletRoundTrip(t *testing.T) {
	for _, name := range []string{specs.DialectASCII, specs.DialectBinary} {
		t.Run(name, func(t *testing.T) {
			d := mustDialect(t, name)
			r := aAuthRequest(specs.OpPurchase, "000140", "633100000140")
			r.PAN = "4895370000000013"
			r.CardSource = SourceNetworkToken
			r.Wallet = &Wallet{Kind: WalletGooglePay, Cryptogram: "AgAAAAAABk4DWZ4C28yUQAAAAAA=", ECI: "07"}
			msg, err := Encode(d, r)
			if err != nil {
				t.Fatal(err)
			}
			b, err := d.Pack(msg)
			if err != nil {
				t.Fatal(err)
			}
			un, err := d.Unpack(b)
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodeRequestAt(d, un, goldenNow)
			if err != nil {
				t.Fatal(err)
			}
			if g, w := normalized(got), normalized(r); !reflect.DeepEqual(g, w) {
				t.Errorf("round trip\n got %+v\nwant %+v", g, w)
			}
			de22, _ := un.GetString(22)
			want := map[string]string{specs.DialectASCII: "812", specs.DialectBinary: "817"}[name]
			if de22 != want {
				t.Errorf("DE22 = %q, want %q", de22, want)
			}
			if name == specs.DialectASCII {
				de48, _ := un.GetString(48)
				if want := "01002" + "07" + "10002" + "GP" + "11028" + "AgAAAAAABk4DWZ4C28yUQAAAAAA="; de48 != want {
					t.Errorf("DE48 = %q, want %q", de48, want)
				}
			} else {
				de126, _ := un.GetString(126)
				if !strings.HasPrefix(de126, "G07AgAAAAAABk4DWZ4C28yUQAAAAAA=") || len(de126) != 91 {
					t.Errorf("DE126 = %q", de126)
				}
			}
		})
	}
}

// Bank B never gets a DE48; Bank A never gets DE61/DE63/DE126.
func TestPrivateFieldsPerDialect(t *testing.T) {
	for _, name := range []string{specs.DialectASCII, specs.DialectBinary} {
		d := mustDialect(t, name)
		r := aAuthRequest(specs.OpPurchase, "000150", "633100000150")
		r.CardSource = SourceCredentialOnFile
		r.StoredCredential = &StoredCredential{Initiator: InitiatorCardholder, Type: CredentialOneClick, Sequence: SequenceInitial}
		r.SubMerchantID = "S1"
		r.CVV = "9876"
		msg, err := Encode(d, r)
		if err != nil {
			t.Fatal(err)
		}
		fields := msg.GetFields()
		_, has48 := fields[48]
		_, has61 := fields[61]
		_, has63 := fields[63]
		_, has126 := fields[126]
		if name == specs.DialectASCII {
			if !has48 || has61 || has63 || has126 {
				t.Errorf("%s: 48=%v 61=%v 63=%v 126=%v", name, has48, has61, has63, has126)
			}
			v, _ := msg.GetString(48)
			if want := "20002CO" + "21001I" + "30002S1" + "920049876"; v != want {
				t.Errorf("DE48 = %q, want %q", v, want)
			}
		} else {
			if has48 || !has61 || !has63 || !has126 {
				t.Errorf("%s: 48=%v 61=%v 63=%v 126=%v", name, has48, has61, has63, has126)
			}
			v61, _ := msg.GetString(61)
			if want := "C10" + spaces(15); v61 != want {
				t.Errorf("DE61 = %q, want %q", v61, want)
			}
			v126, _ := msg.GetString(126)
			if want := spaces(87) + "9876"; v126 != want {
				t.Errorf("DE126 = %q, want %q", v126, want)
			}
		}
	}
}

func TestEncodeRejectsBadInputWithoutLeakingSecrets(t *testing.T) {
	const pan = "40000000000000X0"
	const cvv = "12a"
	const crypt = "SECRETCRYPTOGRAM\x01"
	d := mustDialect(t, specs.DialectASCII)
	cases := []struct {
		name   string
		mutate func(r *Request)
		want   string
	}{
		{"bad PAN", func(r *Request) { r.PAN = pan }, "DE2"},
		{"short PAN", func(r *Request) { r.PAN = "40000000" }, "DE2"},
		{"bad CVV", func(r *Request) { r.CVV = cvv }, "CVV2"},
		{"bad cryptogram", func(r *Request) {
			r.Wallet = &Wallet{Kind: WalletApplePay, Cryptogram: crypt}
		}, "cryptogram"},
		{"3DS and wallet", func(r *Request) {
			r.Wallet = &Wallet{Kind: WalletApplePay, Cryptogram: "x"}
			r.ThreeDS = &ThreeDS{ECI: "05"}
		}, "mutually exclusive"},
		{"bad STAN", func(r *Request) { r.STAN = "12" }, "DE11"},
		{"bad RRN", func(r *Request) { r.RRN = "ABC" }, "DE37"},
		{"bad expiry month", func(r *Request) { r.Expiry = "2813" }, "DE14"},
		{"negative amount", func(r *Request) { r.Amount = -1 }, "DE4"},
		{"long terminal", func(r *Request) { r.TerminalID = "T00001234" }, "DE41"},
		{"non-ASCII name", func(r *Request) { r.MerchantName = "Магазин" }, "DE43"},
		{"long city", func(r *Request) { r.MerchantCity = "UST-KAMENOGORSK" }, "DE43"},
		{"lowercase country", func(r *Request) { r.MerchantCountry = "kz" }, "DE43"},
		{"unknown card source", func(r *Request) { r.CardSource = "magstripe" }, "DE22"},
		{"no transmission time", func(r *Request) { r.TransmissionTime = time.Time{} }, "DE7"},
		{"MIT subsequent without NTID", func(r *Request) {
			r.StoredCredential = &StoredCredential{Initiator: InitiatorMerchant, Type: CredentialRecurring, Sequence: SequenceSubsequent}
		}, "network transaction ID"},
		{"repeat of a purchase", func(r *Request) { r.Repeat = true }, "never repeats"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := aAuthRequest(specs.OpPurchase, "000160", "633100000160")
			tc.mutate(r)
			_, err := Encode(d, r)
			if err == nil {
				t.Fatal("Encode accepted bad input")
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) {
				t.Errorf("error %q does not name %q", msg, tc.want)
			}
			for _, secret := range []string{pan, "4000000000000010", cvv, crypt} {
				if strings.Contains(msg, secret) {
					t.Errorf("error leaks a secret: %q", msg)
				}
			}
		})
	}
}

func TestEncodeOpErrors(t *testing.T) {
	a := mustDialect(t, specs.DialectASCII)
	if _, err := Encode(a, &Request{Op: specs.OpSignOn, STAN: "000001", TransmissionTime: t0}); err == nil {
		t.Error("Bank A accepted a sign-on")
	}
	r := &Request{Op: specs.OpReversal, STAN: "000001", RRN: "633100000001", TransmissionTime: t0,
		PAN: "4000000000000010", Amount: 1000, CurrencyNumeric: "398", AcquirerID: "1",
		TerminalID: "T1", MerchantID: "M1"}
	if _, err := Encode(a, r); err == nil || !strings.Contains(err.Error(), "DE90") {
		t.Errorf("reversal without original: %v", err)
	}
	r.Original = &Original{MTI: "0200", STAN: "000000", TransmissionTime: t0}
	for _, bad := range []int64{0, 1000, 2000} {
		r.Replacement = i64(bad)
		if _, err := Encode(a, r); err == nil || !strings.Contains(err.Error(), "DE95") {
			t.Errorf("replacement %d: %v", bad, err)
		}
	}
	r.Replacement = nil
	msg, err := Encode(a, r)
	if err != nil {
		t.Fatal(err)
	}
	// DE90 takes the request's acquirer ID when the original has none,
	// right-justified zero-filled.
	if v, _ := msg.GetString(90); v != "0200"+"000000"+"1127101500"+"00000000001"+"00000000000" {
		t.Errorf("DE90 = %q", v)
	}
	// A reversal of a Bank A refund repeats DE3 200000.
	r.Original.ProcessingCode = "200000"
	msg, err = Encode(a, r)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := msg.GetString(3); v != "200000" {
		t.Errorf("DE3 = %q", v)
	}
}

func TestUnpackRejectsMalformed(t *testing.T) {
	a := mustDialect(t, specs.DialectASCII)
	b := mustDialect(t, specs.DialectBinary)
	good := "0810" + "8220000002000000" + "0400000000000000" + "1127101500" + "000200" + "00" + "301"
	cases := []struct {
		d   *specs.Dialect
		raw []byte
	}{
		{a, []byte(good + "X")},                                   // trailing byte
		{a, []byte(good[:len(good)-1])},                           // truncated
		{a, []byte("08G0" + good[4:])},                            // non-digit MTI
		{a, []byte("0810" + "822000000200000G" + good[20:])},      // bad hex bitmap
		{a, []byte("0200" + "4000000000000000" + "1X4000000000")}, // bad LL prefix
		{a, []byte("0200" + "4000000000000000" + "+94000000000")}, // sign in LL prefix
		{a, []byte("0200" + "4000000000000000" + "204000000000")}, // LL above 19
		{a, []byte("0200" + "0000000000000100" + "0000")},         // DE56 not in spec
		{b, mustHex(t, "0810"+"8220000002000000"+"0400000000000000"+"1127101500"+"000200"+asc("00")+"0301"+"00")},
		{b, mustHex(t, "0200"+"4000000000000000"+"20"+"40000000000000000000")},           // LL 20 > 19
		{b, mustHex(t, "0200"+"4000000000000000"+"1a"+"4000000000000000")},               // non-BCD LL
		{b, mustHex(t, "0200"+"0000000000000008"+"1000"+asc("x"))},                       // LLL with pad nibble set
		{b, mustHex(t, "0200"+"0000000000000008"+"0999"+asc("x"))},                       // LLL beyond data
		{b, mustHex(t, "0800"+"8000000000000000"+"8000000000000000"+"0000000000000000")}, // tertiary bitmap
	}
	for i, tc := range cases {
		_, err := tc.d.Unpack(tc.raw)
		if err == nil {
			t.Errorf("case %d (%s): accepted %q", i, tc.d.Name, tc.raw)
			continue
		}
		var ue *iso8583errors.UnpackError
		if !errors.As(err, &ue) {
			t.Errorf("case %d: error %T is not an UnpackError", i, err)
		}
		if ue != nil && ue.RawMessage != nil {
			t.Errorf("case %d: UnpackError carries the raw message", i)
		}
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeRequestOpDetection(t *testing.T) {
	for _, name := range []string{specs.DialectASCII, specs.DialectBinary} {
		d := mustDialect(t, name)
		cases := goldenRequestsA()
		if name == specs.DialectBinary {
			cases = goldenRequestsB()
		}
		for _, tc := range cases {
			msg, err := Encode(d, tc.req)
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodeRequestAt(d, msg, goldenNow)
			if err != nil {
				t.Fatal(err)
			}
			if got.Op != tc.req.Op || got.Repeat != tc.req.Repeat {
				t.Errorf("%s %s: decoded op %s repeat %v", name, tc.name, got.Op, got.Repeat)
			}
		}
	}
}

func TestRespondRejects(t *testing.T) {
	d := mustDialect(t, specs.DialectASCII)
	req, err := d.Unpack(wireBytes(t, d, aEcho))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Respond(d, req, "0"); err == nil {
		t.Error("accepted a 1-character response code")
	}
	resp, err := Respond(d, req, "00")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Respond(d, resp, "00"); err == nil {
		t.Error("built a response to a response")
	}
	// A response never echoes DE2.
	pre, err := d.Unpack(wireBytes(t, d, aPreauth))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Respond(d, pre, "05")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.GetFields()[2]; ok {
		t.Error("response echoes DE2")
	}
}

func TestDecodeResponseRejects(t *testing.T) {
	d := mustDialect(t, specs.DialectASCII)
	req, err := d.Unpack(wireBytes(t, d, aPurchase))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeResponse(d, req); err == nil {
		t.Error("decoded a request as a response")
	}
	resp, err := Respond(d, req, "00")
	if err != nil {
		t.Fatal(err)
	}
	resp.UnsetField(39)
	if _, err := DecodeResponse(d, resp); err == nil || !strings.Contains(err.Error(), "DE39") {
		t.Errorf("response without DE39: %v", err)
	}
	resp2, _ := Respond(d, req, "00")
	_ = resp2.Field(4, "00000000015X")
	if _, err := DecodeResponse(d, resp2); err == nil || !strings.Contains(err.Error(), "DE4") {
		t.Errorf("non-numeric DE4: %v", err)
	}
}

func TestRepeatKeepsLocalTime(t *testing.T) {
	d := mustDialect(t, specs.DialectASCII)
	r := aAdviceRequest(specs.OpCompletion, "000126", "633100000123")
	r.AuthCode = "A1B2C3"
	r.Original = &Original{MTI: "0100", STAN: "000123", TransmissionTime: t0}
	r.Repeat = true
	r.LocalTime = time.Time{}
	if _, err := Encode(d, r); err == nil || !strings.Contains(err.Error(), "DE12") {
		t.Errorf("repeat without the first attempt's local time: %v", err)
	}
}

// One dialect value is shared by every connection of a bank link.
func TestDialectSharedAcrossGoroutines(t *testing.T) {
	for _, name := range []string{specs.DialectASCII, specs.DialectBinary} {
		d := mustDialect(t, name)
		errs := make(chan error, 8)
		for g := 0; g < 8; g++ {
			go func() {
				for i := 0; i < 50; i++ {
					r := aAuthRequest(specs.OpPurchase, "000125", "633100000125")
					r.CVV = "123"
					msg, err := Encode(d, r)
					if err == nil {
						var b []byte
						if b, err = d.Pack(msg); err == nil {
							_, err = d.Unpack(b)
						}
					}
					if err != nil {
						errs <- err
						return
					}
				}
				errs <- nil
			}()
		}
		for g := 0; g < 8; g++ {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
	}
}

// The model's card sources are the keys of the dialects' entry-mode tables.
func TestCardSourcesMatchSpecs(t *testing.T) {
	if string(SourceKeyed) != specs.SourceKeyed || string(SourceNetworkToken) != specs.SourceNetworkToken ||
		string(SourceCredentialOnFile) != specs.SourceCredentialOnFile {
		t.Error("bankmsg and specs card-source names differ")
	}
}
