#!/usr/bin/env bash
# Runs the Rust tests of sotto-proto, sotto-wasm and chacha20-simd128 compiled to wasm32, in
# headless Chromium (Debian's chromium + chromium-driver), through wasm-bindgen-test-runner.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
export CHROMEDRIVER=/usr/bin/chromedriver
export WASM_BINDGEN_USE_BROWSER=1
export WASM_BINDGEN_TEST_WEBDRIVER_JSON="$ROOT/scripts/webdriver.json"
export WASM_BINDGEN_TEST_TIMEOUT=120
step "cargo test --target wasm32-unknown-unknown (headless Chromium)"
if [ $# -gt 0 ]; then
  cargo test --target wasm32-unknown-unknown "$@"
else
  cargo test --target wasm32-unknown-unknown -p sotto-proto -p sotto-wasm -p chacha20-simd128 --lib --tests
fi
