package simtest

import (
	"bytes"
	"encoding/hex"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/acquirer/h2hswitch/specs"
)

// Golden exchanges over real TCP: request and expected response bytes
// written by hand from the documents' tables (framing prefix included),
// never produced by our encoder. The simulator must answer exactly these
// bytes; only DE38, which the host invents, is taken from its ledger.

const (
	gDE43 = "ACME SHOP                ALMATY       KZ" // 25 + 13 + 2
	gRRN  = "633100000125"
)

func TestGoldenExchangeBankA(t *testing.T) {
	t.Parallel()
	sim := startSim(t, specs.DialectASCII, nil)
	c := dialGolden(t, specs.DialectASCII, sim.Addr())

	// 0800 echo: bits 1, 7, 11 | secondary 70. 4 + 32 + 10 + 6 + 3 = 55.
	c.exchange(t,
		"0055"+"0800"+"8220000000000000"+"0400000000000000"+"1127101500"+"000200"+"301",
		// 0810: bits 1, 7, 11, 39 | 70. 4 + 32 + 10 + 6 + 2 + 3 = 57.
		"0057"+"0810"+"8220000002000000"+"0400000000000000"+"1127101500"+"000200"+"00"+"301")

	// 0200 purchase, keyed: bits 2,3,4,7 | 11,12,13,14 | 18,22 | 25,32 |
	// 37 | 41,42,43 | 49. 4+16+18+6+12+10+6+6+4+4+4+3+2+7+12+8+15+40+3 = 180.
	req := "0180" + "0200" + "723C448108E08000" +
		"16" + "4000000000000010" + "000000" + "000000150000" + "1127101500" + "000125" +
		"151500" + "1127" + "2812" + "5999" + "810" + "59" + "05" + "12345" + gRRN +
		"T0000123" + "M00000000000123" + gDE43 + "398"
	if len(req) != 4+180 {
		t.Fatalf("fixture: %d bytes", len(req))
	}
	got := c.send(t, req)
	tx, ok := sim.Ledger().ByRRN(gRRN)
	if !ok {
		t.Fatal("purchase not in the ledger")
	}
	// 0210: bits 3,4 | 7 | 11 | 37,38,39 | 41,42 | 49, never DE2.
	// 4 + 16 + 6 + 12 + 10 + 6 + 12 + 6 + 2 + 8 + 15 + 3 = 100.
	want := "0100" + "0210" + "322000000EC08000" + "000000" + "000000150000" + "1127101500" + "000125" +
		gRRN + tx.AuthCode + "00" + "T0000123" + "M00000000000123" + "398"
	if got != want {
		t.Errorf("0210\n got %q\nwant %q", got, want)
	}
}

func TestGoldenExchangeBankB(t *testing.T) {
	t.Parallel()
	sim := startSim(t, specs.DialectBinary, nil)
	c := dialGolden(t, specs.DialectBinary, sim.Addr())
	asc := func(s string) string { return hex.EncodeToString([]byte(s)) }

	// 0800 sign-on: 2 + 16 + 5 + 3 + 2 = 28 = 0x001C.
	c.exchange(t,
		"001c"+"0800"+"8220000000000000"+"0400000000000000"+"1127101500"+"000201"+"0001",
		// 0810: + DE39 "00" in ASCII: 30 = 0x001E.
		"001e"+"0810"+"8220000002000000"+"0400000000000000"+"1127101500"+"000201"+asc("00")+"0001")

	// 0200 purchase, keyed (812). n fields BCD, odd counts left-padded;
	// DE2 and DE32 with a 1-byte BCD digit count.
	// MTI 2 + bitmap 8 + DE2 1+8 + DE3 3 + DE4 6 + DE7 5 + DE11 3 + DE12 3
	// + DE13 2 + DE14 2 + DE18 2 + DE22 2 + DE25 1 + DE32 1+3 + DE37 12
	// + DE41 8 + DE42 15 + DE43 40 + DE49 2 = 129 = 0x0081.
	body := "0200" + "723C448108E08000" +
		"16" + "4000000000000010" + "000000" + "000000150000" + "1127101500" + "000125" +
		"151500" + "1127" + "2812" + "5999" + "0812" + "59" + "05" + "012345" + asc(gRRN) +
		asc("T0000123") + asc("M00000000000123") + asc(gDE43) + "0398"
	if len(body) != 2*129 {
		t.Fatalf("fixture: %d bytes", len(body)/2)
	}
	got := c.sendHex(t, "0081"+body)
	tx, ok := sim.Ledger().ByRRN(gRRN)
	if !ok {
		t.Fatal("purchase not in the ledger")
	}
	// 0210: 2 + 8 + 3 + 6 + 5 + 3 + 12 + 6 + 2 + 8 + 15 + 2 = 72 = 0x0048.
	want := "0048" + "0210" + "322000000EC08000" + "000000" + "000000150000" + "1127101500" + "000125" +
		asc(gRRN) + asc(tx.AuthCode) + asc("00") + asc("T0000123") + asc("M00000000000123") + "0398"
	if got != strings.ToLower(want) {
		t.Errorf("0210\n got %s\nwant %s", got, strings.ToLower(want))
	}
}

// goldenConn writes raw bytes and reads one raw frame back.
type goldenConn struct {
	d    *specs.Dialect
	conn net.Conn
}

func dialGolden(t *testing.T, dialect, addr string) *goldenConn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatalf("dialing the simulator: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &goldenConn{d: dialectOf(t, dialect), conn: conn}
}

// roundTrip writes frame and returns the next frame, prefix included.
func (c *goldenConn) roundTrip(t *testing.T, frame []byte) []byte {
	t.Helper()
	if err := c.conn.SetDeadline(time.Now().Add(waitShort)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.conn.Write(frame); err != nil {
		t.Fatalf("writing: %v", err)
	}
	body, err := c.d.Framing.ReadMessage(c.conn)
	if err != nil {
		t.Fatalf("reading: %v", err)
	}
	var out bytes.Buffer
	if err := c.d.Framing.WriteMessage(&out, body); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func (c *goldenConn) send(t *testing.T, frame string) string {
	t.Helper()
	return string(c.roundTrip(t, []byte(frame)))
}

func (c *goldenConn) sendHex(t *testing.T, frame string) string {
	t.Helper()
	b, err := hex.DecodeString(frame)
	if err != nil {
		t.Fatalf("fixture hex: %v", err)
	}
	return hex.EncodeToString(c.roundTrip(t, b))
}

func (c *goldenConn) exchange(t *testing.T, req, want string) {
	t.Helper()
	var got string
	if c.d.Name == specs.DialectBinary {
		got, want = c.sendHex(t, req), strings.ToLower(want)
	} else {
		got = c.send(t, req)
	}
	if got != want {
		t.Errorf("exchange\n got %q\nwant %q", got, want)
	}
}
