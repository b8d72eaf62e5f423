package banklink

import (
	"bytes"
	"context"
	"encoding/hex"
	"io"
	"net"
	"testing"
	"time"
)

// Hand-written frames from the contract's tables (bank-a-h2h.md,
// bank-b-h2h.md): a host echo 0800 with DE7 1127101500, DE11 000001, DE70 301.
// Bitmaps: primary bits 1, 7, 11 = 82 20 00 00 00 00 00 00; secondary bit 70
// = 04 00 00 00 00 00 00 00.
const (
	// 4 ASCII length digits + 4 MTI + 32 hex bitmap + 10 + 6 + 3 = 55 bytes.
	asciiHostEcho = "0055" + "0800" + "8220000000000000" + "0400000000000000" + "1127101500" + "000001" + "301"
	// 2-byte binary length 0x001C (28) + BCD MTI + binary bitmaps + BCD 7, 11, 70.
	binaryHostEcho = "001c" + "0800" + "8220000000000000" + "0400000000000000" + "1127101500" + "000001" + "0301"

	// The link's answer: 0810, primary bitmap adds bit 39 (byte 5: 02), DE39 "00".
	asciiEchoAnswer  = "0057" + "0810" + "8220000002000000" + "0400000000000000" + "1127101500" + "000001" + "00" + "301"
	binaryEchoAnswer = "001e" + "0810" + "8220000002000000" + "0400000000000000" + "1127101500" + "000001" + "3030" + "0301"
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// rawHost accepts one connection from the link and hands it to the test.
func rawHost(t *testing.T) (addr string, conns <-chan net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
			ch <- c
		}
	}()
	return ln.Addr().String(), ch
}

func readFull(t *testing.T, c net.Conn, n int) []byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	b := make([]byte, n)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("reading %d bytes from the link: %v", n, err)
	}
	return b
}

func TestWireBankAHostEcho(t *testing.T) {
	addr, conns := rawHost(t)
	cfg := testConfig("alfa", dialectA, addr)
	cfg.Connections = 1
	l, err := Open(cfg, testDialect(t, dialectA))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	c := <-conns
	if _, err := c.Write([]byte(asciiHostEcho)); err != nil {
		t.Fatal(err)
	}
	got := readFull(t, c, len(asciiEchoAnswer))
	if string(got) != asciiEchoAnswer {
		t.Fatalf("0810 on the wire:\n got %q\nwant %q", got, asciiEchoAnswer)
	}
}

func TestWireBankBSignOnAndHostEcho(t *testing.T) {
	addr, conns := rawHost(t)
	cfg := testConfig("sber", dialectB, addr)
	cfg.Connections = 1
	l, err := Open(cfg, testDialect(t, dialectB))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	c := <-conns

	// Sign-on: 00 1C | 08 00 | 82 20 .. | 04 00 .. | DE7 (5 bytes BCD) | DE11 (3) | 00 01.
	signOn := readFull(t, c, 2+28)
	if !bytes.Equal(signOn[:2+2+16], mustHex("001c"+"0800"+"8220000000000000"+"0400000000000000")) ||
		!bytes.Equal(signOn[28:], mustHex("0001")) {
		t.Fatalf("sign-on on the wire: % x", signOn)
	}
	if l.Usable() {
		t.Fatal("usable before the sign-on was answered")
	}
	de7, de11 := signOn[20:25], signOn[25:28]
	answer := append(mustHex("001e"+"0810"+"8220000002000000"+"0400000000000000"), de7...)
	answer = append(answer, de11...)
	answer = append(answer, mustHex("3030"+"0001")...)
	if _, err := c.Write(answer); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "usable after 0810 00", l.Usable)

	if _, err := c.Write(mustHex(binaryHostEcho)); err != nil {
		t.Fatal(err)
	}
	want := mustHex(binaryEchoAnswer)
	if got := readFull(t, c, len(want)); !bytes.Equal(got, want) {
		t.Fatalf("0810 on the wire:\n got % x\nwant % x", got, want)
	}

	// Close signs off: 0800 with DE70 002, then waits for the 0810.
	closed := make(chan error, 1)
	go func() { closed <- l.Close(context.Background()) }()
	signOff := readFull(t, c, 2+28)
	if !bytes.Equal(signOff[:20], signOn[:20]) || !bytes.Equal(signOff[28:], mustHex("0002")) {
		t.Fatalf("sign-off on the wire: % x", signOff)
	}
	answer = append(mustHex("001e"+"0810"+"8220000002000000"+"0400000000000000"), signOff[20:28]...)
	answer = append(answer, mustHex("3030"+"0002")...)
	start := time.Now()
	if _, err := c.Write(answer); err != nil {
		t.Fatal(err)
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	if el := time.Since(start); el > 500*time.Millisecond {
		t.Fatalf("Close took %s after the sign-off was answered", el)
	}
}
