package banksim

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/acquirer/h2hswitch/simulators/wire"
)

// FuzzHandle feeds arbitrary message bodies through the host's decode and
// handling path: nothing may panic, and every request that decodes gets an
// answer (or one of the rule outcomes) whose encoding is valid.
func FuzzHandle(f *testing.F) {
	seed := func(d string, m *wire.Msg) {
		codec, _ := wire.NewCodec(d)
		b, err := codec.Append(nil, m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(d == wire.DialectBinary, b)
	}
	for _, d := range dialects {
		c := &client{codec: mustCodec(d)}
		buy := c.auth(authOpts{amount: 1000, cvv: "000"})
		seed(d, buy)
		seed(d, c.auth(authOpts{amount: 1000, sc: &wire.StoredCredential{Initiator: 'M', Type: '2', Subsequent: true, NetworkTransactionID: "1"}}))
		seed(d, c.refund(buy, 10))
		rem := int64(5)
		seed(d, c.reversal(buy, false, "", &rem))
		seed(d, c.network("001"))
	}
	sims := map[bool]*Sim{}
	for _, d := range dialects {
		s, err := New(Config{Dialect: d, Logger: zerolog.Nop(), Now: func() time.Time { return testNow }})
		if err != nil {
			f.Fatal(err)
		}
		sims[d == wire.DialectBinary] = s
	}
	f.Fuzz(func(t *testing.T, binary bool, body []byte) {
		s := sims[binary]
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		c := newConn(s, a)
		c.signedOn.Store(true)
		var req, resp wire.Msg
		if err := s.codec.Decode(body, &req); err != nil {
			if c.formatError(&req, &resp) {
				if _, err := s.codec.Append(nil, &resp); err != nil {
					t.Fatalf("format-error answer does not encode: %v", err)
				}
			}
			return
		}
		if isResponse(req.MTIBytes()) {
			return
		}
		switch c.handle(&req, &resp) {
		case outReply, outLate:
			if _, err := s.codec.Append(nil, &resp); err != nil {
				t.Fatalf("answer to %s does not encode: %v", req.MTI(), err)
			}
			if resp.Has(2) {
				t.Fatal("answer carries DE2")
			}
			if code := resp.Get(39); len(code) != 2 || strings.TrimSpace(code) != code {
				t.Fatalf("answer DE39 %q", code)
			}
		}
	})
}

func mustCodec(d string) *wire.Codec {
	c, err := wire.NewCodec(d)
	if err != nil {
		panic(err)
	}
	return c
}
