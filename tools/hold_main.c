/* SPDX-License-Identifier: MIT */
/*
 * agentd-hold: the holder (src/hold) as a binary of its own, linked
 * against libc alone, which the supervisor execs when it sits beside
 * agentd (else `agentd hold`, the same code). Loading none of agentd's
 * libraries is what keeps a holder at a few hundred KB of its own memory:
 * the relocations of libcrypto, libgit2 and the rest cost `agentd hold`
 * about 0.9 MiB of private pages per agent.
 */
#include "hold/hold.h"

int main(int argc, char **argv)
{
    return ad_hold_main(argc - 1, argv + 1);
}
