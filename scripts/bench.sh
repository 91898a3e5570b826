#!/usr/bin/env bash
# `make bench`: builds what the benchmarks need, runs them side by side with the alternatives
# and rewrites BENCHMARKS.md (tests/bench/report.mjs). Figures are printed as ratios taken in
# one run; nothing here is a pass/fail test. Bounded: about 5 minutes on 2 cores once built.
#
#   1. crypto in headless Chromium: Sotto's wasm (bench build) vs libsodium.js, @noble, WebCrypto
#   2. onion packets: 3-hop build in the browser (in DH-equivalents), one hop natively (criterion)
#   3. relay network: `sotto-relay loadgen` against `sotto-relay dev` on loopback
#   6. size: pkg/ and the PWA, beside libsodium-wrappers' npm package
#
# Options (environment): BENCH_ROUNDS (default 7), BENCH_TARGET_MS (batch length, default 120).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh


scripts/setup.sh --with-browser
results=target/bench
mkdir -p "$results"
rm -f "$results"/{browser.json,native.log,relay.json,relay.txt}
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')

# --- the shipped package (sizes) -------------------------------------------------------------
scripts/build-wasm.sh

# --- the bench build of sotto-wasm: same settings as pkg/, plus the `bench` feature ---------
# A profile of its own ("wasm-bench", inheriting the shipped profile named in wasm-pack.toml)
# keeps it from overwriting the shipped build's artifacts; it goes to target/bench-pkg, never pkg/.
bench_pkg="$target_dir/bench-pkg"
rm -rf "$bench_pkg"
if grep -Eq '^bench *=' crates/sotto-wasm/Cargo.toml; then
  shipped_profile=$(setting build profile)
  step "cargo build -p sotto-wasm --features bench (wasm32, $shipped_profile settings)"
  cargo build --quiet -p sotto-wasm --features bench --target wasm32-unknown-unknown \
    --config "profile.wasm-bench.inherits=\"$shipped_profile\"" --profile wasm-bench
  wasm-bindgen --target web --out-dir "$bench_pkg" --out-name sotto \
    "$target_dir/wasm32-unknown-unknown/wasm-bench/sotto_wasm.wasm"
  optimise_wasm "$bench_pkg/sotto_bg.wasm"
else
  step "crates/sotto-wasm has no 'bench' feature: Sotto's browser rows stay empty"
fi

# --- native: the criterion bench's reference DH and onion hop, then its ratio section -------
step "cargo bench -p sotto-proto --bench onion (short warm-up and measurement)"
cargo bench --quiet -p sotto-proto --bench onion -- --warm-up-time 1 --measurement-time 2 \
  'reference/x25519 DH|onion/process forward hop|onion/process final hop' | tee "$results/native.log"

# --- browser ------------------------------------------------------------------------------
step "crypto and onion build in headless Chromium"
(cd tests && node bench/run.mjs --pkg "$bench_pkg" --rounds "${BENCH_ROUNDS:-7}" \
  --target-ms "${BENCH_TARGET_MS:-120}") >"$results/browser.json"

# --- relay network ------------------------------------------------------------------------
# `sotto-relay dev --ephemeral` on loopback ports of its own, driven by `sotto-relay loadgen`
# at 100 and 500 msg/s for 6 s each (tests/bench/relay.mjs). Without a load generator (or when
# it fails) rows 3-5 read "not measured yet" with the reason.
step "sotto-relay (release) and its load generator"
if ! cargo build --quiet --release -p sotto-relay; then
  echo 'the relay did not build' >"$results/relay.txt"
elif ! ./target/release/sotto-relay loadgen --help >/dev/null 2>&1; then
  echo '`sotto-relay` has no `loadgen` subcommand yet' >"$results/relay.txt"
elif ! (cd tests && SOTTO_RELAY_BIN="$ROOT/target/release/sotto-relay" timeout 240 node bench/relay.mjs) \
    >"$results/relay.json.tmp"; then
  echo 'the relay load generator run failed (see the output above)' >"$results/relay.txt"
else
  mv "$results/relay.json.tmp" "$results/relay.json"
fi
rm -f "$results/relay.json.tmp"

# --- the report ---------------------------------------------------------------------------
step "BENCHMARKS.md"
node tests/bench/report.mjs "$results" BENCHMARKS.md
