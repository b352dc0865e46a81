# Embeds src/store/migrations/NNNN_name.sql into the binary as C strings
# (array ad_migrations in $(O)/gen/migrations.c, see src/store/store_int.h).
# File names sort by version because versions are zero-padded to 4 digits.
MIGRATION_SQL := $(sort $(wildcard src/store/migrations/*.sql))

$(O)/gen/migrations.c: $(MIGRATION_SQL) scripts/migrations.mk scripts/embed-migrations.sh
	@mkdir -p $(dir $@)
	sh scripts/embed-migrations.sh $(MIGRATION_SQL) > $@.tmp
	mv $@.tmp $@

$(O)/obj/gen/migrations.o: $(O)/gen/migrations.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

GEN_OBJ += $(O)/obj/gen/migrations.o
