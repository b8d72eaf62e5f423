package config

import (
	"strings"
	"testing"
	"time"
)

const failuresYAML = validYAML + `saf:
  lease: 30s
  max_age: 2h
  max_attempts: 50
standin:
  banks:
    alfa:
      enabled: true
      types: [purchase]
      max_amount: {KZT: 50000}
      daily_count: 3
      daily_amount: {KZT: 100000}
      merchants:
        M00000000000123: {enabled: false}
breakers:
  alfa: {failure_threshold: 4, cool_down: 5s}
`

// The failure sections (saf, standin, breakers, repeat_min) load with
// their defaults and reach the structures the switch is built from.
func TestFailureSectionsLoad(t *testing.T) {
	cfg, _, err := Load(writeConfig(t, failuresYAML))
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.SAF
	if s.Lease != 30*time.Second || s.MaxAge != 2*time.Hour || s.MaxAttempts != 50 || s.Interval != time.Second || s.Batch != 64 || s.RecoverEvery != 30*time.Second {
		t.Fatalf("saf %+v", s)
	}
	a := cfg.StandIn.Banks["alfa"]
	if a.Enabled == nil || !*a.Enabled || a.MaxAmount["kzt"]+a.MaxAmount["KZT"] != 50000 || a.DailyCount == nil || *a.DailyCount != 3 {
		t.Fatalf("standin alfa %+v", a)
	}
	if len(a.Merchants) != 1 {
		t.Fatalf("merchant overrides %+v", a.Merchants)
	}
	if b := cfg.Breakers["alfa"]; b.FailureThreshold != 4 || b.CoolDown != 5*time.Second {
		t.Fatalf("breaker alfa %+v", b)
	}
}

// Each problem names its key.
func TestFailureSectionsValidation(t *testing.T) {
	bad := validYAML + `saf:
  lease: 2s
  max_attempts: -1
standin:
  banks:
    nobank: {enabled: false}
    alfa:
      enabled: true
      types: [refund]
breakers:
  alfa: {failure_threshold: -2}
  ghost: {probes: 1}
`
	_, _, err := Load(writeConfig(t, bad))
	if err == nil {
		t.Fatal("invalid failure sections accepted")
	}
	problems := strings.Join(problemsOf(t, err), "\n")
	for _, key := range []string{"saf.lease", "saf.max_attempts", "standin.banks.nobank", "standin.banks.alfa.types[0]", "breakers.alfa", "breakers.ghost"} {
		if !strings.Contains(problems, key+":") {
			t.Errorf("no problem names %s:\n%s", key, problems)
		}
	}
}
