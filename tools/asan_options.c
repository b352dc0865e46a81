/* SPDX-License-Identifier: MIT */
/*
 * The sanitizer build's own defaults for ASan (make BUILD=check only).
 *
 * That build's UBSan checks trap where they fail instead of calling
 * UBSan's runtime (the Makefile, SAN). ASan turns the trap into a report
 * naming the function and line ("ERROR: AddressSanitizer: ILL"), but only
 * when it handles SIGILL, which it does not by default: without this, a
 * failed check would be a bare "Illegal instruction".
 *
 * Every executable of the build links this file (EXE_OBJ in the
 * Makefile), and ASan reads it before the environment's ASAN_OPTIONS,
 * which still win. The other builds do not link it.
 */
const char *__asan_default_options(void);

const char *__asan_default_options(void)
{
    return "handle_sigill=1";
}
