package api

import (
	"regexp"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

var longDigitRun = regexp.MustCompile(`[0-9]{13,}`)

// FuzzDecodeAuthorize feeds hostile bodies to the strict decoder and the
// field rules: no panic, and no error text ever carries a PAN-length digit
// run (error messages go back to the caller and into logs).
func FuzzDecodeAuthorize(f *testing.F) {
	f.Add([]byte(`{"request_id":"gw-1","type":"purchase","amount":150000,"currency":"KZT","merchant":{"id":"M1","terminal_id":"T0000123","mcc":"5411","name":"DEMO SHOP","city":"ALMATY","country":"KZ"},"card":{"pan":"4000000000000010","expiry":"2812","cvv":"123"}}`))
	f.Add([]byte(`{"card":{"pan":4000000000000010}}`))
	f.Add([]byte(`{"4000000000000010":1}`))
	f.Add([]byte(`{"amount":1,"amount":2}`))
	f.Add([]byte(`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[`))
	f.Add([]byte(`{"merchant":{"id":{"a":[1,{"b":2}]}}}`))
	f.Add([]byte(`{} {}`))
	f.Add([]byte("\xff\xfe"))
	s, err := New(Options{Payments: newMemPayments(), Idempotency: newMemIdem(), IdempotencyKey: make([]byte, 32),
		Registry: prometheus.NewRegistry(), Clients: []Client{{Name: "gateway", Token: gwToken, Role: RoleGateway, RateLimit: 1}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var b authorizeBody
		err := decodeStrict(body, &b)
		if err != nil {
			fe := asFieldError(err)
			if longDigitRun.MatchString(fe.Message) || longDigitRun.MatchString(fe.Field) {
				t.Fatalf("digit run in error %+v", fe)
			}
			return
		}
		if _, fe := s.validateAuthorize(&b, "gateway"); fe != nil {
			if longDigitRun.MatchString(fe.Message) || longDigitRun.MatchString(fe.Field) {
				t.Fatalf("digit run in error %+v", fe)
			}
		}
	})
}

// FuzzDecodeOperation does the same for capture, void and refund bodies.
func FuzzDecodeOperation(f *testing.F) {
	f.Add([]byte(`{"request_id":"cap-1","amount":120000}`))
	f.Add([]byte(`{"request_id":"cap-1"}`))
	f.Add([]byte(`{"request_id":"cap-1","amount":-1}`))
	f.Add([]byte(`{"request_id":null,"amount":1e99}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var b operationBody
		if err := decodeStrict(body, &b); err != nil {
			if fe := asFieldError(err); longDigitRun.MatchString(fe.Message + fe.Field) {
				t.Fatalf("digit run in error %+v", fe)
			}
			return
		}
		_ = validateOperation(&b, true)
	})
}
