# Thin wrapper over CMake: `make run` and `make test` are the two set-up commands of the README.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
SUDO       := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Debian bookworm packages: to build, to test, to benchmark.
BUILD_DEPS := build-essential cmake pkg-config liblua5.4-dev libuv1-dev node-llhttp \
              libsqlite3-dev libyaml-dev libjansson-dev libpq-dev libre-dev libssl-dev
TEST_DEPS  := libcmocka-dev curl libxml2-utils valgrind sqlite3 procps python3 \
              postgresql-15 libpq-dev sip-tester baresip
BENCH_DEPS := wrk nginx python3 curl

.PHONY: all build asan run test deps test-deps bench-deps bench clean

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

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

asan: test-deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DZTPD_SANITIZE=ON >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)

config.yml:
	cp config.yml.example config.yml
	@echo "Created config.yml from config.yml.example: review server.address and the extensions."

run: build config.yml
	./$(BUILD)/ztpd serve -c config.yml

test: test-deps build asan
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)

bench: bench-deps build
	bash bench/http.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
