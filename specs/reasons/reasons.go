// Package reasons maps each bank's DE39 response code onto the normalized
// decline reason the gateway shows to the cardholder (reason-codes.md). The
// mapping is data: reasons.yaml holds the reasons and their cardholder
// messages, and one <dialect>.yaml per bank maps that bank's codes. Adding a
// bank code is a change to a YAML file, not to code.
package reasons

import (
	"embed"
	"fmt"
	"io/fs"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

//go:embed *.yaml
var files embed.FS

// Reason names used by the switch itself.
const (
	Approved          = "approved"
	DoNotHonor        = "do_not_honor"
	IssuerUnavailable = "issuer_unavailable" // bank timeout, no bank available
)

// Messages is the cardholder message in the gateway's three languages.
type Messages struct {
	EN string `yaml:"en" json:"en"`
	RU string `yaml:"ru" json:"ru"`
	KK string `yaml:"kk" json:"kk"`
}

// Reason is a normalized decline reason.
type Reason struct {
	Reason       string // e.g. "insufficient_funds"
	ReasonCode   int    // e.g. 5051; 0 for approved
	ResponseCode string // normalized two-character code, e.g. "51"
	// BankResponseCode is the bank's own DE39 when it differs from
	// ResponseCode (e.g. Bank B "N7" for incorrect_cvv), else empty.
	BankResponseCode string
	Messages         Messages
}

// Table is the loaded, validated mapping. It is immutable.
type Table struct {
	reasons map[string]Reason            // by reason name
	banks   map[string]map[string]string // dialect -> DE39 -> reason name
}

type reasonsFile struct {
	Reasons []struct {
		Reason       string `yaml:"reason"`
		ReasonCode   int    `yaml:"reason_code"`
		ResponseCode string `yaml:"response_code"`
	} `yaml:"reasons"`
	Messages []struct {
		Reasons  []string `yaml:"reasons"`
		Default  bool     `yaml:"default"`
		Messages `yaml:",inline"`
	} `yaml:"messages"`
}

type bankFile struct {
	Dialect string            `yaml:"dialect"`
	Codes   map[string]string `yaml:"codes"`
}

// New loads and validates the embedded tables.
func New() (*Table, error) {
	return load(files)
}

func load(fsys fs.FS) (*Table, error) {
	raw, err := fs.ReadFile(fsys, "reasons.yaml")
	if err != nil {
		return nil, fmt.Errorf("reading reasons.yaml: %w", err)
	}
	var rf reasonsFile
	if err := yaml.Unmarshal(raw, &rf); err != nil {
		return nil, fmt.Errorf("parsing reasons.yaml: %w", err)
	}
	t := &Table{reasons: map[string]Reason{}, banks: map[string]map[string]string{}}
	for i, r := range rf.Reasons {
		if r.Reason == "" || len(r.ResponseCode) != 2 {
			return nil, fmt.Errorf("reasons.yaml: reasons[%d]: reason and a 2-character response_code are required", i)
		}
		if _, dup := t.reasons[r.Reason]; dup {
			return nil, fmt.Errorf("reasons.yaml: reason %q listed twice", r.Reason)
		}
		t.reasons[r.Reason] = Reason{Reason: r.Reason, ReasonCode: r.ReasonCode, ResponseCode: r.ResponseCode}
	}
	var dflt *Messages
	assigned := map[string]bool{}
	for i, m := range rf.Messages {
		if m.EN == "" || m.RU == "" || m.KK == "" {
			return nil, fmt.Errorf("reasons.yaml: messages[%d]: en, ru and kk are required", i)
		}
		if m.Default {
			if dflt != nil {
				return nil, fmt.Errorf("reasons.yaml: messages[%d]: a second default", i)
			}
			msgs := m.Messages
			dflt = &msgs
		}
		for _, name := range m.Reasons {
			r, ok := t.reasons[name]
			if !ok {
				return nil, fmt.Errorf("reasons.yaml: messages[%d]: unknown reason %q", i, name)
			}
			if assigned[name] {
				return nil, fmt.Errorf("reasons.yaml: reason %q has two messages", name)
			}
			assigned[name] = true
			r.Messages = m.Messages
			t.reasons[name] = r
		}
	}
	if dflt == nil {
		return nil, fmt.Errorf("reasons.yaml: no default message")
	}
	for name, r := range t.reasons {
		if !assigned[name] {
			r.Messages = *dflt
			t.reasons[name] = r
		}
	}
	for _, must := range []string{Approved, DoNotHonor, IssuerUnavailable} {
		if _, ok := t.reasons[must]; !ok {
			return nil, fmt.Errorf("reasons.yaml: reason %q is required", must)
		}
	}

	names, err := fs.Glob(fsys, "*.yaml")
	if err != nil {
		return nil, fmt.Errorf("listing bank tables: %w", err)
	}
	for _, name := range names {
		if name == "reasons.yaml" {
			continue
		}
		raw, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", name, err)
		}
		var bf bankFile
		if err := yaml.Unmarshal(raw, &bf); err != nil {
			return nil, fmt.Errorf("parsing %s: %w", name, err)
		}
		if bf.Dialect+".yaml" != name {
			return nil, fmt.Errorf("%s: dialect %q does not match the file name", name, bf.Dialect)
		}
		for code, reason := range bf.Codes {
			if len(code) != 2 {
				return nil, fmt.Errorf("%s: code %q is not 2 characters", name, code)
			}
			if _, ok := t.reasons[reason]; !ok {
				return nil, fmt.Errorf("%s: code %s maps to unknown reason %q", name, code, reason)
			}
		}
		t.banks[bf.Dialect] = bf.Codes
	}
	return t, nil
}

// Lookup maps a bank's DE39 to its reason. A code the bank's table does not
// list, and any code of a dialect without a table, is do_not_honor. Codes
// are matched case-insensitively ("n7" is "N7").
func (t *Table) Lookup(dialect, bankCode string) Reason {
	name, ok := t.banks[dialect][strings.ToUpper(bankCode)]
	if !ok {
		name = DoNotHonor
	}
	r := t.reasons[name]
	if bankCode != r.ResponseCode {
		r.BankResponseCode = bankCode
	}
	return r
}

// ByName returns a reason by its name, e.g. IssuerUnavailable when the
// switch itself declines because no bank answered.
func (t *Table) ByName(name string) (Reason, bool) {
	r, ok := t.reasons[name]
	return r, ok
}

// Dialects lists the dialects that have a table.
func (t *Table) Dialects() []string {
	out := make([]string, 0, len(t.banks))
	for d := range t.banks {
		out = append(out, d)
	}
	return out
}

// embedded is the table built from the embedded files, loaded once. It is
// never modified after loading.
var embedded = sync.OnceValues(New)

// Default returns the table built from the embedded files.
func Default() (*Table, error) { return embedded() }

// Lookup maps a bank's DE39 with the embedded table. The embedded files are
// validated by the package's tests, so a load failure cannot reach
// production; should it happen anyway, the answer is do_not_honor, the
// contract's fallback.
func Lookup(dialect, bankCode string) Reason {
	t, err := embedded()
	if err != nil {
		return Reason{Reason: DoNotHonor, ReasonCode: 5005, ResponseCode: "05", BankResponseCode: bankCode}
	}
	return t.Lookup(dialect, bankCode)
}
