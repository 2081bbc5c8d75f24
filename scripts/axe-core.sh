#!/usr/bin/env bash
# axe-core for the accessibility tests (tests/test_a11y.py injects node_modules/axe-core/axe.min.js
# into the pages). From the npm registry, into ./node_modules, never committed; once.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f node_modules/axe-core/axe.min.js ] && exit 0
if ! command -v npm >/dev/null 2>&1; then
    echo "the accessibility tests need npm (Debian: apt-get install npm)" >&2
    exit 1
fi
npm install --no-save --no-package-lock --no-audit --no-fund --silent axe-core@4
