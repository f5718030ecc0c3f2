#!/usr/bin/env bash
# The commands of examples/shop/README.md ("Run them by hand", the ```sh tested blocks), run
# as written against the real binary, the sandbox and each example shop, so that they cannot
# drift from the code (a curl without its Content-Type once made the lost-callback walkthrough
# prove nothing).
#
#   examples/shop/run-readme.sh               # with the PHP shop, then the Python one
#   examples/shop/run-readme.sh python        # one of them
#
# What differs from a person pasting the blocks, and only that: `cargo build --release` is
# skipped and $B is the binary ($LIGDICASH_RECONCILER_BIN, else the newer of target/release and
# target/debug); the ports 8080, 8000, 9187 and 9188 are free ones; /tmp/ is a fresh
# directory; for the Python shop, the PHP line's "or:" alternative runs instead. Then it
# checks what the README says happens: the first order paid and shipped once, the second one
# too with its callbacks lost, and only the first order's two callbacks at the reconciler.
# Needs curl, jq, openssl, python3 (free ports) and php-cli with pdo_sqlite and curl.
# KEEP=1 keeps each run's directory (the script run and its log) after success too.
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
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The tested blocks, in order.
blocks() { awk '/^```sh tested$/ { on = 1; next } /^```$/ { on = 0 } on' "$here/README.md"; }

run_with() {
  local shop=$1 work sandbox shop_port metrics api script
  work=$(mktemp -d "${TMPDIR:-/tmp}/shop-readme.XXXXXX")
  sandbox=$(free_port) shop_port=$(free_port) metrics=$(free_port) api=$(free_port)
  script=$work/readme.sh
  echo "== README with the $shop shop ($work, $bin)"
  [[ $(blocks | grep -c .) -gt 20 ]] || { echo "no tested blocks found in $here/README.md" >&2; exit 1; }
  local alternative='s|^php -S .*# or: \(.*\)$|\1|'
  [[ $shop == python ]] || alternative=''
  {
    cat <<EOF
set -euo pipefail
cd "$root"
cleanup() { local pids; pids=\$(jobs -p); [[ -z \$pids ]] || kill \$pids 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT
trap 'exit 1' TERM INT
EOF
    blocks | sed -e '/^cargo build --release$/d' \
      -e "s|^B=target/release/ligdicash-reconciler\$|B=$bin|" \
      -e "s|127\\.0\\.0\\.1:8080|127.0.0.1:$sandbox|g" \
      -e "s|127\\.0\\.0\\.1:8000|127.0.0.1:$shop_port|g" \
      -e "s|127\\.0\\.0\\.1:9187|127.0.0.1:$metrics|g" \
      -e "s|127\\.0\\.0\\.1:9188|127.0.0.1:$api|g" \
      -e "/^B=/!s|/tmp/|$work/|g" \
      -e "$alternative"
    # What the README says happens; $ORDER and $LOST are the README's own variables.
    cat <<EOF

echo "-- run-readme.sh: checking what the README says happens"
shipped() {
  local ref; ref=\$(jq -r .order.reference <<<"\$1")
  for _ in \$(seq 300); do
    [[ \$(curl -fsS "http://127.0.0.1:$shop_port/orders/\$ref" | jq -r '.status + " " + (.shipments|tostring)') == "paid 1" ]] && return 0
    sleep 0.2
  done
  echo "FAIL: order \$ref not paid and shipped once: \$(curl -sS "http://127.0.0.1:$shop_port/orders/\$ref")" >&2
  return 1
}
shipped "\$ORDER"
shipped "\$LOST"
matched=\$(curl -fsS "http://127.0.0.1:$metrics/metrics" |
  awk '/^ligdicash_reconciler_callbacks_total\{result="matched"\}/ { n = \$2 } END { print n + 0 }')
[[ \$matched == 2 ]] || { echo "FAIL: \$matched callbacks matched, not the first order's 2: the lost ones were not lost" >&2; exit 1; }
echo "-- run-readme.sh: ok"
EOF
  } >"$script"
  if ! timeout 180 bash "$script" >"$work/run.log" 2>&1; then
    echo "FAIL: the README's commands with the $shop shop (script $script):" >&2
    tail -n 60 "$work/run.log" >&2
    echo "(the run's files are kept in $work)" >&2
    exit 1
  fi
  [[ -n ${KEEP:-} ]] || rm -rf "$work"
  echo "== README with the $shop shop: ok"
}

shops=("$@")
((${#shops[@]})) || shops=(php python)
for shop in "${shops[@]}"; do
  [[ $shop == php || $shop == python ]] || { echo "usage: $0 [php|python] ..." >&2; exit 2; }
  run_with "$shop"
done
