package routing

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
)

// Table is a validated, compiled routing table. It is immutable and safe
// for concurrent use.
type Table struct {
	version  int64
	checksum string
	specs    []RuleSpec
	rules    []rule
	// binless are the indexes of rules without a bins key, ascending: they
	// are candidates for every card.
	binless []int32
	index   binIndex
}

// rule is a compiled rule. Absent keys are zero values that match anything.
// The fields a lookup compares come first so that they share cache lines.
type rule struct {
	types      uint8 // bit set of typeBit; 0: any
	brands     brand // 0: any
	hasBins    bool
	hasMin     bool
	hasMax     bool
	min, max   int64
	currencies []uint32            // sorted packed alpha-3 codes; nil: any
	mccs       []uint16            // sorted; nil: any
	merchants  map[string]struct{} // nil: any
	name       string
	banks      []string // ordered failover list, or nil for a split
	split      Split
	// splitDesc orders split by descending weight, ties in file order.
	splitDesc []int
	// bins is kept for Explain, which checks each rule on its own.
	bins []binRange
}

// binRange is an inclusive range of n-digit prefixes; a single prefix has
// lo == hi.
type binRange struct {
	lo, hi uint64
	n      uint8
}

const (
	typePurchase uint8 = 1 << iota
	typePreauth
)

func typeBit(s string) uint8 {
	switch s {
	case TypePurchase:
		return typePurchase
	case TypePreauth:
		return typePreauth
	}
	return 0
}

// packCurrency packs a 3-byte code into an integer; 0 for anything else.
func packCurrency(s string) uint32 {
	if len(s) != 3 {
		return 0
	}
	return uint32(s[0])<<16 | uint32(s[1])<<8 | uint32(s[2])
}

// parseMCC returns a 4-digit MCC's value.
func parseMCC(s string) (uint16, bool) {
	if len(s) != 4 || !allDigits(s) {
		return 0, false
	}
	n, _ := strconv.Atoi(s)
	return uint16(n), true
}

// Compile parses, validates and compiles a table from YAML or JSON. A table
// with any problem is refused with a *ValidationError listing all of them.
func Compile(src []byte, opts Options) (*Table, error) {
	sum := sha256.Sum256(src)
	return compileSource(src, hex.EncodeToString(sum[:]), opts)
}

func compileSource(src []byte, checksum string, opts Options) (*Table, error) {
	s, problems := parse(src, opts)
	if len(problems) > 0 {
		return nil, &ValidationError{Problems: problems}
	}
	t, problems := compile(s, checksum)
	if len(problems) > 0 {
		return nil, &ValidationError{Problems: problems}
	}
	return t, nil
}

// Validate checks a table without keeping it: nil, or a *ValidationError
// listing every problem. It backs POST /v1/admin/routes/validate.
func Validate(src []byte, opts Options) error {
	_, err := Compile(src, opts)
	return err
}

func compile(s *spec, checksum string) (*Table, []Problem) {
	t := &Table{
		version:  s.version,
		checksum: checksum,
		specs:    s.rules,
		rules:    make([]rule, len(s.rules)),
	}
	bins := 0
	for i := range s.rules {
		if m := s.rules[i].Match; m != nil {
			bins += len(m.Bins)
		}
	}
	t.index = newBinIndex(bins)
	for i := range s.rules {
		rs := &s.rules[i]
		r := &t.rules[i]
		r.name = rs.Name
		r.banks = rs.Banks
		r.split = rs.Split
		if len(rs.Split) > 0 {
			r.splitDesc = make([]int, len(rs.Split))
			for j := range r.splitDesc {
				r.splitDesc[j] = j
			}
			slices.SortStableFunc(r.splitDesc, func(a, b int) int {
				return rs.Split[b].Weight - rs.Split[a].Weight
			})
		}
		m := rs.Match
		if m == nil || m.Bins == nil {
			t.binless = append(t.binless, int32(i))
		}
		if m == nil {
			continue
		}
		if m.Bins != nil {
			r.hasBins = true
			r.bins = make([]binRange, 0, len(m.Bins))
			for _, b := range m.Bins {
				br := parseBinRange(b)
				r.bins = append(r.bins, br)
				t.index.add(br, int32(i))
			}
		}
		for _, b := range m.Brands {
			r.brands |= brandOf(b)
		}
		for _, c := range m.Currencies {
			r.currencies = append(r.currencies, packCurrency(c))
		}
		slices.Sort(r.currencies)
		for _, ty := range m.Types {
			r.types |= typeBit(ty)
		}
		if a := m.Amount; a != nil {
			if a.Min != nil {
				r.hasMin, r.min = true, *a.Min
			}
			if a.Max != nil {
				r.hasMax, r.max = true, *a.Max
			}
		}
		if m.Merchants != nil {
			r.merchants = make(map[string]struct{}, len(m.Merchants))
			for _, id := range m.Merchants {
				r.merchants[id] = struct{}{}
			}
		}
		for _, c := range m.MCCs {
			v, _ := parseMCC(c)
			r.mccs = append(r.mccs, v)
		}
		slices.Sort(r.mccs)
	}
	t.index.freeze()
	return t, nil
}

// parseBinRange reads a validated bins entry.
func parseBinRange(s string) binRange {
	low, high, isRange := strings.Cut(s, "-")
	if !isRange {
		high = low
	}
	lo, _ := strconv.ParseUint(low, 10, 64)
	hi, _ := strconv.ParseUint(high, 10, 64)
	return binRange{lo: lo, hi: hi, n: uint8(len(low))}
}

// Version is the operator's version number of the table.
func (t *Table) Version() int64 { return t.version }

// Checksum is the hex SHA-256 of the table's source bytes.
func (t *Table) Checksum() string { return t.checksum }

// Rules returns the rules as written, in order. They are shared with the
// table and must not be modified.
func (t *Table) Rules() []RuleSpec { return t.specs }
