package clearing

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/acquirer/h2hswitch/specs/calendar"
)

// Bank A column indexes (0-based) in AHeaderLine order.
const (
	aRRN = iota
	aAuthCode
	aSTAN
	aTerminalID
	aMerchantID
	aCard
	aOperDate
	aOperTime
	aOperType
	aAmount
	aCurrency
	aFee
	aSettleAmount
	aSettleDate
	aOrigRRN
	aColumns
)

// aColumnNames are the column names of AHeaderLine by index.
var aColumnNames = [aColumns]string{
	"RRN", "AUTH_CODE", "STAN", "TERMINAL_ID", "MERCHANT_ID", "CARD", "OPER_DATE", "OPER_TIME",
	"OPER_TYPE", "AMOUNT", "CURRENCY", "FEE", "SETTLE_AMOUNT", "SETTLE_DATE", "ORIG_RRN",
}

// maxALine bounds a Bank A line. The longest valid row is about 230 bytes.
const maxALine = 1024

// utf8BOM is tolerated before the header line.
const utf8BOM = "\xEF\xBB\xBF"

// AReader streams a Bank A clearing file. Use it like bufio.Scanner:
//
//	r := clearing.NewAReader(f, clearing.ReaderOptions{SettleDate: d})
//	for r.Next() {
//		rec := r.Record() // stage, do not commit yet
//	}
//	if err := r.Err(); err != nil {
//		// discard every staged row: the file is rejected whole
//	}
//
// Next yields only rows that are well formed; malformed lines are collected
// and reported by Err, together with a missing or disagreeing trailer. It is
// not safe for concurrent use.
type AReader struct {
	lr   lineReader
	opts ReaderOptions
	sink errSink

	rec        Record
	recLine    int64
	date       calendar.Date // the file's settlement date, once known
	tot        ATrailer      // of the good rows
	rowErrors  bool          // some row was malformed
	trailer    ATrailer
	trailerOK  bool
	seenHeader bool
	seenTrail  bool
	done       bool
	readErr    error
}

// NewAReader returns a reader of the Bank A clearing file in r. It reads
// nothing until Next.
func NewAReader(r io.Reader, opts ReaderOptions) *AReader {
	return &AReader{
		lr:   lineReader{br: bufio.NewReaderSize(r, readBufSize), max: maxALine},
		opts: opts,
		sink: errSink{max: opts.maxErrors()},
		date: opts.SettleDate,
	}
}

// Next advances to the next well-formed row and reports whether there is
// one. After it returns false, call Err.
func (r *AReader) Next() bool {
	for !r.done {
		ln, err := r.lr.next()
		if err != nil {
			r.finish(err)
			return false
		}
		n := r.lr.n
		isHeader := !r.seenHeader
		r.seenHeader = true
		if ln.tooLong {
			r.lineErr(LineError{Line: n, Msg: fmt.Sprintf("line longer than %d bytes", maxALine)})
			continue
		}
		b := ln.b
		badEnd := false
		if ln.terminated {
			if len(b) > 0 && b[len(b)-1] == '\r' {
				b = b[:len(b)-1]
			} else {
				// Reported, and the line is still parsed so that a
				// trailer is recognised and other faults are found.
				r.lineErr(LineError{Line: n, Msg: "want CRLF line end"})
				badEnd = true
			}
		}
		switch {
		case isHeader:
			r.header(n, b)
		case r.seenTrail:
			r.lineErr(LineError{Line: n, Msg: "data after the trailer"})
		case bytes.HasPrefix(b, []byte("TOTAL;")):
			r.seenTrail = true
			r.parseTrailer(n, b)
		default:
			// A last row without a line end is still checked; finish then
			// reports the missing trailer.
			if r.row(n, b) && !badEnd {
				return true
			}
		}
	}
	return false
}

func (r *AReader) lineErr(e LineError) {
	if e.Line > 1 {
		r.rowErrors = true
	}
	if !r.sink.add(e) {
		r.done = true
	}
}

func (r *AReader) colErr(line int64, col int, msg string) {
	r.lineErr(LineError{Line: line, Column: col + 1, Field: aColumnNames[col], Msg: msg})
}

func (r *AReader) header(n int64, b []byte) {
	b = bytes.TrimPrefix(b, []byte(utf8BOM))
	if string(b) == AHeaderLine {
		return
	}
	if len(b) == 0 {
		r.lineErr(LineError{Line: n, Msg: "empty header line; want the column names"})
		return
	}
	var cols [aColumns + 1][]byte
	k := splitInto(b, cols[:])
	if k != aColumns {
		r.lineErr(LineError{Line: n, Msg: fmt.Sprintf("header: want %d columns, got %s", aColumns, countString(k, len(cols)))})
		return
	}
	var wrong []int
	for i := 0; i < aColumns; i++ {
		if string(cols[i]) != aColumnNames[i] {
			wrong = append(wrong, i)
		}
	}
	if len(wrong) == aColumns {
		r.lineErr(LineError{Line: n, Msg: "header: want the column-name line " + AHeaderLine})
		return
	}
	for _, i := range wrong {
		r.lineErr(LineError{Line: n, Column: i + 1, Field: aColumnNames[i], Msg: "header: unknown or misplaced column name, want " + aColumnNames[i]})
	}
}

// row parses one data line and reports whether it is well formed; if so
// it becomes the current record.
func (r *AReader) row(n int64, b []byte) bool {
	before := len(r.sink.errs)
	// One allocation per row: every string field is a substring of s.
	s := string(b)
	var f [aColumns + 1]string
	if k := splitString(s, f[:]); k != aColumns {
		r.lineErr(LineError{Line: n, Msg: fmt.Sprintf("want %d columns, got %s", aColumns, countString(k, len(f)))})
		return false
	}

	rec := Record{}
	typ, ok := aType(f[aOperType])
	if !ok {
		r.colErr(n, aOperType, "want PURCHASE, REFUND, CHARGEBACK or CHARGEBACK_REVERSAL")
	}
	rec.Type = typ
	if rec.RRN = f[aRRN]; !isAlnum(rec.RRN, 12) {
		r.colErr(n, aRRN, msgRRN)
	}
	rec.AuthCode = f[aAuthCode]
	switch {
	case typ == Purchase && !isAlnum(rec.AuthCode, 6):
		r.colErr(n, aAuthCode, msgAuthNeeded)
	case typ == Refund && rec.AuthCode != "":
		r.colErr(n, aAuthCode, msgAuthEmpty)
	case rec.AuthCode != "" && !isAlnum(rec.AuthCode, 6):
		r.colErr(n, aAuthCode, msgAuth)
	}
	if rec.STAN = f[aSTAN]; !isDigits(rec.STAN, 6) {
		r.colErr(n, aSTAN, msgSTAN)
	}
	if rec.TerminalID = f[aTerminalID]; !isID(rec.TerminalID, 8) {
		r.colErr(n, aTerminalID, msgTID)
	}
	if rec.MerchantID = f[aMerchantID]; !isID(rec.MerchantID, 15) {
		r.colErr(n, aMerchantID, msgMID)
	}
	if rec.MaskedPAN = f[aCard]; !isMaskedPAN(rec.MaskedPAN) {
		rec.MaskedPAN = ""
		r.colErr(n, aCard, msgPAN)
	}
	var err error
	if rec.OperDate, err = calendar.ParseDMY(f[aOperDate]); err != nil {
		r.colErr(n, aOperDate, "want a valid date DD.MM.YYYY")
	}
	if rec.OperTime, ok = parseClock(f[aOperTime], ':'); !ok {
		r.colErr(n, aOperTime, "want a valid time HH:MM:SS")
	}
	cur, curOK := CurrencyByAlpha(f[aCurrency])
	switch {
	case !curOK:
		r.colErr(n, aCurrency, "want an active ISO 4217 alpha-3 code")
	case !ACarries(cur):
		// The trailer sums every row in hundredths of a major unit: a
		// currency with 3 or 4 decimals cannot be summed without loss, so
		// the row is refused rather than the arithmetic bent.
		r.colErr(n, aCurrency, fmt.Sprintf("%s has %d decimals; the Bank A file carries at most 2", cur.Alpha, cur.Exponent))
		curOK = false
	}
	rec.Currency = cur
	amountsOK := curOK
	if curOK {
		if rec.Amount, ok = parseMajor(f[aAmount], cur.Exponent, false); !ok || rec.Amount > MaxAmount {
			r.colErr(n, aAmount, majorMsg(cur.Exponent, false))
			amountsOK = false
		}
		if rec.Fee, ok = parseMajor(f[aFee], cur.Exponent, false); !ok || rec.Fee > maxFee {
			r.colErr(n, aFee, majorMsg(cur.Exponent, false))
			amountsOK = false
		}
		if rec.SettleAmount, ok = parseMajor(f[aSettleAmount], cur.Exponent, true); !ok || abs(rec.SettleAmount) > MaxAmount {
			r.colErr(n, aSettleAmount, majorMsg(cur.Exponent, true))
			amountsOK = false
		}
		if amountsOK && typ.Valid() && rec.SettleAmount != typ.ExpectedSettle(rec.Amount, rec.Fee) {
			r.colErr(n, aSettleAmount, settleRule(typ))
		}
	}
	if rec.SettleDate, err = calendar.ParseDMY(f[aSettleDate]); err != nil {
		r.colErr(n, aSettleDate, "want a valid date DD.MM.YYYY")
	} else if r.date.IsZero() {
		r.date = rec.SettleDate
	} else if rec.SettleDate != r.date {
		r.colErr(n, aSettleDate, "differs from the file's settlement date")
	}
	rec.OrigRRN = f[aOrigRRN]
	if typ == Purchase && rec.OrigRRN != "" {
		r.colErr(n, aOrigRRN, "must be empty for a purchase")
	} else if typ.Valid() && typ != Purchase && !isAlnum(rec.OrigRRN, 12) {
		r.colErr(n, aOrigRRN, msgRRN+" for a refund or chargeback")
	}

	if len(r.sink.errs) != before || r.done {
		return false
	}
	r.rec = rec
	r.recLine = n
	r.tot.Rows++
	r.tot.Amount += toHundredths(rec.Amount, cur)
	r.tot.Fee += toHundredths(rec.Fee, cur)
	r.tot.Settle += toHundredths(rec.SettleAmount, cur)
	if r.tot.Rows > maxTotal || r.tot.Amount > maxTotal || r.tot.Fee > maxTotal || abs(r.tot.Settle) > maxTotal {
		r.lineErr(LineError{Line: n, Msg: "file totals exceed 15 digits"})
		r.done = true
		return false
	}
	return true
}

func (r *AReader) parseTrailer(n int64, b []byte) {
	var cols [6][]byte
	k := splitInto(b, cols[:])
	if k != 5 {
		r.sink.add(LineError{Line: n, Msg: "trailer: want TOTAL;<rows>;<sum AMOUNT>;<sum FEE>;<sum SETTLE_AMOUNT>"})
		r.done = r.sink.full()
		return
	}
	var t ATrailer
	ok := true
	bad := func(col int, field, msg string) {
		ok = false
		if !r.sink.add(LineError{Line: n, Column: col, Field: field, Msg: msg}) {
			r.done = true
		}
	}
	var good bool
	if t.Rows, good = parseFixed(string(cols[1])); !good {
		bad(2, "row count", "trailer: want a row count")
	}
	if t.Amount, good = parseMajor(string(cols[2]), 2, false); !good {
		bad(3, "sum of AMOUNT", "trailer: "+majorMsg(2, false))
	}
	if t.Fee, good = parseMajor(string(cols[3]), 2, false); !good {
		bad(4, "sum of FEE", "trailer: "+majorMsg(2, false))
	}
	if t.Settle, good = parseMajor(string(cols[4]), 2, true); !good {
		bad(5, "sum of SETTLE_AMOUNT", "trailer: "+majorMsg(2, true))
	}
	if !ok {
		return
	}
	r.trailer, r.trailerOK = t, true
	if r.rowErrors {
		// The totals of the good rows say nothing about the trailer.
		return
	}
	if t.Rows != r.tot.Rows {
		bad(2, "row count", fmt.Sprintf("trailer says %d rows, the file has %d", t.Rows, r.tot.Rows))
	}
	if t.Amount != r.tot.Amount {
		bad(3, "sum of AMOUNT", fmt.Sprintf("trailer says %s, the rows sum to %s", major2(t.Amount), major2(r.tot.Amount)))
	}
	if t.Fee != r.tot.Fee {
		bad(4, "sum of FEE", fmt.Sprintf("trailer says %s, the rows sum to %s", major2(t.Fee), major2(r.tot.Fee)))
	}
	if t.Settle != r.tot.Settle {
		bad(5, "sum of SETTLE_AMOUNT", fmt.Sprintf("trailer says %s, the rows sum to %s", major2(t.Settle), major2(r.tot.Settle)))
	}
}

func (r *AReader) finish(err error) {
	r.done = true
	if err != io.EOF {
		r.readErr = fmt.Errorf("reading bank A clearing file: %w", err)
		return
	}
	switch {
	case !r.seenHeader:
		r.sink.add(LineError{Line: 1, Msg: "empty file"})
	case !r.seenTrail:
		r.sink.add(LineError{Line: r.lr.n + 1, Msg: "missing trailer line TOTAL;..."})
	}
}

// Record returns the current row. Its strings share one allocation per row
// and stay valid after Next.
func (r *AReader) Record() Record { return r.rec }

// Line returns the line number of the current row.
func (r *AReader) Line() int64 { return r.recLine }

// SettleDate returns the file's settlement date: ReaderOptions.SettleDate
// if set, else the first row's.
func (r *AReader) SettleDate() calendar.Date { return r.date }

// Trailer returns the trailer's values once read and well formed.
func (r *AReader) Trailer() (ATrailer, bool) { return r.trailer, r.trailerOK }

// Err returns nil if the whole file was read, every line was well formed
// and the trailer agreed with the rows; otherwise a *FileError, and every
// row Next returned must be discarded. Before Next has returned false it
// reports only what was found so far.
func (r *AReader) Err() error { return r.sink.fileError(r.readErr) }

// ValidateA reads a whole Bank A clearing file without keeping rows and
// returns its trailer, or the error that rejects it. It checks ctx between
// rows.
func ValidateA(ctx context.Context, src io.Reader, opts ReaderOptions) (ATrailer, error) {
	r := NewAReader(src, opts)
	for i := 0; r.Next(); i++ {
		if i&4095 == 0 {
			if err := ctx.Err(); err != nil {
				return ATrailer{}, fmt.Errorf("validating bank A clearing file at line %d: %w", r.Line(), err)
			}
		}
	}
	if err := r.Err(); err != nil {
		return ATrailer{}, err
	}
	return r.tot, nil
}

func aType(s string) (Type, bool) {
	switch s {
	case "PURCHASE":
		return Purchase, true
	case "REFUND":
		return Refund, true
	case "CHARGEBACK":
		return Chargeback, true
	case "CHARGEBACK_REVERSAL":
		return ChargebackReversal, true
	}
	return 0, false
}

// splitInto splits b on ';' into dst and returns the number of fields,
// len(dst) meaning "at least that many".
func splitInto(b []byte, dst [][]byte) int {
	k := 0
	for {
		i := bytes.IndexByte(b, ';')
		if k == len(dst) {
			return k
		}
		if i < 0 {
			dst[k] = b
			return k + 1
		}
		dst[k] = b[:i]
		k++
		b = b[i+1:]
	}
}

// splitString is splitInto for a string.
func splitString(s string, dst []string) int {
	k := 0
	for {
		i := strings.IndexByte(s, ';')
		if k == len(dst) {
			return k
		}
		if i < 0 {
			dst[k] = s
			return k + 1
		}
		dst[k] = s[:i]
		k++
		s = s[i+1:]
	}
}

func countString(k, limit int) string {
	if k >= limit {
		return strconv.Itoa(limit) + " or more"
	}
	return strconv.Itoa(k)
}

// parseMajor parses a major-unit amount with a decimal comma and exactly
// exp decimals (none and no comma when exp is 0) into minor units. A leading
// '-' is allowed only when signed. At most 13 integer digits, so the value
// fits an int64 with room to spare; callers apply the field's own bound.
func parseMajor(s string, exp int, signed bool) (int64, bool) {
	neg := false
	if signed && len(s) > 0 && s[0] == '-' {
		neg = true
		s = s[1:]
	}
	intLen := len(s)
	if exp > 0 {
		intLen = len(s) - exp - 1
		if intLen < 1 || s[intLen] != ',' {
			return 0, false
		}
	}
	if intLen < 1 || intLen > 13 {
		return 0, false
	}
	var v int64
	for i := 0; i < len(s); i++ {
		if i == intLen {
			continue
		}
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	return v, true
}

func majorMsg(exp int, signed bool) string {
	var m string
	switch exp {
	case 0:
		m = "want whole major units without a decimal comma"
	case 1:
		m = "want major units with a decimal comma and 1 decimal"
	default:
		m = "want major units with a decimal comma and " + strconv.Itoa(exp) + " decimals"
	}
	if signed {
		return m + ", optionally negative"
	}
	return m + ", not negative"
}

func major2(v int64) string { return string(appendMajor(nil, v, 2)) }
