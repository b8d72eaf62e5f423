package clearing

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// DefaultMaxErrors is how many line errors a reader collects before it stops
// reading a file that is evidently not a clearing file of its format.
const DefaultMaxErrors = 100

// LineError is one problem found at one place in a clearing file. It never
// carries the offending value.
type LineError struct {
	// Line is the 1-based line (record) number. For a missing trailer it is
	// the line after the last one read.
	Line int64
	// Column is the 1-based CSV column index (Bank A); 0 when the error
	// concerns the whole line or the file is fixed width.
	Column int
	// Start and End are the 1-based inclusive positions of the field in a
	// fixed-width record (Bank B); 0 when the error concerns the whole record
	// or the file is CSV.
	Start, End int
	// Field names the column (Bank A column name) or field (Bank B).
	Field string
	// Msg says what was expected.
	Msg string
}

// Error implements error.
func (e LineError) Error() string {
	var b strings.Builder
	b.WriteString("line ")
	b.WriteString(strconv.FormatInt(e.Line, 10))
	switch {
	case e.Start > 0:
		fmt.Fprintf(&b, ", positions %d-%d", e.Start, e.End)
	case e.Column > 0:
		fmt.Fprintf(&b, ", column %d", e.Column)
	}
	if e.Field != "" {
		b.WriteString(" (")
		b.WriteString(e.Field)
		b.WriteString(")")
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// FileError rejects a whole clearing file. Every row read from the file must
// be discarded when a reader's Err returns one.
type FileError struct {
	// Errors are the problems found, in file order, at most the reader's
	// MaxErrors of them.
	Errors []LineError
	// Truncated is set when reading stopped because MaxErrors was reached.
	Truncated bool
	// Err is a read error from the underlying reader, if any.
	Err error
}

// Error implements error.
func (e *FileError) Error() string {
	var b strings.Builder
	b.WriteString("clearing file rejected")
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if n := len(e.Errors); n > 0 {
		fmt.Fprintf(&b, ": %d error(s)", n)
		if e.Truncated {
			b.WriteString(" (stopped at the limit)")
		}
		for i, le := range e.Errors {
			if i == 3 {
				fmt.Fprintf(&b, "; and %d more", n-3)
				break
			}
			b.WriteString("; ")
			b.WriteString(le.Error())
		}
	}
	return b.String()
}

// Unwrap returns the underlying read error, if any.
func (e *FileError) Unwrap() error { return e.Err }

// ErrInvalidRecord is wrapped by the errors writers return for a Record they
// refuse to write.
var ErrInvalidRecord = errors.New("invalid clearing record")

// fieldError builds a writer's error for one field.
func fieldError(field, msg string) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidRecord, field, msg)
}
