package clearing

import (
	"bytes"
	"reflect"
	"testing"
)

// Fuzz targets: the readers must never panic, must bound their error
// lists, must yield only records the writers would accept, and an accepted
// file must survive a write/read round trip unchanged. Seed corpora are in
// testdata/fuzz/<FuzzName>/ (the contract sample and malformed variants).

const fuzzMaxErrors = 20

func FuzzAReader(f *testing.F) {
	f.Add([]byte(contractSampleA))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewAReader(bytes.NewReader(data), ReaderOptions{MaxErrors: fuzzMaxErrors})
		var recs []Record
		for r.Next() {
			rec := r.Record()
			if err := checkA(&rec, rec.SettleDate); err != nil {
				t.Fatalf("line %d yielded a record the writer refuses: %v", r.Line(), err)
			}
			recs = append(recs, rec)
		}
		err := r.Err()
		if err != nil {
			checkFileError(t, err)
			return
		}
		sd := r.SettleDate()
		if sd.IsZero() {
			sd = d(2026, 11, 30)
		}
		var buf bytes.Buffer
		w, werr := NewAWriter(&buf, sd)
		if werr != nil {
			t.Fatal(werr)
		}
		for _, rec := range recs {
			if err := w.Write(rec); err != nil {
				t.Fatalf("rewrite: %v", err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		tr, _ := r.Trailer()
		if w.Totals() != tr {
			t.Fatalf("accepted trailer %+v, rows total %+v", tr, w.Totals())
		}
		r2 := NewAReader(&buf, ReaderOptions{})
		var again []Record
		for r2.Next() {
			again = append(again, r2.Record())
		}
		if err := r2.Err(); err != nil || !reflect.DeepEqual(again, recs) {
			t.Fatalf("round trip: %v\n%+v\n%+v", err, again, recs)
		}
	})
}

func FuzzBReader(f *testing.F) {
	f.Add([]byte(sampleB))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewBReader(bytes.NewReader(data), ReaderOptions{MaxErrors: fuzzMaxErrors})
		var recs []Record
		for r.Next() {
			rec := r.Record()
			if err := checkB(&rec, rec.SettleDate); err != nil {
				t.Fatalf("line %d yielded a record the writer refuses: %v", r.Line(), err)
			}
			recs = append(recs, rec)
		}
		err := r.Err()
		if err != nil {
			checkFileError(t, err)
			return
		}
		h, ok := r.Header()
		if !ok {
			t.Fatal("accepted without a header")
		}
		var buf bytes.Buffer
		w, werr := NewBWriter(&buf, h)
		if werr != nil {
			t.Fatal(werr)
		}
		for _, rec := range recs {
			if err := w.Write(rec); err != nil {
				t.Fatalf("rewrite: %v", err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		// Bank B's format has one spelling per file (but the sign of a
		// zero amount, C or D): the rewrite must be the input byte for byte.
		zero := false
		for _, rec := range recs {
			zero = zero || rec.SettleAmount == 0
		}
		if tr, _ := r.Trailer(); tr.Net != 0 && !zero && !bytes.Equal(buf.Bytes(), data) {
			t.Fatalf("rewrite differs:\n%q\n%q", buf.Bytes(), data)
		}
		r2 := NewBReader(&buf, ReaderOptions{})
		var again []Record
		for r2.Next() {
			again = append(again, r2.Record())
		}
		if err := r2.Err(); err != nil || !reflect.DeepEqual(again, recs) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func checkFileError(t *testing.T, err error) {
	t.Helper()
	fe, ok := err.(*FileError)
	if !ok {
		t.Fatalf("Err is %T, want *FileError", err)
	}
	if len(fe.Errors) == 0 && fe.Err == nil {
		t.Fatal("empty FileError")
	}
	if len(fe.Errors) > fuzzMaxErrors {
		t.Fatalf("%d errors, bound %d", len(fe.Errors), fuzzMaxErrors)
	}
	for _, le := range fe.Errors {
		if le.Line < 1 || le.Start < 0 || le.End < le.Start || le.End > BRecordLen || le.Column < 0 || le.Column > aColumns || le.Msg == "" {
			t.Fatalf("malformed LineError %+v", le)
		}
	}
	_ = fe.Error()
}
