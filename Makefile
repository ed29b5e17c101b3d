# mapigw - hand-written Makefile.
#   make            build build/release/mapigw
#   make run        install what is missing, build, start on the demo profiles
#   make check      the inner loop: release unit + black-box suites (~1.5 min)
#   make layers     the include rules between the layers and the providers (check-layers.sh)
#   make test       install, build, run every suite (plain, in redis mode, then ASan+UBSan), lint openapi.yaml
#   make test-redis-mode  the black-box suites with every gateway on one Redis (--store)
#   make bench      benchmarks (see bench/)
# VARIANT=release|asan selects the build; each has its own folder under build/.

VARIANT ?= release
BUILD   ?= build/$(VARIANT)
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

CC      ?= cc
PKGS    := libmicrohttpd jansson libcurl libsodium hiredis
export MAPIGW_PKGS := $(PKGS)
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla
CFLAGS_COMMON := -std=c11 -D_GNU_SOURCE -DMAPIGW_VERSION='"$(VERSION)"' $(WARN) -MMD -MP \
                 $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LIBS    := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread

ifeq ($(VARIANT),asan)
  SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  OPT     := -O1 -g
else ifeq ($(VARIANT),tsan)
  SAN     := -fsanitize=thread -fno-omit-frame-pointer
  OPT     := -O1 -g
else
  SAN     :=
  OPT     := -O2 -g
endif
CFLAGS  ?=
CFLAGS  += $(CFLAGS_COMMON) $(OPT) $(SAN)
LDFLAGS += $(SAN)

CORE_SRC   := $(wildcard session-core/*.c session-core/providers/*.c)
API_SRC    := $(wildcard api/*.c)
SERVER_SRC := $(filter-out server/main.c,$(wildcard server/*.c))
CORE_OBJ   := $(CORE_SRC:%.c=$(BUILD)/%.o)
API_OBJ    := $(API_SRC:%.c=$(BUILD)/%.o)
SERVER_OBJ := $(SERVER_SRC:%.c=$(BUILD)/%.o)
MAIN_OBJ   := $(BUILD)/server/main.o

UNIT_SRC     := $(wildcard tests/unit/*.c)
BLACKBOX_SRC := $(wildcard tests/blackbox/*.c) $(wildcard tests/support/*.c)
UNIT_OBJ     := $(UNIT_SRC:%.c=$(BUILD)/%.o)
BLACKBOX_OBJ := $(BLACKBOX_SRC:%.c=$(BUILD)/%.o)

BIN      := $(BUILD)/mapigw
UNIT_BIN := $(BUILD)/tests/unit-tests
BB_BIN   := $(BUILD)/tests/blackbox-tests

JOBS ?= 2
# How much longer than a quiet release run the suites may wait for anything
# (tests/support/gw.h, gw_ms): the sanitizers slow the gateway ~3x, and make
# test must pass with another heavy job sharing the cores. Set it yourself to
# override (MAPIGW_TEST_TIME_SCALE=8 make test on a very slow machine).
TIME_SCALE_release := 2
TIME_SCALE_asan    := 4
TIME_SCALE_tsan    := 6
TEST_TIME_SCALE := $(or $(MAPIGW_TEST_TIME_SCALE),$(TIME_SCALE_$(VARIANT)),2)
# Sanitizer settings for every process of a test run (suites and gateways).
export ASAN_OPTIONS  ?= detect_leaks=1:abort_on_error=0:exitcode=23
export UBSAN_OPTIONS ?= print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS  ?= suppressions=$(abspath tests/lsan.supp):print_suppressions=0

.PHONY: FORCE all build deps run check test test-variant test-redis-mode layers check-logs lint-openapi bench bench-deps \
        clean format fuzz fuzz-smoke stress stress-tsan valgrind-suites analyze browser-test image-test codegen-test \
        readme-test
all: $(BIN)
build: $(BIN) $(UNIT_BIN) $(BB_BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# openapi.yaml is compiled into the binary and served at GET /openapi.yaml.
$(BUILD)/gen/openapi_yaml.c: openapi.yaml scripts/embed.sh
	@mkdir -p $(dir $@)
	scripts/embed.sh mapigw_openapi_yaml $< > $@
$(BUILD)/gen/openapi_yaml.o: $(BUILD)/gen/openapi_yaml.c
	$(CC) -std=c11 -c $< -o $@

$(BIN): $(CORE_OBJ) $(API_OBJ) $(SERVER_OBJ) $(MAIN_OBJ) $(BUILD)/gen/openapi_yaml.o \
        | $(BUILD)/profiles.default.json
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LIBS)

# The default --profiles file lives beside the binary (or in
# <prefix>/share/mapigw when installed), not in the working folder.
$(BUILD)/profiles.default.json: server/profiles.default.json
	@mkdir -p $(dir $@)
	cp $< $@

# The web console (web/) and the API docs are compiled into the binary too.
WEB_ASSETS := console.html console.js console.css favicon.svg
$(BUILD)/gen/web_assets.c: $(addprefix web/,$(WEB_ASSETS)) scripts/embed.sh
	@mkdir -p $(dir $@)
	{ scripts/embed.sh mapigw_console_html web/console.html; \
	  scripts/embed.sh mapigw_console_js web/console.js | sed 1d; \
	  scripts/embed.sh mapigw_console_css web/console.css | sed 1d; \
	  scripts/embed.sh mapigw_favicon_svg web/favicon.svg | sed 1d; } > $@
# /docs: web/docs.html and Redoc's pinned standalone bundle, fetched once
# with npm into .cache/redoc (scripts/fetch-redoc.sh); Redoc renders the
# binary's own /openapi.yaml in the browser.
$(BUILD)/gen/docs_assets.c: web/docs.html web/docs-init.js scripts/build-docs.sh scripts/fetch-redoc.sh \
                            scripts/embed.sh
	@mkdir -p $(dir $@)
	scripts/build-docs.sh $@
$(BUILD)/gen/web_assets.o $(BUILD)/gen/docs_assets.o: $(BUILD)/gen/%.o: $(BUILD)/gen/%.c
	$(CC) -std=c11 -c $< -o $@
$(BIN): $(BUILD)/gen/web_assets.o $(BUILD)/gen/docs_assets.o $(BUILD)/gen/build_info.o

# mapigw_build_info's git commit: from git when there is a repository, else
# GIT_COMMIT (the image build passes it), else "unknown". The file is
# rewritten only when the commit changes, so an unchanged tree relinks nothing.
GIT_COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
$(BUILD)/gen/build_info.c: FORCE
	@mkdir -p $(dir $@)
	@printf 'const char mapigw_git_commit[] = "%s";\n' '$(subst ',,$(GIT_COMMIT))' > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi
$(BUILD)/gen/build_info.o: $(BUILD)/gen/build_info.c
	$(CC) -std=c11 -c $< -o $@
FORCE:

# The options table (server/config.c) too: the floors keep no defaults of
# their own, and the suites take theirs from config_defaults. And
# server/secmem.c: the api fixture installs it as jansson's allocator, as main
# does, and test_secmem.c tests it.
$(UNIT_BIN): $(UNIT_OBJ) $(CORE_OBJ) $(API_OBJ) $(BUILD)/server/config.o $(BUILD)/server/config_table.o \
             $(BUILD)/server/secmem.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) -lcriterion

$(BB_BIN): $(BLACKBOX_OBJ) $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) -lcriterion

deps:
	@scripts/install-deps.sh build

# make run: the demo (the default profiles file, copied beside the binary).
# Data (maildir, spool, contacts) goes to ./data, seeded once with sample
# mail and contacts (scripts/seed-demo.sh). CORS allows a local front-end dev
# server's origin, as README.md's CORS example shows. scripts/readme-test.sh
# runs README.md's blocks against these same arguments (RUN_ARGS_BASE).
RUN_DATA ?= data
RUN_ARGS_BASE := --listen 127.0.0.1 --cors-origins http://127.0.0.1:5173
RUN_ARGS ?= $(RUN_ARGS_BASE) --port 8080 --data-dir $(RUN_DATA)
run:
	@scripts/install-deps.sh build
	@$(MAKE) --no-print-directory VARIANT=release $(BUILD)/mapigw
	@scripts/seed-demo.sh $(RUN_DATA)
	./build/release/mapigw $(RUN_ARGS)

# Which folder may include what (server -> api -> session-core, the core and
# its providers/): every offending file and include, before anything builds.
layers:
	@scripts/check-layers.sh

# One variant's suites. Gateway logs of the black-box suites land in
# $(BUILD)/test-logs; check-logs fails on any sanitizer report in them.
test-variant: layers $(BIN) $(UNIT_BIN) $(BB_BIN)
	@rm -rf $(BUILD)/test-logs && mkdir -p $(BUILD)/test-logs
	@echo "== $(VARIANT): unit suites"
	$(UNIT_BIN) --jobs $(JOBS) 2>&1 | tee $(BUILD)/test-logs/unit.out; test $${PIPESTATUS[0]} -eq 0
	@echo "== $(VARIANT): black-box suites against $(BIN)"
	MAPIGW_BIN=$(abspath $(BIN)) MAPIGW_TEST_LOGS=$(abspath $(BUILD)/test-logs) \
	  MAPIGW_TEST_PROFILES=$(abspath tests/profiles) MAPIGW_TEST_TIME_SCALE=$(TEST_TIME_SCALE) \
	  $(BB_BIN) --jobs $(JOBS) 2>&1 | tee $(BUILD)/test-logs/blackbox.out; test $${PIPESTATUS[0]} -eq 0
	@$(MAKE) --no-print-directory check-logs
	@scripts/check-secrets.sh $(BUILD)/test-logs
	@scripts/validate-responses.sh $(BUILD)/test-logs

# The black-box suites again, every gateway on one Redis for the whole run
# (scripts/test-redis.sh, build/redis): MAPIGW_TEST_STORE_URL makes the
# harness add --store and a --store-prefix of its own to each gateway start
# (tests/support/gw.h). The replicas suite starts its own Redis servers: it
# ran in test-variant. Redis is stopped by its PID, also on failure.
REDIS_DIR := $(BUILD)/redis
test-redis-mode: layers $(BIN) $(BB_BIN)
	@rm -rf $(BUILD)/test-logs-redis && mkdir -p $(BUILD)/test-logs-redis
	@MAPIGW_TEST_TIME_SCALE=$(TEST_TIME_SCALE) scripts/test-redis.sh start $(REDIS_DIR)
	@echo "== $(VARIANT): black-box suites against $(BIN) with --store $$(scripts/test-redis.sh url $(REDIS_DIR))"
	@trap 'MAPIGW_TEST_TIME_SCALE=$(TEST_TIME_SCALE) scripts/test-redis.sh stop $(REDIS_DIR)' EXIT; \
	  MAPIGW_TEST_STORE_URL=$$(scripts/test-redis.sh url $(REDIS_DIR)) \
	  MAPIGW_BIN=$(abspath $(BIN)) MAPIGW_TEST_LOGS=$(abspath $(BUILD)/test-logs-redis) \
	  MAPIGW_TEST_PROFILES=$(abspath tests/profiles) MAPIGW_TEST_TIME_SCALE=$(TEST_TIME_SCALE) \
	  $(BB_BIN) --jobs $(JOBS) --filter '!(replicas)/*' 2>&1 | tee $(BUILD)/test-logs-redis/blackbox.out; \
	  test $${PIPESTATUS[0]} -eq 0
	@$(MAKE) --no-print-directory check-logs TEST_LOGS=$(BUILD)/test-logs-redis
	@scripts/check-secrets.sh $(BUILD)/test-logs-redis
	@scripts/validate-responses.sh $(BUILD)/test-logs-redis

TEST_LOGS ?= $(BUILD)/test-logs
check-logs:
	@if grep -l -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: (Address|Undefined|Leak)' \
	     $(TEST_LOGS)/* 2>/dev/null; then \
	   echo "sanitizer reports found in the files above" >&2; exit 1; \
	 else echo "== $(VARIANT): no sanitizer report in $(TEST_LOGS)"; fi

lint-openapi:
	@scripts/lint-openapi.sh

# Hardening. Each is also a step of `make test`.
FUZZ_SECONDS ?= 60
fuzz:                      # every harness for FUZZ_SECONDS each, corpus grows
	@scripts/fuzz.sh run $(FUZZ_SECONDS)
fuzz-smoke:                # every harness over its corpus plus a short run
	@scripts/fuzz.sh smoke
stress: $(BIN)             # many clients at once against one gateway
	@scripts/stress.sh $(abspath $(BIN))
stress-tsan:               # the same against a ThreadSanitizer build
	@$(MAKE) --no-print-directory VARIANT=tsan build/tsan/mapigw
	@scripts/stress.sh $(abspath build/tsan/mapigw)
valgrind-suites:           # black-box suites with the gateway under valgrind memcheck
	@$(MAKE) --no-print-directory VARIANT=release build/release/mapigw build/release/tests/blackbox-tests
	@scripts/valgrind-suites.sh
analyze:                   # cppcheck and gcc -fanalyzer
	@scripts/analyze.sh
image-test:                # container images: lint, debootstrap base, buildah build, podman run, both compose files (root)
	@tests/docker/lint.sh
	@tests/docker/lint.sh docker/Dockerfile.infra
	@scripts/image-test.sh
readme-test:               # every sh block of README.md, verbatim and in order, against make run's gateway
	@$(MAKE) --no-print-directory VARIANT=release build/release/mapigw
	@RUN_ARGS_BASE='$(RUN_ARGS_BASE)' MAPIGW_TEST_TIME_SCALE=$(TEST_TIME_SCALE) \
	  scripts/readme-test.sh $(abspath build/release/mapigw)
codegen-test:              # a TypeScript client generated from openapi.yaml drives the real gateway
	@$(MAKE) --no-print-directory VARIANT=release build/release/mapigw
	@MAPIGW_TEST_TIME_SCALE=$(TEST_TIME_SCALE) scripts/codegen-test.sh $(abspath build/release/mapigw)
browser-test:              # the console, the docs and CORS in headless Chromium (playwright-core)
	@scripts/lint-openapi.sh >/dev/null
	@$(MAKE) --no-print-directory VARIANT=release build/release/mapigw
	@mkdir -p build/release/test-logs
	MAPIGW_TEST_LOGS=$(abspath build/release/test-logs) scripts/browser-test.sh $(abspath build/release/mapigw)

# Benchmarks (not part of make test): mapigw against a reference libmicrohttpd
# server, wrk on 127.0.0.1; writes bench/RESULTS.md. BENCH_QUICK=1 for a smoke
# run; other knobs at the top of bench/run.sh. bench/run.sh builds what it runs.
bench-deps:                # the build packages, and wrk, curl, Redis and haproxy from Debian (as root)
	@scripts/install-deps.sh build
	@missing=; for t in wrk:wrk curl:curl redis-server:redis-server redis-cli:redis-tools haproxy:haproxy; do \
	   command -v $${t%%:*} >/dev/null 2>&1 || missing="$$missing $${t#*:}"; done; \
	 if [ -n "$$missing" ]; then \
	   if [ "$$(id -u)" -eq 0 ]; then echo "installing:$$missing"; apt-get update -qq && \
	     DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	   else echo "make bench needs these Debian packages:$$missing" >&2; \
	     echo "install them as root:  sudo apt-get install -y$$missing" >&2; exit 1; fi; fi
bench: bench-deps
	@bench/run.sh

# The inner loop (~1.5 min on 2 cores): release unit and black-box suites
# with the log, secret and response checks. make test is the full CI run.
check:
	@scripts/install-deps.sh test
	@$(MAKE) --no-print-directory VARIANT=release test-variant

test:
	@scripts/install-deps.sh test
	@$(MAKE) --no-print-directory analyze
	@$(MAKE) --no-print-directory VARIANT=release test-variant
	@$(MAKE) --no-print-directory VARIANT=release test-redis-mode
	@$(MAKE) --no-print-directory VARIANT=asan test-variant
	@$(MAKE) --no-print-directory stress
	@scripts/stress.sh $(abspath build/asan/mapigw)
	@$(MAKE) --no-print-directory stress-tsan
	@$(MAKE) --no-print-directory valgrind-suites
	@$(MAKE) --no-print-directory fuzz-smoke
	@$(MAKE) --no-print-directory lint-openapi
	@$(MAKE) --no-print-directory codegen-test
	@$(MAKE) --no-print-directory readme-test
	@$(MAKE) --no-print-directory browser-test

clean:
	rm -rf build

format:
	clang-format -i session-core/*.[ch] session-core/providers/*.[ch] api/*.[ch] server/*.[ch] tests/*/*.[ch]

SHELL := /bin/bash
-include $(shell find build -path build/image -prune -o -name '*.d' -type f -print 2>/dev/null)
