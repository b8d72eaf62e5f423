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

// saf.recover_after must cover the longest life of one attempt: 2 × the
// bank's timeout (slot wait and response wait) + the pre-send budget + the
// write of the answer; shorter would recover requests still in flight.
func TestRecoverAfterCoversAnAttempt(t *testing.T) {
	cfg, _, err := Load(writeConfig(t, validYAML))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SAF.CommitTimeout != 30*time.Second || cfg.SAF.WriteTimeout != 15*time.Second {
		t.Fatalf("defaults: commit %v write %v", cfg.SAF.CommitTimeout, cfg.SAF.WriteTimeout)
	}
	var longest time.Duration
	for _, b := range cfg.Banks {
		longest = max(longest, b.Timeout)
	}
	least := 2*longest + 30*time.Second + 15*time.Second
	short := validYAML + "saf:\n  recover_after: " + (least - time.Second).String() + "\n"
	_, _, err = Load(writeConfig(t, short))
	if err == nil {
		t.Fatalf("recover_after %v accepted below %v", least-time.Second, least)
	}
	if problems := strings.Join(problemsOf(t, err), "\n"); !strings.Contains(problems, "saf.recover_after:") {
		t.Fatalf("no problem names saf.recover_after:\n%s", problems)
	}
	ok := validYAML + "saf:\n  recover_after: " + least.String() + "\n"
	if _, _, err := Load(writeConfig(t, ok)); err != nil {
		t.Fatalf("recover_after %v refused: %v", least, err)
	}
	tight := validYAML + "saf:\n  commit_timeout: 1s\n  write_timeout: 1s\n  recover_after: " + (2*longest + 2*time.Second).String() + "\n"
	if _, _, err := Load(writeConfig(t, tight)); err != nil {
		t.Fatalf("short commit/write budgets with a matching recover_after refused: %v", err)
	}
}

// The example configuration shipped in configs/ loads and carries the
// failure sections (saf, standin, breakers).
func TestExampleConfigHasFailureSections(t *testing.T) {
	cfg, _, err := Load("../../configs/switch.yaml")
	if err != nil {
		t.Fatalf("configs/switch.yaml: %v", err)
	}
	if cfg.SAF.RecoverAfter == 0 || cfg.SAF.CommitTimeout != 30*time.Second || cfg.SAF.WriteTimeout != 15*time.Second {
		t.Fatalf("saf %+v", cfg.SAF)
	}
	for _, bank := range []string{"alfa", "sber"} {
		st, ok := cfg.StandIn.Banks[bank]
		if !ok || st.Enabled == nil || !*st.Enabled || st.DailyCount == nil {
			t.Fatalf("standin.banks.%s %+v", bank, st)
		}
		if b, ok := cfg.Breakers[bank]; !ok || b.FailureThreshold == 0 {
			t.Fatalf("breakers.%s %+v", bank, b)
		}
	}
}
