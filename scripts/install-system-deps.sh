#!/usr/bin/env bash
# Installs the Debian packages the tests need, only those missing.
#   scripts/install-system-deps.sh unit      openssl, gzip, git, Python argon2/cryptography (independent checkers)
#   scripts/install-system-deps.sh interop   + the reference programs: jamid, dhtnode and the harness's needs
set -euo pipefail

unit=(openssl gzip git python3 python3-argon2 python3-cryptography)
interop=("${unit[@]}" jami-daemon dhtnode python3-opendht dbus-daemon python3-dbus python3-gi python3-msgpack gcc libc6-dev linux-libc-dev iproute2 nftables gnutls-bin coturn)

case "${1:-unit}" in
  unit) wanted=("${unit[@]}") ;;
  interop) wanted=("${interop[@]}") ;;
  *) echo "usage: $0 [unit|interop]" >&2; exit 2 ;;
esac

missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "missing Debian packages: ${missing[*]} (run this script as root on Debian 12, or install them)" >&2
  # Unit tests run without them: the few that use one of these tools as a checker are skipped, and say so.
  # CI (JAMI_REQUIRE_ALL=1) and the interop suites need everything.
  if [ "${1:-unit}" = unit ] && [ -z "${JAMI_REQUIRE_ALL:-}" ]; then
    echo "npm test goes on; tests that need them will be reported as skipped" >&2
    exit 0
  fi
  exit 1
fi
echo "installing Debian packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
