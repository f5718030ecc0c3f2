#!/usr/bin/env bash
# Renders a real nightly report in headless Chromium (Debian's package) and checks it:
# the page loads with no external request, the rendered DOM has the headline figures and the
# chart, and a screenshot is written for a person to look at.
#   usage: scripts/check-report-html.sh [OUT_DIR]     (needs: apt-get install chromium)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/report-check}
rm -rf "$out" && mkdir -p "$out"
bin=target/release/ligdicash-reconciler
[[ -x $bin ]] || cargo build --release --locked
browser=$(command -v chromium || command -v chromium-browser || true)
if [[ -z $browser ]]; then
  echo "chromium not found: apt-get install chromium" >&2
  exit 1
fi

"$bin" demo --payments 200 --keep-db "$out/demo.db" >/dev/null
day=$(date -u +%F)
"$bin" --database "$out/demo.db" report --date "$day" --out "$out" >/dev/null
page="$out/$day.html"

flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
  --disable-background-networking --disable-component-update --disable-sync
  --user-data-dir="$out/profile" --window-size=1200,1400)
"$browser" "${flags[@]}" --dump-dom "file://$PWD/$page" >"$out/dom.html" 2>"$out/chromium.log"
"$browser" "${flags[@]}" --screenshot="$PWD/$out/report.png" "file://$PWD/$page" 2>>"$out/chromium.log"

fail() { echo "report HTML check failed: $*" >&2; exit 1; }
grep -q "LigdiCash reconciliation — $day" "$out/dom.html" || fail "no title in the rendered DOM"
grep -q "<svg" "$out/dom.html" || fail "no chart"
grep -q "Need a human" "$out/dom.html" || fail "no headline cards"
grep -Eq '(src|href)="https?:' "$page" && fail "the page loads an external asset"
size=$(stat -c %s "$out/report.png")
((size > 20000)) || fail "screenshot is only $size bytes"
echo "report HTML renders in $($browser --version): $out/report.png ($size bytes)"
