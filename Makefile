# Thin wrapper over CMake: `make run` and `make test` are the two set-up commands of the README.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
# Seconds per fuzz target: a short run in `make test`, a longer one in `make fuzz`.
FUZZ_SECONDS      ?= 120
TEST_FUZZ_SECONDS ?= 5
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
SUDO       := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Debian bookworm packages: to build, to test, to benchmark.
BUILD_DEPS := build-essential cmake pkg-config liblua5.4-dev libuv1-dev node-llhttp \
              libsqlite3-dev libyaml-dev libjansson-dev libpq-dev libre-dev libssl-dev
TEST_DEPS  := clang-14 libclang-rt-14-dev libcmocka-dev curl libxml2-utils valgrind sqlite3 procps python3 \
              postgresql-15 libpq-dev sip-tester baresip
BENCH_DEPS := wrk nginx python3 curl

.PHONY: all build asan fuzz-build fuzz run test deps test-deps bench-deps bench clean mutate

all: build

# Installs only what is missing, so a second run needs no network and no root.
define apt_install
	@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing:$$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    -o DPkg::Lock::Timeout=600 $$missing; \
	fi
endef

deps:
	$(call apt_install,$(BUILD_DEPS))

test-deps: deps
	@# postgresql-15's package would start a system cluster on port 5432; the tests start their
	@# own throwaway server, so forbid service starts first.
	@[ -e /usr/sbin/policy-rc.d ] || { printf '#!/bin/sh\nexit 101\n' | $(SUDO) tee /usr/sbin/policy-rc.d >/dev/null && $(SUDO) chmod 755 /usr/sbin/policy-rc.d; }
	$(call apt_install,$(TEST_DEPS))

bench-deps: deps
	@# nginx's package would start a system nginx on port 80; forbid service starts first.
	@[ -e /usr/sbin/policy-rc.d ] || { printf '#!/bin/sh\nexit 101\n' | $(SUDO) tee /usr/sbin/policy-rc.d >/dev/null && $(SUDO) chmod 755 /usr/sbin/policy-rc.d; }
	$(call apt_install,$(BENCH_DEPS))

# WERROR: ON for `make test` and CI; a plain `make run` or a packager's cmake never fails on a
# warning (CMake's default is OFF).
WERROR ?= OFF

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DZTPD_WERROR=$(WERROR) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

asan: test-deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DZTPD_SANITIZE=ON -DZTPD_WERROR=$(WERROR) >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)

# libFuzzer targets (fuzz/fuzz_*.c) built with clang-14, ASan and UBSan.
fuzz-build: test-deps
	CC=clang-14 cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DZTPD_FUZZ=ON \
	  -DZTPD_WERROR=$(WERROR) -DZTPD_FUZZ_SECONDS=$(TEST_FUZZ_SECONDS) >/dev/null
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_all

# Longer fuzz runs: FUZZ_SECONDS per target (default 120), one after the other.
fuzz: fuzz-build
	@for f in $(FUZZ_BUILD)/fuzz_*; do \
	  n=$$(basename $$f); echo "== $$n ($(FUZZ_SECONDS) s)"; \
	  bash fuzz/run.sh $$f fuzz/corpus/$${n#fuzz_} $(FUZZ_SECONDS) || exit 1; \
	done

config.yml:
	cp config.yml.example config.yml
	@echo "Created config.yml from config.yml.example: review server.address and the extensions."

run: build config.yml
	./$(BUILD)/ztpd serve -c config.yml

test: WERROR = ON
test: test-deps build asan fuzz-build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)
	cd $(FUZZ_BUILD) && ctest --output-on-failure -L fuzz

bench: bench-deps build
	bash bench/http.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)

# Mutation check of the suite (tests/mutation/mutants.txt): slow, not part of `make test`.
mutate: test-deps
	python3 tests/mutation/mutate.py
