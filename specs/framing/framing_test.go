package framing

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// countingWriter records every Write call.
type countingWriter struct {
	calls [][]byte
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.calls = append(w.calls, append([]byte(nil), p...))
	return len(p), nil
}

func TestASCII4RoundTrip(t *testing.T) {
	var f ASCII4
	body := []byte(strings.Repeat("x", 187))
	var w countingWriter
	if err := f.WriteMessage(&w, body); err != nil {
		t.Fatal(err)
	}
	if len(w.calls) != 1 {
		t.Fatalf("WriteMessage made %d Write calls, want 1", len(w.calls))
	}
	if got := string(w.calls[0][:4]); got != "0187" {
		t.Errorf("prefix = %q, want 0187", got)
	}
	got, err := f.ReadMessage(bytes.NewReader(w.calls[0]))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, body) {
		t.Error("body differs after round trip")
	}
}

func TestBinary2RoundTrip(t *testing.T) {
	var f Binary2
	body := bytes.Repeat([]byte{0xAB}, 8192)
	var w countingWriter
	if err := f.WriteMessage(&w, body); err != nil {
		t.Fatal(err)
	}
	if len(w.calls) != 1 {
		t.Fatalf("WriteMessage made %d Write calls, want 1", len(w.calls))
	}
	if p := w.calls[0][:2]; p[0] != 0x20 || p[1] != 0x00 {
		t.Errorf("prefix = % x, want 20 00", p)
	}
	got, err := f.ReadMessage(bytes.NewReader(w.calls[0]))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, body) {
		t.Error("body differs after round trip")
	}
}

func TestReadErrors(t *testing.T) {
	cases := []struct {
		name string
		f    Framing
		in   []byte
		want error
	}{
		{"A non-numeric", ASCII4{}, []byte("01a7xxxx"), ErrBadLength},
		{"A sign", ASCII4{}, []byte("+187"), ErrBadLength},
		{"A space", ASCII4{}, []byte(" 187"), ErrBadLength},
		{"A zero", ASCII4{}, []byte("0000"), ErrZeroLength},
		{"A too long", ASCII4{}, []byte("4097"), ErrTooLong},
		{"A 9999", ASCII4{}, []byte("9999"), ErrTooLong},
		{"A short body", ASCII4{}, []byte("0010abc"), io.ErrUnexpectedEOF},
		{"A short prefix", ASCII4{}, []byte("00"), io.ErrUnexpectedEOF},
		{"A clean EOF", ASCII4{}, nil, io.EOF},
		{"B zero", Binary2{}, []byte{0, 0}, ErrZeroLength},
		{"B too long", Binary2{}, []byte{0x20, 0x01}, ErrTooLong},
		{"B max uint16", Binary2{}, []byte{0xff, 0xff}, ErrTooLong},
		{"B short body", Binary2{}, []byte{0, 5, 1, 2}, io.ErrUnexpectedEOF},
		{"B short prefix", Binary2{}, []byte{0}, io.ErrUnexpectedEOF},
		{"B clean EOF", Binary2{}, nil, io.EOF},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.f.ReadMessage(bytes.NewReader(tc.in))
			if !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
		})
	}
}

func TestMaxLenAccepted(t *testing.T) {
	in := append([]byte("4096"), bytes.Repeat([]byte{'1'}, 4096)...)
	got, err := ASCII4{}.ReadMessage(bytes.NewReader(in))
	if err != nil || len(got) != 4096 {
		t.Errorf("4096-byte message: len %d, err %v", len(got), err)
	}
}

func TestWriteErrors(t *testing.T) {
	for _, f := range []Framing{ASCII4{}, Binary2{}} {
		var w countingWriter
		if err := f.WriteMessage(&w, nil); !errors.Is(err, ErrZeroLength) {
			t.Errorf("%T empty: %v", f, err)
		}
		if err := f.WriteMessage(&w, make([]byte, f.MaxLen()+1)); !errors.Is(err, ErrTooLong) {
			t.Errorf("%T too long: %v", f, err)
		}
		if len(w.calls) != 0 {
			t.Errorf("%T wrote after a rejected message", f)
		}
		if err := f.WriteMessage(shortWriter{}, []byte("abc")); !errors.Is(err, io.ErrShortWrite) {
			t.Errorf("%T short write: %v", f, err)
		}
	}
}

type shortWriter struct{}

func (shortWriter) Write(p []byte) (int, error) { return len(p) - 1, nil }

// Several messages back to back on one stream.
func TestStream(t *testing.T) {
	for _, f := range []Framing{ASCII4{}, Binary2{}} {
		var buf bytes.Buffer
		msgs := []string{"a", "bb", strings.Repeat("c", 300)}
		for _, m := range msgs {
			if err := f.WriteMessage(&buf, []byte(m)); err != nil {
				t.Fatal(err)
			}
		}
		for _, m := range msgs {
			got, err := f.ReadMessage(&buf)
			if err != nil || string(got) != m {
				t.Fatalf("%T: got %q, %v; want %q", f, got, err, m)
			}
		}
		if _, err := f.ReadMessage(&buf); err != io.EOF {
			t.Errorf("%T: at end got %v, want io.EOF", f, err)
		}
	}
}
