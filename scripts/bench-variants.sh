#!/usr/bin/env bash
# The crypto build variants of sotto-wasm, measured side by side (issue 18): each is built with
# the `bench` feature into a target dir of its own (target/bench-<name>, so switching variants
# never rebuilds another's tree), run through the browser crypto bench (tests/bench/run.mjs,
# only the rows the variants change) and sized; the results go to
# $results/variants/<name>.json, which tests/bench/report.mjs turns into one table.
#
#   scripts/bench-variants.sh RESULTS_DIR [NAME...]     (default: every variant below)
#
# Called by scripts/bench.sh; bounded by its own rounds (BENCH_VARIANT_ROUNDS, default 9; Sotto and libsodium.js only) and
# batch length (BENCH_TARGET_MS). A variant's first build compiles every dependency for wasm32
# (a few minutes on 2 cores); later runs are incremental.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

results=${1:?usage: scripts/bench-variants.sh RESULTS_DIR [NAME...]}
shift
mkdir -p "$results/variants"
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
shipped_profile=$(setting build profile)

# The crates that do the crypto work (the crypto column of `cargo tree -p sotto-wasm`).
CRYPTO_CRATES=(chacha20 chacha20-simd128 poly1305 chacha20poly1305 universal-hash cipher
  curve25519-dalek x25519-dalek ed25519-dalek sha2 hkdf hmac pbkdf2 blake2 argon2 aes ctr lioness-rs
  sphinx-packet)
# Every variant names the crypto crates' opt-level itself, so none inherits the shipped one;
# sotto-proto and sotto-wasm keep the shipped "z" in every variant, and wasm-pack.toml's
# wasm-opt flags follow each variant's level.
crypto_opt() {
  local c
  for c in "${CRYPTO_CRATES[@]}"; do
    printf -- '--config\nprofile.wasm-variant.package."%s".opt-level=%s\n' "$c" "$1"
  done
}

# name | what (for the table) | per-package opt-level 3 (yes/no) | wasm32 rustflags | wasm-opt level
# The variants that differ only in wasm-opt share a cargo build (the name before '+').
VARIANTS=(
  "size|opt-level \"s\" (sotto-proto and sotto-wasm \"z\" as shipped), LTO, wasm-opt -Oz (the crypto settings shipped before issue 18)|no||-Oz"
  "o3|+ crypto crates at opt-level 3|yes||-Oz"
  "o3-simd|+ crypto crates at opt-level 3, simd128|yes|-C target-feature=+simd128|-Oz"
  "o3-d64|+ crypto crates at opt-level 3, curve25519-dalek 64-bit backend|yes|--cfg curve25519_dalek_bits=\"64\"|-Oz"
  "o3-simd-d64|+ crypto crates at opt-level 3, simd128, curve25519-dalek 64-bit backend|yes|-C target-feature=+simd128 --cfg curve25519_dalek_bits=\"64\"|-Oz"
  "o3-simd-fiat|+ crypto crates at opt-level 3, simd128, curve25519-dalek fiat backend (64-bit)|yes|-C target-feature=+simd128 --cfg curve25519_dalek_bits=\"64\" --cfg curve25519_dalek_backend=\"fiat\"|-Oz"
  "o3-simd+O3|the same build as o3-simd, wasm-opt -O3|yes|-C target-feature=+simd128|-O3"
)
wanted=("$@")
# The variant whose settings are the shipped ones (Cargo.toml's [profile.wasm-release.package.*],
# .cargo/config.toml's wasm32 rustflags, wasm-pack.toml's wasm-opt level): keep them in step.
CHOSEN=o3-simd
echo "$CHOSEN" >"$results/variants/chosen.txt"
for v in "${VARIANTS[@]}"; do echo "${v%%|*}"; done >"$results/variants/order.txt"

for v in "${VARIANTS[@]}"; do
  IFS='|' read -r name what o3 flags level <<<"$v"
  if ((${#wanted[@]})) && [[ ! " ${wanted[*]} " == *" $name "* ]]; then continue; fi
  build=${name%%+*}
  dir="$target_dir/bench-$build"
  pkg="$dir/pkg-${name//+/-}"
  step "variant $name: $what"
  cfg=(--config "profile.wasm-variant.inherits=\"$shipped_profile\"")
  if [ "$o3" = yes ]; then level_crypto=3; else level_crypto='"s"'; fi
  mapfile -t -O "${#cfg[@]}" cfg < <(crypto_opt "$level_crypto")
  start=$(date +%s)
  # RUSTFLAGS replaces .cargo/config.toml's target rustflags (the shipped ones) and, with
  # --target, reaches only the wasm32 artifacts (not build scripts or proc macros).
  if ! CARGO_TARGET_DIR="$dir" RUSTFLAGS="$flags" \
      cargo build --quiet -p sotto-wasm --features bench --target wasm32-unknown-unknown \
      "${cfg[@]}" --profile wasm-variant; then
    python3 -c 'import json,sys; json.dump({"name": sys.argv[1], "what": sys.argv[2], "error": "the build failed"}, open(sys.argv[3], "w"))' \
      "$name" "$what" "$results/variants/$name.json"
    continue
  fi
  rm -rf "$pkg"
  wasm-bindgen --target web --out-dir "$pkg" --out-name sotto \
    "$dir/wasm32-unknown-unknown/wasm-variant/sotto_wasm.wasm"
  WASM_OPT_LEVEL=$level optimise_wasm "$pkg/sotto_bg.wasm"
  # For the profile below: the chosen variant's bench build with its name section kept (no
  # wasm-opt), so that the profiler names the Rust functions.
  if [ "$name" = "$CHOSEN" ]; then
    named="$dir/named-$name"
    rm -rf "$named"
    wasm-bindgen --target web --out-dir "$named" --out-name sotto \
      "$dir/wasm32-unknown-unknown/wasm-variant/sotto_wasm.wasm"
  fi
  # The size that would ship: the same settings without the bench feature (its exports pull in
  # the storage seeding and more), through the same wasm-bindgen and wasm-opt steps. A profile
  # of its own (same settings) keeps the two cdylibs apart, so neither relinks the other's.
  ship_cfg=("${cfg[@]/wasm-variant./wasm-variant-ship.}")
  CARGO_TARGET_DIR="$dir" RUSTFLAGS="$flags" cargo build --quiet -p sotto-wasm \
    --target wasm32-unknown-unknown "${ship_cfg[@]}" --profile wasm-variant-ship
  ship="$dir/ship-${name//+/-}"
  rm -rf "$ship"
  wasm-bindgen --target web --out-dir "$ship" --out-name sotto \
    "$dir/wasm32-unknown-unknown/wasm-variant-ship/sotto_wasm.wasm"
  WASM_OPT_LEVEL=$level optimise_wasm "$ship/sotto_bg.wasm"
  build_s=$(($(date +%s) - start))
  raw=$(stat -c %s "$ship/sotto_bg.wasm")
  # gzip level 9 as tests/bench/report.mjs measures pkg/ (node's zlib; GNU gzip differs a little)
  gz=$(node -e 'const fs = require("fs"); console.log(require("zlib").gzipSync(fs.readFileSync(process.argv[1]), { level: 9 }).length)' "$ship/sotto_bg.wasm")
  (cd tests && node bench/run.mjs --pkg "$pkg" --rounds "${BENCH_VARIANT_ROUNDS:-9}" \
      --target-ms "${BENCH_TARGET_MS:-120}" --who sotto,libsodium \
      --only x25519-dh,chacha-seal-1k,chacha-seal-64k,build-3hop-packet,x25519-dh-in-wasm,sphinx-key-derive-3hop) \
    >"$results/variants/$name.browser.json"
  load=$(cut -d' ' -f1 /proc/loadavg)
  python3 - "$results/variants" "$name" "$what" "$flags" "$o3" "$level" "$raw" "$gz" "$build_s" "$load" <<'EOF'
import json, sys
out, name, what, flags, o3, level, raw, gz, build_s, load = sys.argv[1:]
browser = json.load(open(f"{out}/{name}.browser.json"))
json.dump({"name": name, "what": what, "rustflags": flags, "crypto_opt3": o3 == "yes",
           "wasm_opt": level, "wasm_raw": int(raw), "wasm_gz": int(gz), "build_s": int(build_s), "load1": float(load),
           "results": browser["results"], "checks": browser.get("checks"),
           "sotto_error": browser.get("sotto_error")}, open(f"{out}/{name}.json", "w"), indent=1)
EOF
  rm -f "$results/variants/$name.browser.json"
done

# Where the chosen variant's time goes: a CPU profile (Chromium's sampling profiler) of Sotto's
# side alone of each row, self time per function -> $results/profile.json.
if [ -n "${named:-}" ]; then
  step "CPU profile of variant $CHOSEN (names kept, no wasm-opt)"
  for op in x25519-dh-in-wasm chacha-seal-1k chacha-seal-64k build-3hop-packet; do
    (cd tests && node bench/run.mjs --pkg "$named" --rounds 2 --target-ms 150 --only "$op" \
        --who sotto --profile) >"$results/profile-$op.tmp"
  done
  python3 - "$results" x25519-dh-in-wasm chacha-seal-1k chacha-seal-64k build-3hop-packet <<'EOF'
import json, sys
results, ops = sys.argv[1], sys.argv[2:]
out = {op: json.load(open(f"{results}/profile-{op}.tmp")).get("profile", []) for op in ops}
json.dump({"variant": open(f"{results}/variants/chosen.txt").read().strip(), "ops": out},
          open(f"{results}/profile.json", "w"), indent=1)
EOF
  rm -f "$results"/profile-*.tmp
fi
