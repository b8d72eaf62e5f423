package clearing

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

func TestAContractSample(t *testing.T) {
	got, err := readAllA(t, contractSampleA, ReaderOptions{SettleDate: d(2026, 11, 30)})
	if err != nil {
		t.Fatalf("contract sample rejected: %v", err)
	}
	equalRecords(t, got, wantSampleA())

	r := NewAReader(strings.NewReader(contractSampleA), ReaderOptions{})
	for r.Next() {
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	tr, ok := r.Trailer()
	if want := (ATrailer{Rows: 2, Amount: 200000, Fee: 3000, Settle: 97000}); !ok || tr != want {
		t.Errorf("Trailer = %+v %v, want %+v", tr, ok, want)
	}
	if r.SettleDate() != d(2026, 11, 30) {
		t.Errorf("SettleDate = %v", r.SettleDate())
	}
	if fd, err := ParseAFileName("A_CLR_20261130.csv"); err != nil || fd != d(2026, 11, 30) {
		t.Errorf("ParseAFileName = %v %v", fd, err)
	}
	if AFileName(d(2026, 11, 30)) != "A_CLR_20261130.csv" {
		t.Error("AFileName")
	}
	for _, bad := range []string{"A_CLR_20261131.csv", "A_CLR_2026113.csv", "a_clr_20261130.csv", "A_CLR_20261130.CSV"} {
		if _, err := ParseAFileName(bad); err == nil {
			t.Errorf("ParseAFileName(%q) accepted", bad)
		}
	}
}

func TestAWriterReproducesContractSample(t *testing.T) {
	if got := writeA(t, wantSampleA()); got != contractSampleA {
		t.Errorf("writer output differs from the contract sample:\n%q\n%q", got, contractSampleA)
	}
}

func TestAEmptyFileWithHeaderAndTrailer(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewAWriter(&buf, d(2026, 11, 30))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := AHeaderLine + "\r\nTOTAL;0;0,00;0,00;0,00\r\n"
	if buf.String() != want {
		t.Fatalf("got %q", buf.String())
	}
	if recs, err := readAllA(t, want, ReaderOptions{}); err != nil || len(recs) != 0 {
		t.Fatalf("no-row file: %d rows, %v", len(recs), err)
	}
}

func TestAJPYAndMixedCurrencyTotals(t *testing.T) {
	recs := wantSampleA()
	jpy := recs[0]
	jpy.RRN, jpy.Currency, jpy.Amount, jpy.Fee, jpy.SettleAmount = "633100000999", JPY, 1500, 30, 1470
	recs = append(recs, jpy)
	out := writeA(t, recs)
	if !strings.Contains(out, ";PURCHASE;1500;JPY;30;1470;") {
		t.Errorf("JPY row not in whole units:\n%s", out)
	}
	if !strings.HasSuffix(out, "TOTAL;3;3500,00;60,00;2440,00\r\n") {
		t.Errorf("trailer: %q", out[strings.LastIndex(out, "TOTAL"):])
	}
	got, err := readAllA(t, out, ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	equalRecords(t, got, recs)
}

func TestARejectsTrailerMismatch(t *testing.T) {
	base := strings.TrimSuffix(contractSampleA, "TOTAL;2;2000,00;30,00;970,00\r\n")
	tests := []struct {
		trailer string
		col     int
	}{
		{"TOTAL;3;2000,00;30,00;970,00", 2},
		{"TOTAL;2;2000,01;30,00;970,00", 3},
		{"TOTAL;2;2000,00;31,00;970,00", 4},
		{"TOTAL;2;2000,00;30,00;-970,00", 5},
	}
	for _, tt := range tests {
		recs, err := readAllA(t, base+tt.trailer+"\r\n", ReaderOptions{})
		// Streaming: the rows came out, the verdict comes at the end.
		if len(recs) != 2 {
			t.Errorf("%s: %d rows streamed", tt.trailer, len(recs))
		}
		fe := fileErr(t, err)
		if len(fe.Errors) != 1 || fe.Errors[0].Line != 4 || fe.Errors[0].Column != tt.col {
			t.Errorf("%s: errors %+v, want one at line 4 column %d", tt.trailer, fe.Errors, tt.col)
		}
		if _, err := ValidateA(context.Background(), strings.NewReader(base+tt.trailer+"\r\n"), ReaderOptions{}); err == nil {
			t.Errorf("%s: ValidateA accepted", tt.trailer)
		}
	}
	// Same check through the writer's override.
	var buf bytes.Buffer
	w, _ := NewAWriter(&buf, d(2026, 11, 30))
	for _, r := range wantSampleA() {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	tr := w.Totals()
	tr.Settle++
	if err := w.CloseWithTrailer(tr); err != nil {
		t.Fatal(err)
	}
	if _, err := ValidateA(context.Background(), &buf, ReaderOptions{}); err == nil {
		t.Error("CloseWithTrailer file accepted")
	}
}

// rowA builds a sample row with column col (0-based) replaced by v.
func rowA(line string, col int, v string) string {
	f := strings.Split(line, ";")
	f[col] = v
	return strings.Join(f, ";")
}

func TestAMalformedLines(t *testing.T) {
	lines := strings.Split(strings.TrimSuffix(contractSampleA, "\r\n"), "\r\n")
	hdr, sale, refund, trailer := lines[0], lines[1], lines[2], lines[3]
	file := func(ls ...string) string { return strings.Join(ls, "\r\n") + "\r\n" }
	const pan = "4000000000000010"

	tests := []struct {
		name   string
		src    string
		line   int64
		column int
		field  string
	}{
		{"empty file", "", 1, 0, ""},
		{"header unknown column", file(strings.Replace(hdr, "AUTH_CODE", "AUTH", 1), sale, refund, trailer), 1, 2, "AUTH_CODE"},
		{"header missing column", file(strings.TrimSuffix(hdr, ";ORIG_RRN"), sale, refund, trailer), 1, 0, ""},
		{"header extra column", file(hdr+";EXTRA", sale, refund, trailer), 1, 0, ""},
		{"no header", file(sale, refund, trailer), 1, 0, ""},
		{"too few columns", file(hdr, strings.TrimSuffix(sale, ";"), refund, trailer), 2, 0, ""},
		{"too many columns", file(hdr, sale+";x", refund, trailer), 2, 0, ""},
		{"blank line", file(hdr, sale, "", refund, trailer), 3, 0, ""},
		{"bad RRN", file(hdr, rowA(sale, 0, "63310000012"), refund, trailer), 2, 1, "RRN"},
		{"purchase without auth code", file(hdr, rowA(sale, 1, ""), refund, trailer), 2, 2, "AUTH_CODE"},
		{"refund with auth code", file(hdr, sale, rowA(refund, 1, "A1B2C3"), trailer), 3, 2, "AUTH_CODE"},
		{"bad STAN", file(hdr, rowA(sale, 2, "00012A"), refund, trailer), 2, 3, "STAN"},
		{"bad terminal", file(hdr, rowA(sale, 3, "T 000123"), refund, trailer), 2, 4, "TERMINAL_ID"},
		{"bad merchant", file(hdr, rowA(sale, 4, "M000000000001234"), refund, trailer), 2, 5, "MERCHANT_ID"},
		{"full PAN", file(hdr, rowA(sale, 5, pan), refund, trailer), 2, 6, "CARD"},
		{"bad date", file(hdr, rowA(sale, 6, "31.11.2026"), refund, trailer), 2, 7, "OPER_DATE"},
		{"ISO date", file(hdr, rowA(sale, 6, "2026-11-27"), refund, trailer), 2, 7, "OPER_DATE"},
		{"bad time", file(hdr, rowA(sale, 7, "24:00:00"), refund, trailer), 2, 8, "OPER_TIME"},
		{"unknown type", file(hdr, rowA(sale, 8, "SALE"), refund, trailer), 2, 9, "OPER_TYPE"},
		{"decimal point", file(hdr, rowA(sale, 9, "1500.00"), refund, trailer), 2, 10, "AMOUNT"},
		{"one decimal", file(hdr, rowA(sale, 9, "1500,0"), refund, trailer), 2, 10, "AMOUNT"},
		{"thousands separator", file(hdr, rowA(sale, 9, "1 500,00"), refund, trailer), 2, 10, "AMOUNT"},
		{"negative amount", file(hdr, sale, rowA(refund, 9, "-500,00"), trailer), 3, 10, "AMOUNT"},
		{"huge amount", file(hdr, rowA(sale, 9, "99999999999999,00"), refund, trailer), 2, 10, "AMOUNT"},
		{"unknown currency", file(hdr, rowA(sale, 10, "XXX"), refund, trailer), 2, 11, "CURRENCY"},
		{"negative fee", file(hdr, rowA(sale, 11, "-30,00"), refund, trailer), 2, 12, "FEE"},
		{"settle disagrees", file(hdr, rowA(sale, 12, "1480,00"), refund, trailer), 2, 13, "SETTLE_AMOUNT"},
		{"refund settle positive", file(hdr, sale, rowA(refund, 12, "500,00"), trailer), 3, 13, "SETTLE_AMOUNT"},
		{"bad settle date", file(hdr, rowA(sale, 13, "30.13.2026"), refund, trailer), 2, 14, "SETTLE_DATE"},
		{"second settle date", file(hdr, sale, rowA(refund, 13, "01.12.2026"), trailer), 3, 14, "SETTLE_DATE"},
		{"refund without ORIG_RRN", file(hdr, sale, rowA(refund, 14, ""), trailer), 3, 15, "ORIG_RRN"},
		{"purchase with ORIG_RRN", file(hdr, rowA(sale, 14, "633100000001"), refund, trailer), 2, 15, "ORIG_RRN"},
		{"LF line end", hdr + "\r\n" + sale + "\n" + refund + "\r\n" + trailer + "\r\n", 2, 0, ""},
		{"line too long", file(hdr, sale+strings.Repeat("9", 2000), refund, trailer), 2, 0, ""},
		{"very long line", file(hdr, sale+strings.Repeat("9", 200000), refund, trailer), 2, 0, ""},
		{"missing trailer", file(hdr, sale, refund), 4, 0, ""},
		{"data after trailer", file(hdr, sale, refund, trailer, sale), 5, 0, ""},
		{"blank line after trailer", file(hdr, sale, refund, trailer, ""), 5, 0, ""},
		{"malformed trailer", file(hdr, sale, refund, "TOTAL;2;2000.00;30,00;970,00"), 4, 3, "sum of AMOUNT"},
		{"short trailer", file(hdr, sale, refund, "TOTAL;2;2000,00;30,00"), 4, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readAllA(t, tt.src, ReaderOptions{})
			fe := fileErr(t, err)
			le := fe.Errors[0]
			if le.Line != tt.line || le.Column != tt.column || le.Field != tt.field {
				t.Errorf("first error %+v, want line %d column %d field %q (all: %v)", le, tt.line, tt.column, tt.field, fe)
			}
			if strings.Contains(fe.Error(), pan) {
				t.Errorf("error text leaks the PAN: %s", fe)
			}
			if !strings.Contains(fe.Error(), "line ") {
				t.Errorf("error text without a line: %s", fe)
			}
		})
	}
}

func TestACollectsAllLineErrors(t *testing.T) {
	lines := strings.Split(strings.TrimSuffix(contractSampleA, "\r\n"), "\r\n")
	bad := rowA(rowA(lines[1], 2, "x"), 9, "1,5")
	src := strings.Join([]string{lines[0], bad, lines[2], rowA(lines[2], 6, "00.00.0000")}, "\r\n") + "\r\n"
	recs, err := readAllA(t, src, ReaderOptions{})
	fe := fileErr(t, err)
	type at struct {
		line int64
		col  int
	}
	var got []at
	for _, e := range fe.Errors {
		got = append(got, at{e.Line, e.Column})
	}
	want := []at{{2, 3}, {2, 10}, {4, 7}, {5, 0}}
	if len(got) != len(want) {
		t.Fatalf("errors %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("error %d at %v, want %v", i, got[i], want[i])
		}
	}
	if len(recs) != 1 || recs[0].RRN != "633100000188" {
		t.Errorf("good rows: %+v", recs)
	}
	if fe.Truncated {
		t.Error("Truncated without reaching the bound")
	}
}

func TestAErrorBound(t *testing.T) {
	var b strings.Builder
	b.WriteString(AHeaderLine + "\r\n")
	for i := 0; i < 5000; i++ {
		b.WriteString("garbage\r\n")
	}
	_, err := readAllA(t, b.String(), ReaderOptions{MaxErrors: 10})
	fe := fileErr(t, err)
	if len(fe.Errors) != 10 || !fe.Truncated {
		t.Fatalf("%d errors, truncated %v", len(fe.Errors), fe.Truncated)
	}
	if fe.Errors[9].Line != 11 {
		t.Errorf("last error at line %d", fe.Errors[9].Line)
	}
}

func TestAExpectedSettleDate(t *testing.T) {
	_, err := readAllA(t, contractSampleA, ReaderOptions{SettleDate: d(2026, 12, 1)})
	fe := fileErr(t, err)
	if fe.Errors[0].Line != 2 || fe.Errors[0].Field != "SETTLE_DATE" {
		t.Errorf("%v", fe)
	}
}

func TestATolerances(t *testing.T) {
	// A UTF-8 BOM before the header and a trailer without a final CRLF.
	src := "\xEF\xBB\xBF" + strings.TrimSuffix(contractSampleA, "\r\n")
	got, err := readAllA(t, src, ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	equalRecords(t, got, wantSampleA())
}

type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n == 0 {
		return 0, errors.New("disk on fire")
	}
	n := copy(p, contractSampleA[:f.n])
	f.n = 0
	return n, nil
}

func TestAReadError(t *testing.T) {
	_, err := readAllA(t, "", ReaderOptions{})
	fileErr(t, err)
	r := NewAReader(&failingReader{n: 200}, ReaderOptions{})
	for r.Next() {
	}
	if err := r.Err(); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("Err = %v", err)
	}
}

func TestAValidateContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ValidateA(ctx, strings.NewReader(contractSampleA), ReaderOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("ValidateA with cancelled ctx = %v", err)
	}
	tr, err := ValidateA(context.Background(), strings.NewReader(contractSampleA), ReaderOptions{})
	if err != nil || tr.Rows != 2 || tr.Settle != 97000 {
		t.Fatalf("ValidateA = %+v %v", tr, err)
	}
}

func TestAWriterRefusesBadRecords(t *testing.T) {
	good := wantSampleA()[0]
	tests := []struct {
		field string
		mod   func(r *Record)
	}{
		{"RRN", func(r *Record) { r.RRN = "1" }},
		{"MaskedPAN", func(r *Record) { r.MaskedPAN = "4000000000000010" }},
		{"SettleAmount", func(r *Record) { r.SettleAmount++ }},
		{"SettleDate", func(r *Record) { r.SettleDate = d(2026, 12, 1) }},
		{"Currency", func(r *Record) { r.Currency = Currency{"KZT", "398", 3} }},
		{"Type", func(r *Record) { r.Type = 0 }},
		{"OrigRRN", func(r *Record) { r.OrigRRN = "633100000001" }},
		{"TerminalID", func(r *Record) { r.TerminalID = "T;1" }},
		{"OperTime", func(r *Record) { r.OperTime.Hour = 24 }},
		{"Amount", func(r *Record) { r.Amount, r.SettleAmount = -1, -1-r.Fee }},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		w, _ := NewAWriter(&buf, d(2026, 11, 30))
		r := good
		tt.mod(&r)
		err := w.Write(r)
		if !errors.Is(err, ErrInvalidRecord) || !strings.Contains(err.Error(), tt.field) {
			t.Errorf("%s: Write = %v", tt.field, err)
		}
		if w.Totals().Rows != 0 {
			t.Errorf("%s: refused row counted", tt.field)
		}
		if strings.Contains(err.Error(), "4000000000000010") {
			t.Error("writer error leaks the PAN")
		}
	}
	w, _ := NewAWriter(&bytes.Buffer{}, d(2026, 11, 30))
	_ = w.Close()
	if err := w.Write(good); err == nil {
		t.Error("Write after Close accepted")
	}
	if _, err := NewAWriter(&bytes.Buffer{}, d(2026, 2, 30)); err == nil {
		t.Error("invalid date accepted")
	}
}

type errWriter struct{}

func (errWriter) Write([]byte) (int, error) { return 0, errors.New("no space left") }

func TestAWriterReportsWriteErrors(t *testing.T) {
	w, _ := NewAWriter(errWriter{}, d(2026, 11, 30))
	if err := w.Close(); err == nil || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("Close = %v", err)
	}
}

func TestALFLineEndsReportedPerLine(t *testing.T) {
	recs, err := readAllA(t, strings.ReplaceAll(contractSampleA, "\r\n", "\n"), ReaderOptions{})
	fe := fileErr(t, err)
	if len(fe.Errors) != 4 {
		t.Fatalf("errors: %v", fe)
	}
	for i, e := range fe.Errors {
		if e.Line != int64(i+1) || e.Msg != "want CRLF line end" {
			t.Errorf("error %d: %+v", i, e)
		}
	}
	if len(recs) != 0 {
		t.Errorf("rows with a bad line end were yielded: %d", len(recs))
	}
}
