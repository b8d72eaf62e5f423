package bankmsg

import (
	"errors"
	"fmt"
	"strings"

	"github.com/moov-io/iso8583"

	"github.com/acquirer/h2hswitch/specs"
)

// Reply is what a responder adds to the echoed fields.
type Reply struct {
	ResponseCode string // DE39, required
	// AuthCode is DE38, set on approvals of authorizations.
	AuthCode string
	// NetworkTransactionID is set on the approval of an initial
	// stored-credential payment: Bank A DE48 tag 22, Bank B DE62.
	NetworkTransactionID string
}

// Respond builds the response to req with DE39 code: the response MTI,
// DE 3, 4, 7, 11, 37, 41, 42, 49 echoed when present (never DE2), DE39,
// and DE70 echoed for network management. The simulator, and the switch
// when a bank sends it an 0800, use it.
func Respond(d *specs.Dialect, req *iso8583.Message, code string) (*iso8583.Message, error) {
	return RespondWith(d, req, Reply{ResponseCode: code})
}

// RespondWith is Respond with an authorization code and a network
// transaction ID.
func RespondWith(d *specs.Dialect, req *iso8583.Message, rep Reply) (*iso8583.Message, error) {
	if d == nil || req == nil {
		return nil, errors.New("building response: nil dialect or request")
	}
	mti, err := req.GetMTI()
	if err != nil {
		return nil, fmt.Errorf("building response: reading request MTI: %w", err)
	}
	respMTI, ok := specs.ResponseMTI(mti)
	if !ok {
		return nil, fmt.Errorf("building response: %q is not a request MTI", mti)
	}
	if _, err := alnumFixed("DE39", "response code", rep.ResponseCode, 2); err != nil {
		return nil, fmt.Errorf("building %s response: %w", respMTI, err)
	}
	resp := d.NewMessage()
	resp.MTI(respMTI)
	// Both banks: "Responses echo DE 3, 4, 7, 11, 37, 41, 42, 49 (never DE2)".
	for _, id := range [...]int{3, 4, 7, 11, 37, 41, 42, 49} {
		if err := copyField(req, resp, id); err != nil {
			return nil, fmt.Errorf("building %s response: %w", respMTI, err)
		}
	}
	if err := resp.Field(39, rep.ResponseCode); err != nil {
		return nil, fmt.Errorf("building %s response: DE39: %w", respMTI, err)
	}
	if strings.HasPrefix(mti, "08") {
		if err := copyField(req, resp, 70); err != nil {
			return nil, fmt.Errorf("building %s response: %w", respMTI, err)
		}
	}
	if rep.AuthCode != "" {
		v, err := ansFixed("DE38", "authorization code", rep.AuthCode, 6, true)
		if err == nil {
			err = resp.Field(38, v)
		}
		if err != nil {
			return nil, fmt.Errorf("building %s response: %w", respMTI, err)
		}
	}
	if rep.NetworkTransactionID != "" {
		v, err := ansVar("DE48 tag 22/DE62", "network transaction ID", rep.NetworkTransactionID, 15)
		if err == nil {
			switch d.Private {
			case specs.PrivateDE48TLV:
				v, err = specs.BuildDE48(map[string]string{specs.TagNetworkTxnID: v})
				if err == nil {
					err = resp.Field(48, v)
				}
			case specs.PrivatePositional:
				err = resp.Field(62, v)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("building %s response: %w", respMTI, err)
		}
	}
	return resp, nil
}

func copyField(from, to *iso8583.Message, id int) error {
	v, err := from.GetString(id)
	if err != nil {
		return fmt.Errorf("reading DE%d: %w", id, err)
	}
	if v == "" {
		return nil
	}
	if err := to.Field(id, v); err != nil {
		return fmt.Errorf("setting DE%d: %w", id, err)
	}
	return nil
}
