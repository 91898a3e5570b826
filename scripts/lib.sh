# Shared by the scripts in this folder: sourced, not run.
# Tools that setup.sh installs into the project (npm packages) are found through these paths.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$HOME/.cargo/bin:$ROOT/tests/node_modules/.bin:$PATH"
WASM_OPT="$ROOT/tests/node_modules/.bin/wasm-opt"
step() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
# setting SECTION KEY: a value from wasm-pack.toml (the wasm build settings).
setting() {
  python3 -c 'import sys,tomllib; print(tomllib.load(open(sys.argv[3],"rb"))[sys.argv[1]][sys.argv[2]])' "$1" "$2" "$ROOT/wasm-pack.toml"
}
# optimise_wasm FILE: wasm-opt in place, as wasm-pack.toml's [wasm-opt] says (or not at all);
# WASM_OPT_LEVEL overrides its level (scripts/bench-variants.sh); its `flags` follow the level.
# The features enabled are those rustc may emit for wasm32 (simd128 when .cargo/config.toml's
# rustflags turn it on): enabling one lets wasm-opt accept and keep it, it never adds
# instructions of a feature the input lacks.
optimise_wasm() {
  [ "$(setting wasm-opt enabled)" = "True" ] || return 0
  local flags
  read -ra flags <<<"$(setting wasm-opt flags)"
  "$WASM_OPT" "${WASM_OPT_LEVEL:-$(setting wasm-opt level)}" "${flags[@]}" --enable-bulk-memory \
    --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals \
    --enable-reference-types --enable-simd "$1" -o "$1.opt"
  mv "$1.opt" "$1"
}
