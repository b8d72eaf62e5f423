package routing

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Options are what validation needs to know about the switch.
type Options struct {
	// Banks are the configured bank names; a rule naming any other bank is
	// refused.
	Banks []string
	// Currencies reports whether an ISO 4217 alpha-3 code is one the switch
	// knows. Nil means the embedded list (KnownCurrency).
	Currencies func(code string) bool
}

// spec is a parsed table before compilation.
type spec struct {
	version int64
	rules   []RuleSpec
}

// parser collects problems while walking the YAML node tree, so that one
// pass reports everything wrong with the file.
type parser struct {
	opts      Options
	banks     map[string]bool
	problems  []Problem
	binCount  int
	binCapped bool
	dropped   int // problems beyond MaxProblems
}

func (p *parser) add(rule, key string, n *yaml.Node, format string, args ...any) {
	if len(p.problems) >= MaxProblems {
		p.dropped++
		return
	}
	pr := Problem{Rule: rule, Key: key, Message: redactDigits(fmt.Sprintf(format, args...))}
	if n != nil {
		pr.Line, pr.Column = n.Line, n.Column
	}
	p.problems = append(p.problems, pr)
}

// parse reads a table in YAML or JSON (JSON is read as YAML flow style,
// which keeps line numbers for both) and checks everything that can be
// checked without compiling it.
func parse(src []byte, opts Options) (*spec, []Problem) {
	p := &parser{opts: opts, banks: make(map[string]bool, len(opts.Banks))}
	for _, b := range opts.Banks {
		p.banks[b] = true
	}
	if p.opts.Currencies == nil {
		p.opts.Currencies = KnownCurrency
	}
	if len(src) > MaxTableBytes {
		p.add("", "", nil, "table is %d bytes, more than the limit of %d", len(src), MaxTableBytes)
		return nil, p.problems
	}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.add("", "", nil, "table is empty")
		} else {
			p.yamlError(err)
		}
		return nil, p.problems
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			p.yamlError(err)
		} else {
			p.add("", "", &extra, "more than one YAML document; a table is one document")
		}
		return nil, p.problems
	}
	if len(doc.Content) != 1 {
		p.add("", "", &doc, "table is empty")
		return nil, p.problems
	}
	root := doc.Content[0]
	if !p.noAliases(root) {
		return nil, p.problems
	}
	s := p.table(root)
	if p.dropped > 0 {
		p.problems = append(p.problems, Problem{Message: fmt.Sprintf("%d more problems not listed", p.dropped)})
	}
	if len(p.problems) > 0 {
		return nil, p.problems
	}
	return s, nil
}

// yamlError turns a syntax error into a problem, keeping the line number
// the YAML library puts in its message ("yaml: line 7: ...").
func (p *parser) yamlError(err error) {
	msg := redactDigits(err.Error())
	msg = strings.TrimPrefix(msg, "yaml: ")
	pr := Problem{Message: "not valid YAML or JSON: " + msg}
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, after, ok := strings.Cut(rest, ":"); ok {
			if n, err := strconv.Atoi(num); err == nil && n > 0 {
				pr.Line = n
				pr.Message = "not valid YAML or JSON:" + after
			}
		}
	}
	p.problems = append(p.problems, pr)
}

// noAliases refuses anchors and aliases: a table has no use for them and
// they are how a small file expands into a huge one.
func (p *parser) noAliases(root *yaml.Node) bool {
	stack := []*yaml.Node{root}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if n.Kind == yaml.AliasNode || n.Anchor != "" {
			p.add("", "", n, "YAML anchors and aliases are not allowed in a routing table")
			return false
		}
		for i := len(n.Content) - 1; i >= 0; i-- { // file order
			stack = append(stack, n.Content[i])
		}
	}
	return true
}

// pairs returns a mapping's key/value pairs, reporting keys that are not
// plain scalars and keys given twice.
func (p *parser) pairs(rule, prefix string, n *yaml.Node) [][2]*yaml.Node {
	out := make([][2]*yaml.Node, 0, len(n.Content)/2)
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.add(rule, strings.TrimSuffix(prefix, "."), k, "keys must be plain names")
			continue
		}
		if first, dup := seen[k.Value]; dup {
			p.add(rule, prefix+k.Value, k, "key given twice (first at line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		out = append(out, [2]*yaml.Node{k, v})
	}
	return out
}

func (p *parser) table(root *yaml.Node) *spec {
	if root.Kind != yaml.MappingNode {
		p.add("", "", root, "a table is a mapping with keys version and rules")
		return nil
	}
	s := &spec{}
	var haveVersion, haveRules bool
	for _, kv := range p.pairs("", "", root) {
		k, v := kv[0], kv[1]
		switch k.Value {
		case "version":
			haveVersion = true
			s.version = p.version(v)
		case "rules":
			haveRules = true
			s.rules = p.rules(v)
		default:
			p.add("", k.Value, k, "unknown key (allowed: version, rules)")
		}
	}
	if !haveVersion {
		p.add("", "version", root, "missing; give the table's version number")
	}
	if !haveRules {
		p.add("", "rules", root, "missing; a table needs at least one rule")
	}
	return s
}

func (p *parser) version(v *yaml.Node) int64 {
	n, ok := p.integer(v)
	if !ok || n < 1 {
		p.add("", "version", v, "must be a positive integer, got %q", v.Value)
		return 0
	}
	return n
}

// integer reads an integer scalar (YAML !!int, or a JSON number without a
// fraction).
func (p *parser) integer(v *yaml.Node) (int64, bool) {
	if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!int" {
		return 0, false
	}
	var n int64
	if err := v.Decode(&n); err != nil {
		return 0, false
	}
	return n, true
}

// scalar reads a non-null scalar's text.
func scalar(v *yaml.Node) (string, bool) {
	if v.Kind != yaml.ScalarNode || v.ShortTag() == "!!null" {
		return "", false
	}
	return v.Value, true
}

func (p *parser) rules(v *yaml.Node) []RuleSpec {
	if v.Kind != yaml.SequenceNode {
		p.add("", "rules", v, "must be a list of rules")
		return nil
	}
	if len(v.Content) == 0 {
		p.add("", "rules", v, "is empty; a table needs at least one rule")
		return nil
	}
	if len(v.Content) > MaxRules {
		p.add("", "rules", v, "%d rules, more than the limit of %d", len(v.Content), MaxRules)
		return nil
	}
	out := make([]RuleSpec, 0, len(v.Content))
	names := make(map[string]int, len(v.Content))
	for i, rn := range v.Content {
		r := p.rule(i, rn, names)
		out = append(out, r)
	}
	return out
}

// ruleLabel names a rule in problems: its name when it has a usable one,
// otherwise its 1-based position.
func ruleLabel(i int, rn *yaml.Node) string {
	if rn.Kind == yaml.MappingNode {
		for j := 0; j+1 < len(rn.Content); j += 2 {
			if rn.Content[j].Value == "name" {
				if s, ok := scalar(rn.Content[j+1]); ok && validName(s) {
					return s
				}
			}
		}
	}
	return "#" + strconv.Itoa(i+1)
}

func validName(s string) bool {
	if s == "" || len(s) > MaxNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func (p *parser) rule(i int, rn *yaml.Node, names map[string]int) RuleSpec {
	label := ruleLabel(i, rn)
	r := RuleSpec{Line: rn.Line}
	if rn.Kind != yaml.MappingNode {
		p.add(label, "", rn, "a rule is a mapping with keys name, match and banks or split")
		return r
	}
	var haveName, haveBanks, haveSplit bool
	var banksNode *yaml.Node
	for _, kv := range p.pairs(label, "", rn) {
		k, v := kv[0], kv[1]
		switch k.Value {
		case "name":
			haveName = true
			s, ok := scalar(v)
			if !ok || !validName(s) {
				p.add(label, "name", v, "must be 1 to %d characters of A-Z a-z 0-9 . _ -", MaxNameLen)
				continue
			}
			if first, dup := names[s]; dup {
				p.add(label, "name", v, "duplicate rule name (first at line %d)", first)
				continue
			}
			names[s] = v.Line
			r.Name = s
		case "match":
			r.Match = p.match(label, v)
		case "banks":
			haveBanks = true
			banksNode = k
			r.Banks = p.bankList(label, v)
		case "split":
			haveSplit = true
			if banksNode == nil {
				banksNode = k
			}
			r.Split = p.split(label, v)
		default:
			p.add(label, k.Value, k, "unknown key (allowed: name, match, banks, split)")
		}
	}
	if !haveName {
		p.add(label, "name", rn, "missing; every rule needs a unique name")
	}
	switch {
	case haveBanks && haveSplit:
		p.add(label, "banks", banksNode, "give exactly one of banks and split, not both")
	case !haveBanks && !haveSplit:
		p.add(label, "banks", rn, "missing; give exactly one of banks and split")
	}
	return r
}

// list reads a non-empty sequence of scalars, checking each with check,
// which returns a message for a bad element or "".
func (p *parser) list(rule, key string, v *yaml.Node, check func(string) string) []string {
	if v.Kind != yaml.SequenceNode {
		p.add(rule, key, v, "must be a list")
		return nil
	}
	if len(v.Content) == 0 {
		p.add(rule, key, v, "is empty; omit the key instead")
		return nil
	}
	out := make([]string, 0, len(v.Content))
	for _, e := range v.Content {
		s, ok := scalar(e)
		if !ok {
			p.add(rule, key, e, "elements must be plain values")
			continue
		}
		if msg := check(s); msg != "" {
			p.add(rule, key, e, "%s", msg)
			continue
		}
		out = append(out, s)
	}
	return out
}

func (p *parser) match(rule string, v *yaml.Node) *MatchSpec {
	if v.Kind != yaml.MappingNode {
		p.add(rule, "match", v, "must be a mapping; omit match to match every payment")
		return nil
	}
	m := &MatchSpec{}
	for _, kv := range p.pairs(rule, "match.", v) {
		k, v := kv[0], kv[1]
		key := "match." + k.Value
		switch k.Value {
		case "bins":
			m.Bins = p.list(rule, key, v, p.checkBin)
		case "brands":
			m.Brands = p.list(rule, key, v, checkBrand)
		case "currencies":
			m.Currencies = p.list(rule, key, v, p.checkCurrency)
		case "amount":
			m.Amount = p.amount(rule, v)
		case "types":
			m.Types = p.list(rule, key, v, checkType)
		case "merchants":
			m.Merchants = p.list(rule, key, v, checkMerchant)
		case "mccs":
			m.MCCs = p.list(rule, key, v, checkMCC)
		default:
			p.add(rule, key, k, "unknown key (allowed: bins, brands, currencies, amount, types, merchants, mccs)")
		}
	}
	return m
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func (p *parser) checkBin(s string) string {
	p.binCount++
	if p.binCount > MaxBinEntries {
		if !p.binCapped {
			p.binCapped = true
			return fmt.Sprintf("more than %d bins entries in the table", MaxBinEntries)
		}
		return ""
	}
	return checkBinText(s)
}

func checkBinText(s string) string {
	low, high, isRange := strings.Cut(s, "-")
	okLen := func(x string) bool {
		return allDigits(x) && len(x) >= MinBinDigits && len(x) <= MaxBinDigits
	}
	if !isRange {
		if !okLen(s) {
			return fmt.Sprintf("%q is not a BIN prefix of %d to %d digits or a range LOW-HIGH", s, MinBinDigits, MaxBinDigits)
		}
		return ""
	}
	if !okLen(low) || !okLen(high) {
		return fmt.Sprintf("range %q: both ends must be prefixes of %d to %d digits", s, MinBinDigits, MaxBinDigits)
	}
	if len(low) != len(high) {
		return fmt.Sprintf("range %q: ends must have the same number of digits", s)
	}
	if low > high {
		return fmt.Sprintf("range %q: LOW is above HIGH", s)
	}
	return ""
}

func checkBrand(s string) string {
	if brandOf(s) == 0 {
		return fmt.Sprintf("unknown brand %q (known: visa, mastercard, mir, amex, unionpay, jcb)", s)
	}
	return ""
}

func (p *parser) checkCurrency(s string) string {
	if len(s) != 3 || strings.ToUpper(s) != s || !p.opts.Currencies(s) {
		return fmt.Sprintf("%q is not a known ISO 4217 alpha-3 currency code (upper case, e.g. KZT)", s)
	}
	return ""
}

func checkType(s string) string {
	if s != TypePurchase && s != TypePreauth {
		return fmt.Sprintf("unknown type %q (known: purchase, preauth)", s)
	}
	return ""
}

func checkMerchant(s string) string {
	if s == "" || len(s) > MaxMerchantIDLen {
		return fmt.Sprintf("merchant id %q must be 1 to %d characters", s, MaxMerchantIDLen)
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return fmt.Sprintf("merchant id %q must be printable ASCII without spaces", s)
		}
	}
	return ""
}

func checkMCC(s string) string {
	if len(s) != 4 || !allDigits(s) {
		return fmt.Sprintf("MCC %q must be 4 digits", s)
	}
	return ""
}

func (p *parser) amount(rule string, v *yaml.Node) *AmountSpec {
	if v.Kind != yaml.MappingNode {
		p.add(rule, "match.amount", v, "must be a mapping with min and/or max")
		return nil
	}
	a := &AmountSpec{}
	bad := false
	for _, kv := range p.pairs(rule, "match.amount.", v) {
		k, v := kv[0], kv[1]
		key := "match.amount." + k.Value
		switch k.Value {
		case "min", "max":
			n, ok := p.integer(v)
			if !ok || n < 0 {
				p.add(rule, key, v, "must be a non-negative integer amount in minor units, got %q", v.Value)
				bad = true
				continue
			}
			if k.Value == "min" {
				a.Min = &n
			} else {
				a.Max = &n
			}
		default:
			p.add(rule, key, k, "unknown key (allowed: min, max)")
			bad = true
		}
	}
	if !bad && a.Min == nil && a.Max == nil {
		p.add(rule, "match.amount", v, "give min, max or both; omit amount to match any amount")
	}
	if a.Min != nil && a.Max != nil && *a.Min > *a.Max {
		p.add(rule, "match.amount", v, "min %d is above max %d", *a.Min, *a.Max)
	}
	return a
}

func (p *parser) knownBanks() string {
	names := make([]string, 0, len(p.banks))
	for b := range p.banks {
		names = append(names, b)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return "none configured"
	}
	return "configured: " + strings.Join(names, ", ")
}

func (p *parser) bankList(rule string, v *yaml.Node) []string {
	seen := map[string]bool{}
	return p.list(rule, "banks", v, func(s string) string {
		if !p.banks[s] {
			return fmt.Sprintf("unknown bank %q (%s)", s, p.knownBanks())
		}
		if seen[s] {
			return fmt.Sprintf("bank %q listed twice", s)
		}
		seen[s] = true
		return ""
	})
}

func (p *parser) split(rule string, v *yaml.Node) Split {
	if v.Kind != yaml.MappingNode {
		p.add(rule, "split", v, "must be a mapping of bank to weight, e.g. {alfa: 70, sber: 30}")
		return nil
	}
	if len(v.Content) == 0 {
		p.add(rule, "split", v, "is empty; name at least one bank")
		return nil
	}
	var out Split
	for _, kv := range p.pairs(rule, "split.", v) {
		k, w := kv[0], kv[1]
		key := "split." + k.Value
		ok := true
		if !p.banks[k.Value] {
			p.add(rule, key, k, "unknown bank %q (%s)", k.Value, p.knownBanks())
			ok = false
		}
		n, isInt := p.integer(w)
		if !isInt || n < 1 || n > MaxWeight {
			p.add(rule, key, w, "weight must be a positive integer up to %d, got %q", MaxWeight, w.Value)
			ok = false
		}
		if ok {
			out = append(out, Weight{Bank: k.Value, Weight: int(n)})
		}
	}
	return out
}

// redactDigits masks every run of more than MaxBinDigits digits in a
// problem message: an operator who pastes a card number where a BIN belongs
// must not get it back in an API answer or a log line.
func redactDigits(s string) string {
	var b strings.Builder
	run := 0
	flush := func(end int) {
		if run > MaxBinDigits {
			b.WriteString(MaskPAN(s[end-run : end]))
		} else {
			b.WriteString(s[end-run : end])
		}
		run = 0
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			run++
			continue
		}
		flush(i)
		b.WriteByte(s[i])
	}
	flush(len(s))
	return b.String()
}
