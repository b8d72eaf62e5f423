package clearing

import (
	"bufio"
	"context"
	"fmt"
	"io"

	"github.com/acquirer/h2hswitch/specs/calendar"
)

// bField is a field of a Bank B record: 1-based inclusive positions as in
// the contract's tables.
type bField struct {
	start, end int
	name       string
}

func (f bField) of(s string) string { return s[f.start-1 : f.end] }

// Bank B record layouts (bank-b-h2h.md, "Daily clearing file").
var (
	bhType     = bField{1, 1, "record type"}
	bhBank     = bField{2, 6, "bank name"}
	bhDate     = bField{7, 14, "settlement date"}
	bhAcquirer = bField{15, 25, "acquiring institution ID"}
	bhSequence = bField{26, 31, "file sequence number"}
	bhFiller   = bField{32, 150, "filler"}

	bdType       = bField{1, 1, "record type"}
	bdCode       = bField{2, 3, "transaction code"}
	bdSTAN       = bField{4, 9, "STAN"}
	bdTerminal   = bField{10, 17, "terminal ID"}
	bdMerchant   = bField{18, 32, "merchant ID"}
	bdPAN        = bField{33, 51, "masked PAN"}
	bdDate       = bField{52, 59, "local transaction date"}
	bdTime       = bField{60, 65, "local transaction time"}
	bdAuth       = bField{66, 71, "authorization code"}
	bdAmount     = bField{72, 83, "amount"}
	bdCurrency   = bField{84, 86, "currency"}
	bdFee        = bField{87, 96, "bank fee"}
	bdCD         = bField{97, 97, "C/D indicator"}
	bdSettle     = bField{98, 109, "settlement amount"}
	bdSettleDate = bField{110, 117, "settlement date"}
	bdOrigAuth   = bField{118, 123, "original authorization code"}
	bdOrigSTAN   = bField{124, 129, "original STAN"}
	bdFiller     = bField{130, 150, "filler"}

	btType   = bField{1, 1, "record type"}
	btCount  = bField{2, 9, "number of detail records"}
	btAmount = bField{10, 24, "sum of detail amounts"}
	btCD     = bField{25, 25, "net settlement sign"}
	btNet    = bField{26, 40, "net settlement"}
	btFiller = bField{41, 150, "filler"}
)

// maxBLine is the longest line read whole, so that a record a few
// characters too long is reported with its length.
const maxBLine = 1024

// BReader streams a Bank B clearing file. Use it like bufio.Scanner:
//
//	r := clearing.NewBReader(f, clearing.ReaderOptions{SettleDate: d})
//	for r.Next() {
//		rec := r.Record() // stage, do not commit yet
//	}
//	if err := r.Err(); err != nil {
//		// discard every staged record: the file is rejected whole
//	}
//
// Next yields only detail records that are well formed; malformed records
// are collected and reported by Err, together with a bad header or a
// missing or disagreeing trailer. It is not safe for concurrent use.
type BReader struct {
	lr   lineReader
	opts ReaderOptions
	sink errSink

	rec        Record
	recLine    int64
	header     BHeader
	headerOK   bool
	date       calendar.Date
	tot        BTrailer
	rowErrors  bool
	trailer    BTrailer
	trailerOK  bool
	seenHeader bool
	seenTrail  bool
	done       bool
	readErr    error
}

// NewBReader returns a reader of the Bank B clearing file in r. It reads
// nothing until Next.
func NewBReader(r io.Reader, opts ReaderOptions) *BReader {
	return &BReader{
		lr:   lineReader{br: bufio.NewReaderSize(r, readBufSize), max: maxBLine},
		opts: opts,
		sink: errSink{max: opts.maxErrors()},
		date: opts.SettleDate,
	}
}

// Next advances to the next well-formed detail record and reports whether
// there is one. After it returns false, call Err.
func (r *BReader) Next() bool {
	for !r.done {
		ln, err := r.lr.next()
		if err != nil {
			r.finish(err)
			return false
		}
		n := r.lr.n
		isHeader := !r.seenHeader
		r.seenHeader = true
		switch {
		case ln.tooLong:
			r.lineErr(LineError{Line: n, Msg: fmt.Sprintf("want a record of %d characters, got more than %d", BRecordLen, maxBLine)})
			continue
		case len(ln.b) != BRecordLen:
			r.lineErr(LineError{Line: n, Msg: fmt.Sprintf("want a record of %d characters before '\\n', got %d", BRecordLen, len(ln.b))})
			continue
		case !ln.terminated:
			r.lineErr(LineError{Line: n, Msg: "record not terminated by '\\n'"})
			// still parsed below, to report what else is wrong
		}
		typ := ln.b[0]
		if isHeader {
			if typ == 'H' {
				r.parseHeader(n, string(ln.b))
				continue
			}
			r.lineErr(LineError{Line: n, Start: 1, End: 1, Field: bhType.name, Msg: "want H: the first record must be the header"})
		}
		switch {
		case r.seenTrail:
			r.lineErr(LineError{Line: n, Msg: "data after the trailer"})
		case typ == 'T':
			r.seenTrail = true
			r.parseTrailer(n, string(ln.b))
		case typ == 'D':
			if r.detail(n, ln.b) && ln.terminated {
				return true
			}
		case typ == 'H':
			r.lineErr(LineError{Line: n, Start: 1, End: 1, Field: bdType.name, Msg: "a second header record"})
		default:
			r.lineErr(LineError{Line: n, Start: 1, End: 1, Field: bdType.name, Msg: "want D (detail) or T (trailer)"})
		}
	}
	return false
}

func (r *BReader) lineErr(e LineError) {
	if e.Line > 1 {
		r.rowErrors = true
	}
	if !r.sink.add(e) {
		r.done = true
	}
}

func (r *BReader) fieldErr(line int64, f bField, msg string) {
	r.lineErr(LineError{Line: line, Start: f.start, End: f.end, Field: f.name, Msg: msg})
}

func (r *BReader) parseHeader(n int64, s string) {
	var h BHeader
	ok := true
	if bhBank.of(s) != "BANKB" {
		r.fieldErr(n, bhBank, "want BANKB")
		ok = false
	}
	d, err := calendar.ParseYYYYMMDD(bhDate.of(s))
	switch {
	case err != nil:
		r.fieldErr(n, bhDate, "want a valid date YYYYMMDD")
		ok = false
	case !r.opts.SettleDate.IsZero() && d != r.opts.SettleDate:
		r.fieldErr(n, bhDate, "differs from the expected settlement date "+r.opts.SettleDate.YYYYMMDD())
		ok = false
	default:
		h.SettleDate = d
		r.date = d
	}
	if h.AcquirerID = bhAcquirer.of(s); !isDigits(h.AcquirerID, 11) {
		r.fieldErr(n, bhAcquirer, "want 11 digits, zero-filled")
		ok = false
	}
	seq := bhSequence.of(s)
	if v, good := parseFixed(seq); good && len(seq) == 6 {
		h.Sequence = int(v)
	} else {
		r.fieldErr(n, bhSequence, "want 6 digits")
		ok = false
	}
	if !allSpaces(bhFiller.of(s)) {
		r.fieldErr(n, bhFiller, "want spaces")
		ok = false
	}
	r.header, r.headerOK = h, ok
}

// detail parses one D record and reports whether it is well formed; if so
// it becomes the current record.
func (r *BReader) detail(n int64, b []byte) bool {
	before := len(r.sink.errs)
	s := string(b) // the one allocation of the record: fields are substrings
	rec := Record{}
	var ok bool
	switch bdCode.of(s) {
	case "05":
		rec.Type = Purchase
	case "06":
		rec.Type = Refund
	case "15":
		rec.Type = Chargeback
	case "35":
		rec.Type = ChargebackReversal
	default:
		r.fieldErr(n, bdCode, "want 05, 06, 15 or 35")
	}
	if rec.STAN = bdSTAN.of(s); !isDigits(rec.STAN, 6) {
		r.fieldErr(n, bdSTAN, msgSTAN)
	}
	if rec.TerminalID, ok = leftJustified(bdTerminal.of(s)); !ok {
		r.fieldErr(n, bdTerminal, "want an ID left-justified and space-filled")
	}
	if rec.MerchantID, ok = leftJustified(bdMerchant.of(s)); !ok {
		r.fieldErr(n, bdMerchant, "want an ID left-justified and space-filled")
	}
	if pan, ok := leftJustified(bdPAN.of(s)); ok && isMaskedPAN(pan) {
		rec.MaskedPAN = pan
	} else {
		r.fieldErr(n, bdPAN, msgPAN+", space-filled")
	}
	var err error
	if rec.OperDate, err = calendar.ParseYYYYMMDD(bdDate.of(s)); err != nil {
		r.fieldErr(n, bdDate, "want a valid date YYYYMMDD")
	}
	if rec.OperTime, ok = parseClock(bdTime.of(s), 0); !ok {
		r.fieldErr(n, bdTime, "want a valid time hhmmss")
	}
	auth := bdAuth.of(s)
	switch {
	case rec.Type == Refund:
		if !allSpaces(auth) {
			r.fieldErr(n, bdAuth, "want spaces for a refund")
		}
	case allSpaces(auth) && rec.Type != Purchase:
		// chargebacks may carry no authorization code
	case isAlnum(auth, 6):
		rec.AuthCode = auth
	default:
		r.fieldErr(n, bdAuth, msgAuth)
	}
	amountsOK := true
	if rec.Amount, ok = parseFixed(bdAmount.of(s)); !ok {
		r.fieldErr(n, bdAmount, "want 12 digits")
		amountsOK = false
	}
	if rec.Currency, ok = CurrencyByNumeric(bdCurrency.of(s)); !ok {
		r.fieldErr(n, bdCurrency, "want a supported ISO 4217 numeric code")
	}
	if rec.Fee, ok = parseFixed(bdFee.of(s)); !ok {
		r.fieldErr(n, bdFee, "want 10 digits")
		amountsOK = false
	}
	sign := int64(0)
	switch bdCD.of(s) {
	case "C":
		sign = 1
	case "D":
		sign = -1
	default:
		r.fieldErr(n, bdCD, "want C or D")
		amountsOK = false
	}
	if v, good := parseFixed(bdSettle.of(s)); good {
		rec.SettleAmount = sign * v
	} else {
		r.fieldErr(n, bdSettle, "want 12 digits")
		amountsOK = false
	}
	if amountsOK && rec.Type.Valid() && rec.SettleAmount != rec.Type.ExpectedSettle(rec.Amount, rec.Fee) {
		r.fieldErr(n, bdSettle, settleRule(rec.Type)+" (C/D indicator and absolute amount)")
	}
	if rec.SettleDate, err = calendar.ParseYYYYMMDD(bdSettleDate.of(s)); err != nil {
		r.fieldErr(n, bdSettleDate, "want a valid date YYYYMMDD")
	} else if r.date.IsZero() {
		r.date = rec.SettleDate
	} else if rec.SettleDate != r.date {
		r.fieldErr(n, bdSettleDate, "differs from the file's settlement date")
	}
	origAuth, origSTAN := bdOrigAuth.of(s), bdOrigSTAN.of(s)
	if rec.Type == Purchase {
		if !allSpaces(origAuth) || !allSpaces(origSTAN) {
			r.lineErr(LineError{Line: n, Start: bdOrigAuth.start, End: bdOrigSTAN.end, Field: "original authorization code and STAN", Msg: "want spaces for a sale"})
		}
	} else if rec.Type.Valid() {
		if rec.OrigAuthCode = origAuth; !isAlnum(origAuth, 6) {
			r.fieldErr(n, bdOrigAuth, msgAuth)
		}
		if rec.OrigSTAN = origSTAN; !isDigits(origSTAN, 6) {
			r.fieldErr(n, bdOrigSTAN, msgSTAN)
		}
	}
	if !allSpaces(bdFiller.of(s)) {
		r.fieldErr(n, bdFiller, "want spaces")
	}

	if len(r.sink.errs) != before || r.done {
		return false
	}
	r.rec = rec
	r.recLine = n
	r.tot.Count++
	r.tot.AmountSum += rec.Amount
	r.tot.Net += rec.SettleAmount
	if r.tot.Count > 99_999_999 || r.tot.AmountSum > maxTotal || abs(r.tot.Net) > maxTotal {
		r.lineErr(LineError{Line: n, Msg: "file totals exceed the trailer's fields"})
		r.done = true
		return false
	}
	return true
}

func (r *BReader) parseTrailer(n int64, s string) {
	before := len(r.sink.errs)
	var t BTrailer
	var ok bool
	if t.Count, ok = parseFixed(btCount.of(s)); !ok {
		r.fieldErr(n, btCount, "want 8 digits")
	}
	if t.AmountSum, ok = parseFixed(btAmount.of(s)); !ok {
		r.fieldErr(n, btAmount, "want 15 digits")
	}
	var sign int64
	switch btCD.of(s) {
	case "C":
		sign = 1
	case "D":
		sign = -1
	default:
		r.fieldErr(n, btCD, "want C or D")
	}
	if v, good := parseFixed(btNet.of(s)); good {
		t.Net = sign * v
	} else {
		r.fieldErr(n, btNet, "want 15 digits")
	}
	if !allSpaces(btFiller.of(s)) {
		r.fieldErr(n, btFiller, "want spaces")
	}
	if len(r.sink.errs) != before {
		return
	}
	r.trailer, r.trailerOK = t, true
	if r.rowErrors {
		// The totals of the good records say nothing about the trailer.
		return
	}
	if t.Count != r.tot.Count {
		r.fieldErr(n, btCount, fmt.Sprintf("trailer says %d detail records, the file has %d", t.Count, r.tot.Count))
	}
	if t.AmountSum != r.tot.AmountSum {
		r.fieldErr(n, btAmount, fmt.Sprintf("trailer says %d, the details sum to %d", t.AmountSum, r.tot.AmountSum))
	}
	if t.Net != r.tot.Net {
		r.lineErr(LineError{Line: n, Start: btCD.start, End: btNet.end, Field: "net settlement", Msg: fmt.Sprintf("trailer says %s, the details net to %s", signed(t.Net), signed(r.tot.Net))})
	}
}

func (r *BReader) finish(err error) {
	r.done = true
	if err != io.EOF {
		r.readErr = fmt.Errorf("reading bank B clearing file: %w", err)
		return
	}
	switch {
	case !r.seenHeader:
		r.sink.add(LineError{Line: 1, Msg: "empty file"})
	case !r.seenTrail:
		r.sink.add(LineError{Line: r.lr.n + 1, Msg: "missing trailer record"})
	}
}

// Record returns the current detail record. Its strings share one
// allocation per record and stay valid after Next.
func (r *BReader) Record() Record { return r.rec }

// Line returns the line number of the current record.
func (r *BReader) Line() int64 { return r.recLine }

// Header returns the header's values once read and well formed.
func (r *BReader) Header() (BHeader, bool) { return r.header, r.headerOK }

// Trailer returns the trailer's values once read and well formed.
func (r *BReader) Trailer() (BTrailer, bool) { return r.trailer, r.trailerOK }

// Err returns nil if the whole file was read, every record was well formed
// and the trailer agreed with the details; otherwise a *FileError, and
// every record Next returned must be discarded. Before Next has returned
// false it reports only what was found so far.
func (r *BReader) Err() error { return r.sink.fileError(r.readErr) }

// ValidateB reads a whole Bank B clearing file without keeping records and
// returns its header and trailer, or the error that rejects it. It checks
// ctx between records.
func ValidateB(ctx context.Context, src io.Reader, opts ReaderOptions) (BHeader, BTrailer, error) {
	r := NewBReader(src, opts)
	for i := 0; r.Next(); i++ {
		if i&4095 == 0 {
			if err := ctx.Err(); err != nil {
				return BHeader{}, BTrailer{}, fmt.Errorf("validating bank B clearing file at line %d: %w", r.Line(), err)
			}
		}
	}
	if err := r.Err(); err != nil {
		return BHeader{}, BTrailer{}, err
	}
	return r.header, r.tot, nil
}

// leftJustified returns s without its space fill; it fails when s is all
// spaces, starts with a space, or has a space or non-printable inside.
func leftJustified(s string) (string, bool) {
	end := len(s)
	for end > 0 && s[end-1] == ' ' {
		end--
	}
	v := s[:end]
	return v, isID(v, len(s))
}

func allSpaces(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != ' ' {
			return false
		}
	}
	return true
}

func signed(v int64) string {
	if v < 0 {
		return fmt.Sprintf("D %d", -v)
	}
	return fmt.Sprintf("C %d", v)
}
