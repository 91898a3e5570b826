#!/usr/bin/env bash
# `make bench-mls` (issue 17, not part of `make test`): the MLS spike in bench/mls, its own cargo
# workspace (the root workspace excludes it, so `cargo test --workspace` never builds OpenMLS).
# Builds it natively and for wasm32 with Sotto's wasm settings (wasm-pack.toml's profile and
# wasm-opt level), runs it natively and in headless Chromium, builds Sotto's pkg/ for the size
# comparison, and prints the tables of docs/design/groups-and-devices.md (also kept in
# bench/mls/target/results/table.md). Offline apart from crates from the registry.
#
# Options (environment): MLS_ROUNDS (default 5), MLS_BROWSER_BIG (1: include the 1,000-member
# group in the browser; default 1).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

scripts/setup.sh --with-browser
rounds=${MLS_ROUNDS:-5}
crate=bench/mls
out=$crate/target/results
pkg=$crate/target/pkg
mkdir -p "$out"

step "Sotto's package, for the size comparison (scripts/build-wasm.sh)"
scripts/build-wasm.sh

profile=$(setting build profile)
step "cargo build bench/mls: native (release) and wasm32 ($profile settings)"
(cd $crate && cargo build --quiet --release --bin native)
# bench/mls/Cargo.toml repeats the root's [profile.wasm-release] (opt-level "s", full LTO, one
# codegen unit): a workspace of its own cannot inherit it.
(cd $crate && cargo build --quiet --lib --target wasm32-unknown-unknown --profile "$profile")
wasm=$crate/target/wasm32-unknown-unknown/$profile/sotto_mls_bench.wasm
if [ ! -f "$pkg/mls_bg.wasm" ] || [ "$wasm" -nt "$pkg/mls_bg.wasm" ]; then
  step "wasm-bindgen + wasm-opt $(setting wasm-opt level) (a few minutes on 2 cores)"
  rm -rf "$pkg"
  wasm-bindgen --target web --out-dir "$pkg" --out-name mls "$wasm"
  cp "$pkg/mls_bg.wasm" "$crate/target/mls_named.wasm"
  optimise_wasm "$pkg/mls_bg.wasm"
fi

# The post-quantum suite natively (feature `xwing`: libcrux's provider, X-Wing), in a target dir
# of its own since the feature changes openmls_traits and so nearly everything above it.
step "cargo build bench/mls --features xwing (native, release)"
(cd $crate && cargo build --quiet --release --features xwing --bin native --target-dir target/xwing)

step "native: $rounds rounds"
"$crate/target/release/native" "$rounds" >"$out/native.json"
step "native, X-Wing suite: $rounds rounds"
"$crate/target/xwing/release/native" "$rounds" >"$out/xwing.json"
step "headless Chromium: $rounds rounds"
node $crate/page/run.mjs "$pkg" "$rounds" "${MLS_BROWSER_BIG:-1}" >"$out/browser.json"

python3 $crate/report.py "$out/native.json" "$out/browser.json" "$crate/target/mls_named.wasm" \
  "$pkg/mls_bg.wasm" "$(setting build out-dir)/$(setting build out-name)_bg.wasm" \
  "$out/xwing.json" | tee "$out/table.md"
