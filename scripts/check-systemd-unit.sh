#!/usr/bin/env bash
# Checks deploy/ligdicash-reconciler.service with systemd's own tools: `verify` must pass and
# `security --offline=true` must report an overall exposure of at most 1.5.
#   usage: scripts/check-systemd-unit.sh     (needs: apt-get install systemd)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$PWD/target/release/ligdicash-reconciler
[[ -x $bin ]] || cargo build --release --locked
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# verify checks that ExecStart exists: point it at the binary just built.
sed "s|/usr/bin/ligdicash-reconciler|$bin|" deploy/ligdicash-reconciler.service \
  >"$work/ligdicash-reconciler.service"
if ! out=$(systemd-analyze verify "$work/ligdicash-reconciler.service" 2>&1) || [[ -n $out ]]; then
  echo "systemd-analyze verify failed:" >&2
  echo "$out" >&2
  exit 1
fi
exposure=$(systemd-analyze security --offline=true "$work/ligdicash-reconciler.service" 2>&1 |
  sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
[[ -n $exposure ]] || { echo "no exposure figure from systemd-analyze security" >&2; exit 1; }
echo "systemd-analyze verify: ok; security exposure: $exposure (limit 1.5)"
awk -v e="$exposure" 'BEGIN { exit !(e <= 1.5) }' || { echo "exposure $exposure is over 1.5" >&2; exit 1; }
