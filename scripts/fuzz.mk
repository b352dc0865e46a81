# libFuzzer harnesses (tests/fuzz/fuzz-*.c) built with clang in BUILD=fuzz:
#   make fuzz                  builds them and runs each for FUZZ_TIME seconds
#   make fuzz-smoke            the same, short, only when clang's libFuzzer
#                              runtime is installed (make check runs this)
# Seeds come from tests/fuzz/corpus/<name>/; findings go to build/fuzz/.
FUZZ_NAMES := http ws ws-deflate agent-parser cli-response llm-stream hparam dists evlog otlp tfevents node-link
FUZZ_TIME ?= 60
FUZZ_BIN := $(FUZZ_NAMES:%=$(O)/fuzz/fuzz-%)
FUZZ_RT := $(shell clang -print-resource-dir 2>/dev/null)/lib/linux/libclang_rt.fuzzer-x86_64.a

.PHONY: fuzz-smoke

$(O)/fuzz/fuzz-%: tests/fuzz/fuzz-%.c tests/fuzz/fuzz_common.h $(O)/libagentd.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -fsanitize=fuzzer,address,undefined -o $@ $< $(O)/libagentd.a $(PKG_LIBS)

ifeq ($(BUILD),fuzz)
fuzz: $(FUZZ_BIN)
	@for n in $(FUZZ_NAMES); do \
		mkdir -p $(O)/fuzz/corpus-$$n $(O)/fuzz/artifacts-$$n && \
		cp tests/fuzz/corpus/$$n/* $(O)/fuzz/corpus-$$n/ && \
		echo "fuzz: $$n for $(FUZZ_TIME)s" && \
		$(O)/fuzz/fuzz-$$n -max_total_time=$(FUZZ_TIME) -max_len=16384 -timeout=10 \
			-rss_limit_mb=1024 -print_final_stats=1 \
			-artifact_prefix=$(O)/fuzz/artifacts-$$n/ \
			$(O)/fuzz/corpus-$$n tests/fuzz/corpus/$$n 2>$(O)/fuzz/fuzz-$$n.log \
			|| { tail -50 $(O)/fuzz/fuzz-$$n.log; exit 1; }; \
		grep -E '^stat::number_of_executed_units' $(O)/fuzz/fuzz-$$n.log; \
	done
else
fuzz:
	$(MAKE) BUILD=fuzz fuzz
endif

fuzz-smoke:
	@if [ -f "$(FUZZ_RT)" ]; then $(MAKE) BUILD=fuzz fuzz FUZZ_TIME=15; \
	else echo "fuzz: skipped (no libFuzzer runtime; install libclang-rt-14-dev)"; fi
