# The dashboard (web/): when node and npm exist, build it with Vite into
# build/web/dist and have assets.mk embed that instead of the placeholder
# page. `npm ci` runs only when node_modules is missing or older than the
# lockfile; the build reruns when any file under web/ (not node_modules)
# changed, then touches the stamp assets.mk depends on. Without Node the
# defaults stay: the daemon serves a page that says how to build the UI.
# Included by the Makefile before scripts/assets.mk.

WEB_NODE := $(shell command -v node 2>/dev/null)
WEB_NPM := $(shell command -v npm 2>/dev/null)
WEB_DIST := build/web/dist
WEB_SRC := $(shell find web -path web/node_modules -prune -o -type f -print 2>/dev/null)
WEB_DEPS_STAMP := web/node_modules/.package-lock.json
BROWSER_TESTS := $(sort $(wildcard tests/browser/*.test.mjs))
# Browser files at a time: two, like the e2e files. One at a time, the end
# of `make check`, where the suite runs alone, left a quarter of the cores
# idle (Chromium, the daemon and the test take turns). Two at a time beside
# the PostgreSQL pass: all 122 passed, in 428 s.
BROWSER_JOBS ?= 2

ifneq ($(and $(WEB_NODE),$(WEB_NPM)),)
  ASSET_DIR := $(WEB_DIST)
  ASSET_STAMP := $(WEB_DIST)/.stamp
  WEB_ENABLED := 1
endif

.PHONY: web web-deps web-test browser-test

ifdef WEB_ENABLED
web: $(WEB_DIST)/.stamp

web-deps: $(WEB_DEPS_STAMP)

# npm writes node_modules/.package-lock.json on every install; touch it so
# an unchanged lockfile does not rerun `npm ci`.
$(WEB_DEPS_STAMP): web/package-lock.json web/package.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The bundle, then the type check apart from it: `make` (all) runs both,
# `make run` only the bundle it serves (tsc was 12 of the 96 CPU-seconds
# of a fresh clone's make run; bench/README.md, DL1). make check builds
# all, so it type-checks.
$(WEB_DIST)/.stamp: $(WEB_SRC) $(WEB_DEPS_STAMP)
	cd web && npm run --silent bundle
	@touch $@

WEB_TYPECHECK := build/web/.typecheck
$(WEB_TYPECHECK): $(WEB_SRC) $(WEB_DEPS_STAMP)
	cd web && npm run --silent typecheck
	@mkdir -p $(dir $@) && touch $@

all: $(WEB_TYPECHECK)

# ESLint (with the rules of hooks) and Prettier's check come first: `make
# check` fails on a lint error or an unformatted file (`npm run format`
# in web/ fixes the latter).
web-test: $(WEB_DEPS_STAMP)
	cd web && npm run --silent lint && npm run --silent format:check && npx vitest run

# Browser end to end: Debian's Chromium driven by playwright-core against
# the real daemon of this build mode (which embeds the dashboard).
browser-test: $(O)/agentd $(WEB_DEPS_STAMP)
	@rm -f $(FAILURES)/browser.txt; $(call TAPPED,$(O)/browser.tap,AGENTD_BIN=$(abspath $(O)/agentd) \
		node tests/browser/lib/run.mjs --test-force-exit --test-concurrency=$(BROWSER_JOBS) $(BROWSER_TESTS)) || \
		{ $(call TAP_FAILED,browser,$(O)/browser.tap); exit 1; }
else
web web-deps web-test browser-test:
	@echo "web: node and npm are not installed; the daemon serves the placeholder page (install nodejs and npm, then run make again)"
endif

# `make check` runs these after the C suites (see the check target): the
# lint and Vitest after tsan's unit tests, the browser suite after tsan's
# e2e files.
CHECK_WEB += web-test
CHECK_EXTRA += browser-test

# The e2e suite compares what the daemon serves with the embedded folder.
export AGENTD_ASSET_DIR := $(ASSET_DIR)
