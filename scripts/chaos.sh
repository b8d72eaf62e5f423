#!/usr/bin/env bash
# The failure matrix (docs/failures.md): builds switchd and the chaos
# harness, then runs every case against the in-process reference
# simulators — real switchd processes, SIGKILLs included — and prints the
# table of case, payments sent and ledger mismatches (must be 0).
# PostgreSQL (127.0.0.1:5432, database test) is needed for the two-process
# case; CHAOS_PG="" skips it. Extra arguments go to bin/chaos.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
$GO build -o bin/ ./cmd/switchd ./cmd/chaos
PG=${CHAOS_PG-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
if [ -n "$PG" ]; then scripts/ensure-postgres.sh; fi
exec bin/chaos -switchd bin/switchd -pg "$PG" -payments "${CHAOS_PAYMENTS:-150}" "$@"
