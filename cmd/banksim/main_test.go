package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestBuildConfigFlagsOverrideFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a.yaml")
	if err := os.WriteFile(p, []byte("dialect: h2h87-ascii\nlisten: 127.0.0.1:7001\ncontrol: \"\"\nlate_delay: 9s\nfees: {percent: \"2.5\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd, f := newCommand()
	if err := cmd.ParseFlags([]string{"--config", p, "--late-delay", "250ms", "--amount-rule", "51=approve",
		"--fee-fixed", "kzt=100", "--holidays", "2026-12-16,2026-12-17", "--cut-off", "22:00"}); err != nil {
		t.Fatal(err)
	}
	fc, err := buildConfig(cmd, *f)
	if err != nil {
		t.Fatal(err)
	}
	c := fc.Config
	if c.Dialect != "h2h87-ascii" || c.Listen != "127.0.0.1:7001" || fc.Control != "" || c.LateDelay != 250*time.Millisecond ||
		c.AmountRules["51"] != "approve" || c.Fees.Percent != "2.5" || c.Fees.FixedPerSale["KZT"] != 100 ||
		len(c.Calendar.Holidays) != 2 || c.Calendar.CutOff != "22:00" || fc.LogLevel != "info" {
		t.Fatalf("merged config %+v", fc)
	}
}
