package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// authorizeBody is the JSON of POST /v1/payments.
type authorizeBody struct {
	RequestID        string            `json:"request_id"`
	Type             string            `json:"type"`
	Amount           int64             `json:"amount"`
	Currency         string            `json:"currency"`
	Merchant         *Merchant         `json:"merchant"`
	Card             *Card             `json:"card"`
	NetworkToken     *NetworkToken     `json:"network_token"`
	ThreeDS          *ThreeDS          `json:"three_ds"`
	StoredCredential *StoredCredential `json:"stored_credential"`
	OrderID          string            `json:"order_id"`
	Description      string            `json:"description"`
}

// operationBody is the JSON of capture, void and refund.
type operationBody struct {
	RequestID string `json:"request_id"`
	Amount    *int64 `json:"amount"`
}

// maxNesting bounds the depth of JSON the strict key check walks; no valid
// request nests deeper than 3.
const maxNesting = 16

// decodeStrict decodes body into dst (a pointer to a struct) and rejects
// what encoding/json would let through: unknown fields in any letter case
// (encoding/json matches keys case-insensitively, so "Amount" would
// silently set amount), duplicate keys, trailing data, and non-object
// bodies. Errors are *FieldError (field "" for the body as a whole).
func decodeStrict(body []byte, dst any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return &FieldError{Message: "request body is empty; want a JSON object"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := checkKeys(dec, reflect.TypeOf(dst), "", 0); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return &FieldError{Message: "trailing data after the JSON object"}
	}
	dec = json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			if te.Field == "" {
				return &FieldError{Message: "request body must be a JSON object"}
			}
			return &FieldError{Field: te.Field, Message: fmt.Sprintf("%s must be %s", te.Field, jsonKind(te.Type))}
		}
		return &FieldError{Message: "malformed JSON"}
	}
	return nil
}

func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "an integer"
	case reflect.String:
		return "a string"
	case reflect.Struct:
		return "an object"
	case reflect.Bool:
		return "a boolean"
	}
	return "of another type"
}

// checkKeys reads one JSON value from dec and checks every object key
// against the json tags of t exactly (t nil: any keys, as for a value whose
// type is wrong anyway and will be reported by the decoder).
func checkKeys(dec *json.Decoder, t reflect.Type, path string, depth int) error {
	if depth > maxNesting {
		return &FieldError{Field: path, Message: "JSON nested too deeply"}
	}
	tok, err := dec.Token()
	if err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return &FieldError{Message: fmt.Sprintf("malformed JSON at byte %d", se.Offset)}
		}
		return &FieldError{Message: "malformed JSON"}
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	d, ok := tok.(json.Delim)
	if !ok {
		if depth == 0 {
			return &FieldError{Message: "request body must be a JSON object"}
		}
		return nil // scalar
	}
	switch d {
	case '{':
		var fields map[string]reflect.Type
		if t != nil && t.Kind() == reflect.Struct {
			fields = jsonFields(t)
		}
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return &FieldError{Message: "malformed JSON"}
			}
			key, _ := kt.(string)
			p := key
			if path != "" {
				p = path + "." + key
			}
			var ft reflect.Type
			if fields != nil {
				var known bool
				if ft, known = fields[key]; !known {
					return &FieldError{Field: safeKey(p), Message: fmt.Sprintf("unknown field %q", safeKey(p))}
				}
			}
			if seen[key] {
				return &FieldError{Field: safeKey(p), Message: fmt.Sprintf("duplicate field %q", safeKey(p))}
			}
			seen[key] = true
			if err := checkKeys(dec, ft, p, depth+1); err != nil {
				return err
			}
		}
	case '[':
		if depth == 0 {
			return &FieldError{Message: "request body must be a JSON object"}
		}
		for dec.More() {
			if err := checkKeys(dec, nil, path, depth+1); err != nil {
				return err
			}
		}
	}
	if _, err := dec.Token(); err != nil { // the closing delimiter
		return &FieldError{Message: "malformed JSON"}
	}
	return nil
}

// safeKey keeps an attacker-chosen key from carrying a PAN into an error
// message or log: long digit runs are masked and the length is bounded.
// Masking comes first: cutting first could split a PAN into a run too short
// to be recognised (13+ digits) yet long enough to leak most of it.
func safeKey(k string) string {
	k = maskDigitRuns(k)
	if len(k) > 64 {
		k = k[:64] + "..."
	}
	return k
}

func jsonFields(t reflect.Type) map[string]reflect.Type {
	m := make(map[string]reflect.Type, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		m[name] = f.Type
	}
	return m
}
