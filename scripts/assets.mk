# Embeds every file under ASSET_DIR into the binary (src/http/static.c serves
# them). tools/embed.c is built for the build machine and writes
# $(O)/gen/assets.c: bytes, precompressed gzip, ETag, Content-Type.
# scripts/web.mk (read before this file) may point ASSET_DIR at the built
# dashboard and ASSET_STAMP at a file that changes whenever it is rebuilt.
ASSET_DIR ?= web/placeholder
ASSET_STAMP ?=
HOSTCC ?= cc

EMBED := $(O)/gen/embed
ASSET_FILES := $(shell find $(ASSET_DIR) -type f ! -name '.*' 2>/dev/null)
ASSET_DIRS := $(shell find $(ASSET_DIR) -type d 2>/dev/null)

$(EMBED): tools/embed.c
	@mkdir -p $(dir $@)
	$(HOSTCC) -O2 -std=gnu11 -Wall -Wextra -o $@ $< -lz

$(O)/gen/assets.c: $(EMBED) $(ASSET_FILES) $(ASSET_DIRS) $(ASSET_STAMP)
	@mkdir -p $(dir $@)
	$(EMBED) $@ $(ASSET_DIR)

$(O)/gen/assets.o: $(O)/gen/assets.c
	$(CC) $(CFLAGS_ALL) -c $< -o $@

GEN_OBJ += $(O)/gen/assets.o
