#!/usr/bin/env bash
# `make run`: both bank simulators, switchd with the embedded SQLite journal,
# and a short demo through the upstream API. Leaves everything running until
# Ctrl-C (RUN_DEMO_ONLY=1: stop after the demo). Only 127.0.0.1 is used.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-bin}
API=http://127.0.0.1:8080
TOKEN=${SWITCH_API_CLIENTS_GATEWAY_TOKEN:-DEMO-gateway-token-0123456789abcdef}
OPS=${SWITCH_API_CLIENTS_OPS_TOKEN:-DEMO-operator-token-0123456789abcdef}
LOGS=${LOGS:-data/logs}
mkdir -p "$LOGS"

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

"$BIN/banksim" --dialect h2h87-ascii  --listen 127.0.0.1:9001 --control 127.0.0.1:9101 --auth-code-seed 1 >"$LOGS/banksim-alfa.log" 2>&1 & pids+=($!)
"$BIN/banksim" --dialect h2h87-binary --listen 127.0.0.1:9002 --control 127.0.0.1:9102 --auth-code-seed 2 >"$LOGS/banksim-sber.log" 2>&1 & pids+=($!)
sleep 0.5
"$BIN/switchd" --config configs/switch.yaml >"$LOGS/switchd.log" 2>&1 & pids+=($!)

printf 'waiting for switchd to be ready'
for _ in $(seq 1 100); do
  if curl -fsS "$API/readyz" >/dev/null 2>&1; then break; fi
  printf '.'; sleep 0.2
done
echo
curl -fsS "$API/readyz" >/dev/null || { echo "switchd did not become ready; see $LOGS/switchd.log"; tail -20 "$LOGS/switchd.log"; exit 1; }

stamp=$(date +%s)
show() { echo; echo "\$ $1"; eval "$1"; echo; }
pay() { # request_id type amount pan
  cat <<JSON
{"request_id":"demo-$stamp-$1","type":"$2","amount":$3,"currency":"KZT",
 "merchant":{"id":"M00000000000123","terminal_id":"T0000123","mcc":"5411","name":"DEMO SHOP","city":"ALMATY","country":"KZ"},
 "card":{"pan":"$4","expiry":"2812","cvv":"123"}}
JSON
}
id_of() { sed -n 's/.*"id":"\(pay_[^"]*\)".*/\1/p' | head -1; }

echo "== 1. purchase, approved (Bank A or B by the routing table)"
show "curl -sS -H 'Authorization: Bearer $TOKEN' -d '$(pay 1 purchase 150000 4000000000000010 | tr -d '\n')' $API/v1/payments"
echo "== 2. purchase declined: amount ending in 51 = insufficient funds"
show "curl -sS -H 'Authorization: Bearer $TOKEN' -d '$(pay 2 purchase 100051 4000000000000028 | tr -d '\n')' $API/v1/payments"
echo "== 3. pre-authorization, then a partial capture"
pre=$(curl -sS -H "Authorization: Bearer $TOKEN" -d "$(pay 3 preauth 200000 5100000000000008)" $API/v1/payments)
echo "$pre"; pid=$(echo "$pre" | id_of)
show "curl -sS -H 'Authorization: Bearer $TOKEN' -d '{\"request_id\":\"demo-$stamp-4\",\"amount\":120000}' $API/v1/payments/$pid/capture"
echo "== 4. a partial refund of the capture"
show "curl -sS -H 'Authorization: Bearer $TOKEN' -d '{\"request_id\":\"demo-$stamp-5\",\"amount\":20000}' $API/v1/payments/$pid/refunds"
echo "== 5. the payment with all its operations"
show "curl -sS -H 'Authorization: Bearer $TOKEN' $API/v1/payments/$pid"
echo "== 6. operator view of the bank links"
show "curl -sS -H 'Authorization: Bearer $OPS' $API/v1/admin/banks"

cat <<EOF2
Everything is running: switchd on $API (metrics on 127.0.0.1:9090/metrics),
Bank A simulator on 127.0.0.1:9001 (control 127.0.0.1:9101), Bank B on
127.0.0.1:9002 (control 127.0.0.1:9102). Logs in $LOGS/. Try the curl commands
above (README.md lists more). Ctrl-C stops everything.
EOF2
if [ "${RUN_DEMO_ONLY:-0}" = "1" ]; then exit 0; fi
wait
