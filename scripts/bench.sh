#!/usr/bin/env bash
# `make bench`: builds what the benchmarks need, runs them side by side with the alternatives
# and rewrites BENCHMARKS.md (tests/bench/report.mjs). Figures are printed as ratios taken in
# one run; nothing here is a pass/fail test. Bounded: under 10 minutes on 2 cores once built,
# plus about a minute per crypto build variant (their first run compiles every variant's tree,
# two LTO builds each: tens of minutes on 2 cores; later runs are incremental).
#
#   1. crypto in headless Chromium: Sotto's wasm (bench build) vs libsodium.js, @noble, WebCrypto,
#      then each crypto build variant of the wasm (scripts/bench-variants.sh) against libsodium.js
#   2. onion packets: 3-hop build in the browser (in DH-equivalents), one hop natively (criterion)
#   3. relay network: `sotto-relay loadgen` against `sotto-relay dev` on loopback, and relay
#      memory with 10,000 queues (loadgen --create-queues against three `sotto-relay run`)
#   4-5. the messenger in the browser (tests/bench/app.mjs): browser to browser through a real
#      `sotto-relay dev`, a stored profile of 10,000 messages, the PWA's cold load
#   6. size: pkg/ and the PWA, beside libsodium-wrappers' npm package
#   7. the PWA's main thread (tests/bench/longtask.mjs): longest long task, worker vs page
#
# Options (environment): BENCH_ROUNDS (default 7), BENCH_TARGET_MS (batch length, default 120),
# BENCH_RSS_SECONDS (time allowed for creating the 10,000 queues, default 180).
# Cargo's target dir is honoured (CARGO_TARGET_DIR): builds and binaries are taken from there.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh


scripts/setup.sh --with-browser
results=target/bench
mkdir -p "$results"
rm -f "$results"/{browser.json,native.log,relay.json,relay.txt,app.json,app.txt}
rm -rf "$results/variants"
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

# --- crypto build variants (issue 18): each in its own target/bench-<variant> -----------------
step "crypto build variants of sotto-wasm (scripts/bench-variants.sh)"
scripts/bench-variants.sh "$results" || echo 'a build variant failed (see the output above)' >&2

# --- relay network ------------------------------------------------------------------------
# `sotto-relay dev --ephemeral` on loopback ports of its own, driven by `sotto-relay loadgen`
# at 100, 300 and 500 msg/s for 6 s each, then 10,000 queues on three `sotto-relay run` relays
# (tests/bench/relay.mjs, rss.mjs). Without a load generator (or when it fails) the relay rows
# read "not measured yet" with the reason.
step "sotto-relay (release) and its load generator"
relay_bin="$target_dir/release/sotto-relay"
relay_built=true
cargo build --quiet --release -p sotto-relay || relay_built=false
if ! $relay_built; then
  echo 'the relay did not build' >"$results/relay.txt"
elif ! "$relay_bin" loadgen --help >/dev/null 2>&1; then
  echo '`sotto-relay` has no `loadgen` subcommand yet' >"$results/relay.txt"
elif ! (cd tests && SOTTO_RELAY_BIN="$relay_bin" BENCH_RSS_SECONDS="${BENCH_RSS_SECONDS:-180}" \
    timeout 420 node bench/relay.mjs) >"$results/relay.json.tmp"; then
  echo 'the relay load generator run failed (see the output above)' >"$results/relay.txt"
else
  mv "$results/relay.json.tmp" "$results/relay.json"
fi
rm -f "$results/relay.json.tmp"

# --- the messenger in the browser ----------------------------------------------------------
# tests/bench/app.mjs: its own `sotto-relay dev --ephemeral` on free loopback ports and
# headless Chromium; pages use the served pkg/ (the shipped build), the storage bench's seeding
# the bench build. Each part is bounded in time; a failed part is reported as not measured.
step "browser to browser, storage, PWA load (headless Chromium, sotto-relay dev)"
if ! $relay_built; then
  echo 'the relay did not build' >"$results/app.txt"
elif ! (cd tests && SOTTO_RELAY_BIN="$relay_bin" timeout 300 node bench/app.mjs --pkg "$bench_pkg") \
    >"$results/app.json.tmp"; then
  echo 'the browser run failed (see the output above)' >"$results/app.txt"
else
  mv "$results/app.json.tmp" "$results/app.json"
fi
rm -f "$results/app.json.tmp"

# --- the PWA's main thread ---------------------------------------------------------------------
# tests/bench/longtask.mjs: the longest main-thread task of the PWA's page while it unlocks a
# profile, sends a 10 MB file and receives 200 messages, with the library in a worker (as
# shipped) and on the main thread. Its own `sotto-relay dev --ephemeral` on free ports.
step "the PWA's main thread: long tasks (headless Chromium, sotto-relay dev)"
rm -f "$results"/{longtask.json,longtask.txt}
if ! $relay_built; then
  echo 'the relay did not build' >"$results/longtask.txt"
elif ! (cd tests && SOTTO_RELAY_BIN="$relay_bin" timeout 480 node bench/longtask.mjs) >"$results/longtask.json.tmp"; then
  echo 'the long-task run failed (see the output above)' >"$results/longtask.txt"
else
  mv "$results/longtask.json.tmp" "$results/longtask.json"
fi
rm -f "$results/longtask.json.tmp"

# --- the report ---------------------------------------------------------------------------
step "BENCHMARKS.md"
node tests/bench/report.mjs "$results" BENCHMARKS.md
