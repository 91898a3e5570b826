# Sotto's two commands: `make run` and `make test`. Everything else is a step they use.
# Each installs what it needs (scripts/setup.sh) and skips what is already there.
.PHONY: run test setup wasm test-rust test-wasm test-e2e bench fmt lint

run: setup wasm
	cargo build --release -p sotto-relay
	./target/release/sotto-relay dev $(DEV_FLAGS)

test: test-rust test-wasm test-e2e

setup:
	scripts/setup.sh

wasm: setup
	scripts/build-wasm.sh

test-rust:
	cargo test --workspace

test-wasm:
	scripts/setup.sh --with-browser
	scripts/test-wasm.sh

test-e2e: wasm
	scripts/setup.sh --with-browser
	cargo build -p sotto-relay
	cd tests && npm test

bench:
	scripts/bench.sh

fmt:
	cargo fmt --all

lint:
	cargo clippy --workspace --all-targets -- -D warnings
