# One task runner for developers, the README and CI.
#   make run    build the CLI and run the demo against a local SQLite file
#   make test   build everything and run every test suite
#   make demo-web  the self-service key page (Express) on http://127.0.0.1:3000/
#   make dist   the artifacts a release would publish, in dist/
#   make bench  run the benchmarks (on demand, not in CI); make bench-python for the binding

CARGO ?= cargo
PYTHON ?= python3

VENV ?= .venv
PY := $(VENV)/bin/python

# The PostgreSQL server the tests run against. By default, pg-start starts
# one from Debian's packages (installing them on a fresh machine) with this
# role and database; set KEYHOUSE_TEST_PG in the environment to use another
# server instead. Each suite makes schemas of its own inside the database.
PG_GIVEN := $(filter environment,$(origin KEYHOUSE_TEST_PG))
KEYHOUSE_TEST_PG ?= postgres://keyhouse:keyhouse@127.0.0.1:5432/keyhouse_test?sslmode=disable
export KEYHOUSE_TEST_PG

.PHONY: run demo-web dist dist-python dist-node dist-kotlin dist-java test-java uniffi-release test-http pg-start bench-postgres test test-core test-reference debug-build python-env python-install python-seams test-python node-env node-build test-node uniffi-build test-kotlin test-swift test-uniffi test-torture lint bench bench-python bench-node bench-java clean fuzz

run:
	$(CARGO) build --release -p keyhouse --bin keyhouse
	core/scripts/demo.sh target/release/keyhouse keyhouse-demo.db

test: lint test-core test-reference test-python test-node test-http test-torture test-uniffi

# Formatting and clippy's warnings, for every crate in the workspace, as
# released and with the test seams.
lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace -- -D warnings
	$(CARGO) clippy --workspace $(DEV_FEATURES) -- -D warnings

# The test seams (a settable clock, fixed randomness: the core's `test-seams`
# feature) are only in test builds, never in what ships; the release builds,
# which make dist packs, never turn them on.
# Debug builds also build the binding generators (keyhouse-uniffi's
# `bindgen` feature), which the release library does not need.
DEV_FEATURES := --features keyhouse-python/test-seams,keyhouse-node/test-seams,keyhouse-uniffi/test-seams,keyhouse-uniffi/bindgen

# Every debug build, in one cargo run so that they share one build of the
# core: the CLI the interop tests call, the UniFFI library with uniffi-bindgen
# and uniffi-bindgen-java (which uniffi-release uses too), and the Python
# module and the Node addon with the seams.
debug-build:
	$(CARGO) build -p keyhouse -p keyhouse-uniffi -p keyhouse-python -p keyhouse-node --bins --lib $(DEV_FEATURES)

pg-start:
ifeq ($(PG_GIVEN),)
	tests/postgres/start.sh
else
	@echo "using the PostgreSQL server in KEYHOUSE_TEST_PG"
endif

test-core: pg-start
	$(CARGO) test --workspace

# The format vectors must agree with the independent Python reference, and
# every package must carry the workspace's one version number.
test-reference:
	$(PYTHON) tests/reference/keyformat_v1.py --check
	$(PYTHON) tests/versions.py

# A virtualenv with the test tools, zig, cargo-zigbuild and auditwheel for
# the shipped libraries; python-install then puts the built wheel into it, as
# `pip install keyhouse` would.
python-env: $(VENV)/.ready
$(VENV)/.ready: Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "maturin>=1.9,<2" "pytest>=7" "fastapi>=0.100" "httpx>=0.24" "mypy>=1.8" "psycopg[binary]>=3.1" "uvicorn>=0.30" "schemathesis>=4.0,<5" "ziglang>=0.17,<0.18" "auditwheel>=6" "cargo-zigbuild>=0.24,<0.25"
	touch $@

# Every native library that ships (the wheel's module, the npm addon, the
# UniFFI library in the jars and the Swift package) is linked by zig against
# glibc 2.17, the manylinux2014 baseline, so that it loads on distributions
# older than the build machine (auditwheel checks the wheel's tag,
# tests/glibc-floor.sh the other libraries). The wheel goes through
# maturin's own zig support, the others through cargo-zigbuild (both from
# the venv). The two link through different
# wrapper scripts, which cargo counts as a different linker, so the wheel
# builds in a target directory of its own: sharing one would rebuild every
# dependency each time the other ran.
ZIG_PATH := PATH=$(CURDIR)/$(VENV)/bin:$$PATH
ZIG_TARGET := x86_64-unknown-linux-gnu.2.17
RELEASE_LIB := target/x86_64-unknown-linux-gnu/release/libkeyhouse_uniffi.so

# Everything a release would publish, in dist/ (see the README's "Packages").
dist: dist-python dist-node dist-kotlin dist-java

# The wheel a release would publish: abi3 (CPython 3.9+), linked by zig
# against glibc 2.17 so that it is tagged manylinux2014, stripped; and the
# sdist. maturin finds zig through the venv's `ziglang`, hence the PATH.
WHEEL_ARGS := --strip --zig --compatibility manylinux2014 --target-dir $(CURDIR)/target/wheel
dist-python: python-env
	rm -f dist/keyhouse-*.whl dist/keyhouse-*.tar.gz
	$(ZIG_PATH) $(VENV)/bin/maturin build --release $(WHEEL_ARGS) -m bindings-python/Cargo.toml --out dist
	$(VENV)/bin/maturin sdist -m bindings-python/Cargo.toml --out dist
	$(VENV)/bin/auditwheel show dist/keyhouse-*-manylinux*.whl | grep -q '"manylinux_2_17_x86_64"'

# The test venv gets that wheel, installed with no Rust toolchain in reach,
# so every Python suite runs against what users would install.
python-install: dist-python
	tests/no-rust.sh $(PY) -m pip install -q --force-reinstall --no-deps dist/keyhouse-*-manylinux*.whl

# The package with the test seams, for the tests marked `seams` (the clock
# and randomness of the conformance vectors): the Python sources beside the
# debug module (a link, not a copy), named as an abi3 extension module (as maturin names it), put
# on PYTHONPATH for those tests only and never installed.
PY_SEAMS := $(CURDIR)/target/python-seams
python-seams: debug-build
	rm -rf $(PY_SEAMS) && mkdir -p $(PY_SEAMS)/keyhouse
	cp bindings-python/python/keyhouse/*.py bindings-python/python/keyhouse/*.pyi bindings-python/python/keyhouse/py.typed $(PY_SEAMS)/keyhouse/
	ln -s $(CURDIR)/target/debug/lib_native.so $(PY_SEAMS)/keyhouse/_native.abi3.so

# The suite against the wheel (which must not have the seams), then the
# seams tests against the seams build, then the sdist: built from its own
# sources (with the wheel's build options), installed and used.
test-python: python-install python-seams pg-start
	KEYHOUSE_CLI=$(CURDIR)/target/debug/keyhouse KEYHOUSE_FROM_WHEEL=1 tests/no-rust.sh $(PY) -m pytest bindings-python/tests -q -m "not seams"
	KEYHOUSE_CLI=$(CURDIR)/target/debug/keyhouse KEYHOUSE_SEAMS=1 PYTHONPATH=$(PY_SEAMS) $(PY) -m pytest bindings-python/tests -q -m seams
	$(ZIG_PATH) MATURIN_PEP517_ARGS="$(WHEEL_ARGS)" bindings-python/scripts/sdist-check.sh dist/keyhouse-*.tar.gz $(PY)

node-env: bindings-node/node_modules/.package-lock.json
bindings-node/node_modules/.package-lock.json: bindings-node/package-lock.json
	cd bindings-node && npm ci --no-audit --no-fund

# Builds the release addon (linked by zig, see ZIG_TARGET) and the generated
# index.js and index.d.ts, which test-node checks against the committed ones.
node-build: node-env python-env
	cd bindings-node && $(ZIG_PATH) npx napi build --platform --release --target $(ZIG_TARGET) --cross-compile && node scripts/client-cjs.js

# The addon with the test seams, which the conformance vectors load by path
# (KEYHOUSE_SEAMS_ADDON): the debug build, named as an addon (.node), apart
# from the package, whose addon, index.js and index.d.ts never see the seams.
# A hard link, not a copy (100 MB) or a symlink: Node's require resolves a
# symlink to its target, whose name lacks .node, and loads it as JavaScript.
SEAMS_ADDON := $(CURDIR)/target/node-seams/keyhouse.node
test-node: dist-node debug-build python-install pg-start
	git diff --exit-code -- bindings-node/index.js bindings-node/index.d.ts bindings-node/client.js
	mkdir -p $(dir $(SEAMS_ADDON)) && ln -f target/debug/libkeyhouse_node.so $(SEAMS_ADDON)
	cd bindings-node && KEYHOUSE_CLI=$(CURDIR)/target/debug/keyhouse KEYHOUSE_PYTHON=$(CURDIR)/$(PY) KEYHOUSE_SEAMS_ADDON=$(SEAMS_ADDON) node --test test/
	KEYHOUSE_SEAMS_ADDON=$(SEAMS_ADDON) bindings-node/scripts/dist-check.sh dist

# What npm would get: the main package (no addon) and the platform package
# with the stripped addon, as tarballs in dist/.
dist-node: node-build
	rm -f dist/keyhouse-*.tgz
	bindings-node/scripts/dist.sh dist

# The self-service routers over real HTTP: one contract suite against the
# Express and the FastAPI demo, schemathesis against the OpenAPI document,
# and the two on one database. (The page's browser test is in test-node.)
test-http: python-install node-build
	$(PY) -m pytest tests/http -q

# The self-service page on Express, with a local SQLite file; PORT=… to move it.
demo-web: node-build
	cd bindings-node && node examples/self-service/server.js

# Several processes in Python and Node, the CLI, the sqlite3 shell and
# kill -9 on one database file (tests/torture); about a minute.
test-torture: python-install node-build debug-build pg-start
	KEYHOUSE_CLI=$(CURDIR)/target/debug/keyhouse $(PY) -m pytest tests/torture -q

# The UniFFI library (debug, with the test seams: it is tested, not
# measured), the CLI the interop tests call, and the Kotlin, Swift and Java
# sources generated from that library, which their tests compile.
UNIFFI_GEN := $(CURDIR)/bindings-uniffi/target/generated
uniffi-build: debug-build
	bindings-uniffi/generate.sh target/debug/libkeyhouse_uniffi.so target/debug $(UNIFFI_GEN)/debug

test-kotlin: uniffi-build dist-kotlin pg-start
	cd bindings-uniffi/kotlin && KEYHOUSE_CLI=$(CURDIR)/target/debug/keyhouse mvn -B -q test -Duniffi.generated=$(UNIFFI_GEN)/debug/kotlin
	tests/no-rust.sh bindings-uniffi/kotlin/package-check.sh

# The release library that ships in the jar (stripped by Maven as it packs
# it) and that the Swift package links, linked by zig against glibc 2.17
# (see ZIG_TARGET), without the seams, and the sources generated from it:
# the jar compiles those, and the Swift package gets them in its Sources/.
uniffi-release: uniffi-build python-env
	$(ZIG_PATH) $(CARGO) zigbuild --release --target $(ZIG_TARGET) -p keyhouse-uniffi --lib
	tests/glibc-floor.sh $(RELEASE_LIB)
	bindings-uniffi/generate.sh $(RELEASE_LIB) target/debug $(UNIFFI_GEN)/release
	mkdir -p bindings-uniffi/swift/Sources/Keyhouse bindings-uniffi/swift/Sources/KeyhouseFFI/include
	cp $(UNIFFI_GEN)/release/swift/Keyhouse.swift bindings-uniffi/swift/Sources/Keyhouse/
	cp $(UNIFFI_GEN)/release/swift/KeyhouseFFI.h bindings-uniffi/swift/Sources/KeyhouseFFI/include/

# The jar a release would publish, compiled from the release sources with
# the release library (the Kotlin tests compile the debug sources and load
# the debug library instead). clean, so that no class compiled from the debug
# sources lingers; the tests are not compiled here, as they use the seams.
dist-kotlin: uniffi-release
	rm -f dist/keyhouse-[0-9]*.jar
	cd bindings-uniffi/kotlin && mvn -B -q clean package -Dmaven.test.skip=true
	mkdir -p dist && cp bindings-uniffi/kotlin/target/keyhouse-*.jar dist/

# The Java (FFM) binding needs a JDK 22 or later: bindings-uniffi/java/jvm.sh
# DIR COMMAND runs COMMAND in DIR with one (JAVA22_HOME, else JAVA_HOME if it
# is one, else the newest under /usr/lib/jvm, else Debian's openjdk-25 in
# the trixie chroot).
JVM := bindings-uniffi/java/jvm.sh

# The Java jar a release would publish, like the Kotlin one: compiled from the
# release sources, with the release library stripped inside.
dist-java: uniffi-release
	rm -f dist/keyhouse-java-*.jar
	$(JVM) bindings-uniffi/java mvn -B -q clean package -Dmaven.test.skip=true
	mkdir -p dist && cp bindings-uniffi/java/target/keyhouse-java-*.jar dist/

# The Java suite (the sources generated from the debug library, which it
# loads), then a plain Java program against the jar alone.
test-java: uniffi-build dist-java pg-start
	KEYHOUSE_CLI=$(CURDIR)/target/debug/keyhouse $(JVM) bindings-uniffi/java mvn -B -q test -Duniffi.generated=$(UNIFFI_GEN)/debug/java
	$(JVM) bindings-uniffi/java $(CURDIR)/tests/no-rust.sh ./package-check.sh

# Runs as root: the Swift toolchain lives in a Debian trixie chroot (see the
# script). The package links the release library, as its users would.
test-swift: uniffi-build uniffi-release pg-start
	bindings-uniffi/swift/test.sh

# The three suites, with the cross-language test in phases on one file:
# Kotlin creates two keys, Swift verifies one and revokes the other, Java
# sees both and makes a key, Kotlin sees the revocation and verifies Java's
# key. The last phase leaves kotlin-checked behind.
INTEROP := $(CURDIR)/bindings-uniffi/target/interop
test-uniffi: test-kotlin test-java
	rm -rf $(INTEROP) && mkdir -p $(INTEROP)
	cd bindings-uniffi/kotlin && KEYHOUSE_INTEROP_DIR=$(INTEROP) KEYHOUSE_INTEROP_PHASE=create mvn -B -q surefire:test -Dtest=CrossLanguageTest
	KEYHOUSE_INTEROP_DIR=$(INTEROP) bindings-uniffi/swift/test.sh
	KEYHOUSE_INTEROP_DIR=$(INTEROP) $(JVM) bindings-uniffi/java mvn -B -q surefire:test -Dtest=CrossLanguageTest
	cd bindings-uniffi/kotlin && KEYHOUSE_INTEROP_DIR=$(INTEROP) KEYHOUSE_INTEROP_PHASE=check mvn -B -q surefire:test -Dtest=CrossLanguageTest
	test -f $(INTEROP)/kotlin-checked

bench:
	$(CARGO) bench -p keyhouse --bench keyhouse
	$(CARGO) run --release -p keyhouse --example bulk_import
	$(CARGO) run --release -p keyhouse --example spend

# PostgreSQL: cached, missed and consuming verifies, a hot key, revocation
# and copy, each beside a floor (core/examples/postgres.rs), then the same
# from Python (bindings-python/bench/bench_postgres.py) and Node.
bench-postgres: pg-start python-install node-build
	$(CARGO) run --release -p keyhouse --example postgres
	$(PY) bindings-python/bench/bench_postgres.py
	cd bindings-node/bench && node bench_postgres.js

bench-python: python-install
	$(PY) bindings-python/bench/bench_verify.py
	$(PY) bindings-python/bench/bench_spend_processes.py

bench-node: node-build
	cd bindings-node/bench && npm install --no-audit --no-fund && node bench_verify.js && node bench_spend.js

# Java/FFM, Kotlin/JNA and a JDBC floor side by side in one JVM, on the
# release jars (bindings-uniffi/java/bench.sh).
bench-java: dist-java dist-kotlin
	$(JVM) bindings-uniffi/java ./bench.sh

clean:
	$(CARGO) clean
	rm -rf dist $(VENV) bindings-uniffi/target bindings-uniffi/kotlin/target bindings-uniffi/java/target bindings-uniffi/swift/.build bindings-node/node_modules bindings-node/*.node keyhouse-demo.db keyhouse-demo.db-wal keyhouse-demo.db-shm

# Fuzzing (on demand, not in CI): the cargo-fuzz (libFuzzer) targets in
# core/fuzz, built with a nightly toolchain and cargo-fuzz
# (`cargo install cargo-fuzz`) into core/fuzz/target. For each target, first
# replays the saved crash inputs core/fuzz/regressions/<target>-*, then fuzzes
# for FUZZ_RUNS executions (libFuzzer -runs), growing core/fuzz/corpus/<target>.
# FUZZ_ARGS adds libFuzzer flags, e.g. FUZZ_ARGS=-max_total_time=300 to also
# cap each target at 5 minutes. Stops with an error at the first crash; the
# crashing input is written to core/fuzz/artifacts/<target>/.
#   make fuzz FUZZ_TARGETS=parse FUZZ_RUNS=10000000
FUZZ_CARGO ?= cargo +nightly
FUZZ_TARGETS ?= parse verify hash duration timestamp
FUZZ_RUNS ?= 2000000
FUZZ_ARGS ?=
fuzz:
	cd core/fuzz && $(FUZZ_CARGO) fuzz build
	cd core/fuzz && for t in $(FUZZ_TARGETS); do \
		for f in regressions/$$t-*; do \
			if [ -e "$$f" ]; then $(FUZZ_CARGO) fuzz run $$t "$$f" || exit 1; fi; \
		done; \
		$(FUZZ_CARGO) fuzz run $$t -- -runs=$(FUZZ_RUNS) $(FUZZ_ARGS) || exit 1; \
	done
