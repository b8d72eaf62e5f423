package api

import (
	"strings"
	"testing"
)

// TestSafeKeyMasksBeforeTruncating: a JSON key carrying a PAN near the
// 64-byte cut must not leave the PAN's middle digits in the message. Cutting
// first left a 12-digit run, too short to be recognised as a PAN.
func TestSafeKeyMasksBeforeTruncating(t *testing.T) {
	const pan = "4000000000000010" // simulator.md test card
	for off := 0; off <= 70; off++ {
		key := strings.Repeat("a", off) + pan + "z"
		out := safeKey(key)
		if strings.Contains(out, pan[6:12]) {
			t.Fatalf("offset %d: safeKey(%q) = %q keeps the PAN's middle digits", off, key, out)
		}
		if len(out) > 64+len("...") {
			t.Fatalf("offset %d: safeKey returned %d bytes, want at most 67", off, len(out))
		}
	}
}
