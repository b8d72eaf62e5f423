// Package routing is the switch's routing table: it parses and validates the
// operators' table file (routing.md in the contract), compiles it into an
// index that decides a payment's bank in well under a microsecond even with
// 100,000 BIN entries, explains decisions for operators, and holds the table
// in force so that it can be replaced atomically on reload.
//
// Rules are tried in order and the first whose match holds wins; a rule names
// either an ordered list of banks (failover) or a weighted split. The package
// never sees a full PAN in its output: decisions carry bank and rule names
// only, and explanations show the PAN masked.
package routing
