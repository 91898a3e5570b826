#!/usr/bin/env bash
# Builds pkg/ (the npm package) from crates/sotto-wasm, with the settings in wasm-pack.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

setting() { # setting SECTION KEY
  python3 -c 'import sys,tomllib; print(tomllib.load(open("wasm-pack.toml","rb"))[sys.argv[1]][sys.argv[2]])' "$1" "$2"
}
crate=$(setting build crate)
target=$(setting build target)
out_dir=$(setting build out-dir)
out_name=$(setting build out-name)
profile=$(setting build profile)
opt_enabled=$(setting wasm-opt enabled)
opt_level=$(setting wasm-opt level)

step "cargo build -p $crate --target wasm32-unknown-unknown --profile $profile"
cargo build --quiet -p "$crate" --target wasm32-unknown-unknown --profile "$profile"
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
wasm="$target_dir/wasm32-unknown-unknown/$profile/${crate//-/_}.wasm"

step "wasm-bindgen --target $target --out-dir $out_dir --out-name $out_name"
wasm-bindgen --target "$target" --out-dir "$out_dir" --out-name "$out_name" "$wasm"

if [ "$opt_enabled" = "True" ]; then
  step "wasm-opt $opt_level"
  "$WASM_OPT" "$opt_level" --enable-bulk-memory --enable-nontrapping-float-to-int \
    --enable-sign-ext --enable-mutable-globals --enable-reference-types \
    "$out_dir/${out_name}_bg.wasm" -o "$out_dir/${out_name}_bg.wasm.opt"
  mv "$out_dir/${out_name}_bg.wasm.opt" "$out_dir/${out_name}_bg.wasm"
fi
raw=$(stat -c %s "$out_dir/${out_name}_bg.wasm")
gz=$(gzip -9c "$out_dir/${out_name}_bg.wasm" | wc -c)
echo "pkg: ${out_name}_bg.wasm $raw bytes, $gz gzipped"
