package clearing

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func timeMonth(m int) time.Month { return time.Month(m) }

func readAllA(t testing.TB, src string, opts ReaderOptions) ([]Record, error) {
	t.Helper()
	r := NewAReader(strings.NewReader(src), opts)
	var out []Record
	for r.Next() {
		out = append(out, r.Record())
	}
	return out, r.Err()
}

func readAllB(t testing.TB, src string, opts ReaderOptions) ([]Record, error) {
	t.Helper()
	r := NewBReader(strings.NewReader(src), opts)
	var out []Record
	for r.Next() {
		out = append(out, r.Record())
	}
	return out, r.Err()
}

func fileErr(t *testing.T, err error) *FileError {
	t.Helper()
	var fe *FileError
	if !errors.As(err, &fe) {
		t.Fatalf("want *FileError, got %v", err)
	}
	return fe
}

func equalRecords(t *testing.T, got, want []Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("record %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

// splice returns line with s written at 1-based position pos.
func splice(line string, pos int, s string) string {
	b := []byte(line)
	copy(b[pos-1:], s)
	return string(b)
}

func writeA(t testing.TB, recs []Record) string {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewAWriter(&buf, recs[0].SettleDate)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatalf("Write(%+v): %v", r, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}
