# Sotto's two commands: `make run` and `make test`. Everything else is a step they use.
# Each installs what it needs (scripts/setup.sh) and skips what is already there.
# CI builds once from a clean clone: incremental caches would only take disk.
ifdef CI
export CARGO_INCREMENTAL := 0
endif

.PHONY: run test setup wasm lint test-rust test-wasm test-e2e bench bench-mls fmt

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
	@# The vendored sphinx-packet is not a member (vendor/README.md): its own tests, standalone.
	cargo test --manifest-path vendor/sphinx-packet/Cargo.toml --target-dir target
	@# The vendored curve25519-dalek's Sotto patch (tables computed on first use): its tests.
	cargo test --manifest-path vendor/curve25519-dalek/Cargo.toml --target-dir target --lib -- computed_ basepoint_table
	@# The vendored poly1305 (its simd128 backend on portable lanes against soft, and upstream's tests).
	cargo test --manifest-path vendor/poly1305/Cargo.toml --target-dir target

test-wasm:
	scripts/setup.sh --with-browser
	scripts/test-wasm.sh
	@# The vendored poly1305's simd128 backend (the v128 lanes) in Chromium.
	scripts/test-wasm.sh --manifest-path vendor/poly1305/Cargo.toml --target-dir target --lib

test-e2e: wasm
	scripts/setup.sh --with-browser
	@# The relay binary the tests run, built with the same features as `cargo test` (no rebuild).
	cargo test --workspace --no-run --quiet
	@# Bounded: a hang (a browser or relay left running) fails in 45 minutes, with the output so
	@# far, instead of running into CI's limit (the whole file takes about 11 minutes warm).
	cd tests && timeout --kill-after=60 2700 npm test

bench:
	scripts/bench.sh

# The MLS spike of issue 17 (bench/mls, its own workspace): not part of `make test`.
bench-mls:
	scripts/bench-mls.sh

fmt:
	cargo fmt --all

# Formatting, clippy (native and the browser target) and rustdoc, every warning an error.
lint: setup
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy -p sotto-wasm -p sotto-proto -p chacha20-simd128 --target wasm32-unknown-unknown --lib --tests -- -D warnings
	RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet
	@# sotto-proto's public items without a docstring: warned (listed), not yet an error.
	@RUSTDOCFLAGS="-W missing-docs" cargo doc -p sotto-proto --no-deps 2>&1 | \
	  grep -A1 '^warning: missing documentation' | grep -- '-->' | \
	  awk '{n++; if (n <= 10) print "missing docs:", $$2} END {print "sotto-proto: " n+0 " public items without docs (warning)"}'
	cargo build --quiet -p sotto-proto --target wasm32-unknown-unknown
