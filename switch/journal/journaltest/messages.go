package journaltest

import (
	"strings"
	"testing"
	"time"

	"github.com/acquirer/h2hswitch/switch/journal"
	"github.com/acquirer/h2hswitch/switch/journal/cardvault"
)

// bankADE48 is a Bank A DE48 TLV carrying ECI, CAVV (02), the CVV (92) and
// a token cryptogram (11): only 01 and 21 may be stored.
func bankADE48() string {
	return "01002" + "05" + "02" + "038" + testCryptogram + "11" + "038" + testCryptogram + "21001I" + "92004" + testCVV
}

// bankBDE126 is a Bank B DE126: wallet, ECI, cryptogram, DS id, version,
// CVV in 88-91.
func bankBDE126() string {
	s := "A" + "07" + pad(testCryptogram, 40) + pad("f25084f0-5b16-4c0a-ae5d-b24808a95e4b", 36) + pad("2.2.0", 8) + pad(testCVV, 4)
	return s
}

func pad(s string, n int) string { return s + strings.Repeat(" ", n-len(s)) }

func testMessageMasking(t *testing.T, open Opener, o options) {
	s := open(t)
	ctx := ctxT(t)
	p := newPayment(t, testVault(t), reqID(t, 1), 150000)
	mustCreate(t, s, p, nil)
	if len(bankBDE126()) != 91 {
		t.Fatalf("test DE126 is %d long", len(bankBDE126()))
	}

	// A caller bug: the full PAN in DE2 and secrets everywhere.
	dirty := &journal.Message{PaymentID: p.ID, Bank: "alfa", Direction: journal.DirOut, MTI: "0100", STAN: "000123",
		Fields: map[string]string{
			"2": testPAN, "3": "000000", "4": "000000150000", "11": "000123",
			"35":    testPAN + "=2812101",
			"48":    bankADE48(),
			"48.92": testCVV,
			"126":   bankBDE126(),
			"62":    "ref " + testPAN2 + " end",
			"90":    "010000012311270515000000012345678900000000000",
		}}
	if err := s.LogMessage(ctx, dirty); err != nil {
		t.Fatalf("LogMessage: %v", err)
	}
	if !dirty.Sanitized || dirty.ID == 0 {
		t.Fatalf("dirty message: sanitized=%v id=%d", dirty.Sanitized, dirty.ID)
	}
	clean := &journal.Message{PaymentID: p.ID, Bank: "alfa", Direction: journal.DirIn, MTI: "0110", STAN: "000123",
		Fields: map[string]string{"2": cardvault.MaskPAN(testPAN), "39": "00", "38": "A1B2C3", "48": "0100205"},
		At:     time.Now().Add(time.Second)}
	if err := s.LogMessage(ctx, clean); err != nil {
		t.Fatalf("LogMessage clean: %v", err)
	}
	if clean.Sanitized {
		t.Fatal("a clean message was reported as sanitized")
	}
	msgs, err := s.ListMessages(ctx, p.ID)
	if err != nil || len(msgs) != 2 {
		t.Fatalf("ListMessages: %d %v", len(msgs), err)
	}
	f := msgs[0].Fields
	if msgs[0].MTI != "0100" || msgs[0].Direction != journal.DirOut || !msgs[0].Sanitized {
		t.Fatalf("first message %+v", msgs[0])
	}
	if f["2"] != "400000******0010" {
		t.Errorf("DE2 stored as %q", f["2"])
	}
	for _, k := range []string{"35", "48.92"} {
		if _, ok := f[k]; ok {
			t.Errorf("field %s stored", k)
		}
	}
	if f["48"] != "01002"+"05"+"21001I" {
		t.Errorf("DE48 stored as %q, want only tags 01 and 21", f["48"])
	}
	want126 := "A07" + strings.Repeat(" ", 40) + pad("f25084f0-5b16-4c0a-ae5d-b24808a95e4b", 36) + pad("2.2.0", 8) + "    "
	if f["126"] != want126 {
		t.Errorf("DE126 stored as %q", f["126"])
	}
	if f["62"] != "ref 510000******0008 end" {
		t.Errorf("DE62 stored as %q", f["62"])
	}
	if f["90"] != dirty.Fields["90"] || f["4"] != "000000150000" {
		t.Errorf("non-card fields changed: 90=%q 4=%q", f["90"], f["4"])
	}
	if msgs[1].Fields["39"] != "00" || msgs[1].Fields["48"] != "0100205" {
		t.Errorf("clean message stored as %v", msgs[1].Fields)
	}
	bad := &journal.Message{Direction: journal.DirOut, MTI: "01x0"}
	wantErr(t, "bad MTI", s.LogMessage(ctx, bad), journal.ErrInvalid)
	if o.dump != nil {
		assertNoCardData(t, o, testPAN, testPAN2)
	}
}
