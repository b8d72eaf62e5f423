package chaos

import (
	"encoding/base64"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// No key material in Go source (review LOW 12): no string literal of the
// package decodes as base64 to 32 bytes or more.
func TestNoKeyMaterialInSource(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("listing sources: %v", err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			v, err := strconv.Unquote(lit.Value)
			if err != nil {
				return true
			}
			for _, w := range strings.FieldsFunc(v, func(r rune) bool { return strings.ContainsRune(" \n\t:{}\",`", r) }) {
				if b, err := base64.StdEncoding.DecodeString(w); err == nil && len(b) >= 32 {
					t.Errorf("%s: string literal holds key material (%d bytes of base64)", fset.Position(lit.Pos()), len(b))
				}
			}
			return true
		})
	}
}

// Each case gets fresh random keys and tokens, and its config carries them.
func TestRunSecretsAreGeneratedPerRun(t *testing.T) {
	a, err := newRunSecrets()
	if err != nil {
		t.Fatal(err)
	}
	b, err := newRunSecrets()
	if err != nil {
		t.Fatal(err)
	}
	if a.PANKey == b.PANKey || a.HMACKey == b.HMACKey || a.GatewayToken == b.GatewayToken || a.OperatorToken == b.OperatorToken || a.PANKey == a.HMACKey {
		t.Fatal("two runs got the same secrets")
	}
	for _, k := range []string{a.PANKey, a.HMACKey} {
		if raw, err := base64.StdEncoding.DecodeString(k); err != nil || len(raw) != 32 {
			t.Fatalf("key %d bytes, %v; want 32", len(raw), err)
		}
	}
	dir := t.TempDir()
	path, err := writeSwitchConfig(dir, "s", switchParams{API: "127.0.0.1:1", Driver: "sqlite", DSN: filepath.Join(dir, "j.db"), BankA: "127.0.0.1:2", BankB: "127.0.0.1:3", runSecrets: a})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{a.PANKey, a.HMACKey, a.GatewayToken, a.OperatorToken} {
		if !strings.Contains(string(cfg), v) {
			t.Fatalf("config lacks a generated secret:\n%s", cfg)
		}
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("config mode %v, %v; want 0600", st.Mode().Perm(), err)
	}
}
