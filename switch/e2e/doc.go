// Package e2e holds the switch's end-to-end acceptance tests: both
// reference bank simulators and the real switch assembly (package
// switch/app, as cmd/switchd runs it) in one process, over real HTTP and
// real TCP, with a real SQLite journal (and a PostgreSQL one for a subset).
//
// Between the switch and each simulator sits a tap: a TCP relay that
// decodes, with the simulators' own independent codec, every frame the
// switch sends, so that tests can assert which ISO 8583 fields reached the
// bank. The package has no non-test code besides this comment.
package e2e
