#!/usr/bin/env bash
# Makes sure the PostgreSQL the journal tests use is up (127.0.0.1:5432, trust
# auth, database `test`). The machine normally starts it; this starts it when
# it has stopped, and fails loudly when it cannot.
set -euo pipefail
if [ "${SWITCH_TEST_PG:-on}" = "off" ]; then exit 0; fi
ready() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }
if ready; then exit 0; fi
if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
  ver=$(ls /etc/postgresql | sort -V | tail -1)
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
fi
for _ in $(seq 1 30); do ready && exit 0; sleep 1; done
echo "PostgreSQL is not reachable on 127.0.0.1:5432 (set SWITCH_TEST_PG=off to skip its tests on purpose)" >&2
exit 1
