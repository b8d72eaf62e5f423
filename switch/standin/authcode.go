package standin

import (
	"fmt"
	"io"
)

// Stand-in authorization codes are AuthCodeLen characters: the prefix
// AuthCodePrefix and five characters drawn uniformly by crypto/rand from a
// 32-character alphabet of digits and upper-case letters without the
// look-alikes 0, 1, I and O (32^5 ≈ 33.5 million codes). They fit DE38 (an6)
// of both banks and tell an operator or a reconciliation job at a glance that
// the switch, not the issuer, approved the payment.
const (
	AuthCodeLen    = 6
	AuthCodePrefix = 'S'
	authAlphabet   = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
)

// newAuthCode draws one stand-in code from rnd. 32 divides 256, so masking
// a random byte keeps the draw uniform.
func newAuthCode(rnd io.Reader) (string, error) {
	var b [AuthCodeLen - 1]byte
	if _, err := io.ReadFull(rnd, b[:]); err != nil {
		return "", fmt.Errorf("standin: drawing an authorization code: %w", err)
	}
	code := make([]byte, AuthCodeLen)
	code[0] = AuthCodePrefix
	for i, v := range b {
		code[i+1] = authAlphabet[v&31]
	}
	return string(code), nil
}

// IsStandInAuthCode reports whether code has the shape of a code the switch
// generated in stand-in.
func IsStandInAuthCode(code string) bool {
	if len(code) != AuthCodeLen || code[0] != AuthCodePrefix {
		return false
	}
	for i := 1; i < len(code); i++ {
		if !inAlphabet(code[i]) {
			return false
		}
	}
	return true
}

func inAlphabet(c byte) bool {
	for i := 0; i < len(authAlphabet); i++ {
		if authAlphabet[i] == c {
			return true
		}
	}
	return false
}
