package specs

import (
	"fmt"
	"sort"
	"strings"

	"github.com/moov-io/iso8583/field"
)

// BuildDE48 returns Bank A's DE48 contents (without the LLL prefix of the
// field itself) for the given tag -> value map: subelements in ascending tag
// order, each as 2-digit tag + 3-digit length + value. Empty values are
// omitted. The error names the tag, never the value.
func BuildDE48(elems map[string]string) (string, error) {
	tags := make([]string, 0, len(elems))
	size := 0
	for tag, v := range elems {
		if len(tag) != 2 || !isDigits(tag) {
			return "", fmt.Errorf("DE48: tag %q is not 2 digits", tag)
		}
		if v == "" {
			continue
		}
		if len(v) > 999 {
			return "", fmt.Errorf("DE48 tag %s: length %d exceeds 999", tag, len(v))
		}
		tags = append(tags, tag)
		size += 5 + len(v)
	}
	if size > de48MaxLen {
		return "", fmt.Errorf("DE48: total length %d exceeds %d", size, de48MaxLen)
	}
	sort.Strings(tags) // 2-digit tags: lexical order is numeric order
	var b strings.Builder
	b.Grow(size)
	for _, tag := range tags {
		v := elems[tag]
		b.WriteString(tag)
		fmt.Fprintf(&b, "%03d", len(v))
		b.WriteString(v)
	}
	return b.String(), nil
}

// ParseDE48 parses Bank A's DE48 contents (without the field's LLL prefix)
// with the dialect's own field spec and returns the known subelements by
// tag; unknown tags are skipped.
func ParseDE48(contents []byte) (map[string]string, error) {
	if len(contents) > de48MaxLen {
		return nil, fmt.Errorf("DE48: length %d exceeds %d", len(contents), de48MaxLen)
	}
	c := field.NewComposite(de48Spec())
	if err := c.SetBytes(contents); err != nil {
		return nil, fmt.Errorf("parsing DE48: %w", err)
	}
	return SubelementsOf(c)
}

// SubelementsOf returns the subelements of an unpacked DE48 field.
func SubelementsOf(f field.Field) (map[string]string, error) {
	c, ok := f.(*field.Composite)
	if !ok {
		return nil, fmt.Errorf("DE48: field is %T, want composite", f)
	}
	subs := c.GetSubfields()
	out := make(map[string]string, len(subs))
	for tag, sf := range subs {
		v, err := sf.String()
		if err != nil {
			return nil, fmt.Errorf("DE48 tag %s: %w", tag, err)
		}
		out[tag] = v
	}
	return out, nil
}
