#!/usr/bin/env bash
# Installs what building and testing Sotto needs, skipping what is already there:
# the wasm32 target, a wasm-bindgen CLI matching Cargo.lock, the browsers and their drivers
# (tests only: Debian's chromium, chromium-driver, firefox-esr, webkit2gtk-driver and xvfb, and
# geckodriver from the crates registry), and the npm packages in tests/ (playwright-core,
# binaryen's wasm-opt, typescript). Usage: scripts/setup.sh [--with-browser]
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
  step "npm ci (tests/: playwright-core, binaryen, vite, typescript)"
  (cd tests && npm ci --no-audit --no-fund --loglevel=error)
fi

# The three engines of tests/e2e/engines.test.mjs: Chromium, Firefox ESR (driven by
# geckodriver) and WebKitGTK (WebKitWebDriver and its MiniBrowser, on an Xvfb display).
if $with_browser; then
  missing=()
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  [ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
  [ -x /usr/bin/firefox-esr ] || missing+=(firefox-esr)
  command -v WebKitWebDriver >/dev/null || missing+=(webkit2gtk-driver)
  command -v xvfb-run >/dev/null || missing+=(xvfb)
  if [ ${#missing[@]} -gt 0 ]; then
    step "apt-get install ${missing[*]}"
    if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  if ! geckodriver --version >/dev/null 2>&1; then
    step "cargo install geckodriver (a few minutes, once)"
    cargo install --quiet geckodriver
  fi
fi
