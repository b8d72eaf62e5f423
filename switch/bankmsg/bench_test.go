package bankmsg

import (
	"bytes"
	"testing"

	"github.com/acquirer/h2hswitch/specs"
)

// The hot path of the bank link: encode and pack a purchase, unpack and
// decode its response.
func benchmarkRoundTrip(b *testing.B, name string) {
	d, err := specs.Lookup(name)
	if err != nil {
		b.Fatal(err)
	}
	r := aAuthRequest(specs.OpPurchase, "000125", "633100000125")
	r.ThreeDS = &ThreeDS{ECI: "05", AuthenticationValue: "AAABBEg0VhI0VniQEjRWAAAAAAA=",
		DSTransactionID: "f25084f0-5b16-4c0a-ae5d-b24808a95e4b", Version: "2.2.0"}
	r.CVV = "123"
	req, err := Encode(d, r)
	if err != nil {
		b.Fatal(err)
	}
	resp, err := RespondWith(d, req, Reply{ResponseCode: "00", AuthCode: "A1B2C3"})
	if err != nil {
		b.Fatal(err)
	}
	var respWire bytes.Buffer
	if err := d.WriteMessage(&respWire, resp); err != nil {
		b.Fatal(err)
	}
	wire := respWire.Bytes()
	var out bytes.Buffer
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		out.Reset()
		m, err := Encode(d, r)
		if err != nil {
			b.Fatal(err)
		}
		if err := d.WriteMessage(&out, m); err != nil {
			b.Fatal(err)
		}
		got, err := d.ReadMessage(bytes.NewReader(wire))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := DecodeResponse(d, got); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRoundTripBankA(b *testing.B) { benchmarkRoundTrip(b, specs.DialectASCII) }
func BenchmarkRoundTripBankB(b *testing.B) { benchmarkRoundTrip(b, specs.DialectBinary) }
