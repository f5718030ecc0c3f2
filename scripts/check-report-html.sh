#!/usr/bin/env bash
# Renders a real nightly report in headless Chromium (Debian's package), once in French and
# once in English, and checks each: the page loads with no external request, the rendered DOM
# is in the asked language (<html lang>, title, headline cards, grouped amounts), has the
# chart, the list of what needs a person, the cases to handle and the collapsed list of
# completed payments, an
# installed font has the narrow no-break space French amounts are grouped with, a screenshot
# is written for a person, and the page printed to PDF (as the accountant prints it) has the
# collapsed list open: its last order reference is in the PDF's text.
#   usage: scripts/check-report-html.sh [OUT_DIR]
#   (needs: apt-get install chromium poppler-utils jq)
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
fail() { echo "report HTML check failed: $*" >&2; exit 1; }
for tool in pdftotext jq; do
  command -v "$tool" >/dev/null || fail "$tool not found: apt-get install poppler-utils jq"
done

# Chromium finds fonts through fontconfig: without one covering U+202F, "21 000 XOF" would
# show a missing-glyph box between the digits.
[[ -n $(fc-list ':charset=202f' family) ]] || fail "no installed font has U+202F (fonts-dejavu-core)"

"$bin" demo --payments 200 --keep-db "$out/demo.db" >/dev/null
# The demo's payments are today's: today's report, partial until midnight.
day=$(date -u +%F)

# check LANG TITLE NEED_A_HUMAN PARTIAL AMOUNT_REGEX MONEY_OUT CASES_TITLE
check() {
  local lang=$1 title=$2 need=$3 partial=$4 amount=$5 money_out=$6 cases=$7 dir="$out/$1"
  mkdir -p "$dir"
  printf '[report]\ntime_zone = "UTC"\n' >"$dir/config.toml"
  "$bin" --config "$dir/config.toml" --database "$out/demo.db" \
    report --date "$day" --format html,json --language "$lang" --out "$dir" >/dev/null
  local page="$dir/$day.html"
  local flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
    --disable-background-networking --disable-component-update --disable-sync
    --user-data-dir="$out/profile" --window-size=1200,1400)
  "$browser" "${flags[@]}" --dump-dom "file://$PWD/$page" >"$dir/dom.html" 2>"$dir/chromium.log"
  "$browser" "${flags[@]}" --screenshot="$PWD/$dir/report.png" "file://$PWD/$page" 2>>"$dir/chromium.log"
  "$browser" "${flags[@]}" --no-pdf-header-footer --print-to-pdf="$PWD/$dir/report.pdf" \
    "file://$PWD/$page" 2>>"$dir/chromium.log"
  pdftotext -layout "$dir/report.pdf" "$dir/report.txt"

  local dom="$dir/dom.html"
  grep -q "<html lang=\"$lang\">" "$dom" || fail "$lang: <html lang> is not $lang"
  grep -q "<h1>$title — <time datetime=\"$day\">" "$dom" || fail "$lang: no title in the rendered DOM"
  grep -q "$need" "$dom" || fail "$lang: no headline cards"
  grep -q "$partial" "$dom" || fail "$lang: today's report does not say it is partial"
  grep -Eq "$amount" "$dom" || fail "$lang: no amount grouped as $lang writes it"
  grep -q "<svg" "$dom" || fail "$lang: no chart"
  grep -q "<details><summary>" "$dom" || fail "$lang: no list of completed payments"
  grep -q "<details open" "$dom" && fail "$lang: the completed payments are open on screen"
  grep -q "<h2 id=\"to-handle\">$need (" "$dom" || fail "$lang: no list of what needs a person"
  grep -q "<h2>$money_out</h2>" "$dom" || fail "$lang: no money-out section"
  # The last completed payment is listed only in the collapsed list: printed, it is open.
  local last
  last=$(jq -r '.completed[-1].transaction_id' "$dir/$day.json")
  [[ -n $last && $last != null ]] || fail "$lang: the demo completed no payment"
  grep -qF "$last" "$dir/report.txt" || fail "$lang: printed, the completed payments stay collapsed ($last missing)"
  # The demo leaves mismatches and timeouts: their cases are listed, oldest first.
  grep -q "<section id=\"cases\"><h2>$cases (" "$dom" || fail "$lang: no cases section"
  grep -q "<td>mismatch</td>" "$dom" || fail "$lang: no open mismatch case listed"
  grep -Eq '(src|href)="https?:' "$page" && fail "$lang: the page loads an external asset"
  local size
  size=$(stat -c %s "$dir/report.png")
  ((size > 20000)) || fail "$lang: screenshot is only $size bytes"
  echo "$lang report renders in $($browser --version): $dir/report.png ($size bytes), printed open: $dir/report.pdf"
}

# Chromium writes U+00A0 back as &nbsp; and keeps U+202F as it is.
check fr "Rapprochement LigdiCash" "À traiter" "Rapport partiel" \
  "[0-9]"$'\u202f'"[0-9]{3}(&nbsp;|"$'\u00a0'")XOF" "Versements et retraits" "Dossiers à traiter"
check en "LigdiCash reconciliation" "Need a human" "Partial report" \
  "[0-9],[0-9]{3}(&nbsp;|"$'\u00a0'")XOF" "Money out (payouts and withdrawals)" "Cases to handle"
