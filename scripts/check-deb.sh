#!/usr/bin/env bash
# Builds the .deb with cargo-deb and checks what it installs and what it runs on install.
#   usage: scripts/check-deb.sh      (needs: cargo install cargo-deb)
set -euo pipefail
cd "$(dirname "$0")/.."
deb=$(cargo deb --locked 2>/dev/null | tail -n 1)
[[ -f $deb ]] || { echo "cargo deb produced no package" >&2; exit 1; }
contents=$(dpkg-deb --contents "$deb")
for path in ./usr/bin/ligdicash-reconciler \
  ./etc/ligdicash-reconciler/config.toml \
  ./usr/lib/sysusers.d/ligdicash-reconciler.conf \
  ./usr/lib/tmpfiles.d/ligdicash-reconciler.conf \
  ./usr/share/ligdicash-reconciler/prometheus-alerts.yml \
  ./usr/share/ligdicash-reconciler/schema.sql \
  ./usr/share/ligdicash-reconciler/schema.postgres.sql \
  ./usr/share/doc/ligdicash-reconciler/operations.md; do
  grep -q " $path\$" <<<"$contents" || { echo "package lacks $path" >&2; exit 1; }
done
grep -Eq ' ./(usr/)?lib/systemd/system/ligdicash-reconciler.service$' <<<"$contents" ||
  { echo "package lacks the systemd unit" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dpkg-deb --control "$deb" "$work"
grep -q '^/etc/ligdicash-reconciler/config.toml$' "$work/conffiles" || { echo "config is not a conffile" >&2; exit 1; }
grep -q 'systemd-sysusers' "$work/postinst" || { echo "postinst does not create the user" >&2; exit 1; }
grep -q 'enable' "$work/postinst" || { echo "postinst does not enable the service" >&2; exit 1; }
echo "package ok: $deb ($(stat -c %s "$deb") bytes)"

# With --install (as root, on a throwaway machine such as CI): install it for real, check
# what postinst did, let the service user create the database, then purge.
[[ ${1:-} == --install ]] || exit 0
dpkg -i "$deb" >/dev/null
trap 'dpkg --purge ligdicash-reconciler >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
getent passwd ligdicash-reconciler >/dev/null || { echo "no service user" >&2; exit 1; }
[[ $(stat -c '%a %G' /var/lib/ligdicash-reconciler) == "2770 ligdicash-reconciler" ]] ||
  { echo "state directory is not 2770 group ligdicash-reconciler" >&2; exit 1; }
[[ -L /etc/systemd/system/multi-user.target.wants/ligdicash-reconciler.service ]] ||
  { echo "service not enabled" >&2; exit 1; }
runuser -u ligdicash-reconciler -- /usr/bin/ligdicash-reconciler \
  --config /etc/ligdicash-reconciler/config.toml migrate
echo "package installs: user, shared state directory, enabled unit; the service user can create the database"
