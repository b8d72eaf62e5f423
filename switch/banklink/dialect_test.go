package banklink

import (
	"testing"

	"github.com/acquirer/h2hswitch/specs"
)

const (
	dialectA = specs.DialectASCII  // Bank A, "h2h87-ascii"
	dialectB = specs.DialectBinary // Bank B, "h2h87-binary"
)

// testDialect returns the real dialect from package specs.
func testDialect(t testing.TB, name string) *specs.Dialect {
	t.Helper()
	d, err := specs.Lookup(name)
	if err != nil {
		t.Fatalf("specs.Lookup(%q): %v", name, err)
	}
	return d
}
