// Package simtest holds the acceptance tests of the wire layer: every
// message type of both banks' dialects, built with switch/bankmsg, carried
// by switch/banklink over real TCP to the reference simulator
// (simulators/banksim) started in-process, decoded with bankmsg and checked
// against the response code, the echoed fields and the simulator's ledger;
// plus the link's behaviour under the simulator's faults (restart, dropped
// connections, silence, late answers, sign-on, host echoes).
//
// The package has no non-test code; it exists so that these tests depend
// on the public APIs only, as the switch's engine does.
package simtest
