# trustc: common tasks. `make test` is what CI runs (see .ci/run).
CARGO ?= cargo

.PHONY: all generate check test fmt lint schema bench ci

all: fmt lint test

## Compile policy-spec/trust.toml into generated/ (what CI checks with --check).
generate:
	$(CARGO) run --release -- generate

## Validate the trust model only.
check:
	$(CARGO) run --release -- check

## The test suite (unit, fixtures, snapshots, property tests).
test:
	$(CARGO) test --locked

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --all-targets --locked -- -D warnings

## Regenerate policy-spec/trust.schema.json after changing the spec types.
schema:
	TRUSTC_BLESS=1 $(CARGO) test --locked committed_schema_is_fresh

bench:
	$(CARGO) bench --locked --bench generate

ci:
	bash .ci/run
