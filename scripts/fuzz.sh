#!/usr/bin/env bash
# Runs every Go fuzz target in the module for FUZZTIME each (default 60s).
# Targets are discovered with `go test -list`, so a new target is picked up
# without editing this file.
set -euo pipefail
FUZZTIME=${FUZZTIME:-60s}
fail=0
for pkg in $(go list ./...); do
  targets=$(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true)
  for t in $targets; do
    echo "== $pkg $t ($FUZZTIME)"
    if ! go test -run '^$' -fuzz "^${t}\$" -fuzztime "$FUZZTIME" "$pkg"; then
      fail=1
    fi
  done
done
exit $fail
