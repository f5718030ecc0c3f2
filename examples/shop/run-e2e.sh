#!/usr/bin/env bash
# End to end: each example shop against the LigdiCash sandbox and the real reconciler binary.
#
#   examples/shop/run-e2e.sh                  # php:sqlite php:api python:sqlite python:api
#   examples/shop/run-e2e.sh python:api       # one shop, one hand-off
#
# The binary is $LIGDICASH_RECONCILER_BIN, else the newer of target/release and target/debug.
# Needs curl, jq, openssl, python3 (free ports, the Python shop) and php-cli with pdo_sqlite
# and curl (the PHP shop).
#
# Each run, in a fresh directory with fresh ports: the sandbox loses every callback; the shop
# creates an order and its invoice and hands the token over (SQL insert or API); forged
# webhooks for the unpaid order are refused; the customer presses Pay; the order must end
# paid through the reconciler's verified webhook, shipped once even when the event is
# redelivered. A second order, with callbacks back on, goes through the shop's callback
# forwarding. Any deviation stops the script with the logs and exit code 1.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${LIGDICASH_RECONCILER_BIN:-}
if [[ -z $bin ]]; then
  for candidate in "$root/target/release/ligdicash-reconciler" "$root/target/debug/ligdicash-reconciler"; do
    [[ -x $candidate && ( -z $bin || $candidate -nt $bin ) ]] && bin=$candidate
  done
fi
[[ -n $bin && -x $bin ]] || { echo "no ligdicash-reconciler binary: cargo build, or set LIGDICASH_RECONCILER_BIN" >&2; exit 2; }

work="" pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}
trap cleanup EXIT

fail() {
  echo "FAIL [$scenario]: $*" >&2
  local log
  for log in "$work"/*.log; do
    echo "---- $(basename "$log") (last 40 lines)" >&2
    tail -n 40 "$log" >&2
  done
  echo "(the run's files are kept in $work)" >&2
  exit 1
}
step() { echo "  [$scenario] $*"; }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Repeats a command until it succeeds; the deadline only bounds a hung run (no timing claim).
eventually() {
  local what=$1; shift
  local deadline=$((SECONDS + 60))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || fail "gave up waiting for: $what"
    sleep 0.2
  done
}

order_field() { curl -sf "$shop/orders/$1" | jq -r ".$2"; }
order_is() { [[ $(order_field "$1" status) == "$2" ]]; }

# base64(HMAC-SHA256(key, "id.timestamp.body")) with openssl: a second implementation
# beside the shops' own, so the two check each other.
sign() {
  local secret=$1 id=$2 ts=$3 body=$4 key
  key=$(printf '%s' "${secret#whsec_}" | base64 -d | od -An -v -tx1 | tr -d ' \n')
  printf '%s.%s.%s' "$id" "$ts" "$body" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$key" -binary | base64
}

# POSTs a webhook to the shop; prints the HTTP status. Args: body, then header lines.
post_webhook() {
  local body=$1; shift
  local headers=()
  for h in "$@"; do headers+=(-H "$h"); done
  curl -s -o /dev/null -w '%{http_code}' -X POST "$shop/webhooks/ligdicash" \
    -H 'Content-Type: application/json' "${headers[@]}" --data-binary "$body"
}

reconciler() { "$bin" --config "$work/config.toml" "$@"; }

callbacks_matched() {
  curl -sf "http://127.0.0.1:$metrics_port/metrics" |
    awk '/^ligdicash_reconciler_callbacks_total\{result="matched"\}/ { n = $2 } END { print n + 0 }'
}

run_scenario() {
  local lang=$1 handoff=$2
  scenario="$lang:$handoff"
  work=$(mktemp -d "${TMPDIR:-/tmp}/shop-e2e.XXXXXX")
  echo "== $scenario ($work, $bin)"

  # The sandbox, on a port it picks; it prints its URL once listening. --wait-for-pay: no
  # invoice settles by itself, so each order stays pending at LigdiCash until the customer
  # presses Pay, however slow this machine is (checked below).
  "$bin" sandbox --listen 127.0.0.1:0 --wait-for-pay >"$work/sandbox.out" 2>"$work/sandbox.log" &
  pids+=($!)
  eventually "the sandbox" grep -q 'listening on' "$work/sandbox.out"
  sandbox=$(grep -o 'http://[0-9.:]*' "$work/sandbox.out")

  # The secrets, made as docs/events.md and docs/api.md say.
  local secret api_token api_port shop_port
  secret="whsec_$(openssl rand -base64 32)"
  api_token=$(openssl rand -hex 32)
  api_port=$(free_port) shop_port=$(free_port) metrics_port=$(free_port)
  shop="http://127.0.0.1:$shop_port"

  # A fast schedule, possible on a loopback base_url only.
  cat >"$work/config.toml" <<EOF
[ligdicash]
base_url = "$sandbox"
[database]
path = "$work/reconciler.db"
[poll]
first_delay = "1s"
initial_interval = "1s"
max_interval = "2s"
min_interval = "500ms"
scan_interval = "100ms"
[events]
retry_schedule = ["1s", "2s", "5s"]
[[events.webhooks]]
url = "$shop/webhooks/ligdicash"
secret_env = "SHOP_WEBHOOK_SECRET"
[report]
enabled = false
[http]
listen = "127.0.0.1:$metrics_port"
[api]
listen = "127.0.0.1:$api_port"
EOF
  LIGDICASH_API_KEY=sandbox-api-key LIGDICASH_API_TOKEN=sandbox-api-token \
    LIGDICASH_RECONCILER_API_TOKEN=$api_token SHOP_WEBHOOK_SECRET=$secret \
    "$bin" --config "$work/config.toml" run 2>"$work/reconciler.log" &
  pids+=($!)
  eventually "the reconciler's API" curl -sf -H "Authorization: Bearer $api_token" \
    "http://127.0.0.1:$api_port/v1/payments"

  # The shop, configured as a shop would be.
  local settings=(SHOP_DB="$work/shop.db" SHOP_PUBLIC_URL="$shop" SHOP_LISTEN="127.0.0.1:$shop_port"
    SHOP_WEBHOOK_SECRET="$secret" LIGDICASH_BASE_URL="$sandbox"
    LIGDICASH_API_KEY=sandbox-api-key LIGDICASH_API_TOKEN=sandbox-api-token
    RECONCILER_HANDOFF="$handoff" RECONCILER_DB="$work/reconciler.db"
    RECONCILER_API_URL="http://127.0.0.1:$api_port" RECONCILER_API_TOKEN="$api_token")
  case $lang in
    php) env "${settings[@]}" php -S "127.0.0.1:$shop_port" "$here/php/shop.php" >"$work/shop.log" 2>&1 & ;;
    python) env "${settings[@]}" python3 "$here/python/shop.py" >"$work/shop.log" 2>&1 & ;;
  esac
  pids+=($!)
  eventually "the shop" curl -s -o /dev/null "$shop/orders/none"

  step "a bad order is refused"
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$shop/orders" -d '{"amount": "5 000"}')
  [[ $code == 422 ]] || fail "an amount of \"5 000\" got HTTP $code, not 422"

  step "callbacks lost from now on"
  curl -sf -X PUT "$sandbox/_sandbox/callbacks" -H 'Content-Type: application/json' -d '{"drop": true}' ||
    fail "cannot make the sandbox drop callbacks"

  step "order 1: invoice created, token handed over by $handoff"
  local created ref token pay_url
  created=$(curl -sf -X POST "$shop/orders" -H 'Content-Type: application/json' -d '{"amount": 5000}') ||
    fail "the shop could not create order 1"
  ref=$(jq -r .order.reference <<<"$created")
  pay_url=$(jq -r .payment_url <<<"$created")
  token=$(order_field "$ref" token)
  [[ $(reconciler show "$token" | jq -r '.status + " " + .transaction_id + " " + (.expected_amount|tostring)') == "pending $ref 5000" ]] ||
    fail "the reconciler does not hold order 1's token as pending, $ref, 5000 XOF"
  [[ $(curl -sf "$sandbox/_sandbox/invoices/$token" | jq -r .invoice.fate.outcome) == never ]] ||
    fail "the sandbox's invoice does not wait for Pay (--wait-for-pay)"
  curl -sf "$pay_url" | grep -q 'this invoice waits for a button' ||
    fail "the payment page does not say that the invoice waits for a button"

  step "forged webhooks for the unpaid order are refused"
  local now forged
  now=$(date +%s)
  forged=$(jq -cn --arg t "$token" --arg r "$ref" \
    '{type: "payment.completed", id: "evt_forged", occurred_at: "2026-01-01T00:00:00Z",
      payment: {token: $t, transaction_id: $r, status: "completed", amount: 5000, expected_amount: 5000}}')
  code=$(post_webhook "$forged")
  [[ $code == 401 ]] || fail "an unsigned webhook got HTTP $code, not 401"
  code=$(post_webhook "$forged" "webhook-id: evt_forged" "webhook-timestamp: $now" \
    "webhook-signature: v1,$(sign "whsec_$(openssl rand -base64 32)" evt_forged "$now" "$forged")")
  [[ $code == 401 ]] || fail "a webhook signed with another secret got HTTP $code, not 401"
  local stale=$((now - 600))
  code=$(post_webhook "$forged" "webhook-id: evt_forged" "webhook-timestamp: $stale" \
    "webhook-signature: v1,$(sign "$secret" evt_forged "$stale" "$forged")")
  [[ $code == 401 ]] || fail "a webhook timestamped 10 minutes ago got HTTP $code, not 401"
  code=$(post_webhook "$(jq -c '.payment.amount = 50' <<<"$forged")" "webhook-id: evt_forged" "webhook-timestamp: $now" \
    "webhook-signature: v1,$(sign "$secret" evt_forged "$now" "$forged")")
  [[ $code == 401 ]] || fail "a webhook whose body was altered after signing got HTTP $code, not 401"
  order_is "$ref" pending || fail "a forged webhook changed order 1: $(curl -s "$shop/orders/$ref")"

  step "the customer presses Pay; the callback is lost"
  local action
  action=$(curl -sf "$pay_url" | grep -o 'action="[^"]*/pay"' | cut -d'"' -f2) ||
    fail "no Pay button on $pay_url"
  curl -sf -X POST "$sandbox$action" >/dev/null || fail "pressing Pay failed"
  eventually "order 1 paid" order_is "$ref" paid

  step "paid by the reconciler's webhook, shipped once"
  local evt shown
  evt=$(order_field "$ref" paid_event_id)
  [[ $evt == evt_* && $evt != evt_forged ]] || fail "order 1 was paid by '$evt', not by a reconciler event"
  [[ $(order_field "$ref" shipments) == 1 ]] || fail "order 1 was not shipped exactly once"
  shown=$(reconciler events show "$evt")
  [[ $(jq -r '.type + " " + .payment_token' <<<"$shown") == "payment.completed $token" ]] ||
    fail "event $evt is not order 1's payment.completed: $shown"
  [[ $(reconciler show "$token" | jq -r .status) == completed ]] || fail "the reconciler does not say completed"
  [[ $(callbacks_matched) == 0 ]] || fail "a callback reached the reconciler although the sandbox lost it"

  step "the event redelivered: delivered again, still shipped once"
  # Redelivery reopens the delivery; once the shop answers 2xx again the event gets a new
  # delivered_at.
  local first_delivery
  first_delivery=$(jq -r .delivered_at <<<"$shown")
  reconciler events redeliver "$evt" >/dev/null || fail "events redeliver $evt failed"
  delivered_twice() {
    reconciler events show "$evt" |
      jq -e --arg first "$first_delivery" '.state == "delivered" and .delivered_at != $first'
  }
  eventually "the redelivery of $evt" delivered_twice
  [[ $(order_field "$ref" shipments) == 1 ]] || fail "the redelivered event shipped order 1 again"

  step "another valid event for the paid order (two signatures, one good): accepted, not shipped"
  local again="${forged/evt_forged/evt_second}" good
  now=$(date +%s)
  good=$(sign "$secret" evt_second "$now" "$again")
  code=$(post_webhook "$again" "webhook-id: evt_second" "webhook-timestamp: $now" \
    "webhook-signature: v1,bm90IHRoaXMgb25l v1,$good")
  [[ $code == 2* ]] || fail "a validly signed webhook (second of two signatures) got HTTP $code"
  [[ $(order_field "$ref" shipments) == 1 && $(order_field "$ref" paid_event_id) == "$evt" ]] ||
    fail "a second completed event shipped order 1 again"

  step "order 2: callbacks back, forwarded by the shop to the reconciler"
  curl -sf -X PUT "$sandbox/_sandbox/callbacks" -H 'Content-Type: application/json' -d '{"drop": false}' ||
    fail "cannot turn callbacks back on"
  created=$(curl -sf -X POST "$shop/orders" -H 'Content-Type: application/json' -d '{"amount": 2500}') ||
    fail "the shop could not create order 2"
  local ref2
  ref2=$(jq -r .order.reference <<<"$created")
  pay_url=$(jq -r .payment_url <<<"$created")
  action=$(curl -sf "$pay_url" | grep -o 'action="[^"]*/pay"' | cut -d'"' -f2) || fail "no Pay button on $pay_url"
  curl -sf -X POST "$sandbox$action" >/dev/null || fail "pressing Pay failed"
  eventually "order 2 paid" order_is "$ref2" paid
  # LigdiCash's two copies (JSON and form), both forwarded and both matched to order 2.
  two_callbacks() { [[ $(callbacks_matched) == 2 ]]; }
  eventually "both callbacks of order 2 at the reconciler" two_callbacks
  [[ $(order_field "$ref2" paid_event_id) == evt_* && $(order_field "$ref2" shipments) == 1 ]] ||
    fail "order 2 was not paid by a reconciler event and shipped once: $(curl -s "$shop/orders/$ref2")"

  cleanup
  rm -rf "$work"
  echo "== $scenario: ok"
}

scenarios=("$@")
((${#scenarios[@]})) || scenarios=(php:sqlite php:api python:sqlite python:api)
for s in "${scenarios[@]}"; do
  [[ $s =~ ^(php|python):(sqlite|api)$ ]] || { echo "usage: $0 [php|python]:[sqlite|api] ..." >&2; exit 2; }
  run_scenario "${s%%:*}" "${s#*:}"
done
echo "example shops: all ${#scenarios[@]} runs passed"
