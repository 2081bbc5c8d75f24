#!/usr/bin/env bash
# System packages the tests need: Debian's chromium (browser tests), redis-server (Redis hub),
# postgresql (the PostgreSQL store; the tests start their own cluster, the package starts none
# here), npm (axe-core for the accessibility tests, see scripts/axe-core.sh) and e2fsprogs
# (mkfs.ext4, for the volume that turns read-only in tests/test_faults.py).
# As root, install what is missing; otherwise say what to install and stop.
set -euo pipefail
missing=()
[ -x /usr/lib/chromium/chromium ] || missing+=(chromium)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v mkfs.ext4 >/dev/null 2>&1 || missing+=(e2fsprogs)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
    echo "the tests need these system packages: ${missing[*]}" >&2
    echo "install them, for example: sudo apt-get install ${missing[*]}" >&2
    exit 1
fi
