# What is installed beside the binaries, made by the binary itself from its
# own tables (never a second copy by hand): the manual pages
# (`agentd help --man PAGE`, src/cli/man.c) and the bash, zsh and fish
# completion scripts (`agentd completion SHELL`, src/cli/complete.c), into
# $(O)/share in the layout of /usr/share. Part of `all`;
# tests/e2e/docs-generated.test.js fails when these are stale or an option
# or command has no words of its own in them.
SHARE := $(O)/share

$(SHARE)/.stamp: $(O)/agentd scripts/package.mk
	@rm -rf $(SHARE) && mkdir -p $(SHARE)/man/man1 $(SHARE)/bash-completion/completions \
		$(SHARE)/zsh/vendor-completions $(SHARE)/fish/vendor_completions.d
	$(O)/agentd help --man-pages | while read -r page cmds; do \
		$(O)/agentd help --man "$$page" > $(SHARE)/man/man1/$$page.1 || exit 1; done
	$(O)/agentd completion bash > $(SHARE)/bash-completion/completions/agentd
	$(O)/agentd completion zsh > $(SHARE)/zsh/vendor-completions/_agentd
	$(O)/agentd completion fish > $(SHARE)/fish/vendor_completions.d/agentd.fish
	@touch $@

.PHONY: share
share: $(SHARE)/.stamp

# `make install PREFIX=~/.local` (default /usr/local; DESTDIR= to stage):
# this build mode's binaries in PREFIX/lib/agentd, agentd linked into
# PREFIX/bin, the manual pages and completions under PREFIX/share
# (scripts/install.sh). The build runs in parallel, as `make run`'s.
PREFIX ?= /usr/local
.PHONY: install
install:
	$(MAKE) -j$(JOBS) BUILD=$(BUILD) all
	@sh scripts/install.sh $(O) $(PREFIX)

# The Debian package (scripts/deb.sh): this build mode's binaries, share/,
# the units `agentd service units` writes, Depends from dpkg-shlibdeps.
# `make deb` packages the release build; DEB_OUT is where it goes.
# DEB_Z: dpkg-deb's compression (xz; the test takes gzip, five times faster).
DEB_OUT ?= build
DEB_Z ?= xz
.PHONY: deb dist
deb: $(O)/agentd $(O)/agentd-hold $(O)/agentd-git.so $(O)/agentd-tls.so $(SHARE)/.stamp $(TRAY_BIN)
	@DEB_Z=$(DEB_Z) sh scripts/deb.sh $(O) $(AD_VERSION_STR) $(DEB_OUT)

# A tarball with the same files, for machines without dpkg: the binaries
# side by side, share/ and the units; agentd-VERSION-ARCH.tar.gz. Its
# agentd is static enough to run beside another distribution's glibc
# (2.34 or later): linked with Debian's static archives of every library
# it uses but wslay, which Debian ships shared only (libwslay1). The
# archives are Debian's own (libuv1-dev, libsqlite3-dev, ...), nothing is
# vendored; agentd-git.so still needs libgit2 1.5, agentd-tls.so OpenSSL 3
# (libssl3), agentd-tray libsystemd. OpenSSL is not in agentd (src/tls).
DIST_LIBS = -Wl,-Bstatic -l:libuv_a.a -lsqlite3 -ljansson -lyaml -lhiredis -lhttp_parser -largon2 -luring \
            -Wl,-Bdynamic -lwslay -lpthread -ldl -lutil -lm
$(O)/dist/agentd: $(O)/obj/src/main.o $(O)/obj/src/engines.o $(O)/libagentd.a $(O)/exports.list
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) $(EXPORTS) -o $@ $(filter-out %.list,$^) $(DIST_LIBS)

dist: $(O)/dist/agentd $(O)/agentd-hold $(O)/agentd-git.so $(O)/agentd-tls.so $(SHARE)/.stamp $(TRAY_BIN)
	@sh scripts/dist.sh $(O) $(AD_VERSION_STR) $(DEB_OUT)
