package clearing

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/acquirer/h2hswitch/specs/calendar"
)

// ReaderOptions tune a clearing file reader.
type ReaderOptions struct {
	// MaxErrors bounds the line errors collected; when reached, reading
	// stops and the FileError is marked Truncated. ≤ 0 means
	// DefaultMaxErrors.
	MaxErrors int
	// SettleDate, when set, is the settlement date the file must be for
	// (usually the date in its name): every row's settlement date (and Bank
	// B's header date) must equal it. When zero, Bank A rows must agree with
	// the first row's date and Bank B rows with the header's.
	SettleDate calendar.Date
}

func (o ReaderOptions) maxErrors() int {
	if o.MaxErrors <= 0 {
		return DefaultMaxErrors
	}
	return o.MaxErrors
}

// readBufSize is the bufio buffer: a line longer than this is consumed in
// pieces and never held whole.
const readBufSize = 64 << 10

// lineReader yields lines with a bounded length.
type lineReader struct {
	br  *bufio.Reader
	max int   // longest acceptable line, terminator excluded
	n   int64 // lines read so far
}

// line is one line as read: its bytes without '\n', whether a '\n' ended
// it, and whether it was longer than max (then b is nil and the rest of the
// line has been skipped).
type line struct {
	b          []byte
	terminated bool
	tooLong    bool
}

// next returns the next line, io.EOF at the end of input, or a read error.
// The returned bytes are valid until the following call.
func (lr *lineReader) next() (line, error) {
	b, err := lr.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) || len(b) > lr.max+1 {
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = lr.br.ReadSlice('\n')
		}
		lr.n++
		if err != nil && !errors.Is(err, io.EOF) {
			return line{}, fmt.Errorf("reading line %d: %w", lr.n, err)
		}
		return line{tooLong: true, terminated: err == nil}, nil
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			if len(b) == 0 {
				return line{}, io.EOF
			}
			lr.n++
			return line{b: b}, nil
		}
		return line{}, fmt.Errorf("reading line %d: %w", lr.n+1, err)
	}
	lr.n++
	return line{b: b[:len(b)-1], terminated: true}, nil
}

// errSink collects line errors up to a bound.
type errSink struct {
	errs      []LineError
	max       int
	truncated bool
}

// add records e and reports whether there is room for more.
func (s *errSink) add(e LineError) bool {
	if len(s.errs) >= s.max {
		s.truncated = true
		return false
	}
	s.errs = append(s.errs, e)
	if len(s.errs) >= s.max {
		s.truncated = true
		return false
	}
	return true
}

func (s *errSink) full() bool { return s.truncated }

// fileError returns the FileError for what was collected, or nil.
func (s *errSink) fileError(readErr error) error {
	if len(s.errs) == 0 && readErr == nil {
		return nil
	}
	return &FileError{Errors: s.errs, Truncated: s.truncated, Err: readErr}
}

// parseFixed parses an all-digit string into a non-negative int64. Callers
// bound the length (at most 18 digits).
func parseFixed(s string) (int64, bool) {
	if len(s) == 0 || len(s) > 18 {
		return 0, false
	}
	var v int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}
