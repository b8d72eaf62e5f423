package clearing

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

func TestBHandWrittenSample(t *testing.T) {
	r := NewBReader(strings.NewReader(sampleB), ReaderOptions{SettleDate: d(2026, 11, 30)})
	var got []Record
	var lines []int64
	for r.Next() {
		got = append(got, r.Record())
		lines = append(lines, r.Line())
	}
	if err := r.Err(); err != nil {
		t.Fatalf("hand-written sample rejected: %v", err)
	}
	equalRecords(t, got, wantSampleB())
	if len(lines) != 4 || lines[0] != 2 || lines[3] != 5 {
		t.Errorf("lines %v", lines)
	}
	h, ok := r.Header()
	if want := (BHeader{SettleDate: d(2026, 11, 30), AcquirerID: "00000123456", Sequence: 7}); !ok || h != want {
		t.Errorf("Header = %+v %v", h, ok)
	}
	tr, ok := r.Trailer()
	if want := (BTrailer{Count: 4, AmountSum: 220000, Net: 94800}); !ok || tr != want {
		t.Errorf("Trailer = %+v %v", tr, ok)
	}
	if fd, err := ParseBFileName("B20261130.DAT"); err != nil || fd != d(2026, 11, 30) || BFileName(fd) != "B20261130.DAT" {
		t.Errorf("file name: %v %v", fd, err)
	}
	for _, bad := range []string{"B20261130.dat", "B2026113.DAT", "A20261130.DAT", "B20261300.DAT"} {
		if _, err := ParseBFileName(bad); err == nil {
			t.Errorf("ParseBFileName(%q) accepted", bad)
		}
	}
}

func TestBWriterReproducesHandSample(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewBWriter(&buf, BHeader{SettleDate: d(2026, 11, 30), AcquirerID: "123456", Sequence: 7})
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range wantSampleB() {
		rec.RRN = "633100000123" // not part of the format: ignored
		if err := w.Write(rec); err != nil {
			t.Fatalf("Write: %v", err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if buf.String() != sampleB {
		gl, wl := strings.Split(buf.String(), "\n"), strings.Split(sampleB, "\n")
		for i := range wl {
			if i < len(gl) && gl[i] != wl[i] {
				t.Errorf("line %d:\n got %q\nwant %q", i+1, gl[i], wl[i])
			}
		}
		t.Fatal("writer output differs from the hand-written sample")
	}
}

func TestBNegativeNetTrailer(t *testing.T) {
	recs := wantSampleB()[1:3] // a refund and a chargeback: net D 600,00
	var buf bytes.Buffer
	w, _ := NewBWriter(&buf, BHeader{SettleDate: d(2026, 11, 30), AcquirerID: "1", Sequence: 0})
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	last := out[len(out)-BRecordLen-1:]
	if want := "T00000002000000000060000D000000000060000"; !strings.HasPrefix(last, want) {
		t.Errorf("trailer %q, want prefix %q", last, want)
	}
	_, tr, err := ValidateB(context.Background(), strings.NewReader(out), ReaderOptions{})
	if err != nil || tr.Net != -60000 {
		t.Fatalf("ValidateB = %+v %v", tr, err)
	}
}

func TestBRejectsTrailerMismatch(t *testing.T) {
	body := sampleBHeader + "\n" + sampleBSale + "\n" + sampleBRefund + "\n" + sampleBChargeback + "\n" + sampleBChargebackReversal + "\n"
	tests := []struct {
		name       string
		trailer    string
		start, end int
	}{
		{"count", splice(sampleBTrailer, 2, "00000005"), 2, 9},
		{"amount sum", splice(sampleBTrailer, 10, "000000000220001"), 10, 24},
		{"net sign", splice(sampleBTrailer, 25, "D"), 25, 40},
		{"net amount", splice(sampleBTrailer, 26, "000000000094801"), 25, 40},
	}
	for _, tt := range tests {
		recs, err := readAllB(t, body+tt.trailer+"\n", ReaderOptions{})
		if len(recs) != 4 {
			t.Errorf("%s: %d records streamed", tt.name, len(recs))
		}
		fe := fileErr(t, err)
		if len(fe.Errors) != 1 || fe.Errors[0].Line != 6 || fe.Errors[0].Start != tt.start || fe.Errors[0].End != tt.end {
			t.Errorf("%s: %+v", tt.name, fe.Errors)
		}
	}
	var buf bytes.Buffer
	w, _ := NewBWriter(&buf, BHeader{SettleDate: d(2026, 11, 30), AcquirerID: "1"})
	for _, r := range wantSampleB() {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	tr := w.Totals()
	tr.Count--
	if err := w.CloseWithTrailer(tr); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ValidateB(context.Background(), &buf, ReaderOptions{}); err == nil {
		t.Error("CloseWithTrailer file accepted")
	}
}

func TestBMalformedRecords(t *testing.T) {
	h, sale, refund, cb, trl := sampleBHeader, sampleBSale, sampleBRefund, sampleBChargeback, sampleBTrailer
	// Trailer for the files below that hold sale, refund and cb.
	trl3 := "T" + "00000003" + "000000000210000" + "C" + "000000000084800" + strings.Repeat(" ", 110)
	_ = trl
	file := func(ls ...string) string { return strings.Join(ls, "\n") + "\n" }
	const pan = "4000000000000010"

	tests := []struct {
		name       string
		src        string
		line       int64
		start, end int
	}{
		{"empty file", "", 1, 0, 0},
		{"header bank name", file(splice(h, 2, "BANKA"), sale, refund, cb, trl3), 1, 2, 6},
		{"header date", file(splice(h, 7, "20261131"), sale, refund, cb, trl3), 1, 7, 14},
		{"header acquirer", file(splice(h, 15, "0000012345 "), sale, refund, cb, trl3), 1, 15, 25},
		{"header sequence", file(splice(h, 26, "00000A"), sale, refund, cb, trl3), 1, 26, 31},
		{"header filler", file(splice(h, 150, "X"), sale, refund, cb, trl3), 1, 32, 150},
		{"header missing", file(sale, refund, cb, trl3), 1, 1, 1},
		{"second header", file(h, h, sale, refund, cb, trl3), 2, 1, 1},
		{"short record", file(h, sale[:149], refund, cb, trl3), 2, 0, 0},
		{"CRLF record", file(h, sale+"\r", refund, cb, trl3), 2, 0, 0},
		{"long record", file(h, sale+strings.Repeat(" ", 5000), refund, cb, trl3), 2, 0, 0},
		{"huge record", file(h, sale+strings.Repeat(" ", 300000), refund, cb, trl3), 2, 0, 0},
		{"blank line", file(h, sale, "", refund, cb, trl3), 3, 0, 0},
		{"unknown record type", file(h, splice(sale, 1, "X"), refund, cb, trl3), 2, 1, 1},
		{"transaction code", file(h, splice(sale, 2, "07"), refund, cb, trl3), 2, 2, 3},
		{"STAN", file(h, splice(sale, 4, "0001 3"), refund, cb, trl3), 2, 4, 9},
		{"terminal right-justified", file(h, splice(sale, 10, " T000012"), refund, cb, trl3), 2, 10, 17},
		{"merchant blank", file(h, splice(sale, 18, strings.Repeat(" ", 15)), refund, cb, trl3), 2, 18, 32},
		{"full PAN", file(h, splice(sale, 33, pan), refund, cb, trl3), 2, 33, 51},
		{"transaction date", file(h, splice(sale, 52, "20260229"), refund, cb, trl3), 2, 52, 59},
		{"transaction time", file(h, splice(sale, 60, "106000"), refund, cb, trl3), 2, 60, 65},
		{"sale without auth code", file(h, splice(sale, 66, "      "), refund, cb, trl3), 2, 66, 71},
		{"refund with auth code", file(h, sale, splice(refund, 66, "A1B2C3"), cb, trl3), 3, 66, 71},
		{"amount", file(h, splice(sale, 72, "00000015000O"), refund, cb, trl3), 2, 72, 83},
		{"currency", file(h, splice(sale, 84, "999"), refund, cb, trl3), 2, 84, 86},
		{"fee", file(h, splice(sale, 87, "-000005200"), refund, cb, trl3), 2, 87, 96},
		{"C/D", file(h, splice(sale, 97, "X"), refund, cb, trl3), 2, 97, 97},
		{"settle disagrees", file(h, splice(sale, 98, "000000144801"), refund, cb, trl3), 2, 98, 109},
		{"settle wrong sign", file(h, sale, splice(refund, 97, "C"), cb, trl3), 3, 98, 109},
		{"settlement date", file(h, splice(sale, 110, "20261201"), refund, cb, trl3), 2, 110, 117},
		{"refund without original", file(h, sale, splice(refund, 118, "            "), cb, trl3), 3, 118, 123},
		{"original STAN", file(h, sale, splice(refund, 124, "00012X"), cb, trl3), 3, 124, 129},
		{"sale with original", file(h, splice(sale, 118, "A1B2C3000123"), refund, cb, trl3), 2, 118, 129},
		{"filler", file(h, splice(sale, 140, "x"), refund, cb, trl3), 2, 130, 150},
		{"missing trailer", file(h, sale, refund, cb), 5, 0, 0},
		{"data after trailer", file(h, sale, refund, cb, trl3, sale), 6, 0, 0},
		{"blank line after trailer", file(h, sale, refund, cb, trl3, ""), 6, 0, 0},
		{"no final newline", strings.TrimSuffix(file(h, sale, refund, cb, trl3), "\n"), 5, 0, 0},
		{"trailer count not digits", file(h, sale, refund, cb, splice(trl3, 2, "0000000X")), 5, 2, 9},
		{"trailer sign", file(h, sale, refund, cb, splice(trl3, 25, " ")), 5, 25, 25},
		{"trailer filler", file(h, sale, refund, cb, splice(trl3, 41, "0")), 5, 41, 150},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readAllB(t, tt.src, ReaderOptions{})
			fe := fileErr(t, err)
			le := fe.Errors[0]
			if le.Line != tt.line || le.Start != tt.start || le.End != tt.end {
				t.Errorf("first error %+v, want line %d positions %d-%d (all: %v)", le, tt.line, tt.start, tt.end, fe)
			}
			if tt.start > 0 && le.Field == "" {
				t.Errorf("positioned error without a field name: %+v", le)
			}
			if strings.Contains(fe.Error(), pan) {
				t.Errorf("error text leaks the PAN: %s", fe)
			}
		})
	}
	// The three-detail file itself is fine, so each case above fails for
	// its own reason only.
	if _, err := readAllB(t, file(h, sale, refund, cb, trl3), ReaderOptions{}); err != nil {
		t.Fatalf("base file rejected: %v", err)
	}
}

func TestBCollectsAllRecordErrors(t *testing.T) {
	bad := splice(splice(sampleBSale, 4, "ABCDEF"), 84, "000")
	src := strings.Join([]string{sampleBHeader, bad, sampleBRefund, sampleBRefund[:100], sampleBTrailer}, "\n") + "\n"
	recs, err := readAllB(t, src, ReaderOptions{})
	fe := fileErr(t, err)
	type at struct {
		line  int64
		start int
	}
	want := []at{{2, 4}, {2, 84}, {4, 0}}
	if len(fe.Errors) != len(want) {
		t.Fatalf("errors: %v", fe)
	}
	for i, w := range want {
		if got := (at{fe.Errors[i].Line, fe.Errors[i].Start}); got != w {
			t.Errorf("error %d at %v, want %v", i, got, w)
		}
	}
	// The trailer is not compared with the totals of a file that already
	// has bad records: it would only repeat the same fault.
	if len(recs) != 1 || recs[0].Type != Refund {
		t.Errorf("good records: %+v", recs)
	}
}

func TestBErrorBound(t *testing.T) {
	src := sampleBHeader + "\n" + strings.Repeat("\n", 100000)
	_, err := readAllB(t, src, ReaderOptions{MaxErrors: 25})
	fe := fileErr(t, err)
	if len(fe.Errors) != 25 || !fe.Truncated {
		t.Fatalf("%d errors, truncated %v", len(fe.Errors), fe.Truncated)
	}
	if !strings.Contains(fe.Error(), "and 22 more") {
		t.Errorf("summary: %s", fe.Error())
	}
}

func TestBExpectedSettleDate(t *testing.T) {
	_, err := readAllB(t, sampleB, ReaderOptions{SettleDate: d(2026, 12, 1)})
	fe := fileErr(t, err)
	if fe.Errors[0].Line != 1 || fe.Errors[0].Start != 7 {
		t.Errorf("%v", fe)
	}
}

func TestBWriterRefusesBadInput(t *testing.T) {
	for _, h := range []BHeader{
		{SettleDate: d(2026, 11, 31), AcquirerID: "1"},
		{SettleDate: d(2026, 11, 30), AcquirerID: ""},
		{SettleDate: d(2026, 11, 30), AcquirerID: "123456789012"},
		{SettleDate: d(2026, 11, 30), AcquirerID: "12a"},
		{SettleDate: d(2026, 11, 30), AcquirerID: "1", Sequence: 1000000},
	} {
		if _, err := NewBWriter(&bytes.Buffer{}, h); err == nil {
			t.Errorf("NewBWriter(%+v) accepted", h)
		}
	}
	w, _ := NewBWriter(&bytes.Buffer{}, BHeader{SettleDate: d(2026, 11, 30), AcquirerID: "1"})
	refund := wantSampleB()[1]
	for name, mod := range map[string]func(*Record){
		"OrigAuthCode": func(r *Record) { r.OrigAuthCode = "" },
		"OrigSTAN":     func(r *Record) { r.OrigSTAN = "12345" },
		"AuthCode":     func(r *Record) { r.AuthCode = "A1B2C3" },
		"Fee":          func(r *Record) { r.Fee = maxFee + 1 },
		"MerchantID":   func(r *Record) { r.MerchantID = "" },
	} {
		r := refund
		mod(&r)
		if err := w.Write(r); !errors.Is(err, ErrInvalidRecord) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: Write = %v", name, err)
		}
	}
	sale := wantSampleB()[0]
	sale.OrigSTAN = "000001"
	if err := w.Write(sale); !errors.Is(err, ErrInvalidRecord) {
		t.Errorf("sale with original: %v", err)
	}
	if w.Totals().Count != 0 {
		t.Error("refused records counted")
	}
	if err := w.CloseWithTrailer(BTrailer{Count: 100_000_000}); err == nil {
		t.Error("oversized trailer accepted")
	}
}

func TestBReadError(t *testing.T) {
	r := NewBReader(&failingReader{n: 100}, ReaderOptions{})
	for r.Next() {
	}
	if err := r.Err(); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("Err = %v", err)
	}
	if _, _, err := ValidateB(context.Background(), errReader{}, ReaderOptions{}); err == nil {
		t.Fatal("ValidateB of a failing reader succeeded")
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("gone") }
