#!/usr/bin/env bash
# Installs what building and testing Sotto needs, skipping what is already there:
# the wasm32 target, a wasm-bindgen CLI matching Cargo.lock, Debian's chromium and
# chromium-driver (tests only), and the npm packages in tests/ (playwright-core, binaryen's
# wasm-opt). Usage: scripts/setup.sh [--with-browser]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

with_browser=false
[ "${1:-}" = "--with-browser" ] && with_browser=true

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

# wasm-bindgen's CLI must be exactly the version of the wasm-bindgen crate in Cargo.lock.
if [ ! -f Cargo.lock ]; then cargo generate-lockfile --quiet; fi
want=$(python3 - <<'PY'
import tomllib
lock = tomllib.load(open("Cargo.lock", "rb"))
print(next(p["version"] for p in lock["package"] if p["name"] == "wasm-bindgen"))
PY
)
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ]; then
  step "cargo install wasm-bindgen-cli --version $want (a few minutes, once)"
  # no --locked: the registry copy's lock file pins a version that is not published
  cargo install --quiet wasm-bindgen-cli --version "$want"
fi

if [ ! -d tests/node_modules ] || [ tests/package-lock.json -nt tests/node_modules/.package-lock.json ]; then
  step "npm ci (tests/: playwright-core, binaryen, vite)"
  (cd tests && npm ci --no-audit --no-fund --loglevel=error)
fi

if $with_browser && { [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; }; then
  step "apt-get install chromium chromium-driver"
  if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver >/dev/null
fi
