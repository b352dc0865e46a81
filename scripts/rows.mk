# The typed rows (issue #79, docs/internals/rows.md): scripts/rows.mjs makes
# the C structs, enums and JSON codecs from schema/rows.def into the gen dir
# (rows.h beside rows.c, both written only when their text changes, so an
# edit that leaves the header as it was rebuilds nothing else). Every object
# waits for the header once (order-only): a file that includes it is
# rebuilt when it changes through its .d file after that.
ROWS_DEPS := schema/rows.def scripts/rows.mjs

$(O)/gen/rows.c: $(ROWS_DEPS)
	@mkdir -p $(dir $@)
	node scripts/rows.mjs c $(O)/gen
	@touch $@
$(O)/gen/rows.h: $(O)/gen/rows.c

$(O)/obj/gen/rows.o: $(O)/gen/rows.c $(O)/gen/rows.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

GEN_OBJ += $(O)/obj/gen/rows.o
$(LIB_OBJ) $(O)/obj/src/main.o $(O)/obj/src/engines.o $(UNIT_BIN): | $(O)/gen/rows.h

# The dashboard's types (web/src/rows.ts) are checked in: rows-ts writes
# them again from the schema, rows-check (in make check) fails when they
# differ from what the schema makes.
.PHONY: rows-ts rows-check
rows-ts:
	node scripts/rows.mjs ts
rows-check:
	@node scripts/rows.mjs check
