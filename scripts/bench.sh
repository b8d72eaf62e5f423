#!/usr/bin/env bash
# The standard benchmark suite (`make bench`, after `make build`): both bank
# simulators and switchd on this machine, then
#   1. switchd with the SQLite journal (data in a temp dir): warm-up, closed
#      loop at a saturating concurrency, open loop at a few arrival rates;
#   2. the direct baseline (bank link straight to the simulators) at the same
#      concurrency, with switchd stopped;
#   3. switchd with the PostgreSQL journal in a fresh schema: warm-up, the
#      same closed loop;
#   4. the Go micro-benchmarks;
#   5. reconciliation of a 1 000 000-row clearing file against a journal of
#      1 000 000 payments (BenchmarkRecon1M, docs/recon.md; BENCH_RECON=off
#      skips it, BENCH_RECON_ROWS and BENCH_RECON_BANK change it);
# and writes bench/results/latest.{md,json}, latency.svg and runs/*.json.
# Every knob is an environment variable (see below and docs/bench.md).
# Only 127.0.0.1 is used. Everything started here is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-bin}
CONC=${BENCH_CONCURRENCY:-256}           # closed loop and direct baseline workers (256 saturated best here)
OPEN_MAX=${BENCH_OPEN_OUTSTANDING:-1024} # open loop: most requests outstanding
WARMUP=${BENCH_WARMUP:-10s}
CLOSED=${BENCH_CLOSED:-60s}
OPEN=${BENCH_OPEN:-30s}
RATES=${BENCH_RATES:-"100 250 500 1000 2000"}
DIRECT=${BENCH_DIRECT:-30s}
MICRO_TIME=${BENCH_MICRO_TIME:-1s}
RECON=${BENCH_RECON:-on}                 # off: skip the 1M-row reconciliation
RECON_ROWS=${BENCH_RECON_ROWS:-1000000}
RECON_BANK=${BENCH_RECON_BANK:-alfa}     # alfa (Bank A CSV) or sber (Bank B fixed width)
PG=${BENCH_POSTGRES:-on}                 # off: skip the PostgreSQL run
PG_DSN=${BENCH_PG_DSN:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
API_PORT=${BENCH_API_PORT:-18080}
METRICS_PORT=${BENCH_METRICS_PORT:-19090}
ALFA_PORT=${BENCH_ALFA_PORT:-19001}
SBER_PORT=${BENCH_SBER_PORT:-19002}
OUT=${BENCH_OUT:-bench/results}

# A gateway token made up for this run (switchd wants at least 24
# characters); switchd gets it, like every other bench setting, through its
# SWITCH_* environment and swbench through SWBENCH_TOKEN.
export SWBENCH_TOKEN=${SWBENCH_TOKEN:-bench-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')}

for b in switchd banksim swbench; do
  [ -x "$BIN/$b" ] || { echo "bench: $BIN/$b missing; run make build" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/swbench.XXXXXX")
pids=()
schema=""
cleanup() {
  local rc=$?
  # switchd first (TERM drains it), then the simulators; only our own pids.
  for ((i=${#pids[@]}-1; i>=0; i--)); do stop_pid "${pids[$i]}"; done
  if [ -n "$schema" ]; then
    psql "$PG_DSN" -qAt -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
  exit $rc
}
stop_pid() {
  local pid=$1
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() {
  for _ in $(seq 1 100); do port_busy "$1" && return 0; sleep 0.1; done
  echo "bench: nothing listening on 127.0.0.1:$1 after 10 s" >&2; return 1
}
for p in $API_PORT $METRICS_PORT $ALFA_PORT $SBER_PORT; do
  if port_busy "$p"; then echo "bench: 127.0.0.1:$p is in use; set BENCH_*_PORT" >&2; exit 1; fi
done

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== bench: $(nproc) CPU(s), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), load $load_start"
mkdir -p "$OUT/runs"
rm -f "$OUT"/runs/*.json

"$BIN/banksim" --dialect h2h87-ascii --listen "127.0.0.1:$ALFA_PORT" --control "" --log-level warn >"$work/alfa.log" 2>&1 &
pids+=($!)
"$BIN/banksim" --dialect h2h87-binary --listen "127.0.0.1:$SBER_PORT" --control "" --log-level warn >"$work/sber.log" 2>&1 &
pids+=($!)
wait_port "$ALFA_PORT"; wait_port "$SBER_PORT"

switchd_pid=""
# start_switchd BACKEND: switchd with configs/switch.yaml, bench overrides
# from the environment: bench ports, no per-client rate limit (the
# benchmark measures the switch, not its limiter), warnings-only logs.
start_switchd() {
  local backend=$1
  local -a env=(
    SWITCH_API_LISTEN="127.0.0.1:$API_PORT"
    SWITCH_METRICS_LISTEN="127.0.0.1:$METRICS_PORT"
    SWITCH_API_CLIENTS_GATEWAY_TOKEN="$SWBENCH_TOKEN"
    SWITCH_API_CLIENTS_GATEWAY_RATE_LIMIT=1000000
    SWITCH_API_MAX_IN_FLIGHT=4096
    SWITCH_BANKS_ALFA_ADDR="127.0.0.1:$ALFA_PORT"
    SWITCH_BANKS_SBER_ADDR="127.0.0.1:$SBER_PORT"
    SWITCH_LOG_LEVEL=warn
    SWITCH_LOG_FORMAT=json
  )
  if [ "$backend" = postgres ]; then
    env+=(SWITCH_JOURNAL_DRIVER=postgres SWITCH_JOURNAL_DSN="$PG_DSN" SWITCH_JOURNAL_SCHEMA="$schema")
  else
    env+=(SWITCH_JOURNAL_DRIVER=sqlite SWITCH_JOURNAL_DSN="$work/journal.db")
  fi
  env "${env[@]}" "$BIN/switchd" --config configs/switch.yaml >"$work/switchd-$backend.log" 2>&1 &
  switchd_pid=$!
  pids+=("$switchd_pid")
  for _ in $(seq 1 150); do
    if curl -fsS "http://127.0.0.1:$API_PORT/readyz" >/dev/null 2>&1; then return 0; fi
    kill -0 "$switchd_pid" 2>/dev/null || break
    sleep 0.2
  done
  echo "bench: switchd ($backend) did not become ready; its log:" >&2
  tail -20 "$work/switchd-$backend.log" >&2
  return 1
}
stop_switchd() {
  stop_pid "$switchd_pid"
  local keep=()
  for p in "${pids[@]}"; do [ "$p" != "$switchd_pid" ] && keep+=("$p"); done
  pids=("${keep[@]}")
  switchd_pid=""
}

url="http://127.0.0.1:$API_PORT"
closed_run() { # BACKEND SEED
  "$BIN/swbench" closed --url "$url" --concurrency "$CONC" --duration "$WARMUP" --seed "$(( $2 + 1000 ))" --label "warm-up-$1" --backend "$1"
  "$BIN/swbench" closed --url "$url" --concurrency "$CONC" --duration "$CLOSED" --seed "$2" \
    --label "closed-$1" --backend "$1" --switchd-pid "$switchd_pid" --out "$OUT/runs/$3-closed-$1.json"
}

echo "== switchd, SQLite journal"
start_switchd sqlite
closed_run sqlite 1 10
n=20
for rate in $RATES; do
  "$BIN/swbench" open --url "$url" --rate "$rate" --concurrency "$OPEN_MAX" --duration "$OPEN" --seed "$n" \
    --label "open-sqlite-$rate" --backend sqlite --switchd-pid "$switchd_pid" --out "$OUT/runs/$n-open-sqlite-$rate.json"
  n=$((n + 1))
done
if grep -q '"level":"error"' "$work/switchd-sqlite.log"; then
  echo "bench: switchd (sqlite) logged errors:" >&2; grep '"level":"error"' "$work/switchd-sqlite.log" | tail -5 >&2
fi
stop_switchd

echo "== direct baseline (bank link straight to the simulators)"
"$BIN/swbench" direct --alfa "127.0.0.1:$ALFA_PORT" --sber "127.0.0.1:$SBER_PORT" --concurrency "$CONC" \
  --duration "$DIRECT" --seed 1 --label direct --out "$OUT/runs/40-direct.json"

notes=()
if [ "$PG" != off ] && scripts/ensure-postgres.sh; then
  echo "== switchd, PostgreSQL journal (fresh schema)"
  schema="bench_$(date +%s)_$$"
  psql "$PG_DSN" -qAt -v ON_ERROR_STOP=1 -c "CREATE SCHEMA $schema" >/dev/null
  start_switchd postgres
  closed_run postgres 2 50
  stop_switchd
  psql "$PG_DSN" -qAt -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
  schema=""
else
  notes+=(--note "PostgreSQL run skipped (BENCH_POSTGRES=off or PostgreSQL unreachable).")
fi
for p in "${pids[@]}"; do stop_pid "$p"; done
pids=()

echo "== Go micro-benchmarks (-benchtime $MICRO_TIME)"
micro_pkgs=(./switch/bankmsg/ ./routing/ ./switch/journal/ ./specs/clearing/)
for p in ./specs/ ./switch/recon/; do
  if grep -qs '^func Benchmark' "$p"*_test.go; then micro_pkgs+=("$p"); fi
done
go test -run '^$' -bench . -benchmem -benchtime "$MICRO_TIME" -count 1 "${micro_pkgs[@]}" 2>&1 | tee "$work/micro.txt" | grep -E '^(pkg:|Benchmark|ok|FAIL|---)' || true
if [ "$RECON" != off ]; then
  echo "== reconciliation: $RECON_ROWS journal payments against a $RECON_ROWS-row $RECON_BANK clearing file"
  RECON_BENCH_ROWS="$RECON_ROWS" RECON_BENCH_BANK="$RECON_BANK" TMPDIR="$work" \
    go test -run '^$' -bench '^BenchmarkRecon1M$' -benchtime 1x -count 1 -timeout 30m ./switch/recon/reconbench/ 2>&1 |
    tee -a "$work/micro.txt" | grep -E '^(pkg:|Benchmark|ok|FAIL|---)' || true
else
  notes+=(--note "Reconciliation benchmark skipped (BENCH_RECON=off).")
fi
cp "$work/micro.txt" "$OUT/micro.txt"

echo "== summary"
"$BIN/swbench" report --runs "$OUT/runs" --micro "$work/micro.txt" --md "$OUT/latest.md" --json "$OUT/latest.json" \
  --plot "$OUT/latency.svg" --note "Load average $load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end: work outside this suite on the machine skews the figures." "${notes[@]}"
