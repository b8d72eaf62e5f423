package routing

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with a routing table. Rule and Key are empty
// when the problem concerns the whole file; Line is 0 when the parser does
// not know it.
type Problem struct {
	// Rule is the rule's name, or "#N" (1-based position) for a rule whose
	// name is missing or unusable.
	Rule string `json:"rule,omitempty"`
	// Key is the offending key, e.g. "version", "match.bins", "split.alfa".
	Key string `json:"key,omitempty"`
	// Line and Column locate the offending node in the file, 1-based.
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Message string `json:"message"`
}

// String renders the problem for logs and error messages.
func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	if p.Rule != "" {
		fmt.Fprintf(&b, "rule %q: ", p.Rule)
	}
	if p.Key != "" {
		b.WriteString(p.Key)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// ValidationError is returned for a table that fails validation. It lists
// every problem found, in file order.
type ValidationError struct {
	Problems []Problem
}

// Error joins all problems into one message.
func (e *ValidationError) Error() string {
	if len(e.Problems) == 1 {
		return "invalid routing table: " + e.Problems[0].String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "invalid routing table: %d problems", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("; ")
		b.WriteString(p.String())
	}
	return b.String()
}
