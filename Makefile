# One task runner for developers, the README and CI.
#   make run    build the CLI and run the demo against a local SQLite file
#   make test   build everything and run every test suite
#   make bench  run the benchmarks (on demand, not in CI)

CARGO ?= cargo
PYTHON ?= python3

.PHONY: run test test-core test-reference bench clean

run:
	$(CARGO) build --release -p keyhouse --bin keyhouse
	core/scripts/demo.sh target/release/keyhouse keyhouse-demo.db

test: test-core test-reference

test-core:
	$(CARGO) test --workspace

# The format vectors must agree with the independent Python reference.
test-reference:
	$(PYTHON) tests/reference/keyformat_v1.py --check

bench:
	$(CARGO) bench -p keyhouse --bench keyhouse
	$(CARGO) run --release -p keyhouse --example bulk_import

clean:
	$(CARGO) clean
	rm -f keyhouse-demo.db keyhouse-demo.db-wal keyhouse-demo.db-shm
