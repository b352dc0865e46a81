# Embeds src/store/migrations/NNNN_name.sql into the binary as C strings
# (array ad_migrations in $(O)/gen/migrations.c, see src/store/store_int.h).
# File names sort by version because versions are zero-padded to 4 digits.
MIGRATION_SQL := $(sort $(wildcard src/store/migrations/*.sql))

# The list itself is a prerequisite: a migration added (or renamed) with an
# older time than the generated file must still be embedded. The list file
# is rewritten only when the list changes.
MIGRATION_LIST := $(O)/gen/migrations.list
$(shell mkdir -p $(O)/gen && (echo '$(MIGRATION_SQL)' | cmp -s - $(MIGRATION_LIST) || echo '$(MIGRATION_SQL)' > $(MIGRATION_LIST)))

$(O)/gen/migrations.c: $(MIGRATION_SQL) $(MIGRATION_LIST) scripts/migrations.mk scripts/embed-migrations.sh
	@mkdir -p $(dir $@)
	sh scripts/embed-migrations.sh $(MIGRATION_SQL) > $@.tmp
	mv $@.tmp $@

$(O)/obj/gen/migrations.o: $(O)/gen/migrations.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

# What the migrations make, as SQL that makes it in one go (tools/schema.c,
# built for the build machine): a fresh database runs it instead of them.
SCHEMA_TOOL := $(O)/gen/schema
$(SCHEMA_TOOL): tools/schema.c
	@mkdir -p $(dir $@)
	$(HOSTCC) -O2 -std=gnu11 -Wall -Wextra -o $@ $< -lsqlite3

$(O)/gen/schema.c: $(SCHEMA_TOOL) $(MIGRATION_SQL) $(MIGRATION_LIST)
	$(SCHEMA_TOOL) $@.tmp $(MIGRATION_SQL)
	mv $@.tmp $@

$(O)/obj/gen/schema.o: $(O)/gen/schema.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

GEN_OBJ += $(O)/obj/gen/migrations.o $(O)/obj/gen/schema.o
