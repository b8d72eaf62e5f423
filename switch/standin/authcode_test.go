package standin

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestAuthCodeFormatAndSpread(t *testing.T) {
	const draws = 64_000
	var counts [AuthCodeLen - 1][256]int
	distinct := map[string]bool{}
	for range draws {
		code, err := newAuthCode(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if !IsStandInAuthCode(code) || len(code) != 6 || code[0] != 'S' {
			t.Fatalf("code %q has the wrong shape", code)
		}
		for i := 1; i < len(code); i++ {
			counts[i-1][code[i]]++
		}
		distinct[code] = true
	}
	// Every position uses the whole alphabet about evenly: 2000 expected
	// per character; a biased or truncated draw falls far outside.
	for pos := range counts {
		for _, c := range []byte(authAlphabet) {
			if n := counts[pos][c]; n < 1700 || n > 2300 {
				t.Errorf("position %d: %q drawn %d times of %d, want about 2000", pos+1, c, n, draws)
			}
		}
	}
	// 64 000 draws from 32^5 codes: about 61 collisions are expected; many
	// more means the draw is not using its full space.
	if dup := draws - len(distinct); dup > 150 {
		t.Fatalf("%d repeated codes in %d draws", dup, draws)
	}
	for _, c := range []string{"0", "1", "I", "O"} {
		if strings.Contains(authAlphabet, c) {
			t.Fatalf("look-alike %q in the alphabet", c)
		}
	}
}

func TestIsStandInAuthCode(t *testing.T) {
	for code, want := range map[string]bool{
		"S2345Z": true, "SZZZZZ": true, "S22222": true,
		"123456": false, "A2345Z": false, "S2345": false, "S2345ZZ": false,
		"S2345O": false, "S1234Z": false, "s2345z": false, "": false,
	} {
		if got := IsStandInAuthCode(code); got != want {
			t.Errorf("IsStandInAuthCode(%q) = %v", code, got)
		}
	}
}

// repeatReader yields its chunks in turn, then the last one forever.
type repeatReader struct{ chunks [][]byte }

func (r *repeatReader) Read(p []byte) (int, error) {
	c := r.chunks[0]
	if len(r.chunks) > 1 {
		r.chunks = r.chunks[1:]
	}
	return copy(p, c), nil
}

// TestAuthCodesNeverRepeatForACard: the code of a new approval differs from
// every code the card got that day at the bank, in the journal (bank or
// stand-in) or reserved, even when the random draw repeats.
func TestAuthCodesNeverRepeatForACard(t *testing.T) {
	e := newEnv(t)
	zeros := bytes.Repeat([]byte{0}, 5) // "S22222"
	ones := bytes.Repeat([]byte{1}, 5)  // "S33333"
	twos := bytes.Repeat([]byte{2}, 5)  // "S44444"
	r := &repeatReader{chunks: [][]byte{zeros, zeros, ones, ones, twos}}
	p := e.policy(baseConfig(), func(o *Options) { o.Rand = r })
	e.add(seed{pan: panA, amount: 1000, authCode: "S22222"}) // a bank's approval today

	d1 := decide(t, p, e.input(panA, 1000))
	wantApprove(t, d1)
	if d1.AuthCode != "S33333" {
		t.Fatalf("first code %s, want S33333 (S22222 is taken)", d1.AuthCode)
	}
	d2 := decide(t, p, e.input(panA, 1000)) // draws S33333 (reserved), then S44444
	if d2.AuthCode != "S44444" {
		t.Fatalf("second code %s, want S44444", d2.AuthCode)
	}
	// Another card may get any code.
	d3 := decide(t, p, e.input(panB, 1000))
	if d3.AuthCode != "S44444" {
		t.Fatalf("other card's code %s", d3.AuthCode)
	}
	// A stuck entropy source is an error, never a repeated code.
	d, err := p.Decide(t.Context(), e.input(panB, 1000))
	if err == nil || d.Approve || d.Reason != ReasonError {
		t.Fatalf("stuck entropy: %+v %v", d, err)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

func TestAuthCodeEntropyFailure(t *testing.T) {
	e := newEnv(t)
	p := e.policy(baseConfig(), func(o *Options) { o.Rand = failingReader{} })
	d, err := p.Decide(t.Context(), e.input(panA, 1000))
	if !errors.Is(err, io.ErrUnexpectedEOF) || d.Approve {
		t.Fatalf("%+v %v", d, err)
	}
	if p.ledger.size() != 0 {
		t.Fatal("a failed decision left a reservation")
	}
}
