# libFuzzer harnesses (tests/fuzz/fuzz-*.c) built with clang in BUILD=fuzz:
#   make fuzz                  builds them and runs each for FUZZ_TIME seconds
#   make fuzz-smoke            the same, short, only when clang's libFuzzer
#                              runtime is installed (make check runs this)
# Seeds come from tests/fuzz/corpus/<name>/; findings go to build/fuzz/.
FUZZ_NAMES := http ws ws-deflate agent-parser cli-response llm-stream hparam dists evlog otlp tfevents node-link
FUZZ_NAMES += sessfile
FUZZ_TIME ?= 60
# Harnesses run this many at a time (scripts/fuzz-run.sh), one per core.
FUZZ_JOBS ?= $(shell nproc 2>/dev/null || echo 2)
FUZZ_BIN := $(FUZZ_NAMES:%=$(O)/fuzz/fuzz-%)
FUZZ_RT := $(shell clang -print-resource-dir 2>/dev/null)/lib/linux/libclang_rt.fuzzer-x86_64.a

.PHONY: fuzz-smoke

# The library files the harnesses link, and only these are built for them
# (about a quarter of src/: the rest would cost the fuzz build three times
# the compile time for nothing). A harness that comes to need another file
# fails to link with its missing symbol: add that file here.
FUZZ_SRC := \
	$(addprefix src/agent/,$(addsuffix .c,acp acp_exec acp_perm acp_req acp_update appitems apprpc appserver claude codex command event exec gemini parser perms price rpc version)) \
	$(addprefix src/bus/,$(addsuffix .c,bus event pairs persist replay ring topics)) \
	$(addprefix src/cli/,$(addsuffix .c,http_client)) \
	$(addprefix src/core/,$(addsuffix .c,alloc arena beneath buf clock config digest dir error field io json log prom thread unixaddr utf8 which zlib)) \
	$(addprefix src/hparam/,$(addsuffix .c,hparam layout)) \
	$(addprefix src/http/,$(addsuffix .c,caps conn parse response router sendbatch server sse static testhooks tls write)) \
	$(addprefix src/llm/,$(addsuffix .c,anthropic curl defs fetch files openai sse tar tools)) \
	$(addprefix src/node/,$(addsuffix .c,link)) \
	$(addprefix src/otel/,$(addsuffix .c,export recv spans)) \
	$(addprefix src/sessfile/,$(addsuffix .c,lines live names parse scan)) \
	$(addprefix src/sessions/,$(addsuffix .c,nodecheck)) \
	$(addprefix src/store/,$(addsuffix .c,cksum db_pg db_pgstmt dbcheck embedded evlog evlogopen evlogread migrate open pg pgsql pgtrig read stmt testhooks writer)) \
	$(addprefix src/tables/,$(addsuffix .c,agentrow approvals distover dists runs seriesroll spans status)) \
	$(addprefix src/tls/,$(addsuffix .c,front)) \
	$(addprefix src/tsdb/,$(addsuffix .c,codec hist roll tfevents)) \
	$(addprefix src/ws/,$(addsuffix .c,deflate handshake testroutes ws wsmsg))

$(O)/libfuzz.a: $(FUZZ_SRC:%.c=$(O)/obj/%.o) $(GEN_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(O)/fuzz/fuzz-%: tests/fuzz/fuzz-%.c tests/fuzz/fuzz_common.h $(O)/libfuzz.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -fsanitize=fuzzer,address,undefined -o $@ $< $(O)/libfuzz.a $(PKG_LIBS)

ifeq ($(BUILD),fuzz)
fuzz: $(FUZZ_BIN)
	@sh scripts/fuzz-run.sh $(O)/fuzz $(FUZZ_TIME) $(FUZZ_JOBS) $(FUZZ_NAMES)
else
fuzz:
	$(MAKE) BUILD=fuzz fuzz
endif

# The smoke (make check): each harness builds, reads its corpus and mutates
# for FUZZ_SMOKE_TIME seconds. Those seconds are CPU taken from the e2e
# files beside it, whatever the machine: 12 harnesses at 10 s were 120
# CPU-seconds; a longer search is make fuzz's.
FUZZ_SMOKE_TIME ?= 5
fuzz-smoke:
	@if [ -f "$(FUZZ_RT)" ]; then $(MAKE) -j$(FUZZ_JOBS) BUILD=fuzz $(FUZZ_NAMES:%=build/fuzz/fuzz/fuzz-%) && \
		$(MAKE) BUILD=fuzz fuzz FUZZ_TIME=$(FUZZ_SMOKE_TIME); \
	else echo "fuzz: skipped (no libFuzzer runtime; install libclang-rt-14-dev)"; fi
