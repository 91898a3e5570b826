# Sotto's two commands: `make run` and `make test`. Everything else is a step they use.
# Each installs what it needs (scripts/setup.sh) and skips what is already there.
.PHONY: run test setup wasm lint test-rust test-wasm test-e2e bench fmt

run: setup wasm
	cargo build --release -p sotto-relay
	./target/release/sotto-relay dev $(DEV_FLAGS)

test: lint test-rust test-wasm test-e2e

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

# Formatting, clippy (native and the browser target) and rustdoc, every warning an error.
lint: setup
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy -p sotto-wasm -p sotto-proto --target wasm32-unknown-unknown --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet
	cargo build --quiet -p sotto-proto --target wasm32-unknown-unknown
