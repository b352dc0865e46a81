# The version (scripts/version.sh: `git describe`) as ad_version in
# $(O)/gen/version.c, rewritten only when it changes, so a new commit
# recompiles one file. AD_VERSION_STR is what packages are named after.
AD_VERSION_STR := $(shell sh scripts/version.sh)
$(shell mkdir -p $(O)/gen && (printf 'const char ad_version[] = "%s";\n' '$(AD_VERSION_STR)' | cmp -s - $(O)/gen/version.c || printf 'const char ad_version[] = "%s";\n' '$(AD_VERSION_STR)' > $(O)/gen/version.c))

$(O)/obj/gen/version.o: $(O)/gen/version.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

GEN_OBJ += $(O)/obj/gen/version.o
