#!/usr/bin/env bash
# Builds pkg/ (the npm package) from crates/sotto-wasm, with the settings in wasm-pack.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

crate=$(setting build crate)
target=$(setting build target)
out_dir=$(setting build out-dir)
out_name=$(setting build out-name)
profile=$(setting build profile)

step "cargo build -p $crate --target wasm32-unknown-unknown --profile $profile"
cargo build --quiet -p "$crate" --target wasm32-unknown-unknown --profile "$profile"
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
wasm="$target_dir/wasm32-unknown-unknown/$profile/${crate//-/_}.wasm"

step "wasm-bindgen --target $target --out-dir $out_dir --out-name $out_name"
wasm-bindgen --target "$target" --out-dir "$out_dir" --out-name "$out_name" "$wasm"

step "wasm-opt $(setting wasm-opt level) $(setting wasm-opt flags) (enabled: $(setting wasm-opt enabled))"
optimise_wasm "$out_dir/${out_name}_bg.wasm"
raw=$(stat -c %s "$out_dir/${out_name}_bg.wasm")
gz=$(gzip -9c "$out_dir/${out_name}_bg.wasm" | wc -c)
echo "pkg: ${out_name}_bg.wasm $raw bytes, $gz gzipped"
