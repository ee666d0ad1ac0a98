# One task runner for developers, the README and CI.
#   make run    build the CLI and run the demo against a local SQLite file
#   make test   build everything and run every test suite
#   make bench  run the benchmarks (on demand, not in CI); make bench-python for the binding

CARGO ?= cargo
PYTHON ?= python3

VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: run test test-core test-reference test-python python-env bench bench-python clean

run:
	$(CARGO) build --release -p keyhouse --bin keyhouse
	core/scripts/demo.sh target/release/keyhouse keyhouse-demo.db

test: test-core test-reference test-python

test-core:
	$(CARGO) test --workspace

# The format vectors must agree with the independent Python reference.
test-reference:
	$(PYTHON) tests/reference/keyformat_v1.py --check

# A virtualenv with the test tools; `pip install ./bindings-python` builds the
# wheel exactly as the README tells users to.
python-env: $(VENV)/.ready
$(VENV)/.ready:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "maturin>=1.9,<2" "pytest>=7" "fastapi>=0.100" "httpx>=0.24" "mypy>=1.8"
	touch $@

test-python: python-env
	$(CARGO) build -p keyhouse --bin keyhouse
	$(PY) -m pip install -q --force-reinstall --no-deps ./bindings-python
	KEYHOUSE_CLI=$(CURDIR)/target/debug/keyhouse $(PY) -m pytest bindings-python/tests -q

bench:
	$(CARGO) bench -p keyhouse --bench keyhouse
	$(CARGO) run --release -p keyhouse --example bulk_import

bench-python: python-env
	$(PY) -m pip install -q --force-reinstall --no-deps ./bindings-python
	$(PY) bindings-python/bench/bench_verify.py

clean:
	$(CARGO) clean
	rm -rf $(VENV) keyhouse-demo.db keyhouse-demo.db-wal keyhouse-demo.db-shm
