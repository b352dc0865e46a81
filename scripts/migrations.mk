# Embeds src/store/migrations/NNNN_name.sql into the binary: their list
# (array ad_migrations in $(O)/gen/migrations.c: version, name, checksum) and
# their texts gzipped (ad_migrations_gz in $(O)/gen/migrations_gz.c, made by
# tools/embed --blob, $(EMBED) of scripts/assets.mk), 91 KB of SQL in 23 KB;
# src/store/embedded.c inflates them when a database needs one (see
# src/store/store_int.h). The same for the schema they make (ad_schema).
# File names sort by version because versions are zero-padded to 4 digits.
MIGRATION_SQL := $(sort $(wildcard src/store/migrations/*.sql))

# The list itself is a prerequisite: a migration added (or renamed) with an
# older time than the generated file must still be embedded. The list file
# is rewritten only when the list changes.
MIGRATION_LIST := $(O)/gen/migrations.list
$(shell mkdir -p $(O)/gen && (echo '$(MIGRATION_SQL)' | cmp -s - $(MIGRATION_LIST) || echo '$(MIGRATION_SQL)' > $(MIGRATION_LIST)))

$(O)/gen/migrations.c $(O)/gen/migrations.sql &: $(MIGRATION_SQL) $(MIGRATION_LIST) scripts/migrations.mk scripts/embed-migrations.sh
	@mkdir -p $(O)/gen
	sh scripts/embed-migrations.sh $(O)/gen/migrations.sql $(MIGRATION_SQL) > $(O)/gen/migrations.c.tmp
	mv $(O)/gen/migrations.c.tmp $(O)/gen/migrations.c

$(O)/gen/migrations_gz.c: $(EMBED) $(O)/gen/migrations.sql
	$(EMBED) --blob $@ ad_migrations $(O)/gen/migrations.sql

$(O)/obj/gen/migrations.o: $(O)/gen/migrations.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(O)/obj/gen/migrations_gz.o: $(O)/gen/migrations_gz.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

# What the migrations make, as SQL that makes it in one go (tools/schema.c,
# built for the build machine): a fresh database runs it instead of them.
SCHEMA_TOOL := $(O)/gen/schema
$(SCHEMA_TOOL): tools/schema.c
	@mkdir -p $(dir $@)
	$(HOSTCC) -O2 -std=gnu11 -Wall -Wextra -o $@ $< -lsqlite3

$(O)/gen/schema.sql: $(SCHEMA_TOOL) $(MIGRATION_SQL) $(MIGRATION_LIST)
	$(SCHEMA_TOOL) $@.tmp $(MIGRATION_SQL)
	mv $@.tmp $@

$(O)/gen/schema.c: $(EMBED) $(O)/gen/schema.sql
	$(EMBED) --blob $@ ad_schema $(O)/gen/schema.sql

$(O)/obj/gen/schema.o: $(O)/gen/schema.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

GEN_OBJ += $(O)/obj/gen/migrations.o $(O)/obj/gen/migrations_gz.o $(O)/obj/gen/schema.o
