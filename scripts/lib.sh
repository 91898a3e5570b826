# Shared by the scripts in this folder: sourced, not run.
# Tools that setup.sh installs into the project (npm packages) are found through these paths.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$HOME/.cargo/bin:$ROOT/tests/node_modules/.bin:$PATH"
WASM_OPT="$ROOT/tests/node_modules/.bin/wasm-opt"
step() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
