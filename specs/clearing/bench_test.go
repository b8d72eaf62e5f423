package clearing

import (
	"bytes"
	"io"
	"testing"
)

// benchRows is the size of the in-memory file each benchmark iteration
// reads; throughput is reported as rows/s, which is what a 1,000,000-row
// file's read time scales from.
const benchRows = 100_000

// benchRecords returns 1000 varied records with amounts capped so that
// benchRows of them stay within the trailers' 15 digits.
func benchRecords(seed uint64, forB bool) []Record {
	recs := genRecords(1000, seed, d(2026, 11, 30), forB)
	for i := range recs {
		r := &recs[i]
		if r.Amount > 100_000_000 {
			r.Amount, r.Fee = 100_000_000, 0
			r.SettleAmount = r.Type.ExpectedSettle(r.Amount, r.Fee)
		}
	}
	return recs
}

func benchFileA(b *testing.B) []byte {
	b.Helper()
	recs := benchRecords(3, false)
	var buf bytes.Buffer
	w, err := NewAWriter(&buf, d(2026, 11, 30))
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < benchRows; i++ {
		r := recs[i%len(recs)]
		if err := w.Write(r); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

func benchFileB(b *testing.B) []byte {
	b.Helper()
	recs := benchRecords(4, true)
	var buf bytes.Buffer
	w, err := NewBWriter(&buf, BHeader{SettleDate: d(2026, 11, 30), AcquirerID: "123456", Sequence: 1})
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < benchRows; i++ {
		r := recs[i%len(recs)]
		if err := w.Write(r); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

func reportRows(b *testing.B, rows int) {
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkAReader(b *testing.B) {
	data := benchFileA(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := NewAReader(bytes.NewReader(data), ReaderOptions{})
		n := 0
		for r.Next() {
			n++
		}
		if err := r.Err(); err != nil || n != benchRows {
			b.Fatalf("%d rows, %v", n, err)
		}
	}
	reportRows(b, benchRows)
}

func BenchmarkBReader(b *testing.B) {
	data := benchFileB(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := NewBReader(bytes.NewReader(data), ReaderOptions{})
		n := 0
		for r.Next() {
			n++
		}
		if err := r.Err(); err != nil || n != benchRows {
			b.Fatalf("%d rows, %v", n, err)
		}
	}
	reportRows(b, benchRows)
}

func BenchmarkAWriter(b *testing.B) {
	recs := benchRecords(5, false)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w, _ := NewAWriter(io.Discard, d(2026, 11, 30))
		for j := 0; j < benchRows; j++ {
			if err := w.Write(recs[j%len(recs)]); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
	reportRows(b, benchRows)
}

func BenchmarkBWriter(b *testing.B) {
	recs := benchRecords(6, true)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w, _ := NewBWriter(io.Discard, BHeader{SettleDate: d(2026, 11, 30), AcquirerID: "1"})
		for j := 0; j < benchRows; j++ {
			if err := w.Write(recs[j%len(recs)]); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
	reportRows(b, benchRows)
}
