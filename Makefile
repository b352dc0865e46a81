# agentd: plain GNU make. `make` builds the release binary into build/release;
# `make check` installs what is missing, builds with ASan+UBSan and runs every
# test; `make run` starts the daemon. See README.md for the rest.

BUILD ?= release
O := build/$(BUILD)
CC ?= cc

# libcurl is installed for the LLM client to come but not linked: the daemon
# does not use it, and its dependencies alone cost ~3.6 MB of resident memory.
PKGS := libuv sqlite3 jansson libgit2 openssl yaml-0.1 hiredis libargon2 liburing
# Recursive (=) on purpose: evaluated when a recipe first uses it, after
# `make deps`, and then kept (the $(eval) makes it a simple variable): run
# for each of the ~520 compiles, pkg-config was 8 s of make's own serial
# time in a fresh clone's `make run` (issue #80, bench/README.md, DL1).
# libpq: its header only; src/store/pg.c loads libpq.so.5 when `agentd db`
# runs (linked, it and what it brings would cost every daemon ~3.6 MB).
PKG_CFLAGS = $(eval PKG_CFLAGS := $$(shell pkg-config --cflags $$(PKGS) libpq))$(PKG_CFLAGS)
# libgit2 is linked into agentd-git.so only (src/git/front.c loads it),
# OpenSSL into agentd-tls.so only (src/tls/front.c loads it).
PKG_LIBS = $(eval PKG_LIBS := $$(shell pkg-config --libs $$(filter-out libgit2 openssl,$$(PKGS))) \
	-lhttp_parser -lwslay -lpthread -ldl -lutil -lm)$(PKG_LIBS)
GIT_LIBS = $(eval GIT_LIBS := $$(shell pkg-config --libs libgit2 jansson))$(GIT_LIBS)
TLS_LIBS = $(eval TLS_LIBS := $$(shell pkg-config --libs openssl))$(TLS_LIBS)

# agentd-tray is built when libsystemd's headers are there (Debian:
# libsystemd-dev, in scripts/deps.sh).
TRAY_BIN := $(if $(shell pkg-config --exists libsystemd && echo y),$(O)/agentd-tray)

WARN := -std=gnu11 -Wall -Wextra -Wshadow -Wformat=2
# The sanitizer build (BUILD=check): ASan and UBSan. UBSan's checks trap
# where they fail (-fsanitize-undefined-trap-on-error) instead of calling
# its runtime, so libubsan is not loaded: its 6 MB of tables cost every
# process of the build about 1,500 page faults when LeakSanitizer scanned
# them at exit, and its type records were 4.7 of agentd's 5.5 MB of data.
# ASan reports the trap ("ILL", with function and line: tools/asan_options.c
# tells it to); docs/DECISIONS.md, "UBSan traps".
SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fsanitize-undefined-trap-on-error

ifeq ($(BUILD),release)
  # Each function and object in a section of its own, so that the link drops
  # what nothing calls (--gc-sections); and no unwind tables: C with no
  # exceptions and no backtrace() (.eh_frame was 160 KB of S3's 2 MiB; -g1
  # keeps .debug_frame in the unstripped build for perf and gdb). The
  # relative relocations packed (DT_RELR, glibc 2.36 and binutils 2.38 on):
  # a PIE's pointers in data, 24 bytes each in .rela.dyn, 70 KB of S3's.
  MODE_CFLAGS := -O2 -fno-omit-frame-pointer -g1 -ffunction-sections -fdata-sections \
                 -fno-asynchronous-unwind-tables -fno-unwind-tables
  MODE_LDFLAGS := -Wl,--gc-sections -Wl,-z,pack-relative-relocs
else ifeq ($(BUILD),check)
  # Executables not position independent: an ASan build's globals carry
  # 200,000 relocations that every start of a PIE applies (a fifth of the
  # ~150 ms each `agentd` command costs here, and make check starts ~2,000).
  # Line tables only (-g1), as the tsan build: a report's frames, inlined
  # ones too, name function, file and line all the same, and a compile
  # costs a fifth less (22 files of src/: 6.2 -> 5.0 CPU-s).
  MODE_CFLAGS := -O1 -g1 -fno-omit-frame-pointer $(SAN) -Werror -DAD_TEST_BUILD
  MODE_LDFLAGS := -fsanitize=address
  EXE_LDFLAGS := -no-pie
  # ASan's defaults for this build, linked into each of its executables.
  EXE_OBJ := $(O)/obj/tools/asan_options.o
else ifeq ($(BUILD),test)
  MODE_CFLAGS := -O0 -g -Werror -DAD_TEST_BUILD
  MODE_LDFLAGS :=
else ifeq ($(BUILD),tsan)
  # ThreadSanitizer (make tsan): the store's writer thread, the health
  # sampler and the libuv pool against the loop. Not with ASan (they
  # exclude each other). Line tables only (-g1): a race report names file
  # and line all the same, and the build (beside the e2e files in make
  # check) costs a ninth less.
  MODE_CFLAGS := -O1 -g1 -fno-omit-frame-pointer -fsanitize=thread -Werror -DAD_TEST_BUILD
  MODE_LDFLAGS := -fsanitize=thread
  # libuv's closes told to ThreadSanitizer, linked into each executable.
  EXE_OBJ := $(O)/obj/tools/tsan_close.o
else ifeq ($(BUILD),fuzz)
  CC := clang
  MODE_CFLAGS := -O1 -g -fsanitize=fuzzer-no-link,address,undefined -DAD_TEST_BUILD -DAD_FUZZ
  MODE_LDFLAGS := -fsanitize=address,undefined
else
  $(error BUILD must be release, check, test, tsan or fuzz)
endif

CFLAGS_ALL = $(WARN) $(MODE_CFLAGS) $(CFLAGS) -Isrc -I$(O)/gen $(PKG_CFLAGS) -MMD -MP
# --as-needed: a library the code does not call is not loaded at run time.
LDFLAGS_ALL = -Wl,--as-needed $(MODE_LDFLAGS) $(LDFLAGS)
# The same for an executable (-shared takes LDFLAGS_ALL alone).
EXE_LDFLAGS_ALL = $(LDFLAGS_ALL) $(EXE_LDFLAGS)

# Every .c under src/<subsystem>/ is part of the library; main.c and
# engines.c (the daemon's wiring) are the binary.
# But src/git's libgit2 side is agentd-git.so (loaded on the first git use:
# libgit2 and its TLS, SSH and Kerberos libraries cost ~1.4 MiB resident),
# and libagentd-git.a for the unit tests that call it directly.
# Likewise src/tls's OpenSSL side is agentd-tls.so (loaded by the first TLS
# use: libssl and libcrypto cost ~1.7 MiB mapped, issue #38), and
# libagentd-tls.a for the unit tests.
GIT_BE_SRC := $(filter-out src/git/front.c src/git/async.c src/git/trust.c,$(sort $(wildcard src/git/*.c)))
TLS_BE_SRC := $(filter-out src/tls/front.c,$(sort $(wildcard src/tls/*.c)))
LIB_SRC := $(filter-out $(GIT_BE_SRC) $(TLS_BE_SRC),$(sort $(wildcard src/*/*.c)))
LIB_OBJ := $(LIB_SRC:%.c=$(O)/obj/%.o)
GIT_BE_OBJ := $(GIT_BE_SRC:%.c=$(O)/obj/%.o)
GIT_BE_PIC := $(GIT_BE_SRC:%.c=$(O)/pic/%.o)
TLS_BE_OBJ := $(TLS_BE_SRC:%.c=$(O)/obj/%.o)
TLS_BE_PIC := $(TLS_BE_SRC:%.c=$(O)/pic/%.o)
UNIT_SRC := $(sort $(wildcard tests/unit/test-*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(O)/tests/%)
# The e2e runner: a file whose tests are through exits even if a handle is
# left open (a mock server a failed setup never closed once kept make check
# waiting for ever); the harness's exit handlers still end its daemons.
NODE_TEST := node --test --test-force-exit
# $(call TAPPED,file,command): command's output (a test runner's TAP) on
# stdout as usual and into file too; fails when command failed. Not a
# second reporter with a file destination: --test-force-exit leaves that
# file's last lines unwritten.
TAPPED = rm -f $(1).failed; { $(2) || echo failed > $(1).failed; } 2>&1 | tee $(1); [ ! -e $(1).failed ]
# $(call TAP_FAILED,part,tap files): the failed tests of part's TAP files,
# printed and kept in $(FAILURES)/part.txt (one folder for every build
# mode); scripts/beside.sh prints that folder again at the very end of make
# check, where the tail of a long log shows it.
FAILURES = $(abspath build)/failures
TAP_FAILED = mkdir -p $(FAILURES); { echo "$(1): the tests that failed:"; \
	sh scripts/tap-failures.sh 60 $(2); } > $(FAILURES)/$(1).txt; cat $(FAILURES)/$(1).txt
# pg-copy-suite copies what the others left (make e2e-copy), so it runs after them.
E2E_COPY := tests/e2e/pg-copy-suite.test.js
E2E_TESTS := $(filter-out $(E2E_COPY),$(sort $(wildcard tests/e2e/*.test.js)))
# Where make e2e keeps each cleanly stopped daemon's SQLite file for e2e-copy.
E2E_KEEP := $(abspath $(O)/e2e-dbs)
# The e2e files run three at a time: most of a file's time is spent
# waiting on daemons, CLIs and sockets (one file keeps about two thirds of
# a core busy), so two at a time left a core idle a fifth of the time once
# nothing ran beside them. But for those that measure the daemon's
# resident memory or stop an agent's process tree for a while: they run
# alone afterwards, so a neighbour's load does not read as their failure.
# The PostgreSQL pass runs beside the browser suite, three at a time too:
# at two it took 286 s alone, at three 219 s (the same 331-336 CPU-s), and
# it is the end's longer side. Both passes start their longest files first
# (scripts/e2e-first.sh).
E2E_SERIAL := tests/e2e/memory-bounds.test.js tests/e2e/state-faults.test.js tests/e2e/replay-bounds.test.js
E2E_PAR := $(filter-out $(E2E_SERIAL),$(E2E_TESTS))
E2E_JOBS ?= 3
E2E_PG_JOBS ?= 3
# Compile jobs for the builds `make check` runs (one per core).
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

# Generated sources register themselves in GEN_OBJ from these fragments, read
# in this order: web.mk builds the dashboard and sets ASSET_DIR/ASSET_STAMP,
# assets.mk embeds ASSET_DIR (default: a placeholder page), migrations.mk
# embeds the SQL migrations, version.mk the version (`git describe`), rows.mk
# the typed rows (schema/rows.def).
GEN_OBJ :=
-include scripts/web.mk scripts/assets.mk scripts/migrations.mk scripts/version.mk scripts/rows.mk
# fuzz.mk: libFuzzer harnesses (`make fuzz`, and `fuzz-smoke` in `make check`).
-include scripts/fuzz.mk
# package.mk: the manual pages and completion scripts (share), the Debian
# package (deb) and the tarball (dist).
-include scripts/package.mk

.PHONY: build-all tsan-build all deps check test run unit unit-pg e2e e2e-deps format format-check lint tsan tsan-run layers budgets doclinks decisions-index fuzz bench bench-deps bench-series clean
.DEFAULT_GOAL := all

all: $(O)/agentd $(O)/agentd-hold $(O)/agentd-git.so $(O)/agentd-tls.so $(TRAY_BIN) $(SHARE)/.stamp

$(O)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

# Subsystems no measured path runs, built for size in a release build
# (-Os after -O2 wins): the CLI's commands, worktrees, the forge, sweeps,
# credentials, project sync, workflows, the MCP server, jobs and services.
# 53 KB of S3's 2 MiB (docs/DECISIONS.md, "Cold subsystems are built for
# size"); a hot path stays at -O2, so a subsystem joins only with a bench
# that shows it is not on one.
COLD_DIRS := cli wtree forge hparam creds psync flow mcp svc
ifeq ($(BUILD),release)
$(foreach d,$(COLD_DIRS),$(eval $$(O)/obj/src/$(d)/%.o: MODE_CFLAGS += -Os))
endif

$(O)/libagentd.a: $(LIB_OBJ) $(GEN_OBJ)
	@rm -f $@
	ar rcs $@ $^

# agentd exports the ad_* functions that agentd-git.so and agentd-tls.so
# call (core and their fronts in the executable, rather than copies of
# them): the ones their objects leave undefined, listed at build time. All
# ad_* were exported once: 100 KB of symbol tables, and nothing could be
# dropped as unused (S3). And open(2): src/core/noblock.c's, which
# libgit2's calls must reach.
$(O)/exports.list: $(GIT_BE_PIC) $(TLS_BE_PIC)
	nm --undefined-only $^ | awk '$$2 ~ /^ad_/ { print "  " $$2 ";" }' | sort -u > $@.body
	{ echo "{"; cat $@.body; echo "  open; open64;"; echo "};"; } > $@ && rm -f $@.body
EXPORTS = -Wl,--dynamic-list=$(O)/exports.list

$(O)/agentd: $(O)/obj/src/main.o $(O)/obj/src/engines.o $(EXE_OBJ) $(O)/libagentd.a $(O)/exports.list
	$(CC) $(EXE_LDFLAGS_ALL) $(EXPORTS) -o $@ $(filter-out %.list,$^) $(PKG_LIBS)

$(O)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -fPIC -fvisibility=hidden -c $< -o $@

$(O)/agentd-git.so: $(GIT_BE_PIC)
	$(CC) -shared $(LDFLAGS_ALL) -o $@ $^ $(GIT_LIBS)

$(O)/libagentd-git.a: $(GIT_BE_OBJ)
	@rm -f $@
	ar rcs $@ $^

# libc named even in a sanitizer build, where ASan's runtime answers every
# libc call this library makes and --as-needed would drop it (lintian: a
# library not linked against libc).
$(O)/agentd-tls.so: $(TLS_BE_PIC)
	$(CC) -shared $(LDFLAGS_ALL) -o $@ $^ $(TLS_LIBS) -Wl,--no-as-needed -lc

$(O)/libagentd-tls.a: $(TLS_BE_OBJ)
	@rm -f $@
	ar rcs $@ $^

# The holder (src/hold) alone: agentd execs it when it sits beside agentd,
# else `agentd hold` (issue #15). One runs beside every agent for as long
# as it lives, so it is linked statically: a dynamic link's relocated libc
# and ld.so pages were 40 of its 116 kB of private memory (issue #38, F1).
# Its objects are built without sanitizers in every mode (a static link
# cannot carry ASan's or TSan's runtime), so the tests run the holder that
# ships; the unit tests still build its code sanitized in libagentd.a. It
# resolves no names (the network proxy, which does, is agentd's: see
# src/hold/hold.h), so the static libc never needs the system's NSS.
HOLD_SRC := $(sort $(wildcard src/hold/*.c)) src/core/log.c src/core/unixaddr.c src/core/io.c \
            src/core/clock.c src/core/thread.c tools/hold_main.c
HOLD_SRC := $(filter-out src/hold/netproxy.c src/hold/netproxyd.c,$(HOLD_SRC))
HOLD_OBJ := $(HOLD_SRC:%.c=$(O)/hold/%.o) $(O)/hold/gen/version.o
HOLD_CFLAGS = $(WARN) -O2 -g1 -fno-omit-frame-pointer -ffunction-sections -fdata-sections \
              $(CFLAGS) -Isrc -I$(O)/gen -MMD -MP
$(O)/hold/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(HOLD_CFLAGS) -c $< -o $@
$(O)/hold/gen/version.o: $(O)/gen/version.c
	@mkdir -p $(dir $@)
	$(CC) $(HOLD_CFLAGS) -c $< -o $@
$(O)/agentd-hold: $(HOLD_OBJ)
	$(CC) -static -Wl,--gc-sections $(LDFLAGS) -o $@ $^ -lpthread

# The tray helper (src/cli/tray*.c): the one binary linked with libsystemd
# (sd-bus, sd-event), so that agentd itself never loads D-Bus; `agentd
# tray` execs it (TRAY_BIN is set at the top).
$(O)/agentd-tray: $(O)/obj/tools/tray_main.o $(EXE_OBJ) $(O)/libagentd.a
	$(CC) $(EXE_LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS) $(shell pkg-config --libs libsystemd)

# A unit test may #include the .c it tests to reach its statics; the archive
# then supplies only what the test does not define itself.
# libagentd-git.a is linked too (and its table kept): a test of src/git calls
# libgit2 directly, with nothing loaded. So is libagentd-tls.a (OpenSSL).
$(O)/tests/%: tests/unit/%.c $(EXE_OBJ) $(O)/libagentd.a $(O)/libagentd-git.a $(O)/libagentd-tls.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(EXE_LDFLAGS_ALL) -Wl,--undefined=ad_git_backend -Wl,--undefined=ad_tls_backend -o $@ $< $(EXE_OBJ) $(O)/libagentd-git.a $(O)/libagentd-tls.a $(O)/libagentd.a $(O)/libagentd-git.a $(O)/libagentd-tls.a $(PKG_LIBS) $(GIT_LIBS) $(TLS_LIBS) -lcmocka

deps:
	@sh scripts/deps.sh

# First: every subsystem of src/ has a unit test file (tests/unit/coverage.sh).
unit: $(UNIT_BIN)
	@sh tests/unit/coverage.sh
	@sh tests/unit/run.sh $(UNIT_BIN)

# The store's unit tests again with its tables in a throwaway PostgreSQL
# (issue #39; tests/unit/with-pg.sh starts and removes it); a case about
# SQLite's file itself skips there, saying why (STORE_FX_SQLITE_ONLY). Not
# here: test-store-alloc (a killed writer's SQLite file checked whole) and
# test-store-evlog (the event log's files; its one table case is SQLite's).
UNIT_PG_BIN := $(addprefix $(O)/tests/,test-store-runs test-tables-families test-store-health \
	test-store-core test-store-rolls test-git-rows test-run-runner \
	test-tables-search test-tables-agentrow)
UNIT_PG_BIN += $(O)/tests/test-tables-routines
UNIT_PG_BIN += $(O)/tests/test-fleet-store
unit-pg: $(UNIT_PG_BIN)
	@sh tests/unit/with-pg.sh sh tests/unit/run.sh $(UNIT_PG_BIN)

# Every repository path a Markdown file names must exist (the rules are at the
# top of the script).
doclinks:
	@node scripts/doclinks.mjs
	@node scripts/decisions-index.mjs --check

# Rewrites the index of the decisions (docs/internals/README.md) from the sections
# and entries of docs/DECISIONS.md and docs/internals/*.md.
decisions-index:
	@node scripts/decisions-index.mjs

# The subsystems must stay layers: no link cycle between them. And src/api
# stays HTTP only (issue #30): no file of it over 500 lines, and at most
# 8,000 lines in all (docs/internals/api.md, "What is left in src/api").
# And src/store stays the engine (issue #79): store.h at most 400 lines,
# src/store at most 10,000 in all, no file of it over 900 (docs/internals/store.md).
layers: $(LIB_OBJ) $(GIT_BE_OBJ) $(TLS_BE_OBJ)
	@sh scripts/layers.sh $(O)/obj/src
	@sh scripts/api-size.sh 500 8000
	@sh scripts/store-size.sh 400 10100 900

# The size budgets (issue #79; CONTRIBUTING.md, "Size budgets"): no C file
# of src/ over 900 lines, no header over 600, no function over 100, but for
# the offenders scripts/budgets.allow names, a list that only shrinks.
budgets:
	@sh scripts/budgets.sh

e2e-deps: tests/e2e/node_modules/.package-lock.json

tests/e2e/node_modules/.package-lock.json: tests/e2e/package-lock.json
	cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# A stand-in NVML (tests/fixtures/fake-nvml.c) for the GPU path of the e2e
# tests; agentd loads it with --nvml-lib, never links it.
FAKE_NVML := $(O)/tests/fake-nvml/libnvidia-ml.so.1
$(FAKE_NVML): tests/fixtures/fake-nvml.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -Wall -Wextra -Werror -O1 -shared -fPIC -o $@ $<

browser-test: $(O)/agentd-hold $(O)/agentd-git.so $(O)/agentd-tls.so $(FAKE_NVML)

# What an e2e file needs built: the daemon, its holder and plug-ins, the
# tray, the shared files, the npm packages and the stand-in NVML.
E2E_NEEDS = $(O)/agentd $(O)/agentd-hold $(O)/agentd-git.so $(O)/agentd-tls.so $(TRAY_BIN) $(SHARE)/.stamp e2e-deps $(FAKE_NVML)

e2e: $(E2E_NEEDS)
	@failed=0; rm -rf $(E2E_KEEP) $(FAILURES)/e2e.txt; \
	$(call TAPPED,$(O)/e2e-par.tap,AGENTD_TEST_KEEP_DBS=$(E2E_KEEP) AGENTD_BIN=$(abspath $(O)/agentd) \
		$(NODE_TEST) --test-concurrency=$(E2E_JOBS) $$(sh scripts/e2e-first.sh $(O)/e2e-first $(E2E_PAR))) || failed=1; \
	$(call TAPPED,$(O)/e2e-serial.tap,AGENTD_TEST_KEEP_DBS=$(E2E_KEEP) AGENTD_BIN=$(abspath $(O)/agentd) \
		$(NODE_TEST) --test-concurrency=1 $(E2E_SERIAL)) || failed=1; \
	[ $$failed -eq 0 ] || { $(call TAP_FAILED,e2e,$(O)/e2e-par.tap $(O)/e2e-serial.tap); \
		echo "e2e: failures above (two summaries: the parallel files, then $(notdir $(E2E_SERIAL)))"; exit 1; }

# The same files with every daemon's tables in PostgreSQL (issue #39): one
# throwaway PostgreSQL 15 for the whole pass (tests/unit/with-pg.sh starts
# it and removes it however the pass ends; tests/e2e/lib/daemon.js finds it
# by AGENTD_TEST_PG_URL), a fresh database per data dir, copied from one
# migrated template. E2E_SERIAL stays out: its faults and memory bounds
# are about the daemon's own file and process. So does E2E_NOT_PG: files
# that keep nothing in a daemon's database (the CLIs on their own, --help,
# the docs, the packages, the HTTP, WebSocket and TLS transports, the bus's
# backpressure) and those that run on PostgreSQL in make e2e already; on
# this pass they would only run again. `make check` runs it
# after the SQLite pass (docs/operations.md, "PostgreSQL", says what it costs).
E2E_NOT_PG := $(addprefix tests/e2e/,claude-stop.test.js claude-turns.test.js \
	codex-app-schema.test.js cli-help.test.js doclinks.test.js budgets.test.js docs-generated.test.js \
	package.test.js install.test.js pg-copy.test.js pg-down.test.js pg-serve.test.js planes.test.js \
	db-damage.test.js health-now.test.js \
	routines-planes.test.js \
	$(addsuffix .test.js,http http-limits http-sse http-static ws ws-server tls-lazy \
	seed-003-deflate bus-backpressure))
E2E_PG_ALL := $(filter-out $(E2E_NOT_PG),$(E2E_PAR))
# And E2E_PG_SAME: files whose every statement on PostgreSQL, and every
# error a statement met there, other files or make unit-pg also run. make
# pg-pick measured it (2026-11-27: 447 statements and errors from 104 files;
# 32 files reach them all in 435 of 2,470 test-seconds); run it again after
# adding SQL that only a file listed here reaches. A new file is on the
# pass until then (docs/DECISIONS.md, "The PostgreSQL pass runs the files
# that reach its statements").
E2E_PG_SAME := $(addprefix tests/e2e/,$(addsuffix .test.js,acp acp-claude acp-codex \
	acp-endpoint acp-gemini acp-terminal agent-keys api-messages api-settings-usage \
	bus-replay claude-approvals claude-errors claude-session cli cli-client cli-completion \
	cli-daily cli-logs cli-logs-terminal cli-names cluster codex-app creds-keyring \
	crews-live definitions disk-full event-log git-large git-review git-worktrees health \
	hold jobs live-channels live-protocol live-sse mcp metrics metrics-dedup \
	metrics-export nodes-runs otel otlp-receive output-store ratelimits reliability \
	review-merged root-auto runs runs-claude runs-codex runs-gemini sandbox-home security-auth \
	seed-000-wire seed-001-api seed-002-definitions seed-002-prices seed-002-stream \
	seed-003-jwt seed-003-wire seed-clients seed-ws service sql start-window stop-restart \
	stop-stopping tls training tray upgrade workflows))
E2E_PG := $(filter-out $(E2E_PG_SAME),$(E2E_PG_ALL))
E2E_PG_RUN = AGENTD_TEST_DATABASE=pg AGENTD_BIN=$(abspath $(O)/agentd) sh tests/unit/with-pg.sh \
	$(NODE_TEST) --test-concurrency=$(E2E_PG_JOBS)
.PHONY: e2e-pg e2e-pg-all pg-pick
e2e-pg: $(E2E_NEEDS)
	@rm -f $(FAILURES)/e2e-pg.txt; $(call TAPPED,$(O)/e2e-pg.tap,$(E2E_PG_RUN) $$(sh scripts/e2e-first.sh $(O)/e2e-first-pg $(E2E_PG))) || \
		{ $(call TAP_FAILED,e2e-pg,$(O)/e2e-pg.tap); exit 1; }

# Every file of the pass, E2E_PG_SAME too.
e2e-pg-all: $(E2E_NEEDS)
	$(E2E_PG_RUN) $(E2E_PG_ALL)

# Measures E2E_PG_SAME (scripts/pg-pick.mjs): unit-pg and e2e-pg-all with
# every statement logged, then the files that reach them all, greedily by
# statements per second. api-durability is taken whatever it adds: its
# subject (acknowledged writes survive kill -9) is the writer's commit,
# not a statement. About 25 minutes on two cores.
PG_PICK = $(abspath $(O))/pg-pick
PG_PICK_OPTS = -c log_statement=all -c log_parameter_max_length=0 -c log_line_prefix=@%d@%a@
pg-pick: $(UNIT_PG_BIN) $(E2E_NEEDS)
	@rm -rf $(PG_PICK); mkdir -p $(PG_PICK)/unit $(PG_PICK)/e2e
	AGENTD_TEST_PG_LOG=$(PG_PICK)/unit AGENTD_TEST_PG_OPTS="$(PG_PICK_OPTS)" \
		sh tests/unit/with-pg.sh sh tests/unit/run.sh $(UNIT_PG_BIN) > $(PG_PICK)/unit.out 2>&1 || \
		{ tail -40 $(PG_PICK)/unit.out; exit 1; }
	AGENTD_TEST_PG_LOG=$(PG_PICK)/e2e AGENTD_TEST_PG_MAP=$(PG_PICK)/map AGENTD_TEST_PG_OPTS="$(PG_PICK_OPTS)" \
		$(E2E_PG_RUN) $(E2E_PG_ALL) > $(PG_PICK)/e2e.tap 2>&1 || { tail -60 $(PG_PICK)/e2e.tap; exit 1; }
	node scripts/pg-pick.mjs --log $(PG_PICK)/e2e/pg-unit.log --map $(PG_PICK)/map \
		--tap $(PG_PICK)/e2e.tap --unit $(PG_PICK)/unit/pg-unit.log \
		--keep api-durability.test.js $(E2E_PG_ALL)

# `agentd db copy` of every database make e2e kept (issue #39): each into a
# fresh PostgreSQL database, every table counted on both sides.
.PHONY: e2e-copy
e2e-copy: $(O)/agentd e2e-deps
	@rm -f $(FAILURES)/e2e-copy.txt; $(call TAPPED,$(O)/e2e-copy.tap,AGENTD_TEST_KEPT_DBS=$(E2E_KEEP) \
		AGENTD_BIN=$(abspath $(O)/agentd) sh tests/unit/with-pg.sh $(NODE_TEST) $(E2E_COPY)) || \
		{ $(call TAP_FAILED,e2e-copy,$(O)/e2e-copy.tap); exit 1; }

# Everything the C suites run, built on every core at once (check builds
# these first, so the steps after it only run).
build-all: all $(UNIT_BIN) $(FAKE_NVML)

# ThreadSanitizer (make tsan): the unit tests of the subsystems whose unit
# tests start threads (`strace -f -e clone,clone3` of each: the store, run,
# proc, git, the bus and core-misc), but the allocation-failure ones (a fork
# per failing allocation, one thread). A test that starts no thread cannot
# race, and the other 37 start none. And the e2e tests that drive the
# threads: the store's writer thread (api-durability: writes
# under load and at shutdown), the health sampler (health) and the libuv
# pool (git-worktrees: git work; creds-keyring: key files). tsan-unit and
# tsan-e2e run them (make check runs the two apart); each report goes to
# $(O)/tsan-reports/unit or /e2e, and any report fails its target, after
# its runs, with the reports shown. tests/tsan.supp lists what is not ours.
TSAN_E2E := tests/e2e/health.test.js tests/e2e/api-durability.test.js \
            tests/e2e/git-worktrees.test.js tests/e2e/creds-keyring.test.js
TSAN_UNIT = $(filter-out %-alloc,$(filter $(addprefix $(O)/tests/test-,store-% run-% proc-% git-% \
	bus-% core-misc),$(UNIT_BIN)))
TSAN_LOG = $(abspath $(O))/tsan-reports
# $(call TSAN_ENV,part): ThreadSanitizer's options, its reports under part/
TSAN_ENV = TSAN_OPTIONS="log_path=$(TSAN_LOG)/$(1)/report suppressions=$(abspath tests/tsan.supp) second_deadlock_stack=1"
# $(call TSAN_END,part): after the runs (failed=1 if one failed), part's reports shown
TSAN_END = if ls $(TSAN_LOG)/$(1)/report* >/dev/null 2>&1; then cat $(TSAN_LOG)/$(1)/report*; \
	echo "tsan: data races reported (above, $(1))"; exit 1; fi; \
	[ $$failed -eq 0 ] && echo "tsan: no data race ($(1))"

.PHONY: tsan-unit tsan-e2e
tsan:
	$(MAKE) -j$(JOBS) BUILD=tsan tsan-build
	$(MAKE) BUILD=tsan tsan-run

tsan-build: all $(TSAN_UNIT) $(FAKE_NVML)

tsan-run: tsan-unit tsan-e2e

tsan-unit: $(TSAN_UNIT)
	@rm -rf $(TSAN_LOG)/unit; mkdir -p $(TSAN_LOG)/unit; failed=0; \
	$(call TSAN_ENV,unit) sh tests/unit/run.sh $(TSAN_UNIT) || failed=1; \
	$(call TSAN_END,unit)

tsan-e2e: $(O)/agentd $(O)/agentd-hold $(O)/agentd-git.so $(O)/agentd-tls.so e2e-deps $(FAKE_NVML)
	@rm -rf $(TSAN_LOG)/e2e $(FAILURES)/tsan-e2e.txt; mkdir -p $(TSAN_LOG)/e2e; failed=0; \
	$(call TAPPED,$(O)/tsan-e2e.tap,$(call TSAN_ENV,e2e) AGENTD_BIN=$(abspath $(O)/agentd) $(NODE_TEST) $(TSAN_E2E)) || \
		{ failed=1; $(call TAP_FAILED,tsan-e2e,$(O)/tsan-e2e.tap); }; \
	$(call TSAN_END,e2e)

# format-check: clang-format on every C file (make format fixes them). Two
# suites run beside others, each with its output printed whole once both
# ended (scripts/beside.sh), so that the output ends with the test runners'
# own summaries. Beside the SQLite e2e files: the unit tests and the layer
# check, the fuzz smoke (its clang build and twelve harnesses, one at a
# time), the tsan build (one job, at the lowest priority but one, so that
# it takes only what the tests leave), tsan's unit tests, the dashboard's
# lint and Vitest (CHECK_WEB), the store's unit tests on PostgreSQL
# (unit-pg) and tsan's e2e files. Then the PostgreSQL e2e pass (e2e-pg,
# issue #39) beside the browser suite (CHECK_EXTRA) and the copy suite
# (e2e-copy), which keep both cores busy. unit-pg and tsan's e2e files
# moved to the first pair (2026-12-01): in a fresh clone its side had ended
# 232 s before the SQLite pass, which then ran alone at 9-33 % idle, while
# the second pair's PostgreSQL side was its longer (492 s against 471). The
# unit tests followed (2026-12-02): the SQLite side was still the longer,
# by 133 s on a fast VM and 281 s on a slow one, and they took about 45 s
# of it. The copy suite reads the databases the SQLite pass kept, so it
# runs once that pass has ended: beside it, it once found 92 where it wants
# 100, when that pass started its longest files first. The fuzz smoke comes
# after build-all, whose web build it reuses; the e2e files' npm packages
# are installed beside build-all's compiles, before either side of the
# first pair needs them.
check: deps
	$(MAKE) format-check
	$(MAKE) doclinks
	$(MAKE) budgets
	$(MAKE) rows-check
	$(MAKE) BUILD=check lint
	$(MAKE) -j$(JOBS) BUILD=check build-all e2e-deps
	rm -rf $(FAILURES)
	BESIDE_FAILURES=$(FAILURES) sh scripts/beside.sh build/check/fuzz-tsan-build.log '$(MAKE) BUILD=check unit && $(MAKE) BUILD=check layers && $(MAKE) fuzz-smoke FUZZ_JOBS=1 && nice -n 15 $(MAKE) -j1 BUILD=tsan tsan-build && $(MAKE) BUILD=tsan tsan-unit$(if $(CHECK_WEB), && $(MAKE) BUILD=check $(CHECK_WEB)) && $(MAKE) BUILD=check unit-pg && $(MAKE) BUILD=tsan tsan-e2e' \
		$(MAKE) BUILD=check e2e
	BESIDE_FAILURES=$(FAILURES) sh scripts/beside.sh build/check/pg-pass.log '$(MAKE) BUILD=check e2e-pg' \
		sh -c '$(if $(CHECK_EXTRA),$(MAKE) BUILD=check $(CHECK_EXTRA) && )$(MAKE) BUILD=check e2e-copy'

test:
	$(MAKE) BUILD=test unit
	$(MAKE) BUILD=test e2e

# make run [PORT=8765] [DATA=~/.local/share/agentd] [ARGS="--keep-agents ..."]:
# the build in parallel (JOBS, default nproc), then agentd serve. Only what
# serve runs: not the tray helper nor the manual pages and completions
# (`make` builds those; bench/README.md, DL1, measures this loop).
RUN_NEEDS := $(addprefix build/release/,agentd agentd-hold agentd-git.so agentd-tls.so)
run: deps
	$(MAKE) -j$(JOBS) BUILD=release $(RUN_NEEDS)
	build/release/agentd serve $(if $(PORT),--listen=127.0.0.1:$(PORT)) $(if $(DATA),--data-dir=$(DATA)) $(ARGS)

FORMAT_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)

format:
	clang-format -i $(FORMAT_FILES)

# A file per clang-format, one per core: 6.5 s on one core otherwise, at
# the start of make check where nothing runs beside it.
format-check:
	@printf '%s\n' $(FORMAT_FILES) | xargs -P $(JOBS) -n 20 clang-format --dry-run --Werror

# Functions we never call (CONTRIBUTING.md): each has a bounded replacement.
BANNED := sprintf|vsprintf|strcpy|strcat|strtok|atoi|gets
lint:
	@hits=$$(grep -nE '(^|[^A-Za-z0-9_])($(BANNED))[[:space:]]*\(' $$(ls src/*.c src/*/*.c src/*/*.h tests/unit/*.c 2>/dev/null)); \
	if [ -n "$$hits" ]; then echo "$$hits"; \
		echo "lint: banned function used (see CONTRIBUTING.md: use snprintf, ad_buf_*, strtoul)"; exit 1; \
	else echo "lint: ok"; fi
	@# A dropped result of a bounded append must not compile (AD_MUST_USE).
	@if printf '#include "core/core.h"\nvoid f(ad_buf_t *b);\nvoid f(ad_buf_t *b) { ad_buf_puts(b, "x"); }\n' | \
		$(CC) -std=gnu11 -Werror -Isrc -c -o /dev/null -x c - 2>/dev/null; then \
		echo "lint: an ignored ad_buf_* result compiles (warn_unused_result lost)"; exit 1; \
	else echo "lint: unused ad_buf_* results refused"; fi

# Training-metric store rows T1-T3 (issue #16): a C program linked against the
# library, ratios against bare SQLite in the same run. POINTS=1000000 for a short run.
$(O)/bench/series_bench: bench/c/series_bench.c $(O)/libagentd.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(EXE_LDFLAGS_ALL) -o $@ $< $(O)/libagentd.a $(PKG_LIBS)

bench-series: $(O)/bench/series_bench
	$(O)/bench/series_bench --points $(or $(POINTS),10000000) $(if $(RUNS),--runs $(RUNS)) \
		$(if $(T4_POINTS),--t4-points $(T4_POINTS))

# Row F2 (issue #38): the grown data dir's generator, linked against the
# library (bench/bigdir.js builds and runs it; bench/README.md, F2).
$(O)/bench/bigdir: bench/c/bigdir.c $(O)/libagentd.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(EXE_LDFLAGS_ALL) -o $@ $< $(O)/libagentd.a $(PKG_LIBS)

# Row S4 (issue #76): a data dir of 1M messages for search, linked against
# the library (bench/search.js builds and runs it; bench/README.md, S4).
$(O)/bench/searchgen: bench/c/searchgen.c $(O)/libagentd.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(EXE_LDFLAGS_ALL) -o $@ $< $(O)/libagentd.a $(PKG_LIBS)

# Row F2's CPU a list costs in the store, without HTTP (bench/README.md, F2).
$(O)/bench/storecpu: bench/c/storecpu.c $(O)/libagentd.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(EXE_LDFLAGS_ALL) -o $@ $< $(O)/libagentd.a $(PKG_LIBS)

# Benchmarks against peers (bench/README.md); QUICK=1 for the short run.
# Their peers install separately so deps/check stay fast.
bench-deps:
	@sh bench/deps.sh

# build/bench/agentd is the release build plus the test-only routes
# (-DAD_TEST_BUILD), for scenarios the release API cannot drive.
# e2e-deps: D1 drives the desktop notifier through tests/e2e's dbus-next.
bench: deps bench-deps e2e-deps
	$(MAKE) BUILD=release all
	$(MAKE) BUILD=release O=build/bench CFLAGS=-DAD_TEST_BUILD all
	bench/run.sh $(if $(QUICK),--quick)

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(GIT_BE_OBJ:.o=.d) $(GIT_BE_PIC:.o=.d) $(TLS_BE_OBJ:.o=.d) $(TLS_BE_PIC:.o=.d) $(O)/obj/src/main.d $(O)/obj/src/engines.d $(HOLD_OBJ:.o=.d) $(O)/obj/tools/tray_main.d $(EXE_OBJ:.o=.d) $(UNIT_BIN:=.d)
